"""Notify's flows, handler by handler, on the in-memory unit of work and an in-memory channel: planning, the send
of each message once, retries, outcomes and receipts, in milliseconds (the same handlers on PostgreSQL and the
development sinks: tests/integration/test_notify.py, test_notify_finish.py, test_rate_limits.py; the fake is held
to the real one by tests/contracts/notify_uow.py)."""

from __future__ import annotations

import os
import uuid
from collections import deque
from datetime import UTC, datetime, timedelta

import pytest

from services.notify.adapters.channels.base import (
    FOUND,
    NOT_FOUND,
    OutboundMessage,
    OutcomeUnknownError,
    PermanentSendError,
    SendResult,
    TransientSendError,
)
from services.notify.adapters.memory import NotifyMemory
from services.notify.config import NotifySettings
from services.notify.domain.delivery import CONTACT_CORRECTED, THROTTLED
from services.notify.domain.templates import kabupaten_scope
from services.notify.handlers.context import Context
from services.notify.handlers.deliveries_admin import mark_sent, resend
from services.notify.handlers.outcomes import OUTCOME_TASK, record_outcome
from services.notify.handlers.planning import NewWork, escalate, plan_event
from services.notify.handlers.sending import SEND_TASK, send_delivery
from services.notify.handlers.statuses import record_status
from services.notify.handlers.templates_admin import list_templates, reset_template, set_template
from services.notify.scheduler import DueDeliveries, StaleSends
from services.workflow.domain import commands as c
from services.workflow.domain import model
from shared.calendar import WIB, WorkingCalendar
from shared.contracts.intake import Complainant, ComplaintSubmitted
from shared.contracts.notify import NotificationReport
from shared.contracts.organisation import Delegation
from shared.contracts.tracking import new_tracking_code
from shared.contracts.workflow import (
    ComplainantDataCorrected,
    ComplaintRegistered,
    ComplaintWithdrawn,
    DispositionIssued,
    DocumentsRequested,
    MarkedDuplicate,
    StepOverdue,
)
from shared.events import Actor, EventEnvelope, envelope
from shared.eventstore.memory import InMemoryEventStore
from shared.tenancy import demo_kecamatan, demo_second_kabupaten

PLACES = {k.slug: k for k in demo_kecamatan() + demo_second_kabupaten()}  # Pamekasan's and Sumenep's


class Events(InMemoryEventStore):
    """The workflow's store as notify reads it (by event id, as the relay's tasks name them)."""

    def read_event(self, event_id: uuid.UUID) -> EventEnvelope | None:
        return next((e for e in self.read_all(0, 1 << 20) if e.event_id == event_id), None)


class Broker:
    """What notify hands the broker: its tasks and its reports to the workflow."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list, dict]] = []

    def send_task(self, name, args=None, **options):
        self.sent.append((name, list(args or []), options))

    def tasks(self, name: str) -> list[dict]:
        return [args[0] for task, args, _ in self.sent if task == name]


class Channel:
    """An SMS gateway in memory (the ``Channel`` port): each send takes the next scripted answer (a result, or an
    error to raise; by default accepted) and keeps what it was given; ``lookup`` answers from what it accepted,
    or None when ``askable`` is False (a provider that cannot be asked)."""

    name = "sms"
    provider = "memory-sms"

    def __init__(self) -> None:
        self.answers: deque[SendResult | Exception] = deque()
        self.sent: list[OutboundMessage] = []
        self.accepted: dict[str, str] = {}  # our reference -> the provider's id
        self.askable = True

    def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message)
        answer = self.answers.popleft() if self.answers else SendResult(self.provider, f"m-{len(self.sent)}")
        if isinstance(answer, Exception):
            if isinstance(answer, OutcomeUnknownError):
                self.accepted[message.reference] = f"m-{len(self.sent)}"  # it did go out; the answer was lost
            raise answer
        self.accepted[message.reference] = answer.provider_message_id
        return answer

    def lookup(self, reference: str) -> SendResult | None:
        if not self.askable:
            return None
        if reference in self.accepted:
            return SendResult(self.provider, self.accepted[reference], FOUND)
        return SendResult(self.provider, None, NOT_FOUND)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)  # the in-memory store stamps events with the real time (age check)

    def __call__(self) -> datetime:
        return self.now


class Notify:
    """Notify's handlers on one in-memory database, one SMS channel, a broker that keeps what it is given."""

    def __init__(self, **settings) -> None:
        self.events = Events()
        self.memory, self.broker, self.sms, self.clock = (
            NotifyMemory(self.events),  # the units read the workflow's events from the same store
            Broker(),
            Channel(),
            Clock(),
        )
        self.ctx = Context(
            settings=NotifySettings(cache_url="memory://", **settings),
            uow=self.memory.uow,
            store=self.events,
            directory=PLACES,
            documents=None,
            celery=self.broker,
            channels={"sms": self.sms},
            clock=self.clock,
        )

    def complaint(self, phone: str, kecamatan: str = "pegantenan") -> uuid.UUID:
        """A complaint by SMS received by the workflow: its ComplaintReceived in the store; returns the event id."""
        received = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
        submission = ComplaintSubmitted(
            submission_id=uuid.uuid4(),
            complaint_id=uuid.uuid4(),
            tracking_code=new_tracking_code(os.urandom(7)),
            kecamatan=kecamatan,
            channel="sms",
            complainant=Complainant(name="Siti Aminah", phone=phone),
            subject="Jalan desa rusak",
            description="Jalan di Dusun Bunangka rusak sejak Januari.",
            received_at=received,
            correlation_id=uuid.uuid4(),
        )
        [event] = model.decide(model.Complaint(), c.RecordComplaint(submission=submission), WorkingCalendar())
        return self.append(f"complaint-{submission.complaint_id}", event, kecamatan)

    def append(self, stream_id: str, event, kecamatan: str = "pegantenan") -> uuid.UUID:
        """The workflow appends ``event`` to the complaint's stream; returns its id."""
        version = self.events.stream_version(stream_id) + 1
        stored = envelope(
            event,
            event_id=uuid.uuid4(),
            stream_id=stream_id,
            version=version,
            kecamatan=kecamatan,
            occurred_at=datetime(2026, 3, 2, 2, 0, tzinfo=UTC),
            actor=Actor.system("workflow"),
            correlation_id=uuid.uuid4(),
        )
        self.events.append(stream_id, version - 1, [stored])
        return stored.event_id

    def rows(self) -> list[dict]:
        return list(self.memory.deliveries.values())

    def row(self, delivery_id: uuid.UUID) -> dict:
        return self.memory.deliveries[delivery_id]

    def reports(self) -> list[tuple[str, str]]:
        """(delivery id, state) of each report handed to the workflow."""
        return [(r["delivery_id"], r["state"]) for r in self.broker.tasks(NotificationReport.TASK)]


