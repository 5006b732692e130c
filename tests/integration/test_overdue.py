"""The clock at work: overdue steps are flagged once and escalated to the responsible role and its
superior; a documents request that goes unanswered closes the complaint as incomplete."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from services.accounts.handlers import add_user
from services.notify.adapters.tables import escalations
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap
from services.workflow.relay import EventDispatcher
from services.workflow.scheduler import ExpiredDocumentRequests, OverdueSteps
from shared.celery_app import make_celery
from shared.contracts.routing import SUBSCRIPTIONS
from shared.tenancy import Kecamatan, upsert_kecamatan
from tests.support.complaints import new_complaint
from tests.support.processes import wait_until


def test_an_overdue_step_is_flagged_once_and_alerts_the_role_and_its_superior(settings, engine, spawn):
    slug = f"uji-{uuid.uuid4().hex[:6]}"
    upsert_kecamatan(engine, [Kecamatan(slug, f"97.{slug[-6:]}", "Uji", "pamekasan", "Kabupaten Pamekasan", {})])
    for role, unit in (("staf", None), ("kasi", "pemerintahan"), ("sekcam", None), ("camat", None)):
        add_user(engine, f"{role}.{slug}", f"{role} uji", role, "rahasia-uji-123", kecamatan=slug, unit=unit)
    wf = bootstrap(settings)
    try:
        cid = new_complaint(wf, slug)  # step 2 (kasi, 3 working days)
        later = datetime.now(UTC) + timedelta(days=30)
        job = OverdueSteps(wf, clock=lambda: later)
        while job.round().handled:  # other tests' complaints are overdue by then too
            pass
        events = [e.type for e in wf.store.read_stream(f"complaint-{cid}")]
        assert events.count("workflow.StepOverdue") == 1
        assert job.round().handled == 0  # once per step occurrence
        assert [e.type for e in wf.store.read_stream(f"complaint-{cid}")].count("workflow.StepOverdue") == 1

        spawn("worker", "notify", "--concurrency", "1")
        sub = next(s for s in SUBSCRIPTIONS if s.task == "notify.escalate")
        dispatcher = EventDispatcher(wf.engine, wf.store, make_celery(settings, "t"), sub)
        while dispatcher.round().more:
            pass

        def alerts():
            with engine.connect() as conn:
                return conn.execute(
                    select(escalations.c.username, escalations.c.reason).where(escalations.c.complaint_id == cid)
                ).all()

        got = wait_until(lambda: len(alerts()) == 2 and alerts(), timeout=60, message="the escalation alerts")
        assert sorted(got) == [(f"kasi.{slug}", "responsible"), (f"sekcam.{slug}", "superior")]

        # the next step gets its own clock: acting clears the flag
        handlers.act(
            wf,
            cid,
            "verify-identity",
            {},
            expected_version=2,
            user_id=f"kasi.{slug}",
            role="kasi",
            unit="pemerintahan",
            kecamatan=slug,
            at=datetime.now(UTC),
            correlation_id=uuid.uuid4(),
        )
        while job.round().handled:
            pass
        assert [e.type for e in wf.store.read_stream(f"complaint-{cid}")].count("workflow.StepOverdue") == 2
    finally:
        wf.engine.dispose()


def test_an_unanswered_documents_request_closes_the_complaint_as_incomplete(settings, engine):
    wf = bootstrap(settings)
    try:
        cid = new_complaint(wf)
        now = datetime.now(UTC)
        handlers.act(
            wf,
            cid,
            "request-documents",
            {"message": "Mohon kirim KTP", "close_after_working_days": 5},
            expected_version=1,
            user_id="k",
            role="kasi",
            unit=None,
            kecamatan="pegantenan",
            at=now,
            correlation_id=uuid.uuid4(),
        )
        ExpiredDocumentRequests(wf, clock=lambda: now + timedelta(days=2)).round()
        assert wf.store.read_stream(f"complaint-{cid}")[-1].type == "workflow.DocumentsRequested"  # not yet
        job = ExpiredDocumentRequests(wf, clock=lambda: now + timedelta(days=20))
        while job.round().handled:
            pass
        last = wf.store.read_stream(f"complaint-{cid}")[-1]
        assert last.type == "workflow.ClosedIncomplete" and last.actor.user_id == "scheduler"
    finally:
        wf.engine.dispose()
