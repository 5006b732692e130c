"""A steady open-loop load in a thread of its own: one complaint every 1/rate s through the gateway,
whatever the answers do, each answer kept with when it was sent and when it came back."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Answer:
    n: int
    sent: float  # time.monotonic()
    done: float
    status: int  # 0: no HTTP answer (connection refused, reset, timeout)
    tracking_code: str | None = None


def complaint(n: int, tag: str) -> dict[str, Any]:
    """A valid web complaint; the e-mail address and phone number differ every time, so the per-recipient
    acknowledgment limit never applies and each acknowledgment is counted for its own complaint."""
    return {
        "kecamatan": "pegantenan",
        "channel": "web",
        "complainant": {
            "name": "Siti Aminah",
            "nik": "3528071505900001",
            "phone": f"0813{n % 100_000_000:08d}",
            "email": f"warga.{tag}.{n}@example.id",
            "address": "Dusun Bunangka, Desa Pegantenan",
        },
        "subject": f"Jalan desa rusak ({tag} #{n})",
        "description": "Jalan di Dusun Bunangka rusak sejak Januari dan belum diperbaiki.",
    }


class Load:
    def __init__(self, url: str, rate: float, timeout: float = 30.0) -> None:
        self.url, self.rate, self.timeout = url, rate, timeout
        self.tag = uuid.uuid4().hex[:6]
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="chaos-load", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.timeout + 10)

    def snapshot(self) -> list[Answer]:
        with self._lock:
            return list(self.answers)

    async def _one(self, client: httpx.AsyncClient, n: int) -> None:
        sent = time.monotonic()
        status, code = 0, None
        try:
            response = await client.post(self.url, json=complaint(n, self.tag))
            status = response.status_code
            if status == 202:
                code = response.json().get("tracking_code")
        except (httpx.HTTPError, ValueError):
            pass
        with self._lock:
            self.answers.append(Answer(n, sent, time.monotonic(), status, code))

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=32)
        async with httpx.AsyncClient(limits=limits, timeout=self.timeout, trust_env=False) as client:
            tasks: set[asyncio.Task[None]] = set()
            start, n = time.monotonic(), 0
            while not self._stop.is_set():
                delay = start + n / self.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.create_task(self._one(client, n))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                n += 1
            if tasks:
                await asyncio.gather(*tasks)
