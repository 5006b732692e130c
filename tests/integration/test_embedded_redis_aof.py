"""The broker `make run` starts (shared.embedded.start_redis) keeps an append-only file synced every second:
a crash of redis-server loses at most the last second of accepted messages, not everything since a snapshot."""

from __future__ import annotations

import os
import signal
import time

import redis

from shared.embedded import start_redis


def test_the_embedded_redis_writes_an_append_only_file_synced_every_second(tmp_path):
    server = start_redis(tmp_path / "redis")
    try:
        client = redis.Redis.from_url(server.url)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert client.info("persistence")["aof_enabled"] == 1

        # a message accepted more than a second before a kill -9 is still there after the restart
        client.lpush("workflow", "an accepted message")
        time.sleep(1.5)
        pid = client.info("server")["process_id"]
        client.close()
        os.kill(pid, signal.SIGKILL)
        server.stop()
        server.start()
        client = redis.Redis.from_url(server.url)
        assert client.lrange("workflow", 0, -1) == [b"an accepted message"]
        client.close()
    finally:
        server.stop()
