"""The stack under test, started process by process as bench/ and tests/e2e do, with this module as its
supervisor: embedded PostgreSQL and Redis, the dev sinks in threads of this process (so every message sent
is counted here), the gateway, the intake API and every worker. A killed process is started again with
the same arguments; Redis on the same port and data dir; PostgreSQL stopped and started on its cluster."""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.processes import Child, Processes
from devtools.sinks.runner import Sinks
from shared.embedded import EmbeddedPostgres, EmbeddedRedis, free_port

log = logging.getLogger("chaos.stack")

# name -> pengaduan subcommand, as pengaduan/supervisor.py starts them
WORKERS: dict[str, list[str]] = {
    "worker workflow": ["worker", "workflow", "--concurrency", "2"],
    "worker letters": ["worker", "letters", "--concurrency", "1"],
    "worker notify": ["worker", "notify", "--concurrency", "1"],
    "relay": ["relay"],
    "projections": ["projections", "run"],
    "scheduler": ["scheduler"],
}


@dataclass
class Stack:
    workdir: Path
    pg: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None
    sinks: Sinks | None = None
    procs: Processes | None = None
    children: dict[str, Child] = field(default_factory=dict)
    argv: dict[str, list[str]] = field(default_factory=dict)
    gateway_port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def start(self) -> None:
        from bench.environment import prepare_database

        self.pg = EmbeddedPostgres(self.workdir / "postgres", database="pengaduan_chaos")
        self.pg.start()
        self.redis = EmbeddedRedis(self.workdir / "redis")
        self.redis.start()
        prepare_database(self.pg.url)
        self.sinks = Sinks().start()
        intake, self.gateway_port = free_port(), free_port()
        unused = f"http://127.0.0.1:{free_port()}"
        env = dict(os.environ)
        env.update(
            PENGADUAN_DATABASE_URL=self.pg.url,
            PENGADUAN_REDIS_URL=self.redis.url,
            PENGADUAN_ENVIRONMENT="development",
            PENGADUAN_LOG_LEVEL="WARNING",
            PENGADUAN_DATA_DIR=str(self.workdir / "data"),
            PENGADUAN_PUBLIC_BASE_URL=self.url,
            PENGADUAN_INTAKE_URL=f"http://127.0.0.1:{intake}",
            PENGADUAN_WORKFLOW_URL=unused,
            PENGADUAN_LETTERS_URL=unused,
            PENGADUAN_DASHBOARD_URL=unused,
            PENGADUAN_WEB_URL=unused,
            PENGADUAN_DEFAULT_KECAMATAN="pegantenan",
            # one load generator is one client address: the per-address submission limit would answer 429
            PENGADUAN_RATE_LIMIT_SUBMISSIONS="100000/minute",
            **self.sinks.env(),
        )
        self.procs = Processes(self.workdir / "logs", env, grace_seconds=15.0)
        self.argv = {
            "api intake": ["api", "intake", "--port", str(intake)],
            "gateway": ["gateway", "--port", str(self.gateway_port)],
            **WORKERS,
        }
        for name in self.argv:
            self.spawn(name)
        self.procs.wait_http_ok(self.children["api intake"], f"http://127.0.0.1:{intake}/healthz")
        self._wait_gateway()

    def _wait_gateway(self, timeout: float = 90.0) -> None:
        """The gateway's /healthz sums up every service (503 here: only intake runs behind it); it is ready
        once it answers and reports intake ok."""
        gateway = self.children["gateway"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not gateway.alive():
                raise RuntimeError(f"the gateway exited:\n{gateway.tail()}")
            try:
                services = httpx.get(f"{self.url}/healthz", timeout=2.0).json().get("services", [])
                if any(s.get("service") == "intake" and s.get("status") == "ok" for s in services):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"the gateway did not reach intake in {timeout}s:\n{gateway.tail()}")

    def spawn(self, name: str) -> Child:
        assert self.procs is not None
        self.children[name] = self.procs.spawn_cli(name, *self.argv[name])
        return self.children[name]

    def kill9(self, name: str) -> None:
        """kill -9 the process group (a Celery worker's children die with it, as on an OOM kill of the box's
        container), and reap it."""
        child = self.children[name]
        child.signal_group(signal.SIGKILL)
        child.proc.wait()
        assert self.procs is not None
        self.procs.children.remove(child)

    def restart(self, name: str) -> None:
        self.spawn(name)

    def dead(self) -> list[str]:
        return [n for n, c in self.children.items() if not c.alive()]

    def kill9_redis(self) -> None:
        assert self.redis is not None and self.redis._proc is not None
        os.kill(self.redis._proc.pid, signal.SIGKILL)
        self.redis._proc.wait()

    def start_redis(self) -> None:
        assert self.redis is not None
        self.redis.start()  # same port, same data dir (append-only file)

    def restart_postgres(self) -> None:
        assert self.pg is not None
        self.pg.stop()
        deadline = time.monotonic() + 60
        while True:
            try:
                self.pg.start()
                return
            except Exception:  # old backends still exiting
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop(self) -> None:
        if self.procs is not None:
            self.procs.stop_all()
        if self.sinks is not None:
            self.sinks.stop()
        for server in (self.redis, self.pg):
            if server is not None:
                try:
                    server.stop()
                except Exception:
                    log.exception("could not stop %s", type(server).__name__)
