"""The restore drill (issue #19 item 3, docs/adr/0025): a backup taken while complaints pour in, restored into a
fresh database and document store, the system started on it.

The source system runs in a database and a document store of its own on the session's PostgreSQL server, with
broker queues of its own (a Redis database index nobody else uses), as real processes: intake's API, the relay,
the workflow and letters workers, the projections. Complaints come in through the API (with a KTP scan: documents
in the store), some are walked through the steps (register numbers; signed, numbered letters), and a thread keeps
submitting while ``pengaduan backup`` runs. ``pengaduan restore`` puts the backup into a second database and store;
the system is started on those and must hold every complaint acknowledged before the backup began, rebuild its
projections to what was restored, give register and letter numbers after the restored ones, and serve every
document with its hash (and every signed letter with a valid signature)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url

from pengaduan import backup
from services.accounts.handlers import add_user
from services.dashboard.entrypoints.projections import NAMES as PROJECTIONS
from services.dashboard.entrypoints.projections import status as projection_status
from services.intake.adapters.tables import submissions
from services.letters.adapters.tables import documents
from services.letters.bootstrap import bootstrap as letters_bootstrap
from services.letters.config import LettersSettings
from services.letters.entrypoints.api import create_app as letters_app
from services.workflow import handlers
from services.workflow.adapters.postgres import PostgresCounters
from services.workflow.adapters.tables import complaints, counters
from services.workflow.bootstrap import bootstrap
from shared.config import Settings
from shared.db import make_engine
from shared.embedded import free_port, wait_for_port
from shared.migrate import migrate
from shared.storage import LocalDocumentStore, store_from_settings
from shared.tenancy import demo_kecamatan, upsert_kecamatan
from tests.conftest import broker_env
from tests.integration.test_storage_s3 import ACCESS_KEY as S3_ACCESS_KEY
from tests.integration.test_storage_s3 import SECRET_KEY as S3_SECRET_KEY
from tests.integration.test_storage_s3 import s3_endpoint  # noqa: F401 (a fixture: moto's S3 server)
from tests.support.complaints import valid_body
from tests.support.organisation import give_heads
from tests.support.processes import env_for, wait_until
from tests.unit.test_attachments import tiny_png

KECAMATAN = "pegantenan"
OTHER = "galis"  # a kecamatan the drill gives no number in before the backup
CAMAT = "camat.pegantenan"
BEFORE = 8  # complaints with a KTP scan before the backup
WALK_TO_STEP_10 = [
    ("verify-identity", "kasi", {}),
    ("register", "staf", {}),
    ("dispose", "camat", {"unit": "pemerintahan", "instructions": "Tindak lanjuti"}),
    ("clarify", "kasi", {"explanation": "Jalan akan diperbaiki pada bulan Januari."}),
    ("request-letter", "kasi", {}),
    ("draft-letter", "staf", {"perihal": "Tanggapan atas pengaduan", "body": "Perbaikan telah dijadwalkan."}),
    ("review-letter", "sekcam", {"approved": True}),
    ("duplicate-letter", "staf", {}),
]


@dataclass
class System:
    """One deployment's places: its database, document store, broker queues and data dir (signing keys)."""

    settings: Settings
    engine: Engine
    env: dict[str, str]


@dataclass
class Drill:
    source: System
    backup: Path
    started: float  # time.time() when `pengaduan backup` was started
    finished: float
    acknowledged: list[tuple[float, float, str]] = field(default_factory=list)  # (sent, answered, tracking code)
    letter_numbers: set[str] = field(default_factory=set)  # given out before the backup
    at_step_10: uuid.UUID | None = None  # walked to step 10 before the backup, signed after the restore
    backup_seconds: float = 0.0


