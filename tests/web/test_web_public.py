"""The citizens' pages over the real APIs: the complaint form with its ID scan, errors next to their fields,
CSRF, the confirmation, tracking by code, escaping of what citizens type, the weight of the form page, and the
privacy notice (no consent checkbox: the legal basis is the public-service duty; issue #17 item 6)."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from services.intake.adapters.tables import attachments, submissions, tracking
from shared.contracts import sop
from tests.support.complaints import outbox_message
from tests.support.web import web_client
from tests.unit.test_attachments import EXE, tiny_jpeg, tiny_png

LABELS = {
    "kecamatan": "Kecamatan",
    "name": "Nama lengkap",
    "nik": "NIK",
    "phone": "Nomor HP/WhatsApp",
    "email": "E-mail",
    "address": "Alamat",
    "id_kind": "Jenis kartu identitas",
    "identitas": "Foto/scan kartu identitas",
    "subject": "Pokok pengaduan",
    "description": "Uraian pengaduan",
    "foto": "Foto pendukung (boleh lebih dari satu)",
    "confidential": "Rahasiakan identitas saya",
}
SCRIPT = "<script>alert(1)</script>"
TEMPLATE = "{{7*7}}"


@pytest.fixture(scope="module")
def web(settings, engine):
    with web_client(settings) as client:
        yield client


def csrf_of(text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found, "the page has no CSRF field"
    return found.group(1)


def form_values(**overrides) -> dict:
    values = {
        "kecamatan": "pegantenan",
        "name": "Siti Aminah",
        "nik": "3528071505900001",
        "phone": "0812-3456-7890",
        "email": "",
        "address": "Dusun Bunangka",
        "id_kind": "ktp",
        "subject": "Lampu jalan mati",
        "description": f"Lampu jalan di depan balai desa mati sejak dua minggu. ({uuid.uuid4().hex[:8]})",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def submit(web, values: dict, files=None, token: str | None = None):
    token = token or csrf_of(web.get("/pengaduan/baru").text)
    return web.post("/pengaduan/baru", data={**values, "csrf_token": token}, files=files, follow_redirects=False)


def field_tag(page: str, name: str) -> str:
    found = re.search(rf'<(input|select|textarea)\b[^>]*\bname="{name}"[^>]*>', page)
    assert found, f"no field named {name}"
    return found.group(0)


def words_of(page: str) -> str:
    """The text a reader sees: tags dropped, spaces folded, entities read."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page)))


def error_of(page: str, name: str) -> str | None:
    found = re.search(rf'<p class="galat-isian" id="galat-{name}">([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else None


def test_the_form_has_every_field_with_its_label(web):
    r = web.get("/pengaduan/baru")
    assert r.status_code == 200
    page = r.text
    for name, label in LABELS.items():
        tag = field_tag(page, name)
        field_id = re.search(r'\bid="([^"]+)"', tag).group(1)
        assert f'<label for="{field_id}">{html.escape(label)}</label>' in page, (name, label)
    assert 'enctype="multipart/form-data"' in page and 'href="/static/warga.css"' in page
    assert 'accept="image/*,application/pdf"' in field_tag(page, "identitas")
    assert "multiple" in field_tag(page, "foto")
    assert re.search(r'<button type="submit" class="tombol utama">Kirim pengaduan</button>', page)
    assert '<option value="ktp"' in page and ">SIM</option>" in page and ">KK</option>" in page
    assert ">Pegantenan</option>" in page and ">Pasean</option>" in page
    # no consent asked (the legal basis is the public-service duty): the one checkbox is the complainant's choice to
    # keep their identity confidential (pelapor rahasia), not ticked unless they tick it
    assert page.count('type="checkbox"') == 1 and "checked" not in field_tag(page, "confidential")
    assert "<script>" not in page.split("</head>", 1)[1] and "style=" not in page  # CSP: nothing inline


def test_the_form_asks_no_consent_and_sums_up_the_privacy_notice_above_its_button(web, engine):
    page = web.get("/pengaduan/baru").text
    form = re.search(r'<form method="post" action="/pengaduan/baru".*?</form>', page, re.DOTALL).group(0)
    assert form.count('type="checkbox"') == 1 and 'name="persetujuan"' not in form  # the one: pelapor rahasia
    summary = re.search(
        r'<section class="kartu privasi"[^>]*>(.*?)</section>\s*<div class="tombol-tombol">\s*'
        r'<button type="submit" class="tombol utama">Kirim pengaduan</button>',
        form,
        re.DOTALL,
    )
    assert summary, "no summary of the privacy notice right above the submit button"
    assert 3 <= summary.group(1).count("<li>") <= 5
    words = words_of(summary.group(1))
    for statement in (
        (
            "Dasarnya tugas pelayanan publik kecamatan (UU 25/2009), bukan persetujuan: Anda tidak perlu mencentang "
            "apa pun."
        ),
        "Petugas kabupaten hanya melihat data yang disamarkan.",
        "WhatsApp (milik Meta: data dapat diproses di luar Indonesia)",
        "meminta data dihapus setelah pengaduan selesai: datang ke kantor kecamatan dengan kode pelacakan.",
        "Layanan ini tidak dipungut biaya. Petugas tidak pernah meminta uang atau kata sandi.",
    ):
        assert statement in words, statement
    assert '<a href="/privasi">Baca selengkapnya tentang pelindungan data pribadi</a>' in summary.group(1)

    # sent as the page is, with no box ticked: the complaint lands
    r = submit(web, form_values(), files=[("identitas", ("ktp.png", tiny_png(8801), "image/png"))])
    assert r.status_code == 303, r.text
    code = r.headers["location"].rsplit("/", 1)[1]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).where(submissions.c.tracking_code == code)).scalar_one() == 1


