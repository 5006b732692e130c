"""Benchmark 6, ``dashboard``: the read side over five years of a kabupaten's complaints (issues #6, #20).

1. **Seeding** (the setup: timed, not a measurement). About 1,000,000 events (``--quick``: 100,000) of
   complaint streams over the 13 demo kecamatan of Kabupaten Pamekasan, received over the last 1826 days and
   written up to now. Each complaint is simulated step by step on the working calendar, the way the
   workflow's aggregate (``services/workflow/domain/model.py``) and the other services write them (see
   :meth:`_Stream._life`). Every event is built with its real class from ``shared/contracts/workflow.py``,
   wrapped by ``shared.events.envelope`` and turned into the store's row by
   ``shared.eventstore.postgres.to_row``. The rows go in with ``COPY workflow.events (...) FROM STDIN`` in
   append order (the order the workflow would have committed them), 100,000 rows per COPY and transaction.
   The table's constraints, indexes and triggers all apply (the statement trigger NOTIFYs once per COPY);
   ``position`` and ``recorded_at`` come from their defaults, as with ``append``. Then ``VACUUM (ANALYZE)
   workflow.events``, so that autovacuum does not run during the measurements.
2. **Projection rebuild rate**: ``services.dashboard.entrypoints.projections.rebuild(engine, "complaints")`` over the
   whole store, batch 2000 (its default), in this process, events per second. **Baseline, same run:** the
   same events read with ``PostgresEventStore.read_all`` in batches of 2000 and each decoded into its event
   class, nothing written. Ratio ``rebuild_over_read_decode``. **Aim (issue): >= 20,000 events/s.**
3. **Summary latency** (``steps`` and ``overdue`` for context): ``pengaduan api dashboard`` in a child
   process, called one request at a time over one keep-alive connection with a kabupaten user's token
   (``services.accounts.handlers.add_user`` + ``shared.auth.create_token``), for the whole kabupaten and for one kecamatan; the targets
   take turns. First a few requests right after the rebuild, then ``VACUUM (ANALYZE)`` of the read models
   (the steady state: index-only scans need the visibility map), then the measured rounds. **Baseline,
   same run:** the same summary route for an empty period (same auth, route and query, nothing found) and
   ``GET /healthz``. Ratio ``summary_*_p50_over_empty_summary_p50``. **Aim: p99 < 100 ms.**
4. **Register export**: ``GET /v1/register?kecamatan=K&year=Y&format=xlsx`` and ``csv`` for the
   kecamatan's busiest register year; baseline: the JSON page (page 1, default size) of the same register.
5. **Export writers** (issue #20 item 4): each writer in a fresh child process over the same 50,000 Buku Rekap
   lines, into a file: CPU ms a row and the growth of the peak RSS. **Baselines, same run:** the CSV writer and
   openpyxl's bare write-only loop (values, no styles); the XLSX writer as it was (``_xlsx_as_before``;
   ``--quick``: 10,000 rows) for before/after. **Aim: 50,000 rows in < 2 s of CPU**, memory not growing with rows.
6. **Summary from the counters** (issue #20 item 4): ``queries.summary`` (counters kept by the projection) and
   ``queries.summary_scan`` (the scan it replaced) in this process, taking turns, for the kabupaten and one
   kecamatan, over the whole history, a year with part-months at both ends and a month; the answers compared.
   Ratio ``scan p99 / counters p99``. **Aim: p99 < 50 ms.**
"""

from __future__ import annotations

import csv
import heapq
import io
import json
import logging
import math
import os
import random
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

import httpx
import psycopg
from sqlalchemy import Engine, text

from bench.cpu import CpuMeter, per_unit_ms
from bench.environment import RunContext
from bench.stats import latency_summary_ms, ratio
from shared.embedded import free_port

if TYPE_CHECKING:
    from shared.events import EventEnvelope

log = logging.getLogger("bench.dashboard")

TARGET_EVENTS_PER_SECOND = 20_000.0
TARGET_P99_MS = 100.0
KABUPATEN = "pamekasan"
SINGLE_KECAMATAN = "pegantenan"  # the SOP's kecamatan: the single-kecamatan figures and the register
COPY_COLUMNS = (
    "event_id",
    "stream_id",
    "version",
    "kecamatan",
    "type",
    "schema_version",
    "occurred_at",
    "actor",
    "correlation_id",
    "causation_id",
    "payload",
)
SEED_TABLE = "bench.dashboard_seeds"


@dataclass(frozen=True)
class DashboardParams:
    events: int = 1_000_000  # seeded into workflow.events
    days: int = 1826  # complaints received over the last `days` days (five years: issue #20 item 4), up to now
    seed: int = 6  # the simulation's random seed (issue #6)
    copy_chunk: int = 100_000  # rows per COPY (and transaction)
    batch_size: int = 5000  # rebuild's batch (its default, REBUILD_BATCH) and the read+decode baseline's
    summary_requests: int = 200  # per summary target and per baseline, after the warm-up
    context_requests: int = 50  # per steps / overdue target
    warmup_requests: int = 10  # per target
    before_vacuum_requests: int = 40  # summary requests right after the rebuild, before VACUUM (for context)
    exports: int = 5  # per format (xlsx, csv, json page), taking turns
    seconds_cap: float = 60.0  # the latency rounds stop after this long, whatever the counts
    export_rows: int = 50_000  # the export writers' part: rows written by each (the API's cap, export_max_rows)
    export_rows_before: int = 50_000  # rows for the writer as it was (0.25 ms a row: 12 s at 50,000)
    summary_queries: int = 200  # per target and way (counters, the scan), in this process
    # the complainant's data sealed under per-complaint keys as the store seals it (docs/adr/0017); False (the
    # environment's PENGADUAN_BENCH_SEAL=0): in clear, as before, to compare
    seal_personal: bool = os.environ.get("PENGADUAN_BENCH_SEAL", "1") != "0"


# =====================================================================================================
# 1. the simulated complaints
# =====================================================================================================

# (channel, share); the complainant's contact per channel below
CHANNELS = (("web", 0.30), ("whatsapp", 0.25), ("sms", 0.10), ("email", 0.08), ("kotak", 0.15), ("telepon", 0.12))
# relative volume of each kecamatan (the town and the big ones get more)
KECAMATAN_WEIGHT = {
    "tlanakan": 1.1,
    "pademawu": 1.3,
    "galis": 0.8,
    "pamekasan": 2.2,
    "proppo": 1.1,
    "palengaan": 1.0,
    "pegantenan": 1.0,
    "larangan": 0.9,
    "pakong": 0.6,
    "waru": 0.9,
    "batumarmar": 0.8,
    "kadur": 0.7,
    "pasean": 0.7,
}
FIRST_NAMES = (
    "Siti",
    "Moh.",
    "Abdul",
    "Nur",
    "Ahmad",
    "Fatimah",
    "Hasan",
    "Rofiq",
    "Zainal",
    "Aminah",
    "Halimah",
    "Sulaiman",
    "Badrus",
    "Hosnan",
    "Maimunah",
    "Saiful",
    "Khoirul",
    "Ainul",
    "Mas'udah",
    "Ridwan",
    "Hairul",
    "Sitti",
    "Musyarrofah",
    "Fauzi",
    "Imam",
    "Lailatul",
    "Bahri",
    "Syamsul",
    "Rahmat",
    "Yuliana",
)
LAST_NAMES = (
    "Aminah",
    "Hidayat",
    "Rahman",
    "Hasanah",
    "Fauzan",
    "Ramli",
    "Sholeh",
    "Qomariyah",
    "Hamid",
    "Zahro",
    "Junaidi",
    "Mahfud",
    "Rasyid",
    "Wahyuni",
    "Anwar",
    "Munir",
    "Jannah",
    "Ghozali",
    "Kholil",
    "Sa'diyah",
)
DESA = (
    "Bunangka",
    "Tebul",
    "Larangan Badung",
    "Pasanggar",
    "Ambat",
    "Bajur",
    "Tlagah",
    "Plakpak",
    "Waru Barat",
    "Bandungan",
    "Candi Burung",
    "Teja",
    "Lawangan Daya",
    "Pamoroh",
    "Kacok",
    "Blumbungan",
)
SUBJECTS = (
    (
        "Jalan desa rusak",
        "Jalan di dusun kami berlubang dan tergenang saat hujan; sudah beberapa bulan belum diperbaiki.",
    ),
    ("Lampu penerangan jalan mati", "Lampu PJU di perempatan dekat masjid mati sejak dua minggu, rawan kecelakaan."),
    ("Pengurusan KTP-el lambat", "Saya sudah rekam KTP-el tiga bulan lalu tetapi kartu belum juga jadi."),
    (
        "Bantuan sosial tidak tepat sasaran",
        "Penerima bantuan di RT kami banyak yang mampu, warga miskin tidak terdata.",
    ),
    ("Saluran air tersumbat", "Saluran irigasi tersumbat sampah sehingga sawah warga kekeringan."),
    ("Sampah menumpuk di pasar", "Sampah di sekitar pasar tidak diangkut lebih dari seminggu dan berbau."),
    ("Pungutan pengurusan surat", "Ada pungutan untuk surat keterangan domisili di kantor desa tanpa dasar."),
    ("Jembatan desa rusak", "Jembatan bambu penghubung dusun patah, anak sekolah harus memutar jauh."),
    ("Air bersih tidak mengalir", "Air dari sumur bor desa tidak mengalir ke rumah warga sejak bulan lalu."),
    ("Kartu Keluarga belum diperbarui", "Perubahan data anggota keluarga belum tercatat di Kartu Keluarga."),
    ("Sengketa batas tanah", "Batas tanah dengan tetangga dipindah tanpa musyawarah, mohon dimediasi."),
    ("Kebisingan usaha malam hari", "Usaha penggilingan beroperasi sampai tengah malam dan mengganggu warga."),
    ("Perangkat desa jarang di kantor", "Kantor desa sering tutup pada jam kerja sehingga warga sulit mengurus surat."),
    ("Pelayanan puskesmas pembantu", "Pustu di desa kami jarang buka, warga harus ke kecamatan untuk berobat."),
    ("Banjir di permukiman", "Setiap hujan deras permukiman tergenang karena gorong-gorong terlalu kecil."),
    ("Tanah longsor di tepi jalan", "Tebing di tepi jalan kabupaten longsor dan menutup separuh badan jalan."),
)
UNITS = ("pemerintahan", "pemerintahan", "trantib", "kesejahteraan sosial", "pemberdayaan masyarakat", "umum")
AGENCIES = (
    ("Dinas PUPR Kabupaten Pamekasan", "opd"),
    ("Dinas Kependudukan dan Pencatatan Sipil", "opd"),
    ("Dinas Sosial Kabupaten Pamekasan", "opd"),
    ("Dinas Lingkungan Hidup", "opd"),
    ("Pemerintah Desa", "desa"),
    ("SP4N-LAPOR!", "sp4n-lapor"),
    ("PLN UP3 Pamekasan", "lainnya"),
    ("PDAM Kabupaten Pamekasan", "lainnya"),
)
PROVIDERS = {"email": "smtp", "sms": "http-sms", "whatsapp": "whatsapp-cloud"}