def _database(base_url: str, name: str) -> str:
    """A new database ``name`` on the session's server; its URL."""
    url = make_url(base_url)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def _drop(base_url: str, name: str) -> None:
    admin = make_url(base_url).set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _system(base: Settings, database_url: str, redis_db: int, store: Path, data_dir: Path) -> System:
    redis = make_url(base.redis_url.replace("redis://", "postgresql://")).set(database=str(redis_db))
    redis_url = redis.render_as_string(hide_password=False).replace("postgresql://", "redis://")
    settings = base.model_copy(
        update={
            "database_url": database_url,
            "redis_url": redis_url,
            "broker_url": None,
            "document_store_url": store.as_uri(),
            "data_dir": str(data_dir),
        }
    )
    import redis as redis_client

    redis_client.Redis.from_url(redis_url).flushdb()  # its queues start empty, as a new deployment's would
    env = env_for(
        settings,
        **broker_env(settings),
        PENGADUAN_DOCUMENT_STORE_URL=settings.document_store_url,
        PENGADUAN_DATA_DIR=settings.data_dir,
    )
    return System(settings, make_engine(settings, pool_size=5), env)


def _pengaduan(system: System, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pengaduan", *args],
        env=system.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _start(spawn, system: System, intake_port: int | None = None) -> list:
    """The processes of the system that matter here (notify is left out: its queue waits, harmlessly); the
    projections last but for intake's API."""
    own = {
        "settings_": system.settings,
        "PENGADUAN_DOCUMENT_STORE_URL": system.settings.document_store_url,
        "PENGADUAN_DATA_DIR": system.settings.data_dir,
    }
    started = [
        spawn("relay", **own),
        spawn("worker", "workflow", "--concurrency", "2", **own),
        spawn("worker", "letters", "--concurrency", "1", **own),
        # its reconcilers publish again what the restored outbox and ledgers say was handed over, but the lost
        # broker never delivered
        spawn("scheduler", **own),
        spawn("projections", "run", **own),
    ]
    if intake_port:
        started.append(spawn("api", "intake", "--port", str(intake_port), **own))
        wait_for_port("127.0.0.1", intake_port, timeout=60)
    return started


def _act(wf, cid: uuid.UUID, action: str, role: str, fields: dict, version: int):
    return handlers.act(
        wf,
        cid,
        action,
        fields,
        expected_version=version,
        user_id=CAMAT if role == "camat" else f"{role}.{KECAMATAN}",
        role=role,
        unit="pemerintahan",
        kecamatan=KECAMATAN,
        at=datetime.now(UTC),
        correlation_id=uuid.uuid4(),
    )


def _complaint_id(engine: Engine, code: str) -> uuid.UUID | None:
    with engine.connect() as conn:
        return conn.execute(select(complaints.c.complaint_id).where(complaints.c.tracking_code == code)).scalar()


def _recorded(engine: Engine, codes: list[str]) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(select(complaints.c.tracking_code).where(complaints.c.tracking_code.in_(codes))).scalars()
        )


def _issued(wf, cid: uuid.UUID):
    return next((e for e in wf.store.read_stream(f"complaint-{cid}") if e.type == "workflow.LetterIssued"), None)


def _walk_and_sign(wf, cid: uuid.UUID, *, sign: bool) -> str | None:
    for version, (action, role, fields) in enumerate(WALK_TO_STEP_10, start=1):
        _act(wf, cid, action, role, fields, version)
    if not sign:
        return None
    state = _act(wf, cid, "sign-letter", "camat", {}, len(WALK_TO_STEP_10) + 1)
    return state.letter_number


@pytest.fixture(scope="module")
def places(base_settings, tmp_path_factory):
    suffix = uuid.uuid4().hex[:8]
    names = {"source": f"pengaduan_drill_src_{suffix}", "restored": f"pengaduan_drill_dst_{suffix}"}
    urls = {k: _database(base_settings.database_url, n) for k, n in names.items()}
    root = tmp_path_factory.mktemp("drill")
    yield urls, root
    for n in names.values():
        _drop(base_settings.database_url, n)


