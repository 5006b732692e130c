"""Two kabupaten in one deployment (issue #19 item 4): each sees its own, never the other's.

Two fresh kabupaten, A and B, two kecamatan each (A1, A2; B1, B2), with their own letterheads, their own letter
numbering (B numbers with its own pattern and classification code) and their own category lists (B adds
"air-bersih"). In each kabupaten one complaint of its first kecamatan is walked through the twelve steps of the SOP
over the workflow API by its Staf, Kasi, Sekcam and Camat (the letters service renders the receipt, the draft and
the signed letter), and one complaint of its second kecamatan is received. Then every role of each kabupaten reads
every surface (the real APIs and the web app, in-process, on real PostgreSQL):

* the workflow's complaint, inbox and a staff action on the other kabupaten's complaint;
* the dashboard's summary (with and without ``kecamatan``), steps, overdue, referrals, register (JSON, CSV, XLSX),
  event feed, the LAPOR! export, Open311 (with and without ``jurisdiction_id``) and the public statistics;
* the letters' documents, PDFs and the public verification page;
* the web app's inbox, Buku Rekap, complaint page and the kabupaten's dashboard page.

Expected, as the code's conventions say: a complaint, a document, a file of another kecamatan is 404 (its id says
nothing); a kecamatan named in a dashboard query that is not the reader's is 403 ``kecamatan_forbidden`` (slugs are
public); a list or a summary holds only the reader's own. And the letters: each kabupaten's PDF prints its own
letterhead (pypdf reads the kabupaten's name, and never the other's), and both kabupaten's numbers start at 1.

Also: message templates set for one kabupaten (`pengaduan templates set --kabupaten`) never word the other's; the
staff forms' examples name no kabupaten; `pengaduan seed-demo` serves Kabupaten Sumenep beside Pamekasan. The
twelve-step walk counts the events a complaint makes and the PDFs' sizes bound (docs/capacity.md).
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import subprocess
import sys
import uuid
import zipfile
from urllib.parse import parse_qsl

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from services.accounts.handlers import add_user
from services.dashboard.adapters.subscription import Subscription
from services.dashboard.entrypoints.projections import projections
from services.letters import handlers as letter_handlers
from services.letters.bootstrap import bootstrap as letters_bootstrap
from services.letters.config import LettersSettings
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from shared.contracts.intake import Complainant
from shared.eventstore.postgres import PostgresEventStore
from shared.tenancy import Kecamatan, configure_kabupaten, demo_second_kabupaten, upsert_kecamatan
from tests.support.complaints import record_complaint
from tests.support.processes import env_for
from tests.support.tasks import SentTasks
from tests.support.web import web_client

PASSWORD = "rahasia-uji-dua-kabupaten"
SIDES = ("a", "b")
INSIDE = ("staf", "kasi", "sekcam", "camat")  # of the kabupaten's first kecamatan
ROLES = (*INSIDE, "staf2", "kabupaten")  # staf2: the kabupaten's second kecamatan
# the B kabupaten numbers its letters its own way: a classification code of its own and the sequence padded
B_NUMBERING = {
    "pattern": "{klasifikasi}/{urut:03}/{unit}/{tahun}",
    "klasifikasi": {"400.10.2.2": "Administrasi Pemerintahan Desa dan Kelurahan"},
    "default": {"response_letter": "400.10.2.2", "referral_letter": "400.10.2.2"},
}
B_CATEGORIES = [
    {"code": "air-bersih", "name": "Air bersih", "lapor": "Infrastruktur"},
    {"code": "pelayanan-lainnya", "name": "Lainnya"},
]


# -- the world ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def place(engine):
    """Two fresh kabupaten, two kecamatan each; B with its own numbering and categories."""
    suffix = uuid.uuid4().hex[:5]
    result = {}
    for side in SIDES:
        kab = f"duakab-{side}-{suffix}"
        name = f"Kabupaten Duakab{side.upper()} {suffix}"
        items = [
            Kecamatan(
                f"{kab}-{n}",
                f"93.{suffix}.{side}{n}",
                f"Duakab {side.upper()}{n}",
                kab,
                name,
                {
                    "pemerintah": f"PEMERINTAH KABUPATEN DUAKAB{side.upper()} {suffix}",
                    "kecamatan": f"KECAMATAN DUAKAB {side.upper()}{n}",
                    "address": "Jalan Raya 1",
                    "city": f"Kota{side.upper()}",
                },
            )
            for n in (1, 2)
        ]
        upsert_kecamatan(engine, items)
        result[side] = {
            "kabupaten": kab,
            "kabupaten_name": name,
            "k1": items[0].slug,
            "k2": items[1].slug,
            "pemerintah": f"KABUPATEN DUAKAB{side.upper()} {suffix}".upper(),
        }
    configure_kabupaten(engine, result["b"]["kabupaten"], {"letter_number": B_NUMBERING, "categories": B_CATEGORIES})
    return result


@pytest.fixture(scope="module")
def people(engine, place) -> dict[str, dict[str, str]]:
    suffix = uuid.uuid4().hex[:5]
    names: dict[str, dict[str, str]] = {}
    for side in SIDES:
        p = place[side]
        roles = {
            "staf": ("staf", p["k1"], None, None),
            "kasi": ("kasi", p["k1"], None, "pemerintahan"),
            "sekcam": ("sekcam", p["k1"], None, None),
            "camat": ("camat", p["k1"], None, None),
            "staf2": ("staf", p["k2"], None, None),
            "kabupaten": ("kabupaten", None, p["kabupaten"], None),
        }
        names[side] = {}
        for key, (role, kecamatan, kabupaten, unit) in roles.items():
            username = f"dk{suffix}.{side}.{key}"
            add_user(
                engine,
                username,
                f"Petugas {side.upper()} {key}",
                role,
                PASSWORD,
                kecamatan=kecamatan,
                kabupaten=kabupaten,
                unit=unit,
                nip="197001011990031001" if role == "camat" else None,
            )
            names[side][key] = username
    return names


@pytest.fixture(scope="module")
def web_settings(settings, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("two-kabupaten-data")
    return settings.model_copy(update={"data_dir": str(data_dir), "public_base_url": "http://127.0.0.1:8000"})


@pytest.fixture(scope="module")
def web(web_settings, engine, place, people):
    with web_client(web_settings) as client:
        yield client


def walk(api, wf, letters, tokens, kecamatan: str, category: str) -> dict:
    """A complaint of ``kecamatan`` through the twelve steps over the API; its documents and events."""
    message = record_complaint(
        wf,
        kecamatan,
        complainant=Complainant(name="Siti Aminah", nik="3528071505900001", phone="+6281234567890"),
        subject=f"Pengaduan {kecamatan}",
        description=f"Uraian pengaduan di {kecamatan}.",
    )
    cid = message.complaint_id

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

    act("kasi", "verify-identity")  # 2
    act("staf", "categorize", category=category)  # at step 3, from the kabupaten's own list
    act("staf", "register")  # 3
    act("camat", "dispose", unit="pemerintahan", instructions="Tindak lanjuti")  # 4
    act("kasi", "clarify", explanation="Sudah diperiksa di lapangan")  # 5
    act("kasi", "request-letter")  # 6
    act("staf", "draft-letter", perihal="Tanggapan pengaduan", body="Dengan hormat, sudah ditindaklanjuti.")  # 7
    draft = letter_handlers.render_draft(letters, last_event("workflow.LetterDrafted").event_id)
    act("sekcam", "review-letter", approved=True)  # 8
    act("staf", "duplicate-letter")  # 9
    act("camat", "sign-letter")  # 10
    issued = letter_handlers.issue_signed_letter(letters, last_event("workflow.LetterSigned").event_id)
    handlers.record_letter_document(wf, issued)
    act("staf", "archive-letter")  # 11
    closed = act("staf", "send-response", channel="langsung", receipt="Diterima langsung oleh pengadu")  # 12
    return {
        "cid": cid,
        "kecamatan": kecamatan,
        "code": message.tracking_code,
        "closed": closed,
        "documents": {"receipt": receipt["id"], "draft": draft["id"], "letter": issued.document_id},
        "events": wf.store.read_stream(f"complaint-{cid}"),
    }


@pytest.fixture(scope="module")
def world(web, web_settings, engine, place, people):
    wf = workflow_bootstrap(web_settings)
    letters = dataclasses.replace(letters_bootstrap(LettersSettings(**web_settings.model_dump())), celery=SentTasks())
    start = wf.store.last_position()
    api = {name: TestClient(app) for name, app in web.apps.items()}
    tokens: dict[str, dict[str, dict[str, str]]] = {}
    for side in SIDES:
        tokens[side] = {}
        for key, username in people[side].items():
            r = api["workflow"].post("/v1/auth/token", data={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            tokens[side][key] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    admin = f"dk-admin-{uuid.uuid4().hex[:5]}"
    add_user(engine, admin, "Admin Uji", "admin", PASSWORD)
    r = api["workflow"].post("/v1/auth/token", data={"username": admin, "password": PASSWORD})
    admin_token = {"Authorization": f"Bearer {r.json()['access_token']}"}

    walked, second = {}, {}
    for side in SIDES:
        category = "air-bersih" if side == "b" else "infrastruktur"
        walked[side] = walk(api, wf, letters, tokens[side], place[side]["k1"], category)
        second[side] = record_complaint(wf, place[side]["k2"], subject=f"Kedua {side}").complaint_id
    for projection in projections(engine).values():  # what `pengaduan projections run` keeps up to date
        Subscription(engine, PostgresEventStore(engine), projection, batch_size=500).catch_up()
    yield {
        "api": api,
        "tokens": tokens,
        "admin": admin_token,
        "walked": walked,
        "second": second,
        "start": start,
    }
    wf.engine.dispose()
    letters.engine.dispose()


def other(side: str) -> str:
    return "b" if side == "a" else "a"


def text_of(r) -> str:
    if r.content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(r.content)) as z:
            return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return r.content.decode("utf-8-sig", "replace")


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)


# -- the API ---------------------------------------------------------------------------------------------------
def foreign_reads(world, place, side: str) -> dict[str, tuple[str, str, dict]]:
    """The reads of the OTHER kabupaten's data, named: (service, path, params)."""
    o = other(side)
    theirs, k1, k2 = world["walked"][o], place[o]["k1"], place[o]["k2"]
    docs = theirs["documents"]
    return {
        "complaint": ("workflow", f"/v1/complaints/{theirs['cid']}", {}),
        "complaint_second": ("workflow", f"/v1/complaints/{world['second'][o]}", {}),
        "summary": ("dashboard", "/v1/dashboard/summary", {"kecamatan": k1}),
        "summary_second": ("dashboard", "/v1/dashboard/summary", {"kecamatan": k2}),
        "steps": ("dashboard", "/v1/dashboard/steps", {"kecamatan": k1}),
        "overdue": ("dashboard", "/v1/dashboard/overdue", {"kecamatan": k1}),
        "referrals": ("dashboard", "/v1/dashboard/referrals", {"kecamatan": k1}),
        "register_json": ("dashboard", "/v1/register", {"kecamatan": k1}),
        "register_csv": ("dashboard", "/v1/register", {"kecamatan": k1, "format": "csv"}),
        "register_xlsx": ("dashboard", "/v1/register", {"kecamatan": k1, "format": "xlsx"}),
        "feed": ("dashboard", "/v1/events", {"kecamatan": k1, "after": str(world["start"]), "limit": "1000"}),
        "lapor_export": ("dashboard", "/v1/dashboard/exports/lapor.csv", {"kecamatan": k1}),
        "documents": ("letters", f"/v1/letters/complaints/{theirs['cid']}", {}),
        "receipt_pdf": ("letters", f"/v1/letters/{docs['receipt']}/pdf", {}),
        "draft_pdf": ("letters", f"/v1/letters/{docs['draft']}/pdf", {}),
        "letter_pdf": ("letters", f"/v1/letters/{docs['letter']}/pdf", {}),
        "kartu_kendali": ("letters", f"/v1/letters/complaints/{theirs['cid']}/kartu-kendali.pdf", {}),
    }


