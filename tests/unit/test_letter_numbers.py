"""Issue #16 item 1: letter numbers as tata naskah dinas writes them, kode klasifikasi arsip / nomor urut / kode unit
pengolah / tahun (``000.8.3.4/12/432.407/2026``). The pattern and the classification list are the kabupaten's
settings, the unit code the kecamatan's; the response letters and the surat pelimpahan share the kecamatan's one
register of outgoing letters, gapless per year (on PostgreSQL, under concurrency:
tests/integration/test_letter_numbers_concurrency.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.notify.domain.templates import sample_variables
from services.workflow import handlers
from shared.contracts.numbering import DEFAULT_PATTERN, LetterNumbering, UnknownKlasifikasi, validate_unit_code
from shared.tenancy import PAMEKASAN_SETTINGS, demo_kecamatan, validate_kabupaten_settings, validate_settings
from tests.unit.test_workflow_flow import MONDAY, Workflow, walk_to

PEGANTENAN = next(k for k in demo_kecamatan() if k.slug == "pegantenan")


def numbered(numbering: LetterNumbering, urut: int, *, klasifikasi: str = "000.8.3.4", bulan: int = 3) -> str:
    return numbering.number(
        klasifikasi=klasifikasi, urut=urut, unit="432.407", tahun=2026, bulan=bulan, kode_wilayah="35.28.07"
    )


# -- the pattern -----------------------------------------------------------------------------------------------
def test_the_default_is_tata_naskah_dinas_order_with_the_public_service_code():
    default = LetterNumbering.from_settings(None)
    assert default.pattern == DEFAULT_PATTERN == "{klasifikasi}/{urut}/{unit}/{tahun}"
    assert numbered(default, 12) == "000.8.3.4/12/432.407/2026"
    assert default.choose("response_letter", None) == default.choose("referral_letter", "") == "000.8.3.4"
    assert LetterNumbering.from_settings({}) == default


def test_a_kabupaten_writes_its_own_pattern_padding_month_and_region_code():
    own = LetterNumbering.from_settings({"pattern": "B-{urut:04}/{klasifikasi}/{kode_wilayah}/{bulan}/{tahun}"})
    assert numbered(own, 7, bulan=11) == "B-0007/000.8.3.4/35.28.07/XI/2026"
    assert numbered(own, 12345, bulan=1) == "B-12345/000.8.3.4/35.28.07/I/2026"  # the width is a minimum
    # Kemendagri's own letters leave the year out; the number with the date is still unique
    assert numbered(LetterNumbering.from_settings({"pattern": "{klasifikasi}/{urut}/{unit}"}), 15) == (
        "000.8.3.4/15/432.407"
    )


@pytest.mark.parametrize(
    "pattern, says",
    [
        ("{klasifikasi}/{unit}/{tahun}", "{urut} exactly once"),
        ("{urut}/{urut}", "{urut} exactly once"),
        ("{klasifikasi}/{nomor}/{unit}", "unknown placeholder {nomor}"),
        ("{urut}/{}", "unknown placeholder {}"),
        ("{urut}/{0}", "unknown placeholder {0}"),
        ("{urut.real}", "unknown placeholder {urut.real}"),
        ("{tahun:04}/{urut}", "only {urut} takes a width"),
        ("{urut:x}", "only {urut} takes a width"),
        ("{urut:09}", "only {urut} takes a width"),
        ("{urut!r}", "not allowed"),
        ("{urut}}", "Single '}'"),
        ("{urut", "placeholders are written"),
        ('{urut}/"x"', "only letters, digits, spaces"),
        ("{urut}\n", "only letters, digits, spaces"),
        ("", "1 to 80 characters"),
        ("{urut}/" + "x" * 80, "1 to 80 characters"),
        (17, "1 to 80 characters"),
    ],
)
def test_a_pattern_is_refused_with_the_reason(pattern, says):
    with pytest.raises(ValueError, match=r"letter_number\.pattern") as refused:
        LetterNumbering.from_settings({"pattern": pattern})
    assert says in str(refused.value)


def test_the_classification_list_holds_codes_of_permendagri_83_2022_and_the_defaults_are_in_it():
    listed = {"000.8.3.4": "Pelayanan Publik", "400.10.2.2": "Administrasi Pemerintahan Desa dan Kelurahan"}
    numbering = LetterNumbering.from_settings({"klasifikasi": listed, "default": {"referral_letter": "400.10.2.2"}})
    assert numbering.default == {"response_letter": "000.8.3.4", "referral_letter": "400.10.2.2"}
    for bad, says in [
        ({"klasifikasi": {}}, "map each code to its title"),
        ({"klasifikasi": ["000.8.3.4"]}, "map each code to its title"),
        ({"klasifikasi": {"PENGADUAN": "Pengaduan"}}, "not a classification code"),
        ({"klasifikasi": {"00.8": "x"}}, "not a classification code"),
        ({"klasifikasi": {"000.8.3.4": " "}}, "title must be a text"),
        ({"klasifikasi": {"400.10.2.2": "Desa"}}, "default.response_letter: name its code"),
        ({"default": {"response_letter": "400.10.2.2"}}, "is not in letter_number.klasifikasi"),
        ({"default": {"surat": "000.8.3.4"}}, "letter_number.default must map"),
        ({"format": "{urut}"}, "unknown keys ['format']"),
        ("{urut}", "must be an object"),
    ]:
        with pytest.raises(ValueError, match="letter_number") as refused:
            LetterNumbering.from_settings(bad)
        assert says in str(refused.value), bad


def test_the_camat_chooses_from_the_list_and_a_code_not_in_it_is_refused_in_indonesian():
    numbering = LetterNumbering.from_settings(PAMEKASAN_SETTINGS["letter_number"])
    assert numbering.choose("response_letter", " 400.10.2.2 ") == "400.10.2.2"
    with pytest.raises(UnknownKlasifikasi) as refused:
        numbering.choose("referral_letter", "700.1.2.4")
    message = str(refused.value)
    assert message.startswith("Kode klasifikasi arsip 700.1.2.4 tidak ada dalam daftar kabupaten. Pilih salah satu:")
    assert "000.8.3.4 (Pelayanan Publik)" in message and "400.10.2.4 (Fasilitasi Pengelolaan Keuangan" in message


# -- the settings ----------------------------------------------------------------------------------------------
def test_the_kabupaten_and_kecamatan_settings_are_checked_when_configured():
    assert validate_kabupaten_settings(PAMEKASAN_SETTINGS) == PAMEKASAN_SETTINGS
    with pytest.raises(ValueError, match="unknown placeholder"):
        validate_kabupaten_settings({"letter_number": {"pattern": "{kode}/{urut}"}})
    with pytest.raises(ValueError, match=r"must hold \{urut\} exactly once"):
        validate_kabupaten_settings({"letter_number": {"pattern": "{klasifikasi}/{unit}/{tahun}"}})
    assert validate_settings({"unit_pengolah": "432.407"}) == {"unit_pengolah": "432.407"}
    for bad in ("432/407", "", " 432.407", "432..407", 432.407, "x" * 33):
        with pytest.raises(ValueError, match="unit_pengolah"):
            validate_settings({"unit_pengolah": bad})
    assert validate_unit_code("VI.01") == "VI.01"


def test_the_unit_code_is_the_kecamatans_setting_else_its_kemendagri_code():
    assert PEGANTENAN.unit_pengolah == "432.407"
    galis = next(k for k in demo_kecamatan() if k.slug == "galis")
    assert (galis.settings, galis.unit_pengolah) == ({}, "35.28.03")
    assert galis.letter_numbering() == LetterNumbering()  # no kabupaten setting: the defaults
    configured = replace(galis, kabupaten_settings={"letter_number": {"pattern": "{urut}/{unit}"}})
    assert configured.letter_numbering().pattern == "{urut}/{unit}"


def test_the_notification_samples_are_numbers_the_generator_writes():
    """A template is checked with these samples before it is stored: they are what Pegantenan's letters carry."""
    pegantenan = replace(PEGANTENAN, kabupaten_settings=PAMEKASAN_SETTINGS)
    numbering = pegantenan.letter_numbering()

    def number(urut: int) -> str:
        return numbering.number(
            klasifikasi=numbering.default["response_letter"],
            urut=urut,
            unit=pegantenan.unit_pengolah,
            tahun=2026,
            bulan=11,
            kode_wilayah=pegantenan.code,
        )

    assert sample_variables("response_letter")["nomor_surat"] == number(12)
    assert sample_variables("referral_lapsed")["surat_pelimpahan"] == number(13)