def test_the_privacy_notice_names_the_legal_basis_the_processors_and_the_rights(web):
    r = web.get("/privasi")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    words = words_of(r.text)
    for statement in (
        # the legal basis: the public-service duty, not consent
        "Dasar hukumnya: tugas pelayanan publik, bukan persetujuan",
        "tugas pelayanan publik menurut Undang-Undang Nomor 25 Tahun 2009 tentang Pelayanan Publik.",
        (
            "Undang-Undang Nomor 27 Tahun 2022 tentang Pelindungan Data Pribadi membolehkan data pribadi diproses untuk "
            "memenuhi kewajiban hukum dan untuk melaksanakan tugas pelayanan publik (Pasal 20 ayat (2) huruf c dan "
            "huruf e)."
        ),
        "Karena itu Anda tidak diminta mencentang persetujuan.",
        # the controller, the purposes, what is kept, who sees it
        "Pengendali data pribadi Anda adalah pemerintah kabupaten, c.q. kecamatan yang menerima pengaduan Anda.",
        "Menangani pengaduan Anda sesuai SOP penanganan pengaduan kecamatan",
        "Membuat dan mengirim tanda terima dan surat tanggapan kepada Anda.",
        "Nama lengkap, NIK, nomor HP/WhatsApp, e-mail, dan alamat.",
        "Foto atau salinan KTP, SIM, atau KK.",
        "Petugas kabupaten yang mengawasi hanya melihat data yang disamarkan",
        # how long
        (
            "lalu sesuai jadwal retensi arsip pengaduan yang ditetapkan pemerintah kabupaten. Setelah itu data pribadi "
            "Anda dihapus."
        ),
        # the processors, and where data leaves the country
        "Penyedia SMS gateway: mengirim SMS ke nomor Anda.",
        (
            "WhatsApp, milik Meta Platforms: mengirim dan menerima pesan WhatsApp. Data Anda dapat diproses di luar "
            "Indonesia."
        ),
        "Penyedia layanan e-mail yang dipakai pemerintah kabupaten",
        # the rights, and how to use them
        "Mengetahui data pribadi Anda yang kami simpan, dan meminta salinannya.",
        "Membetulkan data yang salah atau sudah berubah.",
        "Menghapus data pribadi Anda setelah pengaduan selesai.",
        "Keberatan atas cara data Anda dipakai, atau meminta pemakaiannya ditunda atau dibatasi.",
        (
            "Datang ke kantor kecamatan, atau kirim surat atau e-mail ke kantor kecamatan. Sebutkan kode pelacakan "
            "pengaduan Anda dan apa yang Anda minta."
        ),
        "Kantor kecamatan mencatat permintaan Anda dan memberi tahu hasilnya kepada Anda.",
        # free, and no one asks for money or passwords
        "Pengaduan dan semua permintaan tentang data Anda tidak dipungut biaya.",
        "Petugas tidak pernah meminta uang, pulsa, kata sandi, atau kode OTP.",
    ):
        assert statement in words, statement
    # each kecamatan served here, under its kabupaten's government, links its own notice
    assert "<h3>Pemerintah Kabupaten Pamekasan</h3>" in r.text
    assert '<a href="/privasi/pegantenan">Kecamatan Pegantenan</a>' in r.text
    page = r.text.split("</head>", 1)[1]
    assert "<script>" not in page and "style=" not in page  # CSP: nothing inline


