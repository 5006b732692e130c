"""``pengaduan projections status``: every catch-up subscription of the projections process with its lag and the
events it set aside, not only the dashboard's (``shared.projection_failures.status``, each service's
``ProjectionAdmin``): the tracking page's projection, the staff's news of new work, and the LAPOR! follower when the
bridge is on. An operator whose citizens see a stale tracking page, or whose staff hear of no new work, finds which
one is behind here."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid

from sqlalchemy import event, func, select

from services.notify.adapters import tables as notify_tables
from shared.events import Actor, EventEnvelope
from shared.eventstore.postgres import PostgresEventStore, events
from shared.projection_failures import SetAside, status, transaction
from shared.subscriptions import Checkpoints
from tests.contracts.eventstore import make_event, new_stream
from tests.support.processes import env_for

LAPOR_ON = {
    "PENGADUAN_LAPOR_URL": "http://127.0.0.1:9/lapor",  # never called: status only reads the tables
    "PENGADUAN_LAPOR_TOKEN": "uji-token",
    "PENGADUAN_LAPOR_WEBHOOK_TOKEN": "uji-webhook-token-of-thirty-two-chars",
}


def _listed(settings, **extra: str) -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-m", "pengaduan", "projections", "status"],
        capture_output=True,
        text=True,
        env=env_for(settings, **extra),
        timeout=120,
        check=True,
    ).stdout
    return {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(" ")}


def test_the_command_lists_every_subscription_of_the_projections_process(settings):
    listed = _listed(settings)
    assert {"dashboard.complaints", "dashboard.service_requests", "projection.tracking", "notify.new-work"} <= set(
        listed
    )
    assert "lapor.follow-ups" not in listed  # the bridge is off: its follower does not run
    for line in listed.values():
        assert re.search(r"checkpoint +\d+ +head +\d+ +lag +\d+ +set aside +\d+ \(\+\d+ held\)", line), line

    assert "lapor.follow-ups" in _listed(settings, **LAPOR_ON)


def test_a_subscriptions_lag_and_what_it_set_aside(engine):
    """The shared reading each service's status is made of, on a subscription of this test's own (the live ones
    move while other tests run): its checkpoint against the store's head, and an event its round could not apply."""
    name = f"uji.status-{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        head = conn.execute(select(func.coalesce(func.max(events.c.position), 0))).scalar_one()
        Checkpoints(notify_tables.checkpoints).set(conn, name, max(0, head - 3))
    odd = EventEnvelope(
        event_id=uuid.uuid4(),
        stream_id=f"complaint-{uuid.uuid4()}",
        version=1,
        kecamatan="pegantenan",
        type="workflow.StepCompleted",
        schema_version=1,
        occurred_at="2026-12-06T09:00:00+07:00",
        actor=Actor(kind="user", user_id="uji.staf", role="staf"),
        correlation_id=uuid.uuid4(),
        payload={"step": 2},
        position=max(1, head - 1),
    )
    set_aside = SetAside(notify_tables.projection_failures, name, hold=False)

    def fails(_events) -> None:
        raise ValueError("an event of a shape this round does not know")

    transaction(engine, lambda conn: set_aside.apply(conn, [odd], fails))

    with engine.connect() as conn:
        [brief] = status(conn, notify_tables.checkpoints, notify_tables.projection_failures, [name])
        [full] = status(conn, notify_tables.checkpoints, notify_tables.projection_failures, [name], details=True)
        [never] = status(conn, notify_tables.checkpoints, notify_tables.projection_failures, [f"{name}-belum"])
    assert brief["checkpoint"] == max(0, head - 3) and brief["head"] >= head
    assert brief["lag"] == brief["head"] - brief["checkpoint"]
    assert (brief["failed"], brief["held"]) == (1, 0) and "failures" not in brief
    [failure] = full["failures"]
    assert failure["event_id"] == odd.event_id and failure["error_class"] == "ValueError" and failure["held"] == 0
    assert never["checkpoint"] == 0 and never["lag"] == never["head"] and (never["failed"], never["held"]) == (0, 0)


def test_a_lag_is_never_negative_when_the_subscription_moves_while_it_is_read(engine):
    """A subscription that reads a new event and moves its checkpoint while the status is being read (the live
    projections run while an operator asks): the checkpoint the status reads must not be past the head it reads,
    a lag below zero is no number an operator can act on. Here the event and the checkpoint's move commit
    between the status's statements."""
    name = f"uji.status-{uuid.uuid4().hex[:8]}"
    store = PostgresEventStore(engine)
    with engine.begin() as conn:
        Checkpoints(notify_tables.checkpoints).set(conn, name, 0)

    def moved(conn, cursor, statement, *_):
        if moved.done or "max(workflow.events.position)" not in statement:
            return
        moved.done = True  # a round elsewhere: an event appended, read, and the checkpoint moved past it
        stream = new_stream()
        (position,) = store.append(stream, 0, [make_event(stream, 1)])
        with engine.begin() as other:
            Checkpoints(notify_tables.checkpoints).set(other, name, position)

    moved.done = False
    with engine.connect() as conn:
        event.listen(conn, "after_cursor_execute", moved)
        [item] = status(conn, notify_tables.checkpoints, notify_tables.projection_failures, [name])
    assert moved.done
    assert item["lag"] >= 0, item


def test_a_half_configured_bridge_is_said_and_the_others_still_listed(settings):
    """The LAPOR! bridge's URL without its tokens: the process that runs the follower refuses to start; the status
    lists every other subscription and says which settings are missing, without a traceback (exit status 1)."""
    done = subprocess.run(
        [sys.executable, "-m", "pengaduan", "projections", "status"],
        capture_output=True,
        text=True,
        env=env_for(settings, PENGADUAN_LAPOR_URL="http://127.0.0.1:9/lapor"),
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "projection.tracking" in done.stdout and "dashboard.complaints" in done.stdout
    assert "PENGADUAN_LAPOR_TOKEN" in done.stderr and "Traceback" not in done.stderr
