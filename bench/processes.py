"""Child processes of a benchmark: each in its own process group, logs to a file, always stopped.

``Processes.stop_all()`` sends SIGTERM to every group, waits a grace period, then SIGKILLs what is left.
The children also get SIGTERM if this process dies without cleaning up (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

log = logging.getLogger("bench.processes")

REPO_ROOT = Path(__file__).resolve().parent.parent
_PR_SET_PDEATHSIG = 1


def _child_setup() -> None:  # runs in the child between fork and exec
    os.setsid()
    try:  # noqa: SIM105
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def signal_group(self, sig: int) -> None:
        try:  # noqa: SIM105
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass


@dataclass
class Processes:
    """Starts and stops the benchmark's child processes."""

    log_dir: Path
    env: dict[str, str]
    grace_seconds: float = 15.0
    children: list[Child] = field(default_factory=list)

    def spawn(self, name: str, argv: list[str], **extra_env: str) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name.replace(' ', '-')}-{time.monotonic_ns()}.log"
        env = {**self.env, **extra_env}
        with open(log_path, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, *argv],
                env=env,
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_child_setup,  # noqa: PLW1509
            )
        child = Child(name, argv, log_path, proc)
        self.children.append(child)
        log.info("started %s (pid %d)", name, proc.pid)
        return child

    def spawn_cli(self, name: str, *args: str, **extra_env: str) -> Child:
        """A ``pengaduan`` subcommand, started as the tests and the supervisor do: python -m pengaduan."""
        return self.spawn(name, ["-m", "pengaduan", *args], **extra_env)

    def stop(self, *children: Child) -> None:
        """SIGTERM each child's process group, wait up to the grace period, then SIGKILL."""
        running = [c for c in children if c.alive()]
        for child in running:
            log.info("stopping %s (pid %d)", child.name, child.pid)
            child.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        for child in running:
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s ignored SIGTERM for %.0fs, killing it", child.name, self.grace_seconds)
        for child in children:
            child.signal_group(signal.SIGKILL)  # whatever is left in the group, leader or not
            if child.proc.poll() is None:
                child.proc.wait()
        for child in children:
            if child in self.children:
                self.children.remove(child)

    def stop_all(self) -> None:
        self.stop(*self.children)

    def wait_http_ok(self, child: Child, url: str, timeout: float = 90.0) -> None:
        """Wait until GET url answers 200; fail early, with the log tail, if the child exits."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if not child.alive():
                raise RuntimeError(f"{child.name} exited with {child.proc.returncode}:\n{child.tail()}")
            try:
                response = httpx.get(url, timeout=2.0)
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise TimeoutError(f"{child.name} not ready at {url} after {timeout}s ({last}):\n{child.tail()}")

    def check_alive(self, *children: Child) -> None:
        for child in children:
            if not child.alive():
                raise RuntimeError(f"{child.name} exited with {child.proc.returncode}:\n{child.tail()}")
