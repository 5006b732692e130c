"""shared.embedded: the wheel-based PostgreSQL and Redis used by `make run` and the tests.

Self-contained: uses only pytest's tmp_path, no conftest fixtures. Every server is stopped in a
finally block so a failing assertion leaves no process behind.
"""

from __future__ import annotations

import psycopg
import pytest
import redis

from shared.embedded import EmbeddedPostgres, EmbeddedRedis, free_port, wait_for_port


def _dsn(server: EmbeddedPostgres) -> str:
    return server.url.replace("+psycopg", "")


def test_postgres_starts_persists_and_restarts(tmp_path):
    data_dir = tmp_path / "pg"
    server = EmbeddedPostgres(data_dir)
    try:
        server.start()
        server.start()  # idempotent
        assert server.is_running()
        assert server.url == f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/pengaduan"
        wait_for_port("127.0.0.1", server.port, timeout=5)
        with psycopg.connect(_dsn(server), autocommit=True) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
            assert conn.execute("select current_database()").fetchone() == ("pengaduan",)
            assert conn.execute("show server_encoding").fetchone() == ("UTF8",)
            assert conn.execute("show max_connections").fetchone() == ("300",)
            assert conn.execute("show listen_addresses").fetchone() == ("127.0.0.1",)
            conn.execute("create table laporan (id int primary key, isi text)")
            conn.execute("insert into laporan values (1, 'jalan rusak di Pegantenan')")

        # a second handle on the same data dir reuses the running server and its port
        other = EmbeddedPostgres(data_dir, port=free_port())
        other.start()
        assert other.port == server.port

        server.stop()
        assert not server.is_running()
        server.stop()  # idempotent
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(_dsn(server), connect_timeout=2)

        server.start()
        with psycopg.connect(_dsn(server)) as conn:
            assert conn.execute("select isi from laporan where id = 1").fetchone() == ("jalan rusak di Pegantenan",)
        assert (data_dir / "postgres.log").exists()
    finally:
        server.stop()
    assert not server.is_running()


def test_postgres_with_a_data_dir_too_long_for_a_unix_socket(tmp_path):
    data_dir = tmp_path / ("x" * 60) / ("y" * 60) / "pg"
    server = EmbeddedPostgres(data_dir, database="lain")
    try:
        server.start()
        with psycopg.connect(_dsn(server)) as conn:
            assert conn.execute("select current_database()").fetchone() == ("lain",)
    finally:
        server.stop()


def test_redis_keeps_data_across_a_stop(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis")
    try:
        server.start()
        server.start()  # idempotent
        assert server.is_running()
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        client = redis.Redis.from_url(server.url, socket_timeout=2)
        client.set("antrian", "pesan-1")
        client.rpush("celery", "tugas-a", "tugas-b")
        client.close()

        server.stop()
        assert not server.is_running()
        server.stop()  # idempotent
        with pytest.raises(redis.ConnectionError):
            redis.Redis.from_url(server.url, socket_connect_timeout=1).ping()

        port = server.port
        server.start()  # same port, same data dir
        assert server.port == port
        client = redis.Redis.from_url(server.url, socket_timeout=2)
        assert client.get("antrian") == b"pesan-1"
        assert client.lrange("celery", 0, -1) == [b"tugas-a", b"tugas-b"]
        client.close()
    finally:
        server.stop()
    assert not server.is_running()
