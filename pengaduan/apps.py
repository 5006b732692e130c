"""The API processes as the composition root assembles them (uvicorn factories, ``pengaduan api KIND``)."""
from __future__ import annotations

from fastapi import FastAPI


def workflow(wf=None) -> FastAPI:
    from pengaduan import registry
    from services.workflow.bootstrap import bootstrap
    from services.workflow.entrypoints.api import create_app

    wf = wf or bootstrap()
    return create_app(wf, collectors=[registry.operations_collector(wf.engine, wf.settings.effective_broker_url)])


def gateway(backends: dict[str, str], settings=None) -> FastAPI:
    """The gateway in front of ``backends`` (service name -> base URL), routing by every service's declared routes."""
    from pengaduan import registry
    from shared.gateway import create_gateway

    return create_gateway(backends, registry.gateway_routes(), settings)
