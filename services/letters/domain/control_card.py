"""The Kartu Kendali (control card) of a complaint, the SOP's instrument for steps 4 to 11: every step, who did
it, when it started and ended, against its standard time; the pauses; how it ended. Read from the complaint's
events at the moment it is printed. Pure: the working calendar, the people's and units' names and that moment
come in.

How the times are read (as the dashboard's step times are, services/dashboard/domain/complaints.py):

- step 1 runs from the receipt (``received_at``) to when the complaint was in the system (``entered_at``: a form
  from the complaint box typed in later), and is due 15 office minutes after the receipt;
- every other step starts when the one before it ended (step 2: at the receipt, as the workflow counts it) and
  is due when the workflow said (the ``next_due_at`` of the event that started it);
- a step done by its due time is "tepat waktu", after it "terlambat"; a step not done yet is "sedang berjalan"
  ("sedang berjalan, terlambat" once its due time passed); a step not reached is "-", or "tidak dilalui" once the
  complaint will not reach it (closed, or referred);
- elapsed time ("waktu nyata") is office time on the kecamatan's calendar: nights, weekends, holidays and breaks
  do not count. Under an office day it reads in hours and minutes, above it in working days.

Pauses have rows of their own: the wait for the complainant's documents at step 2 (the step's clock stops, and
starts again in full when they come) and the wait for the answer of the office a complaint was referred to.
The last row is the end: how the complaint closed, from the receipt, against the promise of 12 working days.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from services.letters.domain.letter import Letterhead, Zone
from shared.calendar import OfficeHours
from shared.contracts import sop
from shared.contracts.intake import CHANNEL_LABELS
from shared.contracts.organisation import ATAS_NAMA, DELEGATION_KINDS
from shared.contracts.workflow import (
    ClosedIncomplete,
    ComplaintReceived,
    ComplaintReferred,
    ComplaintRegistered,
    ComplaintWithdrawn,
    DispositionIssued,
    DispositionRedirected,
    DocumentsReceived,
    DocumentsRequested,
    IdentityRejected,
    LetterReturned,
    MarkedDuplicate,
    ReferralAnswered,
    ReferralLapsed,
    ResponseSent,
    StepCompleted,
)
from shared.events import Actor, EventEnvelope

__all__ = ["ROLE_LABELS", "CardRow", "ControlCard", "control_card", "duration"]

ROLE_LABELS = {"staf": "Staf", "kasi": "Kasi/Kasubag", "sekcam": "Sekcam", "camat": "Camat"}
UNIT_BOUND_STEPS = (5, 6)  # the Kasi of the disposed unit acts (as the workflow's model)

ON_TIME = "tepat waktu"
LATE = "terlambat"
RUNNING = "sedang berjalan"
RUNNING_LATE = "sedang berjalan, terlambat"
NOT_YET = "-"
SKIPPED = "tidak dilalui"

RowKind = Literal["step", "pause", "end"]


class Calendar(Protocol):
    """The kecamatan's working calendar (``shared.calendar.WorkingCalendar``)."""

    hours: OfficeHours

    def add_office_minutes(self, start: datetime, minutes: int) -> datetime: ...

    def office_minutes_between(self, a: datetime, b: datetime) -> int: ...


@dataclass(frozen=True)
class CardRow:
    kind: RowKind
    number: int | None  # the SOP step; None for a pause or the end
    activity: str  # the SOP's words for the step ("Kegiatan"), or what the pause or the end was
    performer: str  # the role ("Pelaksana"), and on a line of its own who did it
    started: datetime | None
    finished: datetime | None
    standard: str  # "15 menit", "3 hari kerja", "s.d. 12 Desember 2026"
    actual: str  # the office time it took (so far): "12 menit", "1 jam 5 menit", "1,5 hari kerja"; "-"
    note: str  # "tepat waktu", "terlambat", "sedang berjalan", "-", ...


@dataclass(frozen=True)
class ControlCard:
    letterhead: Letterhead
    zone: Zone
    tracking_code: str
    register_number: str | None  # "12/2026" once registered (step 3)
    received_at: datetime
    channel: str  # as people read it
    complainant_name: str
    subject: str
    unit: str | None  # the unit it is disposed to, as people read it
    status: str
    deadline_at: datetime | None  # the 12-working-day promise
    rows: tuple[CardRow, ...]
    printed_at: datetime