def _mask(address: str) -> str:
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    return address[:6] + "****" + address[-3:]


@dataclass
class Arrival:
    append_at: datetime  # when its first event is appended (kotak/telepon: when staff typed it in)
    received_at: datetime
    kecamatan: str
    code: str  # Kemendagri code, for letter numbers
    channel: str
    entered_at: datetime | None
    index: int


class Simulation:
    """Complaint streams, event by event in append order (a heap of per-complaint generators).

    ``events()`` yields ``(append_at, stream_id, version, kecamatan, event, actor, correlation, causation)``;
    numbers handed out by counters (register, letters) are given when the event is emitted, in that order,
    so they are gapless per kecamatan and year as the workflow's counters make them."""

    def __init__(
        self, now: datetime, days: int, seed: int, complaints: int, kecamatan: list[tuple[str, str]], build: bool = True
    ) -> None:
        from shared.calendar import WorkingCalendar
        from shared.contracts import sop

        self.build = build  # False: a pilot that only counts (no event objects)
        self.now = now
        self.days = days
        self.rng = random.Random(seed)
        self.seed = seed
        self.cal = WorkingCalendar()  # the demo kecamatan have no settings: the default calendar, WIB
        self.tz = self.cal.tz
        self.definition = sop.DEFAULT
        self.kecamatan = kecamatan
        self.complaints = complaints
        self.counters: Counter = Counter()  # (kind, kecamatan, year) -> last number
        self.recent_codes: dict[str, list[str]] = {slug: [] for slug, _ in kecamatan}
        self.expected: dict[str, tuple[str, str | None, int | None]] = {}  # sampled streams: (status, outcome, step)
        self._sample_every = max(1, complaints // 400)

    # -- arrivals ------------------------------------------------------------------------------------
    def arrivals(self) -> list[Arrival]:
        rng, cal = self.rng, self.cal
        slugs = [s for s, _ in self.kecamatan]
        codes = dict(self.kecamatan)
        weights = [KECAMATAN_WEIGHT.get(s, 1.0) for s in slugs]
        channels, shares = zip(*CHANNELS)  # noqa: B905
        start = self.now - timedelta(days=self.days)
        found = []
        for i in range(self.complaints):
            channel = rng.choices(channels, shares)[0]
            slug = rng.choices(slugs, weights)[0]
            # the day: uniform over the year, a little busier on weekdays
            while True:
                at = start + timedelta(seconds=rng.random() * self.days * 86400)
                local = at.astimezone(self.tz)
                if local.weekday() < 5 or rng.random() < 0.35:
                    break
            entered = None
            if channel in ("kotak", "telepon"):  # office hours: a call, or the box opened; typed in later
                day = local.date() if cal.is_working_day(local.date()) else cal.next_working_day(local.date())
                minute = rng.randint(0, 7 * 60 + 30)
                at = datetime.combine(day, datetime.min.time(), self.tz) + timedelta(hours=8, minutes=minute)
                entered = cal.add_office_minutes(
                    at, rng.randint(3, 40) if channel == "telepon" else rng.randint(30, 900)
                )
            else:  # citizens write at any hour, mostly by day
                hour = min(23, max(0, int(rng.gauss(13, 4.5))))
                at = datetime.combine(local.date(), datetime.min.time(), self.tz) + timedelta(
                    hours=hour, minutes=rng.randint(0, 59), seconds=rng.randint(0, 59)
                )
            if at >= self.now or (entered is not None and entered >= self.now):
                continue
            found.append(Arrival(entered or at, at, slug, codes[slug], channel, entered, i))
        found.sort(key=lambda a: a.append_at)
        return found

    # -- the merge -------------------------------------------------------------------------------------
    def events(self) -> Iterator[tuple]:
        arrivals = self.arrivals()
        heap: list[tuple[float, int, Any]] = []
        seq = 0
        i = 0
        n = len(arrivals)
        while heap or i < n:
            if i < n and (not heap or arrivals[i].append_at.timestamp() < heap[0][0]):
                arrival = arrivals[i]
                i += 1
                stream = _Stream(self, arrival)
                item = stream.advance()
                if item is not None:
                    seq += 1
                    heapq.heappush(heap, (item[0].timestamp(), seq, stream))
                continue
            _, _, stream = heapq.heappop(heap)
            yield stream.emit()
            item = stream.advance()
            if item is not None:
                seq += 1
                heapq.heappush(heap, (item[0].timestamp(), seq, stream))
            else:
                stream.finish()

    def next_number(self, kind: str, kecamatan: str, at: datetime) -> tuple[int, int]:
        year = at.astimezone(self.tz).year
        key = (kind, kecamatan, year)
        self.counters[key] += 1
        return self.counters[key], year


class _Stream:
    """One complaint: ``_life()`` yields ``(append_at, occurred_at, event class, fields, actor, state after)`` in
    order; ``emit()`` builds the event with its real class, hands out numbers and assigns the version."""

    def __init__(self, sim: Simulation, arrival: Arrival) -> None:
        self.sim = sim
        self.arrival = arrival
        self.complaint_id = uuid.UUID(int=sim.rng.getrandbits(128), version=4)
        self.stream_id = f"complaint-{self.complaint_id}"
        self.version = 0
        self.state: dict[str, Any] = {}  # filled by emit(): numbers handed out
        self.last: tuple = ()
        self.status = ("in_progress", None, 2)
        self.rng = random.Random(sim.rng.getrandbits(64))
        self._gen = self._life()

    def advance(self) -> tuple | None:
        try:
            item = next(self._gen)
        except StopIteration:
            return None
        if item[0] > self.sim.now:  # the future: the complaint stays where it is now
            return None
        if self.last and item[0] < self.last[0]:  # e.g. a delivery receipt that came after the next step began
            later = self.last[0] + timedelta(seconds=1)
            item = (later, max(item[1], later), *item[2:])
        self.last = item
        return item

    def emit(self) -> tuple:
        from shared.contracts.workflow import ComplaintRegistered, LetterSigned

        _append_at, occurred_at, cls, fields, actor, status = self.last
        sim = self.sim
        if cls is ComplaintRegistered:
            number, year = sim.next_number("register", self.arrival.kecamatan, occurred_at)
            fields = {**fields, "register_number": number, "register_year": year}
        elif cls is LetterSigned:
            seq, year = sim.next_number("letter", self.arrival.kecamatan, occurred_at)
            number = f"{seq:03d}/PENGADUAN/{self.arrival.code}/{year}"
            fields = {**fields, "letter_number": number, "letter_sequence": seq, "letter_year": year}
            self.state["letter_number"] = number
        self.version += 1
        if status is not None:
            self.status = status
        event = cls(**fields) if self.sim.build else None
        return (event, self.stream_id, self.version, self.arrival.kecamatan, occurred_at, actor, None, None)

    def finish(self) -> None:
        sim = self.sim
        if self.arrival.index % sim._sample_every == 0:
            sim.expected[self.stream_id] = self.status

    # -- the life of a complaint -------------------------------------------------------------------------
    def _life(self):
        """The complaint's events, as the services write them:

        * ``ComplaintReceived`` (intake; a box form or a call is appended when staff typed it in), with the
          next due time and the 12-working-day deadline from the calendar; notify's ``NotificationSent``
          (and for SMS/WhatsApp often ``NotificationDelivered``) to the complainant when they can be reached;
        * step 2: ``IdentityVerified``; 7% ``DocumentsRequested``, then ``DocumentsReceived`` (70%) or the
          scheduler's ``ClosedIncomplete``; 2% ``IdentityRejected``;
        * step 3 ``ComplaintRegistered`` (gapless numbers per kecamatan and year, handed out in append order);
        * step 4: 13% ``ComplaintReferred`` (closed), else ``DispositionIssued`` to a unit;
        * steps 5-11: ``ClarificationGiven``, ``LetterRequested``, ``LetterDrafted`` (12% ``LetterReturned``
          and a new draft), ``LetterApproved``, ``LetterDuplicated``, ``LetterSigned`` (the letter's number),
          the letters worker's ``LetterIssued``, ``LetterArchived``;
        * step 12: ``ResponseDispatched`` + ``NotificationSent`` + ``ResponseSent`` by the complainant's
          channel (85% of those who can be reached), else ``ResponseSent`` by post, by hand or by courier;
        * the scheduler's ``StepOverdue`` whenever a step runs past its due time; at steps 2-5 a small chance
          of ``ComplaintWithdrawn`` or ``MarkedDuplicate``; 2.5% of complaints stuck for months at one step.

        Step times are drawn in office minutes (minute-steps around 6 min, day-steps around 40% of their
        standard; some late) and placed on the calendar; whatever would happen after now is not written."""
        from services.workflow.domain.model import due_at
        from shared.contracts.intake import Complainant
        from shared.contracts.workflow import (
            ClarificationGiven,
            ClosedIncomplete,
            ComplaintReceived,
            ComplaintReferred,
            ComplaintRegistered,
            ComplaintWithdrawn,
            DispositionIssued,
            DocumentsReceived,
            DocumentsRequested,
            IdentityRejected,
            IdentityVerified,
            LetterApproved,
            LetterArchived,
            LetterDrafted,
            LetterDuplicated,
            LetterIssued,
            LetterRequested,
            LetterReturned,
            LetterSigned,
            MarkedDuplicate,
            NotificationDelivered,
            NotificationSent,
            ResponseDispatched,
            ResponseSent,
            StepOverdue,
        )
        from shared.events import Actor

        sim, rng, cal, a = self.sim, self.rng, self.sim.cal, self.arrival
        definition = sim.definition
        k = a.kecamatan

        def staff(role: str, unit: str | None = None) -> Actor:
            return Actor(kind="user", user_id=f"{role}.{k}" if not unit else f"kasi.{unit.split()[0]}.{k}", role=role)

        system_notify, system_scheduler = Actor.system("notify"), Actor.system("scheduler")

        # the complainant
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        name = f"{first} {last}"
        phone = email = None
        channel = a.channel
        if (
            channel in ("web", "whatsapp", "sms", "telepon")
            or (channel == "kotak" and rng.random() < 0.6)
            or (channel == "email" and rng.random() < 0.3)
        ):
            phone = f"+628{rng.randint(11, 59)}{rng.randint(1000000, 99999999)}"
        if channel == "email" or (channel == "web" and rng.random() < 0.5):
            local = f"{first}.{last}".lower().replace("'", "").replace("..", ".")
            email = f"{local}{rng.randint(1, 999)}@example.id"
        if channel == "web" and rng.random() < 0.1:
            phone = None
        # 35 Jawa Timur, 28 Pamekasan, the kecamatan, date of birth (ddmmyy), a serial number
        nik = (
            f"3528{a.code[-2:]}{rng.randint(1, 28):02d}{rng.randint(1, 12):02d}{rng.randint(50, 99):02d}"
            f"{rng.randint(1, 9999):04d}"
        )
        desa = rng.choice(DESA)
        subject, description = rng.choice(SUBJECTS)
        person = Complainant(
            name=name,
            nik=nik if rng.random() < 0.85 else None,
            phone=phone,
            email=email,
            address=f"Dusun {rng.choice(DESA)}, Desa {desa}, Kecamatan {k.title()}",
        )
        electronic = bool(phone or email)
        reach = (
            "whatsapp"
            if channel == "whatsapp"
            else "sms"
            if channel == "sms"
            else "email"
            if email
            else "sms"
            if phone
            else None
        )
        recipient = _mask(email if reach == "email" else phone) if reach else None
        received = a.received_at
        code = self._tracking_code()
        sim.recent_codes[k].append(code)
        if len(sim.recent_codes[k]) > 200:
            del sim.recent_codes[k][:100]

        def notification(
            cls, at: datetime, kind: str, audience: str = "complainant", ch: str | None = None, to: str | None = None
        ):
            ch = ch or reach
            return (
                at,
                at,
                cls,
                dict(
                    delivery_id=uuid.uuid4(),
                    kind=kind,
                    audience=audience,
                    channel=ch,
                    recipient=to or recipient,
                    provider=PROVIDERS[ch],
                    provider_message_id=f"{PROVIDERS[ch]}-{rng.getrandbits(40):x}",
                ),
                system_notify,
                None,
            )

        def tell(at: datetime, kind: str):
            """notify's report of a message to the complainant (if they can be reached): sent, maybe delivered."""
            if reach is None:
                return []
            sent = at + timedelta(seconds=rng.uniform(2, 40))
            out = [notification(NotificationSent, sent, kind)]
            if reach != "email" and rng.random() < 0.6:
                out.append(notification(NotificationDelivered, sent + timedelta(seconds=rng.uniform(3, 600)), kind))
            return out

        def duration(step: int, slow: float = 1.0) -> int:
            """Office minutes a step takes: minutes-steps around 10 min, day-steps around 40% of the standard;
            some run late."""
            s = definition.step(step)
            standard = s.standard_time if s.unit == "minutes" else s.standard_time * 480
            if s.unit == "minutes":
                m = rng.lognormvariate(math.log(6), 0.6)
            else:
                m = standard * rng.lognormvariate(math.log(0.4), 0.7)
            return max(1, int(m * slow))

        # step 1: received (appended when typed in, for a box form or a call)
        next_due = due_at(definition, 2, received, cal)
        deadline = cal.add_working_days(received, definition.completion_working_days)
        yield (
            a.append_at,
            received,
            ComplaintReceived,
            dict(
                complaint_id=self.complaint_id,
                submission_id=uuid.uuid4(),
                tracking_code=code,
                kecamatan=k,
                channel=channel,
                complainant=person,
                subject=subject,
                description=description,
                received_at=received,
                sop_version=definition.version,
                sop_overrides=None,
                output=definition.step(1).output,
                next_step=2,
                next_due_at=next_due,
                deadline_at=deadline,
                entered_at=a.entered_at,
                entered_by=f"staf.{k}" if a.entered_at else None,
            ),
            Actor.system("intake"),
            ("in_progress", None, 2),
        )
        yield from tell(a.append_at, "acknowledgment")

        # a few complaints get stuck at some step for months (nobody acts): open and overdue if recent enough
        stuck_at = rng.choice((2, 4, 5, 8, 10)) if rng.random() < 0.025 else None
        at = a.append_at
        step = 2
        step_start = received  # noqa: F841
        step_due = next_due

        def overdue_check(done_at: datetime, step_no: int, due: datetime | None, role: str, unit: str | None = None):
            """The scheduler flags a step once, a minute or so after its due time, if it is still open then."""
            if due is not None and done_at > due:
                flagged = due + timedelta(seconds=rng.uniform(20, 120))
                if flagged < done_at:
                    return [
                        (
                            flagged,
                            flagged,
                            StepOverdue,
                            dict(step=step_no, role=role, unit=unit, due_at=due),
                            system_scheduler,
                            None,
                        )
                    ]
            return []

        def finish_step(
            step_no: int,
            event_cls,
            fields: dict,
            next_step: int | None,
            role: str,
            slow: float = 1.0,
            unit: str | None = None,
            status=None,
        ):
            """The step's event after its duration (and the scheduler's flag before it, when it ran late)."""
            nonlocal at, step_due, step
            minutes = duration(step_no, slow)
            if stuck_at == step_no:
                minutes = int(480 * rng.uniform(20, 160))
            done = cal.add_office_minutes(at, minutes)
            items = overdue_check(done, step_no, step_due, role, unit if step_no in (5, 6) else None)
            nd = due_at(definition, next_step, done, cal) if next_step else None
            out = {
                "step": step_no,
                "output": definition.step(step_no).output,
                "next_step": next_step,
                "next_due_at": nd,
                **fields,
            }
            items.append(
                (
                    done,
                    done,
                    event_cls,
                    out,
                    staff(role, unit if step_no in (5, 6) else None),
                    status or ("in_progress", None, next_step),
                )
            )
            at, step_due, step = done, nd, next_step
            return items

        def closing(event_cls, fields: dict, role: str, outcome: str, actor=None, minutes: int | None = None):
            nonlocal at
            done = cal.add_office_minutes(at, minutes if minutes is not None else duration(2))
            at = done
            return [(done, done, event_cls, fields, actor or staff(role), ("closed", outcome, None))]

        def withdrawn_or_duplicate(current: int) -> list | None:
            r = rng.random()
            if r < 0.005:
                items = closing(
                    ComplaintWithdrawn,
                    dict(step=current, reason="Dicabut oleh pengadu: masalah sudah selesai."),
                    "staf",
                    "withdrawn",
                    minutes=rng.randint(30, 2000),
                )
                return items + tell(at, "withdrawn")
            if current in (2, 3, 4) and r < 0.005 + 0.006 and sim.recent_codes[k][:-1]:
                return closing(
                    MarkedDuplicate,
                    dict(
                        step=current,
                        duplicate_of=rng.choice(sim.recent_codes[k][:-1]),
                        reason="Pengaduan yang sama sudah tercatat.",
                    ),
                    "kasi",
                    "duplicate",
                    minutes=rng.randint(30, 1500),
                )
            return None

        # step 2: identity (kasi)
        if (end := withdrawn_or_duplicate(2)) is not None:
            yield from end
            return
        r = rng.random()
        if r < 0.07:  # a document is missing: asked for, then it arrives, or the request expires
            done = cal.add_office_minutes(at, duration(2))
            items = overdue_check(done, 2, step_due, "kasi")
            close_after = cal.add_working_days(done, 10)
            items.append(
                (
                    done,
                    done,
                    DocumentsRequested,
                    dict(message="Mohon kirim foto KTP-el Anda melalui saluran yang sama.", close_after=close_after),
                    staff("kasi"),
                    ("awaiting_documents", None, 2),
                )
            )
            yield from items
            yield from tell(done, "documents_requested")
            if rng.random() < 0.7:
                back = cal.add_office_minutes(done, int(480 * rng.uniform(0.3, 8)))
                at = back
                step_due = due_at(definition, 2, back, cal)
                yield (
                    back,
                    back,
                    DocumentsReceived,
                    dict(notes="Foto KTP-el diterima.", next_due_at=step_due),
                    staff("kasi"),
                    ("in_progress", None, 2),
                )
            else:
                flagged = close_after + timedelta(seconds=rng.uniform(20, 120))
                yield (
                    flagged,
                    flagged,
                    ClosedIncomplete,
                    dict(reason="Dokumen yang diminta tidak diterima dalam batas waktu."),
                    system_scheduler,
                    ("closed", "incomplete", None),
                )
                yield from tell(flagged, "closed_incomplete")
                return
        if rng.random() < 0.02:
            yield from closing(
                IdentityRejected,
                dict(reason="Identitas pengadu tidak dapat diverifikasi."),
                "kasi",
                "identity_rejected",
            )
            yield from tell(at, "identity_rejected")
            return
        yield from finish_step(2, IdentityVerified, {"notes": None}, 3, "kasi")

        # step 3: the register number (staf)
        if (end := withdrawn_or_duplicate(3)) is not None:
            yield from end
            return
        yield from finish_step(3, ComplaintRegistered, {}, 4, "staf", slow=1.3)

        # step 4: within the kecamatan's duties, or referred (camat)
        if (end := withdrawn_or_duplicate(4)) is not None:
            yield from end
            return
        if rng.random() < 0.13:
            agency, kind = rng.choice(AGENCIES)
            done = cal.add_office_minutes(at, duration(4))
            yield from overdue_check(done, 4, step_due, "camat")
            at = done
            yield (
                done,
                done,
                ComplaintReferred,
                dict(
                    agency=agency if kind != "desa" else f"Pemerintah Desa {desa}",
                    agency_kind=kind,
                    reason="Bukan kewenangan kecamatan.",
                ),
                staff("camat"),
                ("closed", "referred", None),
            )
            yield from tell(done, "referred")
            return
        unit = rng.choice(UNITS)
        yield from finish_step(
            4, DispositionIssued, {"unit": unit, "instructions": "Mohon ditindaklanjuti dan dilaporkan."}, 5, "camat"
        )
        # 5 .. 12
        if (end := withdrawn_or_duplicate(5)) is not None:
            yield from end
            return
        yield from finish_step(
            5,
            ClarificationGiven,
            {"explanation": "Sudah dicek ke lapangan bersama perangkat desa."},
            6,
            "kasi",
            unit=unit,
        )
        yield from finish_step(6, LetterRequested, {"notes": None}, 7, "kasi", unit=unit)
        version = 0
        while True:
            version += 1
            draft = {
                "letter_version": version,
                "perihal": f"Tanggapan atas pengaduan {code}",
                "body": f"Menindaklanjuti pengaduan Saudara tentang {subject.lower()}, dengan ini kami sampaikan ...",
            }
            yield from finish_step(7, LetterDrafted, draft, 8, "staf", slow=1.5)
            if version < 3 and rng.random() < 0.12:
                returned = {
                    "letter_version": version,
                    "notes": "Perbaiki redaksi paragraf kedua.",
                    "output": "Draf dikembalikan dengan catatan",
                }
                yield from finish_step(8, LetterReturned, returned, 7, "sekcam")
                continue
            yield from finish_step(8, LetterApproved, {"letter_version": version, "notes": None}, 9, "sekcam")
            break
        yield from finish_step(9, LetterDuplicated, {"copies": ["pengadu", "arsip"]}, 10, "staf", slow=1.2)
        yield from finish_step(10, LetterSigned, {"letter_version": version}, 11, "camat")
        issued = at + timedelta(seconds=rng.uniform(3, 30))
        document_id = uuid.uuid4()
        number = self.state.get("letter_number", "-")
        yield (
            issued,
            issued,
            LetterIssued,
            dict(
                letter_version=version,
                letter_number=number,
                document_id=document_id,
                sha256=f"{rng.getrandbits(256):064x}",
                size=rng.randint(60_000, 140_000),
                verify_url=f"https://pengaduan.example.id/v/{document_id}",
            ),
            Actor.system("letters"),
            None,
        )
        yield from finish_step(
            11,
            LetterArchived,
            {"letter_number": self.state.get("letter_number", "-"), "document_id": document_id},
            12,
            "staf",
            slow=1.2,
        )
        # step 12: by the complainant's own channel (notify's confirmation closes it), or by post / by hand
        if electronic and rng.random() < 0.85:
            done = cal.add_office_minutes(at, duration(12))
            yield from overdue_check(done, 12, step_due, "staf")
            yield (
                done,
                done,
                ResponseDispatched,
                dict(letter_number=self.state.get("letter_number"), document_id=document_id),
                staff("staf"),
                None,
            )
            sent = done + timedelta(seconds=rng.uniform(2, 60))
            yield notification(NotificationSent, sent, "response_letter")
            confirmed = sent
            if reach == "whatsapp":
                confirmed = sent + timedelta(seconds=rng.uniform(3, 900))
                yield notification(NotificationDelivered, confirmed, "response_letter")
            receipt = f"{reach} {recipient}"
            yield (
                confirmed,
                confirmed,
                ResponseSent,
                dict(
                    channel=reach,
                    receipt=receipt,
                    step=12,
                    output=definition.step(12).output,
                    next_step=None,
                    next_due_at=None,
                ),
                system_notify,
                ("closed", "resolved", None),
            )
        else:
            how = rng.choice(("pos", "langsung", "kurir"))
            yield from finish_step(
                12,
                ResponseSent,
                {"channel": how, "receipt": f"Diterima oleh {first} ({how})"},
                None,
                "staf",
                slow=1.5,
                status=("closed", "resolved", None),
            )

    def _tracking_code(self) -> str:
        from shared.contracts.tracking import new_tracking_code

        return new_tracking_code(self.rng.getrandbits(56).to_bytes(7, "big"))


# =====================================================================================================
# seeding: the rows through COPY
# =====================================================================================================


def _copy_text(value: Any) -> str:
    """One field of COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        s = value
    elif isinstance(value, (dict, list)):
        s = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    elif isinstance(value, datetime):
        return value.isoformat()
    else:
        return str(value)
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return s


PILOT_COMPLAINTS = 6000


def _estimate_events_per_complaint(now: datetime, days: int, seed: int, kecamatan: list[tuple[str, str]]) -> float:
    """A pilot run of the simulation that only counts (no event objects, nothing written): events per
    complaint up to now."""
    pilot = Simulation(now, days, seed + 1, PILOT_COMPLAINTS, kecamatan, build=False)
    count = sum(1 for _ in pilot.events())
    return count / PILOT_COMPLAINTS


def envelopes(stream: Iterable[tuple]) -> Iterator[EventEnvelope]:
    """A simulation's events (``Simulation.events``) as the store's envelopes, each wrapped by
    ``shared.events.envelope`` with a fresh event id, and a fresh correlation id where the simulation gives none.
    The seeding writes them (``copy_events``); tests/integration/test_summary_counters.py projects them."""
    from shared.events import envelope

    for event, stream_id, version, kec, occurred_at, actor, correlation, causation in stream:
        yield envelope(
            event,
            event_id=uuid.uuid4(),
            stream_id=stream_id,
            version=version,
            kecamatan=kec,
            occurred_at=occurred_at,
            actor=actor,
            correlation_id=correlation or uuid.uuid4(),
            causation_id=causation,
        )


class _Sealing:
    """Seals the personal fields of seeded rows as ``PostgresEventStore`` does on append (one data key per
    complaint, wrapped by this process's key-encryption keys), and writes the keys made since the last call."""

    def __init__(self) -> None:
        from shared import privacy

        self.privacy = privacy
        self.keks = privacy.default_data_keys().keks
        self.keys: dict[uuid.UUID, bytes] = {}
        self.new: list[tuple[uuid.UUID, str, bytes]] = []

    def sealed(self, row: dict[str, Any]) -> dict[str, Any]:
        from shared.events import registry

        cls = registry.cls_of(row["type"])
        if cls is None or not cls.PERSONAL:
            return row
        subject = uuid.UUID(row["stream_id"].removeprefix("complaint-"))
        key = self.keys.get(subject)
        if key is None:
            key = self.keys[subject] = os.urandom(32)
            kek_id, wrapped = self.keks.wrap(key)
            self.new.append((subject, kek_id, wrapped))
        payload = dict(row["payload"])
        for name in cls.PERSONAL:
            if payload.get(name) is not None:
                payload[name] = self.privacy.seal(payload[name], key, subject, f"{row['type']}.{name}")
        return {**row, "payload": payload}

    def write_keys(self, conn: Any) -> None:
        if not self.new:
            return
        with conn.cursor() as cur, cur.copy("COPY privacy.data_keys (subject_id, kek_id, wrapped) FROM STDIN") as copy:
            for subject, kek_id, wrapped in self.new:
                copy.write_row((subject, kek_id, wrapped))
        self.new.clear()


def copy_events(
    conn: psycopg.Connection,
    stream: Iterator[tuple],
    *,
    seal: bool,
    chunk: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[Counter, datetime | None, datetime | None]:
    """A simulation's events into ``workflow.events`` by COPY, as the store would write them (``envelope``, the
    store's ``to_row``, the complainant's data sealed under a data key per complaint when ``seal``): ``chunk``
    events per COPY and transaction, each with its new data keys. The count by type, the first and last times."""
    from shared.eventstore.postgres import to_row

    columns = ", ".join(COPY_COLUMNS)
    sealing = _Sealing()
    types: Counter = Counter()
    first_at = last_at = None
    done = False
    while not done:
        with conn.cursor() as cur, cur.copy(f"COPY workflow.events ({columns}) FROM STDIN") as copy:
            lines: list[str] = []
            in_chunk = 0
            for env in envelopes(stream):
                row = to_row(env)
                if seal:
                    row = sealing.sealed(row)
                lines.append("\t".join(_copy_text(row[c]) for c in COPY_COLUMNS))
                types[env.type] += 1
                in_chunk += 1  # noqa: SIM113
                if first_at is None:
                    first_at = env.occurred_at
                last_at = env.occurred_at
                if len(lines) >= 2000:
                    copy.write("\n".join(lines) + "\n")
                    lines.clear()
                if in_chunk >= chunk:
                    break
            else:
                done = True
            if lines:
                copy.write("\n".join(lines) + "\n")
        sealing.write_keys(conn)  # the chunk's new data keys, in the chunk's transaction
        conn.commit()
        if progress is not None:
            progress(sum(types.values()))
    return types, first_at, last_at


# the simulation's numbering and the workflow's gapless counters (kind "register"; the letters' "surat_keluar",
# which took over "letter" and "referral")
_COUNTER_KINDS = {"register": ("register",), "letter": ("surat_keluar", "letter", "referral")}


def continue_numbers(conn: psycopg.Connection, sim: Simulation) -> None:
    """The simulation's register and letter numbers go on from those the workflow already gave (a full run's walk
    registered and numbered real complaints of the same kecamatan and year before this seeding: the dashboard's
    unique register numbers would otherwise collide)."""
    for kind, kinds in _COUNTER_KINDS.items():
        rows = conn.execute(
            "SELECT kecamatan, year, max(last_value) FROM workflow.counters WHERE kind = ANY(%s) GROUP BY 1, 2",
            (list(kinds),),
        ).fetchall()
        for kecamatan, year, last in rows:
            sim.counters[(kind, kecamatan, year)] = max(sim.counters[(kind, kecamatan, year)], last)


def take_numbers(conn: psycopg.Connection, sim: Simulation) -> None:
    """The workflow's counters past the numbers the simulation handed out, so a complaint registered later (a
    walk on a reused benchmark database) does not get one of them."""
    for (kind, kecamatan, year), last in sim.counters.items():
        conn.execute(
            "INSERT INTO workflow.counters (kind, kecamatan, year, last_value) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (kind, kecamatan, year) DO UPDATE SET last_value = "
            "greatest(workflow.counters.last_value, EXCLUDED.last_value)",
            (_COUNTER_KINDS[kind][0], kecamatan, year, last),
        )
    conn.commit()


def seed_events(database_url: str, params: DashboardParams, now: datetime) -> dict[str, Any]:
    """Writes about ``params.events`` events: the simulation of as many complaints as a pilot run says make
    that many (within a percent or so); every complaint's story is written up to now, none is cut short."""
    from shared.tenancy import demo_kecamatan

    kecamatan = [(k.slug, k.code) for k in demo_kecamatan()]
    started = time.perf_counter()
    per_complaint = _estimate_events_per_complaint(now, params.days, params.seed, kecamatan)
    pilot_seconds = time.perf_counter() - started
    complaints = round(params.events / per_complaint)
    sim = Simulation(now, params.days, params.seed, complaints, kecamatan)
    log.info(
        "seeding about %d events: %d complaints (%.2f events each, pilot %.1f s) over %d days",
        params.events,
        complaints,
        per_complaint,
        pilot_seconds,
        params.days,
    )
    columns = ", ".join(COPY_COLUMNS)
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        continue_numbers(conn, sim)
        before = conn.execute("SELECT coalesce(max(position), 0) FROM workflow.events").fetchone()[0]
        types, first_at, last_at = copy_events(
            conn,
            sim.events(),
            seal=params.seal_personal,
            chunk=params.copy_chunk,
            progress=lambda n: log.info("seeded %d events (%.0f/s)", n, n / (time.perf_counter() - started)),
        )
        written = sum(types.values())
        after = conn.execute("SELECT coalesce(max(position), 0) FROM workflow.events").fetchone()[0]
        take_numbers(conn, sim)
    seconds = time.perf_counter() - started
    return {
        "events": written,
        "complaints": types.get("workflow.ComplaintReceived", 0),
        "kecamatan": len(kecamatan),
        "days": params.days,
        "seed": params.seed,
        "first_occurred_at": first_at.isoformat() if first_at else None,
        "last_occurred_at": last_at.isoformat() if last_at else None,
        "now": now.isoformat(),
        "positions": [before + 1, after],
        "seconds": round(seconds, 2),
        "pilot_seconds": round(pilot_seconds, 2),
        "events_per_second": round(written / seconds, 1) if seconds else None,
        "events_per_complaint_pilot": round(per_complaint, 3),
        "by_type": dict(types.most_common()),
        "method": (
            f"simulated in this process with the real event classes, shared.events.envelope and the store's "
            f"to_row; COPY workflow.events ({columns}) FROM STDIN in append order, "
            f"{params.copy_chunk} rows per COPY and transaction; position and recorded_at from their defaults; "
            "the table's constraints, indexes and triggers apply; "
            + (
                "the complainant's data sealed under a data key per complaint as the store seals it (docs/adr/0017)"
                if params.seal_personal
                else "the complainant's data in clear (PENGADUAN_BENCH_SEAL=0)"
            )
        ),
        "_expected": sim.expected,
    }


# =====================================================================================================
# 2. rebuild vs read + decode
# =====================================================================================================


def read_decode(engine: Engine, batch_size: int) -> dict[str, Any]:
    """Every event of the store, ``read_all`` in batches, each decoded into its event class; nothing written.
    Events of types no class is registered for (the eventstore benchmark's ``bench.*``) are read only."""
    import shared.contracts.workflow  # noqa: F401 - registers the workflow's event classes (as the projection does)
    from shared.eventstore.postgres import PostgresEventStore

    store = PostgresEventStore(engine)
    unknown: set[str] = set()
    after = 0
    events = decoded = 0
    read_s = decode_s = 0.0
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        batch = store.read_all(after=after, limit=batch_size)
        t1 = time.perf_counter()
        for e in batch:
            if e.type in unknown:
                continue
            try:
                e.decode()
                decoded += 1
            except KeyError:  # no class registered for this type
                unknown.add(e.type)
        read_s += t1 - t0
        decode_s += time.perf_counter() - t1
        events += len(batch)
        if len(batch) < batch_size:
            break
        after = batch[-1].position
    seconds = time.perf_counter() - started
    return {
        "events": events,
        "decoded": decoded,
        "not_decoded_types": sorted(unknown),
        "seconds": round(seconds, 3),
        "events_per_second": round(events / seconds, 1) if seconds else None,
        "read_all_seconds": round(read_s, 3),
        "decode_seconds": round(decode_s, 3),
    }


def measure_rebuild(engine: Engine, batch_size: int, postmaster_pid: int | None) -> dict[str, Any]:
    from services.dashboard.entrypoints.projections import rebuild

    meter = CpuMeter()
    meter.add_self("bench_process")
    meter.add_process_tree("postgres", postmaster_pid)
    meter.start()
    started = time.perf_counter()
    report = rebuild(engine, "complaints", batch_size=batch_size)
    seconds = time.perf_counter() - started
    cpu = meter.stop()
    return {
        "report": report,
        "seconds": round(seconds, 3),
        "events": report["events"],
        "events_per_second": round(report["events"] / seconds, 1) if seconds else None,
        "cpu": cpu,
        "cpu_per_1000_events": per_unit_ms(cpu, max(1, report["events"] // 1000)),
    }


def measure_read_decode(engine: Engine, batch_size: int, postmaster_pid: int | None) -> dict[str, Any]:
    meter = CpuMeter()
    meter.add_self("bench_process")
    meter.add_process_tree("postgres", postmaster_pid)
    meter.start()
    fig = read_decode(engine, batch_size)
    cpu = meter.stop()
    fig["cpu"] = cpu
    fig["cpu_per_1000_events"] = per_unit_ms(cpu, max(1, fig["events"] // 1000))
    return fig


def check_streams(engine: Engine, expected: dict[str, tuple], limit: int = 300) -> dict[str, Any]:
    """A sample of the seeded streams replayed by the workflow's own aggregate (``model.replay``) and compared
    with what the simulation meant and with the rebuilt projection's row."""
    from services.workflow.domain.model import replay
    from shared.eventstore.postgres import PostgresEventStore

    store = PostgresEventStore(engine)
    sample = list(expected.items())[:limit]
    mismatches: list[str] = []
    projection_mismatches: list[str] = []
    for stream_id, (status, outcome, step) in sample:
        state = replay(store.read_stream(stream_id))
        got = (state.status, state.outcome, state.current_step if state.status != "closed" else None)
        want = (status, outcome, step if status != "closed" else None)
        if got != want:
            mismatches.append(f"{stream_id}: workflow {got}, simulated {want}")
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT status, outcome, current_step, register_number FROM dashboard.complaints "
                    "WHERE complaint_id = :id"
                ),
                {"id": stream_id.removeprefix("complaint-")},
            ).first()
        if (
            row is None
            or (row.status, row.outcome) != (state.status, state.outcome)
            or (state.status != "closed" and row.current_step != state.current_step)
            or (row.register_number != state.register_number)
        ):
            projection_mismatches.append(
                f"{stream_id}: projection {tuple(row) if row else None}, workflow "
                f"{(state.status, state.outcome, state.current_step, state.register_number)}"
            )
    return {
        "streams_checked": len(sample),
        "workflow_replay_mismatches": len(mismatches),
        "projection_mismatches": len(projection_mismatches),
        "examples": (mismatches + projection_mismatches)[:5],
    }


# =====================================================================================================
# 3 and 4. the HTTP API
# =====================================================================================================


def make_user_token(engine: Engine, secret: str) -> tuple[str, str]:
    """A kabupaten user of Pamekasan (added if missing) and a bearer token for it."""
    from services.accounts.handlers import add_user, load_principal
    from shared.auth import create_token

    username = "bench.kabupaten"
    if load_principal(engine, username) is None:
        add_user(
            engine,
            username,
            "Operator Benchmark Kabupaten Pamekasan",
            "kabupaten",
            secrets.token_urlsafe(16),
            kabupaten=KABUPATEN,
        )
    principal = load_principal(engine, username)
    assert principal is not None
    return username, create_token(principal, secret, datetime.now(UTC))


@dataclass
class Target:
    name: str
    path: str
    count: int
    stride: int = 1  # takes a turn every `stride` rounds
    vary: Callable[[int], str] | None = None  # the i-th request's path instead (a new key for a result cache)
    note: str | None = None

    def at(self, i: int) -> str:
        return self.vary(i) if self.vary else self.path


def _timed_get(client: httpx.Client, path: str) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = client.get(path)
    return time.perf_counter() - started, response


def latency_rounds(
    client: httpx.Client,
    targets: list[Target],
    warmup: int,
    seconds_cap: float,
) -> dict[str, dict[str, Any]]:
    """Every target in turn (A B C A B C ...), one request at a time, so drift on the machine hits all alike."""
    for t in targets:
        for i in range(warmup):
            _, response = _timed_get(client, t.at(10_000 + i))
            if response.status_code != 200:
                raise RuntimeError(f"{t.name}: HTTP {response.status_code}: {response.text[:300]}")
    samples: dict[str, list[float]] = {t.name: [] for t in targets}
    sizes: dict[str, int] = {}
    errors: Counter = Counter()
    began = time.monotonic()
    rounds = 0
    while any(len(samples[t.name]) < t.count for t in targets):
        if time.monotonic() - began > seconds_cap:
            log.warning("dashboard latency: stopped after %.0f s (seconds_cap)", seconds_cap)
            break
        for t in targets:
            if len(samples[t.name]) >= t.count or rounds % t.stride:
                continue
            latency, response = _timed_get(client, t.at(len(samples[t.name])))
            if response.status_code != 200:
                errors[t.name] += 1
                continue
            samples[t.name].append(latency)
            sizes[t.name] = len(response.content)
        rounds += 1
    return {
        t.name: {
            "path": t.path,
            **({"note": t.note} if t.note else {}),
            **latency_summary_ms(samples[t.name]),
            "errors": errors[t.name],
            "response_bytes": sizes.get(t.name),
        }
        for t in targets
    }


def export_rounds(client: httpx.Client, kecamatan: str, year: int, repeats: int) -> dict[str, Any]:
    base = f"/v1/register?kecamatan={kecamatan}&year={year}"
    paths = {"json_page": base, "csv": base + "&format=csv", "xlsx": base + "&format=xlsx"}
    for path in paths.values():  # warm-up: one of each
        _, response = _timed_get(client, path)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {response.status_code}: {response.text[:300]}")
    times: dict[str, list[float]] = {name: [] for name in paths}
    last: dict[str, httpx.Response] = {}
    for _ in range(repeats):
        for name, path in paths.items():
            latency, response = _timed_get(client, path)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: HTTP {response.status_code}: {response.text[:300]}")
            times[name].append(latency)
            last[name] = response
    page = last["json_page"].json()
    csv_rows = sum(1 for _ in csv.reader(io.StringIO(last["csv"].content.decode("utf-8-sig")))) - 1
    out: dict[str, Any] = {
        "kecamatan": kecamatan,
        "year": year,
        "rows_in_register": page["total"],
        "json_page_rows": len(page["items"]),
        "csv_rows": csv_rows,
    }
    for name in paths:
        out[name] = {"path": paths[name], **latency_summary_ms(times[name]), "bytes": len(last[name].content)}
    out["xlsx_rows"] = _xlsx_rows(last["xlsx"].content)
    return out


def _xlsx_rows(content: bytes) -> int | None:
    """Data rows of the exported workbook: the rows below the header (row 5) up to the footer line."""
    try:
        from openpyxl import load_workbook

        ws = load_workbook(io.BytesIO(content), read_only=True).active
        values = [row[0] for row in ws.iter_rows(min_row=6, max_col=1, values_only=True)]
        return sum(1 for v in values if v is not None and not str(v).startswith("Jumlah:"))
    except Exception:  # the count is a cross-check only
        log.exception("could not count the xlsx rows")
        return None


def busiest_register_year(engine: Engine, kecamatan: str) -> tuple[int, int]:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT register_year, count(*) FROM dashboard.complaints WHERE kecamatan = :k AND register_number IS NOT NULL "
                "GROUP BY register_year ORDER BY count(*) DESC, register_year DESC LIMIT 1"
            ),
            {"k": kecamatan},
        ).first()
    if row is None:
        raise RuntimeError(f"no registered complaint in {kecamatan}")
    return int(row[0]), int(row[1])


def _visibility(engine: Engine) -> dict[str, str]:
    """relallvisible / relpages of the read models: index-only scans skip the heap only on all-visible pages."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.relname, c.relallvisible, c.relpages FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = 'dashboard' "
                "AND c.relname IN ('complaints', 'step_times')"
            )
        ).all()
    return {r.relname: f"{r.relallvisible}/{r.relpages}" for r in rows}


def _vacuum(engine: Engine, tables: str) -> float:
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM (ANALYZE) {tables}"))
    return round(time.perf_counter() - started, 3)


def http_part(ctx: RunContext, params: DashboardParams, engine: Engine) -> dict[str, Any]:
    secret = secrets.token_urlsafe(32)
    port = free_port()
    api = ctx.processes.spawn_cli("api dashboard", "api", "dashboard", "--port", str(port), PENGADUAN_SECRET_KEY=secret)
    base = f"http://127.0.0.1:{port}"
    try:
        ctx.processes.wait_http_ok(api, f"{base}/healthz")
        username, token = make_user_token(engine, secret)
        year, registered = busiest_register_year(engine, SINGLE_KECAMATAN)
        from shared.tenancy import demo_kecamatan

        slugs = [k.slug for k in demo_kecamatan()]
        far = date(2099, 12, 31)
        shuffler = random.Random(7)

        def all_slugs(_i: int) -> str:  # the same 13 kecamatan in another order: a new cache key, the same query
            order = slugs[:]
            shuffler.shuffle(order)
            return f"/v1/dashboard/steps?kecamatan={','.join(order)}"

        def far_to(i: int) -> str:  # the same rows (to = a far-future date), a new cache key
            return (
                f"/v1/dashboard/steps?kecamatan={SINGLE_KECAMATAN}&from=2000-01-01"
                f"&to={(far - timedelta(days=i)).isoformat()}"
            )

        n, c = params.summary_requests, params.context_requests
        stride = max(1, n // max(1, c))
        summary_kab = Target("summary_kabupaten", "/v1/dashboard/summary", n)
        summary_kec = Target("summary_kecamatan", f"/v1/dashboard/summary?kecamatan={SINGLE_KECAMATAN}", n)
        targets = [
            Target("healthz", "/healthz", n),
            Target("empty_summary_kabupaten", "/v1/dashboard/summary?from=2000-01-01&to=2000-01-01", n),
            Target(
                "empty_summary_kecamatan",
                f"/v1/dashboard/summary?kecamatan={SINGLE_KECAMATAN}&from=2000-01-01&to=2000-01-01",
                n,
            ),
            summary_kab,
            summary_kec,
            Target(
                "steps_kabupaten_uncached",
                "/v1/dashboard/steps?kecamatan=<the 13 slugs>",
                c,
                stride,
                all_slugs,
                "the 13 kecamatan named in a different order each request: a new result-cache key, the same query",
            ),
            Target(
                "steps_kecamatan_uncached",
                f"/v1/dashboard/steps?kecamatan={SINGLE_KECAMATAN}&from=2000-01-01&to=<2099>",
                c,
                stride,
                far_to,
                "a different far-future `to` each request: a new result-cache key, the same rows",
            ),
            Target(
                "steps_kabupaten_cached",
                "/v1/dashboard/steps",
                c,
                stride,
                note="the same URL again: answered from queries.ResultCache (the projection does not move here)",
            ),
            Target("overdue_kabupaten", "/v1/dashboard/overdue", c, stride),
            Target("overdue_kecamatan", f"/v1/dashboard/overdue?kecamatan={SINGLE_KECAMATAN}", c, stride),
        ]
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120.0, trust_env=False) as client:
            # right after the rebuild: the new tables' visibility map is (mostly) unset until a vacuum
            after_rebuild = {"visibility": _visibility(engine)}
            after_rebuild["latency"] = latency_rounds(
                client,
                [Target(t.name, t.path, params.before_vacuum_requests) for t in (summary_kab, summary_kec)],
                3,
                params.seconds_cap,
            )
            vacuum_seconds = _vacuum(engine, "dashboard.complaints, dashboard.step_times")
            steady = {"vacuum_analyze_seconds": vacuum_seconds, "visibility": _visibility(engine)}
            meter = CpuMeter()
            meter.add_self("client")
            meter.add_process_tree("api", api.pid)
            meter.add_process_tree("postgres", ctx.postmaster_pid)
            meter.start()
            latency = latency_rounds(client, targets, params.warmup_requests, params.seconds_cap)
            latency_cpu = meter.stop()
            overdue_total = client.get("/v1/dashboard/overdue?limit=1").json()["total"]
            summary = client.get("/v1/dashboard/summary").json()["total"]
            meter.start()
            exports = export_rounds(client, SINGLE_KECAMATAN, year, params.exports)
            export_cpu = meter.stop()
        ctx.processes.check_alive(api)
    finally:
        ctx.processes.stop(api)
    exports["rows_expected"] = registered
    return {
        "user": username,
        "latency": latency,
        "latency_cpu": latency_cpu,
        "exports": exports,
        "export_cpu": export_cpu,
        "after_rebuild_before_vacuum": after_rebuild,
        "steady_state": steady,
        "kabupaten_totals": {
            "complaints": summary["total"],
            "sla": summary["sla"],
            "by_status": summary["by_status"],
            "overdue_in_progress": overdue_total,
        },
    }


# =====================================================================================================
# the benchmark
# =====================================================================================================


def _ensure_seed_table(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {SEED_TABLE} (id bigserial PRIMARY KEY, "
                "created_at timestamptz NOT NULL DEFAULT now(), events integer NOT NULL, seed integer NOT NULL, "
                "days integer NOT NULL, first_position bigint NOT NULL, last_position bigint NOT NULL, "
                "figures jsonb NOT NULL)"
            )
        )


def _earlier_seed(engine: Engine, params: DashboardParams) -> dict[str, Any] | None:
    """A seed of the same size already in this database (an external one kept for benchmarks): reused, since
    the event store cannot be cleaned up."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                f"SELECT figures FROM {SEED_TABLE} WHERE events = :e AND seed = :s AND days = :d "
                "ORDER BY id DESC LIMIT 1"
            ),
            {"e": params.events, "s": params.seed, "d": params.days},
        ).first()
    return dict(row[0]) if row else None


def _cpu_ms(fig: dict[str, Any]) -> float | None:
    """CPU ms per 1000 events of this process and PostgreSQL together."""
    per = fig.get("cpu_per_1000_events", {})
    values = [v for k, v in per.items() if k in ("bench_process_cpu_ms", "postgres_cpu_ms") and v is not None]
    return round(sum(values), 3) if values else None


def run(ctx: RunContext, params: DashboardParams) -> dict[str, Any]:
    from services.dashboard.config import DashboardSettings
    from shared.db import make_engine

    url = ctx.servers.database_url
    engine = make_engine(DashboardSettings(database_url=url), pool_size=2)  # as `pengaduan projections rebuild`
    try:
        _ensure_seed_table(engine)
        seeded = _earlier_seed(engine, params)
        expected: dict[str, tuple] = {}
        if seeded is not None:
            log.info("reusing the %d events seeded earlier in this database", seeded["events"])
            seeded = {**seeded, "reused": True}
        else:
            seeded = seed_events(url, params, datetime.now(UTC))
            expected = {k: tuple(v) for k, v in seeded.pop("_expected").items()}
            seeded["reused"] = False
            with engine.begin() as conn:
                conn.execute(
                    text(
                        f"INSERT INTO {SEED_TABLE} (events, seed, days, first_position, last_position, figures) "
                        "VALUES (:e, :s, :d, :f, :l, CAST(:fig AS jsonb))"
                    ),
                    {
                        "e": params.events,
                        "s": params.seed,
                        "d": params.days,
                        "f": seeded["positions"][0],
                        "l": seeded["positions"][1],
                        "fig": json.dumps({**seeded, "expected": expected}),
                    },
                )
            log.info(
                "seeded %d events in %.1f s (%.0f/s)", seeded["events"], seeded["seconds"], seeded["events_per_second"]
            )
        if not expected and "expected" in seeded:
            expected = {k: tuple(v) for k, v in seeded.pop("expected").items()}
        seeded.pop("expected", None)
        # the bulk load's own vacuum and statistics, so that autovacuum does not run during the measurements
        store_vacuum_seconds = _vacuum(engine, "workflow.events")
        with engine.connect() as conn:
            store = conn.execute(
                text(
                    "SELECT count(*) AS n, count(*) FILTER (WHERE stream_id LIKE 'complaint-%') AS c "
                    "FROM workflow.events"
                )
            ).one()

        log.info("dashboard: read + decode of %d events (baseline)", store.n)
        baseline = measure_read_decode(engine, params.batch_size, ctx.postmaster_pid)
        log.info("read+decode %.0f events/s", baseline["events_per_second"])
        log.info("dashboard: rebuild of dashboard.complaints")
        rebuilt = measure_rebuild(engine, params.batch_size, ctx.postmaster_pid)
        log.info(
            "rebuild %.0f events/s (%d events in %.1f s)",
            rebuilt["events_per_second"],
            rebuilt["events"],
            rebuilt["seconds"],
        )
        check = check_streams(engine, expected) if expected else {"streams_checked": 0}
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM dashboard.complaints) AS complaints, "
                    "(SELECT count(*) FROM dashboard.step_times) AS step_times"
                )
            ).one()
        http = http_part(ctx, params, engine)  # ends with the read models vacuumed: the steady state
        log.info("dashboard: the summary from the counters vs the scan (%d rounds)", params.summary_queries)
        summary_queries = measure_summary_queries(engine, params.summary_queries, ctx.postmaster_pid)
        log.info("summary queries: %s", summary_queries["latency"])
    finally:
        engine.dispose()
    log.info("dashboard: the export writers (%d rows each)", params.export_rows)
    writers = measure_export_writers(params.export_rows, params.export_rows_before)

    lat = http["latency"]
    rate = rebuilt["events_per_second"]
    p99s = {k: lat[k]["p99_ms"] for k in ("summary_kabupaten", "summary_kecamatan")}
    ex = http["exports"]
    figures: dict[str, Any] = {
        "parameters": {
            "events": params.events,
            "days": params.days,
            "seed": params.seed,
            "batch_size": params.batch_size,
            "summary_requests": params.summary_requests,
            "context_requests": params.context_requests,
            "warmup_requests": params.warmup_requests,
            "exports_per_format": params.exports,
            "api": "pengaduan api dashboard (one uvicorn process), one request at a time over one keep-alive connection",
            "user": "a kabupaten user of Pamekasan (personal data masked)",
        },
        "seeding": seeded,
        "store": {
            "events": store.n,
            "complaint_stream_events": store.c,
            "vacuum_analyze_seconds_after_seeding": store_vacuum_seconds,
        },
        "read_models": {"complaints": rows.complaints, "step_times": rows.step_times},
        "rebuild": rebuilt,
        "read_decode": baseline,
        "stream_check": check,
        "latency": lat,
        "latency_cpu": http["latency_cpu"],
        "after_rebuild_before_vacuum": http["after_rebuild_before_vacuum"],
        "steady_state": http["steady_state"],
        "exports": ex,
        "export_cpu": http["export_cpu"],
        "export_writers": writers,
        "summary_queries": summary_queries,
        "kabupaten_totals": http["kabupaten_totals"],
        "ratios": {
            "rebuild_over_read_decode": ratio(rate, baseline["events_per_second"]),
            "rebuild_events_per_second_over_target_20000": ratio(rate, TARGET_EVENTS_PER_SECOND),
            # CPU per event (this process + PostgreSQL) is steadier than a rate on a shared machine
            "rebuild_cpu_per_event_over_read_decode": ratio(_cpu_ms(rebuilt), _cpu_ms(baseline)),
            "summary_kabupaten_p50_over_empty_summary_p50": ratio(
                lat["summary_kabupaten"]["p50_ms"], lat["empty_summary_kabupaten"]["p50_ms"]
            ),
            "summary_kabupaten_p99_over_empty_summary_p99": ratio(
                lat["summary_kabupaten"]["p99_ms"], lat["empty_summary_kabupaten"]["p99_ms"]
            ),
            "summary_kecamatan_p50_over_empty_summary_p50": ratio(
                lat["summary_kecamatan"]["p50_ms"], lat["empty_summary_kecamatan"]["p50_ms"]
            ),
            "summary_kabupaten_p50_over_healthz_p50": ratio(
                lat["summary_kabupaten"]["p50_ms"], lat["healthz"]["p50_ms"]
            ),
            "steps_kabupaten_uncached_p50_over_empty_summary_p50": ratio(
                lat["steps_kabupaten_uncached"]["p50_ms"], lat["empty_summary_kabupaten"]["p50_ms"]
            ),
            "overdue_kabupaten_p50_over_empty_summary_p50": ratio(
                lat["overdue_kabupaten"]["p50_ms"], lat["empty_summary_kabupaten"]["p50_ms"]
            ),
            "xlsx_p50_over_json_page_p50": ratio(ex["xlsx"]["p50_ms"], ex["json_page"]["p50_ms"]),
            "csv_p50_over_json_page_p50": ratio(ex["csv"]["p50_ms"], ex["json_page"]["p50_ms"]),
        },
        "target": {
            "rebuild_events_per_second_at_least": TARGET_EVENTS_PER_SECOND,
            "rebuild_met": rate is not None and rate >= TARGET_EVENTS_PER_SECOND,
            "summary_p99_below_ms": TARGET_P99_MS,
            "summary_met": all(v is not None and v < TARGET_P99_MS for v in p99s.values()),
        },
    }
    log.info(
        "summary p50/p99 ms: kabupaten %s/%s, kecamatan %s/%s (empty %s/%s)",
        lat["summary_kabupaten"]["p50_ms"],
        lat["summary_kabupaten"]["p99_ms"],
        lat["summary_kecamatan"]["p50_ms"],
        lat["summary_kecamatan"]["p99_ms"],
        lat["empty_summary_kabupaten"]["p50_ms"],
        lat["empty_summary_kabupaten"]["p99_ms"],
    )
    return figures


