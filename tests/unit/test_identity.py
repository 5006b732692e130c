"""Unit tests for shared.identity (pure, no I/O)."""

from __future__ import annotations

import pickle
from datetime import date

import pytest

from shared.identity import (
    PROVINCE_CODES,
    InvalidEmail,
    InvalidIdentity,
    InvalidNik,
    InvalidPhone,
    mask_nik,
    mask_phone,
    nik_region_code,
    normalize_email,
    normalize_phone,
    validate_nik,
)

TODAY = date(2025, 6, 15)

# Kab. Pamekasan (35.28), Kec. Pegantenan (07), born 15-05-1990, serial 0001.
NIK_MALE = "3528071505900001"
NIK_FEMALE = "3528075505900001"  # DD 55 = 15 + 40


def nik_with(*, region: str = "352807", ddmmyy: str = "150590", serial: str = "0001") -> str:
    return region + ddmmyy + serial


def nik_error(value: str, today: date = TODAY) -> InvalidNik:
    with pytest.raises(InvalidNik) as info:
        validate_nik(value, today)
    return info.value


# --------------------------------------------------------------------------
# NIK: valid  # noqa: ERA001
# --------------------------------------------------------------------------


def test_example_nik_is_valid() -> None:
    assert validate_nik(NIK_MALE, TODAY) == NIK_MALE


def test_female_day_plus_40_is_valid() -> None:
    assert validate_nik(NIK_FEMALE, TODAY) == NIK_FEMALE


@pytest.mark.parametrize(
    "typed",
    [
        "3528 0715 0590 0001",
        "35.28.07.150590.0001",
        "3528-07-150590-0001",
        "  3528071505900001\n",
        "35.28.07 15-05-90 0001",
    ],
)
def test_typed_separators_are_stripped(typed: str) -> None:
    assert validate_nik(typed, TODAY) == NIK_MALE


@pytest.mark.parametrize("province", sorted(PROVINCE_CODES))
def test_every_province_code_is_accepted(province: str) -> None:
    nik = nik_with(region=province + "0101")
    assert validate_nik(nik, TODAY) == nik


def test_province_list_is_the_38_kemendagri_codes() -> None:
    assert len(PROVINCE_CODES) == 38
    assert {"11", "21", "31", "36", "51", "65", "76", "82", "91", "96"} <= PROVINCE_CODES
    assert not PROVINCE_CODES & {"00", "10", "20", "37", "97", "99"}


@pytest.mark.parametrize(
    "ddmmyy, born",
    [
        ("290200", "2000-02-29"),  # leap year (2000)
        ("690200", "2000-02-29 female"),
        ("290296", "1996-02-29"),  # leap year, 19YY because 96 > 25
        ("290224", "2024-02-29"),
        ("010126", "1926-01-01"),  # YY 26 > today's 25 -> 1926
        ("150625", "today"),  # born today is not in the future
        ("710125", "2025-01-31 female"),  # 31 + 40
    ],
)
def test_valid_birth_dates(ddmmyy: str, born: str) -> None:
    nik = nik_with(ddmmyy=ddmmyy)
    assert validate_nik(nik, TODAY) == nik, born


# --------------------------------------------------------------------------
# NIK: invalid, one error code per broken part
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        "352807150590001",  # 15 digits
        "35280715059000011",  # 17 digits
        "3528O71505900001",  # letter O
        "3528071505900001a",
        "NIK 3528071505900001",
        "3528/07/150590/0001",  # slash is not a typed separator we strip
        "３５２８０７１５０５９０００１",  # full-width digits
    ],
)
def test_nik_format(value: str) -> None:
    err = nik_error(value)
    assert err.code == "nik_format"
    assert err.message == "NIK harus 16 digit angka."


@pytest.mark.parametrize("province", ["00", "99", "10", "20", "37", "97"])
def test_nik_region_unknown_province(province: str) -> None:
    err = nik_error(nik_with(region=province + "2807"))
    assert err.code == "nik_region"
    assert "provinsi" in err.message


def test_nik_region_kabupaten_00() -> None:
    err = nik_error(nik_with(region="350007"))
    assert err.code == "nik_region"
    assert "kabupaten/kota" in err.message


def test_nik_region_kecamatan_00() -> None:
    err = nik_error(nik_with(region="352800"))
    assert err.code == "nik_region"
    assert "kecamatan" in err.message


@pytest.mark.parametrize(
    "ddmmyy",
    [
        "310290",  # 31 Feb
        "290290",  # 29 Feb 1990, not a leap year
        "290201",  # 29 Feb 2001, not a leap year
        "690201",  # same, female form
        "290225",  # 29 Feb 2025, not a leap year
        "000190",  # day 00
        "320190",  # day 32
        "400190",  # day 40 (neither a male nor a female day)
        "720190",  # female day 32
        "151390",  # month 13
        "150090",  # month 00
        "310490",  # 31 Apr
    ],
)
def test_nik_birth_date_does_not_exist(ddmmyy: str) -> None:
    err = nik_error(nik_with(ddmmyy=ddmmyy))
    assert err.code == "nik_birth_date"
    assert "Tanggal lahir" in err.message