@pytest.fixture(scope="module")
def drill(base_settings, places, artifacts_dir) -> Drill:
    """The source system run under load and backed up; its processes stopped again (the crash)."""
    urls, root = places
    source = _system(base_settings, urls["source"], 11, root / "documents-source", root / "data")
    migrate(source.settings.database_url)
    upsert_kecamatan(source.engine, demo_kecamatan())
    give_heads(source.engine, KECAMATAN, ("pemerintahan",))
    add_user(source.engine, CAMAT, "Drs. H. Moh. Ma'ruf, M.Si.", "camat", "rahasia-uji-123", kecamatan=KECAMATAN)

    from tests.support.processes import Process

    started: list[Process] = []

    def spawn(*args: str, settings_: Settings, **extra: str) -> Process:
        own = env_for(settings_, **{**broker_env(settings_), **extra})
        p = Process(list(args), own, artifacts_dir / "logs").start()
        started.append(p)
        return p

    port = free_port()
    wf = bootstrap(source.settings)
    result = Drill(source=source, backup=root, started=0.0, finished=0.0)
    try:
        _start(spawn, source, intake_port=port)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            # complaints with a KTP scan (each a document of its own in the store)
            for i in range(BEFORE):
                body = valid_body(subject=f"Jalan desa rusak {i}") | {"id_kind": "ktp"}
                sent = time.time()
                r = client.post(
                    "/v1/complaints/form",
                    data={"complaint": json.dumps(body)},
                    files=[("identitas", (f"ktp-{i}.png", tiny_png(9000 + i), "image/png"))],
                )
                assert r.status_code == 202, r.text
                result.acknowledged.append((sent, time.time(), r.json()["tracking_code"]))
            codes = [c for _, _, c in result.acknowledged]
            wait_until(lambda: _recorded(source.engine, codes) == set(codes), timeout=120, message="the complaints")

            # two letters signed and issued, one complaint left at step 10, two more registered
            ids = [_complaint_id(source.engine, c) for c in codes]
            signed = ids[:2]
            for cid in signed:
                result.letter_numbers.add(_walk_and_sign(wf, cid, sign=True))
            _walk_and_sign(wf, ids[2], sign=False)
            result.at_step_10 = ids[2]
            for cid in ids[3:5]:
                _act(wf, cid, "verify-identity", "kasi", {}, 1)
                _act(wf, cid, "register", "staf", {}, 2)
            wait_until(lambda: all(_issued(wf, c) for c in signed), timeout=180, message="the signed letters")

            # the load: a thread submitting while the backup runs
            stop = threading.Event()

            def submit_until_stopped() -> None:
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as own:
                    n = 0
                    while not stop.is_set():
                        sent = time.time()
                        r = own.post("/v1/complaints", json=valid_body(subject=f"Lampu jalan mati {n}"))
                        if r.status_code == 202:
                            result.acknowledged.append((sent, time.time(), r.json()["tracking_code"]))
                        n += 1
                        stop.wait(0.05)

            loader = threading.Thread(target=submit_until_stopped)
            loader.start()
            try:
                wait_until(lambda: len(result.acknowledged) >= BEFORE + 10, timeout=60, message="load")
                result.started = time.time()
                done = _pengaduan(source, "backup", str(root / "backups"))
                result.finished = time.time()
                assert done.returncode == 0, done.stderr
                wait_until(
                    lambda: any(sent > result.finished for sent, _, _ in result.acknowledged),
                    timeout=30,
                    message="a complaint acknowledged after the backup",
                )
            finally:
                stop.set()
                loader.join(timeout=60)
            (result.backup,) = (root / "backups").iterdir()
            result.backup_seconds = result.finished - result.started
            # after the backup, and lost with the crash: one more register number given out
            _act(wf, ids[5], "verify-identity", "kasi", {}, 1)
            _act(wf, ids[5], "register", "staf", {}, 2)
    except BaseException:
        for p in started:
            print(f"--- output of pengaduan {' '.join(p.args)} ---\n{p.output()[-3000:]}")
        raise
    finally:
        for p in started:  # the crash (a clean stop is enough: nothing of it is used again)
            p.stop()
        wf.engine.dispose()
    return result


