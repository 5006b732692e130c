"""``pengaduan run``: the whole system on one machine, each process its own OS process, as in production.

Starts embedded PostgreSQL and Redis (unless PENGADUAN_DATABASE_URL / PENGADUAN_REDIS_URL are set),
migrates, seeds the demo kecamatan, starts every process, serves all HTTP at one base URL, and on Ctrl-C
or SIGTERM stops everything. If the supervisor itself is killed, its children and Redis get SIGTERM
(PR_SET_PDEATHSIG); PostgreSQL, daemonised by pg_ctl, keeps running and the next start reuses it.
Data stays in the data folder for the next start.

A process that exits is restarted after a pause that doubles with each crash in a row (1, 2, 4 ... s, at
most ``PENGADUAN_SUPERVISOR_MAX_RESTART_DELAY``); a process that stayed up for
``PENGADUAN_SUPERVISOR_STABLE_SECONDS`` starts again from the shortest pause. Restarts are scheduled,
never waited for: the supervisor keeps watching every other process meanwhile. Its own PostgreSQL and
Redis are watched the same way and restarted on the same data folders and ports, so the processes
reconnect to them.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.embedded import EmbeddedPostgres, EmbeddedRedis, die_with_parent, free_port, start_postgres, start_redis

log = logging.getLogger("pengaduan.supervisor")
WATCH_INTERVAL = 0.25  # seconds between two looks at every process


class SupervisorSettings(BaseSettings):
    """How ``pengaduan run`` restarts what dies (environment: ``PENGADUAN_SUPERVISOR_...``)."""

    model_config = SettingsConfigDict(env_prefix="PENGADUAN_SUPERVISOR_", extra="ignore")

    stable_seconds: float = Field(
        60.0, gt=0, description="A process up this long has its crash count cleared: its next restart is prompt again"
    )
    max_restart_delay: float = Field(30.0, gt=0, description="The longest pause before a restart (crash after crash)")


@dataclass
class Restarts:
    """When something that died is started again: 1, 2, 4 ... s after it died (crashes in a row), at most
    ``max_delay``; the count starts over once it stayed up ``stable`` seconds."""

    stable: float
    max_delay: float
    crashes: int = 0
    due: float | None = None  # when the scheduled restart is due; None: none scheduled
    up_since: float = 0.0

    def started(self, now: float) -> None:
        self.due, self.up_since = None, now

    def running(self, now: float) -> None:
        if self.crashes and now - self.up_since >= self.stable:
            self.crashes = 0

    def died(self, now: float) -> float:
        self.crashes += 1
        delay = min(self.max_delay, 2.0 ** (self.crashes - 1))
        self.due = now + delay
        return delay


def _child_setup() -> None:
    """In the child, before exec: die with the supervisor, in a process group of its own (Ctrl-C reaches
    the supervisor, which stops the children in order)."""
    die_with_parent()
    os.setpgrp()


@dataclass
class Child:
    name: str
    argv: list[str]
    url: str = ""
    proc: subprocess.Popen | None = None
    restarts: Restarts = field(default_factory=lambda: Restarts(60.0, 30.0))

    def start(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "pengaduan", *self.argv], env=env, preexec_fn=_child_setup)  # noqa: PLW1509
        self.restarts.started(time.monotonic())

    def exit_code(self) -> int | None:
        return self.proc.poll() if self.proc else None


@dataclass
class Server:
    """The supervisor's own PostgreSQL or Redis, watched like a child."""

    name: str
    server: EmbeddedPostgres | EmbeddedRedis
    restarts: Restarts

    def is_running(self) -> bool:
        return self.server.is_running()