# =====================================================================================================
# 5. the export writers: CPU a row and memory (issue #20 item 4)
# =====================================================================================================
EXPORT_WAYS = ("lines", "csv", "openpyxl_write_only", "xlsx", "xlsx_before")


def _export_lines(n: int) -> Iterator[list]:
    """``n`` Buku Rekap lines as the API makes them (``domain.register.line`` of a full row), made as they are written."""
    from zoneinfo import ZoneInfo

    from services.dashboard.domain import register as book

    tz = ZoneInfo("Asia/Jakarta")
    t0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    for i in range(n):
        received = t0 + timedelta(minutes=11 * i)
        row = {
            "complaint_id": uuid.uuid4(),
            "tracking_code": "7KQ2-M9XD-4T",
            "register_number": i + 1,
            "register_year": 2026,
            "received_at": received,
            "complainant_name": f"{FIRST_NAMES[i % len(FIRST_NAMES)]} Aminah",
            "complainant_address": f"Dusun Krajan RT {i % 9:02d}/RW 02, Desa Bunangka",
            "channel": CHANNELS[i % len(CHANNELS)][0],
            "subject": "Jalan desa rusak berlubang di depan balai desa, mohon segera diperbaiki",
            "status": "closed",
            "outcome": "resolved",
            "disposition_unit": "pemerintahan",
            "disposition_instructions": "Koordinasikan dengan desa dan laporkan hasilnya.",
            "follow_up": "Sudah ditinjau bersama kepala desa; perbaikan dijadwalkan.",
            "letter_number": f"000.8.3.4/{i + 1}/432.312/2026",
            "letter_signed_at": received + timedelta(days=6),
            "sent_at": received + timedelta(days=7) if i % 5 else None,
            "category": "infrastruktur",
        }
        yield book.line(row, False, tz, {"infrastruktur": "Infrastruktur"})


