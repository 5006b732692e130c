"""The web app in-process, over the real APIs in-process: for page tests that need no browser.

``web_client(settings)`` (a context manager) yields a TestClient of ``services.web`` whose ``Api`` reaches
the intake, workflow, letters and dashboard apps (each started with its lifespan, on the test database)
through an ASGI dispatcher that routes exactly as the gateway does (``pengaduan.registry.route_for``). Nothing
is patched: the pages make the same HTTP requests they make in production, over an in-memory transport.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
from fastapi.testclient import TestClient

from pengaduan import registry
from shared.config import Settings


class Dispatcher:
    """An ASGI app that sends each request to the app the gateway would (404 JSON for the rest)."""

    def __init__(self, apps: dict) -> None:
        self.apps = apps

    async def __call__(self, scope, receive, send) -> None:
        service = registry.route_for(scope["method"], scope["path"]) if scope["type"] == "http" else None
        app = self.apps.get(service)
        if app is None:
            await send(
                {"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"application/json")]}
            )
            await send(
                {
                    "type": "http.response.body",
                    "body": b'{"code":"not_found","message":"Alamat tidak ditemukan.","errors":[]}',
                }
            )
            return
        await app(scope, receive, send)


@contextlib.contextmanager
def web_client(settings: Settings, **web_settings) -> Iterator[TestClient]:
    from pengaduan.apps import workflow as workflow_app
    from services.dashboard.entrypoints.api import create_full_app
    from services.intake.bootstrap import bootstrap as intake_bootstrap
    from services.intake.config import IntakeSettings
    from services.intake.entrypoints.api import create_app as intake_app
    from services.letters.entrypoints.api import create_app as letters_app
    from services.web.adapters.api_client import Api
    from services.web.config import WebSettings
    from services.web.entrypoints.api import create_app as web_app
    from services.workflow.bootstrap import bootstrap as workflow_bootstrap

    base = settings.model_dump()
    env = {
        "PENGADUAN_DATABASE_URL": settings.database_url,
        "PENGADUAN_REDIS_URL": settings.redis_url,
        "PENGADUAN_BROKER_URL": settings.effective_broker_url,
        "PENGADUAN_DATA_DIR": str(getattr(settings, "data_dir", "") or ""),
    }
    intake = intake_bootstrap(IntakeSettings(**base))
    workflow = workflow_bootstrap(settings)
    with contextlib.ExitStack() as stack:
        stack.enter_context(_env(env))  # letters and dashboard read their settings from the environment
        apps = {
            "intake": intake_app(intake),
            "workflow": workflow_app(workflow),
            "letters": letters_app(),
            "dashboard": create_full_app(),
        }
        for app in apps.values():  # their lifespans (state, pools) run for the whole block
            stack.enter_context(TestClient(app))
        api = Api("http://api.test", transport=httpx.ASGITransport(app=Dispatcher(apps)))
        web = web_app(WebSettings(**{**base, **web_settings}), api=api)
        with TestClient(web, base_url="http://testserver") as client:
            client.apps = apps  # type: ignore[attr-defined]
            yield client
    intake.engine.dispose()
    workflow.engine.dispose()


@contextlib.contextmanager
def _env(values: dict[str, str]):
    import os

    old = {k: os.environ.get(k) for k in values}
    os.environ.update({k: v for k, v in values.items() if v})
    try:
        yield None
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