def duration(minutes: int, day_minutes: int) -> str:
    """Office time as people say it: ``"12 menit"``, ``"1 jam 5 menit"``, and from one office day on in working
    days with one decimal (``"1,5 hari kerja"``)."""
    if minutes < 60:
        return f"{minutes} menit"
    if minutes < day_minutes:
        hours, rest = divmod(minutes, 60)
        return f"{hours} jam {rest} menit" if rest else f"{hours} jam"
    days = f"{minutes / day_minutes:.1f}".replace(".", ",").removesuffix(",0")
    return f"{days} hari kerja"


def standard_label(step: sop.Step) -> str:
    return f"{step.standard_time} {'menit' if step.unit == 'minutes' else 'hari kerja'}"


def standard_minutes(step: sop.Step, calendar: Calendar) -> int:
    if step.unit == "minutes":
        return step.standard_time
    return step.standard_time * calendar.hours.standard_day_minutes()


def performer(actor: Actor | None, role: str, people: Mapping[str, str]) -> str:
    """Who did it: the role acted in ("Camat", "Plh. Camat", "Sekcam a.n. Camat") and the person's name (their
    username when the directory does not know them); the step's role alone when nobody in particular did it."""
    if actor is None:
        return ROLE_LABELS.get(role, role)
    if actor.kind == "system":
        return "Sistem"
    if actor.kind == "complainant":
        return "Pengadu"
    if not actor.user_id:
        return ROLE_LABELS.get(role, role)
    own = ROLE_LABELS.get(actor.role or role, actor.role or role)
    label = own
    if actor.acting_for and actor.acting_kind in DELEGATION_KINDS:
        label = f"{DELEGATION_KINDS[actor.acting_kind]} {ROLE_LABELS.get(actor.acting_for, actor.acting_for)}"
    elif actor.acting_for and actor.acting_kind == ATAS_NAMA:
        label = f"{own} a.n. {ROLE_LABELS.get(actor.acting_for, actor.acting_for)}"
    return f"{label}\n{people.get(actor.user_id) or actor.user_id}"


@dataclass
class _Running:
    step: int
    started: datetime
    due: datetime | None


@dataclass
class _Pause:
    activity: str
    performer: str
    started: datetime
    until: datetime | None
    waiting: str  # its note while it lasts


