"""Limits on Server-Sent Events streams: per user and per process in the dashboard (429 / 503 with Retry-After),
and the gateway's own pool for streams, so that held streams never starve ordinary requests."""

from __future__ import annotations

import asyncio
import socket
import threading
from contextlib import AsyncExitStack, contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from pengaduan.apps import gateway as create_gateway
from services.dashboard.bootstrap import bootstrap
from services.dashboard.config import DashboardSettings
from services.dashboard.entrypoints import feed
from services.dashboard.entrypoints.api import create_app
from shared.auth import Principal, create_token
from shared.gateway import GatewaySettings
from tests.support.processes import wait_until

try:  # every API checks a token against its user's row: written first where that check exists
    from tests.support.auth import bearer_header as _bearer_header
except ImportError:  # pragma: no cover - before the user check

    def _bearer_header(settings, principal, ttl):
        return {"Authorization": f"Bearer {create_token(principal, settings.secret_key, datetime.now(UTC), ttl)}"}


def bearer(settings, username: str) -> dict[str, str]:
    who = Principal(username, "Pengguna Uji", "kabupaten", None, "pamekasan")
    return _bearer_header(settings, who, timedelta(hours=1))


def dashboard(settings, engine, **limits) -> FastAPI:
    """The dashboard API with its event feed, as ``pengaduan api dashboard`` builds it, with these limits."""
    dsettings = DashboardSettings(**{**settings.model_dump(), **limits})
    return create_app(bootstrap(dsettings, engine=engine), extra_routers=[feed.router])


@contextmanager
def serve(app: FastAPI):
    """The app under a real uvicorn in a thread (streams need a real server: TestClient buffers them)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2, limit_concurrency=None, backlog=1024
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10, message="uvicorn")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


async def open_streams(stack: AsyncExitStack, http: httpx.AsyncClient, headers_list: list[dict[str, str]]) -> list:
    """Opens one stream per headers, each read up to its first frame (it is being served), and keeps them open."""

    async def one(headers: dict[str, str]) -> httpx.Response:
        r = await stack.enter_async_context(
            http.stream("GET", "/v1/events/stream", params={"after": 2**62}, headers=headers)
        )
        assert r.status_code == 200, r.status_code
        chunks = r.aiter_raw()
        r.extensions["held"] = chunks  # kept: a reader dropped by the garbage collector closes its stream
        assert b": connected" in await chunks.__anext__()
        return r

    return [await one(h) for h in headers_list]


def test_one_user_holds_at_most_the_configured_number_of_streams(settings, engine):
    app = dashboard(settings, engine, sse_max_streams_per_user=3, sse_max_streams_per_process=50)
    alice, bob = bearer(settings, "uji.sse.alice"), bearer(settings, "uji.sse.bob")

    async def scenario(base: str) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http, AsyncExitStack() as stack:
            held = await open_streams(stack, http, [alice] * 3)
            refused = await http.get("/v1/events/stream", headers=alice)
            assert refused.status_code == 429
            assert refused.json()["code"] == "too_many_streams"
            assert int(refused.headers["retry-after"]) > 0
            await open_streams(stack, http, [bob])  # another user is not held back by alice's streams

            await held[0].aclose()  # alice closes one: her slot comes back
            async with AsyncExitStack() as again:
                reopened = await wait_for_stream(again, http, alice)
                assert reopened.status_code == 200

    with serve(app) as base:
        asyncio.run(scenario(base))


async def wait_for_stream(stack: AsyncExitStack, http: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    """The server learns of a closed stream a moment after the client closes it: try until it is answered."""
    for _ in range(50):
        r = await stack.enter_async_context(
            http.stream("GET", "/v1/events/stream", params={"after": 2**62}, headers=headers)
        )
        if r.status_code == 200:
            return r
        await r.aread()
        await asyncio.sleep(0.1)
    raise AssertionError("the closed stream's slot never came back")


def test_a_process_serves_at_most_the_configured_number_of_streams(settings, engine):
    app = dashboard(settings, engine, sse_max_streams_per_user=10, sse_max_streams_per_process=4)
    users = [bearer(settings, f"uji.sse.proc{n}") for n in range(5)]

    async def scenario(base: str) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http, AsyncExitStack() as stack:
            await open_streams(stack, http, users[:4])
            refused = await http.get("/v1/events/stream", headers=users[4])
            assert refused.status_code == 503
            assert refused.json()["code"] == "stream_capacity_reached"
            assert int(refused.headers["retry-after"]) > 0
            assert (await http.get("/v1/events", headers=users[4])).status_code == 200  # pages are not streams

    with serve(app) as base:
        asyncio.run(scenario(base))


HELD = 200


def test_two_hundred_held_streams_through_the_gateway_do_not_starve_other_requests(settings, engine):
    app = dashboard(settings, engine, sse_max_streams_per_user=HELD + 10, sse_max_streams_per_process=HELD + 10)
    reader = bearer(settings, "uji.sse.gateway")

    async def scenario(gateway: str) -> None:
        limits = httpx.Limits(max_connections=HELD + 10)
        async with httpx.AsyncClient(base_url=gateway, timeout=30, limits=limits) as http, AsyncExitStack() as stack:
            streams = await asyncio.gather(*(open_streams(stack, http, [reader]) for _ in range(HELD)))
            assert len(streams) == HELD
            async with httpx.AsyncClient(base_url=gateway, timeout=20) as other:
                page = await other.get("/v1/events", params={"limit": 1}, headers=reader)
                assert page.status_code == 200  # answered while every stream is still open
                assert "events" in page.json()
            for [r] in streams:  # and the streams are still there
                assert not r.is_closed

    with serve(app) as dash, serve(create_gateway({"dashboard": dash}, GatewaySettings())) as gateway:
        asyncio.run(scenario(gateway))


def test_the_gateway_refuses_streams_beyond_its_stream_pool_with_retry_after(settings, engine):
    app = dashboard(settings, engine)
    reader = bearer(settings, "uji.sse.pool")
    gateway_settings = GatewaySettings(gateway_max_streams=2, gateway_stream_wait_seconds=0.5)

    async def scenario(gateway: str) -> None:
        async with httpx.AsyncClient(base_url=gateway, timeout=10) as http, AsyncExitStack() as stack:
            await open_streams(stack, http, [reader, reader])
            refused = await http.get("/v1/events/stream", headers=reader)
            assert refused.status_code == 503
            assert refused.json()["code"] == "too_many_streams"
            assert int(refused.headers["retry-after"]) > 0
            assert (await http.get("/v1/events", params={"limit": 1}, headers=reader)).status_code == 200

    with serve(app) as dash, serve(create_gateway({"dashboard": dash}, gateway_settings)) as gateway:
        asyncio.run(scenario(gateway))


@pytest.mark.parametrize("after", [str(2**63), "99999999999999999999999"])
def test_a_position_beyond_the_store_is_a_422(settings, engine, after):
    from fastapi.testclient import TestClient

    reader = bearer(settings, "uji.sse.after")
    with TestClient(dashboard(settings, engine)) as http:
        for path in ("/v1/events", "/v1/events/stream"):
            r = http.get(path, params={"after": after}, headers=reader)
            assert r.status_code == 422 and r.json()["code"] == "validation_error", (path, r.text)
        r = http.get("/v1/events/stream", headers={**reader, "Last-Event-ID": after})
        assert r.status_code == 422
