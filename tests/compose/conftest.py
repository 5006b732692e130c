"""The compose drive's fixture: the stack up once for the module, down (volumes too) at the end, whatever
happened; its commands and the containers' logs kept in test-artifacts/compose/ for a person to read."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys

import pytest

from shared.embedded import free_port
from tests.compose.stack import ROOT, Stack


@pytest.fixture(scope="session")
def compose_dir(tmp_path_factory):
    for tool in ("podman", "runc"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is not installed: `make compose-test` needs podman and runc (Debian packages)")
    path = ROOT / "test-artifacts" / "compose"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture(scope="session")
def drive_lock():
    """One drive at a time on a machine: the project's name is fixed (its containers, volumes and network carry
    it), and a drive starts by removing what a cut-off run left behind, which would be another's running stack."""
    with open("/tmp/pengaduan-compose-drive.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="session")
def stack(compose_dir, tmp_path_factory, drive_lock):
    secrets = tmp_path_factory.mktemp("secrets")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "deploy" / "make_secrets.py"),
            "--dir",
            str(secrets),
            "--self-signed-tls",
            "localhost",
        ],
        check=True,
        capture_output=True,
    )
    s = Stack(secrets=secrets, http_port=free_port(), https_port=free_port(), log=compose_dir / "commands.log")
    s.down()  # a previous run's leftovers, if it was cut off
    try:
        s.up_times = s.up()
        yield s
    finally:
        for service in (c["Labels"].get("com.docker.compose.service") for c in s.containers(all_states=True)):
            if service:
                for name, text in s.logs(service).items():
                    (compose_dir / f"{name}.log").write_text(text)
        s.down()