def _xlsx_as_before(lines, *, kecamatan: str, kabupaten: str, period: str, generated: str) -> bytes:
    """The Buku Rekap's XLSX as ``services/dashboard/adapters/exports.py`` wrote it before issue #20 (a whole
    openpyxl workbook in memory, a style set cell by cell): the "before" of the writers' part."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    from services.dashboard.adapters.exports import _NOT_IN_XLSX, DATE_COLUMNS, HEADER_ROW, TITLE
    from services.dashboard.domain.register import COLUMNS

    def put(cell, value):
        if isinstance(value, str):
            cell.value = _NOT_IN_XLSX.sub("\ufffd", value)
            cell.data_type = "s"
        else:
            cell.value = value
        return cell

    wb = Workbook()
    ws = wb.active
    ws.title = "Buku Rekap"
    last = get_column_letter(len(COLUMNS))
    for row, (text_, font) in enumerate(
        (
            (TITLE, Font(bold=True, size=14)),
            (f"KECAMATAN {kecamatan.upper()} - {kabupaten.upper()}", Font(bold=True)),
            (period, Font(size=11)),
        ),
        start=1,
    ):
        put(ws.cell(row=row, column=1), text_).font = font
        ws.cell(row=row, column=1).alignment = Alignment(horizontal="center")
        ws.merge_cells(f"A{row}:{last}{row}")
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for col, (name, width) in enumerate(COLUMNS, start=1):
        cell = put(ws.cell(row=HEADER_ROW, column=col), name)
        cell.font, cell.fill, cell.border = Font(bold=True), PatternFill("solid", fgColor="D9D9D9"), border
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(col)].width = width
    wrap = Alignment(vertical="top", wrap_text=True)
    count = 0
    for r, values in enumerate(lines, start=HEADER_ROW + 1):
        count += 1
        for col, value in enumerate(values, start=1):
            cell = put(ws.cell(row=r, column=col), value if value != "" else None)
            cell.alignment = wrap
            cell.border = border
            if col - 1 in DATE_COLUMNS and isinstance(value, datetime):
                cell.number_format = DATE_COLUMNS[col - 1]
    put(ws.cell(row=HEADER_ROW + count + 2, column=1), f"Jumlah: {count} pengaduan. Dicetak {generated}.")
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.freeze_panes = ws.cell(row=HEADER_ROW + 1, column=1)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def export_probe(way: str, n: int) -> dict[str, Any]:
    """One writer over ``n`` lines, in this (fresh) process, into a temporary file on disk: CPU seconds (this
    process) and how much its peak RSS grew while writing. Run by ``measure_export_writers`` in a child each."""
    import resource
    import tempfile

    from openpyxl import Workbook

    from services.dashboard.adapters import exports

    kw = {"kecamatan": "Pegantenan", "kabupaten": "Pamekasan", "period": "Periode: semua", "generated": "-"}
    list(_export_lines(50))  # imports and first calls out of the measurement
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu_before = time.process_time()
    with tempfile.TemporaryFile() as out:
        if way == "lines":
            for _ in _export_lines(n):
                pass
        elif way == "csv":
            exports.write_csv(out, _export_lines(n))
        elif way == "xlsx":
            exports.write_xlsx(out, _export_lines(n), **kw)
        elif way == "xlsx_before":
            out.write(_xlsx_as_before(_export_lines(n), **kw))
        elif way == "openpyxl_write_only":  # openpyxl's own streaming writer, values only (no styles)
            wb = Workbook(write_only=True)
            ws = wb.create_sheet("Buku Rekap")
            for values in _export_lines(n):
                ws.append(values)
            wb.save(out)
        else:
            raise ValueError(way)
        cpu = time.process_time() - cpu_before
        size = out.seek(0, io.SEEK_END)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "way": way,
        "rows": n,
        "cpu_s": round(cpu, 3),
        "cpu_ms_per_row": round(cpu * 1000 / n, 4),
        "peak_rss_growth_mb": round((rss_after - rss_before) / 1024, 1),
        "bytes": size,
    }


def measure_export_writers(rows: int, rows_before: int) -> dict[str, Any]:
    """Each writer in a fresh child process (its own peak RSS), all over the same lines. Ratios: the streamed
    XLSX's CPU a row to the CSV's and to openpyxl's bare write-only loop; before over after."""
    import resource
    import subprocess
    import sys

    found = {}
    meter = CpuMeter()
    meter.start()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    for way in EXPORT_WAYS:
        n = rows_before if way == "xlsx_before" else rows
        code = f"import json; from bench.dashboard import export_probe; print(json.dumps(export_probe({way!r}, {n})))"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=900)
        found[way] = json.loads(done.stdout.strip().splitlines()[-1])
        log.info("export writer %s: %s", way, found[way])
    cpu = meter.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    ours = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    if cpu.get("wall_seconds") and cpu.get("machine_cores"):  # the children are this part's own work, not others'
        cpu["children_seconds"] = round(ours, 3)
        cpu["other_seconds"] = round(max(0.0, cpu["machine_busy_seconds"] - ours), 3)
        cpu["other_share"] = round(cpu["other_seconds"] / (cpu["wall_seconds"] * cpu["machine_cores"]), 3)
    per_row = {w: f["cpu_ms_per_row"] for w, f in found.items()}
    return {
        "ways": found,
        "cpu": cpu,
        "method": (
            "each writer in a fresh child process over the same generated Buku Rekap lines (domain.register.line of "
            "full rows), into a temporary file on disk; CPU = the child's process_time around the write (the lines' "
            "making included: 'lines' alone is that part); RSS growth = ru_maxrss after minus before"
        ),
        "ratios": {
            "xlsx_cpu_per_row_over_csv": ratio(per_row["xlsx"], per_row["csv"]),
            "xlsx_cpu_per_row_over_openpyxl_write_only": ratio(per_row["xlsx"], per_row["openpyxl_write_only"]),
            "xlsx_before_cpu_per_row_over_xlsx": ratio(per_row["xlsx_before"], per_row["xlsx"]),
            "xlsx_rss_growth_over_csv": ratio(
                found["xlsx"]["peak_rss_growth_mb"] or 0.1, found["csv"]["peak_rss_growth_mb"] or 0.1
            ),
        },
        "target": {
            "xlsx_cpu_s_for_50000_rows_below": 2.0,
            "xlsx_cpu_s_for_50000_rows": round(per_row["xlsx"] * 50, 2),
            "met": per_row["xlsx"] * 50 < 2.0,
        },
    }


