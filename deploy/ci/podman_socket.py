"""Run a command with podman's Docker-compatible API on a private socket, as a Docker engine would be seen
(issue #19 item 5: the test fixtures' testcontainers path, proven on podman):

    python deploy/ci/podman_socket.py -- python -m pytest tests/integration

The command gets ``DOCKER_HOST`` (the socket), ``PENGADUAN_TEST_SERVERS=testcontainers`` (the fixtures must use
it, never fall back to the embedded servers), the locally built PostgreSQL and Redis images
(deploy/ci/images.py), Ryuk off (its image cannot be pulled here; the fixtures stop their containers themselves),
and the connection mode ``docker_host``: this machine is itself a container (/.dockerenv), which testcontainers
would otherwise take for Docker-in-Docker and reach the containers by a gateway podman does not report.
The service stops when the command ends; its exit code is the command's.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from images import IMAGES, podman_env


def _answers(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(path))
            s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return b"OK" in s.recv(1024)
    except OSError:
        return False


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    if not argv:
        raise SystemExit(__doc__)
    with tempfile.TemporaryDirectory(prefix="pengaduan-podman-") as tmp:
        sock = Path(tmp) / "podman.sock"
        service = subprocess.Popen(
            ["podman", "system", "service", "--time=0", f"unix://{sock}"], env=podman_env(), start_new_session=True
        )
        try:
            deadline = time.monotonic() + 30
            while not _answers(sock):
                if service.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"podman's API service did not answer on {sock}")
                time.sleep(0.2)
            env = {
                **podman_env(),
                "DOCKER_HOST": f"unix://{sock}",
                "PENGADUAN_TEST_SERVERS": "testcontainers",
                "PENGADUAN_TEST_POSTGRES_IMAGE": IMAGES["postgres"][0],
                "PENGADUAN_TEST_REDIS_IMAGE": IMAGES["redis"][0],
                "TESTCONTAINERS_RYUK_DISABLED": "true",
                "TESTCONTAINERS_CONNECTION_MODE": "docker_host",
            }
            return subprocess.run(argv, env=env, check=False).returncode
        finally:
            os.killpg(service.pid, signal.SIGTERM)
            try:
                service.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(service.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
