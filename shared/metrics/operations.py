"""Scrape-time gauges of the whole deployment: queue depths from the broker, and what each service declares
(``Service.gauges``) read from PostgreSQL."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.service import Gauge

log = logging.getLogger(__name__)

QUEUE_DEPTH_HELP = "Messages waiting in a Celery queue (Redis: the queue's lists; RabbitMQ: its ready messages)"


class OperationsCollector:
    """The deployment's backlog, read when scraped (cached ``ttl`` seconds; each source with a short timeout).

    A source that cannot be read is reported (``pengaduan_ops_source_up{source} 0`` and a warning in the
    log) and its gauges are left out of that scrape, rather than failing the whole page."""

    def __init__(
        self,
        engine,
        broker_url: str,
        gauges: Iterable[Callable[[Any], list[Gauge]]],
        *,
        queues: Iterable[str] | None = None,
        ttl: float = 5.0,
        timeout: float = 2.0,
    ) -> None:
        """``broker_url``: the Celery broker (``Settings.effective_broker_url``), Redis or RabbitMQ.
        ``gauges``: functions reading samples from a connection (the composition root passes every service's)."""
        from shared.celery_app import QUEUES

        self.engine = engine
        self.broker_url = broker_url
        self.gauges = tuple(gauges)
        self.queues = tuple(queues) if queues is not None else QUEUES
        self.ttl = ttl
        self.timeout = timeout
        self._lock = threading.Lock()
        self._families: list = []
        self._at: float | None = None
        self._redis = None

    def collect(self):
        with self._lock:  # concurrent scrapes wait for one reading instead of each querying
            now = time.monotonic()
            if self._at is None or now - self._at >= self.ttl:
                self._families = self._read()
                self._at = time.monotonic()
            families = list(self._families)
        return iter(families)

    def _read(self) -> list:
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily(
            "pengaduan_ops_source_up", "1 if the source of the scrape-time gauges answered", labels=["source"]
        )
        families: list = [up]
        from shared.celery_app import is_amqp

        broker = ("rabbitmq", self._from_rabbitmq) if is_amqp(self.broker_url) else ("redis", self._from_redis)
        for source, read in (("postgres", self._from_postgres), broker):
            try:
                families += read()
                up.add_metric([source], 1)
            except Exception as exc:  # reported in the page and the log; the other source still counts  # noqa: BLE001
                log.warning("scrape-time metrics: %s unreadable: %s", source, type(exc).__name__)
                up.add_metric([source], 0)
        return families

    def _from_redis(self) -> list:
        import redis
        from prometheus_client.core import GaugeMetricFamily

        if self._redis is None:
            self._redis = redis.Redis.from_url(
                self.broker_url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout
            )
        pipe = self._redis.pipeline(transaction=False)
        for queue in self.queues:  # kombu keeps priorities 3, 6, 9 in sibling lists "<queue>\x06\x16<n>"
            for key in (queue, *(f"{queue}\x06\x16{p}" for p in (3, 6, 9))):
                pipe.llen(key)
        pipe.hlen("unacked")
        counts = pipe.execute()
        depth = GaugeMetricFamily("pengaduan_queue_depth", QUEUE_DEPTH_HELP, labels=["queue"])
        for i, queue in enumerate(self.queues):
            depth.add_metric([queue], sum(counts[i * 4 : (i + 1) * 4]))
        unacked = GaugeMetricFamily("pengaduan_queue_unacked", "Messages handed to workers and not yet acknowledged")
        unacked.add_metric([], counts[-1])
        return [depth, unacked]

    def _from_rabbitmq(self) -> list:
        """Ready messages per queue from a passive ``queue.declare`` (plain AMQP: no management plugin, no
        HTTP API, no credentials beyond the broker URL's). AMQP tells no unacknowledged count, so
        ``pengaduan_queue_unacked`` is left out for RabbitMQ; its management API or Prometheus plugin has it."""
        from amqp.exceptions import NotFound
        from kombu import Connection
        from prometheus_client.core import GaugeMetricFamily

        depth = GaugeMetricFamily("pengaduan_queue_depth", QUEUE_DEPTH_HELP, labels=["queue"])
        with Connection(
            self.broker_url,
            connect_timeout=self.timeout,
            transport_options={"read_timeout": self.timeout, "write_timeout": self.timeout},
        ) as conn:
            for queue in self.queues:
                channel = conn.channel()
                try:
                    depth.add_metric([queue], channel.queue_declare(queue, passive=True).message_count)
                except NotFound:  # not declared yet (no producer or worker has used it): nothing waits
                    depth.add_metric([queue], 0)
                finally:
                    if channel.is_open:
                        channel.close()
        return [depth]

    def _from_postgres(self) -> list:
        """Every service's gauges (``Service.gauges``), read in one transaction with a statement timeout and
        gathered into one family per name (several services may add samples to one gauge)."""
        from prometheus_client.core import GaugeMetricFamily
        from sqlalchemy import text

        with self.engine.connect() as conn, conn.begin():
            conn.execute(text(f"SET LOCAL statement_timeout = {int(self.timeout * 1000)}"))
            samples = [sample for read in self.gauges for sample in read(conn)]
        families: dict[str, GaugeMetricFamily] = {}
        labels: dict[str, list[str]] = {}
        for sample in sorted(samples, key=lambda g: (g.name, sorted(g.labels.items()))):
            family = families.get(sample.name)
            if family is None:
                labels[sample.name] = sorted(sample.labels)
                family = families[sample.name] = GaugeMetricFamily(sample.name, sample.help, labels=labels[sample.name])
            if sorted(sample.labels) != labels[sample.name]:
                raise ValueError(f"{sample.name}: samples with different label names ({sorted(sample.labels)})")
            family.add_metric([sample.labels[name] for name in labels[sample.name]], sample.value)
        return list(families.values())