class _Card:
    """The rows as the events come, one at a time (``read``); ``rows`` once read to the end."""

    def __init__(
        self,
        received: ComplaintReceived,
        calendar: Calendar,
        zone: Zone,
        people: Mapping[str, str],
        units: Mapping[str, str],
    ) -> None:
        self.received = received
        self.definition = sop.definition_for(received.sop_version, received.sop_overrides)
        self.calendar, self.zone, self.people, self.units = calendar, zone, people, units
        self.day = calendar.hours.standard_day_minutes()
        self.done: list[CardRow] = []
        self.running: _Running | None = _Running(2, received.received_at, received.next_due_at)
        self.pause: _Pause | None = None
        self.end: CardRow | None = None
        self.referred = False
        self.unit: str | None = None
        self.register_number: str | None = None
        self._first_step()

    def unit_name(self, code: str | None) -> str:
        return "-" if code is None else self.units.get(code, code)

    # -- what each event does -------------------------------------------------------------------------------
    def _first_step(self) -> None:
        r, step = self.received, self.definition.step(1)
        finished = max(r.received_at, r.entered_at or r.received_at)
        due = self.calendar.add_office_minutes(r.received_at, step.standard_time) if step.unit == "minutes" else None
        if r.entered_by:
            who = f"{ROLE_LABELS.get(step.role, step.role)}\n{self.people.get(r.entered_by) or r.entered_by}"
        else:  # web, SMS, WhatsApp, e-mail: received by the system itself
            who = f"Sistem\n({CHANNEL_LABELS.get(r.channel, r.channel)})"
        self._step_row(1, r.received_at, finished, due, who)

    def read(self, event: EventEnvelope) -> None:
        e, at, actor = event.decode(), event.occurred_at, event.actor
        if isinstance(e, DocumentsRequested):
            self._close(2, at, actor, "meminta kelengkapan identitas")
            self.pause = _Pause(
                "Menunggu kelengkapan identitas dari pengadu", "Pengadu", at, e.close_after, "sedang menunggu"
            )
        elif isinstance(e, DocumentsReceived):
            self._end_pause(at, "kelengkapan diterima")
            self.running = _Running(2, at, e.next_due_at)
        elif isinstance(e, ClosedIncomplete):
            self._end_pause(at, "tidak diterima")
            self._finish(at, actor, "Ditutup: kelengkapan identitas tidak diterima")
        elif isinstance(e, IdentityRejected):
            self._close(2, at, actor, "identitas ditolak")
            self._finish(at, actor, "Ditutup: identitas pengadu ditolak")
        elif isinstance(e, DispositionRedirected):
            if self.running is not None:  # the first unit's turn ends without its Kasi's work
                who = f"{ROLE_LABELS['kasi']}\n{self.unit_name(self.unit or e.previous_unit)}"
                outcome = f"disposisi dialihkan ke {self.unit_name(e.unit)}"
                self._close(self.running.step, at, None, outcome, who=who, note="dialihkan")
            self.unit = e.unit
            self.running = _Running(5, at, e.next_due_at)
        elif isinstance(e, ComplaintReferred):
            self._close(4, at, actor, f"dilimpahkan kepada {e.agency}")
            self.referred = True
            if e.follow_up_by is not None:
                self.pause = _Pause(
                    f"Menunggu tanggapan {e.agency} atas pelimpahan", e.agency, at, e.follow_up_by, "sedang dipantau"
                )
            else:  # written before referrals were followed: closed at once
                self._finish(at, actor, f"Selesai: dilimpahkan kepada {e.agency}")
        elif isinstance(e, (ReferralAnswered, ReferralLapsed)):
            answered = isinstance(e, ReferralAnswered)
            self._end_pause(at, "tanggapan diterima" if answered else "tanpa tanggapan")
            self._finish(
                at,
                actor,
                "Selesai: dilimpahkan, tanggapan instansi dicatat"
                if answered
                else "Selesai: dilimpahkan, pemantauan berakhir tanpa tanggapan",
            )
        elif isinstance(e, (ComplaintWithdrawn, MarkedDuplicate)):
            if self.running is not None:
                self._close(self.running.step, at, None, None, note="dihentikan")
            self._end_pause(at, "dihentikan")
            ended = (
                "Ditutup: pengaduan dicabut"
                if isinstance(e, ComplaintWithdrawn)
                else f"Ditutup: duplikat dari pengaduan {e.duplicate_of}"
            )
            self._finish(at, actor, ended)
        elif isinstance(e, StepCompleted):
            self._close(e.step, at, actor, "dikembalikan untuk perbaikan" if isinstance(e, LetterReturned) else None)
            if isinstance(e, ComplaintRegistered):
                self.register_number = f"{e.register_number}/{e.register_year}"
            if isinstance(e, DispositionIssued):
                self.unit = e.unit
            if e.next_step is not None:
                self.running = _Running(e.next_step, at, e.next_due_at)
            if isinstance(e, ResponseSent):
                self._finish(at, actor, "Selesai: surat tanggapan dikirim kepada pengadu")

    # -- rows ---------------------------------------------------------------------------------------------------
    def _close(
        self,
        number: int,
        at: datetime,
        actor: Actor | None,
        outcome: str | None,
        *,
        who: str | None = None,
        note: str | None = None,
    ) -> None:
        running = self.running if self.running is not None and self.running.step == number else None
        self.running = None
        started = running.started if running else at
        step = self.definition.step(number)
        self._step_row(
            number,
            started,
            at,
            running.due if running else None,
            who or performer(actor, step.role, self.people),
            outcome=outcome,
            note=note,
        )

    def _step_row(
        self,
        number: int,
        started: datetime,
        finished: datetime,
        due: datetime | None,
        who: str,
        *,
        outcome: str | None = None,
        note: str | None = None,
    ) -> None:
        step = self.definition.step(number)
        elapsed = self.calendar.office_minutes_between(started, finished)
        within = finished <= due if due is not None else elapsed <= standard_minutes(step, self.calendar)
        self.done.append(
            CardRow(
                "step",
                number,
                f"{step.name} ({outcome})" if outcome else step.name,
                who,
                started,
                finished,
                standard_label(step),
                duration(elapsed, self.day),
                note or (ON_TIME if within else LATE),
            )
        )

    def _end_pause(self, at: datetime, note: str) -> None:
        pause, self.pause = self.pause, None
        if pause is not None:
            self.done.append(self._pause_row(pause, at, note))

    def _pause_row(self, pause: _Pause, finished: datetime | None, note: str, now: datetime | None = None) -> CardRow:
        """A pause that ended at ``finished``, or one still running at ``now`` (its time so far)."""
        until = finished or now
        elapsed = self.calendar.office_minutes_between(pause.started, until) if until else 0
        return CardRow(
            "pause",
            None,
            pause.activity,
            pause.performer,
            pause.started,
            finished,
            f"s.d. {self.zone.tanggal(pause.until)}" if pause.until else "-",
            duration(elapsed, self.day),
            note,
        )

    def _finish(self, at: datetime, actor: Actor | None, activity: str) -> None:
        r = self.received
        elapsed = self.calendar.office_minutes_between(r.received_at, at)
        self.end = CardRow(
            "end",
            None,
            activity,
            performer(actor, actor.role or "-", self.people) if actor else "-",
            r.received_at,
            at,
            f"{self.definition.completion_working_days} hari kerja",
            duration(elapsed, self.day),
            "-" if r.deadline_at is None else ON_TIME if at <= r.deadline_at else LATE,
        )

    def rows(self, now: datetime) -> list[CardRow]:
        rows = list(self.done)
        if self.running is not None and self.end is None:
            running, step = self.running, self.definition.step(self.running.step)
            who = ROLE_LABELS.get(step.role, step.role)
            if running.step in UNIT_BOUND_STEPS and self.unit:
                who += f"\n{self.unit_name(self.unit)}"
            late = running.due is not None and now > running.due
            elapsed = self.calendar.office_minutes_between(running.started, now)
            rows.append(
                CardRow(
                    "step",
                    running.step,
                    step.name,
                    who,
                    running.started,
                    None,
                    standard_label(step),
                    duration(elapsed, self.day),
                    RUNNING_LATE if late else RUNNING,
                )
            )
        if self.pause is not None:
            late = self.pause.until is not None and now > self.pause.until
            rows.append(self._pause_row(self.pause, None, "melewati batas" if late else self.pause.waiting, now))
        reached = {row.number for row in rows if row.kind == "step"}
        will_not = self.end is not None or self.referred
        rows.extend(
            CardRow(
                "step",
                step.number,
                step.name,
                ROLE_LABELS.get(step.role, step.role),
                None,
                None,
                standard_label(step),
                "-",
                SKIPPED if will_not else NOT_YET,
            )
            for step in self.definition.steps
            if step.number not in reached
        )
        if self.end is not None:
            rows.append(self.end)
        return rows

    def status(self) -> str:
        if self.end is not None:
            return self.end.activity
        if self.pause is not None:
            until = f" (s.d. {self.zone.tanggal(self.pause.until)})" if self.pause.until else ""
            return f"{self.pause.activity}{until}"
        if self.running is not None:
            return f"Dalam proses: langkah {self.running.step}, {self.definition.step(self.running.step).name}"
        return "-"


