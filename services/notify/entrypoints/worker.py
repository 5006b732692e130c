"""The notify worker: consumes queue ``notify`` (see shared/tasks.py for the failure rules).

Tasks: ``notify.plan`` (an event's messages), ``notify.escalate`` (overdue alerts), ``notify.send`` (one
message, exactly once: services/notify/dispatch.py), ``notify.record_outcome`` (a provider's
answer its send could not write), ``notify.record_status`` (a provider's delivery
receipt, from intake's webhooks; recorded in the inbox, so intake's outbox reconciler resends a lost one).
"""
from __future__ import annotations

import uuid

from celery import Celery
from sqlalchemy import insert

from services.notify import bootstrap as wiring
from services.notify.adapters.tables import dead_letters, inbox
from services.notify.dispatch import OUTCOME_TASK, SEND_TASK, STATUS_TASK, record_outcome, record_status, send_delivery
from services.notify.handlers import escalate, plan_event
from shared.handoffs import mark_consumed
from shared.tasks import consume, safe_error

ESCALATE = "notify.escalate"
PLAN = "notify.plan"


def register_tasks(app: Celery) -> None:
    budget = app.conf.task_soft_time_limit / 2

    def run(task: str, message: dict, handler) -> None:
        notify = wiring.for_this_process()

        def keep(exc: BaseException) -> None:
            with notify.engine.begin() as conn:
                conn.execute(insert(dead_letters).values(id=uuid.uuid4(), task=task, queue="notify", payload=message, error=safe_error(exc)))

        consume(lambda: handler(notify), keep_dead_letter=keep, budget=budget)
        if task in (PLAN, ESCALATE):  # the relay's tasks: handled or kept, the hand-off reconciler does not resend
            mark_consumed(notify.engine, inbox, task, uuid.UUID(message["event_id"]))

    @app.task(name=ESCALATE)
    def escalate_task(message: dict) -> None:
        run(ESCALATE, message, lambda n: escalate(n, uuid.UUID(message["event_id"])))

    @app.task(name=PLAN)
    def plan_task(message: dict) -> None:
        run(PLAN, message, lambda n: plan_event(n, uuid.UUID(message["event_id"])))

    @app.task(name=SEND_TASK)
    def send_task(message: dict) -> None:
        run(SEND_TASK, message, lambda n: send_delivery(n, uuid.UUID(message["delivery_id"])))

    @app.task(name=OUTCOME_TASK)
    def outcome_task(message: dict) -> None:
        run(OUTCOME_TASK, message, lambda n: record_outcome(n, message))

    @app.task(name=STATUS_TASK, bind=True)
    def status_task(self, message: dict) -> None:
        run(STATUS_TASK, message, lambda n: record_status(n, message))
        # intake's outbox row id: in the message since it is reconciled, and the task id of every publish
        # (rows written before carry only the latter); recorded, intake's reconciler stops resending it
        mark_consumed(wiring.for_this_process().engine, inbox, STATUS_TASK,
                      uuid.UUID(message.get("message_id") or self.request.id))