def _numbers(engine: Engine) -> tuple[set[int], set[str]]:
    with engine.connect() as conn:
        registers = set(
            conn.execute(
                select(complaints.c.register_number).where(complaints.c.register_number.is_not(None))
            ).scalars()
        )
        letters = set(
            conn.execute(select(complaints.c.letter_number).where(complaints.c.letter_number.is_not(None))).scalars()
        ) | set(conn.execute(select(documents.c.letter_number).where(documents.c.letter_number.is_not(None))).scalars())
    return registers, letters


def _counter(engine: Engine, kind: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(counters.c.last_value).where(counters.c.kind == kind, counters.c.kecamatan == KECAMATAN)
        ).scalar_one()


def _read_models(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of the dashboard's projection tables, in a fixed order."""
    out = {}
    with engine.connect() as conn:
        for table in ("complaints", "step_times", "service_requests"):
            rows = conn.execute(text(f"SELECT * FROM dashboard.{table}")).all()
            out[table] = sorted((tuple(r) for r in rows), key=repr)
    return out


def test_a_backup_under_load_restores_into_a_fresh_database_and_store_and_the_system_runs_on(
    drill, base_settings, places, spawn
):
    urls, root = places
    manifest = backup.read_manifest(drill.backup)
    restored = _system(base_settings, urls["restored"], 12, root / "documents-restored", root / "data")

    started = time.perf_counter()
    done = _pengaduan(restored, "restore", str(drill.backup))
    restore_seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert "the last numbers given out" in done.stdout

    # every complaint acknowledged before the backup started is in the restored intake at once; those
    # acknowledged after the backup finished cannot be (committed after its snapshot)
    before = [code for _, answered, code in drill.acknowledged if answered < drill.started]
    after = [code for sent, _, code in drill.acknowledged if sent > drill.finished]
    assert len(before) >= BEFORE + 10 and after
    with restored.engine.connect() as conn:
        present = set(conn.execute(select(submissions.c.tracking_code)).scalars())
    assert set(before) <= present
    assert not set(after) & present
    # sharper: the recovery point is the snapshot; everything answered before it is in, nothing sent after it
    # (half a second later: the snapshot is taken a moment after the transaction's now()) is
    snapshot = datetime.fromisoformat(manifest["snapshot_at"]).timestamp()
    assert {code for _, answered, code in drill.acknowledged if answered < snapshot} <= present
    assert not {code for sent, _, code in drill.acknowledged if sent > snapshot + 0.5} & present
    assert len(present) == manifest["database"]["rows"]["intake.submissions"]

    # the restored numbers are the backup's: the register number given out after the backup is not among them
    registers, letters = _numbers(restored.engine)
    assert max(registers) == _counter(restored.engine, "register") == len(registers) == 5  # 3 walked, 2 registered
    assert letters == drill.letter_numbers

    # the system started on the restored database and store: the outbox's complaints reach the workflow
    processes = _start(spawn, restored)
    wait_until(
        lambda: _recorded(restored.engine, sorted(present)) == present,
        timeout=180,
        message="every restored complaint in the workflow",
    )
    first_request = time.perf_counter() - started

    # new numbers continue after the highest restored one, none reused
    wf = bootstrap(restored.settings)
    try:
        new = _complaint_id(restored.engine, min(set(before) - set(_registered_codes(restored.engine))))
        _act(wf, new, "verify-identity", "kasi", {}, 1)
        state = _act(wf, new, "register", "staf", {}, 2)
        assert state.register_number == max(registers) + 1
        letter_counter = _counter(restored.engine, handlers.OUTGOING_LETTERS)
        signed = _act(wf, drill.at_step_10, "sign-letter", "camat", {}, len(WALK_TO_STEP_10) + 1)
        assert signed.letter_number not in letters
        assert _counter(restored.engine, handlers.OUTGOING_LETTERS) == letter_counter + 1
        issued = wait_until(lambda: _issued(wf, drill.at_step_10), timeout=180, message="the new letter issued")
        assert issued.payload["letter_number"] == signed.letter_number
    finally:
        wf.engine.dispose()

    # every document the restored database names is in the restored store and hashes to its name; every signed
    # letter (the two restored and the new one) verifies
    store = store_from_settings(restored.settings.document_store_url)
    with restored.engine.connect() as conn:
        named = backup.referenced_documents(conn.connection.driver_connection)
        letter_rows = conn.execute(
            select(documents.c.id, documents.c.sha256).where(documents.c.kind == "response_letter")
        ).all()
    assert len(named) >= BEFORE + 2  # the scans, the receipts, the letters
    for sha256 in named:
        assert store.get(sha256)  # raises DocumentNotFound / DocumentCorrupted
    assert len(letter_rows) == 3
    letters_container = letters_bootstrap(LettersSettings(**restored.settings.model_dump()))
    try:
        with TestClient(letters_app(letters_container)) as client:
            for document_id, sha256 in letter_rows:
                pdf = store.get(sha256)
                verdict = client.post("/v1/letters/verify", content=pdf, headers={"content-type": "application/pdf"})
                assert verdict.json()["valid"] is True, verdict.text
                assert verdict.json()["document_id"] == str(document_id)
    finally:
        letters_container.engine.dispose()

    # the projections: caught up (the relay and workers stopped: no event comes after), then rebuilt from the
    # restored event store, equal to what they were
    for process in processes[:-1]:
        process.stop()
    _at_the_head(restored.engine)
    kept = _read_models(restored.engine)
    assert len(kept["complaints"]) == len(present)
    for name in PROJECTIONS:
        done = _pengaduan(restored, "projections", "rebuild", name)
        assert done.returncode == 0, done.stderr
    assert _read_models(restored.engine) == kept

    print(
        f"\nrestore drill: backup of {manifest['database']['rows']} and {manifest['documents']['count']} documents "
        f"in {drill.backup_seconds:.2f} s (snapshot {manifest['snapshot_at']}); restore {restore_seconds:.2f} s; "
        f"every restored complaint in the workflow {first_request:.2f} s after the restore began; "
        f"snapshot {snapshot - drill.started:.2f} s after the command started; acknowledged during the backup and "
        f"in it: {len([c for s, a, c in drill.acknowledged if a >= drill.started and s <= drill.finished and c in present])}"
        f" of {len([c for s, a, c in drill.acknowledged if a >= drill.started and s <= drill.finished])}"
    )


def _registered_codes(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(select(complaints.c.tracking_code).where(complaints.c.register_number.is_not(None))).scalars()
        )


def _at_the_head(engine: Engine) -> None:
    """The projections have applied every event of the store (nothing appends any more)."""
    with engine.connect() as conn:
        head = conn.execute(text("SELECT coalesce(max(position), 0) FROM workflow.events")).scalar_one()
    wait_until(
        lambda: all(s["checkpoint"] >= head for s in projection_status(engine)),
        timeout=60,
        message="the projections at the head",
    )


@pytest.fixture
def empty_database(base_settings):
    """A factory of new, empty databases on the session's server, dropped after the test."""
    made = []

    def make() -> str:
        name = f"pengaduan_drill_{uuid.uuid4().hex[:10]}"
        made.append(name)
        return _database(base_settings.database_url, name)

    yield make
    for name in made:
        _drop(base_settings.database_url, name)


def _relations(engine_url: str) -> int:
    with psycopg.connect(make_url(engine_url).set(drivername="postgresql").render_as_string(False)) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'"
        ).fetchone()[0]


