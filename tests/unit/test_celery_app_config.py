"""The broker setting and what make_celery makes of it (ADR 0006): Redis unchanged by default, RabbitMQ with
quorum queues and publisher confirms, the cache on Redis either way."""

from __future__ import annotations

import pytest
from amqp.exceptions import ConnectionForced, MessageNacked, PreconditionFailed
from pydantic import ValidationError

from shared.celery_app import DELIVERY_LIMIT, QUEUES, make_celery
from shared.config import Settings
from shared.outages import unreachable

AMQP = "amqp://pengaduan:s3cr3t@rabbitmq:5672/pengaduan"


def test_without_a_broker_url_the_broker_is_redis_with_its_visibility_timeout():
    settings = Settings(redis_url="redis://cache:6379/0", broker_visibility_timeout=45)
    app = make_celery(settings)
    assert settings.effective_broker_url == app.conf.broker_url == "redis://cache:6379/0"
    assert app.conf.broker_transport_options["visibility_timeout"] == 45
    assert "confirm_publish" not in app.conf.broker_transport_options
    assert app.conf.task_queues is None  # created on first use, as before


def test_a_rabbitmq_broker_gets_quorum_queues_and_confirms_and_the_cache_stays_on_redis():
    settings = Settings(redis_url="redis://cache:6379/0", broker_url=AMQP)
    app = make_celery(settings)
    assert app.conf.broker_url == AMQP and settings.effective_cache_url == "redis://cache:6379/0"
    queues = {q.name: q for q in app.conf.task_queues}
    assert set(queues) == set(QUEUES)
    assert all(
        q.queue_arguments == {"x-queue-type": "quorum", "x-delivery-limit": DELIVERY_LIMIT} and q.durable
        for q in queues.values()
    )
    assert all(q.exchange.name == q.routing_key == q.name for q in queues.values())
    options = app.conf.broker_transport_options
    assert options["confirm_publish"] is True
    assert "visibility_timeout" not in options and "unacked_restore_interval" not in options  # Redis-only
    assert app.conf.worker_detect_quorum_queues is True and app.conf.worker_prefetch_multiplier == 1
    assert 0 < app.conf.broker_heartbeat <= 30


def test_the_worker_leaves_out_native_delayed_delivery():
    from celery.utils.imports import symbol_by_name

    app = make_celery(Settings(broker_url=AMQP))
    steps = symbol_by_name(app.conf.worker_consumer).Blueprint.default_steps
    assert not any(step.endswith("DelayedDelivery") for step in steps)
    assert any(step.endswith(":Tasks") for step in steps)  # the consuming step itself is still there


@pytest.mark.parametrize("url", ["amqp//rabbitmq:5672", "sqs://queue", "rabbitmq://host"])
def test_a_broker_url_of_no_known_kind_is_refused_naming_the_setting(url):
    with pytest.raises(ValidationError, match="PENGADUAN_BROKER_URL"):
        Settings(broker_url=url)


def test_an_amqp_redis_url_still_needs_a_cache_url():
    with pytest.raises(ValidationError, match="PENGADUAN_CACHE_URL"):
        Settings(redis_url=AMQP)
    assert Settings(redis_url=AMQP, cache_url="redis://cache:6379/0").effective_broker_url == AMQP


def test_rabbitmq_out_of_reach_counts_as_unreachable_and_a_refused_declaration_does_not():
    assert unreachable(ConnectionForced("CONNECTION_FORCED - broker forced connection closure"))
    assert unreachable(MessageNacked())
    assert not unreachable(PreconditionFailed("inequivalent arg 'x-queue-type'"))  # a bug, not an outage