def plan_news(notify: Notify, *event_ids: uuid.UUID, send: bool = True) -> list[dict]:
    """The news of new work of these events, as a round of the projections process plans it
    (services/notify/new_work.py: one unit, committed, then each message enqueued), each message then sent as its
    ``notify.send`` task would send it (``send``). Returns the rows the round added."""
    with notify.ctx.uow() as uow:
        planner = NewWork(notify.ctx, uow)
        planner.plan([notify.events.read_event(event_id) for event_id in event_ids])
        uow.commit()
    planner.enqueue()
    for row in planner.added if send else ():
        send_delivery(notify.ctx, row["id"])
    return planner.added


def new_phone() -> str:
    """A number of its own (the acknowledgment counters live as long as the process)."""
    return "+62812" + str(uuid.uuid4().int)[:8]


@pytest.fixture
def notify() -> Notify:
    return Notify()


# -- planning ----------------------------------------------------------------------------------------------
def test_an_event_is_planned_into_one_message_which_is_sent_once_even_when_redelivered(notify):
    event_id = notify.complaint(new_phone())
    assert plan_event(notify.ctx, event_id) == 1
    (row,) = notify.rows()
    assert (row["kind"], row["channel"], row["state"], row["attempts"]) == ("acknowledgment", "sms", "sent", 1)
    assert row["provider_message_id"] == "m-1" and row["reported_state"] == "sent"
    (sms,) = notify.sms.sent
    assert sms.reference == row["id"].hex and sms.to == row["recipient"] and row["variables"]["kode"] in sms.text
    plan_event(notify.ctx, event_id)  # the relay's task again
    assert send_delivery(notify.ctx, row["id"]) == "sent"  # and a send task again
    assert len(notify.rows()) == 1 and len(notify.sms.sent) == 1
    assert notify.reports() == [(str(row["id"]), "sent")]
    report_id = notify.broker.tasks(NotificationReport.TASK)[0]["message_id"]
    assert set(notify.memory.handoffs) == {(NotificationReport.TASK, uuid.UUID(report_id))}


def test_a_planned_message_not_sent_at_once_is_enqueued_once(notify):
    plan_event(notify.ctx, notify.complaint(new_phone()), send_now=False)
    (row,) = notify.rows()
    assert row["state"] == "pending" and notify.sms.sent == []
    assert notify.broker.tasks(SEND_TASK) == [{"delivery_id": str(row["id"])}]
    assert DueDeliveries(notify.ctx).round().handled == 0  # enqueued just now: not again
    notify.clock.now += timedelta(minutes=2)  # the broker lost it
    assert DueDeliveries(notify.ctx).round().handled == 1
    assert send_delivery(notify.ctx, row["id"]) == "sent"


