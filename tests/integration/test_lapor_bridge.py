"""The SP4N-LAPOR! bridge end to end: a report the fake LAPOR! disposes is imported into intake's real API as channel
``lapor``, carried to the workflow as intake's publisher carries it, handled by staff with the workflow's own
handlers, and each step comes back to LAPOR! as a follow-up, the withdrawal closing it, with LAPOR! dropping an
answer on the way: one complaint, every follow-up once, in order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn

from devtools.lapor.server import DEV_TOKEN, LaporServer
from services.intake.bootstrap import bootstrap as intake_bootstrap
from services.intake.config import IntakeSettings
from services.intake.entrypoints.api import create_app
from services.lapor.adapters.tables import inbox
from services.lapor.bootstrap import bootstrap
from services.lapor.config import LaporSettings
from services.lapor.follower import FollowUps
from services.lapor.importer import Importer
from services.lapor.sender import FollowUpSender
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from shared.eventstore.postgres import PostgresEventStore
from tests.support.complaints import outbox_message
from tests.support.organisation import give_heads
from tests.support.servers_http import serve_in_thread

WEBHOOK_TOKEN = "test-lapor-bridge-token-0123456789abcdef"
KECAMATAN = "pegantenan"


@pytest.fixture
def intake_url(settings, engine):
    intake = intake_bootstrap(IntakeSettings(**settings.model_dump(), lapor_webhook_token=WEBHOOK_TOKEN))
    with serve_in_thread(uvicorn.Config(create_app(intake), host="127.0.0.1", port=0, log_level="warning")) as url:
        yield url
    intake.engine.dispose()


def test_a_lapor_report_handled_here_is_followed_up_at_lapor(settings, engine, intake_url):
    wf = workflow_bootstrap(settings)
    give_heads(engine, KECAMATAN)
    now = [datetime.now(UTC)]
    clock = lambda: now[0]  # noqa: E731
    with LaporServer(hold=1.5) as lapor:
        instansi = f"INS-{uuid.uuid4().hex[:8]}"
        lapor_settings = LaporSettings.from_base(
            settings,
            lapor_url=lapor.url,
            lapor_token=DEV_TOKEN,
            lapor_webhook_token=WEBHOOK_TOKEN,
            lapor_intake_url=intake_url,
            lapor_instansi={KECAMATAN: instansi},
            lapor_timeout=0.8,
        )
        bridge = bootstrap(lapor_settings, engine)
        importer = Importer(engine, bridge.api, bridge.intake, bridge.directory, lapor_settings, clock)
        follower = FollowUps(engine, PostgresEventStore(engine))
        sender = FollowUpSender(engine, bridge.api, lapor_settings, clock)
        tracking_id = lapor.dispose(
            instansi,
            tracking_id=f"E2E{uuid.uuid4().hex[:8]}",
            title="Lampu jalan mati",
            content="Lampu jalan di depan balai desa mati sejak seminggu.",
            category="Infrastruktur",
            reporter={"nama": "Siti Aminah", "telepon": "081234567890"},
        )
        importer.round()
        with engine.connect() as conn:
            row = conn.execute(inbox.select().where(inbox.c.tracking_id == tracking_id)).one()
        assert row.state == "submitted" and row.acknowledged_at is not None

        message = outbox_message(engine, row.tracking_code)  # what intake's publisher carries to the workflow
        assert (message.channel, message.category, message.complaint_id) == ("lapor", "infrastruktur", row.complaint_id)
        handlers.record_complaint(wf, message)
        handlers.record_complaint(wf, message)  # a redelivery records nothing new
        revision, at = 1, now[0]
        for role, action, unit, fields in (
            ("kasi", "verify-identity", None, {}),
            ("staf", "register", None, {}),
            ("camat", "dispose", None, {"unit": "pemerintahan", "instructions": "Cek bersama desa."}),
            ("kasi", "clarify", "pemerintahan", {"explanation": "Lampu diganti Dinas Perhubungan."}),
            ("staf", "withdraw", None, {"reason": "Pelapor mencabut laporannya."}),
        ):
            at += timedelta(minutes=30)
            state = handlers.act(
                wf,
                row.complaint_id,
                action,
                fields,
                expected_version=revision,
                user_id=f"uji.{role}",
                role=role,
                unit=unit,
                kecamatan=KECAMATAN,
                at=at,
                correlation_id=uuid.uuid4(),
            )
            revision = state.revision

        lapor.fail("follow_up", "drop", skip=1)  # the second follow-up is done there and its answer lost
        while follower.round().more:
            pass
        for _ in range(10):
            now[0] += timedelta(hours=1)
            sender.round()
            importer.round()
        assert all(f.times == 0 for f in lapor.state.faults)
        assert [(f["jenis"], f["status"]) for f in lapor.follow_ups(tracking_id)] == [
            ("registered", "proses"),
            ("disposed", "proses"),
            ("clarified", "proses"),
            ("withdrawn", "selesai"),
        ]
        assert (
            lapor.follow_ups(tracking_id)[1]["isi"] == "Camat telah mendisposisikan laporan kepada Seksi Pemerintahan."
        )
        assert lapor.acknowledged() == {tracking_id: str(row.complaint_id)}
    wf.engine.dispose()
