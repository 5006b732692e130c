"""Units are found by the names people write (issue #15 item 2, docs/adr/0014): by code, by name in any case,
with or without "Seksi"/"Subbagian" or the head's title in front; an unknown or ambiguous name finds nothing."""

import pytest

from shared.contracts.organisation import PP17_UNITS, Unit, find_unit, normalise


@pytest.mark.parametrize(
    "written, code",
    [
        ("pemerintahan", "pemerintahan"),
        ("Seksi Pemerintahan", "pemerintahan"),
        ("SEKSI PEMERINTAHAN", "pemerintahan"),
        ("  seksi   pemerintahan ", "pemerintahan"),
        ("Kasi Pemerintahan", "pemerintahan"),
        ("Kepala Seksi Pemerintahan", "pemerintahan"),
        ("Sie. Trantib", "trantib"),
        ("Seksi Ketenteraman dan Ketertiban Umum", "trantib"),
        ("ketenteraman & ketertiban umum", "trantib"),
        ("Seksi Ketentraman dan Ketertiban Umum", "trantib"),  # the common misspelling
        ("kessos", "kesra"),
        ("Seksi Kesejahteraan Sosial", "kesra"),
        ("PMD", "pmd"),
        ("Seksi Pemberdayaan Masyarakat dan Desa", "pmd"),
        ("pelayanan umum", "pelayanan-umum"),  # the free text the demo Kasi's unit was written in
        ("pelayanan-umum", "pelayanan-umum"),
        ("Subbagian Umum dan Kepegawaian", "umpeg"),
        ("Sub Bagian Umum & Kepegawaian", "umpeg"),
        ("Kasubag Umpeg", "umpeg"),
        ("Subbag Perencanaan dan Keuangan", "renkeu"),
    ],
)
def test_a_unit_is_found_by_what_people_write(written, code):
    found = find_unit(PP17_UNITS, written)
    assert found is not None and found.code == code


@pytest.mark.parametrize("written", ["", "Seksi", "   ", "Seksi Pertanian", "pemerintahan desa lain", "Camat"])
def test_unknown_names_find_nothing(written):
    assert find_unit(PP17_UNITS, written) is None


def test_a_name_two_units_share_finds_neither():
    units = (Unit("a", "seksi", "Umum"), Unit("b", "subbagian", "Umum"))
    assert find_unit(units, "umum") is None
    assert find_unit(units, "a").code == "a"  # the code still tells them apart


def test_titles_and_normal_form():
    pem = find_unit(PP17_UNITS, "pemerintahan")
    assert pem.title == "Seksi Pemerintahan" and pem.head_title == "Kepala Seksi Pemerintahan"
    umpeg = find_unit(PP17_UNITS, "umpeg")
    assert umpeg.title == "Subbagian Umum dan Kepegawaian"
    assert normalise("Seksi  Ketenteraman & Ketertiban Umum") == "ketenteraman dan ketertiban umum"


def test_the_default_units_are_unambiguous():
    """Every code, name and short name of the default list finds its own unit and no other."""
    for unit in PP17_UNITS:
        for written in (unit.code, unit.name, unit.title, unit.head_title, *unit.short_names):
            assert find_unit(PP17_UNITS, written) == unit, written