def test_acknowledgments_to_one_mailbox_are_throttled_and_the_refusal_is_reported(notify):
    phone = new_phone()
    events = [notify.complaint(phone) for _ in range(4)]  # the default limit: 3 an hour
    for event_id in events:
        plan_event(notify.ctx, event_id)
    plan_event(notify.ctx, events[0])  # a redelivery is not counted again
    states = sorted((r["created_at"], r["state"], r["last_error"]) for r in notify.rows())
    assert [s for _, s, _ in states].count("sent") == 3
    (throttled,) = [r for r in notify.rows() if r["state"] == "failed"]
    assert throttled["last_error"] == THROTTLED and throttled["source_event_id"] == events[3]
    assert len(notify.sms.sent) == 3
    assert (str(throttled["id"]), "failed") in notify.reports()


def test_an_event_older_than_the_limit_plans_nothing():
    notify = Notify(notify_max_event_age_hours=1)
    event_id = notify.complaint(new_phone())
    notify.clock.now += timedelta(hours=2)
    assert plan_event(notify.ctx, event_id) == 0 and notify.rows() == []


def marked_duplicate(notify: Notify) -> tuple[str, str, uuid.UUID]:
    """Two complaints by SMS, acknowledged, the second then marked a duplicate of the first (docs/adr/0021): the
    first's and the second's numbers, and the MarkedDuplicate event's id."""
    first, again = new_phone(), new_phone()
    original, duplicate = notify.complaint(first), notify.complaint(again)
    for event_id in (original, duplicate):
        plan_event(notify.ctx, event_id)  # the acknowledgments
    original_stream = notify.events.read_event(original).stream_id
    marked = notify.append(
        notify.events.read_event(duplicate).stream_id,
        MarkedDuplicate(duplicate_of="7KQ2-M9XD-4T", original_id=uuid.UUID(original_stream.removeprefix("complaint-"))),
    )
    return first, again, marked


def test_a_duplicate_and_its_original_are_told_from_one_unit_and_each_once(notify):
    """A complaint marked a duplicate of another (docs/adr/0021): its complainant is told, and the original's that a
    report was joined to theirs. Both are planned in the plan's one unit (the first written claimed, the other
    claimed by its own send, after the commit) and each is sent once however often the task runs."""
    first, again, marked = marked_duplicate(notify)

    assert plan_event(notify.ctx, marked, inbox="notify.plan") == 2
    assert plan_event(notify.ctx, marked, inbox="notify.plan") == 2  # the relay's task again: nothing new

    rows = sorted(
        (r["kind"], r["recipient"], r["state"], r["attempts"]) for r in notify.rows() if r["source_event_id"] == marked
    )
    assert rows == [("duplicate", again, "sent", 1), ("duplicate_joined", first, "sent", 1)]
    assert [m.to for m in notify.sms.sent] == [first, again, again, first]
    assert ("notify.plan", marked) in notify.memory.inbox


def person(username, role, unit=None, phone=None):
    return {
        "username": username,
        "full_name": username.title(),
        "role": role,
        "kecamatan": "pegantenan",
        "unit": unit,
        "email": None,
        "phone": phone,
        "notify_channel": "sms",
        "notify_new_work": False,
        "active": True,
    }


# -- the news of new work (planned in rounds: services/notify/new_work.py) ----------------------------------
def asking(username, role, unit=None):
    """A member of staff who asked to hear of new work, reached by SMS."""
    return person(username, role, unit, new_phone()) | {"notify_new_work": True}


def test_new_work_goes_to_the_staff_of_the_waiting_role_who_asked_and_at_a_units_step_to_that_unit_only(notify):
    notify.memory.staff += [
        asking("kasi.pem", "kasi", "pemerintahan"),
        asking("kasi.kesra", "kasi", "kesra"),
        person("kasi.trantib", "kasi", "trantibum", new_phone()),  # did not ask
        asking("camat", "camat"),
        asking("staf.a", "staf"),
        asking("staf.gone", "staf") | {"active": False},  # left the office
    ]
    received = notify.complaint(new_phone())
    assert plan_event(notify.ctx, received) == 1  # the complainant's acknowledgment only: the news is the round's
    stream = notify.events.read_event(received).stream_id
    due = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
    registered = notify.append(
        stream,
        ComplaintRegistered(step=3, output="Buku Rekap", next_step=4, next_due_at=due, register_number=7,
                            register_year=2026),
    )  # fmt: skip
    disposed = notify.append(
        stream,
        DispositionIssued(step=4, output="Lembar Disposisi", next_step=5, next_due_at=due, unit="pemerintahan",
                          instructions="Tindak lanjuti"),
    )  # fmt: skip

    added = plan_news(notify, received, registered, disposed)

    told = sorted((r["source_event_id"], r["username"], r["variables"]["langkah"]) for r in added)
    assert told == sorted(
        [
            (received, "kasi.pem", "2"),  # step 2 (identity) is any Kasi's
            (received, "kasi.kesra", "2"),
            (registered, "camat", "4"),
            (disposed, "kasi.pem", "5"),  # step 5 is the disposed unit's Kasi's alone
        ]
    )
    assert all(r["kind"] == "new_work" and r["audience"] == "staff" and r["state"] == "sent" for r in notify.rows()
               if r["audience"] == "staff")  # fmt: skip
    assert sorted(t["delivery_id"] for t in notify.broker.tasks(SEND_TASK)) == sorted(str(r["id"]) for r in added)
    # a round done again (it died before its commit was known), or an event an older deployment's notify.plan
    # planned: nothing new, nothing sent twice
    assert plan_news(notify, received, registered, disposed) == []
    assert len(notify.sms.sent) == 1 + 4


