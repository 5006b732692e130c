"""The organisation's views (``shared/contracts/organisation.py``, migration 0015) as SQLAlchemy tables, for the
services that read them, and the two questions they ask of them.

- ``unit_directory``: a kecamatan's units with their heads (``UnitEntry``);
- ``delegation_directory``: who acts for whom, when (``Delegation``).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, select

from shared.contract_views import view_table
from shared.contracts.organisation import (
    DELEGATION_DIRECTORY,
    UNIT_DIRECTORY,
    Delegation,
    UnitEntry,
)

unit_directory = view_table(UnitEntry, UNIT_DIRECTORY, key=("kecamatan", "code"))
delegation_directory = view_table(Delegation, DELEGATION_DIRECTORY, key=("id",))


def units_of(conn: Connection, kecamatan: str, *, active_only: bool = True) -> list[UnitEntry]:
    """A kecamatan's units, subbagian first, then by name."""
    query = select(unit_directory).where(unit_directory.c.kecamatan == kecamatan)
    if active_only:
        query = query.where(unit_directory.c.active)
    rows = conn.execute(query.order_by(unit_directory.c.kind.desc(), unit_directory.c.name)).mappings()
    return [UnitEntry(**row) for row in rows]


def delegations_in_force(conn: Connection, kecamatan: str, day: date) -> list[Delegation]:
    """The delegations of a kecamatan in force on ``day`` (a date in its kabupaten's time zone)."""
    d = delegation_directory.c
    rows = conn.execute(
        select(delegation_directory).where(
            d.kecamatan == kecamatan, d.ended_at.is_(None), d.starts_on <= day, d.ends_on >= day
        )
    ).mappings()
    return [Delegation(**row) for row in rows]
