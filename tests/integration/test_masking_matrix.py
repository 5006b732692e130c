"""The kabupaten's masked view holds everywhere (issue #12, item 4): every endpoint that returns complaint
data, read by every role, over the real APIs and the web app on real PostgreSQL.

One complaint is typed in through intake (with a KTP scan), walked through the SOP by its roles over the
workflow API up to the archived, signed letter (the letters service renders the receipt, the draft and the
letter), and a second one waits past its due time (the overdue list). Every free text carries a word found
nowhere else, so a leak of any of them is seen. Then each role reads each endpoint:

* the kecamatan's own staff (staf, kasi, sekcam, camat) see the data and download the files;
* staff of another kecamatan get 403/404 and nothing of it;
* kabupaten users and admins get masked views (no NIK, phone, e-mail, address, full name, tracking code or
  free text) and 403 ``personal_data_not_available`` for every scan and PDF;
* anonymous readers get 401 (the web app: the sign-in page).
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import pytest
from fastapi.testclient import TestClient

from services.accounts.handlers import add_user
from services.dashboard.adapters.projections import ComplaintsProjection
from services.dashboard.adapters.subscription import Subscription
from services.dashboard.bootstrap import bootstrap as dashboard_bootstrap
from services.dashboard.config import DashboardSettings
from services.letters import handlers as letter_handlers
from services.letters.bootstrap import bootstrap as letters_bootstrap
from services.letters.config import LettersSettings
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from shared.contracts.intake import Complainant
from shared.eventstore.postgres import PostgresEventStore
from shared.tenancy import Kecamatan, upsert_kecamatan
from tests.support.complaints import outbox_message, record_complaint
from tests.support.tasks import SentTasks
from tests.support.web import web_client
from tests.unit.test_attachments import tiny_png

PASSWORD = "rahasia-uji-matriks-123"
NIK = "3528071505900001"
NAME = "Siti Aminah Rahmawati"
EMAIL = "siti.rahmawati@example.id"
ADDRESS = "Dusun Gunungeleh RT 03, Desa Pegantenan"
SUBJECT = "Jembatan Kalimayang ambruk"
DESCRIPTION = "Jembatan di Sumberwaru ambruk sejak pekan lalu, anak sekolah memutar jauh."
TEXTS = {  # every free text, each with a word found nowhere else
    "notes": "KTP cocok, alamat di Lembungan",
    "instructions": "Temui pengadu di Tanjungsari",
    "explanation": "Perbaikan oleh Pakandangan dijadwalkan",
    "letter_notes": "Siapkan surat untuk Larangbadung",
    "perihal": "Tanggapan pengaduan Kertagena",
    "body": "Dengan hormat, perbaikan Bujurtengah sudah dijadwalkan.",
    # a second complaint, referred (dilimpahkan) and answered by the receiving office
    "referral_reason": "Jembatan kabupaten di Bangkes",
    "referral_answer": "Kepada Ibu Siti: jembatan Tlontoraja diperbaiki Maret.",
    "referral_reference": "surat Larangtokol",
}
SCAN_NAME = "ktp rahmawati.png"
# what must never reach a masked reader, another kecamatan or an anonymous one
PERSONAL = [
    NIK,
    "081234567890",
    "+6281234567890",
    "6281234567890",
    "81234567890",
    EMAIL,
    "siti.rahmawati",
    "Gunungeleh",
    "Aminah",
    "Rahmawati",
    "Kalimayang",
    "Sumberwaru",
    "Lembungan",
    "Tanjungsari",
    "Pakandangan",
    "Larangbadung",
    "Kertagena",
    "Bujurtengah",
    "Bangkes",
    "Tlontoraja",
    "Larangtokol",
]

INSIDE = ("staf", "kasi", "sekcam", "camat")
MASKED = ("kabupaten", "admin")
ROLES = (*INSIDE, "other_staf", *MASKED, "anonymous")


# -- the world ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def place(engine):
    """Two fresh kecamatan of a fresh kabupaten."""
    suffix = uuid.uuid4().hex[:5]
    kab = f"mask-{suffix}"
    items = [
        Kecamatan(
            f"mask-{suffix}-{n}",
            f"94.{suffix}.{n}",
            f"Samaran {n.upper()}",
            kab,
            f"Kabupaten Samaran {suffix}",
            {
                "pemerintah": f"PEMERINTAH KABUPATEN SAMARAN {suffix}",
                "kecamatan": f"KECAMATAN SAMARAN {n.upper()}",
                "address": "Jalan Raya 1",
                "city": f"Samaran {n.upper()}",
            },
        )
        for n in ("a", "b")
    ]
    upsert_kecamatan(engine, items)
    return {"a": items[0].slug, "b": items[1].slug, "kabupaten": kab}


@pytest.fixture(scope="module")
def people(engine, place) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:5]
    roles = {
        "staf": ("staf", place["a"], None, None),
        "kasi": ("kasi", place["a"], None, "pemerintahan"),
        "sekcam": ("sekcam", place["a"], None, None),
        "camat": ("camat", place["a"], None, None),
        "other_staf": ("staf", place["b"], None, None),
        "kabupaten": ("kabupaten", None, place["kabupaten"], None),
        "admin": ("admin", None, None, None),
    }
    names = {}
    for key, (role, kecamatan, kabupaten, unit) in roles.items():
        username = f"m{suffix}.{key.replace('_', '-')}"
        add_user(
            engine,
            username,
            f"Petugas Uji {key}",
            role,
            PASSWORD,
            kecamatan=kecamatan,
            kabupaten=kabupaten,
            unit=unit,
            nip="197001011990031001" if role == "camat" else None,
        )
        names[key] = username
    return names


@pytest.fixture(scope="module")
def web_settings(settings, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("masking-matrix-data")
    return settings.model_copy(update={"data_dir": str(data_dir), "public_base_url": "http://127.0.0.1:8000"})


@pytest.fixture(scope="module")
def web(web_settings, engine, place, people):
    with web_client(web_settings) as client:
        yield client


@pytest.fixture(scope="module")
def world(web, web_settings, engine, place, people):
    wf = workflow_bootstrap(web_settings)
    letters = dataclasses.replace(letters_bootstrap(LettersSettings(**web_settings.model_dump())), celery=SentTasks())
    start = wf.store.last_position()
    api = {name: TestClient(app) for name, app in web.apps.items()}
    tokens = {}
    for key, username in people.items():
        r = api["workflow"].post("/v1/auth/token", data={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        tokens[key] = {"Authorization": f"Bearer {r.json()['access_token']}"}

    # typed in by the staf from the complaint box, with the KTP scan
    scan = tiny_png(uuid.uuid4().int % 60000)
    r = api["intake"].post(
        "/v1/staff/complaints",
        headers=tokens["staf"],
        data={
            "complaint": json.dumps(
                {
                    "channel": "kotak",
                    "received_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
                    "scan_kinds": ["ktp"],
                    "complainant": {
                        "name": NAME,
                        "nik": NIK,
                        "phone": "0812-3456-7890",
                        "email": EMAIL,
                        "address": ADDRESS,
                    },
                    "subject": SUBJECT,
                    "description": DESCRIPTION,
                }
            )
        },
        files=[("scan", (SCAN_NAME, scan, "image/png"))],
    )
    assert r.status_code == 202, r.text
    code = r.json()["tracking_code"]
    message = outbox_message(engine, code)  # what the outbox relay carries to the workflow worker
    handlers.record_complaint(wf, message)
    cid = message.complaint_id
    digest = message.attachments[0].sha256

    def last_event(type_: str):
        return next(e for e in reversed(wf.store.read_stream(f"complaint-{cid}")) if e.type == type_)

    receipt = letter_handlers.issue_receipt(letters, last_event("workflow.ComplaintReceived").event_id)

    def act(role: str, action: str, **fields) -> dict:
        version = api["workflow"].get(f"/v1/complaints/{cid}", headers=tokens["staf"]).json()["version"]
        r = api["workflow"].post(
            f"/v1/complaints/{cid}/{action}", headers=tokens[role], json={"expected_version": version, **fields}
        )
        assert r.status_code == 200, (action, r.text)
        return r.json()

    act("kasi", "verify-identity", notes=TEXTS["notes"])
    act("staf", "register")
    act("camat", "dispose", unit="pemerintahan", instructions=TEXTS["instructions"])
    act("kasi", "clarify", explanation=TEXTS["explanation"])
    act("kasi", "request-letter", notes=TEXTS["letter_notes"])
    act("staf", "draft-letter", perihal=TEXTS["perihal"], body=TEXTS["body"])
    draft = letter_handlers.render_draft(letters, last_event("workflow.LetterDrafted").event_id)
    act("sekcam", "review-letter", approved=True)
    act("staf", "duplicate-letter")
    act("camat", "sign-letter")
    issued = letter_handlers.issue_signed_letter(letters, last_event("workflow.LetterSigned").event_id)
    handlers.record_letter_document(wf, issued)
    act("staf", "archive-letter")

    # a second complaint, received weeks ago and never verified: on the overdue list
    late_code = f"MSK{uuid.uuid4().hex[:1].upper()}-{uuid.uuid4().hex[:4].upper()}-{uuid.uuid4().hex[:2].upper()}"
    late = record_complaint(
        wf,
        place["a"],
        complainant=Complainant(name=NAME, nik=NIK, phone="+6281234567890", email=EMAIL, address=ADDRESS),
        subject=SUBJECT,
        description=DESCRIPTION,
        received_at=datetime.now(UTC) - timedelta(days=30),
        tracking_code=late_code,
    ).complaint_id

    # a third, referred to an office that answered (the answer is addressed to the complainant and may quote them)
    referred_code = f"MSK{uuid.uuid4().hex[:1].upper()}-{uuid.uuid4().hex[:4].upper()}-{uuid.uuid4().hex[:2].upper()}"
    referred = record_complaint(
        wf,
        place["a"],
        complainant=Complainant(name=NAME, nik=NIK, phone="+6281234567890", email=EMAIL, address=ADDRESS),
        subject=SUBJECT,
        description=DESCRIPTION,
        tracking_code=referred_code,
    ).complaint_id
    for role, action, fields in [
        ("kasi", "verify-identity", {}),
        ("staf", "register", {}),
        ("camat", "refer", {"agency": "Dinas PUPR", "agency_kind": "opd", "reason": TEXTS["referral_reason"]}),
        (
            "staf",
            "record-referral-answer",
            {"answer": TEXTS["referral_answer"], "reference": TEXTS["referral_reference"]},
        ),
    ]:
        version = api["workflow"].get(f"/v1/complaints/{referred}", headers=tokens["staf"]).json()["version"]
        r = api["workflow"].post(
            f"/v1/complaints/{referred}/{action}", headers=tokens[role], json={"expected_version": version, **fields}
        )
        assert r.status_code == 200, (action, r.text)

    dash = dashboard_bootstrap(DashboardSettings(**web_settings.model_dump()))
    Subscription(
        dash.engine, PostgresEventStore(dash.engine), ComplaintsProjection(dash.calendars), batch_size=500
    ).catch_up()
    dash.engine.dispose()
    yield {
        "api": api,
        "tokens": tokens,
        "cid": cid,
        "late": late,
        "referred": referred,
        "codes": [code, late_code, referred_code],
        "digest": digest,
        "documents": {"receipt": receipt["id"], "draft": draft["id"], "letter": issued.document_id},
        "start": start,
    }
    wf.engine.dispose()
    letters.engine.dispose()


# -- reading ----------------------------------------------------------------------------------------------------
def text_of(r) -> str:
    """Everything a response holds as text: JSON, HTML, CSV, and every part of an XLSX."""
    if r.content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(r.content)) as z:
            return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return r.content.decode("utf-8-sig", "replace")


def leaks(text: str, codes: list[str]) -> list[str]:
    found = [s for s in PERSONAL if s.lower() in text.lower()]
    found += [c for c in codes if c in text or c.replace("-", "") in text]
    return found


def api_reads(world, place) -> dict[str, tuple[str, str, dict]]:
    """Every API read of complaint data: name -> (service, path, params)."""
    cid, late, docs = world["cid"], world["late"], world["documents"]
    a = place["a"]
    return {
        "complaint": ("workflow", f"/v1/complaints/{cid}", {}),
        "complaint_overdue": ("workflow", f"/v1/complaints/{late}", {}),
        "complaint_referred": ("workflow", f"/v1/complaints/{world['referred']}", {}),
        "inbox": ("workflow", "/v1/inbox", {}),
        "register_json": ("dashboard", "/v1/register", {"kecamatan": a}),
        "register_csv": ("dashboard", "/v1/register", {"kecamatan": a, "format": "csv"}),
        "register_xlsx": ("dashboard", "/v1/register", {"kecamatan": a, "format": "xlsx"}),
        "overdue": ("dashboard", "/v1/dashboard/overdue", {"kecamatan": a}),
        "summary": ("dashboard", "/v1/dashboard/summary", {"kecamatan": a}),
        "steps": ("dashboard", "/v1/dashboard/steps", {"kecamatan": a}),
        "referrals": ("dashboard", "/v1/dashboard/referrals", {"kecamatan": a}),
        "feed": ("dashboard", "/v1/events", {"kecamatan": a, "after": str(world["start"]), "limit": "1000"}),
        "documents": ("letters", f"/v1/letters/complaints/{cid}", {}),
        "receipt_pdf": ("letters", f"/v1/letters/{docs['receipt']}/pdf", {}),
        "draft_pdf": ("letters", f"/v1/letters/{docs['draft']}/pdf", {}),
        "letter_pdf": ("letters", f"/v1/letters/{docs['letter']}/pdf", {}),
        "scan": ("intake", f"/v1/attachments/{world['digest']}", {"complaint_id": str(cid)}),
    }


FILES = {"receipt_pdf", "draft_pdf", "letter_pdf", "scan"}


def expected_api_status(role: str, read: str) -> int:
    if role == "anonymous":
        return 401
    if read == "inbox":
        return 200 if role in INSIDE or role == "other_staf" else 403
    if role == "other_staf":
        if read in (
            "register_json",
            "register_csv",
            "register_xlsx",
            "overdue",
            "summary",
            "steps",
            "referrals",
            "feed",
        ):
            return 403  # kecamatan_forbidden: the slugs are public
        return 404  # a complaint, a document or a file of another kecamatan: not found
    if role in MASKED and read in FILES:
        return 403
    return 200


@pytest.mark.parametrize("role", ROLES)
def test_every_api_read_of_complaint_data_by_every_role(world, place, role):
    failures = []
    for read, (service, path, params) in api_reads(world, place).items():
        headers = world["tokens"].get(role, {})
        r = world["api"][service].get(path, params=params, headers=headers)
        expected = expected_api_status(role, read)
        if r.status_code != expected:
            failures.append(f"{read}: HTTP {r.status_code}, expected {expected}: {r.text[:200]}")
            continue
        if role in INSIDE:
            continue
        found = leaks(text_of(r), world["codes"])
        if found:
            failures.append(f"{read}: leaks {found}")
        if role in MASKED and read in FILES and r.json().get("code") != "personal_data_not_available":
            failures.append(f"{read}: code {r.json().get('code')}")
    assert not failures, "\n".join(failures)


def test_the_kecamatan_sees_what_the_masked_views_hide(world, place):
    """The leak checks mean something: the same reads give the kecamatan's staff the data and the files."""
    api, staf = world["api"], world["tokens"]["staf"]
    inside = api["workflow"].get(f"/v1/complaints/{world['cid']}", headers=staf).json()
    assert inside["complainant"]["nik"] == NIK and inside["tracking_code"] == world["codes"][0]
    assert inside["subject"] == SUBJECT and TEXTS["perihal"] in json.dumps(inside)
    register = api["dashboard"].get("/v1/register", params={"kecamatan": place["a"], "format": "csv"}, headers=staf)
    assert NAME in register.content.decode("utf-8-sig") and TEXTS["explanation"] in register.content.decode("utf-8-sig")
    assert TEXTS["referral_answer"] in register.content.decode("utf-8-sig")  # the Buku Rekap's Tindak Lanjut
    for read in FILES:
        service, path, params = api_reads(world, place)[read]
        r = api[service].get(path, params=params, headers=staf)
        assert r.status_code == 200 and (r.content.startswith(b"%PDF") or r.content.startswith(b"\x89PNG")), read