def test_no_news_where_nobody_asked_nor_of_work_long_begun():
    notify = Notify(notify_max_event_age_hours=1)
    notify.memory.staff += [person("kasi.pem", "kasi", "pemerintahan", new_phone())]  # did not ask
    assert plan_news(notify, notify.complaint(new_phone())) == []
    notify.memory.staff += [asking("kasi.kesra", "kasi", "kesra")]
    late = notify.complaint(new_phone())
    notify.clock.now += timedelta(hours=2)  # the round catches up after an outage
    with notify.ctx.uow() as uow:
        planner = NewWork(notify.ctx, uow)
        planner.plan([notify.events.read_event(late)])
    assert (planner.added, planner.too_old) == ([], 1)
    assert notify.rows() == []


def test_an_overdue_step_alerts_its_kasi_and_the_sekcam_once(notify):
    notify.memory.staff += [
        person("kasi.pem", "kasi", "pemerintahan", new_phone()),
        person("kasi.kesra", "kasi", "kesra", new_phone()),  # not the unit the complaint was disposed to
        person("sekcam", "sekcam", phone=new_phone()),
        person("camat", "camat", phone=new_phone()),  # not the sekcam's superior here: no alert
    ]
    received = notify.events.read_event(notify.complaint(new_phone()))
    overdue = StepOverdue(step=5, role="kasi", unit="pemerintahan", due_at=datetime(2026, 3, 5, 9, 0, tzinfo=UTC))
    event_id = notify.append(received.stream_id, overdue)
    assert escalate(notify.ctx, event_id) == 2
    assert escalate(notify.ctx, event_id) == 0  # the task redelivered
    alerts = {username: row["reason"] for (_, username), row in notify.memory.escalations.items()}
    assert alerts == {"kasi.pem": "responsible", "sekcam": "superior"}
    sent = {r["username"]: (r["state"], r["variables"]["sebagai"]) for r in notify.rows()}
    assert sent == {"kasi.pem": ("sent", "penanggung jawab langkah ini"), "sekcam": ("sent", "atasan")}
    assert len(notify.sms.sent) == 2 and notify.reports() == []  # staff's messages are not the complaint's history


def test_an_overdue_step_also_alerts_whoever_acts_for_the_official_today(notify):
    """Issue #15 item 3: the Camat is away, the Sekcam is Plh. Camat: an overdue step 4 alerts the Sekcam as the
    one responsible (a delegation not in force today alerts no one)."""
    notify.memory.staff += [
        person("camat.a", "camat", phone=new_phone()),
        person("sekcam.a", "sekcam", phone=new_phone()),
    ]
    received = notify.events.read_event(notify.complaint(new_phone()))
    today = received.occurred_at.astimezone(WIB).date()

    def delegation(delegate, starts_on, ends_on):
        return Delegation(
            uuid.uuid4(), "pegantenan", "camat", None, delegate, "plh", starts_on, ends_on, "Cuti", "admin",
            received.occurred_at, None,
        )  # fmt: skip

    notify.memory.delegations += [
        delegation("sekcam.a", today, today + timedelta(days=2)),
        delegation("staf.b", today - timedelta(days=9), today - timedelta(days=1)),  # over
    ]
    overdue = StepOverdue(step=4, role="camat", due_at=datetime(2026, 3, 5, 9, 0, tzinfo=UTC))
    event_id = notify.append(received.stream_id, overdue)
    escalate(notify.ctx, event_id)
    alerts = {username: row["reason"] for (_, username), row in notify.memory.escalations.items()}
    assert alerts == {"camat.a": "responsible", "sekcam.a": "responsible"}


def test_a_template_edited_for_a_kecamatan_is_what_its_complainants_get(notify):
    uow = notify.memory.uow
    assert set_template(uow, "*", "acknowledgment", "sms", "Diterima: {{ kode }}.") == []
    set_template(uow, "pegantenan", "acknowledgment", "sms", "Kec. {{ kecamatan }} menerima {{ kode }}.", None, "admin")
    sources = {(t["kind"], t["channel"]): t["source"] for t in list_templates(uow, "pegantenan")}
    assert sources[("acknowledgment", "sms")] == "pegantenan" and sources[("acknowledgment", "email")] == "default"
    plan_event(notify.ctx, notify.complaint(new_phone()))
    (row,) = notify.rows()
    assert notify.sms.sent[0].text == f"Kec. Pegantenan menerima {row['variables']['kode']}."
    assert reset_template(uow, "pegantenan", "acknowledgment", "sms")
    assert not reset_template(uow, "pegantenan", "acknowledgment", "sms")
    assert {(t["kind"], t["channel"]): t["source"] for t in list_templates(uow, "pegantenan")}[
        ("acknowledgment", "sms")
    ] == "*"


