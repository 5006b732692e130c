"""The staff's own entry page (``/petugas/pengaduan/baru``) over the real APIs: a complaint-box form with its
scans, a phone call, a visit to the office; what reaches intake and the workflow (channel, the received time
as typed, who entered it, the scans' kinds in order); errors at their fields; one complaint for a form sent
twice; the API out of reach; and only kecamatan staff may use it."""

from __future__ import annotations

import hashlib
import html
import io
import re
import typing
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import func, select

from services.accounts.handlers import add_user
from services.intake.adapters.tables import submissions
from services.intake.entrypoints.schemas import StaffComplaintIn
from services.web.adapters.api_client import Api
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from shared.contracts.intake import CHANNEL_LABELS, STAFF_CHANNELS
from shared.tenancy import Kecamatan, upsert_kecamatan
from tests.support.complaints import outbox_message
from tests.support.web import web_client
from tests.unit.test_attachments import as_stored, tiny_png

PASSWORD = "rahasia-uji-123"
NIK = "3528071505900001"
WIB = ZoneInfo("Asia/Jakarta")
A_PDF = b"%PDF-1.7\n%%EOF\n"  # a scanned form as the office's scanner saves it (intake keeps a PDF as sent)


# -- fixtures -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def place(engine) -> str:
    suffix = uuid.uuid4().hex[:5]
    slug = f"catat-{suffix}"
    upsert_kecamatan(
        engine,
        [
            Kecamatan(
                slug,
                f"92.{suffix}",
                "Catat Timur",
                "pamekasan",
                "Kabupaten Pamekasan",
                {"pemerintah": "PEMERINTAH KABUPATEN PAMEKASAN", "kecamatan": "KECAMATAN CATAT TIMUR"},
            )
        ],
    )
    return slug


@pytest.fixture(scope="module")
def people(engine, place) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:5]
    roles = {
        "staf": ("staf", place, None, None),
        "kasi": ("kasi", place, None, "pemerintahan"),
        "camat": ("camat", place, None, None),
        "kabupaten": ("kabupaten", None, "pamekasan", None),
    }
    names = {}
    for key, (role, kecamatan, kabupaten, unit) in roles.items():
        username = f"e{suffix}.{key}"
        add_user(
            engine,
            username,
            f"Petugas Catat {key}",
            role,
            PASSWORD,
            kecamatan=kecamatan,
            kabupaten=kabupaten,
            unit=unit,
        )
        names[key] = username
    return names


