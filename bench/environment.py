"""Where the benchmarks run: PostgreSQL and Redis, the database schema, and a description of the machine."""

from __future__ import annotations

import logging
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import create_engine, text

from bench.cpu import local_pid_of_postgres_backend
from bench.processes import Processes
from bench.schema import create_bench_tables

log = logging.getLogger("bench.environment")

DATABASE_ENV = "PENGADUAN_BENCH_DATABASE_URL"
REDIS_ENV = "PENGADUAN_BENCH_REDIS_URL"


@dataclass(frozen=True)
class Servers:
    database_url: str
    redis_url: str
    postgres: str  # "embedded" or "external"
    redis: str


@contextmanager
def servers(workdir: Path) -> Iterator[Servers]:
    """The configured servers, or throwaway embedded ones under workdir, stopped on the way out."""
    from shared.embedded import EmbeddedPostgres, EmbeddedRedis

    database_url = os.environ.get(DATABASE_ENV)
    redis_url = os.environ.get(REDIS_ENV)
    owned: list[EmbeddedPostgres | EmbeddedRedis] = []
    try:
        if not database_url:
            # pg_stat_statements: the walk counts the statements a complaint costs (bench/walk.py), exactly, where CPU
            # figures are noisy; its own cost is a few per cent of the server's, in every benchmark alike
            pg = EmbeddedPostgres(
                workdir / "postgres",
                database="pengaduan_bench",
                settings={"shared_preload_libraries": "pg_stat_statements"},
            )
            owned.append(pg)  # before start(): a half-started server is stopped too
            pg.start()
            database_url = pg.url
        if not redis_url:
            rd = EmbeddedRedis(workdir / "redis")
            owned.append(rd)
            rd.start()
            redis_url = rd.url
        yield Servers(
            database_url=database_url,
            redis_url=redis_url,
            postgres="external" if os.environ.get(DATABASE_ENV) else "embedded",
            redis="external" if os.environ.get(REDIS_ENV) else "embedded",
        )
    finally:
        for server in reversed(owned):
            try:
                server.stop()
            except Exception:  # keep stopping the others; say what failed
                log.exception("could not stop %s", type(server).__name__)


@dataclass
class RunContext:
    """What every benchmark gets: the servers, the child-process manager, and the local postmaster pid
    (None when PostgreSQL runs elsewhere: its CPU time is then not measured)."""

    servers: Servers
    processes: Processes
    postmaster_pid: int | None


def local_postmaster_pid(database_url: str) -> int | None:
    engine = create_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            backend = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        return local_pid_of_postgres_backend(backend)
    finally:
        engine.dispose()


def local_redis_pid(redis_url: str) -> int | None:
    """The Redis server's pid when it runs on this machine (its CPU time is then read from /proc), else None.

    ``INFO server``'s ``process_id`` is the server's pid in its own pid namespace: it is taken only when the URL
    names this machine and that pid here is a redis-server (a server in a container would have another)."""
    from urllib.parse import urlsplit

    parts = urlsplit(redis_url)
    if parts.scheme not in ("unix", "redis+socket") and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return None
    client = redis.Redis.from_url(redis_url)
    try:
        pid = int(client.info("server")["process_id"])
    finally:
        client.close()
    try:
        return pid if Path(f"/proc/{pid}/comm").read_text().startswith("redis") else None
    except OSError:
        return None


def prepare_database(database_url: str) -> None:
    """Migrate, seed the 13 kecamatan, and create the bench schema."""
    from shared.migrate import migrate
    from shared.tenancy import demo_kecamatan, upsert_kecamatan

    migrate(database_url)
    engine = create_engine(database_url, pool_size=1)
    try:
        upsert_kecamatan(engine, demo_kecamatan())
        create_bench_tables(engine)
    finally:
        engine.dispose()


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _git_commit() -> str | None:
    try:
        head = subprocess.run(  # noqa: PLW1510
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent.parent,
        )
        dirty = subprocess.run(  # noqa: PLW1510
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent.parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def pytest_processes() -> int:
    """How many pytest processes run on this machine now (another session's tests compete for the CPU)."""
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                cmdline = Path(entry.path, "cmdline").read_bytes()
            except OSError:
                continue
            if b"pytest" in cmdline and int(entry.name) != os.getpid():
                count += 1
    return count


def machine_info(srv: Servers) -> dict[str, Any]:
    engine = create_engine(srv.database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            settings = {
                name: conn.execute(text(f"SHOW {name}")).scalar_one()
                for name in (
                    "server_version",
                    "fsync",
                    "synchronous_commit",
                    "wal_sync_method",
                    "shared_buffers",
                    "max_connections",
                )
            }
    finally:
        engine.dispose()
    client = redis.Redis.from_url(srv.redis_url)
    try:
        redis_version = client.info("server").get("redis_version")
    finally:
        client.close()
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_total_mb": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024),
        "loadavg_at_start": list(os.getloadavg()),
        "pytest_processes_at_start": pytest_processes(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "git_commit": _git_commit(),
        "postgres": {"server": srv.postgres, **settings},
        "redis": {"server": srv.redis, "redis_version": redis_version},
    }
