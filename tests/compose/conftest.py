"""The compose drive's fixture: the stack up once for the module, down (volumes too) at the end, whatever
happened; its commands and the containers' logs kept in test-artifacts/compose/ for a person to read."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys

import pytest

from shared.embedded import free_port
from tests.compose.stack import INTEGRATION_TOKENS, ROOT, Stack


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
    folder = tmp_path_factory.mktemp("secrets")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "deploy" / "make_secrets.py"),
            "--dir",
            str(folder),
            "--self-signed-tls",
            "localhost",
        ],
        check=True,
        capture_output=True,
    )
    # the outside systems a kabupaten connects (docs/adr/0033): settings in its .env file (here PENGADUAN_ENV_FILE),
    # credentials as files in secrets/integrations/, each read by the processes as production reads them
    settings_file = tmp_path_factory.mktemp("settings") / "pengaduan.env"
    settings_file.write_text(
        "PENGADUAN_TSA_URL=http://tsa:8026/tsa\n"  # the CI's timestamp authority: letters signed PAdES B-LTA
        f"PENGADUAN_EMAIL_WEBHOOK_TOKEN={INTEGRATION_TOKENS['email']}\n"
    )
    sms_token = folder / "integrations" / "pengaduan_sms_webhook_token"
    sms_token.write_text(INTEGRATION_TOKENS["sms"])
    sms_token.chmod(0o444)
    s = Stack(
        secrets=folder,
        http_port=free_port(),
        https_port=free_port(),
        log=compose_dir / "commands.log",
        settings_file=settings_file,
    )
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
