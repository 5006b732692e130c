"""The staff's news of new work planned in rounds (services/notify/new_work.py, docs/adr/0031) on PostgreSQL: a round
plans each event's news once and moves its checkpoint in one transaction, then hands the messages to the queue; an
event it cannot plan is set aside and the other complaints go on; a deployment's first round starts with the events
recorded within the age at which events still make a message. The rules of whom the news reaches:
tests/unit/test_notify_flow.py; the rounds in the projections process, with the notify worker sending:
tests/integration/test_notify.py."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from services.accounts.handlers import add_user, set_contact
from services.notify.adapters.gauges import gauges
from services.notify.adapters.tables import checkpoints, deliveries, projection_failures
from services.notify.bootstrap import bootstrap as notify_bootstrap
from services.notify.config import NotifySettings
from services.notify.handlers.sending import SEND_TASK
from services.notify.new_work import NewWorkRounds
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from services.workflow.domain.events import stream_id
from shared.eventstore.postgres import events
from shared.tenancy import KecamatanDirectory, upsert_kecamatan
from tests.contracts.workflow_uow import new_place
from tests.support.complaints import record_complaint
from tests.support.tasks import SentTasks


@pytest.fixture(scope="module")
def wf(settings, engine):
    container = workflow_bootstrap(settings)
    yield container
    container.engine.dispose()


@pytest.fixture
def notify(settings, tmp_path):
    container = notify_bootstrap(
        NotifySettings(
            **{**settings.model_dump(), "data_dir": str(tmp_path), "smtp_host": "127.0.0.1", "smtp_port": 9}
        ),  # an e-mail channel to plan to; nothing is sent here
        pool_size=2,
    )
    yield dataclasses.replace(container, directory=KecamatanDirectory(container.engine), celery=SentTasks())
    container.engine.dispose()


@pytest.fixture
def place(engine, wf):
    """A kecamatan of the test's own, with a Kasi who asked to hear of new work and one who did not."""
    place = new_place()
    upsert_kecamatan(engine, [place])
    wf.directory.invalidate()
    return place


def kasi(engine, place, *, asked: bool) -> str:
    username = f"kasi.{uuid.uuid4().hex[:8]}"
    add_user(engine, username, "Kasi Uji", "kasi", "rahasia-uji-123", kecamatan=place.slug, unit="pemerintahan")
    set_contact(engine, username, email=f"{username}@kecamatan.example.id", new_work=asked)
    return username


def rounds_from_the_head(notify, engine) -> NewWorkRounds:
    """The round under a checkpoint of the test's own, at the store's head (the shared test database holds every
    other test's events, which are not this test's business)."""
    rounds = type("Rounds", (NewWorkRounds,), {"name": f"notify.new-work.test-{uuid.uuid4().hex[:8]}"})(notify)
    with engine.begin() as conn:
        head = conn.execute(select(func.coalesce(func.max(events.c.position), 0))).scalar_one()
        conn.execute(insert(checkpoints).values(name=rounds.name, position=head))
    return rounds


def catch_up(rounds: NewWorkRounds) -> int:
    read = 0
    while True:
        result = rounds.round()
        read += result.handled  # the events it read, of every type
        if not result.more:
            return read


def checkpoint(engine, name: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(checkpoints.c.position).where(checkpoints.c.name == name)).scalar_one()


def news_of(engine, complaint_id) -> list[dict]:
    with engine.connect() as conn:
        query = select(deliveries).where(deliveries.c.complaint_id == complaint_id, deliveries.c.kind == "new_work")
        return [dict(r) for r in conn.execute(query).mappings()]


def test_a_round_plans_each_events_news_once_hands_it_to_the_queue_and_moves_its_checkpoint(wf, notify, engine, place):
    asked, silent = kasi(engine, place, asked=True), kasi(engine, place, asked=False)
    rounds = rounds_from_the_head(notify, engine)
    complaint = record_complaint(wf, place.slug)

    assert catch_up(rounds) >= 1

    (news,) = news_of(engine, complaint.complaint_id)
    assert (news["username"], news["audience"], news["channel"]) == (asked, "staff", "email")
    assert (news["state"], news["attempts"], news["variables"]["langkah"]) == ("pending", 0, "2")
    assert news["recipient"] == f"{asked}@kecamatan.example.id" and silent not in str(news)
    assert complaint.tracking_code in news["body"]  # the complainant is not named: the code, the step, the link
    assert notify.celery.sent == [(SEND_TASK, [{"delivery_id": str(news["id"])}])]
    received = wf.store.read_stream(stream_id(complaint.complaint_id))[0]
    assert checkpoint(engine, rounds.name) >= received.position

    # the checkpoint moved with the plan: the next round reads nothing of it again; a round done again from an
    # earlier checkpoint (it died before its commit was known) plans nothing new and hands nothing on
    assert catch_up(rounds) == 0
    with engine.begin() as conn:
        conn.execute(
            checkpoints.update().where(checkpoints.c.name == rounds.name).values(position=received.position - 1)
        )
    assert catch_up(rounds) >= 1
    assert len(news_of(engine, complaint.complaint_id)) == 1 and len(notify.celery.sent) == 1


