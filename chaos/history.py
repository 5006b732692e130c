"""What the history says afterwards: read from PostgreSQL and from the sinks' own record of what was sent."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import Engine, text

from devtools.sinks.runner import Sinks

CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}\b")

_RECEIVED = text(
    """
    SELECT s.tracking_code, count(e.position)
    FROM intake.submissions s
    LEFT JOIN workflow.events e
           ON e.stream_id = 'complaint-' || s.complaint_id::text AND e.type = 'workflow.ComplaintReceived'
    WHERE s.tracking_code = ANY(:codes)
    GROUP BY s.tracking_code
    """
)

_WORST = text(
    """
    SELECT max(EXTRACT(EPOCH FROM e.recorded_at - s.received_at))::float8
    FROM intake.submissions s
    JOIN workflow.events e
      ON e.stream_id = 'complaint-' || s.complaint_id::text AND e.type = 'workflow.ComplaintReceived'
    WHERE s.tracking_code = ANY(:codes)
    """
)

_ACK_CHANNELS = text(
    """
    SELECT s.tracking_code, d.channel, d.state
    FROM intake.submissions s
    JOIN notify.deliveries d ON d.complaint_id = s.complaint_id
    WHERE s.tracking_code = ANY(:codes) AND d.kind = 'acknowledgment' AND d.audience = 'complainant'
    """
)


class SinkIndex:
    """Messages the sinks accepted, per tracking code and channel; read incrementally (append-only list)."""

    def __init__(self, sinks: Sinks) -> None:
        self.sinks = sinks
        self.seen = 0
        self.by_code: dict[str, Counter[str]] = defaultdict(Counter)

    def refresh(self) -> None:
        outbox = self.sinks.outbox
        with outbox._lock:  # the sinks keep their messages in arrival order; only the new ones are read
            new = outbox._messages[self.seen :]
            self.seen += len(new)
        for m in new:
            for code in set(CODE.findall(f"{m.get('subject') or ''}\n{m.get('text') or ''}")):
                self.by_code[code][m["channel"]] += 1


def workflow_counts(engine: Engine, codes: list[str]) -> dict[str, int]:
    """ComplaintReceived events per tracking code (0: not in the workflow; a code intake does not know: absent)."""
    if not codes:
        return {}
    with engine.connect() as conn:
        return dict(conn.execute(_RECEIVED, {"codes": codes}).all())  # rows, not the result (it has .keys())


def worst_to_workflow(engine: Engine, codes: list[str]) -> float | None:
    """The longest time from intake's receipt to the workflow's ComplaintReceived among codes (seconds)."""
    if not codes:
        return None
    with engine.connect() as conn:
        worst = conn.execute(_WORST, {"codes": codes}).scalar_one()
    return None if worst is None else round(worst, 1)


def ack_deliveries(engine: Engine, codes: list[str]) -> dict[str, dict[str, str]]:
    """Acknowledgment deliveries per tracking code: channel -> state."""
    found: dict[str, dict[str, str]] = defaultdict(dict)
    if codes:
        with engine.connect() as conn:
            for code, channel, state in conn.execute(_ACK_CHANNELS, {"codes": codes}):
                found[code][channel] = state
    return found


def acknowledged_at_sink(index: SinkIndex, codes: list[str], channels: set[str]) -> int:
    """How many of codes have a message at the sink on every expected channel."""
    return sum(1 for c in codes if all(index.by_code.get(c, Counter())[ch] >= 1 for ch in channels))


def invariants(engine: Engine) -> dict[str, Any]:
    """Checks over the whole database: streams without version gaps and with positions increasing with the
    version, no dead letters, nothing left in the intake outbox or in notify's deliveries."""
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        stores = [
            f"{s}.{t}"
            for s, t in conn.execute(
                text(
                    "SELECT table_schema, table_name FROM information_schema.columns WHERE column_name = 'stream_id' "
                    "AND table_name = 'events' GROUP BY 1, 2 HAVING bool_or(true) ORDER BY 1"
                )
            )
        ]
        for store in stores:
            gaps = conn.execute(
                text(
                    f"SELECT count(*) FROM (SELECT stream_id, count(*) AS n, min(version) AS lo, max(version) AS hi, "
                    f"count(DISTINCT version) AS d FROM {store} GROUP BY stream_id) s "
                    f"WHERE n <> d OR hi - lo + 1 <> n OR lo <> 1"
                )
            ).scalar_one()
            disorder = conn.execute(
                text(
                    f"SELECT count(*) FROM (SELECT version, lag(version) OVER (PARTITION BY stream_id ORDER BY position) "
                    f"AS prev FROM {store}) s WHERE prev IS NOT NULL AND version <= prev"
                )
            ).scalar_one()
            streams = conn.execute(text(f"SELECT count(DISTINCT stream_id) FROM {store}")).scalar_one()
            out[store] = {
                "streams": streams,
                "streams_with_version_gaps": gaps,
                "positions_not_increasing_with_version": disorder,
            }
        dead = {}
        for (schema,) in conn.execute(
            text("SELECT table_schema FROM information_schema.tables WHERE table_name = 'dead_letters'")
        ):
            dead[schema] = conn.execute(
                text(f"SELECT count(*) FROM {schema}.dead_letters WHERE replayed_at IS NULL")
            ).scalar_one()
        out["dead_letters"] = dead
        out["intake_outbox_unpublished"] = conn.execute(
            text("SELECT count(*) FROM intake.outbox WHERE published_at IS NULL")
        ).scalar_one()
        out["notify_deliveries_by_state"] = dict(
            conn.execute(text("SELECT state, count(*) FROM notify.deliveries GROUP BY state")).all()
        )
    return out