def test_a_template_edited_for_a_kabupaten_words_only_its_own_kecamatans_messages(notify):
    """Two kabupaten in one deployment (issue #19 item 4): Sumenep's wording never reaches Pamekasan's complainants,
    and a kecamatan's own still wins over its kabupaten's."""
    uow = notify.memory.uow
    set_template(uow, "*", "acknowledgment", "sms", "Diterima: {{ kode }}.")
    set_template(uow, kabupaten_scope("sumenep"), "acknowledgment", "sms", "Pemkab Sumenep menerima {{ kode }}.")
    set_template(uow, "saronggi", "acknowledgment", "sms", "Kec. {{ kecamatan }} menerima {{ kode }}.")
    sources = {
        k: {(t["kind"], t["channel"]): t["source"] for t in list_templates(uow, k, kab)}[("acknowledgment", "sms")]
        for k, kab in (("kalianget", "sumenep"), ("saronggi", "sumenep"), ("pegantenan", "pamekasan"))
    }
    assert sources == {"kalianget": "kabupaten:sumenep", "saronggi": "saronggi", "pegantenan": "*"}
    for kecamatan in ("kalianget", "saronggi", "pegantenan"):
        plan_event(notify.ctx, notify.complaint(new_phone(), kecamatan))
    texts = [m.text for m in notify.sms.sent]
    codes = [r["variables"]["kode"] for r in sorted(notify.rows(), key=lambda r: r["created_at"])]
    assert texts == [
        f"Pemkab Sumenep menerima {codes[0]}.",
        f"Kec. Saronggi menerima {codes[1]}.",
        f"Diterima: {codes[2]}.",
    ]


# -- sending ---------------------------------------------------------------------------------------------------
def test_a_permanent_failure_fails_at_once_and_the_report_hides_the_number(notify):
    notify.sms.answers.append(PermanentSendError("nomor +6281299998888 tidak valid", provider="memory-sms", status=400))
    plan_event(notify.ctx, notify.complaint(new_phone()))
    (row,) = notify.rows()
    assert (row["state"], row["attempts"], row["provider"]) == ("failed", 1, "memory-sms")
    (report,) = notify.broker.tasks(NotificationReport.TASK)
    assert report["state"] == "failed" and report["error"] == "nomor *** tidak valid"
    assert send_delivery(notify.ctx, row["id"]) == "failed" and len(notify.sms.sent) == 1


def test_a_transient_failure_is_retried_after_a_backoff_then_sent(notify):
    notify.sms.answers.append(TransientSendError("HTTP 503", provider="memory-sms", status=503))
    plan_event(notify.ctx, notify.complaint(new_phone()))
    (row,) = notify.rows()
    wait = row["next_attempt_at"] - notify.clock.now
    assert (row["state"], row["attempts"], row["last_error"]) == ("pending", 1, "HTTP 503")
    assert timedelta(seconds=7.5) <= wait <= timedelta(seconds=22.5)  # 15 s, jitter 0.5-1.5
    assert send_delivery(notify.ctx, row["id"]) == "pending"  # an early copy of the task: the backoff holds
    assert DueDeliveries(notify.ctx).round().handled == 0
    notify.clock.now += wait
    assert DueDeliveries(notify.ctx).round().handled == 1
    assert send_delivery(notify.ctx, row["id"]) == "sent"
    assert notify.row(row["id"])["attempts"] == 2 and len(notify.sms.sent) == 2
    assert notify.reports() == [(str(row["id"]), "sent")]


def test_transient_failures_end_failed_after_the_last_attempt():
    notify = Notify(notify_max_attempts=2)
    notify.sms.answers.extend(TransientSendError("timeout", provider="memory-sms") for _ in range(2))
    plan_event(notify.ctx, notify.complaint(new_phone()))
    (row,) = notify.rows()
    notify.clock.now = row["next_attempt_at"]
    assert send_delivery(notify.ctx, row["id"]) == "failed"
    assert notify.row(row["id"])["last_error"] == "gagal setelah 2 percobaan: timeout"
    assert notify.reports() == [(str(row["id"]), "failed")]


def test_a_lost_answer_is_looked_up_never_sent_again(notify):
    notify.sms.answers.append(OutcomeUnknownError("read timeout", provider="memory-sms"))
    plan_event(notify.ctx, notify.complaint(new_phone()))
    (row,) = notify.rows()
    assert row["state"] == "sent" and len(notify.sms.sent) == 1  # the provider had it


