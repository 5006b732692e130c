"""The tracking code: the complainant's handle on a complaint, printed on the receipt, sent by SMS and e-mail
and typed back into the tracking page, the letters' download links and Open311.

Intake makes the codes (:func:`new_tracking_code`); every service that takes one from a person reads it with
:func:`normalize_tracking_code`, so that all of them accept the same typing and answer the same canonical form.
The format is a contract: codes already handed out stay valid, so it only ever grows tolerant, never changes.

Format: 10 Crockford base32 characters grouped ``XXXX-XXXX-XX`` (:data:`TRACKING_CODE_PATTERN`), 50 random
bits. Pure: no I/O, no randomness of its own (callers pass the random bytes).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "TRACKING_CODE_ALPHABET",
    "TRACKING_CODE_PATTERN",
    "TRACKING_CODE_RANDOM_BYTES",
    "new_tracking_code",
    "normalize_tracking_code",
]

TRACKING_CODE_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford base32: the digits and the letters without I, L, O and U."""

TRACKING_CODE_PATTERN: Final = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{2}")
"""The canonical form (what :func:`new_tracking_code` makes and :func:`normalize_tracking_code` answers)."""

TRACKING_CODE_RANDOM_BYTES: Final = 7
"""How many random bytes :func:`new_tracking_code` takes (56 bits in, the top 50 used)."""

_BITS: Final = 50
_CHARS: Final = 10  # 50 bits / 5 bits per character
_ALPHABET_SET: Final = frozenset(TRACKING_CODE_ALPHABET)
# Crockford decoding: letters easily mistaken for digits read as those digits.
_CONFUSABLES: Final = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS: Final = re.compile(r"[\s\-]+")


def _grouped(chars: str) -> str:
    return f"{chars[0:4]}-{chars[4:8]}-{chars[8:10]}"


def new_tracking_code(randbytes: bytes) -> str:
    """Turn 7 random bytes into a tracking code such as ``"7KQ2-M9XD-4T"``.

    Why this shape:

    * The code is the citizen's only handle on an anonymous-ish complaint, so
      it must not be guessable: 50 random bits give 2**50 (~10**15) codes, so
      even millions of complaints leave enumeration hopeless with rate
      limiting. Use ``secrets.token_bytes(7)``; the top 50 of the 56 bits
      are used.
    * It must survive being read aloud over the phone, written on paper and
      typed on a phone keyboard: Crockford base32 has no I, L, O or U (no
      1/I/L, 0/O confusion, no accidental words), is case-insensitive, and
      packs 5 bits per character so 10 characters suffice. Grouped 4-4-2 it
      reads like a phone number.
    * There is no check character: a mistyped code is simply a code that is
      not found, which the lookup reports the same way.
    """
    if len(randbytes) != TRACKING_CODE_RANDOM_BYTES:
        raise ValueError(
            f"new_tracking_code needs exactly {TRACKING_CODE_RANDOM_BYTES} random bytes, got {len(randbytes)}"
        )
    value = int.from_bytes(randbytes, "big") >> (8 * TRACKING_CODE_RANDOM_BYTES - _BITS)
    chars = []
    for _ in range(_CHARS):
        value, digit = divmod(value, 32)
        chars.append(TRACKING_CODE_ALPHABET[digit])
    return _grouped("".join(reversed(chars)))


def normalize_tracking_code(value: object) -> str | None:
    """Canonical ``XXXX-XXXX-XX`` form of a typed code, or ``None``.

    Tolerates lower case, missing/extra hyphens and spaces, and the Crockford
    confusables O -> 0, I/L -> 1. Returns ``None`` when the input cannot be a
    code at all (wrong length, U or other characters), so callers can answer
    "kode tidak dikenal" without a lookup.
    """
    if not isinstance(value, str) or not value.isascii():
        # ASCII only: str.upper() would turn e.g. Turkish "ı" into "I".
        return None
    chars = _SEPARATORS.sub("", value).upper().translate(_CONFUSABLES)
    if len(chars) != _CHARS or any(c not in _ALPHABET_SET for c in chars):
        return None
    return _grouped(chars)
