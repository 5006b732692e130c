"""The gateway as a proxy shared by every visitor: nothing of one visitor's reaches another's request."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fastapi.testclient import TestClient

from pengaduan.apps import gateway as create_gateway
from pengaduan.registry import route_for
from shared.gateway import merge_openapi


class _Backend(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"cookie": self.headers.get("Cookie")}).encode()
        self.send_response(200)
        if self.path == "/masuk":
            self.send_header("Set-Cookie", "pengaduan_sesi=rahasia-si-staf; Path=/; HttpOnly")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_a_session_cookie_set_for_one_visitor_is_never_sent_for_another():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        gateway = create_gateway({"web": f"http://127.0.0.1:{server.server_address[1]}"})
        with TestClient(gateway) as browser:
            signed_in = browser.get("/masuk")
            assert "rahasia-si-staf" in signed_in.headers["set-cookie"]  # passed on to the one who signed in
            assert browser.get("/beranda").json() == {
                "cookie": "pengaduan_sesi=rahasia-si-staf"
            }  # their browser sends it
            browser.cookies.clear()  # now another browser, with no cookie of its own, through the same gateway
            assert browser.get("/beranda").json() == {"cookie": None}
    finally:
        server.shutdown()


def test_open311_posts_go_to_intake_and_its_reads_to_the_dashboard():
    """A posted Open311 service request is a complaint (intake's); every read of Open311 is the read side's."""
    for path in ("/open311/v2/requests", "/open311/v2/requests.json", "/open311/v2/requests.xml"):
        assert route_for("POST", path) == "intake", path
        assert route_for("GET", path) == "dashboard", path
    for path in (
        "/open311/v2/services.json",
        "/open311/v2/services.xml",
        "/open311/v2/services/infrastruktur.xml",
        "/open311/v2/requests/7KQ2-M9XD-4T.json",
        "/open311/v2/requests/7KQ2-M9XD-4T.xml",
        "/open311/v2/tokens/7KQ2-M9XD-4T.xml",
        "/open311/discovery.json",  # the spec's service discovery, beside the versioned endpoint
        "/open311/discovery.xml",
    ):
        assert route_for("GET", path) == "dashboard", path
        assert route_for("POST", path) == "dashboard", path  # the dashboard's 405 with its Allow, as before


def test_the_merged_api_documents_every_service_answering_one_path():
    """Open311's /requests is two services' (POST intake, GET dashboard): the merged spec keeps both."""
    answer = lambda summary: {"summary": summary, "responses": {"200": {"description": "OK"}}}  # noqa: E731
    merged = merge_openapi(
        {
            "intake": {"paths": {"/open311/v2/requests": {"post": answer("submit")}}},
            "dashboard": {"paths": {"/open311/v2/requests": {"get": answer("search")}}},
        }
    )
    item = merged["paths"]["/open311/v2/requests"]
    assert {method: op["summary"] for method, op in item.items()} == {"post": "submit", "get": "search"}


class _Recording(_Backend):
    seen: list[str] = []

    def do_POST(self) -> None:
        _Recording.seen.append(self.path)
        self.do_GET()


def test_a_path_with_dot_segments_is_refused_not_passed_on_normalised():
    """Routed on the path as written, a request would be sent on as httpx normalises it:
    /v1/letters/../../internal/letters/esign would reach letters' internal route, which no prefix names. The
    gateway refuses such paths (plain or percent-encoded) before routing; nginx normalises before matching."""
    import socket

    import uvicorn

    from tests.support.servers_http import serve_in_thread

    backend = ThreadingHTTPServer(("127.0.0.1", 0), _Recording)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    try:
        gateway = create_gateway({"letters": f"http://127.0.0.1:{backend.server_address[1]}"})
        config = uvicorn.Config(gateway, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        with serve_in_thread(config) as url:
            host, port = url.removeprefix("http://").split(":")
            for path in (
                "/v1/letters/../../internal/letters/esign",
                "/v1/letters/%2e%2e/%2E%2E/internal/letters/esign",
                "/v1/letters/..%2f..%2finternal/letters/esign",
                "/v1/letters/./verify",
            ):
                with socket.create_connection((host, int(port)), timeout=5) as s:
                    s.sendall(
                        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
                    )
                    answer = b""
                    while chunk := s.recv(4096):
                        answer += chunk
                assert answer.startswith(b"HTTP/1.1 404"), (path, answer[:200])
            assert _Recording.seen == []
    finally:
        backend.shutdown()