def test_a_lost_answer_the_provider_cannot_tell_is_left_unknown_for_a_person(notify):
    notify.sms.askable = False
    notify.sms.answers.append(OutcomeUnknownError("read timeout", provider="memory-sms"))
    plan_event(notify.ctx, notify.complaint(new_phone()))
    (row,) = notify.rows()
    assert row["state"] == "unknown" and "read timeout" in row["last_error"]
    assert resend(notify.ctx, row["id"])  # a person decided: sent again
    assert send_delivery(notify.ctx, row["id"]) == "sent" and len(notify.sms.sent) == 2
    assert not mark_sent(notify.ctx, row["id"])  # only an unknown one
    assert notify.reports() == [(str(row["id"]), "unknown"), (str(row["id"]), "sent")]


def test_a_send_whose_worker_died_is_reconciled_after_its_lease(notify):
    plan_event(notify.ctx, notify.complaint(new_phone()), send_now=False)
    (row,) = notify.rows()
    with notify.memory.uow() as uow:  # as a worker that died after the provider took it leaves the row
        uow.deliveries.update(row["id"], {"state": "sending", "sending_since": notify.clock.now, "attempts": 1})
        uow.commit()
    notify.sms.accepted[row["id"].hex] = "m-lost"
    assert send_delivery(notify.ctx, row["id"]) == "sending"  # the claim still holds
    notify.clock.now += timedelta(seconds=notify.ctx.settings.notify_sending_lease_seconds + 1)
    assert StaleSends(notify.ctx).round().handled == 1
    assert send_delivery(notify.ctx, row["id"]) == "sent"
    assert notify.sms.sent == [] and notify.row(row["id"])["provider_message_id"] == "m-lost"


class WorkerDied(BaseException):
    """The worker process killed during a provider call (nothing below it handles a BaseException)."""


def dies_in_the_next_send(notify: Notify) -> None:
    """The next provider call kills the worker before the request goes out (the call is counted in ``sent``)."""
    send = notify.sms.send

    def dying(message):
        notify.sms.send = send
        notify.sms.sent.append(message)
        raise WorkerDied

    notify.sms.send = dying


def test_an_acknowledgment_is_written_claimed_by_its_plan_and_its_redelivered_plan_sends_nothing_more(notify):
    """Issue #20: the plan writes the acknowledgment already claimed (one transaction less). A worker that dies in the
    provider call leaves it ``sending``; the plan task redelivered then sends nothing; once the lease has run out the
    provider is asked (it never got it: sent now, once)."""
    dies_in_the_next_send(notify)
    event_id = notify.complaint(new_phone())
    with pytest.raises(WorkerDied):
        plan_event(notify.ctx, event_id)
    (row,) = notify.rows()
    assert (row["state"], row["attempts"], row["sending_since"]) == ("sending", 1, notify.clock.now)
    assert plan_event(notify.ctx, event_id) == 1  # the relay's task redelivered: the claim holds
    assert send_delivery(notify.ctx, row["id"]) == "sending"  # and a stray send task
    assert len(notify.sms.sent) == 1 and notify.reports() == []
    notify.clock.now += timedelta(seconds=notify.ctx.settings.notify_sending_lease_seconds + 1)
    assert StaleSends(notify.ctx).round().handled == 1
    assert send_delivery(notify.ctx, row["id"]) == "sent"
    assert len(notify.sms.sent) == 2 and list(notify.sms.accepted) == [row["id"].hex]  # reached the provider once
    assert notify.reports() == [(str(row["id"]), "sent")] and notify.row(row["id"])["attempts"] == 1


def test_only_the_first_message_of_a_plan_is_written_claimed_the_others_wait_for_the_redelivered_plan(notify):
    """A plan of two messages (a duplicate's complainant, and the original's, told that a report was joined to
    theirs): the worker dies during the first call; the second is still ``pending`` and the redelivered plan sends it,
    once, and leaves the first to its lease."""
    first, again, marked = marked_duplicate(notify)
    dies_in_the_next_send(notify)
    with pytest.raises(WorkerDied):
        plan_event(notify.ctx, marked)
    of_marked = lambda: sorted(  # noqa: E731
        (r["kind"], r["state"], r["attempts"]) for r in notify.rows() if r["source_event_id"] == marked
    )
    assert of_marked() == [("duplicate", "sending", 1), ("duplicate_joined", "pending", 0)]
    assert plan_event(notify.ctx, marked) == 2
    assert plan_event(notify.ctx, marked) == 2  # and again
    assert of_marked() == [("duplicate", "sending", 1), ("duplicate_joined", "sent", 1)]
    assert [m.to for m in notify.sms.sent] == [first, again, again, first]  # the call that died, the original's once


def test_a_sent_outcome_and_its_report_are_written_together_and_a_report_the_broker_refused_is_in_the_ledger(notify):
    """The outcome, ``reported_state`` and the report's hand-off are one commit, published after it: a broker that
    refuses the report loses nothing (the ledger's reconciler publishes what the workflow's inbox lacks)."""

    class Refusing(Broker):
        def send_task(self, name, args=None, **options):
            if name == NotificationReport.TASK:
                raise ConnectionError("broker away")
            super().send_task(name, args, **options)

    notify.ctx.celery = notify.broker = Refusing()
    plan_event(notify.ctx, notify.complaint(new_phone()))
    (row,) = notify.rows()
    assert (row["state"], row["reported_state"]) == ("sent", "sent") and notify.reports() == []
    ((task, _), handoff) = next(iter(notify.memory.handoffs.items()))
    assert task == NotificationReport.TASK
    assert (handoff.payload["delivery_id"], handoff.payload["state"]) == (str(row["id"]), "sent")


