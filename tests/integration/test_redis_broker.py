"""kombu's Redis transport with one client object per channel (shared/redis_broker.py): every command of a channel
(the publish, and the receipt and acknowledgment of a message under visibility) goes through one ``redis.Redis``,
where kombu built one per command; the messages and their acknowledgments are what they were."""

from __future__ import annotations

import uuid

from shared.celery_app import make_celery
from shared.config import Settings
from shared.redis_broker import Transport


def test_a_channel_publishes_receives_and_acknowledges_through_one_client_object(settings):
    app = make_celery(settings, "redis-broker-test")
    name = f"redis-broker-test-{uuid.uuid4().hex[:8]}"
    with app.connection_for_write() as conn:
        assert isinstance(conn.transport, Transport)
        queue = conn.SimpleQueue(name)
        try:
            for n in range(3):
                queue.put({"n": n})
            client = queue.channel._commands_client
            assert client is not None
            taken = []
            for _ in range(3):
                message = queue.get(timeout=5)
                # received under visibility: in the unacked hash until acknowledged, through the same client
                assert client.hexists(queue.channel.unacked_key, message.delivery_tag)
                message.ack()
                assert not client.hexists(queue.channel.unacked_key, message.delivery_tag)
                taken.append(message.payload["n"])
                assert queue.channel._commands_client is client
            assert taken == [0, 1, 2] and client.llen(name) == 0
        finally:
            queue.close()


def test_only_plain_redis_urls_get_it():
    """A rediss:// broker keeps kombu's own transport, whose TLS defaults kombu ties to the scheme."""
    plain = make_celery(Settings(redis_url="redis://127.0.0.1:6379/0"), "t")
    tls = make_celery(Settings(redis_url="rediss://127.0.0.1:6380/0"), "t")
    assert plain.conf.broker_transport == "shared.redis_broker:Transport"
    assert tls.conf.broker_transport is None
