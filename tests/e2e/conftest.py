"""The e2e tests run `pengaduan run`, whose embedded PostgreSQL runs as its own system user when the tests
run as root: its data must not sit under pytest's temporary folders, which every pytest start (another run
on the same machine) resets to 0700. ``tmp_path`` here is a folder of its own, 0755, removed afterwards."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def tmp_path() -> Path:
    path = Path(tempfile.mkdtemp(prefix="pengaduan-e2e-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)
