"""The Kartu Kendali read from a complaint's events (services/letters/domain/control_card.py): every step, who
did it, when, against its standard time on the kecamatan's working calendar; the pauses and the end. The events
are written here as the workflow writes them (its due times from the same calendar), at times chosen so that
each step is on time or late on purpose."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.letters.domain.control_card import CardRow, ControlCard, control_card, duration
from services.letters.domain.letter import Letterhead, Zone
from shared.calendar import WorkingCalendar
from shared.contracts import sop
from shared.contracts.intake import Complainant
from shared.contracts.workflow import (
    ClarificationGiven,
    ComplaintReceived,
    ComplaintReferred,
    ComplaintRegistered,
    ComplaintWithdrawn,
    DispositionIssued,
    DispositionRedirected,
    DocumentsReceived,
    DocumentsRequested,
    IdentityVerified,
    LetterApproved,
    LetterArchived,
    LetterDrafted,
    LetterDuplicated,
    LetterRequested,
    LetterReturned,
    LetterSigned,
    ReferralAnswered,
    ResponseSent,
)
from shared.events import Actor, Event, EventEnvelope, envelope

CALENDAR = WorkingCalendar()  # Monday to Friday 08:00-16:00 WIB, Indonesia's holidays
WIB = ZoneInfo("Asia/Jakarta")
ZONE = Zone(WIB, "WIB")
LETTERHEAD = Letterhead(
    "PEMERINTAH KABUPATEN PAMEKASAN", "KECAMATAN PEGANTENAN", "Jalan Raya Pegantenan", None, "Pegantenan"
)
DEFINITION = sop.DEFAULT
PEOPLE = {
    "staf.p": "Ahmad Staf",
    "kasi.p": "Moh. Kasi, S.Sos.",
    "sekcam.p": "Moh. Sekretaris, S.Sos.",
    "camat.p": "Drs. H. Moh. Ma'ruf, M.Si.",
}
UNITS = {"pemerintahan": "Seksi Pemerintahan", "trantib": "Seksi Ketenteraman dan Ketertiban Umum"}


def wib(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of the week of Monday 23 November 2026 (no holiday in it), in WIB."""
    return datetime(2026, 11, day, hour, minute, tzinfo=WIB)


def user(name: str, role: str, **acting: str) -> Actor:
    return Actor(kind="user", user_id=name, role=role, **acting)


class Stream:
    """A complaint's stream, an event at a time, as the workflow writes it: each step's due time is the one the
    workflow computes from the same calendar when the step before it ends."""

    def __init__(self, received_at: datetime | None = None, channel: str = "web", entered_by: str | None = None):
        received_at = received_at or wib(23, 8)
        self.complaint_id = uuid.uuid4()
        self.events: list[EventEnvelope] = []
        self.received_at = received_at
        self._add(
            ComplaintReceived(
                complaint_id=self.complaint_id,
                submission_id=uuid.uuid4(),
                tracking_code="7KQ2-M9XD-4T",
                kecamatan="pegantenan",
                channel=channel,
                complainant=Complainant(name="Siti Aminah"),
                subject="Jalan desa rusak",
                description="Jalan di Dusun Bunangka rusak sejak Januari.",
                received_at=received_at,
                sop_version=DEFINITION.version,
                next_due_at=self.due(2, received_at),
                deadline_at=CALENDAR.add_working_days(received_at, 12),
                entered_at=received_at + timedelta(minutes=20) if entered_by else None,
                entered_by=entered_by,
            ),
            Actor.system("intake"),
            received_at,
        )

    @staticmethod
    def due(step: int, start: datetime) -> datetime:
        s = DEFINITION.step(step)
        if s.unit == "minutes":
            return CALENDAR.add_office_minutes(start, s.standard_time)
        return CALENDAR.add_working_days(start, s.standard_time)

    def _add(self, event: Event, actor: Actor, at: datetime) -> EventEnvelope:
        stored = envelope(
            event,
            event_id=uuid.uuid4(),
            stream_id=f"complaint-{self.complaint_id}",
            version=len(self.events) + 1,
            kecamatan="pegantenan",
            occurred_at=at.astimezone(UTC),
            actor=actor,
            correlation_id=uuid.uuid4(),
        )
        self.events.append(stored)
        return stored

    def step(self, kind: type[Event], number: int, actor: Actor, at: datetime, **fields) -> EventEnvelope:
        """A step completed at ``at``; the next one (the SOP's order) is due when the workflow would say."""
        following = fields.pop("next_step", number + 1 if number < 12 else None)
        due = self.due(following, at) if following else None
        return self._add(kind(step=number, output="-", next_step=following, next_due_at=due, **fields), actor, at)

    def event(self, event: Event, actor: Actor, at: datetime) -> EventEnvelope:
        return self._add(event, actor, at)

    # the usual way, each step within its standard time: 23 November 08:00 to 26 November 10:20
    def to_disposition(self) -> Stream:
        self.step(IdentityVerified, 2, user("kasi.p", "kasi"), wib(23, 10))
        self.step(
            ComplaintRegistered, 3, user("staf.p", "staf"), wib(23, 10, 10), register_number=12, register_year=2026
        )
        self.step(
            DispositionIssued,
            4,
            user("camat.p", "camat"),
            wib(24, 9),
            unit="pemerintahan",
            instructions="Klarifikasi ke Kepala Desa.",
        )
        return self

    def to_the_end(self) -> Stream:
        self.to_disposition()
        self.step(ClarificationGiven, 5, user("kasi.p", "kasi"), wib(25, 9), explanation="Jalan diperbaiki Januari.")
        self.step(LetterRequested, 6, user("kasi.p", "kasi"), wib(25, 9, 5))
        self.step(LetterDrafted, 7, user("staf.p", "staf"), wib(25, 9, 15), letter_version=1, perihal="P", body="B")
        self.step(LetterApproved, 8, user("sekcam.p", "sekcam"), wib(25, 13), letter_version=1)
        self.step(LetterDuplicated, 9, user("staf.p", "staf"), wib(25, 13, 10), copies=["pengadu", "arsip"])
        self.step(LetterSigned, 10, user("camat.p", "camat"), wib(26, 10), letter_version=1, letter_number="001/X")
        self.step(LetterArchived, 11, user("staf.p", "staf"), wib(26, 10, 10), letter_number="001/X")
        self.step(ResponseSent, 12, user("staf.p", "staf"), wib(26, 10, 20), channel="pos")
        return self


