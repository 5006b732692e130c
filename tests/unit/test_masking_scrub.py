"""``shared.masking.scrub``: a receiving office's answer as the holder of the tracking code reads it on the public
tracking page, masked of the complainant's data and of anything shaped like a NIK, a phone number or an e-mail."""

from __future__ import annotations

from shared.masking import REDACTED, scrub

PERSON = {
    "nik": "3528071505900001",
    "phone": "+6281234567890",
    "email": "siti@example.id",
    "address": "Dusun Bunangka RT 02, Desa Pegantenan",
}


def test_the_complainants_own_values_and_name_word_by_word_are_hidden():
    text = "Kepada Ibu Siti Aminah, Dusun Bunangka RT 02, Desa Pegantenan: Ibu Siti diminta datang. SITI setuju."
    assert scrub(text, PERSON.values(), names=["Siti Aminah"]) == (
        f"Kepada Ibu {REDACTED}, {REDACTED}: Ibu {REDACTED} diminta datang. {REDACTED} setuju."
    )


def test_numbers_and_addresses_of_anyone_are_hidden_by_their_shape():
    text = (
        "NIK 3528071505900002; HP 0812-3456-7891, +62 813 1111 2222, 6285700001111 dan 0857.0000.1111; "
        "surel pak.rahmat@desa.example.id."
    )
    assert scrub(text) == (f"NIK {REDACTED}; HP {REDACTED}, {REDACTED}, {REDACTED} dan {REDACTED}; surel {REDACTED}.")


def test_what_is_not_personal_stays_as_it_was_written():
    text = (
        "Surat 100/23/2026 tanggal 2 Maret 2026: jalan Dusun Bunangka diperbaiki Maret (anggaran Rp 250.000.000). "
        "Kantor: (0324) 322-111. Alimin dari Dinas PUPR."
    )
    assert scrub(text, PERSON.values(), names=["Ali"]) == text  # whole words only: Ali is not Alimin
    assert scrub("", PERSON.values(), names=[None, " "]) == ""


def test_numbers_written_with_separators_or_an_address_spelled_out_are_hidden_too():
    """A NIK is often written in groups of four, a mobile number with brackets; an address with [at]."""
    text = (
        "NIK 3528 0715 0590 0001, NIK lain 3528.0112.0380.0002; hubungi (0812) 345-67890 atau +62 (812) 3456 7890; "
        "surel budi.santoso [at] mail [dot] com."
    )
    assert scrub(text, PERSON.values()) == (
        f"NIK {REDACTED}, NIK lain {REDACTED}; hubungi {REDACTED} atau {REDACTED}; surel {REDACTED}."
    )
