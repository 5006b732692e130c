"""The event feed: every event of the store in commit order, personal data removed, for the kecamatan a
reader may see. Pages (``GET /v1/events``) and Server-Sent Events (``GET /v1/events/stream``).

What the including app must provide on ``app.state``:

- ``settings``: the project's settings (``shared.auth.install_auth`` sets it; the bearer token's secret
  is read there). Optional attributes read with defaults: ``feed_heartbeat_seconds`` (15.0),
  ``feed_poll_interval`` (1.0, how often a stream polls while its LISTEN connection is down),
  ``sse_max_streams_per_user`` (10) and ``sse_max_streams_per_process`` (500);
- ``engine``: a SQLAlchemy engine on the project's PostgreSQL.

and ``shared.http.install_error_handlers`` + ``shared.auth.install_auth`` installed (the 401/403/422 bodies).
The router sets ``app.state.feed_signal`` itself on the first stream (one LISTEN connection per process).

Who sees what (invariant 6): kecamatan staff their own kecamatan, kabupaten users every kecamatan of their
kabupaten, admins all. ``kecamatan=`` narrows the feed to one kecamatan; outside the reader's scope it is
403 ``kecamatan_forbidden`` (kecamatan slugs are public, so a 403 tells nothing a 404 would hide, and it
tells a client its token is the wrong one); an unknown slug is also 403 for everyone but an admin, who
gets 404 ``kecamatan_not_found``. No token: 401.

Open streams are counted per process: one user holds at most ``sse_max_streams_per_user`` of them (the next
is 429 ``too_many_streams``) and the process at most ``sse_max_streams_per_process`` (the next is 503
``stream_capacity_reached``), both with ``Retry-After``. Each stream costs a query per new event, so an
unbounded number of them would let one token (or a few) slow the feed, and the database, for everyone.

Streams learn of new events from the store's NOTIFY (``pengaduan_events``), through one LISTEN connection
per process whatever the number of streams, rather than polling: events arrive within milliseconds and an
idle stream costs the database nothing. While that connection is down, streams poll every
``feed_poll_interval`` seconds; a stream also ends when its token expires (event ``session_ended``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from services.dashboard.adapters.event_feed import (
    FeedPage,
    NewEventSignal,
    kecamatan_exists,
    kecamatan_of_kabupaten,
    read_page,
)
from services.dashboard.domain.redaction import public_event
from shared.auth import AuthError, CurrentUser, Principal, decode_token_info
from shared.http import ApiError, ErrorBody, FieldError

router = APIRouter(tags=["feed"])

MAX_LIMIT = 1000
MAX_POSITION = 2**63 - 1  # the store's positions are bigint
STREAM_BATCH = 500
RETRY_MS = 2000  # how long an EventSource waits before reconnecting
ERRORS = {code: {"model": ErrorBody} for code in (401, 403, 404, 422)}
STREAM_ERRORS = {
    **ERRORS,
    429: {"model": ErrorBody, "description": "This user already holds as many streams as allowed"},
    503: {"model": ErrorBody, "description": "This process already serves as many streams as allowed"},
}
USER_RETRY_AFTER = 30  # seconds: until one of the user's own streams is likely to have closed
PROCESS_RETRY_AFTER = 5  # seconds: another replica (or this one, a little later) may take the stream
KecamatanQuery = Annotated[
    str | None, Query(min_length=2, max_length=40, pattern=r"^[a-z0-9-]+$", description="Only this kecamatan (slug)")
]


class FeedActor(BaseModel):
    kind: str | None
    role: str | None = None
    user_id: str | None = None  # only for system processes (intake, scheduler, letters, notify)


class FeedEvent(BaseModel):
    position: int
    event_id: UUID
    type: str
    stream: str
    complaint_id: UUID | None
    version: int
    kecamatan: str
    occurred_at: datetime
    recorded_at: datetime | None
    schema_version: int
    actor: FeedActor
    step: int | None = None
    output: str | None = None
    payload: dict[str, Any]


class FeedPageOut(BaseModel):
    events: list[FeedEvent]
    next_after: int
    has_more: bool


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def reader_scope(engine: Engine, user: Principal, kecamatan: str | None) -> set[str] | None:
    """The kecamatan whose events ``user`` reads (None: all), narrowed to ``kecamatan`` when given."""
    if user.is_admin:
        if kecamatan is None:
            return None
        if not kecamatan_exists(engine, kecamatan):
            raise ApiError(404, "kecamatan_not_found", "Kecamatan tidak dikenal.")
        return {kecamatan}
    if user.is_staff and user.kecamatan:
        allowed = {user.kecamatan}
    elif user.is_kabupaten and user.kabupaten:
        allowed = kecamatan_of_kabupaten(engine, user.kabupaten)
    else:
        allowed = set()
    if kecamatan is None:
        return allowed
    if kecamatan not in allowed:
        raise ApiError(403, "kecamatan_forbidden", "Anda tidak berhak membaca kejadian kecamatan ini.")
    return {kecamatan}


def _page_out(page: FeedPage) -> FeedPageOut:
    return FeedPageOut(
        events=[FeedEvent.model_validate(public_event(e)) for e in page.events],
        next_after=page.next_after,
        has_more=page.has_more,
    )


@router.get(
    "/v1/events",
    response_model=FeedPageOut,
    responses=ERRORS,
    summary="Events in commit order, personal data removed (page by page)",
    description="Read with `after=0`, then `after=next_after` until `has_more` is false; later, poll with the "
    "last `next_after`. `next_after` is the last position scanned (not only returned), so a filtered reader "
    "never misses or repeats an event.",
)
def events_page(
    request: Request,
    user: CurrentUser,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION, description="Position of the last event read")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    kecamatan: KecamatanQuery = None,
) -> FeedPageOut:
    engine = _engine(request)
    scope = reader_scope(engine, user, kecamatan)
    return _page_out(read_page(engine, after, limit, scope))


@router.get(
    "/v1/events/stream",
    response_class=StreamingResponse,
    responses={**STREAM_ERRORS, 200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
    summary="Events as Server-Sent Events (id = position; resumes from Last-Event-ID)",
    description="Each event: `id:` its position, `event:` its type, `data:` the same JSON as in `GET /v1/events`. "
    "A comment every 15 s keeps the connection open. A reconnecting client sends `Last-Event-ID` and resumes "
    "after it (it wins over `after`). When the token expires the stream sends `event: session_ended` and ends. "
    "A user holds a limited number of open streams (429 `too_many_streams` beyond it) and so does each process "
    "(503 `stream_capacity_reached`); both answers carry `Retry-After`.",
)
async def events_stream(
    request: Request,
    user: CurrentUser,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0,
    kecamatan: KecamatanQuery = None,
    last_event_id: Annotated[str | None, Header(max_length=40)] = None,
) -> StreamingResponse:
    engine = _engine(request)
    if last_event_id is not None and last_event_id.strip():
        value = last_event_id.strip()
        if not value.isascii() or not value.isdigit() or int(value) > MAX_POSITION:
            raise ApiError(
                422,
                "validation_error",
                "Ada isian yang belum benar. Periksa kembali.",
                [FieldError(field="Last-Event-ID", code="int_parsing", message="Harus berupa bilangan bulat.")],
            )
        after = int(value)
    scope = await run_in_threadpool(reader_scope, engine, user, kecamatan)
    state = request.app.state
    signal = getattr(state, "feed_signal", None)
    if signal is None:  # no await since the check: one per app
        signal = state.feed_signal = NewEventSignal(engine)
    settings = state.settings
    slots = getattr(state, "feed_slots", None)
    if slots is None:  # no await since the check: one per app
        slots = state.feed_slots = StreamSlots(
            per_user=int(getattr(settings, "sse_max_streams_per_user", 10)),
            per_process=int(getattr(settings, "sse_max_streams_per_process", 500)),
        )
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    body = _stream(
        engine,
        signal,
        scope,
        after,
        token,
        settings.secret_key,
        heartbeat=float(getattr(settings, "feed_heartbeat_seconds", 15.0)),
        poll=float(getattr(settings, "feed_poll_interval", 1.0)),
        guard=getattr(state, "token_guard", None),
    )
    slots.take(user.username)  # last: nothing between here and the response can fail and keep the slot
    return _CountedStream(
        body,
        release=lambda: slots.give_back(user.username),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},  # nginx: do not buffer
    )


class StreamSlots:
    """The open streams of this process, in all and per user. Taken and given back on the event loop's
    thread only, so no lock."""

    def __init__(self, per_user: int, per_process: int) -> None:
        self.per_user = per_user
        self.per_process = per_process
        self.open = 0
        self.by_user: dict[str, int] = {}

    def take(self, username: str) -> None:
        if self.by_user.get(username, 0) >= self.per_user:
            raise ApiError(
                429,
                "too_many_streams",
                f"Akun ini sudah membuka {self.per_user} aliran kejadian sekaligus. Tutup salah satunya lalu coba lagi.",
                headers={"Retry-After": str(USER_RETRY_AFTER)},
            )
        if self.open >= self.per_process:
            raise ApiError(
                503,
                "stream_capacity_reached",
                "Layanan sedang melayani aliran kejadian sebanyak kapasitasnya. Coba lagi sebentar.",
                headers={"Retry-After": str(PROCESS_RETRY_AFTER)},
            )
        self.open += 1
        self.by_user[username] = self.by_user.get(username, 0) + 1

    def give_back(self, username: str) -> None:
        self.open -= 1
        left = self.by_user.get(username, 0) - 1
        if left > 0:
            self.by_user[username] = left
        else:
            self.by_user.pop(username, None)


class _CountedStream(StreamingResponse):
    """A streaming response that gives its slot back however it ends: finished, client gone, cancelled, or
    never started (a generator's ``finally`` would not run if the client left before the first chunk)."""

    def __init__(self, *args: Any, release: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


def sse_frame(event: FeedEvent) -> str:
    return f"id: {event.position}\nevent: {event.type}\ndata: {event.model_dump_json()}\n\n"


def _next_frames(engine: Engine, cursor: int, scope: set[str] | None) -> tuple[str, int, bool]:
    """The frames of the next batch after ``cursor``, the new cursor, and whether more are waiting."""
    page = read_page(engine, cursor, STREAM_BATCH, scope)
    return "".join(sse_frame(e) for e in _page_out(page).events), page.next_after, page.has_more


async def _stream(
    engine: Engine,
    signal: NewEventSignal,
    scope: set[str] | None,
    cursor: int,
    token: str,
    secret: str,
    *,
    heartbeat: float,
    poll: float,
    guard=None,
) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    signal.add(wake)
    try:
        yield f"retry: {RETRY_MS}\n: connected\n\n"
        last_sent = loop.time()
        while True:
            wake.clear()  # before reading: a commit during the read wakes the next wait at once
            while True:
                frames, cursor, more = await run_in_threadpool(_next_frames, engine, cursor, scope)
                if frames:
                    yield frames
                    last_sent = loop.time()
                if not more:
                    break
            try:
                # the token as every request checks it: expired, signed out, the user deactivated or moved
                principal, info = decode_token_info(token, secret, datetime.now(UTC))
                if guard is not None:
                    await run_in_threadpool(guard.check, principal, info)
            except (AuthError, ApiError) as exc:
                body = ErrorBody(code=exc.code, message=exc.message).model_dump_json()
                yield f"event: session_ended\ndata: {body}\n\n"
                return
            until_beat = max(0.0, last_sent + heartbeat - loop.time())
            try:  # noqa: SIM105
                await asyncio.wait_for(wake.wait(), until_beat if signal.healthy else min(poll, until_beat))
            except TimeoutError:
                pass
            if loop.time() - last_sent >= heartbeat:
                yield ": heartbeat\n\n"
                last_sent = loop.time()
    finally:
        signal.discard(wake)
