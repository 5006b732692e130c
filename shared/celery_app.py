"""The Celery app factory: one configuration for at-least-once delivery, used by every worker kind.

- late acks and reject-on-worker-lost: a task is acknowledged only after its effect committed, and a
  worker killed mid-task hands the message back;
- prefetch 1: a worker holds no more messages than it is running;
- every task's hard time limit below the broker's redelivery horizon, so no running task is redelivered
  under a live worker; no countdowns or ETAs at all (deadlines live in PostgreSQL).

Two brokers, chosen by the scheme of ``PENGADUAN_BROKER_URL`` (default: ``PENGADUAN_REDIS_URL``), ADR 0006:

- Redis (``redis://``, the default): one visibility timeout for broker and tasks. One, not one per queue:
  every worker's sweep hands back any unacknowledged message older than its own visibility timeout,
  whichever queue it came from. 45 s by default: a killed worker's message runs again within 50 s; letters
  (render and sign, well under a second), workflow commands (a few queries) and notify sends (15-20 s
  network timeouts) fit in the 36 s hard limit.
- RabbitMQ (``amqp://``): the three queues are quorum queues (replicated, written to disk before they are
  confirmed) declared explicitly, every publish waits for the broker's confirm, and a message whose consumer's
  channel closes (a killed worker) is requeued by RabbitMQ at once: no visibility timeout, no sweep. Its
  ``consumer_timeout`` (30 min by default) is far above any task's time limit.
Handlers are idempotent (consumer inbox, unique constraints), so a redelivery has no second effect (a task
running when the broker connection drops is therefore left to finish, not cancelled);
shared/tasks.py says how a task treats failures (never Celery's re-publishing retry).
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.app.amqp import AMQP
from celery.worker.consumer import Consumer
from kombu import Connection, Exchange, Queue

from shared.config import Settings
from shared.contracts.routing import queues

# every queue something is routed to (shared/contracts/routing.py): RabbitMQ declares these, the queue-depth
# gauge reads them, and each has a worker (tests/unit/test_declarations.py)
QUEUES = queues()
AMQP_SCHEMES = ("amqp://", "amqps://", "pyamqp://")
AMQP_HEARTBEAT = 10  # seconds: a broker or worker gone without closing its socket is noticed within ~2 of these


def is_amqp(url: str) -> bool:
    return url.startswith(AMQP_SCHEMES)


# A worker that lost its broker tries again after these waits (seconds): 1, 2, 3, 4, 5, 5, ... Celery's consumer
# calls kombu's ``ensure_connection`` with kombu's defaults (2, 4, 6, ... at most 30), so after a long outage
# a worker could sit idle for up to 30 s once the broker was back (measured: 13 s after a 43 s Redis outage);
# with these, at most 5 s (tests/integration/test_worker_redis_crash.py).
RECONNECT_INTERVAL_START = 1.0
RECONNECT_INTERVAL_STEP = 1.0
RECONNECT_INTERVAL_MAX = 5.0


class BrokerConnection(Connection):
    """kombu's connection with shorter reconnect waits where the caller does not choose its own."""

    def ensure_connection(
        self,
        errback=None,
        max_retries=None,
        interval_start=RECONNECT_INTERVAL_START,
        interval_step=RECONNECT_INTERVAL_STEP,
        interval_max=RECONNECT_INTERVAL_MAX,
        **kwargs,
    ):
        return super().ensure_connection(errback, max_retries, interval_start, interval_step, interval_max, **kwargs)


class BrokerAMQP(AMQP):
    """Celery's messaging layer (for either broker, despite its name) on ``BrokerConnection``."""

    Connection = BrokerConnection


class WorkerConsumer(Consumer):
    """Celery's worker consumer without native delayed delivery.

    Celery includes that step whenever a quorum queue is configured: every worker start would declare 28
    exchanges and 28 queues (``celery_delayed_*``) and bind our queues to them, for countdowns and ETAs this
    code never uses (``grep -rn "countdown\\|eta=" shared services`` finds none; deadlines live in PostgreSQL).
    """

    class Blueprint(Consumer.Blueprint):
        default_steps = [step for step in Consumer.Blueprint.default_steps if not step.endswith(":DelayedDelivery")]


# How often a quorum queue delivers one message before it drops it (no dead-letter exchange is declared).
# RabbitMQ 4 sets 20 when the queue does not say; a task hands its message back (Reject with requeue, every
# task budget, 13.5 s by default) for as long as PostgreSQL is away or a lock is contended, so 20 would drop
# held messages after about 4.5 minutes of outage. 1000 is about 3.75 hours; beyond it the reconcilers
# publish again what a consumer never recorded (shared/handoffs.py, services/intake/scheduler.py).
DELIVERY_LIMIT = 1000


def quorum_queues() -> tuple[Queue, ...]:
    """Our queues as RabbitMQ quorum queues, each behind a direct exchange of its own name (Celery's default
    routing, so a producer and a worker declare exactly the same thing)."""
    return tuple(
        Queue(
            name,
            Exchange(name, type="direct", durable=True),
            routing_key=name,
            durable=True,
            queue_arguments={"x-queue-type": "quorum", "x-delivery-limit": DELIVERY_LIMIT},
        )
        for name in QUEUES
    )


def _redis_options(settings: Settings) -> dict[str, Any]:
    visibility = settings.broker_visibility_timeout
    return {
        # kombu's Redis transport with one client object per channel (shared/redis_broker.py); a rediss:// or
        # redis+socket:// URL keeps kombu's own (its TLS defaults are tied to the scheme)
        **(
            {"broker_transport": "shared.redis_broker:Transport"}
            if settings.effective_broker_url.startswith("redis://")
            else {}
        ),
        "broker_transport_options": {
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
    }


def _amqp_options() -> dict[str, Any]:
    return {
        "task_queues": quorum_queues(),
        "broker_transport_options": {  # py-amqp Connection arguments
            # basic.publish returns before the broker has the message; with confirms a publish returns only
            # once the quorum queue has it on disk (a majority of replicas), and a refusal raises
            "confirm_publish": True,
            # a broker that vanishes without closing the socket must not hang a publish or its confirm forever
            "read_timeout": 15,
            "write_timeout": 15,
        },
        "broker_connection_timeout": 5,
        "broker_heartbeat": AMQP_HEARTBEAT,
        # quorum queues refuse global QoS: Celery then uses per-consumer prefetch (1, as above) instead
        "worker_detect_quorum_queues": True,
        "worker_consumer": f"{__name__}:WorkerConsumer",
        # no remote control (nothing here uses celery inspect/control): on RabbitMQ its reply queue
        # ("<kind>@<host>.celery.pidbox") is exclusive, so a second worker of one kind on the same host
        # (`make run`, two replicas in one container) would stop with RESOURCE_LOCKED
        "worker_enable_remote_control": False,
    }


def make_celery(settings: Settings, name: str = "pengaduan") -> Celery:
    broker = settings.effective_broker_url
    app = Celery(name, broker=broker, set_as_current=False, amqp=BrokerAMQP)
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
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        # a task running when the broker connection drops runs to its end (its acknowledgment may fail: the
        # message then comes back and the inbox makes the second run a no-op). Cancelling it (Celery's
        # recommendation for late acks) terminated sends mid-call, leaving deliveries `unknown` and never sent,
        # and interrupted statements a task then kept as dead letters (both seen in the chaos suite on a Redis
        # kill); our handlers are built for a duplicate run, not for being cut off.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        enable_utc=True,
        **(_amqp_options() if is_amqp(broker) else _redis_options(settings)),
    )
    return app
