"""HTTP load: a closed loop (C connections, each sends its next request when the last one answered) and
an open loop (requests sent at fixed times, whatever the responses do). asyncio + httpx, one process.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import signal
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

BodyFactory = Callable[[int], dict[str, Any]]
T = TypeVar("T")


# what a kecamatan hears about (the matter, and what the complainant writes of it): a complaint is one of these, in
# one of the villages below, so some share their matter and place, as a kecamatan's do, and most do not
MATTERS = (
    ("Jalan desa rusak", "Jalan di {place} rusak dan berlubang sejak {month}, belum diperbaiki."),
    ("KTP elektronik belum jadi", "Perekaman KTP-el saya di kecamatan bulan {month}, sampai sekarang belum dicetak."),
    ("Air bersih tidak mengalir", "Air dari sumur bor desa di {place} tidak mengalir sejak {month}."),
    ("Lampu jalan mati", "Lampu penerangan jalan di {place} mati sejak {month}, malam hari gelap."),
    (
        "Bantuan sosial tidak diterima",
        "Nama saya terdaftar sebagai penerima bansos {month} tetapi bantuan tidak sampai.",
    ),
    ("Pelayanan kantor desa lambat", "Surat pengantar yang saya urus di {place} tidak selesai berhari-hari."),
    ("Saluran air tersumbat", "Saluran air di {place} tersumbat sampah, bila hujan air meluap ke rumah warga."),
    ("Kartu keluarga salah data", "Nama anak saya di kartu keluarga salah tulis, sudah diurus sejak {month}."),
    ("Jembatan kayu lapuk", "Jembatan kayu menuju {place} lapuk dan berbahaya dilewati anak sekolah."),
    ("Sampah menumpuk di pasar", "Sampah pasar di {place} menumpuk dan tidak diangkut sejak {month}."),
    ("Akta kelahiran belum terbit", "Pengajuan akta kelahiran anak saya bulan {month} belum terbit."),
    ("Pungutan di luar ketentuan", "Saya diminta membayar untuk surat keterangan di {place}, padahal gratis."),
)
PLACES = (
    "Dusun Bunangka",
    "Desa Pegantenan",
    "Desa Bulangan Haji",
    "Dusun Ta'lok",
    "Desa Tebul Barat",
    "Desa Ambender",
)
MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober")


def complaint_body(n: int, run_tag: str) -> dict[str, Any]:
    """A valid complaint (as in the intake tests); the subject differs every time, so nothing deduplicates, and so
    does the complainant (NIK, phone, e-mail): one person with every complaint of every benchmark would make each
    complaint's possible duplicates all the others, thousands of them in a full run (docs/adr/0021). The matter, the
    place and the month vary (``MATTERS``): every complaint of every benchmark with one text made every open complaint
    a possible duplicate of every other by its text, and each view's search paid for thousands of them."""
    digits = int.from_bytes(hashlib.sha256(f"{run_tag}#{n}".encode()).digest()[:8], "big")
    # a NIK's serial is never 0000 (the API answers 422 nik_serial: make bench once counted two such "errors")
    day, serial, line = 1 + digits % 28, 1 + (digits // 28) % 9_999, (digits // 280_000) % 100_000_000
    subject, text = MATTERS[digits % len(MATTERS)]
    place, month = PLACES[(digits // 7) % len(PLACES)], MONTHS[(digits // 11) % len(MONTHS)]
    return {
        "kecamatan": "pegantenan",
        "channel": "web",
        "complainant": {
            "name": "Siti Aminah",
            "nik": f"352807{day:02d}0590{serial:04d}",
            "phone": f"0812{line:08d}",
            "email": f"warga.{run_tag}.{n}@example.id",
            "address": "Dusun Bunangka, Desa Pegantenan",
        },
        "subject": f"{subject} ({run_tag} #{n})",
        "description": text.format(place=place, month=month),
    }


def body_factory() -> BodyFactory:
    tag = uuid.uuid4().hex[:8]
    return lambda n: complaint_body(n, tag)


@dataclass
class Response:
    sent_at: float  # perf_counter() when the request was started
    latency: float  # seconds until the whole response was read
    status: int  # 0: no HTTP response (connection error, timeout)
    tracking_code: str | None = None
    lateness: float = 0.0  # open loop: how late the send was against its schedule


async def _post(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> Response:
    started = time.perf_counter()
    try:
        response = await client.post(url, json=body)
    except httpx.HTTPError:
        return Response(started, time.perf_counter() - started, 0)
    latency = time.perf_counter() - started
    code = None
    if 200 <= response.status_code < 300:
        code = response.json().get("tracking_code")
    return Response(started, latency, response.status_code, code)


@dataclass
class ClosedLoopResult:
    responses: list[Response]  # those that finished inside the measured window
    seconds: float
    warmup_requests: int


async def closed_loop(
    url: str, concurrency: int, warmup: float, seconds: float, make_body: BodyFactory
) -> ClosedLoopResult:
    """``concurrency`` connections loop for warmup + seconds; only responses completing in the measured
    window (after the warm-up) count, so throughput = len(responses) / seconds.

    Each connection is its own AsyncClient with a single keep-alive connection: one client with a
    16-connection pool costs about three times the CPU per request (httpcore's pool bookkeeping), and
    on a 2-core machine the load generator's CPU is taken from the server under test.
    """
    counter = itertools.count()
    measured: list[Response] = []
    warm = 0
    start = time.perf_counter()
    window_start, window_end = start + warmup, start + warmup + seconds

    async def connection() -> None:
        nonlocal warm
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(limits=limits, timeout=30.0, trust_env=False) as client:
            while time.perf_counter() < window_end:
                r = await _post(client, url, make_body(next(counter)))
                done = r.sent_at + r.latency
                if window_start <= done <= window_end:
                    measured.append(r)
                elif done < window_start:
                    warm += 1

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return ClosedLoopResult(measured, seconds, warm)


@dataclass
class OpenLoopResult:
    responses: list[Response]
    first_send: float
    last_send: float

    @property
    def achieved_rate(self) -> float | None:
        n = len(self.responses)
        span = self.last_send - self.first_send
        return (n - 1) / span if n > 1 and span > 0 else None


async def open_loop(
    url: str, rate: float, seconds: float, make_body: BodyFactory, start_index: int = 0
) -> OpenLoopResult:
    """Send round(rate * seconds) requests, request i at start + i / rate, each in its own task."""
    count = max(1, round(rate * seconds))
    interval = 1.0 / rate
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=60.0, trust_env=False) as client:

        async def one(index: int, lateness: float) -> Response:
            r = await _post(client, url, make_body(start_index + index))
            r.lateness = lateness
            return r

        tasks: list[asyncio.Task[Response]] = []
        start = time.perf_counter() + 0.05
        for i in range(count):
            due = start + i * interval
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, max(0.0, time.perf_counter() - due))))
        responses = list(await asyncio.gather(*tasks))
    sends = sorted(r.sent_at for r in responses)
    return OpenLoopResult(responses, sends[0], sends[-1])


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop when it is installed (it is, with uvicorn[standard]), else asyncio.

    SIGINT and SIGTERM cancel it cleanly and then raise KeyboardInterrupt / SystemExit here, so the
    caller's ``finally`` blocks stop the processes (an exception raised by a plain signal handler inside
    the event loop can be swallowed by a transport callback)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_interruptible(coro))
    return uvloop.run(_interruptible(coro))


async def _interruptible(coro: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    received: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def interrupt(sig: int) -> None:
        received.append(sig)
        task.cancel()

    for sig in previous:
        loop.add_signal_handler(sig, interrupt, sig)
    try:
        return await coro
    except asyncio.CancelledError:
        if not received:
            raise
        if received[0] == signal.SIGINT:
            raise KeyboardInterrupt from None
        raise SystemExit(128 + received[0]) from None
    finally:
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, handler)  # remove_signal_handler leaves SIG_DFL; put ours back


def http_summary(responses: list[Response], seconds: float) -> dict[str, Any]:
    from bench.stats import latency_summary_ms

    ok = [r for r in responses if 200 <= r.status < 300]
    statuses: dict[str, int] = {}
    for r in responses:
        if not 200 <= r.status < 300:
            key = str(r.status) if r.status else "no_response"
            statuses[key] = statuses.get(key, 0) + 1
    return {
        "requests": len(responses),
        "ok": len(ok),
        "errors": len(responses) - len(ok),
        "error_statuses": statuses,
        "seconds": round(seconds, 3),
        "requests_per_second": round(len(ok) / seconds, 1) if seconds else None,
        "latency_ok": latency_summary_ms([r.latency for r in ok]),
    }