def test_the_notice_of_a_kecamatan_names_its_controller_and_where_its_contact_is_printed(web):
    r = web.get("/privasi/pegantenan")
    assert r.status_code == 200
    words = words_of(r.text)
    assert "Pengendali data pribadi Anda adalah Pemerintah Kabupaten Pamekasan c.q. Kecamatan Pegantenan." in words
    assert (
        "Hubungi Kantor Kecamatan Pegantenan. Alamat, nomor telepon, dan e-mail kantor tertera pada kop suratnya: "
        "pada tanda terima pengaduan, surat tanggapan, dan Formulir Pengaduan Kecamatan Pegantenan (PDF)." in words
    )
    assert '<a href="/v1/letters/formulir/pegantenan.pdf">' in r.text  # the blank form, printed with the kop
    assert "Data Anda dapat diproses di luar Indonesia." in words and "Pasal 20 ayat (2) huruf c dan huruf e" in words
    unknown = web.get("/privasi/tidak-ada")
    assert unknown.status_code == 404
    assert "Kecamatan itu tidak ada dalam daftar kami." in words_of(unknown.text)
    assert '<a href="/privasi/pegantenan">Kecamatan Pegantenan</a>' in unknown.text  # the notice for all of them


def test_every_page_links_the_privacy_notice_in_its_footer(web):
    for url in ("/", "/pengaduan/baru", "/lacak", "/masuk", "/privasi", "/privasi/pegantenan"):
        r = web.get(url)
        assert r.status_code == 200, url
        footer = re.search(r'<footer class="kaki">.*?</footer>', r.text, re.DOTALL).group(0)
        assert '<a href="/privasi">Pelindungan data pribadi</a>' in footer, url


def test_a_kecamatan_can_be_preselected_by_its_slug(web):
    page = web.get("/pengaduan/baru?kecamatan=pegantenan").text
    assert '<option value="pegantenan" selected>' in page
    assert "selected" not in re.search(
        r'<option value="pegantenan"[^>]*>', web.get("/pengaduan/baru?kecamatan=x").text
    ).group(0)


def test_a_full_submission_with_an_id_scan_lands_a_complaint(web, engine):
    scan, photo = tiny_jpeg(), tiny_png(8101)
    r = submit(
        web,
        form_values(),
        files=[("identitas", ("ktp.jpg", scan, "image/jpeg")), ("foto", ("jalan.png", photo, "image/png"))],
    )
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    code = location.rsplit("/", 1)[1]
    assert location == f"/pengaduan/terkirim/{code}"
    with engine.connect() as conn:
        row = conn.execute(select(submissions).where(submissions.c.tracking_code == code)).mappings().one()
        kinds = conn.execute(select(attachments.c.kind).where(attachments.c.submission_id == row["id"])).scalars().all()
    assert row["channel"] == "web" and row["kecamatan"] == "pegantenan"
    assert row["complainant"]["nik"] == "3528071505900001" and row["complainant"]["phone"] == "+6281234567890"
    assert sorted(kinds) == ["foto", "ktp"] and row["complainant"]["confidential"] is False

    confirmation = web.get(location)
    assert confirmation.status_code == 200
    assert f'<span class="kode kode-besar">{code}</span>' in confirmation.text
    assert f'href="/lacak/{code}/tanda-terima.pdf">Unduh tanda terima (PDF)</a>' in confirmation.text
    # no letters worker runs here, so the receipt is not made yet: a page that says so, not the API's JSON
    early = web.get(f"/lacak/{code}/tanda-terima.pdf")
    assert early.status_code == 404 and "text/html" in early.headers["content-type"]
    assert "Tanda terima sedang dibuat" in early.text
    assert "12 hari kerja" in confirmation.text and "tidak dipungut biaya" in confirmation.text
    assert f'href="/lacak/{code}"' in confirmation.text

    tracking = web.get(f"/lacak/{code}")
    assert tracking.status_code == 200
    assert "Diterima, menunggu diproses" in tracking.text and "Pegantenan" in tracking.text
    assert re.search(
        r'<li class="berikut"[^>]*>\s*<span class="nama-langkah">1\. Menerima Pengaduan Masyarakat', tracking.text
    )
    assert "Unduh surat tanggapan (PDF)" not in tracking.text
    assert " WIB" in tracking.text  # dates in WIB


