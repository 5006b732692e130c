"""The local timestamp authority: an HTTP server speaking RFC 3161 (``POST /tsa``: ``application/timestamp-query``
in, ``application/timestamp-reply`` out), its tokens made by pyHanko's ``DummyTimeStamper`` with the key and
certificate the development CA issued it (``DevelopmentCA.tsa_identity``). The letters service asks it over HTTP
with pyHanko's ``HTTPTimeStamper``, as it would ask a real TSA.

Besides: ``GET /tsa.crt`` (its certificate, PEM), ``GET /ca.crl`` (the development CA's current CRL, DER), and
for tests and people ``GET /dev/tsa`` (how many tokens it issued, how many requests it turned away) and ``POST
/dev/tsa/control`` (``{"mode": "error503" | "timeout" | "reject" | "ok", "times": n}``: answer the next n
requests, or all until changed, with a server error, no answer for a minute, or an RFC 3161 rejection).

:class:`TsaServer` runs it in a thread of the calling process (tests); ``devtools.tsa.main`` until SIGTERM
(``pengaduan devtsa``). Not for production: anyone who reaches it gets any time they ask for signed."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import uvicorn
from asn1crypto import keys, tsp
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from services.letters.adapters.development_ca import DevelopmentCA
from services.letters.adapters.signing import load_asn1_certs, load_key

log = logging.getLogger(__name__)

QUERY, REPLY = "application/timestamp-query", "application/timestamp-reply"
HOLD_SECONDS = 60.0  # "timeout": longer than any client waits
Mode = Literal["ok", "error503", "timeout", "reject"]


class ControlRequest(BaseModel):
    mode: Mode = "ok"
    times: int | None = Field(
        None, ge=1, description="Requests that get this mode, then back to ok; null: until changed"
    )


@dataclass
class _State:
    """What the server counts and how it is told to behave, shared by the request handlers."""

    issued: int = 0
    refused: int = 0
    mode: str = "ok"
    times: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_mode(self) -> str:
        with self.lock:
            mode = self.mode
            if mode != "ok" and self.times is not None:
                self.times -= 1
                if self.times <= 0:
                    self.mode, self.times = "ok", None
            if mode != "ok":
                self.refused += 1
            return mode


def _stamper(folder: Path) -> tuple[DummyTimeStamper, bytes]:
    """pyHanko's DummyTimeStamper with the development CA's TSA key and certificate (the CA's certificate sent
    along, so that a client can build the chain); and that certificate, PEM."""
    ca = DevelopmentCA(folder)
    identity = ca.tsa_identity()
    [tsa_cert] = load_asn1_certs([identity.cert_pem])
    chain = load_asn1_certs(list(identity.chain_pem))
    key = keys.PrivateKeyInfo.load(_der_key(identity.key_pem))
    stamper = DummyTimeStamper(
        tsa_cert=tsa_cert, tsa_key=key, certs_to_embed=SimpleCertificateStore.from_certs(chain), override_md=None
    )
    return stamper, identity.cert_pem


def _der_key(pem: bytes) -> bytes:
    key = load_key(pem, None, "tsa.key")
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _rejection(fail: str) -> bytes:
    """A TimeStampResp with status "rejection" and no token. asn1crypto's model does not let the token out (RFC
    3161 makes it optional), so the SEQUENCE is written around the status by hand."""
    status = tsp.PKIStatusInfo({"status": "rejection", "fail_info": tsp.PKIFailureInfo({fail})}).dump()
    length = len(status)
    encoded = (
        bytes([length])
        if length < 0x80
        else bytes([0x81, length])
        if length < 0x100
        else bytes([0x82]) + length.to_bytes(2, "big")
    )
    return b"\x30" + encoded + status


def build_app(folder: Path, state: _State) -> FastAPI:
    app = FastAPI(title="pengaduan devtsa", docs_url=None, redoc_url=None, openapi_url=None)
    stamper, cert_pem = _stamper(folder)

    @app.post("/tsa")
    async def timestamp(request: Request) -> Response:
        mode = state.next_mode()
        if mode == "timeout":
            await asyncio.sleep(HOLD_SECONDS)
            return Response(status_code=504)
        if mode == "error503":
            return Response(status_code=503, content=b"unavailable")
        if mode == "reject":
            return Response(_rejection("system_failure"), media_type=REPLY)
        if request.headers.get("content-type", "").split(";")[0].strip() != QUERY:
            return Response(status_code=415, content=b"send application/timestamp-query")
        try:
            query = tsp.TimeStampReq.load(await request.body())
            query.native  # parse now: a garbled query is refused here  # noqa: B018
        except (ValueError, TypeError):
            return Response(_rejection("bad_data_format"), media_type=REPLY)
        reply = await stamper.async_request_tsa_response(query)
        with state.lock:
            state.issued += 1
        return Response(reply.dump(), media_type=REPLY)

    @app.get("/tsa.crt")
    def certificate() -> Response:
        return Response(cert_pem, media_type="application/x-pem-file")

    @app.get("/ca.crl")
    def crl() -> Response:
        return Response(DevelopmentCA(folder).crl(), media_type="application/pkix-crl")

    @app.get("/dev/tsa")
    def stats() -> JSONResponse:
        with state.lock:
            return JSONResponse({"issued": state.issued, "refused": state.refused, "mode": state.mode})

    @app.post("/dev/tsa/control")
    def control(body: ControlRequest) -> JSONResponse:
        with state.lock:
            state.mode, state.times = body.mode, body.times if body.mode != "ok" else None
        return JSONResponse({"mode": body.mode, "times": body.times})

    return app


class TsaServer:
    """The local TSA in a thread of this process: ``with TsaServer(signing_dir) as tsa: tsa.url ...``."""

    def __init__(self, signing_dir: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.signing_dir = Path(signing_dir)
        self.host, self._port = host, port
        self.state = _State()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> TsaServer:
        sock = socket.create_server((self.host, self._port))
        self._port = sock.getsockname()[1]
        try:
            config = uvicorn.Config(
                build_app(self.signing_dir, self.state),
                log_config=None,
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=2,
            )
            self._server = uvicorn.Server(config)
            self._thread = threading.Thread(
                target=self._server.run, kwargs={"sockets": [sock]}, name="devtsa-http", daemon=True
            )
            self._thread.start()
            deadline = time.monotonic() + 10
            while not self._server.started:
                if not self._thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("the local TSA did not start")
                time.sleep(0.01)
        except BaseException:
            self.stop()
            sock.close()
            raise
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._server = None

    def __enter__(self) -> TsaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self._port}"

    @property
    def url(self) -> str:
        """Where to send timestamp queries: ``PENGADUAN_TSA_URL``."""
        return f"{self.base_url}/tsa"

    @property
    def issued(self) -> int:
        with self.state.lock:
            return self.state.issued

    @property
    def refused(self) -> int:
        with self.state.lock:
            return self.state.refused

    def control(self, mode: Mode, times: int | None = None) -> None:
        """Answer the next ``times`` requests (None: all, until changed) with ``mode``."""
        ControlRequest(mode=mode, times=times)  # validates
        with self.state.lock:
            self.state.mode, self.state.times = mode, times if mode != "ok" else None


__all__ = ["TsaServer", "build_app"]