# -- outcomes and receipts -------------------------------------------------------------------------------
def test_an_outcome_handed_on_is_recorded_once_and_settles_an_unknown(notify):
    notify.sms.askable = False
    notify.sms.answers.append(OutcomeUnknownError("read timeout", provider="memory-sms"))
    plan_event(notify.ctx, notify.complaint(new_phone()))
    (row,) = notify.rows()
    assert row["state"] == "unknown"
    # the provider's answer to that send, which its worker could not write (handlers/outcomes.py: _hand_on)
    answer = {
        "delivery_id": str(row["id"]),
        "state": "sent",
        "provider": "memory-sms",
        "provider_message_id": "m-late",
        "sending_since": row["created_at"].isoformat(),
        "at": notify.clock.now.isoformat(),
        "error": None,
    }
    assert record_outcome(notify.ctx, answer) == "sent"
    assert record_outcome(notify.ctx, answer) == "sent"  # the task redelivered
    settled = notify.row(row["id"])
    assert (settled["state"], settled["provider_message_id"]) == ("sent", "m-late")
    assert notify.reports() == [(str(row["id"]), "unknown"), (str(row["id"]), "sent")]
    assert notify.broker.tasks(OUTCOME_TASK) == []


def test_provider_statuses_only_move_a_message_forward(notify):
    plan_event(notify.ctx, notify.complaint(new_phone()))
    (row,) = notify.rows()
    by_id = {"provider": "memory-sms", "provider_message_id": "m-1"}
    assert record_status(notify.ctx, {**by_id, "status": "delivered"})
    assert notify.row(row["id"])["state"] == "delivered"
    assert not record_status(notify.ctx, {**by_id, "status": "sent"})  # an older status
    assert not record_status(notify.ctx, {**by_id, "status": "failed"})  # delivered stays delivered
    assert not record_status(notify.ctx, {**by_id, "status": "bounced"})  # not a status we know
    assert not record_status(notify.ctx, {"provider": "memory-sms", "provider_message_id": "m-9", "status": "read"})
    assert notify.row(row["id"])["state"] == "delivered"
    assert notify.reports() == [(str(row["id"]), "sent"), (str(row["id"]), "delivered")]


# -- a corrected contact (docs/adr/0017) -------------------------------------------------------------------
def correct(notify: Notify, stream: str, phone: str) -> uuid.UUID:
    """The complainant's phone corrected (the workflow's ComplainantDataCorrected); returns the event's id."""
    received = next(e for e in notify.events.read_stream(stream) if e.version == 1).decode()
    return notify.append(
        stream,
        ComplainantDataCorrected(
            complainant=received.complainant.model_copy(update={"phone": phone}),
            corrected=["phone"],
            reason="permintaan pengadu",
            request_id=uuid.uuid4(),
        ),
    )


def to(notify: Notify, phone: str) -> list[tuple[str, str]]:
    """(kind, state) of each message to ``phone``."""
    return sorted((r["kind"], r["state"]) for r in notify.rows() if r["recipient"] == phone)


def failing_story(notify: Notify, phone: str, *events) -> str:
    """A complaint by SMS to ``phone`` whose messages all failed (a number that is not theirs, or none at all):
    its acknowledgment, then one message per event of ``events``; returns the stream."""
    received_id = notify.complaint(phone)
    stream = notify.events.read_event(received_id).stream_id
    for event_id in [received_id] + [notify.append(stream, event) for event in events]:
        notify.sms.answers.append(PermanentSendError("nomor tidak aktif", provider="memory-sms", status=400))
        plan_event(notify.ctx, event_id)
    return stream


def a_documents_request() -> DocumentsRequested:
    return DocumentsRequested(message="Kirim foto KTP.", close_after=datetime(2026, 3, 5, 2, 0, tzinfo=UTC))


def test_a_corrected_number_gets_the_acknowledgment_and_the_latest_message_while_the_complaint_is_handled(notify):
    mistyped, corrected = new_phone(), new_phone()
    stream = failing_story(notify, mistyped, a_documents_request(), a_documents_request())
    correction = correct(notify, stream, corrected)

    assert plan_event(notify.ctx, correction) == 2

    # the acknowledgment and the latest request; the first request, stale, not
    assert to(notify, corrected) == [("acknowledgment", "sent"), ("documents_requested", "sent")]
    assert [m.to for m in notify.sms.sent[-2:]] == [corrected] * 2
    assert {state for _, state in to(notify, mistyped)} == {"failed"}  # on record as they were
    assert plan_event(notify.ctx, correction) == 2 and len(notify.rows()) == 5  # again: the same ids, nothing new


