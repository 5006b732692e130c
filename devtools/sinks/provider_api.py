"""What the HTTP provider fakes (SMS, Zenziva, WhatsApp) share: the control each request passes first (fail,
hang or answer late on purpose), the request's fields and the bearer token check."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from devtools.sinks.store import HOLD_SECONDS, Control, Mode, Outbox


class ControlRequest(BaseModel):
    target: Literal["smtp", "sms", "zenziva", "whatsapp", "*"]
    mode: Mode = "ok"
    times: int | None = Field(
        None, ge=1, description="Requests that get this mode, then back to ok; null: until changed"
    )
    delay: float = Field(0.0, ge=0, le=600, description="Seconds between accepting a message and answering")


async def controlled(
    outbox: Outbox, target: str, failure: Callable[[str], Response]
) -> tuple[Control, Response | None]:
    """Count a request reaching ``target``; with a control set, the failure to answer instead (``failure``:
    the mode in the provider's own words), after hanging first for "timeout"."""
    control = outbox.attempt(target)
    if control.mode == "timeout":
        await outbox.pause(HOLD_SECONDS)
        return control, failure("timeout")
    if control.mode != "ok":
        return control, failure(control.mode)
    return control, None


async def form_or_json(request: Request) -> dict[str, Any]:
    """The request's fields: a JSON object, a urlencoded or multipart form, or the query string."""
    if request.method == "GET":
        return dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            data = await request.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    if content_type.startswith("multipart/form-data"):
        return dict((await request.form()).items())
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))


def bearer_ok(request: Request, token: str | None) -> bool:
    if not token:
        return True
    given = request.headers.get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
