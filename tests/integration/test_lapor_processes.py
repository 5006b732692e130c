"""The LAPOR! bridge as the composition root runs it (services/lapor/service.py): ``pengaduan scheduler`` polls the
fake LAPOR! and hands reports to intake, ``pengaduan projections run`` follows the workflow's events, and the
scheduler reports them; the scheduler killed (SIGKILL) between two follow-ups and started again sends the next
one and neither doubles nor loses any."""

from __future__ import annotations

import json
import signal
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn
from sqlalchemy import select

from devtools.lapor.server import DEV_TOKEN, LaporServer
from services.intake.bootstrap import bootstrap as intake_bootstrap
from services.intake.config import IntakeSettings
from services.intake.entrypoints.api import create_app
from services.lapor.adapters.tables import inbox, outbox
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from tests.support.complaints import outbox_message
from tests.support.organisation import give_heads
from tests.support.processes import wait_until
from tests.support.servers_http import serve_in_thread

WEBHOOK_TOKEN = "test-lapor-process-token-0123456789abcdef"
KECAMATAN = "pegantenan"


@pytest.fixture
def intake_url(settings, engine):
    intake = intake_bootstrap(IntakeSettings(**settings.model_dump(), lapor_webhook_token=WEBHOOK_TOKEN))
    with serve_in_thread(uvicorn.Config(create_app(intake), host="127.0.0.1", port=0, log_level="warning")) as url:
        yield url
    intake.engine.dispose()


def test_the_bridge_in_its_processes_survives_a_killed_scheduler(settings, engine, spawn, intake_url):
    wf = workflow_bootstrap(settings)
    give_heads(engine, KECAMATAN)
    with LaporServer() as lapor:
        instansi = f"INS-{uuid.uuid4().hex[:8]}"
        env = {
            "PENGADUAN_LAPOR_URL": lapor.url,
            "PENGADUAN_LAPOR_TOKEN": DEV_TOKEN,
            "PENGADUAN_LAPOR_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
            "PENGADUAN_LAPOR_INTAKE_URL": intake_url,
            "PENGADUAN_LAPOR_INSTANSI": json.dumps({KECAMATAN: instansi}),
            "PENGADUAN_LAPOR_POLL_SECONDS": "5",
            "PENGADUAN_LAPOR_SEND_SECONDS": "0.2",
            "PENGADUAN_LAPOR_RETRY_SECONDS": "0.2",
        }
        scheduler = spawn("scheduler", **env)
        spawn("projections", "run", **env)
        tracking_id = lapor.dispose(
            instansi, tracking_id=f"P{uuid.uuid4().hex[:9]}", title="Saluran tersumbat", content="Air meluap."
        )

        def acknowledged():
            with engine.connect() as conn:
                row = conn.execute(select(inbox).where(inbox.c.tracking_id == tracking_id)).first()
            return row if row is not None and row.acknowledged_at is not None else None

        row = wait_until(acknowledged, timeout=60, message="the report imported and acknowledged")
        handlers.record_complaint(wf, outbox_message(engine, row.tracking_code))
        revision, at = 1, datetime.now(UTC)

        def act(role, action, **fields):
            nonlocal revision, at
            at += timedelta(minutes=10)
            revision = handlers.act(
                wf,
                row.complaint_id,
                action,
                fields,
                expected_version=revision,
                user_id=f"uji.{role}",
                role=role,
                unit=None,
                kecamatan=KECAMATAN,
                at=at,
                correlation_id=uuid.uuid4(),
            ).revision

        def kinds():
            return [f["jenis"] for f in lapor.follow_ups(tracking_id)]

        act("kasi", "verify-identity")
        act("staf", "register")
        wait_until(lambda: kinds() == ["registered"], timeout=60, message="the registration reported")
        scheduler.kill(signal.SIGKILL)
        act("camat", "dispose", unit="pemerintahan", instructions="Periksa saluran.")
        lapor.fail("follow_up", "drop")  # and the first try after the restart loses its answer
        spawn("scheduler", **env)

        def all_sent():
            with engine.connect() as conn:
                states = conn.execute(select(outbox.c.state).where(outbox.c.complaint_id == row.complaint_id)).all()
            return len(states) == 2 and {s.state for s in states} == {"sent"}

        wait_until(all_sent, timeout=60, message="the disposition reported and its answer heard")
        # registered, disposed (answer dropped), disposed again; and registered again under its key when the kill
        # came after LAPOR! took it and before its row said so: still one in LAPOR! (below)
        assert lapor.state.calls[tracking_id] in (3, 4)
        assert kinds() == ["registered", "disposed"]
    wf.engine.dispose()