NOT_FOUND = {
    "complaint",
    "complaint_second",
    "documents",
    "receipt_pdf",
    "draft_pdf",
    "letter_pdf",
    "kartu_kendali",
}


def expected_foreign_status(role: str, read: str) -> int:
    if read in NOT_FOUND:
        return 404  # another kecamatan's complaint or document: not found, whoever asks
    return 403  # a kecamatan named that is not the reader's: kecamatan_forbidden


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("role", ROLES)
def test_no_role_reads_the_other_kabupatens_data(world, place, side, role):
    token = world["tokens"][side][role]
    o = other(side)
    marks = [place[o]["k1"], place[o]["k2"], world["walked"][o]["code"], str(world["walked"][o]["cid"])]
    failures = []
    for read, (service, path, params) in foreign_reads(world, place, side).items():
        r = world["api"][service].get(path, params=params, headers=token)
        expected = expected_foreign_status(role, read)
        if r.status_code != expected:
            failures.append(f"{read}: HTTP {r.status_code}, expected {expected}: {r.text[:200]}")
            continue
        found = [m for m in marks if m in text_of(r)]
        if found:
            failures.append(f"{read}: names {found}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("role", INSIDE)
def test_no_staff_action_reaches_the_other_kabupatens_complaint(world, side, role):
    theirs = world["walked"][other(side)]["cid"]
    second = world["second"][other(side)]
    api, token = world["api"]["workflow"], world["tokens"][side][role]
    for cid, action, body in (
        (second, "verify-identity", {"expected_version": 1}),
        (second, "withdraw", {"expected_version": 1, "reason": "uji"}),
        (theirs, "categorize", {"expected_version": 1, "category": "infrastruktur"}),
    ):
        r = api.post(f"/v1/complaints/{cid}/{action}", headers=token, json=body)
        assert r.status_code == 404 and r.json()["code"] == "complaint_not_found", (action, r.text)
    # and nothing moved: its own staff still see it at step 2
    own = world["tokens"][other(side)]["staf2"]
    assert api.get(f"/v1/complaints/{second}", headers=own).json()["current_step"]["number"] == 2


@pytest.mark.parametrize("side", SIDES)
def test_each_role_reads_its_own(world, place, side):
    """The refusals above mean something: the same reads give each kabupaten's staff their own."""
    api, tokens, p = world["api"], world["tokens"][side], place[side]
    mine = world["walked"][side]
    for role in INSIDE:
        r = api["workflow"].get(f"/v1/complaints/{mine['cid']}", headers=tokens[role])
        assert r.status_code == 200 and r.json()["tracking_code"] == mine["code"], role
    for role in ("staf", "staf2"):  # the inbox: their own kecamatan's, and never the other kabupaten's
        inbox = api["workflow"].get("/v1/inbox", headers=tokens[role], params={"per_page": 200})
        assert inbox.status_code == 200
        listed = {i["id"] for i in inbox.json()}
        assert str(world["second"][other(side)]) not in listed
    for role in (*INSIDE, "kabupaten"):
        for service, path, params in (
            ("dashboard", "/v1/dashboard/summary", {"kecamatan": p["k1"]}),
            ("dashboard", "/v1/register", {"kecamatan": p["k1"]}),
            ("dashboard", "/v1/events", {"kecamatan": p["k1"], "after": str(world["start"]), "limit": "1000"}),
            ("letters", f"/v1/letters/complaints/{mine['cid']}", {}),
        ):
            r = api[service].get(path, params=params, headers=tokens[role])
            assert r.status_code == 200, (role, path, r.text[:200])
    register = api["dashboard"].get("/v1/register", params={"kecamatan": p["k1"]}, headers=tokens["staf"]).json()
    assert [i["complaint_id"] for i in register["items"]] == [str(mine["cid"])]
    letter = api["letters"].get(f"/v1/letters/{mine['documents']['letter']}/pdf", headers=tokens["camat"])
    assert letter.status_code == 200 and letter.content.startswith(b"%PDF")


@pytest.mark.parametrize("side", SIDES)
def test_the_kabupatens_summary_counts_only_its_own(world, place, side):
    """Without ``kecamatan`` a kabupaten user's summary is every kecamatan of its kabupaten, and only those."""
    api, token, p = world["api"]["dashboard"], world["tokens"][side]["kabupaten"], place[side]
    r = api.get("/v1/dashboard/summary", headers=token)
    assert r.status_code == 200, r.text
    body = r.json()
    listed = {item["kecamatan"]["slug"] for item in body["kecamatan"]}
    assert listed == {p["k1"], p["k2"]}
    assert {item["kecamatan"]["kabupaten"] for item in body["kecamatan"]} == {p["kabupaten"]}
    counts = {item["kecamatan"]["slug"]: item["total"] for item in body["kecamatan"]}
    assert counts == {p["k1"]: 1, p["k2"]: 1}
    assert body["total"]["total"] == 2
    feed = api.get("/v1/events", params={"after": str(world["start"]), "limit": "1000"}, headers=token)
    assert feed.status_code == 200
    kecamatan_in_feed = {e["kecamatan"] for e in feed.json()["events"]}
    assert kecamatan_in_feed == {p["k1"], p["k2"]}
    # the kecamatan's own staff: only their kecamatan, even without naming it
    staf = world["tokens"][side]["staf"]
    own = api.get("/v1/dashboard/summary", headers=staf)
    assert own.status_code == 200 and {i["kecamatan"]["slug"] for i in own.json()["kecamatan"]} == {p["k1"]}


def test_an_admin_reads_both_kabupaten(world, place):
    api = world["api"]["dashboard"]
    for side in SIDES:
        r = api.get("/v1/dashboard/summary", params={"kecamatan": place[side]["k1"]}, headers=world["admin"])
        assert r.status_code == 200 and r.json()["total"]["total"] == 1


# -- letters: each kabupaten its letterhead and its numbers ---------------------------------------------------------
def test_each_kabupatens_letter_prints_its_own_letterhead_and_numbers_from_one(world, place):
    api = world["api"]
    numbers = {}
    for side in SIDES:
        mine = world["walked"][side]
        camat = world["tokens"][side]["camat"]
        r = api["letters"].get(f"/v1/letters/{mine['documents']['letter']}/pdf", headers=camat)
        assert r.status_code == 200
        # docs/capacity.md counts about 90 KB for a signed letter (B-B, development CA) and 50 KB for the others
        assert len(r.content) < 150_000, len(r.content)
        text = " ".join(pdf_text(r.content).split())
        assert place[side]["pemerintah"] in text.upper(), text[:400]
        assert place[other(side)]["pemerintah"] not in text.upper()
        for kind in ("receipt", "draft"):
            doc = api["letters"].get(f"/v1/letters/{mine['documents'][kind]}/pdf", headers=camat)
            assert len(doc.content) < 100_000, (kind, len(doc.content))
            assert place[side]["pemerintah"] in " ".join(pdf_text(doc.content).split()).upper(), kind
        numbers[side] = mine["closed"]["letter_number"]
        assert str(numbers[side]).replace(" ", "") in text.replace(" ", "")
        # the public verification page behind the QR code: the letter's own kecamatan and number
        check = api["letters"].get(f"/v1/letters/verify/{mine['documents']['letter']}")
        assert check.status_code == 200, check.text
        assert check.json()["letter_number"] == numbers[side]
        assert check.json()["kecamatan"] == f"Duakab {side.upper()}1"
    year = world["walked"]["a"]["closed"]["letter_number"].rsplit("/", 1)[1]
    # both kabupaten start at their first number, each with its own pattern and classification code
    assert numbers["a"] == f"000.8.3.4/1/{_code(place, 'a')}/{year}"
    assert numbers["b"] == f"400.10.2.2/001/{_code(place, 'b')}/{year}"


def _code(place, side: str) -> str:
    suffix = place[side]["kabupaten"].rsplit("-", 1)[1]
    return f"93.{suffix}.{side}1"


# -- Open311 and the public statistics ---------------------------------------------------------------------------
@pytest.mark.parametrize("side", SIDES)
def test_open311_with_a_jurisdiction_lists_only_its_own(world, place, side):
    api = world["api"]["dashboard"]
    mine, theirs = world["walked"][side]["cid"], world["walked"][other(side)]["cid"]
    r = api.get("/open311/v2/requests.json", params={"jurisdiction_id": place[side]["k1"]})
    assert r.status_code == 200, r.text
    ids = {i["service_request_id"] for i in r.json()}
    assert str(mine) in ids and str(theirs) not in ids
    services = api.get("/open311/v2/services.json", params={"jurisdiction_id": place[side]["k1"]}).json()
    codes = {s["service_code"] for s in services}
    assert ("air-bersih" in codes) == (side == "b")  # each kabupaten's own list
    (item,) = [i for i in r.json() if i["service_request_id"] == str(mine)]
    assert item["service_code"] == ("air-bersih" if side == "b" else "infrastruktur")


def place_of(world, side: str) -> str:
    return world["walked"][side]["kecamatan"]


def test_open311_without_a_jurisdiction_is_refused_when_the_lists_differ(world):
    """The two kabupaten's category lists differ: no one list is "every kecamatan's" (docs/adr/0019)."""
    r = world["api"]["dashboard"].get("/open311/v2/services.json")
    assert r.status_code == 400
    # the requests themselves are public and carry nothing personal: without a jurisdiction, every kabupaten's, each
    # under its own jurisdiction and its own kabupaten's category
    listed = world["api"]["dashboard"].get("/open311/v2/requests.json", params={"status": "closed"}).json()
    by_id = {i["service_request_id"]: i for i in listed}
    for side in SIDES:
        item = by_id[str(world["walked"][side]["cid"])]
        assert item["jurisdiction_id"] == place_of(world, side)
        assert world["walked"][side]["code"] not in json.dumps(item)


@pytest.mark.parametrize("side", SIDES)
def test_public_statistics_of_a_kabupaten_hold_only_its_kecamatan(world, place, side):
    api = world["api"]["dashboard"]
    r = api.get("/v1/public/statistics", params={"kabupaten": place[side]["kabupaten"]})
    assert r.status_code == 200, r.text
    body = json.dumps(r.json())
    assert place[side]["k1"] in body and place[other(side)]["k1"] not in body and place[other(side)]["k2"] not in body
    r = api.get(
        "/v1/public/statistics", params={"kabupaten": place[side]["kabupaten"], "kecamatan": place[other(side)]["k1"]}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "kecamatan_outside_kabupaten"


# -- the web app -----------------------------------------------------------------------------------------------------
def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(web, username: str) -> None:
    web.cookies.clear()
    r = web.post(
        "/masuk",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf_of(web.get("/masuk").text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def download(web, path: str):
    target, _, query = path.partition("?")
    token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/buku-rekap", follow_redirects=False).text)
    data = {
        **dict(parse_qsl(query)),
        "alasan": "Pemeriksaan dua kabupaten",
        "csrf_token": token.group(1) if token else "",
    }
    return web.post(target, data=data, follow_redirects=False)


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("role", ROLES)
def test_no_page_shows_the_other_kabupatens_data(web, world, place, people, side, role):
    sign_in(web, people[side][role])
    o = other(side)
    theirs = world["walked"][o]
    marks = [theirs["code"], place[o]["k1"], f"Duakab {o.upper()}1", f"Duakab {o.upper()}2"]
    failures = []
    for read, path in {
        "complaint_page": f"/petugas/pengaduan/{theirs['cid']}",
        "second_page": f"/petugas/pengaduan/{world['second'][o]}",
        "letter_pdf": f"/petugas/dokumen/{theirs['documents']['letter']}.pdf",
        "receipt_pdf": f"/petugas/dokumen/{theirs['documents']['receipt']}.pdf",
    }.items():
        r = web.get(path, follow_redirects=False)
        if r.status_code != 404:
            failures.append(f"{read}: HTTP {r.status_code}, expected 404")
    register = web.get(f"/buku-rekap?kecamatan={place[o]['k1']}", follow_redirects=True)
    if role == "kabupaten":  # refused, and told why in its own terms (the slugs are public: naming it is no leak)
        if register.status_code != 403 or "Pengguna kabupaten hanya dapat melihat" not in register.text:
            failures.append(f"register_page: HTTP {register.status_code}, not the kabupaten's refusal")
    elif any(m in register.text for m in marks):  # a kecamatan's staff get their own book
        failures.append(f"register_page: names {[m for m in marks if m in register.text]}")
    if theirs["code"] in register.text or str(theirs["cid"]) in register.text:
        failures.append("register_page: shows the other kabupaten's complaint")
    for read, path in {
        "inbox_page": "/kotak-masuk",
        "dashboard_page": "/dasbor",
    }.items():
        r = web.get(path, follow_redirects=True)
        if r.status_code not in (200, 403, 404):
            failures.append(f"{read}: HTTP {r.status_code}")
            continue
        found = [m for m in marks if m in r.text]
        if found:
            failures.append(f"{read}: names {found}")
    r = download(web, f"/buku-rekap.csv?kecamatan={place[o]['k1']}")
    found = [m for m in marks if m in text_of(r)]
    if r.status_code == 200 and found:
        failures.append(f"register_csv: names {found}")
    assert not failures, "\n".join(failures)


# -- what the walk says about size (docs/capacity.md) -------------------------------------------------------------------
def test_the_twelve_step_walk_makes_these_events(world):
    """The events a complaint walked through the twelve steps leaves in its stream, by type: the capacity model's
    "events per complaint" on the workflow's own side (notify's reports add their own in production)."""
    for side in SIDES:
        events = world["walked"][side]["events"]
        types = [e.type.removeprefix("workflow.") for e in events]
        assert types == [
            "ComplaintReceived",
            "IdentityVerified",
            "CategorySet",
            "ComplaintRegistered",
            "DispositionIssued",
            "ClarificationGiven",
            "LetterRequested",
            "LetterDrafted",
            "LetterApproved",
            "LetterDuplicated",
            "LetterSigned",
            "LetterIssued",
            "LetterArchived",
            "ResponseSent",
        ], types
        assert world["walked"][side]["closed"]["status"] == "closed"


def test_the_staff_forms_name_no_kabupaten_of_their_own():
    """The forms every kabupaten's staff fill in give examples that fit any kabupaten (they named Pamekasan's Dinas
    PUPR and Bupati to Sumenep's Camat)."""
    from services.web.entrypoints.staff_actions import ACTIONS

    assert "Pamekasan" not in repr(ACTIONS)


def test_seed_demo_serves_sumenep_beside_pamekasan(settings, world):
    """`pengaduan seed-demo` (what `make run` runs) seeds a second kabupaten: its watcher reads its three kecamatan and
    nothing of Pamekasan's; its kecamatan print Sumenep's letterhead."""
    env = env_for(settings)
    r = subprocess.run(  # noqa: PLW1510
        [sys.executable, "-m", "pengaduan", "seed-demo"], capture_output=True, text=True, env=env, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert "3 of Kabupaten Sumenep" in r.stdout
    api = world["api"]
    token = api["workflow"].post("/v1/auth/token", data={"username": "kabupaten.sumenep", "password": "demo"})
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    sumenep = ",".join(k.slug for k in demo_second_kabupaten())
    # named: the dashboard's list of kecamatan (cached 30 s, read again for a slug it lacks) learns them at once;
    # "all of mine" (no kecamatan named) follows within its 30 s
    r = api["dashboard"].get("/v1/dashboard/summary", params={"kecamatan": sumenep}, headers=headers)
    assert r.status_code == 200, r.text
    summary = r.json()
    assert {k["kecamatan"]["slug"] for k in summary["kecamatan"]} == {k.slug for k in demo_second_kabupaten()}
    assert {k["kecamatan"]["kabupaten"] for k in summary["kecamatan"]} == {"sumenep"}
    refused = api["dashboard"].get("/v1/dashboard/summary", params={"kecamatan": "pegantenan"}, headers=headers)
    assert refused.status_code == 403 and refused.json()["code"] == "kecamatan_forbidden"
    assert all(k.letterhead["pemerintah"] == "PEMERINTAH KABUPATEN SUMENEP" for k in demo_second_kabupaten())


def test_a_template_set_for_one_kabupaten_is_not_the_others(settings, place, tmp_path):
    """`pengaduan templates set --kabupaten A` words A's kecamatan's messages; B's keep what they had."""
    body = tmp_path / "ack.txt"
    body.write_text("Pemkab A menerima {{ kode }}.", encoding="utf-8")
    env = env_for(settings)

    def templates(*args: str) -> str:
        r = subprocess.run(  # noqa: PLW1510
            [sys.executable, "-m", "pengaduan", "templates", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert r.returncode == 0, r.stderr
        return r.stdout

    kab = place["a"]["kabupaten"]
    assert f"stored for kabupaten:{kab}" in templates(
        "set", "--kabupaten", kab, "--kind", "acknowledgment", "--channel", "sms", "--file", str(body)
    )

    def source(kecamatan: str) -> str:
        """Where the SMS acknowledgment of this kecamatan comes from (`list`: kind, channel, source, variables)."""
        rows = [line.split() for line in templates("list", "--kecamatan", kecamatan).splitlines()]
        return next(row[2] for row in rows if row[:2] == ["acknowledgment", "sms"])

    assert source(place["a"]["k2"]) == f"kabupaten:{kab}"
    assert source(place["b"]["k1"]) != f"kabupaten:{kab}"