def card_of(stream: Stream, now: datetime | None = None) -> ControlCard:
    """The card printed at ``now`` (default: Monday 30 November 09:00)."""
    return control_card(
        stream.events,
        letterhead=LETTERHEAD,
        zone=ZONE,
        calendar=CALENDAR,
        now=now or wib(30, 9),
        people=PEOPLE,
        units=UNITS,
    )


def row(card: ControlCard, number: int, occurrence: int = 1) -> CardRow:
    return [r for r in card.rows if r.kind == "step" and r.number == number][occurrence - 1]


# ---------------------------------------------------------------------------------------------------


def test_a_complaint_that_went_its_way_has_every_step_once_on_time_and_an_end_within_the_promise():
    card = card_of(Stream().to_the_end())
    assert [(r.kind, r.number) for r in card.rows] == [*(("step", n) for n in range(1, 13)), ("end", None)]
    assert [r.activity for r in card.rows[:12]] == [s.name for s in DEFINITION.steps]
    assert {r.note for r in card.rows} == {"tepat waktu"}
    assert [r.standard for r in card.rows[:4]] == ["15 menit", "3 hari kerja", "15 menit", "2 hari kerja"]
    # who: the role and the person, from the events' actors and the directory's names
    assert row(card, 1).performer == "Sistem\n(Formulir web)"  # received by the web form itself
    assert row(card, 2).performer == "Kasi/Kasubag\nMoh. Kasi, S.Sos."
    assert row(card, 10).performer == "Camat\nDrs. H. Moh. Ma'ruf, M.Si."
    # when: a step starts when the one before it ended; step 2 at the receipt
    assert (row(card, 2).started, row(card, 2).finished) == (wib(23, 8), wib(23, 10))
    assert (row(card, 4).started, row(card, 4).finished) == (wib(23, 10, 10), wib(24, 9))
    # how long, in office time: step 4 from Monday 10:10 to Tuesday 09:00 is 5 h 50 + 1 h
    assert row(card, 4).actual == "6 jam 50 menit"
    assert row(card, 3).actual == "10 menit"
    end = card.rows[-1]
    assert end.activity == "Selesai: surat tanggapan dikirim kepada pengadu"
    assert (end.standard, end.note) == ("12 hari kerja", "tepat waktu")
    assert end.actual == "3,3 hari kerja"  # Monday 08:00 to Thursday 10:20: 3 days and 2 h 20 of 8-hour days
    assert (card.register_number, card.unit, card.status) == ("12/2026", "Seksi Pemerintahan", end.activity)


