"""What the SP4N-LAPOR! bridge deals in, as plain values: a report LAPOR! disposed to a kecamatan, a page of them, a
follow-up the kecamatan reports back. Pure: no I/O; the shapes LAPOR!'s API gives them are read and written in
``adapters/mapping.py`` only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

# the two states a follow-up leaves a LAPOR! report in: still being handled, or closed by this answer
Status = Literal["proses", "selesai"]


@dataclass(frozen=True)
class LaporAttachment:
    """A file attached to a report, fetched from LAPOR! by its address when the report is imported."""

    name: str
    url: str


@dataclass(frozen=True)
class LaporReport:
    """A complaint LAPOR! disposed to one of our instansi (a kecamatan)."""

    tracking_id: str  # LAPOR!'s own id: unique, stable, what the complainant was given
    instansi_id: str  # the LAPOR! instansi it was disposed to
    title: str
    content: str
    category: str | None  # LAPOR!'s category name (our categories' ``lapor`` field)
    reported_at: datetime  # when the complainant filed it at LAPOR!
    disposed_at: datetime  # when LAPOR! disposed it to the instansi: when it reached the office
    reporter_name: str | None = None
    reporter_phone: str | None = None
    reporter_email: str | None = None
    anonymous: bool = False  # LAPOR! tells nobody who filed it
    confidential: bool = False  # LAPOR!'s "rahasia": the complainant's identity kept from the public
    attachments: tuple[LaporAttachment, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ReportPage:
    """One page of dispositions after a cursor; ``next_cursor`` is where the next page starts (None: none yet,
    keep the cursor), ``more``: another page is waiting now."""

    reports: tuple[LaporReport, ...]
    next_cursor: str | None
    more: bool = False
    # reports that could not be read, kept refused for a person (their id, or a stand-in, and why) while the
    # page's good reports and the cursor go on: one bad report never blocks its instansi
    unreadable: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class FollowUp:
    """One follow-up reported to LAPOR! on a report: what happened (``kind``, a stable code), the text LAPOR! shows,
    and whether it closes the report there."""

    kind: str
    status: Status
    text: str
    occurred_at: datetime
    letter_number: str | None = None