def _processes(port: int) -> list[Child]:
    """One of each process the services declare (pengaduan.registry): every API on a free port, the gateway,
    a worker per queue, the runner processes."""
    from pengaduan import registry
    from shared.service import RUNNER_PROCESSES

    apis = [s for s in registry.services() if s.api]
    ports = {s.name: free_port() for s in apis}
    return [
        *(
            Child(f"api {s.name}", ["api", s.name, "--port", str(ports[s.name])], f"http://127.0.0.1:{ports[s.name]}")
            for s in apis
        ),
        Child("gateway", ["gateway", "--port", str(port)], f"http://127.0.0.1:{port}"),
        *(
            Child(f"worker {s.queue}", ["worker", s.queue, "--concurrency", str(s.dev_concurrency)])
            for s in registry.services()
            if s.queue
        ),
        *(
            Child(process, ["projections", "run"] if process == "projections" else [process])
            for process in RUNNER_PROCESSES
            if any(process in s.runners for s in registry.services())
        ),
    ]


DEV_WHATSAPP_SECRET = "dev-only-whatsapp-app-secret"


def _dev_channels(env: dict[str, str], port: int) -> Child | None:
    """Outside production, with no channel configured: local sinks take every e-mail, SMS and WhatsApp
    message, listed at /dev/outbox, so a newcomer sees what the system would have sent."""
    if env.get("PENGADUAN_ENVIRONMENT") == "production" or any(
        env.get(k) for k in ("PENGADUAN_SMTP_HOST", "PENGADUAN_SMS_PROVIDER", "PENGADUAN_WHATSAPP_TOKEN")
    ):
        return None
    smtp, http = free_port(), free_port()
    sinks = f"http://127.0.0.1:{http}"
    env.update(
        PENGADUAN_SMTP_HOST="127.0.0.1",
        PENGADUAN_SMTP_PORT=str(smtp),
        PENGADUAN_SMS_PROVIDER="http",
        PENGADUAN_SMS_URL=f"{sinks}/sms/send",
        PENGADUAN_SMS_STATUS_URL=f"{sinks}/sms/status/{{reference}}",
        PENGADUAN_WHATSAPP_API_URL=f"{sinks}/whatsapp",
        PENGADUAN_WHATSAPP_TOKEN="dev-token",
        PENGADUAN_WHATSAPP_PHONE_NUMBER_ID="100200300",
        PENGADUAN_WHATSAPP_APP_SECRET=DEV_WHATSAPP_SECRET,
        PENGADUAN_DEVSINKS_URL=sinks,
    )
    # the inbound webhooks answer 503 until their secrets are set: development ones, documented in the README
    env.setdefault("PENGADUAN_SMS_WEBHOOK_TOKEN", "dev-sms-token")
    env.setdefault("PENGADUAN_EMAIL_WEBHOOK_TOKEN", "dev-email-token")
    env.setdefault("PENGADUAN_WHATSAPP_VERIFY_TOKEN", "dev-verify-token")
    env.setdefault("PENGADUAN_LAPOR_WEBHOOK_TOKEN", "dev-lapor-webhook-token-make-run-only")  # >= 32 characters
    env.setdefault("PENGADUAN_DEFAULT_KECAMATAN", "pegantenan")
    return Child(
        "devsinks",
        [
            "devsinks",
            "--smtp-port",
            str(smtp),
            "--http-port",
            str(http),
            "--whatsapp-webhook-url",
            f"http://127.0.0.1:{port}/v1/channels/whatsapp",
            "--whatsapp-app-secret",
            DEV_WHATSAPP_SECRET,
        ],
        f"{sinks}/dev/outbox",
    )


def _dev_tsa(env: dict[str, str], data: Path) -> Child | None:
    """Outside production, with no timestamp authority configured: a local one (devtools/tsa), its certificate
    from the development CA in the signing folder, so that letters are signed PAdES B-LTA as with a real TSA."""
    if env.get("PENGADUAN_ENVIRONMENT") == "production" or env.get("PENGADUAN_TSA_URL"):
        return None
    tsa_port = free_port()
    signing = env.get("PENGADUAN_SIGNING_DIR") or str(Path(env.get("PENGADUAN_DATA_DIR") or data) / "signing")
    env["PENGADUAN_TSA_URL"] = f"http://127.0.0.1:{tsa_port}/tsa"
    return Child(
        "devtsa",
        ["devtsa", "--port", str(tsa_port), "--signing-dir", str(Path(signing).resolve())],
        env["PENGADUAN_TSA_URL"],
    )


