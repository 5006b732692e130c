"""The local stand-in for SP4N-LAPOR!'s integration API, speaking the shapes of ``services/lapor/adapters/mapping.py``
(which are ASSUMED where LAPOR! publishes nothing: see that module). A real HTTP server (``http.server``, one
thread per connection) in a thread of the calling process, so tests go over real sockets, and it can fail the way
a remote API fails: HTTP 500 before doing anything, no answer within the client's timeout, or the request done
and the connection dropped before the answer (the case idempotency keys exist for).

Routes (bearer token required, else 401 ``{"status": "error", "message"}``):

* ``GET /api/v1/instansi/{id}/disposisi?since=&limit=`` -> ``{"status": "success", "data": [<report>...],
  "meta": {"next_cursor", "has_more"}}``: the reports disposed to ``id`` after the cursor (the cursor is the
  fake's own sequence number, as text), oldest first.
* ``GET /files/{name}``: an attachment's bytes.
* ``POST /api/v1/laporan/{tracking_id}/diterima`` ``{"referensi"}`` -> ``{"status": "success"}`` (idempotent).
* ``POST /api/v1/laporan/{tracking_id}/tindak-lanjut`` (``Idempotency-Key``) -> 201 ``{"status": "success",
  "data": {"id"}}``; the same key again answers the first follow-up's id and adds nothing (200). A report answered
  ``selesai`` still takes follow-ups (a reopening): LAPOR! keeps a report open to its reporter for ten working days
  after a follow-up (publicly described; that the API then takes more is ASSUMED).

For people trying it (no token): ``POST /dev/lapor/disposisi`` ``{"instansi_id", "title", "content", "category"?,
"reporter"?, "anonymous"?}`` disposes a report; ``GET /dev/lapor`` shows what it holds and was told.

``LaporServer.fail(kind, mode, times, skip)`` makes ``times`` requests of a kind (``dispositions``,
``attachment``, ``acknowledge``, ``follow_up`` or ``any``) fail after ``skip`` good ones: ``error500``, ``timeout``
(held ``hold`` seconds before anything is done, then 504) or ``drop`` (done, then the connection closed unanswered).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

DEV_TOKEN = "dev-lapor-token"  # development and tests only
Kind = Literal["dispositions", "attachment", "acknowledge", "follow_up", "any"]
Mode = Literal["error500", "timeout", "drop"]

_DISPOSITIONS = re.compile(r"^/api/v1/instansi/([^/]+)/disposisi$")
_ACK = re.compile(r"^/api/v1/laporan/([^/]+)/diterima$")
_FOLLOW_UP = re.compile(r"^/api/v1/laporan/([^/]+)/tindak-lanjut$")
_FILE = re.compile(r"^/files/([A-Za-z0-9._-]+)$")


@dataclass
class _Fault:
    kind: str
    mode: str
    times: int
    skip: int


@dataclass
class _Report:
    seq: int
    instansi_id: str
    body: dict[str, Any]


@dataclass
class FakeState:
    token: str
    hold: float = 3.0
    reports: list[_Report] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    acknowledged: dict[str, str] = field(default_factory=dict)  # tracking id -> our reference
    follow_ups: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # tracking id -> in arrival order
    keys: dict[str, str] = field(default_factory=dict)  # idempotency key -> follow-up id
    calls: dict[str, int] = field(default_factory=dict)  # tracking id -> follow-up calls that reached the work
    requests: dict[str, int] = field(default_factory=dict)
    faults: list[_Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    seq: count = field(default_factory=lambda: count(1))
    ids: count = field(default_factory=lambda: count(5_100_001))

    def fault_for(self, kind: str) -> str | None:
        with self.lock:
            self.requests[kind] = self.requests.get(kind, 0) + 1
            for fault in self.faults:
                if fault.kind not in (kind, "any") or fault.times <= 0:
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    return None
                fault.times -= 1
                return fault.mode
            return None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake LAPOR!: %s", format % args)

    # -- plumbing

    def _answer(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._answer(status, {"status": "error", "message": message})

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {self.server.state.token}":
            return True
        self._error(401, "token tidak sah")
        return False

    def _run(self, kind: str, work) -> None:
        state = self.server.state
        fault = state.fault_for(kind)
        if fault == "error500":
            self._error(500, "kesalahan server (tiruan)")
            return
        if fault == "timeout":
            time.sleep(state.hold)
            self._error(504, "waktu habis (tiruan)")
            return
        status, body, content_type = work()
        if fault == "drop":  # done, and the answer never sent
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self._answer(status, body, content_type)

    # -- routes

    def do_GET(self) -> None:
        if urlsplit(self.path).path == "/dev/lapor":
            self._answer(200, self.server.owner.snapshot())
            return
        if not self._authorised():
            return
        url = urlsplit(self.path)
        if m := _DISPOSITIONS.match(url.path):
            query = parse_qs(url.query)
            self._run("dispositions", lambda: self._dispositions(m.group(1), query))
        elif m := _FILE.match(url.path):
            self._run("attachment", lambda: self._file(m.group(1)))
        else:
            self._error(404, "tidak ditemukan")

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path == "/dev/lapor/disposisi":
            self._dev_dispose(self._body())
            return
        if not self._authorised():
            return
        body = self._body()
        if m := _ACK.match(path):
            self._run("acknowledge", lambda: self._acknowledge(m.group(1), body))
        elif m := _FOLLOW_UP.match(path):
            key = self.headers.get("Idempotency-Key")
            self._run("follow_up", lambda: self._follow_up(m.group(1), body, key))
        else:
            self._error(404, "tidak ditemukan")

    def _dev_dispose(self, body: Any) -> None:
        """For people trying the bridge: ``{"instansi_id", "title", "content", "category"?, "reporter"?: {"nama",
        "telepon"?, "email"?}, "anonymous"?}`` becomes a report disposed to that instansi."""
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("instansi_id", "title", "content")
        ):
            self._error(422, "instansi_id, title dan content wajib diisi")
            return
        reporter = body.get("reporter") if isinstance(body.get("reporter"), dict) else None
        tracking_id = self.server.owner.dispose(
            body["instansi_id"],
            title=body["title"],
            content=body["content"],
            category=body.get("category") if isinstance(body.get("category"), str) else "Lainnya",
            reporter=reporter,
            anonymous=bool(body.get("anonymous")),
        )
        self._answer(201, {"tracking_id": tracking_id})

    def _dispositions(self, instansi_id: str, query: dict[str, list[str]]):
        state = self.server.state
        since = int((query.get("since") or ["0"])[0] or 0)
        limit = max(1, min(100, int((query.get("limit") or ["50"])[0])))
        with state.lock:
            found = [r for r in state.reports if r.instansi_id == instansi_id and r.seq > since]
        page = found[:limit]
        meta = {"next_cursor": str(page[-1].seq) if page else None, "has_more": len(found) > limit}
        return 200, {"status": "success", "data": [r.body for r in page], "meta": meta}, "application/json"

    def _file(self, name: str):
        with self.server.state.lock:
            data = self.server.state.files.get(name)
        if data is None:
            return 404, {"status": "error", "message": "berkas tidak ditemukan"}, "application/json"
        return 200, data, "application/octet-stream"

    def _known(self, tracking_id: str) -> bool:
        return any(r.body["tracking_id"] == tracking_id for r in self.server.state.reports)

    def _acknowledge(self, tracking_id: str, body: Any):
        state = self.server.state
        with state.lock:
            if not self._known(tracking_id):
                return 404, {"status": "error", "message": "laporan tidak ditemukan"}, "application/json"
            reference = body.get("referensi") if isinstance(body, dict) else None
            state.acknowledged.setdefault(tracking_id, str(reference))
        return 200, {"status": "success"}, "application/json"

    def _follow_up(self, tracking_id: str, body: Any, key: str | None):
        state = self.server.state
        if not isinstance(body, dict) or body.get("status") not in ("proses", "selesai") or not body.get("isi"):
            return 422, {"status": "error", "message": "status dan isi wajib diisi"}, "application/json"
        with state.lock:
            state.calls[tracking_id] = state.calls.get(tracking_id, 0) + 1
            if not self._known(tracking_id):
                return 404, {"status": "error", "message": "laporan tidak ditemukan"}, "application/json"
            if key and key in state.keys:
                return 200, {"status": "success", "data": {"id": state.keys[key]}}, "application/json"
            thread = state.follow_ups.setdefault(tracking_id, [])
            follow_up_id = f"TL-{next(state.ids)}"
            thread.append({"id": follow_up_id, "key": key, **body})
            if key:
                state.keys[key] = follow_up_id
        return 201, {"status": "success", "data": {"id": follow_up_id}}, "application/json"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: FakeState
    owner: LaporServer


class LaporServer:
    """The fake LAPOR! in a thread: ``with LaporServer() as lapor: lapor.url ...``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, token: str = DEV_TOKEN, hold: float = 3.0) -> None:
        self.state = FakeState(token=token, hold=hold)
        self._httpd = _Server((host, port), _Handler)
        self._httpd.state = self.state
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LaporServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="devlapor-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> LaporServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests and developers do with it

    def dispose(
        self,
        instansi_id: str,
        *,
        title: str,
        content: str,
        category: str | None = "Lainnya",
        reporter: dict[str, str] | None = None,
        anonymous: bool = False,
        confidential: bool = False,
        files: dict[str, bytes] | None = None,
        tracking_id: str | None = None,
        disposed_at: datetime | None = None,
    ) -> str:
        """A report LAPOR! disposes to ``instansi_id``; its tracking id."""
        now = (disposed_at or datetime.now(UTC)).isoformat()
        with self.state.lock:
            seq = next(self.state.seq)
            tracking_id = tracking_id or str(1_916_000 + seq)
            attachments = []
            for name, data in (files or {}).items():
                stored = f"{tracking_id}-{name}"
                self.state.files[stored] = data
                attachments.append({"nama": name, "url": f"{self.url}/files/{stored}"})
            body = {
                "tracking_id": tracking_id,
                "judul": title,
                "isi": content,
                "kategori": {"id": 99, "nama": category} if category else None,
                "instansi": {"id": instansi_id, "nama": f"Instansi {instansi_id}"},
                "pelapor": None if anonymous else (reporter or {"nama": "Pelapor LAPOR!"}),
                "anonim": anonymous,
                "rahasia": confidential,
                "tanggal_laporan": now,
                "tanggal_disposisi": now,
                "lampiran": attachments,
            }
            self.state.reports.append(_Report(seq, instansi_id, body))
        return tracking_id

    def fail(self, kind: Kind, mode: Mode, times: int = 1, *, skip: int = 0) -> None:
        with self.state.lock:
            self.state.faults.append(_Fault(kind, mode, times, skip))

    def follow_ups(self, tracking_id: str) -> list[dict[str, Any]]:
        with self.state.lock:
            return [dict(f) for f in self.state.follow_ups.get(tracking_id, [])]

    def acknowledged(self) -> dict[str, str]:
        with self.state.lock:
            return dict(self.state.acknowledged)

    def snapshot(self) -> dict[str, Any]:
        """As ``GET /dev/lapor``: the reports, the acknowledgements and each report's follow-ups."""
        with self.state.lock:
            return {
                "reports": [r.body for r in self.state.reports],
                "acknowledged": dict(self.state.acknowledged),
                "follow_ups": {k: [dict(f) for f in v] for k, v in self.state.follow_ups.items()},
                "requests": dict(self.state.requests),
            }

    def requests(self, kind: str) -> int:
        with self.state.lock:
            return self.state.requests.get(kind, 0)


__all__ = ["DEV_TOKEN", "LaporServer"]
