"""Builds the web app's settings and its one client of the APIs. Called by ``create_app``, never at import.

The web app holds no data of its own (no engine, no broker): every page goes through the public APIs, with
one HTTP client per process, opened when the app starts and closed when it stops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from services.web.adapters.api_client import Api
from services.web.config import WebSettings


@dataclass
class Web:
    settings: WebSettings
    api: Api | None = None  # given (tests: an in-memory transport to the apps), else opened at start

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        """The app's lifespan: the client of the APIs at ``app.state.api`` while the app runs."""
        app.state.api = self.api or Api(self.settings.web_api_url)
        yield
        await app.state.api.aclose()


def bootstrap(settings: WebSettings | None = None, api: Api | None = None) -> Web:
    return Web(settings=settings or WebSettings(), api=api)
