"""Notify over real parts: PostgreSQL, Redis, Celery worker processes, and local servers that speak the
providers' protocols (devtools/sinks/: an aiosmtpd SMTP server, HTTP SMS and WhatsApp Cloud
API sinks that can be told to fail, time out or answer 500).

What must hold: every message is sent once however often its task runs; transient failures are retried
with backoff and a permanent one becomes a ``NotificationFailed`` event on the complaint; a crash after
the provider call is reconciled with the provider, not sent again; the letter's confirmed send closes
step 12.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from devtools.sinks.runner import Sinks
from services.accounts.handlers import add_user, set_contact
from services.notify.adapters.tables import checkpoints, deliveries
from services.notify.bootstrap import bootstrap as notify_bootstrap
from services.notify.config import NotifySettings
from services.notify.handlers.planning import plan_event
from services.notify.handlers.sending import send_delivery
from services.notify.handlers.statuses import record_status
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from services.workflow.domain.events import stream_id
from shared.celery_app import make_celery
from shared.contracts.intake import Complainant
from shared.contracts.letters import LetterDocumentIssued
from shared.contracts.routing import SUBSCRIPTIONS
from shared.eventstore.postgres import events
from shared.privacy import provider_id_hashes
from shared.storage import store_from_settings
from tests.support.complaints import record_complaint
from tests.support.processes import wait_until

PHONE = "+6281234567890"


@pytest.fixture(scope="module")
def sinks():
    with Sinks() as s:
        yield s


@pytest.fixture
def clean_sinks(sinks):
    sinks.clear()
    for target in ("smtp", "sms", "whatsapp"):
        sinks.control(target, "ok")
    return sinks


@pytest.fixture(scope="module")
def channel_env(sinks, tmp_path_factory) -> dict[str, str]:
    data = tmp_path_factory.mktemp("notify-data")
    return {
        "PENGADUAN_DATA_DIR": str(data),
        "PENGADUAN_SMTP_HOST": "127.0.0.1",
        "PENGADUAN_SMTP_PORT": str(sinks.smtp_port),
        "PENGADUAN_SMS_PROVIDER": "http",
        "PENGADUAN_SMS_URL": f"{sinks.http_url}/sms/send",
        "PENGADUAN_SMS_STATUS_URL": f"{sinks.http_url}/sms/status/{{reference}}",
        "PENGADUAN_SMS_TIMEOUT": "1",
        "PENGADUAN_WHATSAPP_API_URL": f"{sinks.http_url}/whatsapp",
        "PENGADUAN_WHATSAPP_TOKEN": "token",
        "PENGADUAN_WHATSAPP_PHONE_NUMBER_ID": "100200300",
        "PENGADUAN_WHATSAPP_TIMEOUT": "1",
        "PENGADUAN_NOTIFY_RETRY_BASE_SECONDS": "0.2",
        "PENGADUAN_NOTIFY_RETRY_MAX_SECONDS": "0.5",
        "PENGADUAN_NOTIFY_MAX_ATTEMPTS": "4",
        "PENGADUAN_NOTIFY_SENDING_LEASE_SECONDS": "3",
        "PENGADUAN_PUBLIC_BASE_URL": "https://pengaduan.example.id",
    }


@pytest.fixture(scope="module")
def notify(settings, channel_env):
    env_names = {k.removeprefix("PENGADUAN_").lower(): v for k, v in channel_env.items()}
    container = notify_bootstrap(NotifySettings(**{**settings.model_dump(), **env_names}))
    yield container
    container.celery.control.purge()  # the sends this module enqueued without a worker
    container.engine.dispose()


@pytest.fixture(scope="module")
def wf(settings, engine):
    container = workflow_bootstrap(settings)
    yield container
    container.engine.dispose()


def new_complaint(
    wf,
    channel: str,
    *,
    phone: str | None = PHONE,
    email: str | None = "siti@example.id",
    received_at: datetime | None = None,
) -> tuple[uuid.UUID, str]:
    """Received by ``channel``, from Siti Aminah with the contacts given (no NIK, no address)."""
    message = record_complaint(
        wf,
        channel=channel,
        complainant=Complainant(name="Siti Aminah", phone=phone, email=email),
        received_at=received_at,
    )
    return message.complaint_id, message.tracking_code


def events_of(wf, complaint_id):
    return [e.decode() for e in wf.store.read_stream(stream_id(complaint_id))]


def first_event_id(wf, complaint_id) -> uuid.UUID:
    return wf.store.read_stream(stream_id(complaint_id))[0].event_id


def rows_of(notify, complaint_id, audience: str | None = "complainant") -> list[dict]:
    query = select(deliveries).where(deliveries.c.complaint_id == complaint_id)
    if audience:
        query = query.where(deliveries.c.audience == audience)
    with notify.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def when_due(notify, delivery_id) -> None:
    """Wait out the backoff of a pending row (0.2-0.5 s here): a copy of the task that runs early does nothing."""
    with notify.engine.connect() as conn:
        due = conn.execute(select(deliveries.c.next_attempt_at).where(deliveries.c.id == delivery_id)).scalar_one()
    pause = (due - datetime.now(UTC)).total_seconds()
    if pause > 0:
        time.sleep(pause + 0.05)


def test_the_acknowledgment_goes_by_the_complainants_own_channel_once(wf, notify, clean_sinks):
    cid, code = new_complaint(wf, "sms")
    event_id = first_event_id(wf, cid)
    assert plan_event(notify, event_id, send_now=False) == 1
    assert plan_event(notify, event_id, send_now=False) == 1  # a redelivered event: the same row, nothing new
    (row,) = rows_of(notify, cid)
    assert (row["channel"], row["recipient"], row["kind"], row["state"]) == ("sms", PHONE, "acknowledgment", "pending")
    assert send_delivery(notify, row["id"]) == "sent"
    assert send_delivery(notify, row["id"]) == "sent"  # run again: already sent, nothing sent
    (sms,) = clean_sinks.messages("sms")
    assert code in sms["text"] and len(sms["text"]) <= 160 and sms["to"] in (PHONE, PHONE.lstrip("+"))
    assert sms["reference"] == row["id"].hex


def test_transient_failures_are_retried_with_backoff_and_the_message_is_sent_once(wf, notify, clean_sinks):
    cid, _ = new_complaint(wf, "sms")
    plan_event(notify, first_event_id(wf, cid), send_now=False)
    (row,) = rows_of(notify, cid)
    clean_sinks.control("sms", "error500", times=1)
    assert send_delivery(notify, row["id"]) == "pending"
    (after,) = rows_of(notify, cid)
    assert (
        after["attempts"] == 1 and after["next_attempt_at"] > datetime.now(UTC) and "500" in (after["last_error"] or "")
    )
    assert send_delivery(notify, row["id"]) == "pending"  # too early: the backoff holds, nothing is tried
    assert rows_of(notify, cid)[0]["attempts"] == 1
    when_due(notify, row["id"])
    clean_sinks.control("sms", "error429", times=1)
    assert send_delivery(notify, row["id"]) == "pending"
    when_due(notify, row["id"])
    assert send_delivery(notify, row["id"]) == "sent"
    assert len(clean_sinks.messages("sms")) == 1
    assert rows_of(notify, cid)[0]["attempts"] == 3


def test_a_permanent_failure_becomes_a_notification_failed_event_on_the_complaint(wf, notify, clean_sinks, spawn):
    spawn("worker", "workflow", "--concurrency", "1")
    cid, _ = new_complaint(wf, "sms")
    plan_event(notify, first_event_id(wf, cid), send_now=False)
    (row,) = rows_of(notify, cid)
    clean_sinks.control("sms", "error400")
    assert send_delivery(notify, row["id"]) == "failed"
    assert clean_sinks.messages("sms") == []
    failed = wait_until(
        lambda: [e for e in events_of(wf, cid) if e.type == "workflow.NotificationFailed"],
        timeout=30,
        message="the NotificationFailed event",
    )
    assert failed[0].channel == "sms" and failed[0].recipient != PHONE and "400" in failed[0].error
    assert rows_of(notify, cid)[0]["reported_state"] == "failed"


def test_retries_are_bounded(wf, notify, clean_sinks):
    cid, _ = new_complaint(wf, "sms")
    plan_event(notify, first_event_id(wf, cid), send_now=False)
    (row,) = rows_of(notify, cid)
    clean_sinks.control("sms", "error500")
    states = []
    for _ in range(4):
        when_due(notify, row["id"])
        states.append(send_delivery(notify, row["id"]))
    assert states == ["pending", "pending", "pending", "failed"]
    assert "4 percobaan" in rows_of(notify, cid)[0]["last_error"]


def test_the_same_send_task_delivered_five_times_concurrently_sends_once(wf, notify, clean_sinks, spawn, channel_env):
    # at INFO each worker logs the id of every task it ran to its end: each copy is awaited by its id
    workers = [
        spawn("worker", "notify", "--concurrency", str(n), PENGADUAN_LOG_LEVEL="INFO", **channel_env) for n in (4, 2)
    ]
    cid, _ = new_complaint(wf, "email")
    plan_event(notify, first_event_id(wf, cid), send_now=False)
    (row,) = rows_of(notify, cid)
    clean_sinks.control("smtp", "ok", delay=1.0)  # a slow server: the copies overlap
    celery = make_celery(notify.settings, "test")
    copies = [f"copy-{row['id']}-{i}" for i in range(5)]
    for copy in copies:
        celery.send_task("notify.send", args=[{"delivery_id": str(row["id"])}], queue="notify", task_id=copy)
    wait_until(lambda: rows_of(notify, cid)[0]["state"] == "sent", timeout=60, message="the send")
    wait_until(lambda: clean_sinks.attempts("smtp") >= 1, timeout=10)
    wait_until(
        lambda: all(sum(w.succeeded(copy) for w in workers) for copy in copies),
        timeout=60,
        message="every copy to have run to its end",
    )
    assert len([m for m in clean_sinks.messages("email") if m["reference"] == row["id"].hex]) == 1
    assert rows_of(notify, cid)[0]["attempts"] == 1


def test_a_crash_after_the_provider_call_is_reconciled_not_sent_again(wf, notify, clean_sinks, spawn, channel_env):
    cid, _ = new_complaint(wf, "sms")
    plan_event(notify, first_event_id(wf, cid), send_now=False)
    (row,) = rows_of(notify, cid)
    clean_sinks.control("sms", "ok", delay=30)  # the gateway takes the SMS, then answers late
    worker = spawn("worker", "notify", "--concurrency", "1", **channel_env)
    make_celery(notify.settings, "test").send_task(
        "notify.send", args=[{"delivery_id": str(row["id"])}], queue="notify"
    )
    wait_until(lambda: clean_sinks.messages("sms"), timeout=30, message="the SMS at the gateway")
    worker.kill(signal.SIGKILL)  # after the provider call, before the state write
    assert rows_of(notify, cid)[0]["state"] == "sending"
    clean_sinks.control("sms", "ok")
    spawn("worker", "notify", "--concurrency", "1", **channel_env)  # the broker redelivers the task
    wait_until(lambda: rows_of(notify, cid)[0]["state"] == "sent", timeout=60, message="the reconciliation")
    assert len(clean_sinks.messages("sms")) == 1
    assert rows_of(notify, cid)[0]["provider_message_id"]


def test_a_lost_outcome_the_provider_cannot_tell_is_left_unknown_for_a_person(wf, notify, clean_sinks):
    cid, _ = new_complaint(wf, "email")
    plan_event(notify, first_event_id(wf, cid), send_now=False)
    (row,) = rows_of(notify, cid)
    with notify.engine.begin() as conn:  # as a worker that died mid-send leaves it
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id == row["id"])
            .values(state="sending", attempts=1, sending_since=datetime(2026, 1, 1, tzinfo=UTC))
        )
    assert send_delivery(notify, row["id"]) == "unknown"  # SMTP cannot be asked: no blind resend
    assert clean_sinks.messages("email") == []
    assert "tidak diketahui" in rows_of(notify, cid)[0]["last_error"]


def test_a_whatsapp_delivery_receipt_marks_the_message_delivered(wf, notify, clean_sinks):
    cid, _ = new_complaint(wf, "whatsapp", email=None)
    plan_event(notify, first_event_id(wf, cid), send_now=False)
    (row,) = rows_of(notify, cid)
    assert row["channel"] == "whatsapp"
    assert send_delivery(notify, row["id"]) == "sent"
    sent = rows_of(notify, cid)[0]
    wamid = sent["provider_message_id"]
    assert wamid.startswith("wamid.")
    hashes = provider_id_hashes(notify.settings).candidates(wamid)
    assert sent["provider_message_hash"] == hashes[0]  # what its receipts are matched by
    # a receipt naming the message by its id's hashes only, as intake hands it on, without our reference
    assert record_status(
        notify, {"provider": "whatsapp-cloud", "provider_message_hashes": hashes, "status": "delivered"}
    )
    assert rows_of(notify, cid)[0]["state"] == "delivered"
    assert not record_status(
        notify,
        {"provider": "whatsapp-cloud", "provider_message_hashes": hashes, "status": "sent", "reference": row["id"].hex},
    )  # an older status does not go back


def test_staff_who_asked_hear_of_new_work_from_the_projections_process_through_the_notify_worker(
    wf, notify, clean_sinks, spawn, channel_env, engine
):
    """The news of new work end to end: the projections process's round plans it from the store
    (services/notify/new_work.py) and hands it to the notify queue, whose worker sends it to the SMTP server."""
    slug = "pegantenan"
    username = f"kasi.notif.{uuid.uuid4().hex[:6]}"
    add_user(wf.engine, username, "Kasi Uji", "kasi", "rahasia-uji-123", kecamatan=slug, unit="pemerintahan")
    set_contact(wf.engine, username, email=f"{username}@kecamatan.example.id", new_work=True)
    from_the_head(engine)
    spawn("projections", "run", **channel_env)
    spawn("worker", "notify", "--concurrency", "1", **channel_env)
    cid, _ = new_complaint(wf, "web")

    def mail():
        return next((m for m in clean_sinks.messages("email") if m["to"] == f"{username}@kecamatan.example.id"), None)

    found = wait_until(mail, timeout=60, message="the Kasi's news of new work at the SMTP server")
    assert "menunggu Anda di langkah 2" in found["text"]

    def sent():
        # the worker records the server's acceptance after it (a moment after the sink has the message)
        (row,) = [r for r in rows_of(notify, cid, audience="staff") if r["username"] == username]
        return row if row["state"] != "sending" else None

    row = wait_until(sent, timeout=30, message="the worker to record the Kasi's news as sent")
    assert (row["kind"], row["state"], row["attempts"]) == ("new_work", "sent", 1)


def from_the_head(engine) -> None:
    """Notify's news of new work from the store's head on: the shared test database's other events are not this
    module's business (a deployment's first round starts with the events of the last two days)."""
    with engine.begin() as conn:
        head = conn.execute(select(func.coalesce(func.max(events.c.position), 0))).scalar_one()
        stmt = insert(checkpoints).values(name="notify.new-work", position=head)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["name"], set_={"position": func.greatest(checkpoints.c.position, head)}
            )
        )


def test_the_signed_letter_goes_by_email_with_its_pdf_and_the_confirmed_send_closes_step_12(
    wf, notify, clean_sinks, spawn, channel_env, settings
):
    """Step 12 end to end through the relay, the notify and workflow workers, and the SMTP server."""
    spawn("worker", "workflow", "--concurrency", "1")
    spawn("worker", "notify", "--concurrency", "2", **channel_env)
    cid, code = new_complaint(wf, "sms")
    version = 1
    walk = [
        ("verify-identity", "kasi", {}),
        ("register", "staf", {}),
        ("dispose", "camat", {"unit": "pemerintahan", "instructions": "Tindak lanjuti"}),
        ("clarify", "kasi", {"explanation": "Sudah dicek ke lokasi."}),
        ("request-letter", "kasi", {}),
        ("draft-letter", "staf", {"perihal": "Tanggapan", "body": "Jalan akan diperbaiki bulan depan."}),
        ("review-letter", "sekcam", {"approved": True}),
        ("duplicate-letter", "staf", {}),
        ("sign-letter", "camat", {}),
    ]
    for action, role, fields in walk:
        state = handlers.act(
            wf,
            cid,
            action,
            fields,
            expected_version=version,
            user_id=f"{role}.pegantenan",
            role=role,
            unit="pemerintahan",
            kecamatan="pegantenan",
            at=datetime.now(UTC),
            correlation_id=uuid.uuid4(),
        )
        version = state.revision
    pdf = b"%PDF-1.7\n% a signed letter stands in here\n" + os.urandom(2048) + b"\n%%EOF\n"
    stored = store_from_settings(notify.settings.documents_url).put(pdf, "application/pdf")
    document_id = uuid.uuid4()
    handlers.record_letter_document(
        wf,
        LetterDocumentIssued(
            message_id=document_id,
            complaint_id=cid,
            kecamatan="pegantenan",
            document_id=document_id,
            letter_version=1,
            letter_number=state.letter_number,
            sha256=stored.sha256,
            size=stored.size,
            verify_url=f"https://pengaduan.example.id/v1/letters/verify/{document_id}",
        ),
    )
    for action in ("archive-letter", "send-response"):
        state = handlers.act(
            wf,
            cid,
            action,
            {},
            expected_version=state.revision + (1 if action == "archive-letter" else 0),
            user_id="staf.pegantenan",
            role="staf",
            unit=None,
            kecamatan="pegantenan",
            at=datetime.now(UTC),
            correlation_id=uuid.uuid4(),
        )
    assert state.response_dispatched and state.status == "in_progress"

    # what the relay does with it (the relay itself is tested in test_relay.py)
    sub = next(s for s in SUBSCRIPTIONS if s.name == "notify-messages")
    dispatched = wf.store.read_stream(stream_id(cid))[-1]
    assert dispatched.type == "workflow.ResponseDispatched" and sub.wants(dispatched.type)
    make_celery(settings, "t").send_task(sub.task, args=[{"event_id": str(dispatched.event_id)}], queue=sub.queue)

    def complaint():
        with wf.uow() as uow:
            return handlers.load(uow, cid, lambda k: True)[0]

    closed = wait_until(
        lambda: complaint().status == "closed" and complaint(),
        timeout=90,
        message="the complaint closed by the confirmed send",
    )
    assert closed.outcome == "resolved"
    mails = wait_until(
        lambda: [m for m in clean_sinks.messages("email") if code in (m["subject"] or "") and m["attachments"]],
        timeout=30,
        message="the letter by e-mail",
    )
    (attachment,) = mails[0]["attachments"]
    assert attachment["sha256"] == hashlib.sha256(pdf).hexdigest() and attachment["content_type"] == "application/pdf"
    assert clean_sinks.attachment_bytes(attachment["sha256"]) == pdf
    sms = [m for m in clean_sinks.messages("sms") if code in m["text"] and "verify" in m["text"]]
    assert len(sms) == 1 and len(sms[0]["text"]) <= 160
    history = events_of(wf, cid)
    sent = next(e for e in history if e.type == "workflow.ResponseSent")
    assert sent.channel in ("sms", "email") and sent.receipt
    # the tanda terima names the provider's message by its hash's start, never by the provider's id
    confirmed = next(
        e
        for e in history
        if e.type in ("workflow.NotificationSent", "workflow.NotificationDelivered")
        and (e.kind, e.channel) == ("response_letter", sent.channel)
    )
    assert confirmed.provider_message_id and confirmed.provider_message_id not in sent.receipt
    assert sent.receipt.endswith(f" ref {confirmed.provider_message_hash[:16]}")


def test_an_unanswered_send_is_reconciled_with_the_provider_not_retried(wf, notify, clean_sinks):
    """The gateway took the SMS but its answer came after our 1 s timeout: asking it settles the matter;
    a WhatsApp message in the same plight (the Cloud API cannot be asked) is left for a person."""
    cid, _ = new_complaint(wf, "sms")
    plan_event(notify, first_event_id(wf, cid), send_now=False)
    (row,) = rows_of(notify, cid)
    clean_sinks.control("sms", "ok", times=1, delay=3)
    assert send_delivery(notify, row["id"]) == "sent"
    assert len(clean_sinks.messages("sms")) == 1 and rows_of(notify, cid)[0]["attempts"] == 1

    cid, _ = new_complaint(wf, "whatsapp", email=None)
    plan_event(notify, first_event_id(wf, cid), send_now=False)
    (row,) = rows_of(notify, cid)
    clean_sinks.control("whatsapp", "ok", times=1, delay=3)
    assert send_delivery(notify, row["id"]) == "unknown"
    assert send_delivery(notify, row["id"]) == "unknown"  # and it stays so: no blind resend
    assert len(clean_sinks.messages("whatsapp")) == 1


def test_a_complaint_box_form_typed_in_days_later_is_still_acknowledged(wf, notify, clean_sinks):
    """The age limit (no replay of history to citizens) counts from when the store recorded the event,
    not from when the complaint reached the office."""
    from datetime import timedelta

    cid, code = new_complaint(wf, "kotak", received_at=datetime.now(UTC) - timedelta(days=20))
    assert plan_event(notify, first_event_id(wf, cid)) >= 1  # planned and sent at once (staff may get one too)
    (row,) = rows_of(notify, cid)
    assert row["state"] == "sent" and row["attempts"] == 1
    plan_event(notify, first_event_id(wf, cid))  # the plan task redelivered: nothing sent again
    assert len([m for m in clean_sinks.messages("email") if code in m["subject"] and m["to"] == "siti@example.id"]) == 1


def test_a_person_settles_an_unknown_message_by_resending_or_confirming_it(wf, notify, clean_sinks):
    from services.notify.handlers.deliveries_admin import list_deliveries, mark_sent, resend

    cid, _ = new_complaint(wf, "email")
    plan_event(notify, first_event_id(wf, cid), send_now=False)
    (row,) = rows_of(notify, cid)
    with notify.engine.begin() as conn:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id == row["id"])
            .values(state="sending", attempts=1, sending_since=datetime(2026, 1, 1, tzinfo=UTC))
        )
    assert send_delivery(notify, row["id"]) == "unknown"
    assert [d["id"] for d in list_deliveries(notify, state="unknown", complaint_id=cid)] == [row["id"]]
    assert not resend(notify, uuid.uuid4()) and not mark_sent(notify, uuid.uuid4())
    assert resend(notify, row["id"])
    assert send_delivery(notify, row["id"]) == "sent"
    assert len([m for m in clean_sinks.messages("email") if m["reference"] == row["id"].hex]) == 1
    assert not resend(notify, row["id"])  # a sent message is not sent again by mistake

    cid, _ = new_complaint(wf, "email")
    plan_event(notify, first_event_id(wf, cid), send_now=False)
    (row,) = rows_of(notify, cid)
    with notify.engine.begin() as conn:
        conn.execute(update(deliveries).where(deliveries.c.id == row["id"]).values(state="unknown"))
    assert mark_sent(notify, row["id"]) and rows_of(notify, cid)[0]["state"] == "sent"


def test_the_deliveries_command_lists_and_settles_messages(wf, notify, clean_sinks, settings):
    import subprocess
    import sys

    from tests.support.processes import env_for

    cid, _ = new_complaint(wf, "email")
    plan_event(notify, first_event_id(wf, cid), send_now=False)
    (row,) = rows_of(notify, cid)
    with notify.engine.begin() as conn:
        conn.execute(update(deliveries).where(deliveries.c.id == row["id"]).values(state="unknown"))

    def cli(*args):
        return subprocess.run(  # noqa: PLW1510
            [sys.executable, "-m", "pengaduan", "deliveries", *args],
            env=env_for(settings),
            capture_output=True,
            text=True,
            timeout=60,
        )

    listed = cli("list", "--state", "unknown", "--complaint", str(cid))
    assert listed.returncode == 0 and str(row["id"]) in listed.stdout and "siti@" not in listed.stdout  # masked
    assert cli("mark-sent", str(row["id"])).returncode == 0
    assert rows_of(notify, cid)[0]["state"] == "sent"
    refused = cli("resend", str(row["id"]))
    assert refused.returncode != 0 and "no such message" in refused.stderr
