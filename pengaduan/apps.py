"""The API processes as the composition root assembles them (uvicorn factories, ``pengaduan api KIND``).

A service's own ``create_app`` knows only that service; what joins services in one process is decided here:
the workflow API also serves the deployment's scrape-time gauges (every service's, ``pengaduan.registry``),
so scraping every replica of every process never multiplies those queries, and accounts' sign-in
(``/v1/auth/*``, where it has always been answered)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

if TYPE_CHECKING:
    from services.workflow.bootstrap import Workflow


def workflow(wf: Workflow | None = None) -> FastAPI:
    """``pengaduan api workflow``: the workflow API with accounts' sign-in router (``wf``: a workflow already
    built, as tests pass it)."""
    from pengaduan import registry
    from services.accounts.bootstrap import bootstrap as accounts
    from services.accounts.entrypoints.api import router as sign_in
    from services.workflow.bootstrap import bootstrap
    from services.workflow.entrypoints.api import create_app

    wf = wf or bootstrap()
    app = create_app(
        wf,
        collectors=[registry.operations_collector(wf.engine, wf.settings.effective_broker_url)],
        extra_routers=[sign_in],
    )
    # accounts reads its users with the hosting workflow's engine and settings
    app.state.accounts = accounts(wf.settings, engine=wf.engine)
    return app


def gateway(backends: dict[str, str], settings=None) -> FastAPI:
    """The gateway in front of ``backends`` (service name -> base URL), routing by every service's declared routes."""
    from pengaduan import registry
    from shared.gateway import create_gateway

    return create_gateway(backends, registry.gateway_routes(), settings)