def test_a_restore_refuses_a_database_or_a_store_that_is_not_empty_and_keys_it_lacks(
    drill, base_settings, empty_database, tmp_path
):
    manifest = backup.read_manifest(drill.backup)
    source_rows = manifest["database"]["rows"]["workflow.events"]

    # the source database itself: refused, nothing touched
    into_source = _system(base_settings, drill.source.settings.database_url, 13, tmp_path / "empty-store", tmp_path)
    done = _pengaduan(into_source, "restore", str(drill.backup))
    assert done.returncode == 1
    assert "refusing to restore into a database that is not empty" in done.stderr
    with drill.source.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM workflow.events")).scalar_one() >= source_rows

    # an empty database but a document store holding a document that is not in the backup: refused, the
    # database left empty
    url = empty_database()
    LocalDocumentStore(tmp_path / "used-store").put(b"a document of another system", "text/plain")
    into_used_store = _system(base_settings, url, 13, tmp_path / "used-store", tmp_path)
    done = _pengaduan(into_used_store, "restore", str(drill.backup))
    assert done.returncode == 1 and "refusing to restore into a document store that is not empty" in done.stderr
    assert _relations(url) == 0

    # without the key-encryption key the backup's data keys are wrapped by: refused, naming it
    from shared.privacy import KeyEncryptionKeys

    (kek,) = manifest["database"]["key_encryption_keys"]
    other = _system(base_settings, url, 13, tmp_path / "empty-store", tmp_path)
    other.env["PENGADUAN_PRIVACY_KEYS"] = json.dumps(KeyEncryptionKeys.generate("another-key"))
    done = _pengaduan(other, "restore", str(drill.backup))
    assert done.returncode == 1 and kek in done.stderr and "PENGADUAN_PRIVACY_KEYS" in done.stderr
    assert _relations(url) == 0
    assert not any((tmp_path / "empty-store").rglob("*.meta"))