def control_card(
    events: Sequence[EventEnvelope],
    *,
    letterhead: Letterhead,
    zone: Zone,
    calendar: Calendar,
    now: datetime,
    people: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
) -> ControlCard:
    """The Kartu Kendali of the complaint whose stream is ``events`` (in version order, ``ComplaintReceived``
    first), as it stands at ``now``. ``people``: full names by username; ``units``: units as people read them by
    code (a code not there prints as it is)."""
    if not events or events[0].type != ComplaintReceived.type:
        raise ValueError("a complaint's stream begins with ComplaintReceived")
    received = events[0].decode()
    assert isinstance(received, ComplaintReceived)  # noqa: S101
    card = _Card(received, calendar, zone, people or {}, units or {})
    for event in events[1:]:
        card.read(event)
    return ControlCard(
        letterhead=letterhead,
        zone=zone,
        tracking_code=received.tracking_code,
        register_number=card.register_number,
        received_at=received.received_at,
        channel=CHANNEL_LABELS.get(received.channel, received.channel),
        complainant_name=received.complainant.name,
        subject=received.subject,
        unit=card.unit_name(card.unit) if card.unit else None,
        status=card.status(),
        deadline_at=received.deadline_at,
        rows=tuple(card.rows(now)),
        printed_at=now,
    )
