"""What the sinks received and how they are told to behave: one :class:`Outbox`, shared by the SMTP and
HTTP servers' threads."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import logging
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from services.notify.adapters.channels.registry import mask_recipient

log = logging.getLogger(__name__)

TARGETS: tuple[str, ...] = ("smtp", "sms", "zenziva", "whatsapp")
Mode = Literal["ok", "error500", "error400", "error429", "timeout", "tempfail", "reject"]
HOLD_SECONDS = 60.0  # "timeout": longer than any client waits


@dataclass
class Control:
    mode: str = "ok"
    times: int | None = None  # requests still to get this mode; None: until changed
    delay: float = 0.0


@dataclass
class Blob:
    data: bytes
    content_type: str
    filename: str


class Outbox:
    """What the sinks received and how they are told to behave; shared by both servers' threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[dict[str, Any]] = []
        self._blobs: dict[str, Blob] = {}
        self._attempts: Counter[str] = Counter()
        self._controls: dict[str, Control] = {}
        self.stopping = threading.Event()

    def attempt(self, target: str) -> Control:
        """Count one request reaching ``target`` and say how to answer it (consuming one of ``times``)."""
        with self._lock:
            self._attempts[target] += 1
            control = self._controls.get(target)
            if control is None:
                return Control()
            if control.times is not None:
                control.times -= 1
                if control.times <= 0:
                    del self._controls[target]
            return copy.copy(control)

    def set_control(self, target: str, mode: str, times: int | None = None, delay: float = 0.0) -> None:
        with self._lock:
            for t in TARGETS if target == "*" else (target,):
                if mode == "ok" and not delay:
                    self._controls.pop(t, None)
                else:
                    self._controls[t] = Control(mode, times, delay)

    def controls(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {t: {"mode": c.mode, "times": c.times, "delay": c.delay} for t, c in self._controls.items()}

    def store_blob(self, data: bytes, content_type: str, filename: str) -> dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            self._blobs[digest] = Blob(data, content_type, filename)
        return {"filename": filename, "content_type": content_type, "size": len(data), "sha256": digest}

    def blob(self, sha256: str) -> Blob | None:
        with self._lock:
            return self._blobs.get(sha256)

    def record(
        self,
        *,
        channel: str,
        provider: str,
        to: str,
        text: str,
        subject: str | None = None,
        reference: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
        id: str | None = None,
    ) -> dict[str, Any]:
        entry = {
            "id": id or str(uuid.uuid4()),
            "channel": channel,
            "provider": provider,
            "to": to,
            "subject": subject,
            "text": text,
            "reference": reference,
            "attachments": attachments or [],
            "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        with self._lock:
            self._messages.append(entry)
        what = f"'{subject}'" if subject else f"{len(text)} karakter"
        files = f", {len(entry['attachments'])} lampiran" if entry["attachments"] else ""
        log.info("%s via %s untuk %s: %s%s", channel, provider, mask_recipient(to or "-"), what, files)
        return copy.deepcopy(entry)

    def messages(self, channel: str | None = None, to: str | None = None) -> list[dict[str, Any]]:
        """Accepted messages, newest first."""
        with self._lock:
            found = [
                m
                for m in reversed(self._messages)
                if (channel is None or m["channel"] == channel) and (to is None or m["to"] == to)
            ]
            return copy.deepcopy(found)

    def attempts(self) -> dict[str, int]:
        with self._lock:
            return {t: self._attempts[t] for t in TARGETS}

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._blobs.clear()
            self._attempts.clear()
            self._controls.clear()

    async def pause(self, seconds: float) -> None:
        """Wait ``seconds`` (or until the sinks stop) without blocking the server's event loop."""
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