@pytest.mark.parametrize("role", MASKED)
def test_masked_views_show_masked_values_and_hidden_text(world, place, role):
    api, token = world["api"], world["tokens"][role]
    body = api["workflow"].get(f"/v1/complaints/{world['cid']}", headers=token).json()
    assert body["tracking_code"] is None and body["subject"] == "[disembunyikan]"
    assert body["complainant"] == {
        "name": "Siti ***",
        "nik": "3528********0001",
        "phone": "+62812****890",
        "email": "s***@example.id",
        "address": "***",
    }
    assert body["register_number"] and body["letter_number"] and body["allowed_actions"] == []
    drafted = next(h for h in body["history"] if h["type"] == "workflow.LetterDrafted")
    assert drafted["payload"]["perihal"] == "[disembunyikan]" and drafted["actor"] == {"kind": "user", "role": "staf"}
    received = body["history"][0]["payload"]
    assert received["attachments"] == [
        {"kind": "ktp", "content_type": "image/png", "size": received["attachments"][0]["size"]}
    ]
    page = api["dashboard"].get("/v1/register", params={"kecamatan": place["a"]}, headers=token).json()
    (item,) = [i for i in page["items"] if i["complaint_id"] == str(world["cid"])]
    assert item["tracking_code"] is None and item["subject"] == "[disembunyikan]"
    assert item["follow_up"]["text"] == "[disembunyikan]" and item["complainant"]["nik"] == "3528********0001"
    overdue = api["dashboard"].get("/v1/dashboard/overdue", params={"kecamatan": place["a"]}, headers=token).json()
    (late,) = [i for i in overdue["items"] if i["complaint_id"] == str(world["late"])]
    assert late["tracking_code"] is None and late["subject"] == "[disembunyikan]"
    assert late["complainant"] == {"name": "Siti ***", "phone": "+62812****890"}


