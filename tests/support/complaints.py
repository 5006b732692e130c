"""Complaints for tests, made the ways the product makes them: submitted to intake's API, carried from intake's
outbox to the workflow, or recorded in the workflow straight from an intake message (as its worker records it;
tests/integration/test_pipeline.py runs the real hand-off). Each test gets fresh ids and its own tracking code."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from services.intake.adapters.tables import outbox, submissions
from services.workflow import handlers
from shared.contracts import sop
from shared.contracts.intake import Complainant, ComplaintSubmitted
from shared.contracts.tracking import new_tracking_code
from shared.contracts.workflow import ComplaintReceived
from shared.events import Actor, EventEnvelope, envelope

NAME = "Siti Aminah"
NIK = "3528071505900001"
PHONE = "+6281234567890"
SUBJECT = "Jalan desa rusak"
DESCRIPTION = "Jalan di Dusun Bunangka rusak sejak Januari."


# -- through intake's API ------------------------------------------------------------------------------------
def valid_body(**overrides) -> dict:
    """A complaint as the public form posts it; ``complainant.<field>=value`` overrides one of its fields."""
    body = {
        "kecamatan": "pegantenan",
        "channel": "web",
        "complainant": {
            "name": "Siti Aminah",
            "nik": "3528071505900001",
            "phone": "0812-3456-7890",
            "email": "siti@example.id",
            "address": "Dusun Bunangka, Desa Pegantenan",
        },
        "subject": "Jalan desa rusak",
        "description": "Jalan di Dusun Bunangka rusak sejak Januari dan belum diperbaiki.",
    }
    for key, value in overrides.items():
        if key.startswith("complainant."):
            body["complainant"][key.split(".", 1)[1]] = value
        else:
            body[key] = value
    return body


def submit(client, **overrides) -> str:
    """``POST /v1/complaints`` with ``valid_body(**overrides)`` on intake's API (a TestClient or an httpx
    client); the tracking code of the accepted complaint."""
    r = client.post("/v1/complaints", json=valid_body(**overrides))
    assert r.status_code == 202, r.text
    return r.json()["tracking_code"]


def outbox_message(engine, tracking_code: str) -> ComplaintSubmitted:
    """The message intake's outbox holds for a complaint it accepted: what the publisher carries to the workflow."""
    with engine.connect() as conn:
        payload = conn.execute(
            select(outbox.c.payload)
            .join(submissions, submissions.c.id == outbox.c.id)
            .where(submissions.c.tracking_code == tracking_code)
        ).scalar_one()
    return ComplaintSubmitted.model_validate(payload)


# -- straight into the workflow ------------------------------------------------------------------------------
def intake_message(
    kecamatan: str = "pegantenan",
    *,
    complainant: Complainant | None = None,
    channel: str = "web",
    subject: str = SUBJECT,
    description: str = DESCRIPTION,
    received_at: datetime | None = None,
    tracking_code: str | None = None,
) -> ComplaintSubmitted:
    """Intake's message for a new complaint (fresh ids; by default Siti Aminah of Desa Pegantenan, received now)."""
    return ComplaintSubmitted(
        submission_id=uuid.uuid4(),
        complaint_id=uuid.uuid4(),
        tracking_code=tracking_code or new_tracking_code(os.urandom(7)),
        kecamatan=kecamatan,
        channel=channel,
        complainant=complainant or Complainant(name=NAME, nik=NIK, phone=PHONE, address="Desa Pegantenan"),
        subject=subject,
        description=description,
        received_at=received_at or datetime.now(UTC),
        correlation_id=uuid.uuid4(),
    )


def record_complaint(wf, kecamatan: str = "pegantenan", **fields) -> ComplaintSubmitted:
    """A complaint recorded in the workflow (``wf``: its container) as its worker records intake's message;
    ``fields`` as ``intake_message`` takes them. Returns the message (complaint id, tracking code, ...)."""
    message = intake_message(kecamatan, **fields)
    handlers.record_complaint(wf, message)
    return message


def new_complaint(wf, kecamatan: str = "pegantenan", **fields) -> uuid.UUID:
    """``record_complaint``, for the tests that need only the complaint's id."""
    return record_complaint(wf, kecamatan, **fields).complaint_id


# -- straight into the event store ------------------------------------------------------------------------------
def append_received(store, place, complainant: Complainant) -> EventEnvelope:
    """A complaint received by e-mail, appended to the event store as its first event (sealed under a data key of
    its own, as the workflow stores it): for consumers of the store tested without the workflow."""
    complaint_id = uuid.uuid4()
    stored = envelope(
        ComplaintReceived(
            complaint_id=complaint_id,
            submission_id=uuid.uuid4(),
            tracking_code=new_tracking_code(os.urandom(7)),
            kecamatan=place.slug,
            channel="email",
            complainant=complainant,
            subject="Lampu jalan mati",
            description="Lampu jalan di Dusun Tengah mati sejak sebulan.",
            received_at=datetime.now(UTC),
            sop_version=sop.DEFAULT.version,
        ),
        event_id=uuid.uuid4(),
        stream_id=f"complaint-{complaint_id}",
        version=1,
        kecamatan=place.slug,
        occurred_at=datetime.now(UTC),
        actor=Actor.system("intake"),
        correlation_id=uuid.uuid4(),
    )
    store.append(stored.stream_id, 0, [stored])
    return stored
