"""The gateway never answers 503 when nothing is at fault (#13 item 5).

A service closes a kept-alive connection after its keep-alive timeout; a gateway that keeps it as long sends,
now and then, a request down the connection as it closes, and got a 503 for it. Here the upstream is a real
uvicorn behind a real TCP hop that adds 150 ms each way (as a busy host or network does), which makes the
moment of the race a window of a few hundred milliseconds instead of a few: sending after an idle gap just
below the service's keep-alive timeout reproduces it every time.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from pengaduan.apps import gateway as create_gateway
from pengaduan.cli import API_KEEPALIVE_SECONDS
from shared.gateway import GatewaySettings
from tests.support.processes import wait_until

HOP_DELAY = 0.15  # seconds each way
OLD_EXPIRY = 5.0  # what the gateway's pool kept idle connections (httpx's default) and uvicorn's default keep-alive


def _upstream_app() -> FastAPI:
    app = FastAPI()
    app.state.posts = 0

    @app.get("/v1/track/{code}")
    async def track(code: str) -> dict:
        return {"code": code}

    @app.post("/v1/complaints")
    async def submit(request: Request) -> dict:
        await request.body()
        app.state.posts += 1
        return {"accepted": True}

    return app


@contextmanager
def serve(app: FastAPI, keep_alive: float):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_level="warning", lifespan="off", timeout_keep_alive=keep_alive, timeout_graceful_shutdown=2
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10, message="uvicorn")
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@contextmanager
def slow_hop(port: int, delay: float = HOP_DELAY):
    """A TCP relay to 127.0.0.1:port that passes every chunk, and the close of either side, after ``delay``."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict = {}

    async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                await asyncio.sleep(delay)
                dst.write(data)
                await dst.drain()
        except OSError:
            pass
        await asyncio.sleep(delay)
        dst.close()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(pump(client_r, server_w), pump(server_r, client_w))

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        holder["port"] = server.sockets[0].getsockname()[1]
        holder["stop"] = asyncio.Event()
        started.set()
        async with server:
            await holder["stop"].wait()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in others:
            t.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield f"http://127.0.0.1:{holder['port']}"
    finally:
        loop.call_soon_threadsafe(holder["stop"].set)
        thread.join(timeout=10)


def _gateway_to(url: str) -> TestClient:
    return TestClient(create_gateway({"intake": url, "workflow": url}, GatewaySettings()))


def test_idle_gaps_around_the_services_keep_alive_timeout_never_give_a_503():
    """The service keeps idle connections exactly as long as the gateway used to (5 s, uvicorn's default)."""
    statuses: list[tuple[float, int]] = []
    with serve(_upstream_app(), keep_alive=OLD_EXPIRY) as port, slow_hop(port) as url, _gateway_to(url) as gateway:
        # gaps in the window where a request met the closing connection (4.7-5.0 s), and either side of it
        for gap in (0.5, 4.75, 4.8, 4.85, 4.9, 4.95, 5.3):
            for _ in range(2):  # a short burst on the kept connection, then the gap
                statuses.append((gap, gateway.get("/v1/track/PGD-ABC").status_code))  # noqa: PERF401
            time.sleep(gap)
        statuses.append((0.0, gateway.post("/v1/complaints", json={"isi": "jalan rusak"}).status_code))
    assert [s for s in statuses if s[1] != 200] == []
    assert len(statuses) == 15
    # and as configured: the gateway lets go well before `pengaduan api` does
    assert GatewaySettings().gateway_keepalive_expiry + 5 <= API_KEEPALIVE_SECONDS


def test_a_request_on_a_connection_closing_under_it_is_sent_again_only_when_it_may_be(caplog):
    """A service that keeps connections for less than the gateway does (2 s against 4 s): the race is certain
    after a gap of 1.85 s. GETs and requests with an Idempotency-Key are sent once more and served; a POST
    without one may have reached the service, so it is not repeated: 503, logged without its body."""
    app = _upstream_app()
    caplog.set_level(logging.INFO, logger="shared.gateway")
    with serve(app, keep_alive=2.0) as port, slow_hop(port) as url, _gateway_to(url) as gateway:
        body = {"nama": "Siti Aminah", "isi": "jalan rusak"}

        def after_the_gap(method: str, path: str, **kwargs) -> int:
            assert gateway.get("/v1/track/PGD-WARM").status_code == 200  # a fresh kept connection
            time.sleep(1.85)
            return gateway.request(method, path, **kwargs).status_code

        assert after_the_gap("GET", "/v1/track/PGD-ABC") == 200
        assert after_the_gap("POST", "/v1/complaints", json=body, headers={"Idempotency-Key": "k-1"}) == 200
        posts_before = app.state.posts
        refused = after_the_gap("POST", "/v1/complaints", json=body)
        assert refused == 503
        assert app.state.posts == posts_before  # never sent twice, and here not at all

    failures = [r for r in caplog.records if r.name == "shared.gateway" and r.levelno == logging.WARNING]
    assert [(r.method, r.route, r.service, r.error, r.retried) for r in failures] == [
        ("POST", "/v1/complaints", "intake", "RemoteProtocolError", False)
    ]
    retries = [r for r in caplog.records if r.name == "shared.gateway" and r.levelno == logging.INFO]
    assert [(r.method, r.route) for r in retries] == [("GET", "/v1/track/"), ("POST", "/v1/complaints")]
    assert "Siti Aminah" not in caplog.text and "jalan rusak" not in caplog.text


def test_a_service_that_is_down_is_a_logged_503(caplog):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there
    with _gateway_to(f"http://127.0.0.1:{port}") as gateway:
        r = gateway.get("/v1/track/PGD-ABC")
    assert r.status_code == 503 and r.json()["code"] == "service_unavailable"
    failures = [r for r in caplog.records if r.name == "shared.gateway" and r.levelno == logging.WARNING]
    assert [(r.method, r.route, r.service, r.error) for r in failures] == [
        ("GET", "/v1/track/", "intake", "ConnectError")
    ]