@pytest.fixture(scope="module")
def web_settings(settings, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("web-entry-data")
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


# -- helpers --------------------------------------------------------------------------------------------------
def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(web, username: str) -> None:
    web.cookies.clear()
    token = csrf_of(web.get("/masuk").text)
    r = web.post(
        "/masuk", data={"username": username, "password": PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303, r.text


def local(moment: datetime) -> str:
    """As a datetime-local field holds it: the time in WIB, to the minute, without an offset."""
    return moment.astimezone(WIB).strftime("%Y-%m-%dT%H:%M")


def entry(**overrides) -> dict[str, str]:
    values = {
        "channel": "kotak",
        "received_at": local(datetime.now(UTC) - timedelta(hours=3)),
        "name": "Ahmad Fauzi",
        "nik": NIK,
        "id_kind": "ktp",
        "phone": "0812-3456-7890",
        "email": "",
        "address": "Dusun Bunangka, Desa Pegantenan",
        "subject": "Saluran air tersumbat",
        "description": f"Saluran air di depan pasar tersumbat sejak seminggu. ({uuid.uuid4().hex[:8]})",
    }
    values.update(overrides)
    return values


def send(web, values: dict, files=None, token: str | None = None):
    token = token or csrf_of(web.get("/petugas/pengaduan/baru").text)
    return web.post(
        "/petugas/pengaduan/baru", data={**values, "csrf_token": token}, files=files, follow_redirects=False
    )


def field_tag(page: str, name: str) -> str:
    found = re.search(rf'<(input|select|textarea)\b[^>]*\bname="{name}"[^>]*>', page)
    assert found, f"no field named {name}"
    return found.group(0)


def error_of(page: str, name: str) -> str | None:
    found = re.search(rf'<p class="galat-isian" id="galat-{name}">([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else None


def tracking_code_of(page: str) -> str:
    found = re.search(r'<span class="kode kode-besar">([^<]+)</span>', page)
    assert found, "no tracking code on the page"
    return found.group(1)


def submission_of(engine, code: str) -> dict:
    """Intake's row of the complaint, and its scans' (kind, filename) in the order they were sent."""
    with engine.connect() as conn:
        row = dict(conn.execute(select(submissions).where(submissions.c.tracking_code == code)).mappings().one())
    row["kinds"] = [(a.kind, a.filename) for a in outbox_message(engine, code).attachments]
    return row


def count_described(engine, description: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(submissions).where(submissions.c.description == description)
        ).scalar_one()


# -- the page -------------------------------------------------------------------------------------------------
def test_the_page_has_every_field_the_channels_the_api_takes_and_the_blank_form(web, people, place):
    sign_in(web, people["staf"])
    r = web.get("/petugas/pengaduan/baru")
    assert r.status_code == 200
    page = r.text
    for name in ("channel", "received_at", "formulir", "name", "nik", "id_kind", "identitas", "phone", "email"):
        tag = field_tag(page, name)
        field_id = re.search(r'\bid="([^"]+)"', tag).group(1)
        assert re.search(rf'<label for="{field_id}">[^<]+</label>', page), name
    for name in ("address", "subject", "description"):
        assert field_tag(page, name)
    assert 'enctype="multipart/form-data"' in page and 'href="/petugas/pengaduan/baru">Catat pengaduan</a>' in page
    # the channels offered are exactly those the API accepts, in the contract's words
    offered = re.findall(r'<option value="([a-z]+)"[^>]*>([^<]+)</option>', page.split('name="channel"', 1)[1])
    accepted = typing.get_args(StaffComplaintIn.model_fields["channel"].annotation)
    assert accepted == STAFF_CHANNELS == ("kotak", "telepon", "datang")
    assert offered[:3] == [(c, CHANNEL_LABELS[c]) for c in STAFF_CHANNELS]
    assert "Datang langsung" in page and '<option value="kotak" selected>' in page
    # received: now in WIB by default, never later than now nor older than 30 days
    tag = field_tag(page, "received_at")
    assert 'type="datetime-local"' in tag
    shown = datetime.fromisoformat(re.search(r'value="([^"]+)"', tag).group(1)).replace(tzinfo=WIB)
    assert abs(shown - datetime.now(UTC)) < timedelta(minutes=2)
    assert "multiple" in field_tag(page, "identitas") and 'accept="image/*,application/pdf"' in field_tag(
        page, "formulir"
    )
    # the blank form to print for the box, from the letters API
    link = f"/v1/letters/formulir/{place}.pdf"
    assert f'href="{link}"' in page
    with TestClient(web.apps["letters"]) as letters:
        pdf = letters.get(link)
    assert pdf.status_code == 200 and "FORMULIR PENGADUAN" in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert "<script>" not in page.split("</head>", 1)[1] and "style=" not in page  # CSP: nothing inline


def test_the_public_form_links_each_kecamatans_blank_form(web, place):
    web.cookies.clear()
    page = web.get("/pengaduan/baru").text
    assert f'<a href="/v1/letters/formulir/{place}.pdf">Formulir Pengaduan Kecamatan Catat Timur (PDF)</a>' in page


def test_a_complaint_box_form_with_its_scans_reaches_intake_and_the_workflow(web, wf, engine, people, place):
    sign_in(web, people["staf"])
    found_at = (datetime.now(UTC) - timedelta(hours=20)).astimezone(WIB).replace(second=0, microsecond=0)
    values = entry(received_at=found_at.strftime("%Y-%m-%dT%H:%M"), id_kind="kk")
    ktp = tiny_png(uuid.uuid4().int % 60000)
    r = send(
        web,
        values,
        files=[
            ("formulir", ("formulir kotak.pdf", A_PDF, "application/pdf")),
            ("identitas", ("kk depan.png", ktp, "image/png")),
        ],
    )
    assert r.status_code == 200, r.text
    code = tracking_code_of(r.text)
    page = html.unescape(r.text)
    for shown in ("Kotak pengaduan", "Ahmad Fauzi", NIK, "Saluran air tersumbat", values["description"]):
        assert shown in page, shown
    assert "Formulir pengaduan: formulir kotak.pdf" in page and "KK: kk depan.png" in page
    assert "Petugas Catat staf" in page  # who entered it
    row = submission_of(engine, code)
    # the receipt from the staff's page of the complaint (their download is theirs in the access log), not by code
    assert f'href="/petugas/pengaduan/{row["complaint_id"]}"' in r.text and f'href="/kotak-masuk?q={code}"' in r.text
    assert "/tanda-terima.pdf" not in r.text

    assert row["channel"] == "kotak" and row["kecamatan"] == place and row["entered_by"] == people["staf"]
    assert row["received_at"] == found_at  # as typed, in WIB: the SOP's days run from then
    assert row["complainant"]["nik"] == NIK and row["complainant"]["phone"] == "+6281234567890"
    assert row["kinds"] == [("lainnya", "formulir kotak.pdf"), ("kk", "kk depan.png")]

    message = outbox_message(engine, code)  # what the outbox relay carries to the workflow
    handlers.record_complaint(wf, message)
    sign_in(web, people["kasi"])
    complaint_page = web.get(f"/petugas/pengaduan/{message.complaint_id}").text
    assert "Kotak pengaduan" in complaint_page and "Ahmad Fauzi" in complaint_page
    assert "kk depan.png" in complaint_page
    assert f"/petugas/lampiran/{hashlib.sha256(as_stored(ktp)).hexdigest()}" in complaint_page
    received = wf.store.read_stream(f"complaint-{message.complaint_id}")[0]
    assert received.type == "workflow.ComplaintReceived"
    assert received.decode().channel == "kotak" and received.decode().received_at == found_at


@pytest.mark.parametrize("channel", ["telepon", "datang"])
def test_a_phone_call_or_a_visit_needs_no_file(web, engine, people, channel):
    sign_in(web, people["camat"])
    r = send(web, entry(channel=channel, received_at=local(datetime.now(UTC) - timedelta(minutes=10))))
    assert r.status_code == 200, r.text
    row = submission_of(engine, tracking_code_of(r.text))
    assert row["channel"] == channel and row["kinds"] == [] and row["entered_by"] == people["camat"]
    assert CHANNEL_LABELS[channel] in r.text


def test_a_complainant_at_the_office_may_ask_that_their_identity_be_kept_confidential(web, engine, people):
    """The web form's "keep confidential" box, as the citizens' form has it (pelapor rahasia, issue #17 item 5)."""
    sign_in(web, people["staf"])
    assert 'name="confidential" value="ya"' in web.get("/petugas/pengaduan/baru").text
    asked = send(web, entry(channel="datang", confidential="ya"))
    plain = send(web, entry(channel="datang"))
    assert asked.status_code == plain.status_code == 200
    assert "Ya (pelapor rahasia)" in html.unescape(asked.text) and "Ya (pelapor rahasia)" not in plain.text
    assert submission_of(engine, tracking_code_of(asked.text))["complainant"]["confidential"] is True
    assert submission_of(engine, tracking_code_of(plain.text))["complainant"]["confidential"] is False


# -- errors ---------------------------------------------------------------------------------------------------
def test_what_is_missing_is_shown_at_its_field_with_the_values_kept(web, engine, people):
    sign_in(web, people["staf"])
    values = entry(name="", phone="", email="", received_at="kemarin")
    r = send(web, values, files=[("identitas", ("ktp.png", tiny_png(7001), "image/png"))])
    assert r.status_code == 422
    page = r.text
    assert error_of(page, "name") and error_of(page, "phone") and error_of(page, "received_at")
    assert "Pindai formulir" in error_of(page, "formulir")  # a box entry without the form's scan
    assert 'aria-invalid="true"' in field_tag(page, "name") and '<li><a href="#formulir">' in page
    assert values["description"] in page
    assert "Dusun Bunangka, Desa Pegantenan" in page and "pilih lagi" in page  # the files must be chosen again
    assert count_described(engine, values["description"]) == 0


def test_the_apis_refusals_are_shown_at_their_fields(web, engine, people):
    sign_in(web, people["staf"])
    future = local(datetime.now(UTC) + timedelta(days=1))
    values = entry(channel="telepon", nik="1234", email="bukan-email", received_at=future)
    r = send(web, values)
    assert r.status_code == 422
    assert error_of(r.text, "received_at") == "Waktu diterima tidak boleh di masa depan."
    assert error_of(r.text, "nik") and error_of(r.text, "email")
    assert 'value="1234"' in field_tag(r.text, "nik") and f'value="{future}"' in field_tag(r.text, "received_at")

    old = send(web, entry(channel="telepon", received_at=local(datetime.now(UTC) - timedelta(days=31))))
    assert old.status_code == 422 and "30 hari" in error_of(old.text, "received_at")

    bad_scan = send(
        web,
        entry(),
        files=[
            ("formulir", ("formulir.pdf", A_PDF, "application/pdf")),
            ("identitas", ("ktp.jpg", b"MZ\x90\x00 not an image", "image/jpeg")),
        ],
    )
    assert bad_scan.status_code == 422 and "bukan jenis berkas yang diizinkan" in error_of(bad_scan.text, "identitas")
    assert error_of(bad_scan.text, "formulir") is None
    assert count_described(engine, values["description"]) == 0


def test_a_form_sent_twice_is_one_complaint(web, engine, people):
    sign_in(web, people["staf"])
    token = csrf_of(web.get("/petugas/pengaduan/baru").text)
    values = entry()
    files = [("formulir", ("f.pdf", A_PDF, "application/pdf")), ("identitas", ("k.png", tiny_png(7101), "image/png"))]
    first, second = send(web, values, files, token), send(web, values, files, token)
    assert first.status_code == second.status_code == 200
    assert tracking_code_of(first.text) == tracking_code_of(second.text)
    assert count_described(engine, values["description"]) == 1


def test_a_stale_form_or_an_api_out_of_reach_keeps_what_was_typed(web, engine, people):
    sign_in(web, people["staf"])
    values = entry(channel="telepon", name="Rina Wati")
    stale = send(web, values, token="bukan-token")
    assert stale.status_code == 403 and 'value="Rina Wati"' in field_tag(stale.text, "name")
    token = csrf_of(web.get("/petugas/pengaduan/baru").text)
    app = web.app
    api, app.state.api = app.state.api, Api("http://127.0.0.1:9", timeout=2.0)
    try:
        r = send(web, values, files=[("identitas", ("k.png", tiny_png(7201), "image/png"))], token=token)
    finally:
        app.state.api = api
    assert r.status_code == 503 and "tidak dapat dihubungi" in r.text
    assert 'value="Rina Wati"' in field_tag(r.text, "name") and "pilih lagi" in r.text
    assert count_described(engine, values["description"]) == 0


# -- who may use it -------------------------------------------------------------------------------------------
def test_only_kecamatan_staff_may_enter_a_complaint(web, engine, people):
    web.cookies.clear()
    r = web.get("/petugas/pengaduan/baru", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/masuk?lanjut=%2Fpetugas%2Fpengaduan%2Fbaru"
    sign_in(web, people["kabupaten"])
    assert 'href="/petugas/pengaduan/baru"' not in web.get("/buku-rekap").text  # not in their menu
    refused = web.get("/petugas/pengaduan/baru")
    assert refused.status_code == 403 and "Tidak diizinkan" in refused.text
    token = csrf_of(web.get("/buku-rekap").text)
    values = entry(channel="telepon")
    posted = send(web, values, token=token)
    assert posted.status_code == 403 and count_described(engine, values["description"]) == 0
