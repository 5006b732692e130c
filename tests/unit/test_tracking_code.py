"""Unit tests for shared.contracts.tracking: the tracking code's format (pure, no I/O)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.contracts.tracking import (
    TRACKING_CODE_ALPHABET,
    TRACKING_CODE_PATTERN,
    new_tracking_code,
    normalize_tracking_code,
)

CODE_SHAPE = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{2}")


def decode(code: str) -> int:
    value = 0
    for ch in code.replace("-", ""):
        value = value * 32 + TRACKING_CODE_ALPHABET.index(ch)
    return value


def code_for(value_50_bits: int) -> str:
    return new_tracking_code((value_50_bits << 6).to_bytes(7, "big"))


def test_the_documented_pattern_is_the_canonical_shape() -> None:
    assert TRACKING_CODE_PATTERN.pattern == CODE_SHAPE.pattern


def test_tracking_alphabet_is_crockford() -> None:
    assert TRACKING_CODE_ALPHABET == "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    assert len(set(TRACKING_CODE_ALPHABET)) == 32


def test_tracking_code_known_vectors() -> None:
    assert new_tracking_code(bytes(7)) == "0000-0000-00"
    assert new_tracking_code(b"\xff" * 7) == "ZZZZ-ZZZZ-ZZ"
    assert code_for(1) == "0000-0000-01"
    assert code_for(2**50 - 1) == "ZZZZ-ZZZZ-ZZ"
    # The low 6 of the 56 bits are not used.
    assert new_tracking_code(b"\x00" * 6 + b"\x3f") == "0000-0000-00"


@pytest.mark.parametrize("n", [0, 6, 8, 16])
def test_tracking_code_needs_exactly_7_bytes(n: int) -> None:
    with pytest.raises(ValueError):
        new_tracking_code(b"\x01" * n)


@given(st.binary(min_size=7, max_size=7))
def test_tracking_code_round_trip(randbytes: bytes) -> None:
    code = new_tracking_code(randbytes)
    assert CODE_SHAPE.fullmatch(code)
    assert normalize_tracking_code(code) == code
    assert normalize_tracking_code(code.lower().replace("-", "")) == code
    assert normalize_tracking_code(" " + code.replace("-", " - ") + " ") == code
    assert decode(code) == int.from_bytes(randbytes, "big") >> 6


@given(
    st.integers(min_value=0, max_value=2**50 - 1),
    st.integers(min_value=0, max_value=2**50 - 1),
)
def test_different_50_bit_values_give_different_codes(a: int, b: int) -> None:
    assert (code_for(a) == code_for(b)) == (a == b)


@pytest.mark.parametrize(
    "typed, canonical",
    [
        ("O1IL-ABCD-EF", "0111-ABCD-EF"),
        ("oilL-abcd-ef", "0111-ABCD-EF"),
        ("7kq2m9xd4t", "7KQ2-M9XD-4T"),
        ("7KQ2--M9XD--4T", "7KQ2-M9XD-4T"),
        ("7 K Q 2 M 9 X D 4 T", "7KQ2-M9XD-4T"),
        ("7kq-2m9-xd4t", "7KQ2-M9XD-4T"),
    ],
)
def test_normalize_tracking_code_tolerates_typing(typed: str, canonical: str) -> None:
    assert normalize_tracking_code(typed) == canonical


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "----",
        "7KQ2-M9XD-4",  # 9 characters
        "7KQ2-M9XD-4TT",  # 11 characters
        "7KQ2-M9XD-4U",  # U is not in the alphabet
        "7KQ2-M9XD-4!",
        "7KQ2_M9XD_4T",
        "7KQ2-M9XD-4ı",  # dotless i would upper-case to I
        "7KQ2.M9XD.4T",
    ],
)
def test_normalize_tracking_code_rejects(typed: str) -> None:
    assert normalize_tracking_code(typed) is None