def submitted_code(web, seed: int) -> str:
    r = submit(web, form_values(), files=[("identitas", ("ktp.png", tiny_png(seed), "image/png"))])
    assert r.status_code == 303, r.text
    return r.headers["location"].rsplit("/", 1)[1]


def project(engine, code: str, done: int, **values) -> None:
    """The tracking projection as the workflow's events would leave it: steps 1..done completed."""
    start = datetime(2026, 11, 2, 1, 30, tzinfo=UTC)  # 08.30 WIB
    steps = [
        {"number": n, "name": sop.DEFAULT.step(n).name, "completed_at": (start + timedelta(hours=n)).isoformat()}
        for n in range(1, done + 1)
    ]
    with engine.begin() as conn:
        complaint_id = conn.execute(
            select(submissions.c.complaint_id).where(submissions.c.tracking_code == code)
        ).scalar_one()
        row = {
            "complaint_id": complaint_id,
            "tracking_code": code,
            "sop_version": sop.DEFAULT.version,
            "steps": steps,
            "updated_at": start,
            "position": 2**62,
            "status": "in_progress",
            "current_step": done + 1,
            **values,
        }
        conn.execute(insert(tracking).values(**row).on_conflict_do_update(index_elements=["complaint_id"], set_=row))


def test_a_complainant_who_ticks_confidential_is_a_pelapor_rahasia(web, engine):
    r = submit(web, form_values(confidential="ya"), files=[("identitas", ("ktp.jpg", tiny_jpeg(), "image/jpeg"))])
    assert r.status_code == 303, r.text
    code = r.headers["location"].rsplit("/", 1)[1]
    with engine.connect() as conn:
        row = conn.execute(select(submissions).where(submissions.c.tracking_code == code)).mappings().one()
    assert row["complainant"]["confidential"] is True


def test_the_complainant_may_pick_a_category_or_leave_it_to_the_staff(web, engine):
    """Issue #18 item 2: the kabupaten's list (one list when every kabupaten served has the same; a group per
    kabupaten when another test's kabupaten has its own, as in a full run)."""
    page = web.get("/pengaduan/baru").text
    select_tag = re.search(r'<select id="category".*?</select>', page, re.DOTALL).group(0)
    assert ">Infrastruktur</option>" in select_tag and ">Kesehatan</option>" in select_tag
    assert re.search(r'<option value="" selected>', select_tag)  # nothing chosen unless the person chooses

    def sent(**values):
        return submit(web, form_values(**values), files=[("identitas", ("ktp.jpg", tiny_jpeg(), "image/jpeg"))])

    picked, left = sent(category="infrastruktur"), sent()
    assert picked.status_code == left.status_code == 303, (picked.text, left.text)
    for answer, category in ((picked, "infrastruktur"), (left, None)):
        code = answer.headers["location"].rsplit("/", 1)[1]
        assert outbox_message(engine, code).category == category
    refused = sent(category="bukan-kategori")
    assert refused.status_code == 422 and "Kategori tidak dikenal" in (error_of(refused.text, "category") or "")