def test_a_damaged_backup_is_found_by_verify_and_refused_by_restore(drill, base_settings, empty_database, tmp_path):
    copy = tmp_path / drill.backup.name
    shutil.copytree(drill.backup, copy)
    assert _pengaduan(drill.source, "backup-verify", str(copy)).returncode == 0
    victim = next(p for p in (copy / backup.DOCUMENTS).rglob("*") if p.is_file())
    victim.write_bytes(victim.read_bytes() + b"x")

    done = _pengaduan(drill.source, "backup-verify", str(copy))
    assert done.returncode == 1 and victim.name in done.stderr and "damaged" in done.stderr
    url = empty_database()
    done = _pengaduan(_system(base_settings, url, 13, tmp_path / "store", tmp_path), "restore", str(copy))
    assert done.returncode == 1 and "damaged" in done.stderr
    assert _relations(url) == 0


def test_advance_numbers_moves_every_counter_past_numbers_given_out_after_the_backup(
    drill, base_settings, empty_database, tmp_path
):
    """The source gave register number 6 after the backup (lost with the crash, but on paper), and the first
    register number of another kecamatan (a counter the backup has no row of): a restore told to skip 3 numbers
    gives 9 next, never 6 again, and 4 as that kecamatan's next, never 1 again. The event store's positions go on
    past those of the events lost with the crash."""
    year = datetime.now(ZoneInfo("Asia/Jakarta")).year
    with drill.source.engine.begin() as conn:  # the other kecamatan's first number, after the backup
        assert PostgresCounters(conn).next("register", OTHER, year) == 1
    with drill.source.engine.connect() as conn:
        lost = conn.execute(select(func.max(complaints.c.register_number))).scalar_one()
        lost_position = conn.execute(text("SELECT max(position) FROM workflow.events")).scalar_one()

    url = empty_database()
    restored = _system(base_settings, url, 13, tmp_path / "store", tmp_path)
    done = _pengaduan(restored, "restore", str(drill.backup), "--advance-numbers", "3")
    assert done.returncode == 0, done.stderr
    manifest = backup.read_manifest(drill.backup)
    before = {(c["kind"], c["kecamatan"], c["year"]): c["last_value"] for c in _backup_counters(drill)}
    with restored.engine.connect() as conn:
        after = {(r.kind, r.kecamatan, r.year): r.last_value for r in conn.execute(select(counters))}
    # every counter of the backup 3 further, and every counter it had none of (each kecamatan's register and
    # outgoing letters, the snapshot's year to this one) at 3: its next number is 4
    snapshot_year = datetime.fromisoformat(manifest["snapshot_at"]).astimezone(ZoneInfo("Asia/Jakarta")).year
    started = {
        (kind, k.slug, y): 3
        for k in demo_kecamatan()
        for y in range(snapshot_year, year + 1)
        for kind in ("register", handlers.OUTGOING_LETTERS)
    }
    assert after == started | {key: value + 3 for key, value in before.items()}
    assert ("register", OTHER, year) not in before
    assert lost == before[("register", KECAMATAN, year)] + 1  # given after the backup

    wf = bootstrap(restored.settings)
    try:
        cid = _complaint_id(
            restored.engine, min(set(_codes(restored.engine)) - set(_registered_codes(restored.engine)))
        )
        _act(wf, cid, "verify-identity", "kasi", {}, 1)
        assert _act(wf, cid, "register", "staf", {}, 2).register_number == lost + 3
    finally:
        wf.engine.dispose()
    with restored.engine.begin() as conn:
        assert PostgresCounters(conn).next("register", OTHER, year) == 4
        assert PostgresCounters(conn).next(handlers.OUTGOING_LETTERS, OTHER, year) == 4
        # the two events of the register action come after every position the source gave out, lost ones too
        new = conn.execute(
            text("SELECT min(position) FROM workflow.events WHERE position > :head"),
            {"head": manifest["database"]["event_head_position"]},
        ).scalar_one()
    assert new > lost_position
    # (past the sequence pg_dump read a moment after the snapshot, at or past the snapshot's head)
    assert new > manifest["database"]["event_head_position"] + backup.EVENT_POSITION_MARGIN
    assert f"event positions go on at {new}" in done.stdout

    # a kind that took over from others (COUNTER_SUCCESSORS: surat_keluar after letter and referral) starts
    # after the highest of them, moved too: never at a number either gave
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as conn:  # rolled back at the end
        conn.execute("DELETE FROM workflow.counters WHERE kecamatan = 'waru'")
        conn.execute(
            "INSERT INTO workflow.counters VALUES ('letter', 'waru', %(y)s, 50), ('referral', 'waru', %(y)s, 20)",
            {"y": year},
        )
        backup.advance_counters(conn, 10, datetime.now(UTC), datetime.now(UTC))
        waru = dict(conn.execute("SELECT kind, last_value FROM workflow.counters WHERE kecamatan = 'waru'"))
        conn.rollback()
    assert waru == {"letter": 60, "referral": 30, handlers.OUTGOING_LETTERS: 60, "register": 10}


