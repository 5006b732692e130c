"""Found by the fuzz run: a request header whose value is not ASCII (``Idempotency-Key: café``, sent as
Latin-1 bytes, as HTTP allows) made the gateway fail re-encoding it for the service behind: a 500 on every
route. Now it reaches the service, which judges the value like any other."""

from __future__ import annotations

import json
import socket

import httpx

from tests.support.complaints import valid_body


def test_a_header_that_is_not_ascii_reaches_the_service_and_is_judged_there(fuzz_stack):
    r = httpx.post(
        f"{fuzz_stack}/v1/complaints",
        json=valid_body(),
        timeout=30,
        headers={"Idempotency-Key": "café".encode("latin-1")},
    )
    assert r.status_code == 422, r.text  # not a printable-ASCII key (services/intake/entrypoints/deps.py)
    assert r.json()["code"] == "validation_error"
    r = httpx.get(f"{fuzz_stack}/v1/kecamatan", headers={"X-Catatan": "ruang tunggu ½".encode("latin-1")}, timeout=30)
    assert r.status_code == 200, r.text


def test_a_header_value_with_blanks_around_it_reaches_the_service_without_them(fuzz_stack):
    """Found by the fuzz run (seed 20261201, session 11): the blanks around a field value are not part of it (RFC 9110
    5.5), but the gateway sent them on and its HTTP library refused to, a 503 for a request the service would have
    judged. Sent on a raw socket, as a client may write it."""
    url = httpx.URL(fuzz_stack)
    body = json.dumps(valid_body(kecamatan="tidak-ada")).encode()
    for key in (b"kunci-uji-1\t", b"\t kunci-uji-2 "):
        request = (
            b"POST /v1/complaints HTTP/1.1\r\nHost: " + url.host.encode() + b"\r\nContent-Type: application/json\r\n"
            b"Idempotency-Key: " + key + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
            + body
        )  # fmt: skip
        with socket.create_connection((url.host, url.port), timeout=30) as conn:
            conn.sendall(request)
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        status = answer.split(b" ", 2)[1]
        assert status == b"422", answer[:400]  # judged by intake (an unknown kecamatan), not the gateway's 503
        assert b"unknown_kecamatan" in answer
