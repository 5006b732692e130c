"""Build the images the compose drive needs, where no container registry can be reached (issue #19).

    python deploy/ci/images.py [--rebuild-base] [--only NAME ...]

1. A Debian bookworm base image, made here from Debian's packages with mmdebstrap and ``podman import``
   (``localhost/pengaduan-base:bookworm``): Python 3.11, tzdata, CA certificates (the build host's too, so that a
   TLS-inspecting proxy on the way to PyPI is trusted as the host trusts it). Kept between runs and rebuilt
   when older than a week (security updates) or with ``--rebuild-base``.
2. The project's image from the Dockerfile on that base (``--build-arg BASE_IMAGE``): ``localhost/pengaduan:latest``,
   the name docker-compose.yml gives it. podman's layer cache keeps it cheap when nothing changed.
3. Stand-ins for the images docker-compose.yml pulls, built from Debian's packages on the same base:
   ``localhost/pengaduan-ci-postgres`` (PostgreSQL 15), ``-redis``, ``-nginx``, and ``-s3`` (moto's S3 server,
   for MinIO). deploy/ci/docker-compose.ci.yml swaps them in; testcontainers takes the first two.

Needs podman, runc and mmdebstrap (Debian packages; .ci/run installs them) and root (mmdebstrap's chroot).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "deploy" / "ci"
CONTAINERS_CONF = HERE / "containers.conf"
BASE = "localhost/pengaduan-base:bookworm"
BASE_MAX_AGE_DAYS = 7
MIRRORS = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)
BASE_PACKAGES = "python3,python3-venv,python-is-python3,ca-certificates,tzdata,netbase"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

# name -> (image, Containerfile, build context)
IMAGES = {
    "app": ("localhost/pengaduan:latest", ROOT / "Dockerfile", ROOT),
    "postgres": ("localhost/pengaduan-ci-postgres:latest", HERE / "Containerfile.postgres", HERE),
    "redis": ("localhost/pengaduan-ci-redis:latest", HERE / "Containerfile.redis", HERE),
    "nginx": ("localhost/pengaduan-ci-nginx:latest", HERE / "Containerfile.nginx", HERE),
    "s3": ("localhost/pengaduan-ci-s3:latest", HERE / "Containerfile.s3", ROOT),
}


def podman_env() -> dict[str, str]:
    """The environment every podman call of the drive runs with: this folder's containers.conf."""
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def _run(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    print("+", " ".join(argv), flush=True)
    return subprocess.run(argv, check=True, env=podman_env(), **kwargs)


def _base_age_days() -> float | None:
    """Days since the base image was made, or None when there is none."""
    found = subprocess.run(
        ["podman", "image", "inspect", BASE, "--format", "{{.Created.Unix}}"],
        capture_output=True,
        text=True,
        env=podman_env(),
        check=False,
    )
    if found.returncode != 0:
        return None
    return (time.time() - int(found.stdout.strip())) / 86400


def build_base(rebuild: bool = False) -> None:
    age = _base_age_days()
    if age is not None and age < BASE_MAX_AGE_DAYS and not rebuild:
        print(f"base image {BASE}: kept ({age:.1f} days old)", flush=True)
        return
    hooks: list[str] = []
    if HOST_CA_BUNDLE.exists():
        hooks += [
            "--customize-hook",
            (
                f'cp {HOST_CA_BUNDLE} "$1"/usr/local/share/ca-certificates/build-host.crt'
                ' && chroot "$1" update-ca-certificates >/dev/null'
            ),
        ]
    hooks += ["--customize-hook", 'rm -rf "$1"/var/lib/apt/lists/*']
    with tempfile.TemporaryDirectory(prefix="pengaduan-base-") as tmp:
        tarball = Path(tmp) / "base.tar"
        started = time.monotonic()
        _run(
            "mmdebstrap", "--quiet", "--variant=apt", f"--include={BASE_PACKAGES}",
            "--aptopt=Acquire::Retries \"3\"", *hooks, "bookworm", str(tarball), *MIRRORS,
        )  # fmt: skip
        _run(
            "podman", "import",
            "--change", 'CMD ["/bin/bash"]',
            "--change", "ENV LANG=C.UTF-8",
            # pip trusts the system's certificates (the build host's included), not only its own bundle
            "--change", "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
            str(tarball), BASE,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        print(f"base image {BASE}: made in {time.monotonic() - started:.0f} s", flush=True)


def build(name: str) -> None:
    image, containerfile, context = IMAGES[name]
    started = time.monotonic()
    argv = (
        "podman", "build", "--network", "host", "--build-arg", f"BASE_IMAGE={BASE}",
        "-f", str(containerfile), "-t", image, str(context),
    )  # fmt: skip
    print("+", " ".join(argv), flush=True)
    done = subprocess.run(argv, env=podman_env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:  # the build's own words, the end of them
        sys.stderr.write(done.stdout[-6000:] + done.stderr[-6000:])
        raise SystemExit(f"{image}: the build failed ({done.returncode})")
    print(f"{image}: built in {time.monotonic() - started:.0f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rebuild-base", action="store_true", help="make the base image again")
    parser.add_argument("--only", nargs="*", choices=sorted(IMAGES), help="build only these images")
    args = parser.parse_args(argv)
    build_base(rebuild=args.rebuild_base)
    for name in args.only or IMAGES:
        build(name)
    # the images a rebuild replaced (untagged layers of earlier builds) would fill the disk run after run
    subprocess.run(["podman", "image", "prune", "--force"], env=podman_env(), check=False, capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
