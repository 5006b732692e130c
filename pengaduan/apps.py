"""The API processes as the composition root assembles them (uvicorn factories, ``pengaduan api KIND``).

A service's own ``create_app`` knows only that service; what joins services in one process is decided here and
stated in ``COMPOSED_APIS``: the workflow API also serves accounts' sign-in (``/v1/auth/*``, where it has always
been answered) and the deployment's scrape-time gauges (every service's, ``pengaduan.registry``), so scraping
every replica of every process never multiplies those queries. Every other API process runs the factory its
service declares (``Api.factory`` in its ``service.py``) as it is."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

if TYPE_CHECKING:
    from services.workflow.bootstrap import Workflow


@dataclass(frozen=True)
class ComposedApi:
    """An API process that serves more than its service's declared API: ``factory`` builds the app the service
    declares (its ``Api.factory``) and adds ``routers`` (other services' routers, ``module:attribute``, under
    paths the service's declared routes already bring to it) and, with ``gauges``, every service's scrape-time
    gauges on its ``/metrics``. tests/unit/test_declarations.py checks that the app is exactly that."""

    factory: str  # the root's uvicorn factory
    routers: tuple[str, ...] = ()
    gauges: bool = False


COMPOSED_APIS = {
    "workflow": ComposedApi(
        "pengaduan.apps:workflow",
        # accounts' sign-in and its organisation (units, delegations): it has no process of its own
        routers=("services.accounts.entrypoints.api:router", "services.accounts.entrypoints.organisation:router"),
        gauges=True,
    ),
}


def factory_for(kind: str) -> str:
    """The uvicorn factory ``pengaduan api KIND`` runs: the root's composition of the service's API where
    ``COMPOSED_APIS`` states one, else the factory the service declares."""
    from pengaduan import registry

    composed = COMPOSED_APIS.get(kind)
    return composed.factory if composed is not None else registry.service(kind).api.factory


def load(reference: str) -> Any:
    """The object a ``module:attribute`` reference names."""
    module, _, name = reference.partition(":")
    return getattr(import_module(module), name)


def workflow(wf: Workflow | None = None) -> FastAPI:
    """``pengaduan api workflow``: the workflow's declared API (``create_app``) with what ``COMPOSED_APIS``
    states (``wf``: a workflow already built, as tests pass it)."""
    from pengaduan import registry
    from services.accounts.bootstrap import bootstrap as accounts
    from services.workflow.bootstrap import bootstrap
    from services.workflow.entrypoints.api import create_app

    composed = COMPOSED_APIS["workflow"]
    wf = wf or bootstrap()
    gauges = [registry.operations_collector(wf.engine, wf.settings.effective_broker_url)] if composed.gauges else []
    app = create_app(wf, collectors=gauges, extra_routers=[load(r) for r in composed.routers])
    # accounts' router finds its container here; it reads users with the hosting workflow's engine and settings
    app.state.accounts = accounts(wf.settings, engine=wf.engine)
    return app


def gateway(backends: dict[str, str], settings=None) -> FastAPI:
    """The gateway in front of ``backends`` (service name -> base URL), routing by every service's declared routes."""
    from pengaduan import registry
    from shared.gateway import create_gateway

    return create_gateway(backends, registry.gateway_routes(), settings)