def test_a_step_done_after_its_due_time_is_late_and_office_time_skips_nights_and_the_weekend():
    stream = Stream()
    stream.step(IdentityVerified, 2, user("kasi.p", "kasi"), wib(23, 10))
    # step 3 (15 office minutes) done the next morning: 6 h office time
    stream.step(ComplaintRegistered, 3, user("staf.p", "staf"), wib(24, 8), register_number=1, register_year=2026)
    card = card_of(stream, now=wib(30, 9))
    assert (row(card, 3).note, row(card, 3).actual) == ("terlambat", "6 jam")
    # step 4 (2 working days from Tuesday 08:00: due Thursday 16:00) still waits on the next Monday 09:00
    running = row(card, 4)
    assert (running.finished, running.note) == (None, "sedang berjalan, terlambat")
    assert running.actual == "4,1 hari kerja"  # Tue 08:00 to Mon 09:00: Tue-Fri and an hour, not Sat-Sun
    assert running.performer == "Camat"
    assert [row(card, n).note for n in range(5, 13)] == ["-"] * 8  # not reached yet
    assert card.status.startswith("Dalam proses: langkah 4")


def test_a_running_step_within_its_time_is_sedang_berjalan_and_a_unit_bound_step_names_the_unit():
    card = card_of(Stream().to_disposition(), now=wib(24, 11))
    running = row(card, 5)
    assert (running.note, running.actual) == ("sedang berjalan", "2 jam")
    assert running.performer == "Kasi/Kasubag\nSeksi Pemerintahan"


def test_a_form_from_the_complaint_box_is_received_by_the_staff_who_typed_it_in():
    card = card_of(Stream(channel="kotak", entered_by="staf.p"))
    first = row(card, 1)
    assert first.performer == "Staf\nAhmad Staf"
    assert (first.started, first.finished, first.actual, first.note) == (
        wib(23, 8),
        wib(23, 8, 20),
        "20 menit",
        "terlambat",
    )


def test_waiting_for_the_complainants_documents_is_a_pause_and_step_2_runs_again_in_full():
    stream = Stream()
    stream.event(
        DocumentsRequested(message="Kirim foto KTP.", close_after=wib(30, 16)), user("kasi.p", "kasi"), wib(23, 9)
    )
    stream.event(DocumentsReceived(next_due_at=Stream.due(2, wib(25, 8))), user("kasi.p", "kasi"), wib(25, 8))
    stream.step(IdentityVerified, 2, user("kasi.p", "kasi"), wib(25, 9))
    card = card_of(stream)
    assert [(r.kind, r.number) for r in card.rows[:4]] == [("step", 1), ("step", 2), ("pause", None), ("step", 2)]
    asked, pause, again = card.rows[1:4]
    assert asked.activity.endswith("(meminta kelengkapan identitas)") and asked.finished == wib(23, 9)
    assert (pause.activity, pause.performer) == ("Menunggu kelengkapan identitas dari pengadu", "Pengadu")
    assert (pause.started, pause.finished, pause.standard, pause.note) == (
        wib(23, 9),
        wib(25, 8),
        "s.d. 30 November 2026",
        "kelengkapan diterima",
    )
    assert (again.started, again.finished, again.note) == (wib(25, 8), wib(25, 9), "tepat waktu")


def test_a_returned_letter_is_reviewed_again_and_every_occurrence_has_its_row_in_order():
    stream = Stream().to_disposition()
    stream.step(ClarificationGiven, 5, user("kasi.p", "kasi"), wib(25, 9), explanation="E")
    stream.step(LetterRequested, 6, user("kasi.p", "kasi"), wib(25, 9, 5))
    stream.step(LetterDrafted, 7, user("staf.p", "staf"), wib(25, 9, 15), letter_version=1, perihal="P", body="B")
    stream.step(LetterReturned, 8, user("sekcam.p", "sekcam"), wib(25, 11), letter_version=1, notes="N", next_step=7)
    stream.step(LetterDrafted, 7, user("staf.p", "staf"), wib(25, 11, 10), letter_version=2, perihal="P", body="B")
    card = card_of(stream, now=wib(25, 12))
    numbers = [r.number for r in card.rows if r.finished is not None or r.note.startswith("sedang")]
    assert numbers == [1, 2, 3, 4, 5, 6, 7, 8, 7, 8]
    assert row(card, 8).activity == "Memeriksa surat tanggapan (dikembalikan untuk perbaikan)"
    assert row(card, 7, 2).started == wib(25, 11) and row(card, 8, 2).note == "sedang berjalan"


def test_a_redirected_disposition_ends_the_first_units_turn_and_starts_step_5_again():
    stream = Stream().to_disposition()
    stream.event(
        DispositionRedirected(
            unit="trantib",
            previous_unit="pemerintahan",
            instructions="I",
            reason="R",
            next_due_at=Stream.due(5, wib(24, 13)),
        ),
        user("camat.p", "camat"),
        wib(24, 13),
    )
    card = card_of(stream, now=wib(24, 14))
    first, second = row(card, 5), row(card, 5, 2)
    assert first.activity.endswith("(disposisi dialihkan ke Seksi Ketenteraman dan Ketertiban Umum)")
    assert (first.performer, first.note) == ("Kasi/Kasubag\nSeksi Pemerintahan", "dialihkan")
    assert (second.started, second.note) == (wib(24, 13), "sedang berjalan")
    assert second.performer == "Kasi/Kasubag\nSeksi Ketenteraman dan Ketertiban Umum"
    assert card.unit == "Seksi Ketenteraman dan Ketertiban Umum"


