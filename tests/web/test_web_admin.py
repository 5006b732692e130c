"""The admin's pages (issue #15 item 1) over the real APIs: a kecamatan's units with their heads and who acts for
them, a unit added, renamed, retired and brought back, a head appointed and relieved, a Plh./Plt. named and ended
early, an official's NIP, pangkat and golongan, and the change log; the API's refusals at the fields of the form
sent, what was typed kept; only admins (the others: the 403 page)."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.accounts import handlers
from services.accounts.handlers import add_user
from shared.tenancy import Kecamatan, upsert_kecamatan
from tests.support.web import web_client

PASSWORD = "rahasia-uji-123"
WIB = ZoneInfo("Asia/Jakarta")
GROUPS = ("akses", "unit", "kepala", "plh", "pejabat", "riwayat")


# -- fixtures -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def places(engine) -> dict[str, dict[str, str]]:
    """A fresh kecamatan per test (the web app lists the kecamatan it serves once per five minutes: they are made
    before it starts), each with a Camat, a Sekcam, the Kasi Pemerintahan and two staf."""
    suffix = uuid.uuid4().hex[:5]
    made = {}
    for n, group in enumerate(GROUPS):
        slug = f"adm-{suffix}-{group}"
        name = f"Atur {group.title()} {suffix}"
        upsert_kecamatan(engine, [Kecamatan(slug, f"91.{suffix}.{n}", name, "pamekasan", "Kabupaten Pamekasan", {})])
        people = {"slug": slug, "name": name}
        for role, key, unit, full_name in (
            ("camat", "camat", None, "Drs. Moh. Camat"),
            ("sekcam", "sekcam", None, "Siti Sekcam"),
            ("kasi", "kasi", "pemerintahan", "Ahmad Kasi"),
            ("staf", "staf", None, "Budi Staf"),
            ("staf", "staf2", None, "Dewi Staf"),
        ):
            username = f"{key}.{slug}"
            add_user(engine, username, full_name, role, PASSWORD, kecamatan=slug, unit=unit)
            people[key] = username
        made[group] = people
    return made


@pytest.fixture(scope="module")
def admin(engine) -> str:
    username = f"admin-{uuid.uuid4().hex[:6]}"
    add_user(engine, username, "Admin Uji", "admin", PASSWORD)
    return username


@pytest.fixture(scope="module")
def kabupaten(engine) -> str:
    username = f"kab-{uuid.uuid4().hex[:6]}"
    add_user(engine, username, "Kabupaten Uji", "kabupaten", PASSWORD, kabupaten="pamekasan")
    return username


@pytest.fixture(scope="module")
def web(settings, places, admin, kabupaten):
    with web_client(settings) as client:
        yield client


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


def send(web, page: str, action: str, **fields):
    """A form of the page at ``page`` sent as the browser would (with the page's CSRF value), redirects followed."""
    return web.post(action, data={"csrf_token": csrf_of(web.get(page).text), **fields})


def form_of(page: str, form_id: str) -> str:
    found = re.search(rf'<form[^>]*data-formulir="{re.escape(form_id)}".*?</form>', page, re.DOTALL)
    assert found, f"no form {form_id}"
    return found.group(0)


def field_error(page: str, form_id: str, name: str) -> str | None:
    """The error shown at a field, if the field is marked invalid and tied to it."""
    form = form_of(page, form_id)
    fid = f"{form_id}-{name}"
    tag = re.search(rf'<(?:input|select|textarea)[^>]*id="{re.escape(fid)}"[^>]*>', form)
    assert tag, f"no field {fid}"
    if 'aria-invalid="true"' not in tag.group(0):
        return None
    assert f"galat-{fid}" in tag.group(0), "the error is not tied to its field"
    return html.unescape(re.search(rf'id="galat-{re.escape(fid)}">([^<]*)<', form).group(1))


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def today() -> datetime:
    return datetime.now(UTC).astimezone(WIB)


# -- who may -----------------------------------------------------------------------------------------------------
def test_only_admins_open_the_admin_pages(web, places, admin, kabupaten, engine):
    place = places["akses"]
    web.cookies.clear()
    r = web.get("/admin", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/masuk?lanjut=%2Fadmin"
    for who in (place["staf"], place["camat"], kabupaten):
        sign_in(web, who)
        for path in ("/admin", f"/admin/kecamatan/{place['slug']}", f"/admin/kecamatan/{place['slug']}/riwayat"):
            r = web.get(path)
            assert r.status_code == 403 and "Tidak diizinkan" in r.text, f"{who} {path}"
        page = web.get("/").text
        assert 'href="/admin"' not in page
        r = web.post(
            f"/admin/kecamatan/{place['slug']}/unit",
            data={"csrf_token": csrf_of(page), "code": "perizinan", "kind": "seksi", "name": "Perizinan"},
        )
        assert r.status_code == 403
    assert handlers.organisation_log(engine, place["slug"]) == []

    sign_in(web, admin)
    home = web.get("/admin")
    assert home.status_code == 200
    assert '<a href="/admin">Organisasi</a>' in home.text  # in the menu
    assert f'href="/admin/kecamatan/{place["slug"]}"' in home.text and f"Kecamatan {place['name']}" in home.text
    assert web.get("/admin/kecamatan/tidak-ada-di-sini").status_code == 404
    assert web.get("/admin/kecamatan/..%2F..%2Fv1").status_code == 404
    forged = web.post(
        f"/admin/kecamatan/{place['slug']}/unit",
        data={"csrf_token": "palsu", "code": "perizinan", "kind": "seksi", "name": "Perizinan"},
    )
    assert forged.status_code == 403


# -- units -------------------------------------------------------------------------------------------------------
def test_the_organisation_page_lists_leaders_units_and_heads(web, places, admin):
    place = places["unit"]
    sign_in(web, admin)
    r = web.get(f"/admin/kecamatan/{place['slug']}")
    assert r.status_code == 200
    page = text_of(r.text)
    assert f"Organisasi Kecamatan {place['name']}" in page
    assert f"Camat Drs. Moh. Camat ({place['camat']})" in page
    assert f"Sekretaris Kecamatan Siti Sekcam ({place['sekcam']})" in page
    pemerintahan = text_of(r.text.split('id="judul-unit-pemerintahan"', 1)[1].split("</section>", 1)[0])
    assert f"Ahmad Kasi ({place['kasi']})" in pemerintahan and "Kepala Seksi Pemerintahan" in pemerintahan
    trantib = text_of(r.text.split('id="judul-unit-trantib"', 1)[1].split("</section>", 1)[0])
    assert "Belum ada kepala" in trantib
    assert 'aria-current="page"><strong>Unit dan kepala</strong>' in r.text


def test_an_admin_adds_renames_retires_and_brings_back_a_unit(web, places, admin, engine):
    place = places["unit"]
    sign_in(web, admin)
    at = f"/admin/kecamatan/{place['slug']}"

    missing = send(web, at, f"{at}/unit", formulir="tambah-unit", code="perizinan", kind="seksi", name="")
    assert missing.status_code == 422
    assert field_error(missing.text, "tambah-unit", "name") == "Wajib diisi."
    assert 'value="perizinan"' in form_of(missing.text, "tambah-unit")  # what was typed stays

    bad = send(web, at, f"{at}/unit", formulir="tambah-unit", code="Izin Usaha", kind="seksi", name="Perizinan")
    assert bad.status_code == 422
    assert "Kode unit: huruf kecil" in text_of(form_of(bad.text, "tambah-unit"))

    added = send(
        web, at, f"{at}/unit", formulir="tambah-unit", code="perizinan", kind="seksi", name="Pelayanan Perizinan",
        short_names="yanzin, izin",
    )  # fmt: skip
    assert added.status_code == 200 and str(added.url).endswith(at)
    assert "Unit Seksi Pelayanan Perizinan ditambahkan." in added.text
    section = text_of(added.text.split('id="judul-unit-perizinan"', 1)[1].split("</section>", 1)[0])
    assert "Seksi Pelayanan Perizinan" in added.text and "yanzin, izin" in section

    taken = send(web, at, f"{at}/unit", formulir="tambah-unit", code="perizinan", kind="seksi", name="Perizinan Dua")
    assert taken.status_code == 409
    assert field_error(taken.text, "tambah-unit", "code").startswith("Kode 'perizinan' sudah dipakai")
    assert text_of(taken.text).count("sudah dipakai") == 1  # said once, at its field

    clash = send(web, at, f"{at}/unit/perizinan/ubah", kind="seksi", name="Pemerintahan", short_names="")
    assert clash.status_code == 409
    form = form_of(clash.text, "ubah-perizinan")
    assert "'Pemerintahan' sudah menunjuk Seksi Pemerintahan" in text_of(form)
    assert re.search(r'<details class="tindakan-lain" open>\s*<summary>Ubah jenis atau nama', clash.text)

    renamed = send(web, at, f"{at}/unit/perizinan/ubah", kind="subbagian", name="Perizinan", short_names="yanzin")
    assert renamed.status_code == 200 and "Unit sudah diubah." in renamed.text
    assert "Subbagian Perizinan" in renamed.text

    no_reason = send(web, at, f"{at}/unit/perizinan/nonaktifkan", reason=" ")
    assert no_reason.status_code == 422
    assert field_error(no_reason.text, "nonaktifkan-perizinan", "reason") == "Wajib diisi."
    retired = send(web, at, f"{at}/unit/perizinan/nonaktifkan", reason="Pindah ke Mal Pelayanan Publik")
    assert retired.status_code == 200 and "Unit sudah dinonaktifkan" in retired.text
    assert 'id="judul-unit-perizinan"' not in retired.text
    listed = retired.text.split('id="judul-nonaktif"', 1)[1]
    assert "Subbagian Perizinan" in listed and 'data-formulir="aktifkan-perizinan"' in listed

    back = send(
        web, at, f"{at}/unit", formulir="aktifkan-perizinan", code="perizinan", kind="subbagian", name="Perizinan",
        short_names="yanzin",
    )  # fmt: skip
    assert back.status_code == 200 and 'id="judul-unit-perizinan"' in back.text
    # a unit with a head has no retire form; sent anyway (a page loaded before the appointment): said above the page
    with_head = send(web, at, f"{at}/unit/pemerintahan/nonaktifkan", reason="x")
    assert with_head.status_code == 409 and 'data-formulir="nonaktifkan-pemerintahan"' not in with_head.text
    assert re.search(
        r'<p class="pesan galat" role="alert">Seksi Pemerintahan masih dipimpin Ahmad Kasi', with_head.text
    )

    history = text_of(web.get(f"{at}/riwayat").text)
    retired_entry = history.split("Unit dinonaktifkan", 1)[1].split("Unit diubah", 1)[0]
    assert "Kode unit Subbagian Perizinan (perizinan)" in retired_entry
    assert "Alasan Pindah ke Mal Pelayanan Publik" in retired_entry
    log = handlers.organisation_log(engine, place["slug"])
    assert [(e["type"], e["actor"]) for e in log] == [
        ("UnitDefined", admin),
        ("UnitRetired", admin),
        ("UnitChanged", admin),
        ("UnitDefined", admin),
    ]


# -- heads -------------------------------------------------------------------------------------------------------
def test_an_admin_appoints_a_head_and_ends_the_post(web, places, admin, engine):
    place = places["kepala"]
    sign_in(web, admin)
    at = f"/admin/kecamatan/{place['slug']}"
    page = web.get(at).text
    choices = form_of(page, "kepala-trantib")
    assert f'value="{place["staf2"]}"' in choices and f'value="{place["kasi"]}"' in choices
    assert f'value="{place["camat"]}"' not in choices  # only staf and Kasi/Kasubag are offered

    empty = send(web, at, f"{at}/unit/trantib/kepala", username="")
    assert empty.status_code == 422 and field_error(empty.text, "kepala-trantib", "username") == "Wajib diisi."
    sekcam = send(web, at, f"{at}/unit/trantib/kepala", username=place["sekcam"])
    assert sekcam.status_code == 422
    assert "hanya staf atau Kasi/Kasubag" in field_error(sekcam.text, "kepala-trantib", "username")

    appointed = send(web, at, f"{at}/unit/trantib/kepala", username=place["staf2"])
    assert appointed.status_code == 200, appointed.text
    assert f"{place['staf2']} diangkat menjadi kepala unit" in appointed.text
    trantib = text_of(appointed.text.split('id="judul-unit-trantib"', 1)[1].split("</section>", 1)[0])
    assert f"Dewi Staf ({place['staf2']})" in trantib and "Kepala Seksi Ketenteraman dan Ketertiban Umum" in trantib
    assert handlers.person(engine, place["staf2"]).role == "kasi"

    no_reason = send(web, at, f"{at}/unit/trantib/kepala/akhiri", reason="")
    assert no_reason.status_code == 422
    assert field_error(no_reason.text, "akhiri-kepala-trantib", "reason") == "Wajib diisi."
    ended = send(web, at, f"{at}/unit/trantib/kepala/akhiri", reason="Mutasi ke Kecamatan Larangan")
    assert ended.status_code == 200 and "Jabatan kepala unit sudah diakhiri" in ended.text
    trantib = text_of(ended.text.split('id="judul-unit-trantib"', 1)[1].split("</section>", 1)[0])
    assert "Belum ada kepala" in trantib
    assert (handlers.person(engine, place["staf2"]).role, handlers.person(engine, place["staf2"]).unit) == (
        "staf",
        None,
    )

    # the form was drawn while the unit had a head; someone ended the post meanwhile: said above the page
    gone = send(web, at, f"{at}/unit/trantib/kepala/akhiri", reason="lagi")
    assert gone.status_code == 409 and "tidak mempunyai kepala saat ini" in gone.text


# -- Plh. and Plt. -----------------------------------------------------------------------------------------------
def test_an_admin_names_a_plh_camat_and_a_plt_kasi_then_ends_one_early(web, places, admin, engine):
    place = places["plh"]
    sign_in(web, admin)
    at = f"/admin/kecamatan/{place['slug']}/plh"
    start, end = today().date(), today().date() + timedelta(days=6)
    page = web.get(at)
    assert page.status_code == 200 and "Tidak ada Plh. atau Plt. yang berlaku" in page.text
    assert f'value="{start.isoformat()}"' in form_of(page.text, "plh-baru")  # starts today unless changed

    body = {"role": "camat", "unit": "", "delegate": place["sekcam"], "kind": "plh", "starts_on": str(start),
            "ends_on": str(end), "reason": "Cuti tahunan Camat"}  # fmt: skip
    missing = send(web, at, at, **{**body, "ends_on": "", "reason": ""})
    assert missing.status_code == 422
    assert field_error(missing.text, "plh-baru", "ends_on") == "Wajib diisi."
    assert field_error(missing.text, "plh-baru", "reason") == "Wajib diisi."
    assert f'value="{place["sekcam"]}" selected' in form_of(missing.text, "plh-baru")

    made = send(web, at, at, **body)
    assert made.status_code == 200, made.text
    assert f"Plh. sudah ditunjuk: {place['sekcam']}" in made.text
    listed = text_of(made.text)
    assert f"Plh. Camat: Siti Sekcam ({place['sekcam']})" in listed and "Berlaku" in listed
    assert "Cuti tahunan Camat" in listed

    overlap = send(web, at, at, **{**body, "delegate": place["staf"]})
    assert overlap.status_code == 409
    assert "Sudah ada Plh. untuk peran ini" in text_of(form_of(overlap.text, "plh-baru"))
    self_named = send(web, at, at, **{**body, "role": "sekcam", "delegate": place["camat"]})
    assert self_named.status_code == 422 and "Camat tidak dapat menjadi Plh./Plt." in self_named.text
    no_unit = send(web, at, at, **{**body, "role": "kasi", "delegate": place["staf"]})
    assert field_error(no_unit.text, "plh-baru", "unit") == "Pilih unit yang kepalanya diwakili."
    odd_kind = send(web, at, at, **{**body, "kind": "xyz"})  # a forged form: a field error, not a 500
    assert odd_kind.status_code == 422 and field_error(odd_kind.text, "plh-baru", "kind") == "Pilih Plh. atau Plt."
    long = send(
        web,
        at,
        at,
        **{**body, "role": "sekcam", "delegate": place["staf"], "ends_on": str(start + timedelta(days=120))},
    )
    assert long.status_code == 422 and "paling lama tiga bulan" in text_of(form_of(long.text, "plh-baru"))

    plt = send(web, at, at, **{**body, "role": "kasi", "unit": "kesra", "delegate": place["staf"], "kind": "plt",
                                "reason": "Jabatan Kasi Kesra kosong"})  # fmt: skip
    assert plt.status_code == 200, plt.text
    assert f"Plt. Kepala Seksi Kesejahteraan Sosial: Budi Staf ({place['staf']})" in text_of(plt.text)
    units = web.get(f"/admin/kecamatan/{place['slug']}").text
    kesra = text_of(units.split('id="judul-unit-kesra"', 1)[1].split("</section>", 1)[0])
    assert f"Plt. {place['staf']}" in kesra
    leaders = text_of(units.split('id="judul-pimpinan"', 1)[1].split("</section>", 1)[0])
    assert f"Plh.: Siti Sekcam ({place['sekcam']})" in leaders

    camat_plh = next(d for d in handlers.list_delegations(engine, place["slug"]) if d.role == "camat")
    fid = f"akhiri-{camat_plh.id}"
    action = f"/admin/kecamatan/{place['slug']}/plh/{camat_plh.id}/akhiri"
    assert field_error(send(web, at, action, reason="").text, fid, "reason") == "Wajib diisi."
    ended = send(web, at, action, reason="Camat kembali bertugas")
    assert ended.status_code == 200 and "Plh./Plt. sudah diakhiri" in ended.text
    assert "Plh. Camat" not in text_of(ended.text)
    everything = text_of(web.get(f"{at}?semua=1").text)
    assert "Plh. Camat" in everything and "Diakhiri lebih awal" in everything
    again = send(web, at, action, reason="lagi")
    assert again.status_code == 409 and "Penunjukan ini sudah berakhir." in again.text
    history = text_of(web.get(f"/admin/kecamatan/{place['slug']}/riwayat").text)
    ended_entry = history.split("Plh./Plt. diakhiri lebih awal", 1)[1].split("Plh./Plt. ditunjuk", 1)[0]
    assert f"Penunjukan Plh. Camat, Siti Sekcam ({place['sekcam']})" in ended_entry
    assert "Alasan Camat kembali bertugas" in ended_entry
    assert [e["type"] for e in handlers.organisation_log(engine, place["slug"])] == [
        "DelegationEnded",
        "DelegationGranted",
        "DelegationGranted",
    ]


# -- officials' rank ---------------------------------------------------------------------------------------------
def test_an_admin_sets_an_officials_nip_pangkat_and_golongan(web, places, admin, engine):
    place = places["pejabat"]
    sign_in(web, admin)
    at = f"/admin/kecamatan/{place['slug']}/pejabat"
    page = web.get(at)
    assert page.status_code == 200
    assert text_of(page.text).index("Drs. Moh. Camat") < text_of(page.text).index("Budi Staf")  # by post
    action = f"{at}/{place['camat']}"
    fid = f"pangkat-{place['camat']}"
    blank = {"asal_nip": "", "asal_pangkat": "", "asal_golongan": ""}

    bad = send(web, at, action, nip="1970 0101", pangkat="Pembina", golongan="IV/a", **blank)
    assert bad.status_code == 422
    assert field_error(bad.text, fid, "nip") == "NIP terdiri dari 18 digit angka."
    assert 'value="1970 0101"' in form_of(bad.text, fid)
    assert re.search(r'<details class="tindakan-lain" open>\s*<summary>Ubah NIP', bad.text)

    saved = send(web, at, action, nip="19700101 199003 1 002", pangkat="Pembina Tingkat I", golongan="IV/b", **blank)
    assert saved.status_code == 200 and f"NIK TTE {place['camat']} sudah disimpan" in saved.text
    camat = text_of(saved.text.split("Drs. Moh. Camat", 1)[1].split("</section>", 1)[0])
    assert "197001011990031002" in camat and "Pembina Tingkat I, IV/b" in camat

    current = {"asal_nip": "197001011990031002", "asal_pangkat": "Pembina Tingkat I", "asal_golongan": "IV/b"}
    unchanged = send(web, at, action, nip="197001011990031002", pangkat="Pembina Tingkat I", golongan="IV/b", **current)
    assert unchanged.status_code == 422 and "Isi NIP, pangkat, golongan, atau NIK TTE yang diubah." in unchanged.text
    cleared = send(web, at, action, nip="197001011990031002", pangkat="Pembina Tingkat I", golongan="", **current)
    assert cleared.status_code == 200
    log = handlers.organisation_log(engine, place["slug"])
    assert [(e["type"], e["actor"], e["data"]) for e in log] == [
        ("OfficialRankSet", admin, {"username": place["camat"], "golongan": None}),  # only what changed
        ("OfficialRankSet", admin, {"username": place["camat"], "nip": "197001011990031002",
                                    "pangkat": "Pembina Tingkat I", "golongan": "IV/b"}),
    ]  # fmt: skip

    # the NIK the Camat's BSrE certificate is registered under (issue #16): typed in, then shown and logged masked
    current["asal_golongan"] = ""
    wrong = send(web, at, action, nip="197001011990031002", pangkat="Pembina Tingkat I", golongan="", tte_nik="3528",
                 **current)  # fmt: skip
    assert wrong.status_code == 422 and field_error(wrong.text, fid, "tte_nik") == "NIK terdiri dari 16 digit angka."
    nik = send(web, at, action, nip="197001011990031002", pangkat="Pembina Tingkat I", golongan="",
               tte_nik="3528 0112 0478 0002", **current)  # fmt: skip
    assert nik.status_code == 200 and "************0002" in nik.text and "3528011204780002" not in nik.text
    assert handlers.organisation_log(engine, place["slug"])[0]["data"] == {
        "username": place["camat"],
        "tte_nik": "************0002",
    }


# -- the change log ----------------------------------------------------------------------------------------------
def test_the_change_log_names_each_change_and_who_made_it_a_page_at_a_time(web, places, admin, engine):
    place = places["riwayat"]
    sign_in(web, admin)
    at = f"/admin/kecamatan/{place['slug']}"
    assert "Belum ada perubahan" in web.get(f"{at}/riwayat").text
    send(web, at, f"{at}/unit/trantib/kepala", username=place["staf"])
    send(web, f"{at}/plh", f"{at}/plh", role="kasi", unit="kesra", delegate=place["staf2"], kind="plt",
         starts_on=str(today().date()), ends_on=str(today().date() + timedelta(days=3)), reason="Kasi Kesra kosong")  # fmt: skip
    r = web.get(f"{at}/riwayat")
    assert r.status_code == 200
    entries = [
        text_of(li).strip() for li in re.findall(r"<li>(.*?)</li>", r.text.split('class="lini-masa"', 1)[1], re.DOTALL)
    ]
    assert entries[0].startswith("Plh./Plt. ditunjuk") and f"oleh {admin} " in entries[0]
    assert "Jenis Plt." in entries[0] and "Unit Seksi Kesejahteraan Sosial" in entries[0]
    assert f"Pelaksana Dewi Staf ({place['staf2']})" in entries[0] and "Alasan Kasi Kesra kosong" in entries[0]
    assert entries[1].startswith("Kepala unit diangkat")
    assert (
        "Jabatan Kepala Seksi Ketenteraman dan Ketertiban Umum" in entries[1] and "Peran sebelumnya Staf" in entries[1]
    )
    assert "Lebih lama" not in r.text

    for n in range(50):  # more than a page (50): the commands' own changes, as the operator makes them
        handlers.set_rank(engine, "cli:operator", place["sekcam"], nip=None, pangkat=f"Pembina {n}", golongan=None)
    first = web.get(f"{at}/riwayat")
    assert "oleh baris perintah (operator)" in text_of(first.text) and "Pangkat Pembina 49" in text_of(first.text)
    older = re.search(r'href="([^"]+)" rel="next"', first.text).group(1)
    second = text_of(web.get(html.unescape(older)).text)
    assert "Plh./Plt. ditunjuk" in second and "Kepala unit diangkat" in second and "Pembina 49" not in second