# -- the workflow: one register of outgoing letters per kecamatan and year ---------------------------------------
def pamekasan_workflow(kabupaten: dict | None = None) -> Workflow:
    """The handlers on the in-memory unit of work, the demo kecamatan under ``kabupaten``'s settings (Pamekasan's)."""
    wf = Workflow()
    places = {k.slug: replace(k, kabupaten_settings=kabupaten or PAMEKASAN_SETTINGS) for k in demo_kecamatan()}
    wf.ctx = handlers.Context(uow=wf.memory.uow, directory=places, calendars=handlers.Calendars())
    return wf


def refer(wf: Workflow, cid, at: datetime = MONDAY, **fields):
    state = walk_to(wf, cid, 4)
    return wf.act(cid, "camat", "refer", state.revision, at, agency="Dinas PUPR", reason="Jalan kabupaten", **fields)


def payload(wf: Workflow, cid) -> dict:
    return wf.events(cid)[-1].payload


def test_response_letters_and_referrals_share_the_register_and_the_camat_may_choose_the_code():
    wf = pamekasan_workflow()
    a, b, c, d = (wf.receive().complaint_id for _ in range(4))
    refer(wf, a)
    walk_to(wf, b, 11)
    refer(wf, c, klasifikasi="400.10.2.2")
    state = walk_to(wf, d, 10)
    wf.act(d, "camat", "sign-letter", state.revision, klasifikasi="400.10.2.4")
    numbers = [(payload(wf, cid)["letter_number"], payload(wf, cid)["letter_sequence"]) for cid in (a, c, d)]
    assert numbers == [
        ("000.8.3.4/1/432.407/2026", 1),
        ("400.10.2.2/3/432.407/2026", 3),
        ("400.10.2.4/4/432.407/2026", 4),
    ]
    signed_b = next(e for e in wf.events(b) if e.type == "workflow.LetterSigned").payload
    assert (signed_b["letter_number"], signed_b["letter_sequence"], signed_b["letter_year"]) == (
        "000.8.3.4/2/432.407/2026",
        2,
        2026,
    )
    assert wf.row(d)["letter_number"] == "400.10.2.4/4/432.407/2026"
    assert wf.memory.counters[("surat_keluar", "pegantenan", 2026)] == 4
    assert not any(kind in ("letter", "referral") for kind, _, _ in wf.memory.counters)