# =====================================================================================================
# 6. the summary from the counters, against the scan it replaced (issue #20 item 4)
# =====================================================================================================
def measure_summary_queries(engine: Engine, requests: int, postmaster_pid: int | None = None) -> dict[str, Any]:
    """``queries.summary`` (the counters) and ``queries.summary_scan`` (every row of the period: the summary as it
    was), in this process on one connection, taking turns, for the kabupaten's 13 kecamatan and for one, over the
    whole history, one year (with part-months at both ends) and one month. p50/p99 ms; the answers compared; the
    CPU of this process and PostgreSQL over the timed rounds, and ``other_share``: p99s of a few ms move with
    whatever else the machine runs."""
    from services.dashboard.adapters import queries as q
    from shared.tenancy import demo_kecamatan

    slugs = [k.slug for k in demo_kecamatan()]
    now = datetime.now(UTC)
    today = now.date()
    periods = {
        "all": q.Period(),
        "year": q.Period(today - timedelta(days=365 + 17), today - timedelta(days=17)),
        "month": q.Period(today.replace(day=1) - timedelta(days=62), today.replace(day=1) - timedelta(days=32)),
    }
    targets = {}
    for scope, ks in (("kabupaten", slugs), ("kecamatan", [SINGLE_KECAMATAN])):
        for name, period in periods.items():
            targets[f"{scope}_{name}"] = (ks, period)
    samples: dict[str, list[float]] = {f"{t}_{way}": [] for t in targets for way in ("counters", "scan")}
    equal = {}
    meter = CpuMeter()
    meter.add_self("bench_process")
    meter.add_process_tree("postgres", postmaster_pid)
    with engine.connect() as conn:
        for t, (ks, period) in targets.items():
            equal[t] = q.summary(conn, ks, period, now) == q.summary_scan(conn, ks, period, now)
        meter.start()
        for i in range(requests):
            for t, (ks, period) in targets.items():
                for way, fn in (("counters", q.summary), ("scan", q.summary_scan))[:: 1 if i % 2 else -1]:
                    started = time.perf_counter()
                    fn(conn, ks, period, now)
                    samples[f"{t}_{way}"].append(time.perf_counter() - started)  # seconds
            conn.rollback()
        cpu = meter.stop()
    lat = {k: latency_summary_ms(v) for k, v in samples.items()}
    return {
        "requests": requests,
        "latency": lat,
        "answers_equal": equal,
        "cpu": cpu,
        "ratios": {
            f"{t}_scan_p99_over_counters_p99": ratio(lat[f"{t}_scan"]["p99_ms"], lat[f"{t}_counters"]["p99_ms"])
            for t in targets
        },
        "target": {
            "p99_below_ms": 50.0,
            "met": all(lat[f"{t}_counters"]["p99_ms"] < 50.0 for t in targets),
        },
        "method": "in this process, one connection, the two ways taking turns (order swapped every round)",
    }