def broker_backlog(redis_url: str, timeout: float = 2.0) -> dict[str, int]:
    """Messages still in the broker: each Celery queue's list (kombu keeps priorities 3, 6, 9 in sibling
    lists ``<queue>\\x06\\x16<n>``, counted with it) and ``unacked``, the hash of messages handed to a worker
    and not yet acknowledged. What an outbox and a ledger in PostgreSQL cannot show: a message still queued."""
    import redis

    from shared.celery_app import QUEUES

    client = redis.Redis.from_url(redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        pipe = client.pipeline(transaction=False)
        for queue in QUEUES:
            for key in (queue, *(f"{queue}\x06\x16{p}" for p in (3, 6, 9))):
                pipe.llen(key)
        pipe.hlen("unacked")
        counts = pipe.execute()
    finally:
        client.close()
    out = {queue: sum(counts[i * 4 : (i + 1) * 4]) for i, queue in enumerate(QUEUES)}
    out["unacked"] = counts[-1]
    return out


def unconsumed_handoffs(engine: Engine) -> dict[str, int]:
    """Rows of each producer's ledger (``<schema>.handoffs``) whose message is in neither its consumer's inbox
    (``<queue>.inbox``) nor its dead letters, keyed ``producer->queue``. A consumed row stays in the ledger
    until the reconciler's next look (grace, doubling per republish), so only the unconsumed ones count."""
    out: dict[str, int] = {}
    with engine.connect() as conn:
        ledgers = [
            s
            for (s,) in conn.execute(
                text("SELECT table_schema FROM information_schema.tables WHERE table_name = 'handoffs' ORDER BY 1")
            )
        ]
        inboxes = {
            s
            for (s,) in conn.execute(
                text("SELECT table_schema FROM information_schema.tables WHERE table_name = 'inbox'")
            )
        }
        for producer in ledgers:
            for (queue,) in conn.execute(text(f"SELECT DISTINCT queue FROM {producer}.handoffs")).all():
                if queue not in inboxes:  # a queue without an inbox of ours: every row is unconsumed
                    n = conn.execute(
                        text(f"SELECT count(*) FROM {producer}.handoffs WHERE queue = :q"), {"q": queue}
                    ).scalar_one()
                else:
                    n = conn.execute(
                        text(
                            f"SELECT count(*) FROM {producer}.handoffs h WHERE h.queue = :q AND NOT EXISTS "
                            f"(SELECT 1 FROM {queue}.inbox i WHERE i.consumer = h.consumer AND i.message_id = h.message_id) "
                            f"AND NOT EXISTS (SELECT 1 FROM {queue}.dead_letters d WHERE d.task = h.consumer AND "
                            f"coalesce(d.payload->>'message_id', d.payload->>'event_id') = h.message_id::text)"
                        ),
                        {"q": queue},
                    ).scalar_one()
                out[f"{producer}->{queue}"] = n
    return out