def test_an_event_it_cannot_plan_is_set_aside_and_the_other_complaints_go_on(wf, notify, engine, place):
    """A kecamatan the deployment no longer serves (its events stay in the store): where someone there asked for news,
    its event cannot be planned (no kecamatan to word it for). It is set aside, its complaint's later events held
    behind it, and the round goes on with the others; where nobody asked, its events are not even read."""
    gone = new_place()
    upsert_kecamatan(engine, [gone])
    wf.directory.invalidate()
    kasi(engine, place, asked=True)
    kasi(engine, gone, asked=True)
    rounds = rounds_from_the_head(notify, engine)
    lost = record_complaint(wf, gone.slug)
    kept = record_complaint(wf, place.slug)
    rounds.notify = dataclasses.replace(notify, directory={place.slug: place})  # the deployment serves one

    catch_up(rounds)

    assert news_of(engine, lost.complaint_id) == [] and len(news_of(engine, kept.complaint_id)) == 1
    with engine.connect() as conn:
        (failure,) = conn.execute(
            select(projection_failures).where(projection_failures.c.projection == rounds.name)
        ).mappings()
    assert (failure["stream_id"], failure["kecamatan"]) == (stream_id(lost.complaint_id), gone.slug)
    assert failure["error_class"] == "LookupError" and failure["held_behind"] is None
    assert checkpoint(engine, rounds.name) >= failure["position"]  # passed, not stuck on it
    # the deployment serves it again: the first round of the next process plans it, and the failure leaves the table
    again = type(rounds)(dataclasses.replace(notify, directory=KecamatanDirectory(notify.engine)))
    catch_up(again)
    assert len(news_of(engine, lost.complaint_id)) == 1
    with engine.connect() as conn:
        left = conn.execute(select(func.count()).where(projection_failures.c.projection == rounds.name)).scalar_one()
    assert left == 0


def test_the_first_round_of_a_deployment_starts_with_the_events_young_enough_to_make_news(wf, notify, engine, place):
    """No checkpoint yet (a new deployment, or one upgraded from planning the news per event): the round starts after
    the last event recorded before ``notify_max_event_age_hours`` (older ones make no message), not at position 0."""
    kasi(engine, place, asked=True)
    old = record_complaint(wf, place.slug)
    rounds = type("Rounds", (NewWorkRounds,), {"name": f"notify.new-work.test-{uuid.uuid4().hex[:8]}"})
    age = timedelta(hours=notify.settings.notify_max_event_age_hours)
    later = datetime.now(UTC) + age + timedelta(minutes=5)  # the old complaint is older than the age by then
    first = rounds(dataclasses.replace(notify, clock=lambda: later))
    assert catch_up(first) == 0
    with engine.connect() as conn:
        head = conn.execute(select(func.max(events.c.position))).scalar_one()
    assert checkpoint(engine, first.name) == head  # one statement found where to start; nothing was read
    young = record_complaint(wf, place.slug)
    assert catch_up(rounds(notify)) >= 1
    assert news_of(engine, old.complaint_id) == [] and len(news_of(engine, young.complaint_id)) == 1


def test_the_rounds_lag_and_set_aside_events_are_scrape_time_gauges(engine):
    with engine.connect() as conn:
        found = {(g.name, tuple(sorted(g.labels.items()))): g.value for g in gauges(conn)}
    assert found[("pengaduan_subscription_lag_events", (("subscription", "notify.new-work"),))] >= 0
    assert (("pengaduan_projection_failures", (("projection", "notify.new-work"),))) in found


# -- review (h-rev): what the tests above leave open -------------------------------------------------------------
def staff(engine, place, role: str, unit: str | None = None) -> str:
    username = f"{role}.{uuid.uuid4().hex[:8]}"
    add_user(engine, username, "Petugas Uji", role, "rahasia-uji-123", kecamatan=place.slug, unit=unit)
    set_contact(engine, username, email=f"{username}@kecamatan.example.id", new_work=True)
    return username


def append_next(wf, complaint, event) -> uuid.UUID:
    """``event`` appended to the complaint's stream after its last event (as the workflow would)."""
    from shared.events import Actor, envelope

    stream = wf.store.read_stream(stream_id(complaint.complaint_id))
    stored = envelope(
        event,
        event_id=uuid.uuid4(),
        stream_id=stream[-1].stream_id,
        version=stream[-1].version + 1,
        kecamatan=stream[-1].kecamatan,
        occurred_at=datetime.now(UTC),
        actor=Actor.system("workflow"),
        correlation_id=uuid.uuid4(),
    )
    wf.store.append(stored.stream_id, stream[-1].version, [stored])
    return stored.event_id