def test_the_timeline_shows_the_steps_done_in_wib_and_what_happens_next(web, engine):
    code = submitted_code(web, 8501)
    project(engine, code, 3)
    page = web.get(f"/lacak/{code}").text
    timeline = re.search(r'<ol class="lini-masa">(.*?)</ol>', page, re.DOTALL).group(1)
    done = re.findall(
        r'<li>\s*<span class="nama-langkah">(\d+)\. ([^<]+)</span>\s*<time class="kapan" datetime="[^"]+">([^<]+)</time>',
        timeline,
    )
    assert [(n, name) for n, name, _ in done] == [
        ("1", sop.DEFAULT.step(1).name),
        ("2", sop.DEFAULT.step(2).name),
        ("3", sop.DEFAULT.step(3).name),
    ]
    assert done[0][2] == "2 Nov 2026 09.30 WIB"  # 02.30 UTC
    nxt = re.search(r'<li class="berikut"[^>]*>(.*?)</li>', timeline, re.DOTALL).group(1)
    assert "4. Melakukan verifikasi substansi" in nxt and "dilimpahkan" in nxt
    assert "Sedang diproses" in page and "Unduh surat tanggapan (PDF)" not in page


def test_a_resolved_complaint_links_its_response_letter(web, engine):
    code = submitted_code(web, 8502)
    project(engine, code, 12, status="closed", current_step=None, outcome="resolved")
    page = web.get(f"/lacak/{code}").text
    assert f'href="/lacak/{code}/surat-tanggapan.pdf">Unduh surat tanggapan (PDF)</a>' in page
    assert 'class="berikut"' not in page and "Selesai" in page and "Tanggapan sudah dikirim kepada Anda" in page
    assert page.count('<span class="nama-langkah">') == 12


def test_a_referred_complaint_says_to_whom(web, engine):
    code = submitted_code(web, 8503)
    project(
        engine, code, 4, status="closed", current_step=None, outcome="referred", referred_to="Dinas PUPR <Pamekasan>"
    )
    page = web.get(f"/lacak/{code}").text
    assert "Dilimpahkan kepada instansi yang berwenang" in page and "Dinas PUPR &lt;Pamekasan&gt;" in page
    assert "Unduh surat tanggapan (PDF)" not in page


def test_a_followed_referral_says_until_when_then_how_it_ended(web, engine):
    """The three moments of a referral the kecamatan follows (issue #15), as the tracking projection keeps them."""
    follow_up_by = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # 16.00 WIB
    code = submitted_code(web, 8504)
    project(
        engine,
        code,
        3,
        status="referred",
        current_step=None,
        referred_to="Dinas PUPR <Pamekasan>",
        referral_state="followed",
        follow_up_by=follow_up_by,
    )
    page = web.get(f"/lacak/{code}").text
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "Status Dilimpahkan, dipantau kecamatan" in words
    assert (
        "Dilimpahkan ke Dinas PUPR &lt;Pamekasan&gt;. Kecamatan memantau tindak lanjutnya sampai 20 November 2026."
        in words
    )
    assert "sudah selesai ditangani" not in words and 'class="berikut"' not in page
    assert words.count("Dilimpahkan") == 2  # the status and the one sentence: told once

    project(
        engine,
        code,
        3,
        status="closed",
        current_step=None,
        outcome="referred",
        referred_to="Dinas PUPR <Pamekasan>",
        referral_state="lapsed",
        follow_up_by=follow_up_by,
    )
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", web.get(f"/lacak/{code}").text))
    assert (
        "Instansi tersebut belum menanggapi sampai 20 November 2026, dan kecamatan tidak lagi memantaunya. "
        "Tanyakan tindak lanjutnya langsung kepada Dinas PUPR &lt;Pamekasan&gt;." in words
    )
    assert "Status Selesai" in words and "Tanggapan instansi" not in words

    project(
        engine,
        code,
        3,
        status="closed",
        current_step=None,
        outcome="referred",
        referred_to="Dinas PUPR <Pamekasan>",
        referral_state="answered",
        follow_up_by=follow_up_by,
        referral_answer="<b>Jalan</b> diperbaiki Januari.",
        referral_answered_on=date(2026, 11, 18),
    )
    page = web.get(f"/lacak/{code}").text
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert (
        "dilimpahkan ke Dinas PUPR &lt;Pamekasan&gt;, dan instansi tersebut sudah menanggapi pada 18 November 2026."
        in words
    )
    assert "&lt;b&gt;Jalan&lt;/b&gt; diperbaiki Januari." in page  # the office's words as text, never markup
    assert "belum menanggapi" not in words