def test_once_the_complaint_ended_only_its_final_message_is_sent_again_and_only_if_it_reached_nobody(notify):
    mistyped, corrected = new_phone(), new_phone()
    stream = failing_story(notify, mistyped, a_documents_request(), ComplaintWithdrawn(reason="Dicabut pengadu"))
    assert plan_event(notify.ctx, correct(notify, stream, corrected)) == 1
    assert to(notify, corrected) == [("withdrawn", "sent")]  # no acknowledgment of a complaint that has ended

    delivered = new_phone()
    stream = failing_story(notify, new_phone(), ComplaintWithdrawn(reason="Dicabut pengadu"))
    withdrawn = next(r for r in notify.rows() if r["kind"] == "withdrawn" and str(r["complaint_id"]) in stream)
    notify.memory.deliveries[withdrawn["id"]] = {**withdrawn, "state": "delivered"}  # it did reach them
    assert plan_event(notify.ctx, correct(notify, stream, delivered)) == 0
    assert to(notify, delivered) == []


def test_an_acknowledgment_sent_to_the_mistyped_number_is_sent_again_to_the_corrected_one(notify):
    """The usual reason for a correction: the acknowledgment went out, to a number that is someone else's."""
    mistyped, corrected = new_phone(), new_phone()
    received_id = notify.complaint(mistyped)
    plan_event(notify.ctx, received_id)
    assert to(notify, mistyped) == [("acknowledgment", "sent")]

    plan_event(notify.ctx, correct(notify, notify.events.read_event(received_id).stream_id, corrected))

    assert to(notify, corrected) == [("acknowledgment", "sent")]


def test_a_waiting_message_is_stopped_and_an_earlier_correction_handled_late_changes_nothing(notify):
    """Corrected to a number mistyped again, then corrected once more: the earlier correction, handled after the
    later one (redelivered, or taken by a slower worker), neither stops the message to the right number nor sends
    to the one it replaced."""
    first, typo, right = new_phone(), new_phone(), new_phone()
    received_id = notify.complaint(first)
    stream = notify.events.read_event(received_id).stream_id
    plan_event(notify.ctx, received_id, send_now=False)  # the acknowledgment waits for `first`
    earlier, later = correct(notify, stream, typo), correct(notify, stream, right)

    assert plan_event(notify.ctx, later, send_now=False) == 1
    assert plan_event(notify.ctx, earlier, send_now=False) == 0

    assert to(notify, first) == [("acknowledgment", "failed")]
    assert to(notify, right) == [("acknowledgment", "pending")] and to(notify, typo) == []
    stopped = next(r for r in notify.rows() if r["recipient"] == first)
    assert stopped["last_error"] == CONTACT_CORRECTED and (str(stopped["id"]), "failed") in notify.reports()


def test_a_correction_back_to_the_first_number_wakes_the_message_stopped_for_it(notify):
    original, slip = new_phone(), new_phone()
    received_id = notify.complaint(original)
    stream = notify.events.read_event(received_id).stream_id
    plan_event(notify.ctx, received_id, send_now=False)
    plan_event(notify.ctx, correct(notify, stream, slip), send_now=False)  # staff's slip
    assert to(notify, original) == [("acknowledgment", "failed")]

    plan_event(notify.ctx, correct(notify, stream, original))  # undone

    assert to(notify, original) == [("acknowledgment", "sent")] and notify.sms.sent[-1].to == original
    assert to(notify, slip) == [("acknowledgment", "failed")]  # stopped in its turn


def test_the_plan_records_its_event_in_the_inbox_in_each_way_it_ends():
    """Given the task's name (the worker's ``notify.plan``), the plan records its event in notify's inbox in a unit it
    commits (the plan's own: tests/integration/test_notify_plan_transaction.py counts the one transaction): a plan,
    a correction of the complainant's contact (after its last step), an event too old to tell. Without it (a direct
    call), nothing."""
    notify = Notify(notify_max_event_age_hours=1)
    mistyped, corrected = new_phone(), new_phone()
    received_id = notify.complaint(mistyped)
    stream = notify.events.read_event(received_id).stream_id
    assert plan_event(notify.ctx, received_id) == 1 and notify.memory.inbox == set()
    assert plan_event(notify.ctx, received_id, inbox="notify.plan") == 1  # the relay's task: nothing sent again
    correction = correct(notify, stream, corrected)
    assert plan_event(notify.ctx, correction, inbox="notify.plan") == 1
    notify.clock.now += timedelta(hours=2)
    late = notify.append(stream, a_documents_request())  # recorded two hours before the worker's clock
    assert plan_event(notify.ctx, late, inbox="notify.plan") == 0
    assert notify.memory.inbox == {("notify.plan", event_id) for event_id in (received_id, correction, late)}
    assert [m.to for m in notify.sms.sent] == [mistyped, corrected]