def test_a_round_whose_commit_fails_hands_nothing_to_the_queue(wf, notify, engine, place):
    """The hand-off comes after the commit: a round rolled back at its end (here: its commit lost after everything
    in it was done) leaves no row and no ``notify.send`` task behind (a task for a row rolled back dead-letters)."""
    kasi(engine, place, asked=True)
    rounds = rounds_from_the_head(notify, engine)
    complaint = record_complaint(wf, place.slug)
    done = rounds.round_in

    def commit_lost(conn):
        done(conn)
        raise RuntimeError("the commit failed")

    rounds.round_in = commit_lost
    with pytest.raises(RuntimeError):
        rounds.round()
    assert news_of(engine, complaint.complaint_id) == [] and notify.celery.sent == []


def test_one_round_over_two_kecamatan_words_each_ones_news_for_its_own_staff(wf, notify, engine, place):
    """Who asked and the templates are read once a round per kecamatan: each kecamatan's news goes to its own staff
    and in its own words, never another's met earlier in the same round."""
    from services.notify.handlers.templates_admin import set_template

    other = new_place()
    upsert_kecamatan(engine, [other])
    wf.directory.invalidate()
    here, there = kasi(engine, place, asked=True), kasi(engine, other, asked=True)
    set_template(notify.uow, other.slug, "new_work", "email",
                 "Kabar {{ kecamatan }} untuk {{ petugas }}: langkah {{ langkah }} {{ link }}",
                 subject="Tugas baru {{ kode }}")  # fmt: skip
    rounds = rounds_from_the_head(notify, engine)
    first, second = record_complaint(wf, place.slug), record_complaint(wf, other.slug)

    catch_up(rounds)

    (a,), (b,) = news_of(engine, first.complaint_id), news_of(engine, second.complaint_id)
    assert (a["username"], b["username"]) == (here, there)
    assert not a["body"].startswith("Kabar") and b["body"].startswith(f"Kabar {other.name}")


def test_the_first_round_plans_the_young_events_recorded_before_it(wf, notify, engine, place):
    """An upgrade: the events recorded before the first round but within the age are planned by it (whatever the old
    deployment's notify.plan had not planned when it stopped), not skipped by a start at the store's head."""
    asked = kasi(engine, place, asked=True)
    complaint = record_complaint(wf, place.slug)
    received = wf.store.read_stream(stream_id(complaint.complaint_id))[0]
    with engine.connect() as conn:
        recorded = conn.execute(select(events.c.recorded_at).where(events.c.position == received.position)).scalar_one()
    age = timedelta(hours=notify.settings.notify_max_event_age_hours)
    # the age's edge a moment before the complaint: the window holds it and (almost) nothing of the other tests
    at = recorded + age - timedelta(milliseconds=1)
    rounds = type("Rounds", (NewWorkRounds,), {"name": f"notify.new-work.test-{uuid.uuid4().hex[:8]}"})
    catch_up(rounds(dataclasses.replace(notify, clock=lambda: at)))
    assert [n["username"] for n in news_of(engine, complaint.complaint_id)] == [asked]


def test_an_event_set_aside_does_not_hold_back_the_news_of_its_complaints_later_steps(
    wf, notify, engine, place, monkeypatch
):
    """The news of one step does not depend on the news of another (no read model is built event after event):
    an event the round cannot plan (a bug meeting an odd event) must not hold its complaint's later events, whose
    news would wait for the next restart of the process and, more than ``notify_max_event_age_hours`` later, be
    dropped as too old."""
    import services.notify.new_work as new_work
    from shared.contracts.workflow import IdentityVerified

    kasi(engine, place, asked=True)
    staf = staff(engine, place, "staf")
    rounds = rounds_from_the_head(notify, engine)
    complaint = record_complaint(wf, place.slug)
    received = wf.store.read_stream(stream_id(complaint.complaint_id))[0]
    verified = append_next(
        wf,
        complaint,
        IdentityVerified(step=2, output="Kejelasan Identitas Pengadu", next_step=3,
                         next_due_at=datetime.now(UTC) + timedelta(hours=1)),
    )  # fmt: skip

    class Odd(new_work.NewWork):
        def plan(self, envelopes):
            if any(e.event_id == received.event_id for e in envelopes):
                raise ValueError("a bug meeting an odd event")
            super().plan(envelopes)

    monkeypatch.setattr(new_work, "NewWork", Odd)
    catch_up(rounds)

    told = [(n["source_event_id"], n["username"]) for n in news_of(engine, complaint.complaint_id)]
    assert told == [(verified, staf)]  # the staf's step 3 waits on them now