@pytest.mark.parametrize("ddmmyy", ["160625", "560625", "011225", "311225"])
def test_nik_birth_date_in_the_future(ddmmyy: str) -> None:
    err = nik_error(nik_with(ddmmyy=ddmmyy))
    assert err.code == "nik_birth_date"
    assert "setelah hari ini" in err.message


def test_future_check_uses_the_given_today_not_the_clock() -> None:
    nik = nik_with(ddmmyy="160625")
    assert validate_nik(nik, date(2025, 6, 16)) == nik
    assert nik_error(nik, date(2025, 6, 15)).code == "nik_birth_date"


def test_century_follows_today() -> None:
    nik = nik_with(ddmmyy="290200")
    # Seen in 2025, YY 00 is 2000: a leap year.
    assert validate_nik(nik, TODAY) == nik
    # Seen in 1999, YY 00 is not > 99, so it reads as 2000: in the future.
    assert nik_error(nik, date(1999, 12, 31)).code == "nik_birth_date"


def test_nik_serial_0000() -> None:
    err = nik_error(nik_with(serial="0000"))
    assert err.code == "nik_serial"
    assert "0000" in err.message


def test_first_broken_part_decides_the_code() -> None:
    # Region and date and serial all broken: region is reported.
    assert nik_error("9900003102900000").code == "nik_region"
    # Date and serial broken: date is reported.
    assert nik_error(nik_with(ddmmyy="310290", serial="0000")).code == "nik_birth_date"


def test_nik_error_shape() -> None:
    err = nik_error("123")
    assert isinstance(err, InvalidIdentity)
    assert isinstance(err, Exception)
    assert str(err) == err.message
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is InvalidNik
    assert (clone.code, clone.message) == (err.code, err.message)


# --------------------------------------------------------------------------
# NIK helpers
# --------------------------------------------------------------------------


def test_nik_region_code() -> None:
    assert nik_region_code(NIK_MALE) == "35.28.07"
    assert nik_region_code("3528 0755 0590 0001") == "35.28.07"


def test_nik_region_code_rejects_non_nik() -> None:
    with pytest.raises(InvalidNik) as info:
        nik_region_code("352807")
    assert info.value.code == "nik_format"


def test_mask_nik() -> None:
    assert mask_nik(NIK_MALE) == "3528**********01"
    assert mask_nik("3273-01-420385-0042") == "3273**********42"
    assert len(mask_nik(NIK_FEMALE)) == 16


# --------------------------------------------------------------------------
# Phone
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, e164",
    [
        ("081234567890", "+6281234567890"),
        ("+62 812-3456-7890", "+6281234567890"),
        ("6281234567890", "+6281234567890"),
        ("0812 3456 7890", "+6281234567890"),
        ("  0812.3456.7890 ", "+6281234567890"),
        ("(0324) 7710982", "+623247710982"),
        ("+65 9123 4567", "+6591234567"),  # foreign numbers in + form are fine
    ],
)
def test_normalize_phone(typed: str, e164: str) -> None:
    assert normalize_phone(typed) == e164


@pytest.mark.parametrize(
    "typed",
    [
        "12345",
        "0812",
        "",
        "   ",
        "abc",
        "0812ABCDEFGH",
        "0812-CALL-ME-NOW",  # would be a "valid" vanity number without the letter check
        "08123456789012345",  # too long
        "+",
    ],
)
def test_normalize_phone_rejects(typed: str) -> None:
    with pytest.raises(InvalidPhone) as info:
        normalize_phone(typed)
    assert isinstance(info.value, InvalidIdentity)
    assert info.value.code == "phone_invalid"
    assert "Nomor telepon tidak valid" in info.value.message


def test_mask_phone() -> None:
    assert mask_phone("+6281234567890") == "+62812*****890"
    assert mask_phone("+623247710982") == "+62324****982"
    assert mask_phone(normalize_phone("0812 3456 7890")) == "+62812*****890"


def test_mask_phone_rejects_garbage() -> None:
    with pytest.raises(InvalidPhone):
        mask_phone("bukan nomor")


# --------------------------------------------------------------------------
# Email
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, normalized",
    [
        ("budi@pegantenan.desa.id", "budi@pegantenan.desa.id"),
        ("Budi.Santoso@Example.COM", "Budi.Santoso@example.com"),
        ("  warga+aduan@gmail.com ", "warga+aduan@gmail.com"),
    ],
)
def test_normalize_email(typed: str, normalized: str) -> None:
    assert normalize_email(typed) == normalized


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "budi",
        "budi@",
        "@example.com",
        "budi@@example.com",
        "budi@example",
        "budi santoso@example.com",
        "budi@exa mple.com",
        "budi@.example.com",
    ],
)
def test_normalize_email_rejects(typed: str) -> None:
    with pytest.raises(InvalidEmail) as info:
        normalize_email(typed)
    assert isinstance(info.value, InvalidIdentity)
    assert info.value.code == "email_invalid"
    assert "email tidak valid" in info.value.message
