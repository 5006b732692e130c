"""The staff pages over the real APIs: the inbox of each role, the complaint page with exactly the forms the
signed-in role may use now, each SOP step performed through the pages by its own role, the Buku Rekap and
its downloads; kabupaten users read masked data and act on nothing."""

from __future__ import annotations

import dataclasses
import hashlib
import html
import io
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
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
from services.web.entrypoints.staff_actions import ACTION_LABELS
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from shared.contracts.intake import Complainant
from shared.eventstore.postgres import PostgresEventStore
from shared.tenancy import Kecamatan, upsert_kecamatan
from tests.support import complaints
from tests.support.complaints import outbox_message
from tests.support.tasks import SentTasks
from tests.support.web import web_client
from tests.unit.test_attachments import as_stored, tiny_png

PASSWORD = "rahasia-uji-123"
NIK, PHONE = "3528071505900001", "+6281234567890"
STALE = "Pengaduan ini sudah ditindaklanjuti orang lain. Muat ulang halaman untuk melihat keadaan terbaru."


# -- fixtures -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def place(engine):
    """Two fresh kecamatan of Kabupaten Pamekasan: every inbox here holds only this module's complaints."""
    suffix = uuid.uuid4().hex[:5]
    items = [
        Kecamatan(
            f"web-{suffix}-{n}",
            f"95.{suffix}.{n}",
            f"Laman {n.upper()}",
            "pamekasan",
            "Kabupaten Pamekasan",
            {
                "pemerintah": "PEMERINTAH KABUPATEN PAMEKASAN",
                "kecamatan": f"KECAMATAN LAMAN {n.upper()}",
                "address": "Jalan Raya 1",
                "city": f"Laman {n.upper()}",
            },
        )
        for n in ("a", "b")
    ]
    upsert_kecamatan(engine, items)
    return {"a": items[0].slug, "b": items[1].slug, "name_a": items[0].name}


@pytest.fixture(scope="module")
def people(engine, place) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:5]
    roles = {
        "staf": ("staf", place["a"], None, None),
        "kasi": ("kasi", place["a"], None, "pemerintahan"),
        "kasi_trantib": ("kasi", place["a"], None, "trantib"),
        "sekcam": ("sekcam", place["a"], None, None),
        "camat": ("camat", place["a"], None, None),
        "staf_b": ("staf", place["b"], None, None),
        "kasi_b": ("kasi", place["b"], None, "pemerintahan"),
        "kabupaten": ("kabupaten", None, "pamekasan", None),
    }
    names = {}
    for key, (role, kecamatan, kabupaten, unit) in roles.items():
        username = f"w{suffix}.{key.replace('_', '-')}"
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
    data_dir = tmp_path_factory.mktemp("web-staff-data")
    return settings.model_copy(update={"data_dir": str(data_dir), "public_base_url": "http://127.0.0.1:8000"})


@pytest.fixture(scope="module")
def web(web_settings, engine, place, people):
    with web_client(web_settings) as client:
        yield client


@pytest.fixture(scope="module")
def wf(web_settings, place):
    container = workflow_bootstrap(web_settings)
    yield container
    container.engine.dispose()


@pytest.fixture(scope="module")
def letters(web_settings, place):
    container = letters_bootstrap(LettersSettings(**web_settings.model_dump()))
    container = dataclasses.replace(container, celery=SentTasks())
    yield container
    container.engine.dispose()


