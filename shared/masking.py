"""Masking personal data for readers outside the complainant's kecamatan (invariant 9)."""
from __future__ import annotations

from typing import Any


def _keep(value: str, head: int, tail: int) -> str:
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + (value[-tail:] if tail else "")


_MASKERS = {
    "nik": lambda v: _keep(v, 4, 2),
    "phone": lambda v: _keep(v, 6, 3),
    "email": lambda v: (_keep(v.split("@")[0], 1, 0) + "@" + v.split("@", 1)[1]) if "@" in v else _keep(v, 1, 0),
    "address": lambda v: "***",
    "name": lambda v: v.split()[0] + " ***" if v.split() else "***",
}


# free text written by or about the complainant: may name them, their family, their address
FREE_TEXT = {"description", "body", "notes", "explanation", "message", "receipt", "instructions", "reason"}


def mask_personal(data: Any) -> Any:
    """A copy of ``data`` with every personal field (at any depth) masked."""
    if isinstance(data, dict):
        return {
            k: (
                _MASKERS[k](str(v)) if k in _MASKERS and v not in (None, "")
                else "[disembunyikan]" if k in FREE_TEXT and v not in (None, "")
                else mask_personal(v)
            )
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [mask_personal(v) for v in data]
    return data
