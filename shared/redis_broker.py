"""kombu's Redis transport, without a new client object for every command it sends.

kombu (5.7) runs each publish (``LPUSH``) and each receipt and acknowledgment of a message under visibility (the
``unacked`` hash's two pipelines) through ``Channel.conn_or_acquire``, which builds a ``redis.Redis`` on the
channel's connection pool every time: with redis-py 8 about 0.1 ms of CPU each (its command table copied into a
new case-insensitive dict), three times per message handed from one process to another, where the Redis work of
the hop is a few tens of microseconds. The client object holds no connection of its own (each command checks one out
of the pool and returns it), so one per channel serves every command of that channel; a channel whose pool was
replaced (kombu drops it when the channel closes) gets a new one. Nothing else changes: the same commands, the same
pool, the same visibility and acknowledgment behaviour (``bench --only hop`` measures the hop either way).

Used for ``redis://`` brokers (``shared.celery_app``: ``broker_transport``). Not for ``rediss://``: kombu turns TLS on
only when the transport is named ``rediss``, so this class would connect in plain text. A failover URL
(``redis://a;redis://b``) falls back to kombu's own transport after its first switch (``Connection.switch`` reads the
scheme again): the saving is lost, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _commands_client: Any = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client is not None:
            yield client
            return
        pool = self.pool
        cached = self._commands_client
        if cached is None or cached.connection_pool is not pool:
            cached = self._commands_client = self._create_client()
        yield cached


class Transport(kombu_redis.Transport):
    Channel = Channel
