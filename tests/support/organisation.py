"""A kecamatan's officials for tests that dispose complaints: a disposition names a unit with a head
(issue #15), so a fresh kecamatan gets an active Kasi/Kasubag for each unit it will use."""

from __future__ import annotations

from sqlalchemy import Engine

from services.accounts.handlers import add_user, person
from shared.contracts.organisation import PP17_UNITS

PASSWORD = "kata-sandi-kasi-uji"


def give_heads(engine: Engine, kecamatan: str, units: tuple[str, ...] | None = None) -> list[str]:
    """An active Kasi (``kasi.<unit>.<kecamatan>``) heading each of ``units`` (default: every PP 17/2018 unit) of
    ``kecamatan``, added unless there already; their usernames."""
    names = []
    for code in units if units is not None else tuple(u.code for u in PP17_UNITS):
        username = f"kasi.{code}.{kecamatan}"[:64]
        if person(engine, username) is None:
            add_user(engine, username, f"Kasi {code} {kecamatan}", "kasi", PASSWORD, kecamatan=kecamatan, unit=code)
        names.append(username)
    return names