def _dev_bsre(env: dict[str, str], data: Path) -> Child | None:
    """Outside production, with no BSrE configured: a local stand-in for BSrE's esign API (devtools/bsre), with its
    own development CA in <data>/bsre, whose root the letters service trusts, so that a kecamatan set to sign
    through BSrE (``signature_service``) can be tried (the demo Camat of Pegantenan's NIK is its demo user)."""
    if env.get("PENGADUAN_ENVIRONMENT") == "production" or env.get("PENGADUAN_BSRE_URL"):
        return None
    from devtools.bsre.server import DEV_PASSWORD, DEV_USERNAME, BsreCA

    folder = (Path(env.get("PENGADUAN_DATA_DIR") or data) / "bsre").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    roots = folder / "root.pem"  # written now: the letters service reads it before the stand-in has started
    roots.write_bytes(BsreCA(folder).root_pem())
    bsre_port = free_port()
    env.update(
        PENGADUAN_BSRE_URL=f"http://127.0.0.1:{bsre_port}",
        PENGADUAN_BSRE_USERNAME=DEV_USERNAME,
        PENGADUAN_BSRE_PASSWORD=env.get("PENGADUAN_DEVBSRE_PASSWORD", DEV_PASSWORD),
        PENGADUAN_BSRE_CA_FILE=str(roots),
    )
    return Child("devbsre", ["devbsre", "--port", str(bsre_port), "--folder", str(folder)], env["PENGADUAN_BSRE_URL"])


