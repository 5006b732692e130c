"""The event feed over HTTP: every event exactly once across pages while appends go on, per-kecamatan paging,
who may read which kecamatan, no personal data, and the Server-Sent Events stream (prompt delivery,
heartbeat, resume from Last-Event-ID, the end of a session)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.dashboard.adapters import event_feed
from services.dashboard.entrypoints import feed
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap
from shared.auth import Principal, install_auth
from shared.config import Settings
from shared.contracts.intake import Complainant
from shared.eventstore.postgres import PostgresEventStore
from shared.http import install_error_handlers
from tests.support import complaints
from tests.support.auth import bearer_header
from tests.support.processes import wait_until

NAME, NIK, PHONE, EMAIL, ADDRESS = (
    "Siti Aminah",
    "3528071505900001",
    "+6281234567890",
    "siti@example.id",
    "Dusun Bunangka",
)


class FeedSettings(Settings):
    """The settings the dashboard will have; short times so that a test sees heartbeats."""

    feed_heartbeat_seconds: float = 0.5
    feed_poll_interval: float = 0.5


def make_app(settings: Settings, engine) -> FastAPI:
    """What the dashboard's create_app gives the router: error handlers, auth, settings and engine."""
    app = FastAPI()
    install_error_handlers(app)
    install_auth(app, settings, engine)
    app.state.engine = engine
    app.include_router(feed.router)
    return app


@pytest.fixture(scope="module")
def feed_settings(settings) -> FeedSettings:
    return FeedSettings(**settings.model_dump())


@pytest.fixture(scope="module")
def wf(settings, engine):
    container = bootstrap(settings)
    yield container
    container.engine.dispose()


@pytest.fixture(scope="module")
def app(feed_settings, engine):
    return make_app(feed_settings, engine)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


def bearer(
    settings, role: str, kecamatan: str | None = None, kabupaten: str | None = None, ttl: timedelta = timedelta(hours=1)
) -> dict[str, str]:
    unit = "pemerintahan" if role == "kasi" else None
    if role in ("staf", "kasi", "sekcam", "camat") and kabupaten is None:
        kabupaten = "pamekasan"
    who = Principal(f"uji.{role}.{kecamatan or kabupaten or 'x'}", "Pengguna Uji", role, kecamatan, kabupaten, unit)
    return bearer_header(settings, who, ttl)


def new_complaint(wf, kecamatan: str) -> uuid.UUID:
    """Personal data everywhere it can be: in the complainant, the subject and the description."""
    return complaints.new_complaint(
        wf,
        kecamatan,
        complainant=Complainant(name=NAME, nik=NIK, phone=PHONE, email=EMAIL, address=ADDRESS),
        subject=f"Jalan rusak depan rumah {NAME}",
        description=f"Saya {NAME} (NIK {NIK}, HP {PHONE}, {EMAIL}) di {ADDRESS}.",
    )


def verify_identity(wf, complaint_id: uuid.UUID, kecamatan: str) -> None:
    handlers.act(
        wf,
        complaint_id,
        "verify-identity",
        {"notes": f"KTP {NAME} cocok, NIK {NIK}"},
        expected_version=1,
        user_id=f"kasi.{kecamatan}",
        role="kasi",
        unit="pemerintahan",
        kecamatan=kecamatan,
        at=datetime.now(UTC),
        correlation_id=uuid.uuid4(),
    )


class Reader:
    """A feed client paging with a small limit, remembering every event it was given."""

    def __init__(self, client, headers, after: int, limit: int, kecamatan: str | None = None) -> None:
        self.client, self.headers, self.cursor, self.limit, self.kecamatan = client, headers, after, limit, kecamatan
        self.seen: list[dict] = []
        self.pages = 0

    def page(self) -> bool:
        params = {"after": self.cursor, "limit": self.limit}
        if self.kecamatan:
            params["kecamatan"] = self.kecamatan
        r = self.client.get("/v1/events", params=params, headers=self.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["events"]) <= self.limit
        assert body["next_after"] >= self.cursor
        self.seen.extend(body["events"])
        self.cursor = body["next_after"]
        self.pages += 1
        return body["has_more"]

    def drain(self) -> None:
        while self.page():
            pass


