"""kombu's Redis transport with one client object per channel (shared/redis_broker.py): every command of a channel
(the publish, and the receipt and acknowledgment of a message under visibility) goes through one ``redis.Redis``,
where kombu built one per command; the messages and their acknowledgments are what they were."""

from __future__ import annotations

import threading
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


def test_a_channel_whose_pool_was_replaced_sends_through_the_new_pool(settings):
    """kombu drops a channel's pool when it closes the channel or after a fork (``_disconnect_pools``): the
    next command goes through a client on the new pool, not through the one kept from before."""
    app = make_celery(settings, "redis-broker-test")
    name = f"redis-broker-test-{uuid.uuid4().hex[:8]}"
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        channel._put(name, {"n": 0})
        before, old_pool = channel._commands_client, channel.pool
        channel._disconnect_pools()
        channel._put(name, {"n": 1})
        after = channel._commands_client
        assert after is not before and after.connection_pool is channel.pool is not old_pool
        assert not old_pool._in_use_connections and after.llen(name) == 2
        after.delete(name)


def test_one_channel_serves_several_threads_at_once(settings):
    """The client object holds no connection: threads sharing a channel each check one out of its pool
    (kombu's default of 10), as they did with a client per command."""
    app = make_celery(settings, "redis-broker-test")
    name = f"redis-broker-test-{uuid.uuid4().hex[:8]}"
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        failures: list[BaseException] = []

        def publish_and_take(thread: int) -> None:
            try:
                for n in range(200):
                    tag = f"{thread}-{n}"
                    channel._put(name, {"tag": tag})
                    with channel.qos.pipe_or_acquire() as pipe:  # the receipt's pipeline (QoS.append)
                        pipe.zadd(channel.unacked_index_key, {tag: 1.0}).hset(channel.unacked_key, tag, "{}").execute()
                    channel.qos._remove_from_indices(tag).execute()  # the acknowledgment's
            except BaseException as exc:  # reported by the assertion below
                failures.append(exc)

        threads = [threading.Thread(target=publish_and_take, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        client = channel._commands_client
        assert not failures
        assert client.llen(name) == 8 * 200
        assert not any(client.hexists(channel.unacked_key, f"{t}-{n}") for t in range(8) for n in range(0, 200, 37))
        client.delete(name)