# =====================================================================================================
# the table (bench/report.py's six columns)
# =====================================================================================================


def table_rows(fig: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    from bench.report import _fmt

    if "rebuild" not in fig:
        return [("dashboard", "failed", str(fig.get("error", ""))[:60], "", "", "")]
    r, lat, ex, t = fig["ratios"], fig["latency"], fig["exports"], fig["target"]
    s = fig["seeding"]

    pre = fig["after_rebuild_before_vacuum"]["latency"]["summary_kabupaten"]

    def pp(name: str) -> str:
        return f"{_fmt(lat[name]['p50_ms'])} / {_fmt(lat[name]['p99_ms'])}"

    return [
        (
            "dashboard",
            "seeded events (s, events/s)",
            f"{s['events']:,}",
            "reused" if s.get("reused") else f"{_fmt(s['seconds'])} s, {_fmt(s['events_per_second'], 0)}/s",
            "",
            "",
        ),
        (
            "dashboard",
            f"rebuild events/s ({fig['rebuild']['events']:,} events)",
            _fmt(fig["rebuild"]["events_per_second"], 0),
            f"{_fmt(fig['read_decode']['events_per_second'], 0)} read+decode",
            _fmt(r["rebuild_over_read_decode"], 3),
            f">= 20,000/s {'met' if t['rebuild_met'] else 'NOT met'}",
        ),
        (
            "dashboard",
            "summary kabupaten p50 / p99 ms",
            pp("summary_kabupaten"),
            f"{pp('empty_summary_kabupaten')} empty",
            _fmt(r["summary_kabupaten_p50_over_empty_summary_p50"], 2),
            f"p99 < 100 ms {'met' if t['summary_met'] else 'NOT met'}",
        ),
        (
            "dashboard",
            "summary 1 kecamatan p50 / p99 ms",
            pp("summary_kecamatan"),
            f"{pp('empty_summary_kecamatan')} empty",
            _fmt(r["summary_kecamatan_p50_over_empty_summary_p50"], 2),
            "",
        ),
        (
            "dashboard",
            "summary kabupaten before VACUUM p50 / p99",
            f"{_fmt(pre['p50_ms'])} / {_fmt(pre['p99_ms'])}",
            "right after the rebuild",
            "",
            "",
        ),
        ("dashboard", "healthz p50 / p99 ms", pp("healthz"), "", "", ""),
        (
            "dashboard",
            "steps kabupaten uncached p50 / p99 ms",
            pp("steps_kabupaten_uncached"),
            f"{pp('steps_kabupaten_cached')} cached",
            _fmt(r["steps_kabupaten_uncached_p50_over_empty_summary_p50"], 2),
            "",
        ),
        (
            "dashboard",
            "overdue kabupaten p50 / p99 ms",
            pp("overdue_kabupaten"),
            "",
            _fmt(r["overdue_kabupaten_p50_over_empty_summary_p50"], 2),
            "",
        ),
        (
            "dashboard",
            f"register xlsx p50 ms ({ex['csv_rows']:,} rows)",
            _fmt(ex["xlsx"]["p50_ms"]),
            f"{_fmt(ex['json_page']['p50_ms'])} JSON page",
            _fmt(r["xlsx_p50_over_json_page_p50"], 2),
            "",
        ),
        (
            "dashboard",
            f"register csv p50 ms ({ex['csv_rows']:,} rows)",
            _fmt(ex["csv"]["p50_ms"]),
            f"{_fmt(ex['json_page']['p50_ms'])} JSON page",
            _fmt(r["csv_p50_over_json_page_p50"], 2),
            "",
        ),
        *_writer_rows(fig, _fmt),
        *_summary_query_rows(fig, _fmt),
    ]


def _writer_rows(fig: dict[str, Any], _fmt) -> list[tuple[str, str, str, str, str, str]]:
    w = fig.get("export_writers")
    if not w:
        return []
    ways, r = w["ways"], w["ratios"]

    def cell(way: str) -> str:
        f = ways[way]
        return f"{_fmt(f['cpu_ms_per_row'], 4)} ms/row, +{_fmt(f['peak_rss_growth_mb'], 1)} MB"

    n = ways["xlsx"]["rows"]
    return [
        (
            "dashboard",
            f"xlsx writer CPU/row, RSS growth ({n:,} rows)",
            cell("xlsx"),
            f"{cell('csv')} csv",
            _fmt(r["xlsx_cpu_per_row_over_csv"], 2),
            f"{n:,} rows < 2 s CPU {'met' if w['target']['met'] else 'NOT met'}",
        ),
        (
            "dashboard",
            "xlsx writer vs openpyxl write-only (values only)",
            cell("xlsx"),
            cell("openpyxl_write_only"),
            _fmt(r["xlsx_cpu_per_row_over_openpyxl_write_only"], 2),
            "",
        ),
        (
            "dashboard",
            f"xlsx writer before ({ways['xlsx_before']['rows']:,} rows)",
            cell("xlsx_before"),
            f"{cell('xlsx')} after",
            _fmt(r["xlsx_before_cpu_per_row_over_xlsx"], 1),
            "before / after",
        ),
    ]


def _summary_query_rows(fig: dict[str, Any], _fmt) -> list[tuple[str, str, str, str, str, str]]:
    sq = fig.get("summary_queries")
    if not sq:
        return []
    lat, r = sq["latency"], sq["ratios"]
    rows = []
    for t in ("kabupaten_all", "kecamatan_all", "kabupaten_year", "kabupaten_month"):
        c, s_ = lat[f"{t}_counters"], lat[f"{t}_scan"]
        rows.append(
            (
                "dashboard",
                f"summary query {t.replace('_', ' ')} p50 / p99 ms",
                f"{_fmt(c['p50_ms'])} / {_fmt(c['p99_ms'])}",
                f"{_fmt(s_['p50_ms'])} / {_fmt(s_['p99_ms'])} scan",
                _fmt(r[f"{t}_scan_p99_over_counters_p99"], 1),
                f"p99 < 50 ms {'met' if c['p99_ms'] < 50 else 'NOT met'}"
                + ("" if sq["answers_equal"][t] else ", answers DIFFER")
                + (f", other_share {share}" if (share := sq.get("cpu", {}).get("other_share")) is not None else ""),
            )
        )
    return rows


def write_table(fig: dict[str, Any], out: TextIO) -> None:
    from bench.report import NOISY_SHARE

    header = ("benchmark", "measure", "value", "baseline", "ratio", "target")
    rows = table_rows(fig)
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    out.writelines("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() + "\n" for r in [header, *rows])  # noqa: B905
    windows = (
        fig.get("rebuild", {}).get("cpu", {}),
        fig.get("read_decode", {}).get("cpu", {}),
        fig.get("latency_cpu", {}),
        fig.get("export_cpu", {}),
        fig.get("export_writers", {}).get("cpu", {}),
        fig.get("summary_queries", {}).get("cpu", {}),
    )
    shares = [c.get("other_share") for c in windows]
    shares = [s for s in shares if isinstance(s, (int, float))]
    if shares and max(shares) >= NOISY_SHARE:
        out.write(
            f"note: other processes used up to {max(shares):.0%} of the machine during dashboard; "
            "its figures are less trustworthy (see cpu.other_share in the JSON)\n"
        )