def test_a_double_submit_is_one_complaint(web, engine):
    token = csrf_of(web.get("/pengaduan/baru").text)
    values = form_values()
    files = [("identitas", ("ktp.png", tiny_png(8201), "image/png"))]
    first = submit(web, values, files=files, token=token)
    second = submit(web, values, files=files, token=token)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    with engine.connect() as conn:
        assert (
            len(conn.execute(select(submissions.c.id).where(submissions.c.description == values["description"])).all())
            == 1
        )


def test_missing_fields_are_shown_next_to_them_with_the_values_kept(web):
    values = form_values(nik="", phone="", email="", subject="Sampah menumpuk di pasar")
    r = submit(web, values, files=None)
    assert r.status_code == 422
    page = r.text
    assert 'class="pesan galat ringkasan-galat" role="alert"' in page
    for name in ("nik", "phone", "identitas"):
        assert error_of(page, name), name
        tag = field_tag(page, name)
        assert 'aria-invalid="true"' in tag and f"galat-{name}" in re.search(r'aria-describedby="([^"]+)"', tag).group(
            1
        )
        assert f'<li><a href="#{name}">' in page  # the summary links to the field
    assert "Perbaiki 3 isian berikut:" in page  # nothing about consent
    assert error_of(page, "name") is None and "aria-invalid" not in field_tag(page, "name")
    assert 'value="Siti Aminah"' in field_tag(page, "name") and 'value="Sampah menumpuk di pasar"' in field_tag(
        page, "subject"
    )
    assert values["description"] in page and '<option value="ktp" selected>' in page
    assert '<option value="pegantenan" selected>' in page


def test_api_errors_are_shown_next_to_their_fields_and_files_must_be_chosen_again(web):
    r = submit(web, form_values(nik="1234", email="bukan-email"), files=[("identitas", ("ktp.jpg", EXE, "image/jpeg"))])
    assert r.status_code == 422
    page = r.text
    assert error_of(page, "nik") and error_of(page, "email")
    assert "bukan jenis berkas yang diizinkan" in error_of(page, "identitas")
    assert "pilih lagi" in page  # the files are not kept
    assert 'value="1234"' in field_tag(page, "nik") and 'value="bukan-email"' in field_tag(page, "email")


def test_a_form_without_its_csrf_value_is_403_sends_nothing_and_keeps_what_was_typed(web, engine):
    web.get("/pengaduan/baru")
    before = _complaints_count(engine)
    r = web.post(
        "/pengaduan/baru",
        data=form_values(name="Rudi Hartono"),
        files=[("identitas", ("ktp.png", tiny_png(8301), "image/png"))],
    )
    assert r.status_code == 403
    r = web.post("/pengaduan/baru", data={**form_values(name="Rudi Hartono"), "csrf_token": "palsu"})
    assert r.status_code == 403
    assert 'value="Rudi Hartono"' in field_tag(r.text, "name") and "terlalu lama terbuka" in r.text
    assert csrf_of(r.text) != "palsu"  # a fresh form to send it from
    assert _complaints_count(engine) == before


def _complaints_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(submissions)).scalar_one()