def test_a_code_not_in_the_list_is_refused_with_422_and_takes_no_number():
    wf = pamekasan_workflow()
    first, second = wf.receive().complaint_id, wf.receive().complaint_id
    state = walk_to(wf, first, 10)
    with pytest.raises(handlers.UnknownKlasifikasi) as refused:
        wf.act(first, "camat", "sign-letter", state.revision, klasifikasi="700.1.2.4")
    assert (refused.value.status, refused.value.code) == (422, "unknown_klasifikasi")
    assert "tidak ada dalam daftar kabupaten" in refused.value.message
    assert wf.types(first)[-1] == "LetterDuplicated" and wf.row(first)["current_step"] == 10  # nothing written
    assert payload(wf, refer(wf, second).complaint_id)["letter_sequence"] == 1  # its number was not taken
    assert wf.act(first, "camat", "sign-letter", state.revision).letter_number == "000.8.3.4/2/432.407/2026"


def test_a_kabupatens_own_pattern_counts_in_its_time_zone():
    own = {"time_zone": "Asia/Makassar", "letter_number": {"pattern": "{urut:03}/{unit}/{bulan}/{tahun}"}}
    wf = pamekasan_workflow(own)
    new_year = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)  # 00:30 WITA on 1 January 2027, still 2026 in WIB
    numbers = []
    for _ in range(3):
        cid = wf.receive(at=new_year).complaint_id
        wf.act(cid, "kasi", "verify-identity", 1, new_year)
        wf.act(cid, "staf", "register", 2, new_year)
        wf.act(cid, "camat", "refer", 3, new_year, agency="Dinas PUPR", reason="Jalan kabupaten")
        numbers.append((payload(wf, cid)["letter_number"], payload(wf, cid)["letter_year"]))
    assert numbers == [("001/432.407/I/2027", 2027), ("002/432.407/I/2027", 2027), ("003/432.407/I/2027", 2027)]


def test_an_existing_deployments_numbers_continue_in_the_one_register():
    """Before issue #16 response letters and referrals counted apart ("letter", "referral"): this year's first number
    of the register comes after the higher of the two, so no number already given is given again."""
    wf = pamekasan_workflow()
    wf.memory.counters.update({("letter", "pegantenan", 2026): 5, ("referral", "pegantenan", 2026): 8})
    wf.memory.counters[("referral", "galis", 2025)] = 40
    refer(wf, wf.receive().complaint_id)
    cid = wf.receive().complaint_id
    walk_to(wf, cid, 11)
    assert wf.row(cid)["letter_number"] == "000.8.3.4/10/432.407/2026"
    assert wf.memory.counters[("surat_keluar", "pegantenan", 2026)] == 10
    galis = wf.receive("galis").complaint_id
    state = walk_to(wf, galis, 4, kecamatan="galis")
    wf.act(galis, "camat", "refer", state.revision, kecamatan="galis", agency="Dinas PUPR", reason="Jalan kabupaten")
    assert payload(wf, galis)["letter_number"] == "000.8.3.4/1/35.28.03/2026"  # 2025's numbers do not count


def test_the_number_is_never_taken_from_the_body():
    wf = pamekasan_workflow()
    cid = wf.receive().complaint_id
    refer(wf, cid, letter_number="999/PALSU/2026", letter_sequence=999, letter_year=1999)
    assert [payload(wf, cid)[k] for k in ("letter_number", "letter_sequence", "letter_year")] == [
        "000.8.3.4/1/432.407/2026",
        1,
        2026,
    ]