def test_a_referral_is_followed_as_a_pause_and_ends_when_the_office_answers():
    stream = Stream()
    stream.step(IdentityVerified, 2, user("kasi.p", "kasi"), wib(23, 10))
    stream.step(ComplaintRegistered, 3, user("staf.p", "staf"), wib(23, 10, 10), register_number=3, register_year=2026)
    referred = ComplaintReferred(
        agency="Dinas PUPR Kabupaten Pamekasan",
        agency_kind="opd",
        reason="Jalan kabupaten.",
        follow_up_by=CALENDAR.add_working_days(wib(24, 9), 14),
        letter_number="001/PELIMPAHAN/35.28.07/2026",
    )
    plh = user("sekcam.p", "sekcam", acting_for="camat", acting_kind="plh")
    stream.event(referred, plh, wib(24, 9))
    followed = card_of(stream, now=wib(25, 9))
    assert row(followed, 4).activity.endswith("(dilimpahkan kepada Dinas PUPR Kabupaten Pamekasan)")
    assert row(followed, 4).performer == "Plh. Camat\nMoh. Sekretaris, S.Sos."
    pause = followed.rows[4]
    assert (pause.kind, pause.finished, pause.note) == ("pause", None, "sedang dipantau")
    assert pause.actual == "1 hari kerja"  # the wait so far: Tuesday 09.00 to Wednesday 09.00 WIB (was "0 menit")
    assert pause.activity == "Menunggu tanggapan Dinas PUPR Kabupaten Pamekasan atas pelimpahan"
    assert pause.standard == "s.d. 14 Desember 2026"
    assert [row(followed, n).note for n in range(5, 13)] == ["tidak dilalui"] * 8  # a referral skips them
    assert followed.status == f"{pause.activity} (s.d. 14 Desember 2026)"

    stream.event(ReferralAnswered(answer="Diperbaiki bulan depan."), user("staf.p", "staf"), wib(27, 10))
    answered = card_of(stream)
    assert answered.rows[4].note == "tanggapan diterima" and answered.rows[4].finished == wib(27, 10)
    end = answered.rows[-1]
    assert (end.kind, end.activity, end.note) == (
        "end",
        "Selesai: dilimpahkan, tanggapan instansi dicatat",
        "tepat waktu",
    )
    assert end.performer == "Staf\nAhmad Staf"


def test_a_withdrawn_complaint_stops_the_running_step_and_skips_the_rest():
    stream = Stream()
    stream.event(ComplaintWithdrawn(step=2, reason="Sudah selesai."), Actor(kind="complainant"), wib(23, 11))
    card = card_of(stream)
    assert (row(card, 2).note, row(card, 2).finished) == ("dihentikan", wib(23, 11))
    assert [row(card, n).note for n in range(3, 13)] == ["tidak dilalui"] * 10
    assert (card.rows[-1].activity, card.rows[-1].performer) == ("Ditutup: pengaduan dicabut", "Pengadu")


def test_a_letter_signed_a_n_the_camat_names_both_offices():
    stream = Stream().to_the_end()
    signed = next(e for e in stream.events if e.type == LetterSigned.type)
    stream.events[stream.events.index(signed)] = signed.model_copy(
        update={"actor": user("sekcam.p", "sekcam", acting_for="camat", acting_kind="an")}
    )
    assert row(card_of(stream), 10).performer == "Sekcam a.n. Camat\nMoh. Sekretaris, S.Sos."


def test_someone_the_directory_does_not_know_is_named_by_username():
    stream = Stream()
    stream.step(IdentityVerified, 2, user("kasi.pindah", "kasi"), wib(23, 10))
    assert row(card_of(stream), 2).performer == "Kasi/Kasubag\nkasi.pindah"


@pytest.mark.parametrize(
    "minutes, expected",
    [
        (0, "0 menit"),
        (59, "59 menit"),
        (60, "1 jam"),
        (125, "2 jam 5 menit"),
        (480, "1 hari kerja"),
        (1200, "2,5 hari kerja"),
    ],
)
def test_office_time_reads_in_minutes_hours_or_working_days(minutes, expected):
    assert duration(minutes, 480) == expected


def test_a_stream_that_does_not_begin_with_the_receipt_is_refused():
    stream = Stream()
    with pytest.raises(ValueError, match="begins with ComplaintReceived"):
        control_card(stream.events[1:], letterhead=LETTERHEAD, zone=ZONE, calendar=CALENDAR, now=wib(30, 9))
