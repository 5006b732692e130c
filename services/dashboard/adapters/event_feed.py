"""Reading the event store for the feed: pages by global position, optionally of some kecamatan only, and a
process-wide signal that wakes open streams when the store NOTIFYs a commit.

Paging is exact because positions are commit-ordered (docs/adr/0002): once an event at position ``p`` is
visible, every event before it is too. A page first reads the head (the highest visible position), then
the events in ``(after, head]``; whatever a page did not return up to the point it scanned can never
appear later. ``next_after`` is that point, the last position scanned, not just the last one returned: a
reader filtering on a quiet kecamatan moves on past the other kecamatan's events and never sees one twice.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Collection
from dataclasses import dataclass

import psycopg
from sqlalchemy import Engine, select

from shared.db import libpq_url
from shared.events import EventEnvelope
from shared.eventstore.postgres import NOTIFY_CHANNEL, PostgresEventStore, events
from shared.tenancy import kecamatan_table

log = logging.getLogger(__name__)

# A filtered page looks at most this many positions past ``after``, so that a quiet kecamatan costs a
# bounded index range per request however much the others write; the reader just asks again (has_more).
SCAN_WINDOW = 10_000


@dataclass(frozen=True)
class FeedPage:
    events: list[EventEnvelope]
    next_after: int  # the last position scanned: ask for ``after=next_after`` next
    has_more: bool  # more may be read right now (a full page, or the scan window ended before the head)


def read_page(
    engine: Engine, after: int, limit: int, kecamatan: Collection[str] | None, store: PostgresEventStore | None = None
) -> FeedPage:
    """Up to ``limit`` events after position ``after`` in commit order; of the ``kecamatan`` given, or
    of all when None. ``store`` opens the complainant's sealed data (docs/adr/0017): the feed shows only which
    contacts a complainant gave, never the values (domain/redaction.py)."""
    store = store or _store_of(engine)
    with engine.connect() as conn:
        # up to the settled position only: an event a slower transaction commits later is never passed
        head = store.settled(conn, after)
        if head <= after:
            return FeedPage([], after, False)
        until = head if kecamatan is None else min(head, after + SCAN_WINDOW)
        query = (
            select(events)
            .where(events.c.position > after, events.c.position <= until)
            .order_by(events.c.position)
            .limit(limit + 1)
        )
        if kecamatan is not None:
            query = query.where(events.c.kecamatan.in_(sorted(kecamatan)))
        rows = conn.execute(query).mappings().all()
        if len(rows) > limit:
            page = store.envelopes(conn, rows[:limit])
            return FeedPage(page, page[-1].position, True)
        return FeedPage(store.envelopes(conn, rows), until, until < head)


_stores: weakref.WeakKeyDictionary[Engine, PostgresEventStore] = weakref.WeakKeyDictionary()
_stores_lock = threading.Lock()


def _store_of(engine: Engine) -> PostgresEventStore:
    """One store per engine, kept: its ``Horizon`` (the settled position it has observed) serves every request."""
    with _stores_lock:
        store = _stores.get(engine)
        if store is None:
            store = _stores[engine] = PostgresEventStore(engine)
        return store


def kecamatan_of_kabupaten(engine: Engine, kabupaten: str) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(select(kecamatan_table.c.slug).where(kecamatan_table.c.kabupaten_slug == kabupaten)).scalars()
        )


def kecamatan_exists(engine: Engine, slug: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(kecamatan_table.c.slug).where(kecamatan_table.c.slug == slug)).first() is not None


class NewEventSignal:
    """One ``LISTEN pengaduan_events`` connection per process, shared by every open stream.

    A stream registers an ``asyncio.Event``; each notification sets all of them (from the listening
    thread, through their loops). The thread starts with the first stream and ends ``idle_seconds`` after
    the last one left, so an idle process holds no extra connection. When the connection fails, ``healthy``
    is false until it is back (streams then poll), and on every (re)connect all streams are woken, since a
    notification may have been missed meanwhile.
    """

    def __init__(self, engine: Engine, channel: str = NOTIFY_CHANNEL, idle_seconds: float = 30.0) -> None:
        self._url = libpq_url(engine.url.render_as_string(hide_password=False))
        self._channel = channel
        self._idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._thread: threading.Thread | None = None
        self._healthy = threading.Event()
        self._closing = threading.Event()

    @property
    def healthy(self) -> bool:
        return self._healthy.is_set()

    def add(self, event: asyncio.Event) -> None:
        """Wake ``event`` (of the running loop) on every commit to the store, until ``discard``."""
        waiter = (asyncio.get_running_loop(), event)
        with self._lock:
            self._waiters.add(waiter)
            if self._thread is None and not self._closing.is_set():
                self._thread = threading.Thread(target=self._run, name="feed-listen", daemon=True)
                self._thread.start()

    def close(self) -> None:
        """Stop listening (an app's shutdown); the thread ends within a second."""
        self._closing.set()

    def discard(self, event: asyncio.Event) -> None:
        with self._lock:
            self._waiters = {w for w in self._waiters if w[1] is not event}

    def _wake_all(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # its loop is closed: the stream is gone
                self.discard(event)

    def _run(self) -> None:
        backoff = 0.5
        idle_since: float | None = None
        while True:
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {self._channel}")
                    self._healthy.set()
                    self._wake_all()
                    backoff = 0.5
                    last_ping = time.monotonic()
                    while True:
                        woke = False
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            woke = True
                        if woke:
                            self._wake_all()
                        now = time.monotonic()
                        with self._lock:
                            if self._waiters:
                                idle_since = None
                            elif idle_since is None:
                                idle_since = now
                            idle_too_long = idle_since is not None and now - idle_since >= self._idle_seconds
                            if self._closing.is_set() or idle_too_long:
                                self._thread = None
                                self._healthy.clear()
                                return
                        if now - last_ping >= 15.0:  # a connection that died silently is found here
                            conn.execute("SELECT 1")
                            last_ping = now
            except Exception:  # the database went away, or anything else: said, then retried with backoff
                self._healthy.clear()
                log.exception("feed: LISTEN connection lost; streams poll until it is back")
                time.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                with self._lock:
                    if not self._waiters or self._closing.is_set():
                        self._thread = None
                        return