def test_every_event_is_read_exactly_once_across_pages_while_appends_go_on(
    client, wf, engine, feed_settings, monkeypatch
):
    monkeypatch.setattr(event_feed, "SCAN_WINDOW", 5)  # filtered readers cross many scan windows
    store = PostgresEventStore(engine)
    start = store.last_position()
    readers = {
        "all": Reader(client, bearer(feed_settings, "admin"), start, limit=7),
        "galis": Reader(client, bearer(feed_settings, "staf", kecamatan="galis"), start, limit=3),
        "pademawu": Reader(
            client, bearer(feed_settings, "kabupaten", kabupaten="pamekasan"), start, limit=2, kecamatan="pademawu"
        ),
        "kabupaten": Reader(client, bearer(feed_settings, "kabupaten", kabupaten="pamekasan"), start, limit=5),
    }
    stop = time.monotonic() + 3.0
    errors: list[BaseException] = []

    def write(kecamatan_cycle: list[str]) -> None:
        try:
            i = 0
            while time.monotonic() < stop:
                k = kecamatan_cycle[i % len(kecamatan_cycle)]
                complaint_id = new_complaint(wf, k)
                if i % 2 == 0:
                    verify_identity(wf, complaint_id, k)
                i += 1
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    writers = [
        threading.Thread(target=write, args=(c,))
        for c in (["pegantenan", "galis"], ["galis", "pademawu", "pegantenan"])
    ]
    for t in writers:
        t.start()
    while any(t.is_alive() for t in writers):
        for reader in readers.values():
            reader.page()
    for t in writers:
        t.join()
    assert not errors, errors
    for reader in readers.values():
        reader.drain()

    truth = store.read_all(after=start, limit=1_000_000)
    assert len(truth) > 40  # enough appends happened while the readers paged
    expected = {
        "all": list(truth),
        "galis": [e for e in truth if e.kecamatan == "galis"],
        "pademawu": [e for e in truth if e.kecamatan == "pademawu"],
        "kabupaten": [e for e in truth if e.kecamatan in ("pegantenan", "galis", "pademawu")],
    }
    for name, reader in readers.items():
        got = [e["event_id"] for e in reader.seen]
        assert got == [str(e.event_id) for e in expected[name]], f"{name}: missed, repeated or out of order"
        assert [e["position"] for e in reader.seen] == sorted({e["position"] for e in reader.seen})
    assert readers["pademawu"].pages > len(expected["pademawu"]) // 2  # it really paged through windows

    # no personal data anywhere in what was read, though every complaint carried all of it
    text = json.dumps([e for r in readers.values() for e in r.seen])
    for personal in (NAME, NIK, PHONE, EMAIL, ADDRESS, "6281234567890"):
        assert personal not in text
    received = next(e for e in readers["all"].seen if e["type"] == "workflow.ComplaintReceived")
    assert received["payload"]["complainant"] == {
        "has_nik": True,
        "has_phone": True,
        "has_email": True,
        "has_address": True,
    }
    assert received["step"] == 1 and received["kecamatan"] in ("pegantenan", "galis", "pademawu")
    assert received["complaint_id"] == received["stream"].removeprefix("complaint-")
    verified = next(e for e in readers["all"].seen if e["type"] == "workflow.IdentityVerified")
    assert verified["payload"]["notes"] == "[disembunyikan]" and verified["actor"] == {
        "kind": "user",
        "role": "kasi",
        "user_id": None,
    }


def test_a_caught_up_filtered_reader_moves_past_other_kecamatan_events(client, wf, engine, feed_settings):
    store = PostgresEventStore(engine)
    start = store.last_position()
    for _ in range(3):
        new_complaint(wf, "pegantenan")
    r = client.get(
        "/v1/events",
        params={"after": start, "kecamatan": "galis"},
        headers=bearer(feed_settings, "staf", kecamatan="galis"),
    )
    body = r.json()
    assert body == {"events": [], "next_after": store.last_position(), "has_more": False}


