"""The kecamatan's organisation as the workflow reads it (accounts' views, ``shared/organisation_directory.py``):
which units a disposition may name, and who acts for whom today. Read on a short connection of its own, outside
the unit of work: reference data, not the complaint's."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import Engine

from shared.contracts.organisation import Delegation, UnitEntry
from shared.organisation_directory import delegations_in_force, units_of


class OrganisationDirectory:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def units(self, kecamatan: str) -> list[UnitEntry]:
        with self._engine.connect() as conn:
            return units_of(conn, kecamatan)

    def delegations(self, kecamatan: str, day: date) -> list[Delegation]:
        with self._engine.connect() as conn:
            return delegations_in_force(conn, kecamatan, day)


class MemoryOrganisation:
    """The same, from lists: for unit tests."""

    def __init__(self, units: Iterable[UnitEntry] = (), delegations: Iterable[Delegation] = ()) -> None:
        self.unit_entries = list(units)
        self.delegation_list = list(delegations)

    def units(self, kecamatan: str) -> list[UnitEntry]:
        return [u for u in self.unit_entries if u.kecamatan == kecamatan and u.active]

    def delegations(self, kecamatan: str, day: date) -> list[Delegation]:
        return [d for d in self.delegation_list if d.kecamatan == kecamatan and d.in_force(day)]
