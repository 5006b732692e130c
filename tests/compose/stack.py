"""The compose stack on podman, for the drive (test_compose_stack.py): docker-compose.yml with
deploy/ci/docker-compose.ci.yml, images built here by deploy/ci/images.py.

podman 4.3 (Debian bookworm) differs from Docker Compose in two ways the production file meets, and this module
makes up for both, as Docker Compose would behave:
  * ``depends_on: condition: service_healthy`` is ignored (podman-compose says so: podman < 4.6 has no
    ``wait --condition=healthy``), and health checks run only by systemd timers, which a container host without
    systemd does not have. The stack is brought up in the production file's order instead, stage by stage, each
    stage's health checks run with ``podman healthcheck run`` (the checks of the compose file themselves) until
    they pass;
  * podman 4.3 refuses to start a container whose ``--requires`` chain holds a finished one-shot (``migrate``):
    "depends on container ... not found in input list". ``--no-deps`` keeps podman-compose from passing
    ``--requires``; the stages give the order.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = ROOT / "deploy" / "ci" / "containers.conf"
PROJECT = "pengaduan-ci"

# the production file's start-up order (its depends_on), stage by stage; the health-checked services of each
# stage are healthy before the next stage starts
INFRA = ("postgres", "redis", "minio", "sinks")
ONE_SHOTS = ("migrate", "seed-demo")
APIS = ("intake-api", "workflow-api", "dashboard-api", "web-api", "letters-api")
BACKGROUND = ("worker-workflow", "worker-letters", "worker-notify", "relay", "projections", "scheduler", "tsa")
FRONT = ("gateway", "proxy")
# the inbound webhooks' secrets the drive gives the stack, one through each way in (conftest.py): e-mail's in the
# settings file, SMS's as a file in secrets/integrations/
INTEGRATION_TOKENS = {"email": secrets.token_urlsafe(24), "sms": secrets.token_urlsafe(24)}
HEALTH_CHECKED = ("postgres", "redis", "minio", *APIS, *FRONT)


@dataclass
class Stack:
    secrets: Path
    http_port: int
    https_port: int
    log: Path
    settings_file: Path  # the kabupaten's settings (.env's lines to every process: PENGADUAN_ENV_FILE)
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env = {
            **os.environ,
            "CONTAINERS_CONF": str(CONTAINERS_CONF),
            "PENGADUAN_SECRETS_PATH": str(self.secrets),
            "PENGADUAN_TLS_CERTIFICATE_FILE": str(self.secrets / "tls_certificate.pem"),
            "PENGADUAN_TLS_PRIVATE_KEY_FILE": str(self.secrets / "tls_private_key.pem"),
            "PENGADUAN_PUBLIC_BASE_URL": self.base_url,
            "PENGADUAN_HTTP_PORT": str(self.http_port),
            "PENGADUAN_HTTPS_PORT": str(self.https_port),
            "PENGADUAN_ENV_FILE": str(self.settings_file),
        }

    @property
    def base_url(self) -> str:
        return f"https://localhost:{self.https_port}"

    # -- podman-compose and podman ------------------------------------------------------------------------
    def compose(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        argv = [
            str(Path(sys.executable).with_name("podman-compose")), "--in-pod", "false", "-p", PROJECT,
            "-f", str(ROOT / "docker-compose.yml"), "-f", str(ROOT / "deploy" / "ci" / "docker-compose.ci.yml"),
            *args,
        ]  # fmt: skip
        return self._run(argv, check=check, timeout=timeout)

    def podman(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        return self._run(["podman", *args], check=check, timeout=timeout)

    def _run(self, argv: list[str], check: bool, timeout: float) -> subprocess.CompletedProcess:
        with self.log.open("a") as log:
            log.write(f"\n$ {' '.join(argv)}\n")
            done = subprocess.run(
                argv, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
            )
            log.write(done.stdout + done.stderr)
        if check and done.returncode != 0:
            raise AssertionError(
                f"{argv[0]} {' '.join(argv[1:4])}... failed ({done.returncode}): {done.stderr[-3000:]}"
            )
        return done

    def containers(self, service: str | None = None, all_states: bool = False) -> list[dict]:
        """This project's containers (of one service), as ``podman ps --format json`` gives them."""
        args = ["ps", "--format", "json", "--filter", f"label=io.podman.compose.project={PROJECT}"]
        if service:
            args += ["--filter", f"label=com.docker.compose.service={service}"]
        if all_states:
            args.append("--all")
        return json.loads(self.podman(*args).stdout or "[]")

    def container(self, service: str) -> str:
        names = [c["Names"][0] for c in self.containers(service, all_states=True)]
        assert names, f"no container of {service}"
        return min(names)

    def healthy(self, service: str) -> bool:
        """The compose file's own health check of the service, run now."""
        return all(
            self.podman("healthcheck", "run", c["Names"][0], check=False, timeout=60).returncode == 0
            for c in self.containers(service)
        ) and bool(self.containers(service))

    def wait_healthy(self, services: tuple[str, ...], timeout: float) -> float:
        started = time.monotonic()
        waiting = list(services)
        while waiting:
            waiting = [s for s in waiting if not self.healthy(s)]
            if waiting and time.monotonic() - started > timeout:
                raise AssertionError(f"not healthy after {timeout:.0f} s: {waiting}; see {self.log}")
            if waiting:
                time.sleep(2)
        return time.monotonic() - started

    def run_one_shot(self, service: str, timeout: float = 300) -> None:
        """Start a one-shot service (its container made by ``up``) and wait for it to exit 0."""
        self.compose("up", "-d", "--no-deps", service)
        name = self.container(service)
        code = self.podman("wait", name, timeout=timeout).stdout.strip()
        logs = self.podman("logs", name, check=False).stderr[-2000:]
        assert code == "0", f"{service} exited {code}: {logs}"

    # -- the whole life ----------------------------------------------------------------------------------
    def up(self) -> dict[str, float]:
        """Bring it up in the production file's order; seconds each stage took."""
        times: dict[str, float] = {}
        t = time.monotonic()
        self.compose("up", "-d", "--no-deps", *INFRA)
        self.wait_healthy(("postgres", "redis", "minio"), timeout=180)
        times["infrastructure"] = time.monotonic() - t
        t = time.monotonic()
        for service in ONE_SHOTS:  # migrate first, then the demo's kecamatan and users
            self.run_one_shot(service)
        times["migrate and seed"] = time.monotonic() - t
        t = time.monotonic()
        self.compose("up", "-d", "--no-deps", *APIS, *BACKGROUND)
        self.wait_healthy(APIS, timeout=300)
        times["apis"] = time.monotonic() - t
        t = time.monotonic()
        self.compose("up", "-d", "--no-deps", *FRONT)
        self.wait_healthy(FRONT, timeout=180)
        times["gateway and proxy"] = time.monotonic() - t
        return times

    def logs(self, service: str) -> dict[str, str]:
        """Each container's log of the service (stdout and stderr)."""
        out = {}
        for c in self.containers(service, all_states=True):
            done = self.podman("logs", c["Names"][0], check=False)
            out[c["Names"][0]] = done.stdout + done.stderr
        return out

    def down(self) -> None:
        """Everything of the project gone: podman-compose's down, then what it does not know of (the replicas
        ``--scale`` added keep the volume and the network in use), removed by the project's label."""
        self.compose("down", "-v", check=False, timeout=600)
        leftovers = [c["Names"][0] for c in self.containers(all_states=True)]
        if leftovers:
            self.podman("rm", "--force", "--time", "30", *leftovers, check=False, timeout=300)
        label = f"label=io.podman.compose.project={PROJECT}"
        for kind in ("volume", "network"):
            names = self.podman(kind, "ls", "--quiet", "--filter", label, check=False).stdout.split()
            if names:
                self.podman(kind, "rm", "--force", *names, check=False)
        assert not self.containers(all_states=True), "containers of the drive left behind"