def test_who_may_read_which_kecamatan(client, wf, engine, feed_settings):
    store = PostgresEventStore(engine)
    start = store.last_position()
    new_complaint(wf, "pegantenan")
    new_complaint(wf, "galis")
    galis = bearer(feed_settings, "staf", kecamatan="galis")

    r = client.get("/v1/events", params={"after": start})
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
    assert r.headers["www-authenticate"] == "Bearer"
    r = client.get("/v1/events", params={"after": start}, headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401 and r.json()["code"] == "token_invalid"

    r = client.get("/v1/events", params={"after": start, "kecamatan": "pegantenan"}, headers=galis)
    assert r.status_code == 403 and r.json()["code"] == "kecamatan_forbidden"
    r = client.get("/v1/events/stream", params={"after": start, "kecamatan": "pegantenan"}, headers=galis)
    assert r.status_code == 403 and r.json()["code"] == "kecamatan_forbidden"
    own = client.get("/v1/events", params={"after": start}, headers=galis).json()["events"]
    assert [e["kecamatan"] for e in own] == ["galis"]

    kabupaten = bearer(feed_settings, "kabupaten", kabupaten="pamekasan")
    both = client.get("/v1/events", params={"after": start}, headers=kabupaten).json()["events"]
    assert sorted(e["kecamatan"] for e in both) == ["galis", "pegantenan"]
    one = client.get("/v1/events", params={"after": start, "kecamatan": "pegantenan"}, headers=kabupaten).json()[
        "events"
    ]
    assert [e["kecamatan"] for e in one] == ["pegantenan"]

    elsewhere = bearer(feed_settings, "kabupaten", kabupaten="sumenep")
    assert client.get("/v1/events", params={"after": start}, headers=elsewhere).json()["events"] == []
    r = client.get("/v1/events", params={"after": start, "kecamatan": "pegantenan"}, headers=elsewhere)
    assert r.status_code == 403

    admin = bearer(feed_settings, "admin")
    assert len(client.get("/v1/events", params={"after": start}, headers=admin).json()["events"]) == 2
    r = client.get("/v1/events", params={"kecamatan": "tidak-ada"}, headers=admin)
    assert r.status_code == 404 and r.json()["code"] == "kecamatan_not_found"
    r = client.get("/v1/events", params={"limit": 1001}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "limit"
    r = client.get("/v1/events", params={"after": -1}, headers=admin)
    assert r.status_code == 422


# --- Server-Sent Events ---------------------------------------------------------------------------------


@contextmanager
def serve(app: FastAPI):
    """The app under a real uvicorn in a thread (streams need a real server: TestClient buffers them)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10, message="uvicorn")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class Frames:
    """Server-sent frames as dicts: id, event, data (parsed), comments, retry."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.iter_lines()

    def next(self) -> dict:
        frame: dict = {"comments": []}
        for line in self.lines:
            if line == "":
                if len(frame) > 1 or frame["comments"]:
                    return frame
                continue
            if line.startswith(":"):
                frame["comments"].append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            frame[name] = json.loads(value) if name == "data" else value
        raise EOFError("the stream ended")

    def next_event(self, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frame = self.next()
            if "event" in frame:
                return frame
        raise AssertionError("no event frame in time")


def test_the_stream_pushes_new_events_promptly_and_resumes_from_last_event_id(app, wf, engine, feed_settings):
    store = PostgresEventStore(engine)
    pegantenan = bearer(feed_settings, "staf", kecamatan="pegantenan")
    timeout = httpx.Timeout(10.0)
    with serve(app) as base, httpx.Client(base_url=base, timeout=timeout) as http:
        start = store.last_position()
        with http.stream("GET", "/v1/events/stream", params={"after": start}, headers=pegantenan) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            frames = Frames(r)
            opened = frames.next()
            assert opened["retry"] == "2000" and opened["comments"] == ["connected"]
            wait_until(lambda: app.state.feed_signal.healthy, timeout=10, message="the LISTEN connection")

            new_complaint(wf, "galis")  # not this reader's kecamatan: never sent
            appended_at = time.monotonic()
            first = new_complaint(wf, "pegantenan")
            frame = frames.next_event()
            latency = time.monotonic() - appended_at
            assert frame["event"] == "workflow.ComplaintReceived"
            assert frame["data"]["complaint_id"] == str(first) and frame["data"]["kecamatan"] == "pegantenan"
            assert frame["id"] == str(frame["data"]["position"])
            assert latency < 2.0, f"pushed after {latency:.2f}s"
            assert NAME not in json.dumps(frame["data"]) and NIK not in json.dumps(frame["data"])
            # the same JSON as the paged feed
            page = http.get("/v1/events", params={"after": int(frame["id"]) - 1, "limit": 1}, headers=pegantenan).json()
            assert page["events"][0] == frame["data"]

            heartbeat = frames.next()  # nothing else happens: a comment keeps the connection open
            assert heartbeat["comments"] == ["heartbeat"] and "event" not in heartbeat
            last_id = frame["id"]
        # the client went away: the stream ended and let go of its wake-up
        wait_until(lambda: not app.state.feed_signal._waiters, timeout=10, message="the stream to end")

        missed = new_complaint(wf, "pegantenan")
        headers = {**pegantenan, "Last-Event-ID": last_id}
        with http.stream("GET", "/v1/events/stream", params={"after": 0}, headers=headers) as r:
            frames = Frames(r)
            frame = frames.next_event()
            assert frame["data"]["complaint_id"] == str(missed)  # resumed after the last id, not from after=0
            assert int(frame["id"]) > int(last_id)

        r = http.get("/v1/events/stream", headers={**pegantenan, "Last-Event-ID": "abc"})
        assert r.status_code == 422
        assert http.get("/v1/events/stream").status_code == 401


def test_the_stream_ends_when_the_token_expires(app, engine, feed_settings):
    store = PostgresEventStore(engine)
    short = bearer(feed_settings, "staf", kecamatan="pegantenan", ttl=timedelta(seconds=2))
    with serve(app) as base, httpx.Client(base_url=base, timeout=httpx.Timeout(10.0)) as http:  # noqa: SIM117
        with http.stream("GET", "/v1/events/stream", params={"after": store.last_position()}, headers=short) as r:
            frames = Frames(r)
            ended = frames.next_event(timeout=8)
            assert ended["event"] == "session_ended" and ended["data"]["code"] == "token_expired"
            with pytest.raises(EOFError):
                frames.next()


def test_a_stream_ends_when_its_token_is_signed_out(app, engine, feed_settings):
    """Issue #12 item 3: a stream opened before sign-out does not outlive it (checked as every request is)."""
    from services.accounts.adapters.sessions import UserChanges
    from shared.auth import cache_client, decode_token_info

    store = PostgresEventStore(engine)
    headers = bearer(feed_settings, "staf", kecamatan="pegantenan")
    token = headers["Authorization"].split(" ", 1)[1]
    with serve(app) as base, httpx.Client(base_url=base, timeout=httpx.Timeout(30.0)) as http:  # noqa: SIM117
        with http.stream("GET", "/v1/events/stream", params={"after": store.last_position()}, headers=headers) as r:
            frames = Frames(r)
            _, info = decode_token_info(token, feed_settings.secret_key, datetime.now(UTC))
            UserChanges(cache_client(feed_settings)).revoke(info, datetime.now(UTC))  # what /v1/auth/logout does
            ended = frames.next_event(timeout=25)  # at the next heartbeat at the latest
            assert ended["event"] == "session_ended" and ended["data"]["code"] == "token_revoked"
            with pytest.raises(EOFError):
                frames.next()


def test_one_listen_connection_wakes_streams_and_is_let_go_when_idle(wf, engine):
    signal = event_feed.NewEventSignal(engine, idle_seconds=0.5)

    async def scenario() -> float:
        wake = asyncio.Event()
        signal.add(wake)
        try:
            await asyncio.to_thread(wait_until, lambda: signal.healthy, 10, 0.05, "LISTEN")
            wake.clear()
            started = time.monotonic()
            await asyncio.to_thread(new_complaint, wf, "pegantenan")
            await asyncio.wait_for(wake.wait(), 5)
            return time.monotonic() - started
        finally:
            signal.discard(wake)

    assert asyncio.run(scenario()) < 2.0
    wait_until(lambda: signal._thread is None, timeout=10, message="the idle listener to stop")
    assert not signal.healthy
