"""A database blip after the provider took a message (issue #13 item 6): the provider's answer is kept and
only its write is retried, so the message ends ``sent``, once, with the provider called once; never
``unknown`` for a person to settle.

The blip is real: while the SMTP sink holds its answer, the test takes the delivery's row lock, waits
until the worker's write queues behind it, and terminates that worker's connection with
``pg_terminate_backend`` (what a PostgreSQL restart or a dropped connection does to a statement).
"""

from __future__ import annotations

import psycopg

from services.notify.handlers.planning import plan_event
from shared.db import libpq_url
from tests.integration.test_notify import (  # noqa: F401 (the fixtures)
    channel_env,
    clean_sinks,
    first_event_id,
    new_complaint,
    notify,
    rows_of,
    sinks,
    wf,
)
from tests.support.processes import wait_until


def _blip_during_the_write(notify, settings, row, clean_sinks, hold_after: float) -> None:
    """Hold the row while the sink answers, kill the worker's connection once its write waits on the row,
    then let go after ``hold_after`` seconds."""
    # this delivery's mail, not any: a worker may first run sends that earlier tests left on the queue
    wait_until(
        lambda: [m for m in clean_sinks.messages("email") if m["reference"] == row["id"].hex],
        timeout=30,
        message="the mail at the SMTP server",
    )
    with psycopg.connect(libpq_url(settings.database_url), autocommit=False) as conn:
        conn.execute("SELECT 1 FROM notify.deliveries WHERE id = %s FOR UPDATE", (row["id"],))

        def waiting_writer():
            conn.execute("SELECT pg_stat_clear_snapshot()")  # the view is otherwise read once per transaction
            found = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))"
            ).fetchall()
            return found[0][0] if found else None

        pid = wait_until(waiting_writer, timeout=30, message="the worker's write to wait on the row")
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
        if hold_after:
            wait_until(lambda: (w := waiting_writer()) and w != pid, timeout=30, message="the write tried again")
            conn.execute("SELECT pg_sleep(%s)", (hold_after,))
        conn.rollback()


def _send_by_a_worker(notify, wf, spawn, channel_env, **env):
    notify.celery.control.purge()  # sends other tests left without a worker
    cid, _ = new_complaint(wf, "email")
    plan_event(notify, first_event_id(wf, cid), send_now=False)  # the send goes to the queue
    (row,) = rows_of(notify, cid)
    # a task limit roomy enough for a write window of a few seconds (the suite's 8 s visibility gives 1 s)
    worker = spawn(
        "worker", "notify", "--concurrency", "1", PENGADUAN_BROKER_VISIBILITY_TIMEOUT="40", **{**channel_env, **env}
    )
    return cid, row, worker


def _sent_once(notify, cid, row, clean_sinks) -> dict:
    done = wait_until(
        lambda: (r := rows_of(notify, cid)[0])["state"] != "sending" and r,
        timeout=30,
        message="the delivery to leave 'sending'",
    )
    assert done["state"] == "sent", done["last_error"]
    assert done["attempts"] == 1 and done["provider"] == "smtp"
    # the provider was called once for this message: the sink keeps every mail it took, and it took one
    # (its attempt counter is not asked: sends that earlier tests left on the queue count there too)
    (mail,) = [m for m in clean_sinks.messages("email") if m["reference"] == row["id"].hex]
    assert done["provider_message_id"].strip("<>") == mail["id"]  # the provider's own answer, kept
    return done


def test_a_database_blip_after_the_provider_took_the_message_leaves_it_sent(
    wf, notify, clean_sinks, spawn, channel_env, settings
):
    clean_sinks.control("smtp", "ok", delay=1.5)  # the server takes the mail, then answers: time to hold the row
    cid, row, _ = _send_by_a_worker(notify, wf, spawn, channel_env)
    _blip_during_the_write(notify, settings, row, clean_sinks, hold_after=0)
    _sent_once(notify, cid, row, clean_sinks)
    wait_until(lambda: rows_of(notify, cid)[0]["reported_state"] == "sent", timeout=10, message="the report")


def test_a_database_away_longer_than_the_write_window_gets_the_answer_written_later(
    wf, notify, clean_sinks, spawn, channel_env, settings
):
    """The write is retried for PENGADUAN_NOTIFY_OUTCOME_WRITE_SECONDS only; the provider's answer then waits
    in the queue as a task of its own and is written when the row can be written again."""
    clean_sinks.control("smtp", "ok", delay=1.5)
    cid, row, worker = _send_by_a_worker(notify, wf, spawn, channel_env, PENGADUAN_NOTIFY_OUTCOME_WRITE_SECONDS="1")
    _blip_during_the_write(notify, settings, row, clean_sinks, hold_after=3)
    _sent_once(notify, cid, row, clean_sinks)
    assert "queued as notify.record_outcome" in worker.output()  # the answer went by the queue, not the send
