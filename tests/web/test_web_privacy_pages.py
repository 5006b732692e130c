"""The pages of personal data protection (issue #17) over the real APIs on real PostgreSQL (``tests.support.web``):
the data-protection officer's record of requests and the erasure through it (with its confirmation step), a
complaint's access log linked from its page for those the API lets read it, and the Buku Rekap's downloads asking
why, the reason reaching the access log. Complaints of a fresh kecamatan of a fresh kabupaten: the officer's record
holds only this module's requests."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from services.dashboard.adapters.projections import ComplaintsProjection
from services.dashboard.adapters.subscription import Subscription
from services.dashboard.bootstrap import bootstrap as dashboard_bootstrap
from services.dashboard.config import DashboardSettings
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from shared.auth import Principal
from shared.contracts.intake import Complainant
from shared.eventstore.postgres import PostgresEventStore
from shared.tenancy import Kecamatan, upsert_kecamatan
from tests.support.auth import bearer_header, ensure_user
from tests.support.complaints import record_complaint
from tests.support.web import web_client

PASSWORD = "kata-sandi-uji-yang-panjang"  # what tests.support.auth.ensure_user gives every user
PERSON = Complainant(
    name="Wulandari Kusumawati",
    nik="3528016407910002",
    phone="+6281399912345",
    email="wulan.k@contoh.id",
    address="Dusun Tegal RT 03, Desa Privasi",
)


# -- fixtures -------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def place(engine):
    """A fresh kecamatan of a fresh kabupaten."""
    suffix = uuid.uuid4().hex[:5]
    k = Kecamatan(
        f"pdp-{suffix}-a",
        f"94.{suffix}.a",
        "Privasi A",
        f"pdp-{suffix}",
        "Kabupaten Privasi",
        {
            "pemerintah": "PEMERINTAH KABUPATEN PRIVASI",
            "kecamatan": "KECAMATAN PRIVASI A",
            "address": "Jalan Raya 1",
            "city": "Privasi",
        },
    )
    upsert_kecamatan(engine, [k])
    return {"a": k.slug, "kabupaten": k.kabupaten_slug}


@pytest.fixture(scope="module")
def people(web_settings, place) -> dict[str, Principal]:
    s, a, kab = uuid.uuid4().hex[:5], place["a"], place["kabupaten"]
    wanted = {
        "staf": Principal(f"p{s}.staf", "Staf Privasi", "staf", a, kab),
        "kasi": Principal(f"p{s}.kasi", "Kasi Privasi", "kasi", a, kab, "pemerintahan"),
        "camat": Principal(f"p{s}.camat", "Camat Privasi", "camat", a, kab),
        "kabupaten": Principal(f"p{s}.kab", "Pengawas Kabupaten", "kabupaten", None, kab),
        "pdp": Principal(f"p{s}.pdp", "Pejabat PDP", "pdp", None, kab),
    }
    return {key: ensure_user(web_settings, p) for key, p in wanted.items()}


@pytest.fixture(scope="module")
def web_settings(settings, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("web-privacy-data")
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
def workflow_api(web):
    """The workflow API the web app talks to, for reading back what the pages did."""
    return TestClient(web.apps["workflow"])


# -- helpers --------------------------------------------------------------------------------------------------------
def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(web, who: Principal):
    web.cookies.clear()
    token = csrf_of(web.get("/masuk").text)
    r = web.post(
        "/masuk", data={"username": who.username, "password": PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    return r


def act(wf, cid, action: str, version: int, who: Principal) -> None:
    handlers.act(
        wf, cid, action, {"reason": "Dicabut oleh pengadu."} if action == "withdraw" else {},
        expected_version=version, user_id=who.username, role=who.role, unit=who.unit, kecamatan=who.kecamatan,
        at=datetime.now(UTC), correlation_id=uuid.uuid4(),
    )  # fmt: skip


def requests_of(workflow_api, web_settings, who: Principal) -> list[dict]:
    r = workflow_api.get("/v1/privacy/requests", headers=bearer_header(web_settings, who))
    assert r.status_code == 200, r.text
    return r.json()


def access_log_of(workflow_api, web_settings, cid, who: Principal) -> list[dict]:
    r = workflow_api.get(f"/v1/complaints/{cid}/access-log", headers=bearer_header(web_settings, who))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def text_only(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# -- the record of requests and the erasure -------------------------------------------------------------------------
def test_the_officer_erases_a_closed_complaints_data_through_the_page_after_confirming(
    web, wf, workflow_api, web_settings, people, place
):
    cid = record_complaint(wf, place["a"], complainant=PERSON).complaint_id
    act(wf, cid, "verify-identity", 1, people["kasi"])
    act(wf, cid, "register", 2, people["staf"])
    act(wf, cid, "withdraw", 3, people["staf"])  # closed: its data may be erased
    with wf.uow() as uow:
        row = handlers.load(uow, cid, lambda k: True)[1]
    reason = "Permintaan penghapusan dari pengadu, surat tanggal 1 Desember 2026"

    assert sign_in(web, people["pdp"]).headers["location"] == "/petugas/privasi"  # the officer's work
    page = web.get("/petugas/privasi")
    assert page.status_code == 200 and "<h1>Pelindungan Data Pribadi</h1>" in page.text
    assert '<a href="/petugas/privasi">Data pribadi</a>' in page.text  # in the menu
    assert 'action="/petugas/privasi/penghapusan"' in page.text and 'name="complaint_id"' in page.text

    # a form without what it needs is said so at its fields, and nothing is asked of the API
    token = csrf_of(page.text)
    empty = web.post("/petugas/privasi/penghapusan", data={"csrf_token": token, "complaint_id": "12", "reason": " "})
    assert empty.status_code == 422
    assert 'id="galat-hapus-complaint_id"' in empty.text and 'id="galat-hapus-reason"' in empty.text
    assert all(r["complaint_id"] != str(cid) for r in requests_of(workflow_api, web_settings, people["pdp"]))

    # step one: the complaint named for confirmation; nothing done yet
    first = web.post(
        "/petugas/privasi/penghapusan", data={"csrf_token": token, "complaint_id": str(cid), "reason": reason}
    )
    assert first.status_code == 200 and "Tidak dapat dibatalkan" in first.text
    assert ">Ya, hapus data pribadi</button>" in first.text and 'name="konfirmasi" value="ya"' in first.text
    assert str(cid) in first.text and reason in first.text
    assert all(r["complaint_id"] != str(cid) for r in requests_of(workflow_api, web_settings, people["pdp"]))

    # step two: confirmed, the erasure lands and is on record
    done = web.post(
        "/petugas/privasi/penghapusan",
        data={"csrf_token": csrf_of(first.text), "complaint_id": str(cid), "reason": reason, "konfirmasi": "ya"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/petugas/privasi"
    recorded = [r for r in requests_of(workflow_api, web_settings, people["pdp"]) if r["complaint_id"] == str(cid)]
    assert [(r["kind"], r["outcome"], r["requested_by"], r["reason"], r["register_number"]) for r in recorded] == [
        ("erasure", "done", people["pdp"].username, reason, f"{row['register_number']}/{row['register_year']}")
    ]
    assert wf.store.read_stream(f"complaint-{cid}")[-1].type == "workflow.PersonalDataErased"
    listed = web.get("/petugas/privasi")
    assert "sudah dihapus dan permintaannya dicatat" in listed.text  # the flash
    row = re.search(rf"<tr>(?:(?!</tr>).)*/petugas/pengaduan/{cid}.*?</tr>", listed.text, re.DOTALL)
    assert row, "the erasure is listed"
    shown = text_only(row.group(0))
    assert all(s in shown for s in ("Penghapusan data pribadi", "Dilaksanakan", reason, recorded[0]["register_number"]))
    assert people["pdp"].username in row.group(0)

    # the API's refusal (not closed yet) comes back as its message, the form as typed, and is on record too
    still_open = record_complaint(wf, place["a"], complainant=PERSON).complaint_id
    refused = web.post(
        "/petugas/privasi/penghapusan",
        data={
            "csrf_token": csrf_of(listed.text),
            "complaint_id": str(still_open),
            "reason": reason,
            "konfirmasi": "ya",
        },
    )
    assert refused.status_code == 409 and 'role="alert"' in refused.text
    message = next(
        r["detail"]["message"]
        for r in requests_of(workflow_api, web_settings, people["pdp"])
        if r["complaint_id"] == str(still_open)
    )
    assert message in refused.text and f'value="{still_open}"' in refused.text and f'value="{reason}"' in refused.text
    assert "Ditolak" in text_only(web.get("/petugas/privasi?jenis=penghapusan").text)


def test_the_camat_reads_the_record_but_erases_nothing_and_a_staf_gets_neither_page_nor_link(web, wf, people, place):
    cid = record_complaint(wf, place["a"], complainant=PERSON).complaint_id

    sign_in(web, people["camat"])
    page = web.get("/petugas/privasi")
    assert page.status_code == 200 and '<a href="/petugas/privasi">Data pribadi</a>' in page.text
    assert 'action="/petugas/privasi/penghapusan"' not in page.text
    token = csrf_of(page.text)
    assert (
        web.post(
            "/petugas/privasi/penghapusan",
            data={"csrf_token": token, "complaint_id": str(cid), "reason": "x", "konfirmasi": "ya"},
        ).status_code
        == 403
    )

    for who in ("staf", "kasi", "kabupaten"):
        sign_in(web, people[who])
        complaint = web.get(f"/petugas/pengaduan/{cid}")
        assert complaint.status_code == 200
        assert "/catatan-akses" not in complaint.text and 'href="/petugas/privasi"' not in complaint.text, who
        assert web.get("/petugas/privasi").status_code == 403, who
        refused = web.get(f"/petugas/pengaduan/{cid}/catatan-akses")  # the API's 403, its message
        assert refused.status_code == 403 and "hanya dapat dibaca oleh Camat" in refused.text, who


# -- a complaint's access log ---------------------------------------------------------------------------------------
def test_the_access_log_page_lists_a_view_done_just_before(web, wf, people, place):
    cid = record_complaint(wf, place["a"], complainant=PERSON).complaint_id
    sign_in(web, people["kasi"])
    assert PERSON.nik in web.get(f"/petugas/pengaduan/{cid}").text  # the Kasi sees (and so is recorded)

    for who in ("camat", "pdp"):
        sign_in(web, people[who])
        complaint = web.get(f"/petugas/pengaduan/{cid}")
        link = f'href="/petugas/pengaduan/{cid}/catatan-akses"'
        assert complaint.status_code == 200 and link in complaint.text, who
        page = web.get(f"/petugas/pengaduan/{cid}/catatan-akses")
        assert page.status_code == 200 and "<h1>Catatan akses data pribadi</h1>" in page.text
        rows = re.findall(r"<tr>.*?</tr>", page.text, re.DOTALL)
        kasi = [text_only(r) for r in rows if people["kasi"].username in r]
        assert len(kasi) == 1, (who, rows)
        assert "(Kasi/Kasubag)" in kasi[0] and "Rincian pengaduan (halaman pengaduan)" in kasi[0]
        assert "Layanan penanganan pengaduan" in kasi[0] and "WIB" in kasi[0]
        assert PERSON.nik not in page.text and PERSON.name not in page.text  # the log holds no personal value
        for odd in ("\u00b2", "\u0663", "-1", "99999999999999999999", "abc"):  # a superscript, an Arabic-Indic digit
            assert web.get(f"/petugas/pengaduan/{cid}/catatan-akses", params={"sebelum": odd}).status_code == 200


# -- the Buku Rekap's downloads ask why -----------------------------------------------------------------------------
def test_a_download_through_the_web_records_its_reason_in_the_access_log(
    web, wf, workflow_api, web_settings, people, place
):
    cid = record_complaint(wf, place["a"], complainant=PERSON).complaint_id
    act(wf, cid, "verify-identity", 1, people["kasi"])
    act(wf, cid, "register", 2, people["staf"])
    dash = dashboard_bootstrap(DashboardSettings(**web_settings.model_dump()))
    Subscription(
        dash.engine, PostgresEventStore(dash.engine), ComplaintsProjection(dash.calendars), batch_size=500
    ).catch_up()
    dash.engine.dispose()
    today = datetime.now(ZoneInfo("Asia/Jakarta")).date().isoformat()

    sign_in(web, people["staf"])
    book = web.get(f"/buku-rekap?dari={today}")
    assert book.status_code == 200 and f'href="/petugas/pengaduan/{cid}"' in book.text
    form = re.search(r'<form method="post" action="/buku-rekap\.xlsx".*?</form>', book.text, re.DOTALL)
    assert form and 'name="alasan"' in form.group(0) and 'maxlength="500"' in form.group(0)
    assert "required" in form.group(0) and f'name="dari" value="{today}"' in form.group(0)
    assert 'href="/buku-rekap.xlsx' not in book.text  # no download without a reason
    token = csrf_of(book.text)

    def exports() -> list[dict]:
        return [
            e
            for e in access_log_of(workflow_api, web_settings, cid, people["camat"])
            if e["what"].startswith("register.") and e["what"] != "register.json"
        ]

    # no reason, two lines, too long: the form again with its message, and nothing served or recorded
    for alasan, said in (("", "Wajib diisi."), ("Rapat\nevaluasi", "satu baris"), ("x" * 501, "maksimal 500")):
        r = web.post("/buku-rekap.xlsx", data={"csrf_token": token, "dari": today, "alasan": alasan})
        assert r.status_code == 422 and 'id="galat-alasan-unduh"' in r.text and said in r.text, alasan
        assert r.headers["content-type"].startswith("text/html")
    assert web.post("/buku-rekap.csv", data={"dari": today, "alasan": "Rekap"}).status_code == 403  # no CSRF value
    assert exports() == []

    # a link to a download opens the form, with its period
    asked = web.get(f"/buku-rekap.csv?dari={today}")
    assert asked.status_code == 200 and 'id="alasan-unduh"' in asked.text and f'value="{today}"' in asked.text

    reason = "Rapat evaluasi triwulan — laporan kepada Inspektorat"  # not ASCII: sent as UTF-8
    xlsx = web.post("/buku-rekap.xlsx", data={"csrf_token": token, "dari": today, "alasan": f"  {reason} "})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    csv = web.post("/buku-rekap.csv", data={"csrf_token": token, "dari": today, "alasan": "Rekap bulanan"})
    assert csv.status_code == 200 and PERSON.name in csv.content.decode("utf-8-sig")
    assert [(e["what"], e["user"], e["reason"]) for e in exports()] == [
        ("register.csv", people["staf"].username, "Rekap bulanan"),
        ("register.xlsx", people["staf"].username, reason),
    ]

    # and the access-log page shows it
    sign_in(web, people["camat"])
    page = web.get(f"/petugas/pengaduan/{cid}/catatan-akses")
    assert reason in page.text and "Buku Rekap Pengaduan, diunduh (XLSX)" in page.text
