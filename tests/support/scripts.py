"""The project's stand-alone scripts (deploy/make_secrets.py, deploy/k8s/nginx_for_k8s.py), loaded as modules by the
tests: they run before anything is installed, so they are no package's modules."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def load_script(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
