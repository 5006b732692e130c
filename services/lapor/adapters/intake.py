"""Intake's LAPOR! route (``POST /v1/channels/lapor``) as the bridge calls it: the report as a form, the files,
the shared secret and the idempotency key ``lapor:<tracking id>``. One call, classified; never retried here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx

RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})


class IntakeUnavailable(Exception):
    """Intake did not answer, or answered that it could not now: hand it over again later (the key makes it once)."""


class IntakeRefused(Exception):
    """Intake refused the report for good (its stable ``code``): a person must look at it."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Handed:
    complaint_id: UUID
    tracking_code: str
    replayed: bool


class IntakeClient:
    PATH = "/v1/channels/lapor"

    def __init__(self, base_url: str, token: str, *, timeout: float = 15.0, transport: Any = None) -> None:
        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport)
        self._token = token

    def close(self) -> None:
        self._client.close()

    def hand_over(self, complaint: dict[str, Any], files: Sequence[tuple[str, bytes]], key: str) -> Handed:
        try:
            response = self._client.post(
                self.PATH,
                data={"complaint": json.dumps(complaint)},
                files=[("file", (name, data, "application/octet-stream")) for name, data in files] or None,
                headers={"X-Webhook-Token": self._token, "Idempotency-Key": key},
            )
        except httpx.HTTPError as exc:
            raise IntakeUnavailable(type(exc).__name__) from None
        if response.status_code in RETRYABLE:
            raise IntakeUnavailable(f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 202:
            code = body.get("code", "") if isinstance(body, dict) else ""
            message = body.get("message", "") if isinstance(body, dict) else ""
            raise IntakeRefused(response.status_code, str(code), str(message)[:300])
        return Handed(
            UUID(body["complaint_id"]),
            body["tracking_code"],
            response.headers.get("Idempotent-Replayed") == "true",
        )
