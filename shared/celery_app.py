"""The Celery app factory: one configuration for at-least-once delivery, used by every worker kind.

- late acks and reject-on-worker-lost: a task is acknowledged only after its effect committed, and a
  worker killed mid-task hands the message back;
- prefetch 1: a worker holds no more messages than it is running;
- one visibility timeout (Redis) for broker and tasks, and every task's hard time limit below it, so no
  running task is redelivered under a live worker; no long countdowns (deadlines live in PostgreSQL).
  One, not one per queue: every worker's sweep hands back any unacknowledged message older than its own
  visibility timeout, whichever queue it came from. 45 s by default: a killed worker's message runs again
  within 50 s; letters (render and sign, well under a second), workflow commands (a few queries) and notify
  sends (15-20 s network timeouts) fit in the 36 s hard limit.
Handlers are idempotent (consumer inbox, unique constraints), so a redelivery has no second effect;
shared/tasks.py says how a task treats failures (never Celery's re-publishing retry).
"""
from __future__ import annotations

from celery import Celery

from shared.config import Settings

QUEUES = ("workflow", "letters", "notify")


def make_celery(settings: Settings, name: str = "pengaduan") -> Celery:
    app = Celery(name, broker=settings.redis_url, set_as_current=False)
    visibility = settings.broker_visibility_timeout
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue="workflow",
        task_create_missing_queues=True,
        task_time_limit=settings.task_time_limit,
        task_soft_time_limit=max(1, int(settings.task_time_limit * 0.75)),
        task_acks_on_timeout=False,  # a task cut off by its time limit goes back to the queue
        task_acks_on_failure=True,  # failures never reach here unhandled: see shared/tasks.py
        broker_transport_options={
            "visibility_timeout": visibility,
            # sweep for messages of dead workers often enough to matter against the visibility timeout
            # (kombu's default sweep is every 10 s x 10 throttled calls = 100 s): a killed worker's message
            # is back within visibility + 5 s (45 + 5 by default). The sweep is one sorted-set range query.
            "unacked_restore_interval": max(1, min(5, visibility // 8)),
            "unacked_restore_throttle": 1,
            # the sweep's lock: a worker killed while sweeping would otherwise stop every sweep for 300 s
            "unacked_mutex_expire": min(300, visibility),
            # a broker that vanishes without closing the socket must not hang a publish forever
            "socket_timeout": 15,
            "socket_connect_timeout": 5,
            "health_check_interval": 25,
        },
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        enable_utc=True,
    )
    return app