# -- helpers --------------------------------------------------------------------------------------------------
def new_complaint(wf, kecamatan: str, **fields) -> uuid.UUID:
    """Siti Aminah's complaint, with her e-mail address too (the staff pages show her contact details)."""
    siti = Complainant(name="Siti Aminah", nik=NIK, phone=PHONE, email="siti@example.id", address="Desa Pegantenan")
    return complaints.new_complaint(wf, kecamatan, complainant=siti, **fields)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(web, username: str):
    web.cookies.clear()
    token = csrf_of(web.get("/masuk").text)
    r = web.post(
        "/masuk", data={"username": username, "password": PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    return r


def step_forms(html: str) -> list[str]:
    """The actions of the step's own forms (the any-step ones sit apart, under "Tindakan lain")."""
    main = html.split('<details class="tindakan-lain"', 1)[0]
    return re.findall(r'data-aksi="([a-z-]+)"', main)


def form_of(html: str, action: str) -> str:
    found = re.search(rf'<form[^>]*data-aksi="{action}".*?</form>', html, re.DOTALL)
    assert found, f"no form for {action}"
    return found.group(0)


def hidden(form: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', form).group(1)


def submit(web, cid, action: str, page: str | None = None, **fields):
    """Fill in the action's form as the page drew it (its CSRF value and version) and send it."""
    page = page if page is not None else web.get(f"/petugas/pengaduan/{cid}").text
    form = form_of(page, action)
    data = {"csrf_token": hidden(form, "csrf_token"), "expected_version": hidden(form, "expected_version"), **fields}
    return web.post(f"/petugas/pengaduan/{cid}/{action}", data=data, follow_redirects=False)


def last_event(wf, cid, type_: str):
    return next(e for e in reversed(wf.store.read_stream(f"complaint-{cid}")) if e.type == type_)


def text_only(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# -- sign-in and the inbox ------------------------------------------------------------------------------------
def test_staff_land_on_their_inbox_and_kabupaten_users_on_the_dashboard(web, people):
    assert sign_in(web, people["kasi"]).headers["location"] == "/kotak-masuk"
    assert sign_in(web, people["kabupaten"]).headers["location"] == "/dasbor"
    r = web.get("/kotak-masuk", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/dasbor"
    web.cookies.clear()
    r = web.get("/kotak-masuk", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/masuk?lanjut=%2Fkotak-masuk"


def test_the_inbox_lists_a_new_complaint_for_the_right_role_of_its_kecamatan_only(web, wf, people, place):
    cid = new_complaint(wf, place["a"])
    with wf.uow() as uow:
        _, row = handlers.load(uow, cid, lambda k: True)
    code = row["tracking_code"]
    sign_in(web, people["kasi"])
    page = web.get("/kotak-masuk")
    assert page.status_code == 200 and code in page.text and f'href="/petugas/pengaduan/{cid}"' in page.text
    assert "Melakukan Verifikasi Identitas Pengadu" in page.text and "WIB" in page.text
    for other in ("staf", "kasi_b", "staf_b"):  # not their step, or not their kecamatan
        sign_in(web, people[other])
        assert code not in web.get("/kotak-masuk").text


def test_the_inbox_page_searches_filters_and_pages(web, wf, people, place):
    """Issue #15 item 7: a search by tracking code finds one complaint; a filter that matches nothing says so; a
    bad period is explained and the whole inbox shown; more than a page gives page links."""
    cids = [
        new_complaint(wf, place["b"], received_at=datetime.now(UTC) - timedelta(days=20, minutes=i)) for i in range(51)
    ]
    with wf.uow() as uow:
        _, row = handlers.load(uow, cids[5], lambda k: True)
    sign_in(web, people["kasi_b"])  # kecamatan b: its backlog pushes no other test's complaint off page 1
    found = web.get("/kotak-masuk", params={"q": row["tracking_code"]}).text
    assert f"/petugas/pengaduan/{cids[5]}" in found and f"/petugas/pengaduan/{cids[6]}" not in found
    assert "1 pengaduan menunggu" in found and "Hapus saringan" in found
    none = web.get(
        "/kotak-masuk", params={"channel": "telepon", "received_from": "2001-01-01", "received_to": "2001-01-02"}
    )
    assert none.status_code == 200 and "Tidak ada pengaduan yang cocok" in none.text
    bad = web.get("/kotak-masuk", params={"received_from": "2026-12-02", "received_to": "2026-12-01"})
    assert bad.status_code == 200 and "Tanggal awal harus sebelum" in bad.text and "pengaduan menunggu" in bad.text
    first = web.get("/kotak-masuk").text
    assert "halaman 1 dari" in first and 'rel="next"' in first and "halaman=2" in first
    second = web.get("/kotak-masuk", params={"halaman": "2"}).text
    assert 'rel="prev"' in second and "Halaman 2 dari" in second
    assert web.get("/kotak-masuk", params={"halaman": "x"}).status_code == 200  # read as the first page


def test_an_overdue_complaint_is_highlighted_with_a_text_badge(web, wf, people, place):
    cid = new_complaint(wf, place["a"], received_at=datetime.now(UTC) - timedelta(days=30))
    sign_in(web, people["kasi"])
    page = web.get("/kotak-masuk").text
    row = re.search(rf'<tr class="terlambat">(?:(?!</tr>).)*/petugas/pengaduan/{cid}.*?</tr>', page, re.DOTALL)
    assert row and "Terlambat" in row.group(0)
    assert "melewati batas waktu" in page


def test_an_empty_inbox_says_so(web, people):
    sign_in(web, people["staf_b"])
    page = web.get("/kotak-masuk")
    assert page.status_code == 200 and "Tidak ada pengaduan yang menunggu tindakan Anda" in page.text


# -- the whole SOP through the pages --------------------------------------------------------------------------
def test_each_role_performs_its_step_through_the_pages_from_verification_to_sending(web, wf, letters, people, place):
    cid = new_complaint(wf, place["a"])
    url = f"/petugas/pengaduan/{cid}"

    def as_(who: str) -> str:
        sign_in(web, people[who])
        r = web.get(url)
        assert r.status_code == 200, r.text
        return r.text

    def do(who: str, action: str, expect_forms: list[str], flash: str, **fields) -> str:
        page = as_(who)
        assert step_forms(page) == expect_forms, (who, action, step_forms(page))
        label = ACTION_LABELS["review-letter" if action == "review-letter" else action]
        assert f">{label}</button>" in form_of(page, action)
        r = submit(web, cid, action, page, **fields)
        assert r.status_code == 303 and r.headers["location"] == url, r.text
        after = web.get(url).text
        assert flash in after
        return after

    # step 2: the Kasi; the staf sees the complaint but no form
    assert step_forms(as_("staf")) == [] and "Tidak ada tindakan untuk Anda pada langkah ini" in as_("staf")
    page = as_("kasi")
    assert NIK in page and PHONE in page and "Siti Aminah" in page
    assert "Melakukan Verifikasi Identitas Pengadu" in page
    do(
        "kasi",
        "verify-identity",
        ["verify-identity", "request-documents", "reject-identity"],
        "Identitas pengadu sudah diverifikasi",
        notes="KTP cocok",
    )
    do("staf", "register", ["register", "categorize"], "Buku Rekap Pengaduan")  # and the category (issue #18)
    # step 4 offers the kecamatan's units with a head as a list (issue #15), not free text
    camat_page = as_("camat")
    assert "<select" in camat_page and '<option value="pemerintahan"' in camat_page
    assert "Seksi Pemerintahan (" in camat_page
    page = do(
        "camat",
        "dispose",
        ["dispose", "refer", "categorize"],
        "Disposisi sudah diberikan",
        unit="Pemerintahan",
        instructions="Tindak lanjuti dengan kepala desa.",
    )
    assert "Tindak lanjuti dengan kepala desa." in page
    # step 5 waits on the Kasi of the disposed unit, not another Kasi
    assert step_forms(as_("kasi_trantib")) == []
    do("kasi", "clarify", ["clarify"], "Klarifikasi sudah dicatat", explanation="Jalan diperbaiki pada bulan Januari.")
    do("kasi", "request-letter", ["request-letter"], "menyiapkan surat tanggapan")
    do(
        "staf",
        "draft-letter",
        ["draft-letter"],
        "Konsep surat tanggapan sudah disimpan",
        perihal="Tanggapan atas pengaduan jalan rusak",
        body="Perbaikan sudah dijadwalkan.",
    )

    # the letters worker renders the draft (driven here through its handler); the sekcam previews it
    draft = letter_handlers.render_draft(letters, last_event(wf, cid, "workflow.LetterDrafted").event_id)
    page = as_("sekcam")
    assert f"/petugas/dokumen/{draft['id']}.pdf" in page and "Konsep surat tanggapan versi 1" in page
    pdf = web.get(f"/petugas/dokumen/{draft['id']}.pdf")
    assert (
        pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and pdf.headers["content-type"] == "application/pdf"
    )
    # a PDF is only ever downloaded, sandboxed: its JavaScript cannot run in the staff's browser (issue #12)
    assert pdf.headers["content-disposition"].startswith("attachment")
    assert (pdf.headers["content-security-policy"], pdf.headers["x-content-type-options"]) == ("sandbox", "nosniff")
    assert (
        web.get(f"/petugas/dokumen/{draft['id']}.pdf?unduh=1").headers["content-disposition"].startswith("attachment")
    )

    # step 8: returned once with notes (notes required to return), drafted again, then initialled
    form = form_of(page, "review-letter")
    assert ">Paraf</button>" in form and ">Kembalikan dengan catatan</button>" in form
    r = submit(web, cid, "review-letter", page, keputusan="kembalikan", notes="")
    assert r.status_code == 422 and "Tulis catatan perbaikan" in r.text
    r = submit(web, cid, "review-letter", page, keputusan="kembalikan", notes="Perbaiki salam pembuka.")
    assert r.status_code == 303
    assert "dikembalikan kepada staf" in web.get(url).text
    page = do(
        "staf",
        "draft-letter",
        ["draft-letter"],
        "Konsep surat tanggapan sudah disimpan",
        perihal="Tanggapan atas pengaduan jalan rusak",
        body="Dengan hormat, perbaikan sudah dijadwalkan.",
    )
    assert "Perbaiki salam pembuka." in page  # the returned notes on the timeline
    do("sekcam", "review-letter", ["review-letter"], "Surat tanggapan sudah diparaf", keputusan="paraf", notes="")
    do(
        "staf",
        "duplicate-letter",
        ["duplicate-letter"],
        "digandakan",
        copies=["pengadu", "arsip"],
        tembusan="Bupati Pamekasan (sebagai laporan)\n\n  Inspektorat Kabupaten Pamekasan  \n",
    )
    duplicated = last_event(wf, cid, "workflow.LetterDuplicated").payload
    assert duplicated["tembusan"] == ["Bupati Pamekasan (sebagai laporan)", "Inspektorat Kabupaten Pamekasan"]
    # the Camat chooses the letter's archive classification from the kabupaten's list, its default chosen
    sign_form = form_of(as_("camat"), "sign-letter")
    assert re.search(r'<select[^>]*name="klasifikasi"', sign_form)
    assert '<option value="000.8.3.4" selected>000.8.3.4 Pelayanan Publik</option>' in sign_form
    do("camat", "sign-letter", ["sign-letter"], "sudah ditandatangani", klasifikasi="000.8.3.4")
    assert last_event(wf, cid, "workflow.LetterSigned").payload["letter_number"].startswith("000.8.3.4/")

    # step 11 waits for the signed PDF: no archive form until the letters worker reports it
    page = as_("staf")
    assert step_forms(page) == [] and "Surat yang ditandatangani masih disiapkan" in page
    issued = letter_handlers.issue_signed_letter(letters, last_event(wf, cid, "workflow.LetterSigned").event_id)
    assert letters.celery.sent and letters.celery.sent[-1][0] == issued.TASK
    handlers.record_letter_document(wf, issued)
    page = do("staf", "archive-letter", ["archive-letter"], "sudah diarsipkan")
    assert f"/petugas/dokumen/{issued.document_id}.pdf" in page and issued.letter_number in page
    signed = web.get(f"/petugas/dokumen/{issued.document_id}.pdf")
    assert signed.status_code == 200 and signed.content.startswith(b"%PDF")

    # step 12: sent by post with its receipt; a receipt is needed for post
    page = as_("staf")
    assert step_forms(page) == ["send-response"] and ">Kirim surat tanggapan</button>" in page
    r = submit(web, cid, "send-response", page, channel="pos", receipt="")
    assert r.status_code == 422 and "Tulis tanda terima pengiriman" in r.text
    page = do(
        "staf",
        "send-response",
        ["send-response"],
        "Pengiriman surat tanggapan sudah dicatat",
        channel="pos",
        receipt="Resi POS RR123456789ID",
    )
    assert "Pengaduan ini sudah selesai" in page and step_forms(page) == []
    assert "Selesai, tanggapan dikirim" in page and "Sesuai standar" in page
    for who in ("kasi", "sekcam", "camat"):
        assert step_forms(as_(who)) == []


# -- refusals -------------------------------------------------------------------------------------------------
def test_a_stale_form_gets_the_warning_and_a_forged_one_is_refused(web, wf, people, place):
    cid = new_complaint(wf, place["a"])
    sign_in(web, people["kasi"])
    page = web.get(f"/petugas/pengaduan/{cid}").text
    assert submit(web, cid, "verify-identity", page).status_code == 303
    stale = submit(
        web, cid, "request-documents", page, message="Kirim KTP yang terbaca.", close_after_working_days="10"
    )
    assert stale.status_code == 409
    assert f'<p class="pesan peringatan" role="alert">{STALE}</p>' in stale.text

    form = form_of(web.get(f"/petugas/pengaduan/{cid}").text, "withdraw")
    r = web.post(
        f"/petugas/pengaduan/{cid}/withdraw",
        data={"expected_version": hidden(form, "expected_version")},
        follow_redirects=False,
    )
    assert r.status_code == 403
    r = web.post(
        f"/petugas/pengaduan/{cid}/withdraw",
        data={"csrf_token": "palsu", "expected_version": "2"},
        follow_redirects=False,
    )
    assert r.status_code == 403


def test_field_errors_are_shown_next_to_their_fields_with_the_values_kept(web, wf, people, place):
    cid = new_complaint(wf, place["a"])
    sign_in(web, people["kasi"])
    r = submit(web, cid, "request-documents", message="Mohon kirim KK.", close_after_working_days="99")
    assert r.status_code == 422
    form = form_of(r.text, "request-documents")
    assert 'id="galat-request-documents-close_after_working_days"' in form and 'aria-invalid="true"' in form
    assert "Mohon kirim KK.</textarea>" in form and 'value="99"' in form
    r = submit(web, cid, "reject-identity", reason="  ")
    assert r.status_code == 422 and "Wajib diisi." in form_of(r.text, "reject-identity")


def test_an_action_of_another_role_is_refused_with_the_apis_message(web, wf, people, place):
    cid = new_complaint(wf, place["a"])
    sign_in(web, people["kasi"])
    page = web.get(f"/petugas/pengaduan/{cid}").text
    sign_in(web, people["staf"])
    form = form_of(page, "verify-identity")
    r = web.post(
        f"/petugas/pengaduan/{cid}/verify-identity",
        follow_redirects=False,
        data={
            "csrf_token": csrf_of(web.get("/kotak-masuk").text),
            "expected_version": hidden(form, "expected_version"),
        },
    )
    assert r.status_code == 403 and "dilakukan oleh Kepala Seksi/Kepala Subbagian, bukan Staf" in r.text


def test_kabupaten_users_read_masked_data_and_cannot_act(web, wf, people, place):
    cid = new_complaint(wf, place["a"])
    sign_in(web, people["kabupaten"])
    page = web.get(f"/petugas/pengaduan/{cid}")
    assert page.status_code == 200
    assert NIK not in page.text and PHONE not in page.text and "Jalan di Dusun Bunangka" not in page.text
    assert "3528********0001" in page.text and "+62812****890" in page.text and "Siti ***" in page.text
    assert step_forms(page.text) == [] and "data-aksi" not in page.text
    r = web.post(
        f"/petugas/pengaduan/{cid}/verify-identity",
        data={"csrf_token": csrf_of(page.text), "expected_version": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 403


def test_a_kecamatan_user_cannot_open_another_kecamatans_complaint(web, wf, people, place):
    cid = new_complaint(wf, place["a"])
    sign_in(web, people["staf_b"])
    page = web.get(f"/petugas/pengaduan/{cid}")
    assert page.status_code == 404 and "Pengaduan tidak ditemukan" in page.text
    assert NIK not in page.text and "Siti" not in page.text


def test_subject_and_description_render_literally(web, wf, people, place):
    cid = new_complaint(
        wf,
        place["a"],
        subject="<script>alert(1)</script> {{7*7}}",
        description="<img src=x onerror=alert(2)> {{ 7*7 }} {% raw %}",
    )
    sign_in(web, people["kasi"])
    page = web.get(f"/petugas/pengaduan/{cid}").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; {{7*7}}" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt; {{ 7*7 }} {% raw %}" in page
    with wf.uow() as uow:
        _, row = handlers.load(uow, cid, lambda k: True)
    inbox = web.get("/kotak-masuk", params={"q": row["tracking_code"]}).text  # found wherever it is in the backlog
    assert "<script>alert(1)" not in inbox and "&lt;script&gt;alert(1)&lt;/script&gt; {{7*7}}" in inbox


# -- attachments ----------------------------------------------------------------------------------------------
def test_scans_are_viewed_and_downloaded_through_the_web_app(web, wf, people, place, engine):
    intake = TestClient(web.apps["intake"])
    workflow = TestClient(web.apps["workflow"])
    token = workflow.post("/v1/auth/token", data={"username": people["staf"], "password": PASSWORD}).json()[
        "access_token"
    ]
    scan = tiny_png(uuid.uuid4().int % 60000)
    form = {
        "complaint": json.dumps(
            {
                "channel": "kotak",
                "complainant": {
                    "name": "Ahmad Fauzi",
                    "nik": NIK,
                    "phone": "0812-3456-7890",
                    "address": "Desa Bulangan",
                },
                "subject": "Saluran air tersumbat",
                "description": "Saluran air di depan pasar tersumbat.",
                "received_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
                "scan_kinds": ["ktp"],
            }
        )
    }
    r = intake.post(
        "/v1/staff/complaints",
        headers={"Authorization": f"Bearer {token}"},
        data=form,
        files=[("scan", ("ktp ahmad.png", scan, "image/png"))],
    )
    assert r.status_code == 202, r.text
    message = outbox_message(engine, r.json()["tracking_code"])  # what the outbox relay would carry to the workflow
    handlers.record_complaint(wf, message)
    cid, digest = message.complaint_id, hashlib.sha256(as_stored(scan)).hexdigest()

    sign_in(web, people["kasi"])
    page = web.get(f"/petugas/pengaduan/{cid}").text
    assert "KTP" in page and "ktp ahmad.png" in page and f"/petugas/lampiran/{digest}?pengaduan={cid}" in page
    # issue #15 item 7: the scan is shown where it is listed, and the complainant, the scans and the history come
    # before the forms (identity is checked by looking at the document)
    assert f'<img class="pratinjau" src="/petugas/lampiran/{digest}?pengaduan={cid}"' in page
    assert (
        page.index("judul-pengadu")
        < page.index("judul-isi")
        < page.index("judul-riwayat")
        < page.index("judul-tindakan")
    )
    view = web.get(f"/petugas/lampiran/{digest}?pengaduan={cid}")
    assert view.status_code == 200 and view.content == as_stored(scan) and view.headers["content-type"] == "image/png"
    assert view.headers["content-disposition"].startswith("inline")  # a re-encoded image may open in the browser
    assert view.headers["content-security-policy"] == "sandbox"
    download = web.get(f"/petugas/lampiran/{digest}?pengaduan={cid}&unduh=1")
    assert (
        download.headers["content-disposition"].startswith("attachment")
        and "ktp%20ahmad.png" in download.headers["content-disposition"]
    )
    sign_in(web, people["staf_b"])
    assert web.get(f"/petugas/lampiran/{digest}?pengaduan={cid}").status_code == 404


# -- the Buku Rekap -------------------------------------------------------------------------------------------
def test_the_register_page_and_its_downloads(web, wf, web_settings, people, place):
    cid = new_complaint(wf, place["a"], subject="Lampu jalan padam")
    for version, (action, role, fields) in enumerate(
        [("verify-identity", "kasi", {}), ("register", "staf", {})], start=1
    ):
        handlers.act(
            wf,
            cid,
            action,
            fields,
            expected_version=version,
            user_id=people[role],
            role=role,
            unit="pemerintahan",
            kecamatan=place["a"],
            at=datetime.now(UTC),
            correlation_id=uuid.uuid4(),
        )
    dash = dashboard_bootstrap(DashboardSettings(**web_settings.model_dump()))
    Subscription(
        dash.engine, PostgresEventStore(dash.engine), ComplaintsProjection(dash.calendars), batch_size=500
    ).catch_up()
    dash.engine.dispose()
    today = datetime.now(ZoneInfo("Asia/Jakarta")).date().isoformat()  # the register's dates are WIB dates

    sign_in(web, people["staf"])
    page = web.get(f"/buku-rekap?dari={today}&sampai={today}")
    assert page.status_code == 200 and "Lampu jalan padam" in page.text and NIK not in page.text
    assert f'href="/petugas/pengaduan/{cid}"' in page.text and "Siti Aminah" in page.text
    # a download asks why (the reason goes to the access log): a form with the period shown, not a link
    assert 'formaction="/buku-rekap.xlsx"' in page.text and "Unduh CSV" in page.text
    assert f'name="dari" value="{today}"' in page.text and f'name="sampai" value="{today}"' in page.text
    why = {"csrf_token": csrf_of(page.text), "alasan": "Laporan bulanan kepada Bupati"}
    xlsx = web.post("/buku-rekap.xlsx", data={**why, "dari": today, "sampai": today})
    assert xlsx.status_code == 200
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert (
        xlsx.headers["content-disposition"].startswith("attachment")
        and place["a"] in xlsx.headers["content-disposition"]
    )
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet["A1"].value == "BUKU REKAP PENGADUAN"
    assert any(c.value == "Lampu jalan padam" for row in sheet.iter_rows() for c in row)
    csv = web.post("/buku-rekap.csv", data={**why, "dari": today})
    assert (
        csv.status_code == 200
        and csv.headers["content-type"].startswith("text/csv")
        and "Lampu jalan padam" in csv.content.decode("utf-8-sig")
    )

    bad = web.get("/buku-rekap?dari=2026-02-30")
    assert bad.status_code == 422 and 'id="galat-dari"' in bad.text and 'value="2026-02-30"' in bad.text

    sign_in(web, people["kabupaten"])
    choose = web.get("/buku-rekap")
    assert (
        choose.status_code == 200
        and f'<option value="{place["a"]}"' in choose.text
        and "Pilih kecamatan" in choose.text
    )
    masked = web.get(f"/buku-rekap?kecamatan={place['a']}&dari={today}")
    assert masked.status_code == 200 and f'href="/petugas/pengaduan/{cid}"' in masked.text
    assert "Lampu jalan padam" not in masked.text and "[disembunyikan]" in masked.text  # free text: shared.masking
    assert "Siti Aminah" not in masked.text and "Siti ***" in masked.text


def test_due_soon_and_overdue_are_told_apart():
    from services.web.entrypoints.staff_views import due_state

    now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert due_state(now - timedelta(minutes=1), True, now) == "terlambat"
    assert due_state(now + timedelta(minutes=90), False, now) == "segera"
    assert due_state(now + timedelta(days=2), False, now) is None
    assert due_state(None, False, now) is None  # paused: waiting for the complainant's documents


def test_the_branches_documents_requested_then_received_and_a_referral(web, wf, people, place):
    cid = new_complaint(wf, place["a"])
    url = f"/petugas/pengaduan/{cid}"
    sign_in(web, people["kasi"])
    r = submit(
        web, cid, "request-documents", message="Mohon kirim salinan KTP yang terbaca.", close_after_working_days="5"
    )
    assert r.status_code == 303
    page = web.get(url).text
    assert "Permintaan kelengkapan dokumen sudah dicatat" in page and "Menunggu dokumen pengadu" in page
    assert step_forms(page) == ["receive-documents", "close-incomplete"]
    assert "Mohon kirim salinan KTP yang terbaca." in page  # on the timeline
    assert submit(web, cid, "receive-documents", page, notes="KTP dikirim lewat WhatsApp").status_code == 303
    assert step_forms(web.get(url).text) == ["verify-identity", "request-documents", "reject-identity"]
    assert submit(web, cid, "verify-identity").status_code == 303
    sign_in(web, people["staf"])
    assert submit(web, cid, "register").status_code == 303
    sign_in(web, people["camat"])
    r = submit(
        web,
        cid,
        "refer",
        agency="Dinas PUPR Kabupaten Pamekasan",
        agency_kind="opd",
        reason="Jalan kabupaten.",
        follow_up_working_days="14",  # the form's default
    )
    assert r.status_code == 303
    page = web.get(url).text
    # followed, not closed (issue #15 item 5): the Camat has nothing more to do on it
    assert "Pengaduan sudah dilimpahkan" in page and "Dilimpahkan ke Dinas PUPR Kabupaten Pamekasan" in text_only(page)
    assert "Selesai" not in text_only(page).split("Riwayat penanganan")[0]
    assert step_forms(page) == ["record-referral-answer"]  # the Camat may record the office's answer too


# -- a referral, followed until the receiving office answers (issue #15 item 5) --------------------------------
def at_step_4(web, wf, people, place, **fields) -> uuid.UUID:
    """A complaint verified by the Kasi and registered by the staf through the pages: the Camat's step 4."""
    cid = new_complaint(wf, place["a"], **fields)
    sign_in(web, people["kasi"])
    assert submit(web, cid, "verify-identity").status_code == 303
    sign_in(web, people["staf"])
    assert submit(web, cid, "register").status_code == 303
    return cid


def referred_here(web, wf, people, place, days: str = "10", **fields) -> uuid.UUID:
    cid = at_step_4(web, wf, people, place, **fields)
    sign_in(web, people["camat"])
    r = submit(
        web,
        cid,
        "refer",
        agency="Dinas PUPR Kabupaten Pamekasan",
        agency_kind="opd",
        agency_address="Jalan Kabupaten 1, Pamekasan",
        reason="Jalan kabupaten.",
        follow_up_working_days=days,
    )
    assert r.status_code == 303, r.text
    return cid


def office_date(moment: datetime) -> str:
    """The date as people in Pamekasan (WIB) write it, by Babel's calendar (not the page's own helper)."""
    from babel.dates import format_date

    return format_date(moment.astimezone(ZoneInfo("Asia/Jakarta")).date(), "d MMMM y", locale="id_ID")


def test_the_refer_form_asks_whom_where_why_and_for_how_long_to_follow_it(web, wf, people, place):
    cid = at_step_4(web, wf, people, place)
    sign_in(web, people["camat"])
    form = form_of(web.get(f"/petugas/pengaduan/{cid}").text, "refer")
    for name in ("agency", "agency_kind", "agency_address", "reason", "follow_up_working_days"):
        assert f'name="{name}"' in form, name
    assert "Pantau selama (hari kerja)" in form
    assert re.search(r'name="follow_up_working_days"[^>]*type="number"[^>]*value="14"', form)  # the default
    assert form.count("(tidak wajib)") == 2  # the address and the classification (its default chosen); no hint twice
    assert re.search(r'<option value="000.8.3.4" selected>', form)  # the referral letter's default code
    # more than 60 working days: the API's refusal at its field, what was typed kept
    r = submit(
        web,
        cid,
        "refer",
        agency="Dinas PUPR",
        agency_kind="opd",
        reason="Jalan kabupaten.",
        follow_up_working_days="61",
    )
    assert r.status_code == 422
    form = form_of(r.text, "refer")
    assert 'id="galat-refer-follow_up_working_days"' in form and 'value="61"' in form
    assert 'value="Dinas PUPR"' in form

    before = datetime.now(UTC)
    r = submit(
        web,
        cid,
        "refer",
        agency="Dinas PUPR Kabupaten Pamekasan",
        agency_kind="opd",
        agency_address="Jalan Kabupaten 1, Pamekasan",
        reason="Jalan kabupaten.",
        follow_up_working_days="3",
    )
    after = datetime.now(UTC)
    assert r.status_code == 303
    event = last_event(wf, cid, "workflow.ComplaintReferred")
    assert event.payload["agency_address"] == "Jalan Kabupaten 1, Pamekasan"
    follow_up_by = datetime.fromisoformat(event.payload["follow_up_by"])
    # three working days of the kecamatan's calendar from when it was referred (a weekend or a holiday between
    # makes it more calendar days, never fewer: a fixed upper bound would fail around Lebaran's cuti bersama)
    cal = wf.calendars.for_kecamatan(wf.kecamatan(event.kecamatan))
    assert cal.add_working_days(before, 3) <= follow_up_by <= cal.add_working_days(after, 3)
    assert follow_up_by - event.occurred_at >= timedelta(days=2)


def test_a_referred_complaint_waits_on_the_office_and_the_staf_records_its_answer(web, wf, people, place):
    cid = referred_here(web, wf, people, place, subject="Jalan kabupaten berlubang")
    url = f"/petugas/pengaduan/{cid}"
    event = last_event(wf, cid, "workflow.ComplaintReferred")
    until = office_date(datetime.fromisoformat(event.payload["follow_up_by"]))
    number = event.payload["letter_number"]
    assert re.fullmatch(r"000\.8\.3\.4/[1-9]\d*/[0-9A-Za-z.\-]+/\d{4}", number)  # klasifikasi/urut/unit/tahun

    page = web.get(url).text
    words = text_only(page)
    assert f"Dilimpahkan ke Dinas PUPR Kabupaten Pamekasan — menunggu tanggapan sampai {until}" in words
    assert f"Surat pelimpahan {number}" in words
    assert "Langkah sekarang" not in words  # not waiting on an SOP step
    assert f"Menunggu tanggapan Dinas PUPR Kabupaten Pamekasan sampai {until}" in words
    # the history tells the referral in full, dates in Bahasa Indonesia
    assert "Dilimpahkan ke instansi lain" in words and "Alamat instansi Jalan Kabupaten 1, Pamekasan" in words
    assert f"Dipantau sampai {until}" in words and "Jenis instansi OPD kabupaten" in words
    assert step_forms(page) == ["record-referral-answer"]  # whoever receives the office's answer records it

    # the Kasi: nothing to do while the office is asked
    sign_in(web, people["kasi"])
    page = web.get(url).text
    assert step_forms(page) == []
    assert "Tidak ada tindakan untuk Anda selama pengaduan menunggu tanggapan instansi" in page

    # the staf's inbox: waiting on them, as a referral, not as step 4
    sign_in(web, people["staf"])
    inbox = web.get("/kotak-masuk", params={"q": wf.store.read_stream(f"complaint-{cid}")[0].payload["tracking_code"]})
    row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*/petugas/pengaduan/{cid}(?:(?!</tr>).)*</tr>", inbox.text, re.DOTALL)
    assert row, inbox.text
    cells = text_only(row.group(0))
    assert "Dilimpahkan, menunggu tanggapan" in cells and "Melakukan verifikasi substansi" not in cells
    assert "Dipantau kecamatan" in cells

    page = web.get(url).text
    assert step_forms(page) == ["record-referral-answer"]
    form = form_of(page, "record-referral-answer")
    assert "Catat tanggapan instansi" in form and ">Catat tanggapan</button>" in form
    assert 'type="date"' in form and 'name="answered_on"' in form and 'name="reference"' in form
    # an answer dated in the future: the API's refusal at the date
    later = (datetime.now(ZoneInfo("Asia/Jakarta")).date() + timedelta(days=5)).isoformat()
    r = submit(web, cid, "record-referral-answer", page, answer="Sudah dijadwalkan.", answered_on=later)
    assert r.status_code == 422
    form = form_of(r.text, "record-referral-answer")
    assert 'id="galat-record-referral-answer-answered_on"' in form and "Sudah dijadwalkan.</textarea>" in form
    r = submit(web, cid, "record-referral-answer", page, answer="", answered_on="31-02-2026")
    form = form_of(r.text, "record-referral-answer")
    assert r.status_code == 422 and "Wajib diisi." in form and "Isi tanggal yang benar" in form

    today = datetime.now(ZoneInfo("Asia/Jakarta")).date()
    r = submit(
        web,
        cid,
        "record-referral-answer",
        page,
        answer="Perbaikan jalan dijadwalkan bulan depan oleh Dinas PUPR.",
        answered_on=today.isoformat(),
        reference="Surat 600/77/432.3/2026",
    )
    assert r.status_code == 303 and r.headers["location"] == url
    page = web.get(url).text
    words = text_only(page)
    assert "Tanggapan instansi sudah dicatat. Pengaduan selesai dan pengadu diberi tahu." in words
    assert "Selesai: Dilimpahkan" in words
    assert (
        f"Tanggapan instansi Dinas PUPR Kabupaten Pamekasan menanggapi pada {office_date(datetime.now(UTC))}" in words
    )
    assert "Tanggapan instansi penerima pelimpahan dicatat" in words
    assert "Perbaikan jalan dijadwalkan bulan depan oleh Dinas PUPR." in words
    assert "Nomor surat atau cara diterima Surat 600/77/432.3/2026" in words
    assert step_forms(page) == [] and "Pengaduan ini sudah selesai" in words
    answered = last_event(wf, cid, "workflow.ReferralAnswered")
    assert answered.payload["answered_on"] == today.isoformat()
    with wf.uow() as uow:  # the workflow's own state: closed, as referred
        state, _ = handlers.load(uow, cid, lambda k: True)
    assert (state.status, state.outcome) == ("closed", "referred")
    # a kabupaten reader: the referral and that it was answered, never what was answered (shared.masking)
    sign_in(web, people["kabupaten"])
    masked = web.get(url)
    assert masked.status_code == 200
    words = text_only(masked.text)
    assert "Tanggapan instansi Dinas PUPR Kabupaten Pamekasan menanggapi" in words
    assert "Perbaikan jalan dijadwalkan" not in words and "Surat 600/77" not in words


def test_a_referral_without_an_answer_lapses_and_the_page_says_so(web, wf, people, place):
    from services.workflow.scheduler import LapsedReferrals

    cid = referred_here(web, wf, people, place, days="1")
    follow_up_by = datetime.fromisoformat(last_event(wf, cid, "workflow.ComplaintReferred").payload["follow_up_by"])
    LapsedReferrals(wf, clock=lambda: follow_up_by + timedelta(minutes=1)).round()
    sign_in(web, people["staf"])
    page = web.get(f"/petugas/pengaduan/{cid}").text
    words = text_only(page)
    assert "Selesai: Dilimpahkan" in words
    assert (
        f"Tanggapan instansi Tidak ada tanggapan dari Dinas PUPR Kabupaten Pamekasan sampai "
        f"{office_date(follow_up_by)}; pemantauan berakhir." in words
    )
    assert "Pemantauan pelimpahan berakhir tanpa tanggapan instansi" in words
    assert step_forms(page) == []


def test_the_instruments_are_listed_with_their_names_and_the_kartu_kendali_printed_at_any_moment(
    web, wf, letters, people, place
):
    # disposed: the Lembar Disposisi (the letters worker's, driven here through its handler)
    cid = at_step_4(web, wf, people, place)
    url = f"/petugas/pengaduan/{cid}"
    sign_in(web, people["camat"])
    r = submit(web, cid, "dispose", unit="pemerintahan", instructions="Tinjau ke lokasi bersama kepala desa.")
    assert r.status_code == 303
    sheet = letter_handlers.issue_disposition_sheet(letters, last_event(wf, cid, "workflow.DispositionIssued").event_id)
    page = web.get(url).text
    assert re.search(
        rf'<span>Lembar Disposisi <span class="bantuan">.*?/petugas/dokumen/{sheet["id"]}\.pdf', page, re.DOTALL
    )
    pdf = web.get(f"/petugas/dokumen/{sheet['id']}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    # the Kartu Kendali as it stands, through the web app: a download, sandboxed like every PDF here
    link = re.search(r'<a class="tombol" href="([^"]+)">Cetak Kartu Kendali</a>', page)
    assert link and link.group(1) == f"/petugas/pengaduan/{cid}/kartu-kendali.pdf"
    card = web.get(link.group(1))
    assert card.status_code == 200 and card.content.startswith(b"%PDF")
    assert card.headers["content-type"] == "application/pdf"
    assert (
        card.headers["content-disposition"].startswith("attachment")
        and "kartu-kendali" in card.headers["content-disposition"]
    )
    assert (card.headers["content-security-policy"], card.headers["x-content-type-options"]) == ("sandbox", "nosniff")
    from pypdf import PdfReader

    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(card.content)).pages)
    assert "KARTU KENDALI" in text.upper()
    code = wf.store.read_stream(f"complaint-{cid}")[0].payload["tracking_code"]
    assert code in text and "Siti Aminah" in text and "Seksi Pemerintahan" in text  # this complaint, disposed

    # referred: the signed surat pelimpahan, named by its number
    cid = referred_here(web, wf, people, place)
    referred = last_event(wf, cid, "workflow.ComplaintReferred")
    letter = letter_handlers.issue_referral_letter(letters, referred.event_id)
    page = web.get(f"/petugas/pengaduan/{cid}").text
    label = f"Surat Pelimpahan {referred.payload['letter_number']}"
    assert re.search(
        rf"<span>{re.escape(label)} <span class=\"bantuan\">.*?/petugas/dokumen/{letter['id']}\.pdf", page, re.DOTALL
    )
    pdf = web.get(f"/petugas/dokumen/{letter['id']}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert web.get(f"/petugas/pengaduan/{cid}/kartu-kendali.pdf").status_code == 200  # while referred too

    # a kabupaten reader: no link, and the card (it names the complainant) is refused through the web app too
    sign_in(web, people["kabupaten"])
    page = web.get(f"/petugas/pengaduan/{cid}").text
    assert "Cetak Kartu Kendali" not in page
    refused = web.get(f"/petugas/pengaduan/{cid}/kartu-kendali.pdf")
    assert refused.status_code == 403 and not refused.content.startswith(b"%PDF")


def test_a_redirected_dispositions_sheet_is_told_from_the_first():
    from services.web.entrypoints.staff_views import labelled_documents

    docs = labelled_documents(
        [
            {"kind": "receipt"},
            {"kind": "disposition_sheet"},
            {"kind": "disposition_sheet"},
            {"kind": "referral_letter", "letter_number": "000.8.3.4/1/35.28.01/2026"},
        ]
    )
    assert [d["label"] for d in docs] == [
        "Tanda terima pengaduan",
        "Lembar Disposisi",
        "Lembar Disposisi (pengalihan)",
        "Surat Pelimpahan 000.8.3.4/1/35.28.01/2026",
    ]


def tracking_caught_up(engine) -> None:
    """Intake's tracking projection caught up, as its runner would."""
    from services.intake.adapters.tracking import TrackingProjection

    tracking = TrackingProjection(engine, PostgresEventStore(engine))
    while tracking.round().more:
        pass


def test_the_citizens_tracking_page_tells_where_a_referral_stands(web, wf, engine, people, place):
    code = complaints.submit(TestClient(web.apps["intake"]), kecamatan=place["a"])
    message = outbox_message(engine, code)  # what the outbox relay would carry to the workflow
    handlers.record_complaint(wf, message)
    cid = message.complaint_id
    sign_in(web, people["kasi"])
    assert submit(web, cid, "verify-identity").status_code == 303
    sign_in(web, people["staf"])
    assert submit(web, cid, "register").status_code == 303
    sign_in(web, people["camat"])
    r = submit(
        web,
        cid,
        "refer",
        agency="Dinas PUPR Kabupaten Pamekasan",
        agency_kind="opd",
        reason="Jalan kabupaten.",
        follow_up_working_days="10",
    )
    assert r.status_code == 303
    until = office_date(
        datetime.fromisoformat(last_event(wf, cid, "workflow.ComplaintReferred").payload["follow_up_by"])
    )
    tracking_caught_up(engine)

    web.cookies.clear()  # the citizen
    page = web.get(f"/lacak/{code}")
    assert page.status_code == 200
    words = text_only(page.text)
    assert "Status Dilimpahkan, dipantau kecamatan" in words
    assert (
        f"Dilimpahkan ke Dinas PUPR Kabupaten Pamekasan. Kecamatan memantau tindak lanjutnya sampai {until}." in words
    )
    assert "sudah selesai ditangani" not in words and 'class="berikut"' not in page.text
    assert words.count("Dilimpahkan") == 2  # the status and the one sentence: not told again

    # the office answered: the page says so, with its answer (the tracking API's, masked of personal data)
    sign_in(web, people["staf"])
    answered_on = datetime.now(ZoneInfo("Asia/Jakarta")).date()
    r = submit(
        web,
        cid,
        "record-referral-answer",
        answer=f"Jalan dijadwalkan diperbaiki; pengadu NIK {NIK} dihubungi.",
        answered_on=answered_on.isoformat(),
    )
    assert r.status_code == 303
    tracking_caught_up(engine)
    web.cookies.clear()
    words = text_only(web.get(f"/lacak/{code}").text)
    assert "Status Selesai" in words and "dipantau kecamatan" not in words
    assert (
        "Pengaduan Anda dilimpahkan ke Dinas PUPR Kabupaten Pamekasan, dan instansi tersebut sudah menanggapi "
        f"pada {office_date(datetime.now(UTC))}." in words
    )
    assert "Tanggapan instansi Jalan dijadwalkan diperbaiki; pengadu NIK [disembunyikan] dihubungi." in words
    assert NIK not in words


def test_where_the_kecamatan_signs_through_bsre_the_camat_types_a_passphrase_kept_nowhere(web, wf, engine):
    """Issue #16 item 3 on the page: the signature form asks for the BSrE passphrase (a password field, never drawn
    again with what was typed); without one, or with BSrE not reachable (no letters API in this module), the page
    says why and the complaint stays at step 10. The whole signature through BSrE: tests/integration/
    test_esign_bsre.py."""
    from tests.integration.test_letters import to_step_10

    suffix = uuid.uuid4().hex[:5]
    place = Kecamatan(
        f"web-tte-{suffix}",
        f"96.{suffix}.1",
        "Laman Tte",
        "pamekasan",
        "Kabupaten Pamekasan",
        {"kecamatan": "KECAMATAN LAMAN TTE", "city": "Laman"},
        settings={"signature_service": "bsre"},
    )
    upsert_kecamatan(engine, [place])
    from tests.support.organisation import give_heads

    give_heads(engine, place.slug, ("pemerintahan",))
    camat = f"w{suffix}.camat-tte"
    add_user(engine, camat, "Camat Tte", "camat", PASSWORD, kecamatan=place.slug, nip="197001011990031001")
    wf.directory._loaded_at = float("-inf")
    cid = to_step_10(wf, place.slug, camat)
    sign_in(web, camat)
    page = web.get(f"/petugas/pengaduan/{cid}").text
    form = form_of(page, "sign-letter")
    assert re.search(
        r'<input[^>]*name="passphrase"[^>]*type="password" autocomplete="new-password" maxlength="200" value=""', form
    ), form
    assert "melalui BSrE" in form

    typed = "rahasia ketikan camat"
    missing = submit(web, cid, "sign-letter", page)
    assert missing.status_code == 422
    shown = form_of(missing.text, "sign-letter")  # the API's refusal, at the passphrase field
    assert "ketik passphrase tanda tangan elektronik Anda" in text_only(shown)
    assert re.search(r'<input[^>]*name="passphrase"[^>]*aria-invalid="true"', shown), shown
    down = submit(web, cid, "sign-letter", page, passphrase=typed)
    assert down.status_code == 503, down.text
    assert "Layanan surat tidak dapat dihubungi, jadi surat belum ditandatangani" in text_only(down.text)
    assert typed not in down.text
    assert [e.type for e in wf.store.read_stream(f"complaint-{cid}")][-1] == "workflow.LetterDuplicated"


def test_the_category_is_set_at_step_3_and_corrected_at_step_4_through_the_pages(web, wf, people, place):
    """Issue #18 item 2: the step's role chooses from its kabupaten's list; the page says the category and the
    history that it was set."""
    cid = new_complaint(wf, place["a"])
    sign_in(web, people["kasi"])
    page = web.get(f"/petugas/pengaduan/{cid}").text
    assert "categorize" not in step_forms(page) and "Belum ditetapkan" in page  # step 2: identity first
    assert submit(web, cid, "verify-identity").status_code == 303

    sign_in(web, people["staf"])
    page = web.get(f"/petugas/pengaduan/{cid}").text
    form = form_of(page, "categorize")
    assert '<option value="sosial"' in form and '<option value="infrastruktur"' in form  # the default list
    assert '<option value="">— Pilih kategori —</option>' in form  # none preselected for the person
    assert submit(web, cid, "categorize", page, category="sosial").status_code == 303
    page = web.get(f"/petugas/pengaduan/{cid}").text
    assert "Kategori pengaduan sudah ditetapkan." in page and "<dd>Sosial</dd>" in page
    assert "Kategori pengaduan ditetapkan" in page  # on the history
    assert last_event(wf, cid, "workflow.CategorySet").decode().category == "sosial"
    refused = submit(web, cid, "categorize", page, category="tidak-ada")
    assert refused.status_code == 422 and "Kategori tidak dikenal" in html.unescape(refused.text)

    assert submit(web, cid, "register").status_code == 303
    sign_in(web, people["camat"])
    assert submit(web, cid, "categorize", category="kesehatan").status_code == 303
    assert "<dd>Kesehatan</dd>" in web.get(f"/petugas/pengaduan/{cid}").text


def test_the_camat_answers_a_keberatan_through_the_page(web, wf, people, place):
    """Issue #18 item 1 (docs/adr/0020): a complaint closed with a response, the complainant's second "not
    resolved" a keberatan; only the Camat gets the form; the answer reopens it for the unit chosen."""
    from shared.contracts.intake import FeedbackGiven
    from shared.contracts.workflow import ResponseSent
    from shared.events import Actor

    cid = new_complaint(wf, place["a"])
    with wf.uow() as uow:  # closed with a response (as step 12 leaves it), already reopened once
        state, _ = handlers.load(uow, cid, lambda k: True)
        closed = ResponseSent(channel="langsung", receipt="Diterima", step=12, output="Tanda terima", next_step=None)
        state, _ = handlers._append(
            uow, state, [closed], actor=Actor.system("uji"), at=datetime.now(UTC), correlation_id=uuid.uuid4(),
            causation_id=None, ids=lambda i: uuid.uuid4(),
        )  # fmt: skip
        uow.complaints.update(state, datetime.now(UTC))
        uow.commit()
    late = datetime.now(UTC) + timedelta(days=60)  # after the window: a keberatan at once
    message = FeedbackGiven(
        message_id=uuid.uuid4(), complaint_id=cid, kecamatan=place["a"], closing=1, satisfied=False, rating=1,
        comment="Belum ada perbaikan.", given_at=late,
    )  # fmt: skip
    assert handlers.record_feedback(wf, message)
    assert last_event(wf, cid, "workflow.ObjectionRaised")

    sign_in(web, people["sekcam"])
    assert "answer-objection" not in step_forms(web.get(f"/petugas/pengaduan/{cid}").text)
    sign_in(web, people["camat"])
    page = web.get(f"/petugas/pengaduan/{cid}").text
    assert step_forms(page) == ["answer-objection"]
    words = text_only(page)
    assert "Keberatan pengadu diteruskan kepada Camat" in words and "Pengadu memberi penilaian" in words
    form = form_of(page, "answer-objection")
    assert '<option value="">Unit yang sama</option>' in form
    missing = submit(web, cid, "answer-objection", page, decision="reopened", answer="")
    assert missing.status_code == 422 and "Wajib diisi." in missing.text
    done = submit(web, cid, "answer-objection", page, decision="reopened", answer="Tangani ulang bersama desa.")
    assert done.status_code == 303, done.text
    reopened = last_event(wf, cid, "workflow.ComplaintReopened").decode()
    assert (reopened.cause, reopened.next_step, reopened.instructions) == (
        "objection",
        5,
        "Tangani ulang bersama desa.",
    )
    page = web.get(f"/petugas/pengaduan/{cid}").text
    assert "unit menangani ulang mulai klarifikasi" in page and "Pengaduan dibuka kembali" in page
    assert "Instruksi Camat" in page and "Jawaban Camat" in page
