"""The organisation's views (``shared/contracts/organisation.py``, migration 0015) as SQLAlchemy tables, for the
services that read them, and the two questions they ask of them.

- ``unit_directory``: a kecamatan's units with their heads (``UnitEntry``);
- ``delegation_directory``: who acts for whom, when (``Delegation``).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, Date, bindparam, select

from shared.contract_views import view_table
from shared.contracts.organisation import (
    DELEGATION_DIRECTORY,
    UNIT_DIRECTORY,
    Delegation,
    UnitEntry,
)

unit_directory = view_table(UnitEntry, UNIT_DIRECTORY, key=("kecamatan", "code"))
delegation_directory = view_table(Delegation, DELEGATION_DIRECTORY, key=("id",))


# the questions, built once with their values passed at execution: every staff view of a complaint asks them, and
# building a statement anew (and its cache key) cost more than running it
_UNITS = select(unit_directory).where(unit_directory.c.kecamatan == bindparam("kecamatan"))
_UNITS_ORDER = (unit_directory.c.kind.desc(), unit_directory.c.name)
_ACTIVE_UNITS = _UNITS.where(unit_directory.c.active).order_by(*_UNITS_ORDER)
_ALL_UNITS = _UNITS.order_by(*_UNITS_ORDER)
_DAY = bindparam("day", type_=Date)
_DELEGATIONS_IN_FORCE = select(delegation_directory).where(
    delegation_directory.c.kecamatan == bindparam("kecamatan"),
    delegation_directory.c.ended_at.is_(None),
    delegation_directory.c.starts_on <= _DAY,
    delegation_directory.c.ends_on >= _DAY,
)


def units_of(conn: Connection, kecamatan: str, *, active_only: bool = True) -> list[UnitEntry]:
    """A kecamatan's units, subbagian first, then by name."""
    rows = conn.execute(_ACTIVE_UNITS if active_only else _ALL_UNITS, {"kecamatan": kecamatan}).mappings()
    return [UnitEntry(**row) for row in rows]


def delegations_in_force(conn: Connection, kecamatan: str, day: date) -> list[Delegation]:
    """The delegations of a kecamatan in force on ``day`` (a date in its kabupaten's time zone)."""
    rows = conn.execute(_DELEGATIONS_IN_FORCE, {"kecamatan": kecamatan, "day": day}).mappings()
    return [Delegation(**row) for row in rows]