def _backup_counters(drill: Drill) -> list[dict]:
    return backup.read_manifest(drill.backup)["database"]["counters"]


def _codes(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(complaints.c.tracking_code)).scalars())


def test_a_backup_restores_into_an_s3_store_and_is_taken_again_from_it(
    drill, base_settings, empty_database, s3_endpoint, tmp_path
):
    """The store is a folder in the drill; production's is a bucket: the same backup restored into one (moto's
    S3 server), every document the database names found there, and a backup of that system holds them all."""
    bucket = f"pengaduan-drill-{uuid.uuid4().hex[:12]}"
    url = f"s3://{bucket}?endpoint={s3_endpoint}&access_key={S3_ACCESS_KEY}&secret_key={S3_SECRET_KEY}&create=1"
    restored = _system(base_settings, empty_database(), 13, tmp_path / "unused", tmp_path)
    restored.settings = restored.settings.model_copy(update={"document_store_url": url})
    restored.env["PENGADUAN_DOCUMENT_STORE_URL"] = url
    done = _pengaduan(restored, "restore", str(drill.backup))
    assert done.returncode == 0, done.stderr

    store = store_from_settings(url)
    in_backup = {json.loads(line)["sha256"] for line in (drill.backup / backup.INDEX).read_text().splitlines()}
    assert set(store.ids()) == in_backup
    with restored.engine.connect() as conn:
        named = backup.referenced_documents(conn.connection.driver_connection)
    assert named and set(named) <= in_backup
    for sha256 in named:
        assert store.get(sha256)

    umask = os.umask(0o022)
    again = backup.backup(restored.settings, tmp_path / "again")
    assert os.umask(umask) == 0o022  # the caller's umask again after the backup
    assert backup.verify(again)["documents"]["count"] == len(in_backup)
    _assert_private(again)
    assert _pengaduan(restored, "restore", str(again)).returncode == 1  # the bucket and database are not empty now