def run_everything(port: int, data_dir: str) -> None:
    from shared.logging import setup_logging

    setup_logging("supervisor")
    data = Path(data_dir).resolve()
    data.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("PENGADUAN_PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
    env.setdefault("PENGADUAN_ENVIRONMENT", "development")
    children = _processes(port)
    for child in children:  # where the gateway finds each API (pengaduan gateway reads PENGADUAN_<NAME>_URL)
        if child.name.startswith("api "):
            env[f"PENGADUAN_{child.name.removeprefix('api ').upper()}_URL"] = child.url
    env.setdefault("PENGADUAN_WEB_API_URL", f"http://127.0.0.1:{port}")  # the web app reads the APIs via the gateway
    sinks = _dev_channels(env, port)
    if sinks:
        children.insert(0, sinks)
    env.setdefault("PENGADUAN_DATA_DIR", str(data))
    tsa = _dev_tsa(env, data)
    if tsa:
        children.insert(0, tsa)
    bsre = _dev_bsre(env, data)
    if bsre:
        children.insert(0, bsre)
    policy = SupervisorSettings()

    def restarts() -> Restarts:
        return Restarts(policy.stable_seconds, policy.max_restart_delay)

    for child in children:
        child.restarts = restarts()
    owned: list[Server] = []
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        # a PostgreSQL left running by a supervisor that was killed is reused; a Redis is replaced
        if not env.get("PENGADUAN_DATABASE_URL"):
            pg = start_postgres(data / "postgres")
            owned.append(Server("postgres", pg, restarts()))
            env["PENGADUAN_DATABASE_URL"] = pg.url
        if not env.get("PENGADUAN_REDIS_URL"):
            redis = start_redis(data / "redis")
            owned.append(Server("redis", redis, restarts()))
            env["PENGADUAN_REDIS_URL"] = redis.url
        for server in owned:
            server.restarts.started(time.monotonic())
        for step in (["migrate"], ["seed-demo", "--kabupaten-settings"]):
            subprocess.run([sys.executable, "-m", "pengaduan", *step], env=env, check=True)
        for child in children:
            child.start(env)
        _wait_healthy(f"http://127.0.0.1:{port}/healthz", stop)
        _print_summary(port, env, children)
        while not stop.wait(WATCH_INTERVAL):
            for server in owned:  # first: the processes need them
                _watch(server.name, server.restarts, server.is_running(), None, server.server.start)
            for child in children:
                code = child.exit_code()
                _watch(child.name, child.restarts, code is None, code, lambda c=child: c.start(env))
    finally:
        _stop_children(children)
        for server in reversed(owned):
            server.server.stop()
        print("pengaduan stopped; data kept in", data, flush=True)


def _watch(name: str, restarts: Restarts, running: bool, code: int | None, start: Callable[[], None]) -> None:
    """One look at one process: clear its crash count once it is stable, schedule a restart when it has
    died, start it when that is due. Never waits."""
    now = time.monotonic()
    if running:
        restarts.running(now)
    elif restarts.due is None:
        delay = restarts.died(now)
        log.error("%s exited%s; restarting in %.0fs", name, "" if code is None else f" with {code}", delay)
    elif now >= restarts.due:
        try:
            start()
        except Exception as exc:  # e.g. PostgreSQL refusing to start while its old backends still exit  # noqa: BLE001
            delay = restarts.died(now)
            log.error("%s did not start (%s); trying again in %.0fs", name, exc, delay)
            return
        restarts.started(now)
        log.warning("%s restarted", name)


def _wait_healthy(url: str, stop: threading.Event, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    if not stop.is_set():
        log.warning("not healthy after %ss: see %s", timeout, url)


def _stop_children(children: list[Child], grace: float = 15) -> None:
    running = [c for c in children if c.proc and c.proc.poll() is None]
    for c in running:
        try:  # noqa: SIM105
            os.killpg(c.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    for c in running:
        try:
            c.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %ss; killing it", c.name, grace)
            os.killpg(c.proc.pid, signal.SIGKILL)
            c.proc.wait()


def _mask(url: str) -> str:
    if "@" in url and ":" in url.split("@")[0].split("//")[-1]:
        scheme, rest = url.split("//", 1)
        creds, host = rest.split("@", 1)
        return f"{scheme}//{creds.split(':')[0]}:***@{host}"
    return url


def _print_summary(port: int, env: dict[str, str], children: list[Child]) -> None:
    base = f"http://127.0.0.1:{port}"
    lines = [
        "",
        f"pengaduan is running at {base}",
        f"  web app         {base}/  (citizens; staff sign in at {base}/masuk, demo users, password 'demo')",
        f"  API docs        {base}/docs",
        *(
            [f"  sent messages   {base}/dev/outbox  (local e-mail/SMS/WhatsApp sinks; nothing leaves this machine)"]
            if env.get("PENGADUAN_DEVSINKS_URL")
            else []
        ),
        *(
            [
                f"  timestamps      {env['PENGADUAN_TSA_URL']}  (letters signed PAdES {env.get('PENGADUAN_PADES_LEVEL', 'B-LTA')})"
            ]
            if env.get("PENGADUAN_TSA_URL")
            else ["  timestamps      none (PENGADUAN_TSA_URL unset: letters signed PAdES B-B, no trusted time)"]
        ),
        f"  health          {base}/healthz",
        f"  PostgreSQL      {_mask(env['PENGADUAN_DATABASE_URL'])}",
        *(
            [
                f"  Redis           {_mask(env['PENGADUAN_REDIS_URL'])}",
                f"  broker          {_mask(env['PENGADUAN_BROKER_URL'])}",
            ]
            if env.get("PENGADUAN_BROKER_URL")
            else [f"  Redis (broker)  {_mask(env['PENGADUAN_REDIS_URL'])}"]
        ),
        "  processes:",
    ]
    for c in children:
        lines.append(f"    {c.name:<18} pid {c.proc.pid:<8} {c.url}")  # noqa: PERF401
    lines.append("Ctrl-C stops everything.")
    print("\n".join(lines), flush=True)
