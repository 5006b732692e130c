"""Found by the fuzz run: a request header whose value is not ASCII (``Idempotency-Key: café``, sent as
Latin-1 bytes, as HTTP allows) made the gateway fail re-encoding it for the service behind: a 500 on every
route. Now it reaches the service, which judges the value like any other."""

from __future__ import annotations

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
