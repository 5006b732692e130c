"""The kecamatan's organisation as other services may know it: its units (seksi and subbagian), how a unit
named by a person is found among them, and who acts for an absent official (docs/adr/0014).

Accounts owns the organisation; the others read two views (migration 0015), one row per dataclass here, fields
in the views' column order: ``tenancy.unit_directory`` (``UnitEntry``: a unit and its head) and
``tenancy.delegation_directory`` (``Delegation``). A contract: columns are added, never renamed or dropped.

Units are data per kecamatan, owned by the accounts service; a disposition, an appointment and the pages name
a unit by its ``code``. People write names ("Seksi Pemerintahan", "kasi trantib", "Sub Bagian Umum &
Kepegawaian"): ``find_unit`` reads any of those as the unit meant, or answers None.

``PP17_UNITS`` is the organisation of a kecamatan as PP 17/2018 shapes it (a sekretariat with two subbagian, and
the seksi), the default a kabupaten's list starts from; a kabupaten's regulation (Perbup on the kecamatan's
SOTK) may name them otherwise, and an admin changes them as data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

UNIT_KINDS = ("seksi", "subbagian")
UNIT_DIRECTORY = ("tenancy", "unit_directory")  # (schema, view)
DELEGATION_DIRECTORY = ("tenancy", "delegation_directory")
# a delegate acts as Plh. (pelaksana harian: the official is away for days or weeks) or Plt. (pelaksana tugas:
# the post is vacant); what a signature block prints before the jabatan
DELEGATION_KINDS = {"plh": "Plh.", "plt": "Plt."}
# an event actor's ``acting_kind`` when an official signed a.n. (atas nama) the Camat, as the kecamatan's setting
# ``sign_atas_nama`` allows: the actor's ``role`` is their own office, printed under "a.n. CAMAT ..."
ATAS_NAMA = "an"
ATAS_NAMA_OFFICES = {"sekcam": "SEKRETARIS KECAMATAN"}  # the roles that may sign so, and their office


@dataclass(frozen=True)
class Unit:
    """One unit of a kecamatan: ``code`` names it in events and URLs, ``name`` is what people read."""

    code: str  # lower case letters, digits and hyphens: pemerintahan, trantib, umpeg
    kind: str  # one of UNIT_KINDS
    name: str  # without the kind: "Pemerintahan", "Umum dan Kepegawaian"
    short_names: tuple[str, ...] = field(default=())  # what people also write: trantib, kessos, pmd, ...

    @property
    def title(self) -> str:
        """The unit's full name: "Seksi Pemerintahan", "Subbagian Umum dan Kepegawaian"."""
        return f"{'Seksi' if self.kind == 'seksi' else 'Subbagian'} {self.name}"

    @property
    def head_title(self) -> str:
        """The jabatan of its head: "Kepala Seksi Pemerintahan", "Kepala Subbagian Umum dan Kepegawaian"."""
        return f"Kepala {self.title}"


PP17_UNITS: tuple[Unit, ...] = (
    Unit("umpeg", "subbagian", "Umum dan Kepegawaian", ("umum", "kepegawaian", "umum kepegawaian")),
    Unit("renkeu", "subbagian", "Perencanaan dan Keuangan", ("perencanaan", "keuangan", "program dan keuangan")),
    Unit("pemerintahan", "seksi", "Pemerintahan", ("tapem", "pemerintah")),
    Unit("trantib", "seksi", "Ketenteraman dan Ketertiban Umum", ("trantibum", "ketentraman dan ketertiban umum")),
    Unit("kesra", "seksi", "Kesejahteraan Sosial", ("kessos", "kesos", "kesejahteraan rakyat")),
    Unit(
        "pmd", "seksi", "Pemberdayaan Masyarakat dan Desa", ("pemberdayaan masyarakat", "pemberdayaan masyarakat desa")
    ),
    Unit("pelayanan-umum", "seksi", "Pelayanan Umum", ("pelayanan", "yanum", "pelum")),
)

# words people put before a unit's name: its kind, or its head's title
_PREFIXES = (
    "kepala seksi",
    "kepala subbagian",
    "kepala sub bagian",
    "kasubbag",
    "kasubag",
    "kasi",
    "kasie",
    "seksi",
    "sie",
    "subbagian",
    "sub bagian",
    "subbag",
    "bagian",
)
_PREFIX = re.compile(r"^(?:" + "|".join(re.escape(p) for p in _PREFIXES) + r")\b\s*")
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def normalise(text: str) -> str:
    """A unit's name as compared: case folded, "&" and "/" read as "dan", punctuation and repeated spaces gone,
    the kind or head's title in front dropped. ``normalise("Seksi  Ketenteraman & Ketertiban Umum")`` is
    ``"ketenteraman dan ketertiban umum"``."""
    folded = text.casefold().replace("&", " dan ").replace("/", " dan ")
    words = _NOT_WORD.sub(" ", folded).split()
    plain = " ".join(words)
    while True:
        stripped = _PREFIX.sub("", plain, count=1)
        if stripped == plain:
            return plain
        plain = stripped


def find_unit(units: Iterable[Unit], text: str) -> Unit | None:
    """The unit ``text`` names, by code, name or short name (see ``normalise``); None when none or several do."""
    wanted = normalise(text)
    if not wanted:
        return None
    found = {u.code: u for u in units if wanted in _names(u)}
    return next(iter(found.values())) if len(found) == 1 else None


def _names(unit: Unit) -> set[str]:
    return {normalise(unit.code), normalise(unit.code.replace("-", " ")), normalise(unit.name)} | {
        normalise(s) for s in unit.short_names
    }


@dataclass(frozen=True)
class UnitEntry:
    """One row of ``tenancy.unit_directory``: a unit and its head (its active Kasi/Kasubag), if it has one."""

    kecamatan: str
    code: str
    kind: str
    name: str
    short_names: list[str]
    active: bool
    head_username: str | None
    head_name: str | None
    head_nip: str | None
    head_pangkat: str | None
    head_golongan: str | None

    @property
    def unit(self) -> Unit:
        return Unit(self.code, self.kind, self.name, tuple(self.short_names))


@dataclass(frozen=True)
class Delegation:
    """One row of ``tenancy.delegation_directory``: ``delegate`` acts for ``role`` (a Kasi's: for ``unit``) in
    ``kecamatan`` from ``starts_on`` to ``ends_on`` (both days included, in the kabupaten's time zone), unless
    ended early (``ended_at``)."""

    id: UUID
    kecamatan: str
    role: str
    unit: str | None
    delegate: str
    kind: str  # a key of DELEGATION_KINDS
    starts_on: date
    ends_on: date
    reason: str
    granted_by: str
    granted_at: datetime
    ended_at: datetime | None

    def in_force(self, today: date) -> bool:
        return self.ended_at is None and self.starts_on <= today <= self.ends_on

    @property
    def label(self) -> str:
        """ "Plh." or "Plt.", as printed before the jabatan."""
        return DELEGATION_KINDS[self.kind]


def delegations_of(delegations: Iterable[Delegation], username: str, today: date) -> list[Delegation]:
    """The delegations in force ``today`` that let ``username`` act for another official."""
    return [d for d in delegations if d.delegate == username and d.in_force(today)]