def _assert_private(folder: Path) -> None:
    """The backup's folder, every folder in it 0700 and every file 0600: only its owner reads the ID scans and the
    password hashes in it."""
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    paths = list(folder.rglob("*"))
    assert {p.name for p in paths} >= {backup.MANIFEST, backup.DUMP, backup.INDEX, backup.DOCUMENTS}
    for path in paths:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {oct(mode)}"


def test_a_backup_is_readable_by_its_owner_only(drill):
    """Taken by `pengaduan backup` under the test process's umask (0022 or so: files would be 0644)."""
    _assert_private(drill.backup)


def test_a_backup_of_the_wrong_document_store_fails_and_leaves_no_folder(drill, base_settings, tmp_path):
    """PENGADUAN_DATA_DIR of another machine: a store that exists but lacks the documents the database names."""
    (tmp_path / "empty-store").mkdir()
    wrong = _system(base_settings, drill.source.settings.database_url, 13, tmp_path / "empty-store", tmp_path)
    done = _pengaduan(wrong, "backup", str(tmp_path / "backups"))
    assert done.returncode == 1
    assert "document(s) the database names are not in the document store" in done.stderr
    assert "no backup was made" in done.stderr
    assert list((tmp_path / "backups").iterdir()) == []


def test_a_failed_restore_runs_again_over_the_documents_it_put(drill, base_settings, empty_database, tmp_path):
    """The documents are put first, the database last: a restore that failed in pg_restore left the database
    empty and the store with this backup's documents, and the same restore then runs as it is."""
    damaged = tmp_path / drill.backup.name
    shutil.copytree(drill.backup, damaged)
    dump = (damaged / backup.DUMP).read_bytes()
    (damaged / backup.DUMP).write_bytes(dump[: len(dump) // 2])
    url = empty_database()
    restored = _system(base_settings, url, 13, tmp_path / "store", tmp_path)
    with pytest.raises(backup.BackupError, match="pg_restore"):
        backup.restore(restored.settings, damaged, verify_first=False)
    in_backup = {json.loads(line)["sha256"] for line in (drill.backup / backup.INDEX).read_text().splitlines()}
    store = LocalDocumentStore(tmp_path / "store")
    assert set(store.ids()) == in_backup
    assert _relations(url) == 0

    done = _pengaduan(restored, "restore", str(drill.backup))
    assert done.returncode == 0, done.stderr
    assert set(store.ids()) == in_backup
    with restored.engine.connect() as conn:
        assert set(backup.referenced_documents(conn.connection.driver_connection)) <= in_backup


def test_what_an_extension_made_does_not_make_a_database_not_empty(empty_database):
    url = make_url(empty_database()).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_buffercache")  # a view and functions in public
        assert backup._database_objects(conn) == []
        conn.execute("CREATE TABLE public.left_behind (id int)")
        assert backup._database_objects(conn) == ["public.left_behind"]
