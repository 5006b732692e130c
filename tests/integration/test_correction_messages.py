"""Messages that had not reached the complainant when their contact was corrected (issue #17, docs/adr/0017), on real
PostgreSQL: the workflow records the complaint and the correction (its own commands), notify plans from the events.

A complaint comes in by e-mail with the address mistyped (someone else's mailbox, or none at all): its acknowledgment
waits to be sent (pending). The complainant asks the office to correct the address; ``ComplainantDataCorrected``
reaches notify, which stops the waiting message (the mistyped address is not tried again, the complaint's history
says why) and plans the acknowledgment again to the corrected address. A message already sent to the mistyped
address stays as it was (and the acknowledgment goes to the corrected one too); a complainant who had left no
contact gets the acknowledgment once one is given; a correction of the name alone plans nothing; the same event
handled twice plans nothing more. (Which messages, in every case: tests/unit/test_notify_flow.py.)
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from services.notify.adapters.tables import deliveries
from services.notify.bootstrap import bootstrap as notify_bootstrap
from services.notify.config import NotifySettings
from services.notify.domain.delivery import CONTACT_CORRECTED
from services.notify.handlers.planning import plan_event
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from services.workflow.domain.events import stream_id
from shared.contracts.intake import Complainant
from shared.contracts.workflow import ComplainantDataCorrected
from shared.tenancy import KecamatanDirectory, upsert_kecamatan
from tests.contracts.workflow_uow import new_place
from tests.support.complaints import record_complaint

MISTYPED = "nur.koreksi@contoh-salah.id"
CORRECTED = "nur.koreksi@contoh.id"


class Broker:
    """Notify's broker: the reports and sends it is handed, kept to look at (no worker takes them here)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    def send_task(self, name, args=None, **_options):
        self.sent.append((name, (args or [None])[0]))


@pytest.fixture(scope="module")
def place(engine):
    kecamatan = new_place()
    upsert_kecamatan(engine, [kecamatan])
    return kecamatan


@pytest.fixture(scope="module")
def wf(settings, place):
    container = workflow_bootstrap(settings)
    yield container
    container.engine.dispose()


@pytest.fixture
def notify(settings, place, tmp_path_factory):
    container = notify_bootstrap(
        NotifySettings(
            **{
                **settings.model_dump(),
                "data_dir": str(tmp_path_factory.mktemp("correction-notify")),
                # an e-mail channel to plan to (nothing is sent: every plan here is made with send_now=False)
                "smtp_host": "127.0.0.1",
                "smtp_port": 9,
            }
        )
    )
    yield dataclasses.replace(container, directory=KecamatanDirectory(container.engine), celery=Broker())
    container.engine.dispose()


def events(wf, complaint_id: uuid.UUID):
    return wf.store.read_stream(stream_id(complaint_id))


def correct(wf, place, complaint_id: uuid.UUID, **changes) -> None:
    handlers.correct_personal_data(
        wf,
        complaint_id,
        changes,
        by=f"kasi.{place.slug}",
        role="kasi",
        reason="permintaan pengadu, surat tanggal 1 Desember 2026",
        at=datetime.now(UTC),
        kecamatan_of=lambda k: k == place.slug,
    )


def messages(engine, complaint_id: uuid.UUID) -> list[dict]:
    with engine.connect() as conn:
        query = select(deliveries).where(
            deliveries.c.complaint_id == complaint_id, deliveries.c.audience == "complainant"
        )
        return sorted((dict(r) for r in conn.execute(query).mappings()), key=lambda r: r["created_at"])


def a_complaint(wf, notify, place, email: str | None) -> uuid.UUID:
    person = Complainant(name="Nur Koreksi", phone=None, email=email, address="Dusun Barat, Desa Uji")
    complaint_id = record_complaint(wf, place.slug, complainant=person, channel="email").complaint_id
    plan_event(notify, events(wf, complaint_id)[0].event_id, send_now=False)
    return complaint_id


def test_a_waiting_message_to_a_mistyped_address_is_stopped_and_planned_again_to_the_corrected_one(
    wf, notify, place, engine
):
    complaint_id = a_complaint(wf, notify, place, MISTYPED)
    [waiting] = messages(engine, complaint_id)
    assert (waiting["kind"], waiting["recipient"], waiting["state"]) == ("acknowledgment", MISTYPED, "pending")

    correct(wf, place, complaint_id, email=CORRECTED)
    correction = events(wf, complaint_id)[-1]
    assert correction.type == ComplainantDataCorrected.type
    assert plan_event(notify, correction.event_id, send_now=False) == 1

    stopped, again = messages(engine, complaint_id)
    assert (stopped["id"], stopped["state"], stopped["last_error"]) == (waiting["id"], "failed", CONTACT_CORRECTED)
    assert (again["kind"], again["recipient"], again["state"]) == ("acknowledgment", CORRECTED, "pending")
    assert again["source_event_id"] == waiting["source_event_id"] and "Nur Koreksi" in again["body"]
    # the history is told the stopped message was not sent (and why), without the address
    [report] = [payload for name, payload in notify.celery.sent if name == "workflow.record_notification"]
    assert (report["delivery_id"], report["state"]) == (str(waiting["id"]), "failed")
    assert "dikoreksi" in report["error"] and MISTYPED not in str(report)

    assert plan_event(notify, correction.event_id, send_now=False) == 1  # the event again: the same id, nothing new
    assert len(messages(engine, complaint_id)) == 2


def test_a_complainant_who_left_no_contact_gets_the_acknowledgment_once_one_is_given(wf, notify, place, engine):
    complaint_id = a_complaint(wf, notify, place, None)
    assert messages(engine, complaint_id) == []  # no one to acknowledge to

    correct(wf, place, complaint_id, email=CORRECTED)
    assert plan_event(notify, events(wf, complaint_id)[-1].event_id, send_now=False) == 1

    [planned] = messages(engine, complaint_id)
    assert (planned["kind"], planned["channel"], planned["recipient"]) == ("acknowledgment", "email", CORRECTED)


def test_an_acknowledgment_sent_to_the_mistyped_address_stays_and_goes_again_to_the_corrected_one(
    wf, notify, place, engine
):
    """The usual reason for a correction: the acknowledgment went out, to an address that is someone else's. It
    cannot be called back; the complainant gets it at the corrected address. A name correction plans nothing."""
    complaint_id = a_complaint(wf, notify, place, MISTYPED)
    [waiting] = messages(engine, complaint_id)
    with engine.begin() as conn:  # as a send that went out to the mistyped address would leave it
        conn.execute(deliveries.update().where(deliveries.c.id == waiting["id"]).values(state="sent"))

    correct(wf, place, complaint_id, name="Nur Koreksiyah")
    assert plan_event(notify, events(wf, complaint_id)[-1].event_id, send_now=False) == 0
    correct(wf, place, complaint_id, email=CORRECTED)
    assert plan_event(notify, events(wf, complaint_id)[-1].event_id, send_now=False) == 1

    sent, again = messages(engine, complaint_id)
    assert (sent["id"], sent["state"], sent["recipient"]) == (waiting["id"], "sent", MISTYPED)
    assert (again["kind"], again["recipient"], again["state"]) == ("acknowledgment", CORRECTED, "pending")
    assert "Nur Koreksiyah" in again["body"]  # as corrected by then