# -- the web app --------------------------------------------------------------------------------------------------
def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(web, username: str | None) -> None:
    web.cookies.clear()
    if username is None:
        return
    r = web.post(
        "/masuk",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf_of(web.get("/masuk").text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def web_reads(world, place) -> dict[str, str]:
    cid, docs, a = world["cid"], world["documents"], place["a"]
    return {
        "complaint_page": f"/petugas/pengaduan/{cid}",
        "overdue_complaint_page": f"/petugas/pengaduan/{world['late']}",
        "referred_complaint_page": f"/petugas/pengaduan/{world['referred']}",
        "inbox_page": "/kotak-masuk",
        "register_page": f"/buku-rekap?kecamatan={a}",
        "register_csv": f"/buku-rekap.csv?kecamatan={a}",
        "register_xlsx": f"/buku-rekap.xlsx?kecamatan={a}",
        "scan": f"/petugas/lampiran/{world['digest']}?pengaduan={cid}",
        "scan_download": f"/petugas/lampiran/{world['digest']}?pengaduan={cid}&unduh=1",
        "receipt_pdf": f"/petugas/dokumen/{docs['receipt']}.pdf",
        "draft_pdf": f"/petugas/dokumen/{docs['draft']}.pdf",
        "letter_pdf": f"/petugas/dokumen/{docs['letter']}.pdf?unduh=1",
    }


WEB_FILES = {"scan", "scan_download", "receipt_pdf", "draft_pdf", "letter_pdf"}
WEB_DOWNLOADS = {"register_csv", "register_xlsx"}  # a form asking why (X-Access-Reason), posted


def download(web, path: str):
    """A Buku Rekap download as its form sends it: the page's kecamatan and period, and the reason."""
    target, _, query = path.partition("?")
    token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/buku-rekap", follow_redirects=False).text)
    data = {**dict(parse_qsl(query)), "alasan": "Pemeriksaan penyamaran", "csrf_token": token.group(1) if token else ""}
    return web.post(target, data=data, follow_redirects=False)


def expected_web_status(role: str, read: str) -> int:
    if role == "anonymous":
        return 303  # to the sign-in page
    if read == "inbox_page":
        return 200 if role in INSIDE or role == "other_staf" else 303  # kabupaten, admin: to the dashboard
    if role == "other_staf":
        return {"register_page": 200, "register_csv": 200, "register_xlsx": 200}.get(read, 404)  # their own book
    if role in MASKED and read in WEB_FILES:
        return 403
    return 200


@pytest.mark.parametrize("role", ROLES)
def test_every_staff_page_by_every_role(web, world, place, people, role):
    sign_in(web, people.get(role))
    failures = []
    for read, path in web_reads(world, place).items():
        r = download(web, path) if read in WEB_DOWNLOADS else web.get(path, follow_redirects=False)
        expected = expected_web_status(role, read)
        if r.status_code != expected:
            failures.append(f"{read}: HTTP {r.status_code}, expected {expected}: {r.text[:200]}")
            continue
        if role in INSIDE:
            continue
        found = leaks(text_of(r), world["codes"])
        if found:
            failures.append(f"{read}: leaks {found}")
    if role in MASKED:
        page = web.get(web_reads(world, place)["complaint_page"]).text
        assert "Siti ***" in page and "3528********0001" in page, "the masked page shows the masked values"
        assert "/petugas/lampiran/" not in page and "/petugas/dokumen/" not in page, "no link to a refused file"
    if role in INSIDE:
        page = web.get(web_reads(world, place)["complaint_page"]).text
        assert NIK in page and world["codes"][0] in page and f"/petugas/lampiran/{world['digest']}" in page
    assert not failures, "\n".join(failures)