def test_tracking_by_code_normalises_it_and_an_unknown_code_is_a_404_page(web):
    r = web.get("/lacak")
    assert r.status_code == 200 and '<label for="kode">Kode pelacakan</label>' in r.text
    r = web.get("/lacak?kode=7kq2 m9xd 4t", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/lacak/7KQ2-M9XD-4T"
    r = web.get("/lacak/7kq2-m9xd-4t", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/lacak/7KQ2-M9XD-4T"
    for url in ("/lacak/7KQ2-M9XD-4T", "/lacak?kode=bukan-kode", "/pengaduan/terkirim/7KQ2-M9XD-4T"):
        r = web.get(url)
        assert r.status_code == 404, url
        assert "Kode pelacakan ini tidak ditemukan" in r.text and '<label for="kode">Kode pelacakan</label>' in r.text
    assert web.get("/lacak?kode=").status_code == 422


def test_what_citizens_type_is_shown_literally_never_run_nor_evaluated(web):
    values = form_values(
        name=f"Budi {SCRIPT}", subject=f"Jalan {SCRIPT} {TEMPLATE}", description=f"Uraian {TEMPLATE} {SCRIPT}", nik=""
    )
    page = submit(web, values).text
    # not the kecamatan list nor the blank forms' links: their slugs come from the shared test database
    main = page.split("<main", 1)[1]
    typed = re.sub(r"<select\b.*?</select>|<details\b.*?</details>", "", main, flags=re.DOTALL)
    assert SCRIPT not in page and "49" not in typed
    assert html.escape(SCRIPT) in page and TEMPLATE in page
    # stored as typed, and the pages after a submission show no raw markup either
    r = submit(
        web,
        form_values(subject=f"Jalan {SCRIPT} {TEMPLATE}", description=f"Uraian panjang {TEMPLATE} {SCRIPT}"),
        files=[("identitas", ("ktp.png", tiny_png(8401), "image/png"))],
    )
    assert r.status_code == 303
    for url in (r.headers["location"], r.headers["location"].replace("/pengaduan/terkirim/", "/lacak/")):
        shown = web.get(url).text
        assert SCRIPT not in shown and ">49<" not in shown
    lost = web.get(f"/lacak?kode={SCRIPT}").text
    assert SCRIPT not in lost and html.escape(SCRIPT) in lost


def test_the_form_page_weighs_under_300_kb_with_its_css_and_js(web):
    page = web.get("/pengaduan/baru")
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    assert {"/static/web.css", "/static/warga.css", "/static/web.js"} <= set(assets)
    total = len(page.content) + sum(len(web.get(a).content) for a in assets)
    assert total < 300 * 1024, total


def test_when_the_api_cannot_be_reached_the_form_stays_with_what_was_typed(settings):
    from fastapi.testclient import TestClient

    from services.web.adapters.api_client import Api
    from services.web.config import WebSettings
    from services.web.entrypoints.api import create_app

    app = create_app(WebSettings(**settings.model_dump()), api=Api("http://127.0.0.1:9", timeout=2.0))
    with TestClient(app) as client:
        # the empty form needs the API for its list of kecamatan: a clear 503 page, with when to try again
        unavailable = client.get("/pengaduan/baru")
        assert unavailable.status_code == 503 and unavailable.headers["Retry-After"] == "5"
        # the privacy notice is still there to read, without the list of kecamatan
        notice = client.get("/privasi")
        assert notice.status_code == 200 and "Undang-Undang Nomor 25 Tahun 2009" in notice.text
        assert 'href="/privasi/' not in notice.text
        # a form already filled in (opened before the API went away) keeps what was typed
        token = csrf_of(client.get("/masuk").text)
        r = submit(
            client,
            form_values(name="Rina Wati"),
            files=[("identitas", ("ktp.png", tiny_png(8601), "image/png"))],
            token=token,
        )
    assert r.status_code == 503
    assert (
        "tidak dapat dihubungi" in r.text
        and 'value="Rina Wati"' in field_tag(r.text, "name")
        and "pilih lagi" in r.text
    )


def test_too_many_submissions_from_one_visitor_is_a_429_page_with_retry_after(settings, engine):
    """The form passes the API's per-address limit on as it is: 429 and Retry-After, what was typed kept."""
    with web_client(settings.model_copy(update={"rate_limit_submissions": "2/minute"})) as web:
        answers = []
        for i in range(3):
            r = submit(
                web, form_values(name="Rina Wati"), files=[("identitas", ("ktp.png", tiny_png(8700 + i), "image/png"))]
            )
            answers.append(r.status_code)
        assert answers[:2] == [303, 303] and answers[2] == 429
        assert int(r.headers["Retry-After"]) > 0
        assert "Terlalu banyak pengaduan" in r.text and 'value="Rina Wati"' in field_tag(r.text, "name")


def test_the_categories_are_one_list_when_every_kabupaten_has_the_same_else_a_group_per_kabupaten():
    from services.web.entrypoints.public import _category_groups

    same = {"infrastruktur": "Infrastruktur", "pelayanan-lainnya": "Lainnya"}
    own = {"air-bersih": "Air bersih", "pelayanan-lainnya": "Lainnya"}
    one = {
        "a": {"kabupaten": "k1", "kabupaten_name": "Kab Satu", "categories": same},
        "b": {"kabupaten": "k2", "kabupaten_name": "Kab Dua", "categories": same},
    }
    assert _category_groups(one) == [(None, list(same.items()))]
    two = {**one, "c": {"kabupaten": "k3", "kabupaten_name": "Kab Tiga", "categories": own}}
    assert _category_groups(two) == [  # by kabupaten name: the same choices may appear under two kabupaten
        ("Kab Dua", list(same.items())),
        ("Kab Satu", list(same.items())),
        ("Kab Tiga", list(own.items())),
    ]
    assert _category_groups({}) == []


def test_after_the_response_the_status_page_asks_whether_it_is_resolved_and_takes_the_answer_once(web, engine):
    """Issue #18 item 1 (docs/adr/0020): the form appears after a closing with a response; what is missing is shown
    beside its field with what was typed kept; the answer goes to intake once, and the page thanks for it."""
    code = submitted_code(web, 8611)
    project(engine, code, 11, status="in_progress")
    assert "Apakah pengaduan Anda sudah selesai?" not in web.get(f"/lacak/{code}").text
    project(engine, code, 12, status="closed", current_step=None, outcome="resolved", closings=1)
    page = web.get(f"/lacak/{code}").text
    assert "Apakah pengaduan Anda sudah selesai?" in page and 'action="/lacak/' in page
    token = csrf_of(page)

    missing = web.post(
        f"/lacak/{code}/penilaian",
        data={"csrf_token": token, "selesai": "tidak", "keterangan": ""},
        follow_redirects=False,
    )
    assert missing.status_code == 422
    words = words_of(missing.text)
    assert "Pilih penilaian Anda atas pelayanan kami." in words
    assert "Tuliskan apa yang belum selesai" in words
    assert re.search(r'value="tidak"[^>]*checked', missing.text)  # what was chosen is kept

    stale = web.post(
        f"/lacak/{code}/penilaian", data={"csrf_token": "x", "selesai": "ya", "nilai": "4"}, follow_redirects=False
    )
    assert stale.status_code == 403
    with engine.connect() as conn:
        assert conn.execute(select(tracking.c.feedback_closing).where(tracking.c.tracking_code == code)).scalar() == 0

    sent = web.post(
        f"/lacak/{code}/penilaian",
        data={"csrf_token": token, "selesai": "ya", "nilai": "4", "keterangan": f"Terima kasih {SCRIPT}"},
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"] == f"/lacak/{code}"
    thanked = web.get(f"/lacak/{code}").text
    assert "Terima kasih atas penilaian Anda." in thanked
    assert "Apakah pengaduan Anda sudah selesai?" not in thanked
    again = web.post(
        f"/lacak/{code}/penilaian", data={"csrf_token": token, "selesai": "ya", "nilai": "3"}, follow_redirects=False
    )
    assert again.status_code == 409 and "Anda sudah memberi penilaian atas tanggapan ini" in words_of(again.text)


def test_a_reopened_complaint_and_a_keberatan_are_told_on_the_status_page(web, engine):
    code = submitted_code(web, 8612)
    project(engine, code, 4, status="in_progress", current_step=5, reopened=1, closings=1, feedback_closing=1)
    words = words_of(web.get(f"/lacak/{code}").text)
    assert "Dibuka kembali, sedang ditangani ulang" in words and "dibuka kembali karena Anda menyatakan" in words
    project(engine, code, 12, status="objection", current_step=None, closings=2, feedback_closing=2, reopened=1)
    words = words_of(web.get(f"/lacak/{code}").text)
    assert "Keberatan Anda sedang diperiksa Camat" in words and "Apakah pengaduan Anda sudah selesai?" not in words
