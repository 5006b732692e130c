"""Browser tests: the whole system started as `make run` starts it (`pengaduan run` on a free port, its own
data directory, stopped with SIGTERM), driven by Playwright in the system's Chromium (Debian packages
`chromium` and `chromium-driver`, never a browser download).

Without Chromium or Playwright every test here is skipped, with the reason in pytest's summary (`-ra`).
The fixtures live for this package only: the stack stops and Playwright's event loop closes as soon as the
browser tests are done (the sync API keeps a loop running in the main thread, which later tests that call
``asyncio.run`` must not find). Artifacts go to ``test-artifacts/browser/``: a full-page screenshot of every page visited (``NN-name.png``),
the downloaded PDFs, the stack's log (``make-run.log``) and the browsers' console messages (``console.log``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.embedded import free_port
from tests.support.processes import wait_until

CHROMIUM = os.environ.get("BROWSER_TESTS_CHROMIUM", "/usr/bin/chromium")
NO_CHROMIUM = "Chromium not installed: apt-get install chromium chromium-driver"
NO_PLAYWRIGHT = (
    "Playwright not installed: .venv/bin/pip install playwright (in the `test` extra; no `playwright install`)"
)

# a phone: the citizens' pages are meant for one
MOBILE = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 13; SM-A145F) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36"
    ),
}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(here):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="package")
def chromium_executable() -> str:
    """The system Chromium, else the whole module is skipped (first, before the stack is started)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip(NO_PLAYWRIGHT)
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(NO_CHROMIUM)
    return CHROMIUM


@pytest.fixture(scope="package")
def browser_artifacts(artifacts_dir) -> Path:
    path = artifacts_dir / "browser"
    path.mkdir(parents=True, exist_ok=True)
    for old in {
        *path.glob("*.png"),
        *path.glob("*.pdf"),
        *path.glob("GAGAL-*"),
        *path.glob("*.log"),
        *path.glob("*.txt"),
    }:
        old.unlink(missing_ok=True)  # this run's artifacts only
    return path


@pytest.fixture(scope="package")
def browser(chromium_executable):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_executable, headless=True)
        yield b
        b.close()


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="package")
def stack(chromium_executable, browser_artifacts) -> str:
    """`make run` (`pengaduan run --port N --data-dir D`): its base URL; SIGTERM at the end."""
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="pengaduan-browser-"))
    data_dir.chmod(0o755)  # the embedded PostgreSQL runs as its own user
    env = {k: v for k, v in os.environ.items() if not k.startswith("PENGADUAN_")}
    env["PENGADUAN_RELAY_POLL_INTERVAL"] = "0.2"
    env["PENGADUAN_RATE_LIMIT_TRACKING"] = "100000/minute"  # the test polls the tracking page every 0.2 s
    log = (browser_artifacts / "make-run.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pengaduan", "run", "--port", str(port), "--data-dir", str(data_dir / "data")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"`pengaduan run` exited with {proc.returncode}; see {log.name}")
            return _healthy(base)

        wait_until(up, timeout=180, interval=0.5, message="the stack (pengaduan run) to become healthy")
        yield base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="package")
def shot(browser_artifacts) -> Callable[[Any, str], Path]:
    """``shot(page, "name")``: a full-page screenshot, ``browser/NN-name.png`` in the order taken."""
    counter = {"n": 0}

    def _shot(page, name: str) -> Path:
        counter["n"] += 1
        path = browser_artifacts / f"{counter['n']:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot


@dataclass
class Watch:
    """What the pages did that a test must notice: dialogs (alert/confirm/prompt), uncaught script errors,
    and console errors (a Content-Security-Policy violation among them)."""

    dialogs: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def attach(self, page) -> None:
        def on_dialog(d) -> None:
            self.dialogs.append(f"{d.type}: {d.message} (at {page.url})")
            d.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda e: self.page_errors.append(f"{e} (at {page.url})"))
        page.on(
            "console",
            lambda m: (
                self.console_errors.append(f"{m.text} ({m.location.get('url') or page.url})")
                if m.type == "error"
                else None
            ),
        )

    def assert_quiet(self) -> None:
        assert self.dialogs == [], f"a dialog fired: {self.dialogs}"
        assert self.page_errors == [], f"uncaught script errors: {self.page_errors}"
        csp = [m for m in self.console_errors if "Content Security Policy" in m]
        assert csp == [], f"Content-Security-Policy violations: {csp}"


@pytest.fixture
def new_context(browser, stack, browser_artifacts, request):
    """``new_context(mobile=False)``: a fresh browser context (own cookies) at the stack's base URL; every
    page it opens is watched (``context.watch``); all closed at the test's end."""
    contexts = []
    watch = Watch()

    def _new(mobile: bool = False):
        ctx = browser.new_context(
            base_url=stack,
            locale="id-ID",
            timezone_id="Asia/Jakarta",
            accept_downloads=True,
            **(MOBILE if mobile else DESKTOP),
        )
        ctx.set_default_timeout(15_000)
        ctx.on("page", watch.attach)
        ctx.watch = watch
        contexts.append(ctx)
        return ctx

    _new.watch = watch
    yield _new
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:  # what the browser showed when the test failed
        for i, ctx in enumerate(contexts):
            for j, page in enumerate(ctx.pages):
                safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)  # parameters may hold slashes
                stem = browser_artifacts / f"GAGAL-{safe}-{i}-{j}"
                try:
                    page.screenshot(path=f"{stem}.png", full_page=True)
                    Path(f"{stem}.html").write_text(f"<!-- {page.url} -->\n" + page.content())
                except Exception:  # a closed page
                    pass
    for ctx in contexts:
        try:  # noqa: SIM105
            ctx.close()
        except Exception:  # already closed by the test
            pass
    if watch.console_errors:
        with (browser_artifacts / "console.log").open("a") as f:
            f.write(f"--- {request.node.name} ---\n" + "\n".join(watch.console_errors) + "\n")


def poll(fn: Callable[[], Any], *, timeout: float, interval: float = 1.0, message: str) -> Any:
    """``fn()`` until it returns something truthy; AssertionError naming ``message`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {message}")
        time.sleep(interval)
