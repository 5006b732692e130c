"""The backup module's parts that need no database (the drill itself: tests/integration/test_backup_restore.py)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from pengaduan import backup
from shared.storage import LocalDocumentStore


def _fake_client(folder: Path, version: str) -> Path:
    """pg_dump and pg_restore programs that only answer --version, as PostgreSQL's print it."""
    folder.mkdir(parents=True)
    for name in ("pg_dump", "pg_restore"):
        program = folder / name
        program.write_text(f'#!/bin/sh\necho "{name} (PostgreSQL) {version}"\n')
        program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return folder


def test_the_client_programs_must_not_be_older_than_the_server(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))  # only --pg-bin (and the wheel, if installed)
    old = _fake_client(tmp_path / "15", "15.20 (Debian 15.20-0+deb12u1)")
    found = backup.find_pg_client(14, str(old))
    assert (found.bin_dir, found.major) == (old, 15)
    with pytest.raises(backup.BackupError) as refused:
        backup.find_pg_client(99, str(old))
    assert "pg_dump 15.20 is older than the server (99)" in str(refused.value)
    assert "--pg-bin" in str(refused.value)


def test_the_server_s_own_major_is_preferred_and_a_restore_takes_a_client_that_can_serve(tmp_path, monkeypatch):
    """Found by the integration suite on testcontainers' PostgreSQL 15 with the embedded wheel's client 18: pg_dump
    18 wrote a dump only pg_restore 18 reads, and pg_restore 18 opens with `SET transaction_timeout`, which 15
    refuses. The server's own major is taken when there is one; a restore refuses a client that cannot serve."""
    newer = _fake_client(tmp_path / "18", "18.6")
    own = _fake_client(tmp_path / "usr" / "lib" / "postgresql" / "15" / "bin", "15.20 (Debian 15.20-0+deb12u1)")
    monkeypatch.setenv("PATH", f"{newer}:{own}")  # the newer one first on PATH
    monkeypatch.setattr(backup, "_candidate_dirs", lambda pg_bin, major: iter([newer, own]))
    assert backup.find_pg_client(15).major == 15  # a backup of a 15 server by 15's own pg_dump
    assert backup.find_pg_client(15, dump_major=15).major == 15
    assert backup.find_pg_client(17, dump_major=15).major == 18  # newer than a 17 server: it knows the SET
    monkeypatch.setattr(backup, "_candidate_dirs", lambda pg_bin, major: iter([newer]))
    assert backup.find_pg_client(15).major == 18  # a dump may still be made by a newer pg_dump ...
    with pytest.raises(backup.BackupError) as refused:  # ... but not restored into 15 by 18's pg_restore
        backup.find_pg_client(15, dump_major=18)
    assert "pg_restore 18.6 cannot restore into PostgreSQL 15" in str(refused.value)
    monkeypatch.setattr(backup, "_candidate_dirs", lambda pg_bin, major: iter([own]))
    with pytest.raises(backup.BackupError) as unreadable:
        backup.find_pg_client(15, dump_major=18)
    assert "cannot read a dump of pg_dump 18" in str(unreadable.value)


def test_the_password_goes_to_the_environment_never_onto_the_command_line(monkeypatch):
    monkeypatch.setenv("PGHOST", "elsewhere")  # the caller's libpq settings must not redirect the dump
    monkeypatch.setenv("PGSERVICE", "elsewhere")
    monkeypatch.setenv("PGSSLROOTCERT", "/etc/pengaduan/db-ca.pem")  # ... but how to connect is kept
    uri, env = backup._libpq("postgresql+psycopg://pengaduan:s3cr%40t@db.internal:5433/pengaduan?sslmode=require")
    assert uri == "postgresql://pengaduan@db.internal:5433/pengaduan?sslmode=require"
    assert env["PGPASSWORD"] == "s3cr@t"
    assert "PGHOST" not in env and "PGSERVICE" not in env
    assert env["PGSSLROOTCERT"] == "/etc/pengaduan/db-ca.pem"

    # a password in the query string is moved to the environment too
    uri, env = backup._libpq("postgresql+psycopg://pengaduan@db.internal/pengaduan?password=s3cr3t&sslmode=require")
    assert "s3cr3t" not in uri and "password" not in uri
    assert uri == "postgresql://pengaduan@db.internal/pengaduan?sslmode=require"
    assert env["PGPASSWORD"] == "s3cr3t"


def test_a_local_store_lists_its_documents_and_nothing_half_written(tmp_path):
    store = LocalDocumentStore(tmp_path / "docs")
    a = store.put(b"surat balasan", "application/pdf").sha256
    b = store.put(b"scan ktp", "image/png").sha256
    orphan = hashlib.sha256(b"bytes whose metadata never came").hexdigest()
    folder = tmp_path / "docs" / orphan[:2] / orphan[2:4]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / orphan).write_bytes(b"bytes whose metadata never came")
    (folder / f".tmp-{orphan}.x").write_bytes(b"a put that died")
    assert sorted(store.ids()) == sorted([a, b])
    store.delete(a)
    assert list(store.ids()) == [b]


def _backup_folder(root: Path) -> Path:
    """A backup folder as `pengaduan backup` writes it (a stand-in dump: verify only checks its checksum)."""
    folder = root / "pengaduan-backup-x"
    (folder / backup.DOCUMENTS).mkdir(parents=True)
    (folder / backup.DUMP).write_bytes(b"PGDMP stand-in")
    lines = []
    for data in (b"one", b"two"):
        sha256 = hashlib.sha256(data).hexdigest()
        (folder / backup.DOCUMENTS / sha256[:2]).mkdir(exist_ok=True)
        (folder / backup.DOCUMENTS / sha256[:2] / sha256).write_bytes(data)
        lines.append(json.dumps({"sha256": sha256, "size": len(data), "content_type": "text/plain"}))
    (folder / backup.INDEX).write_text("\n".join(lines) + "\n")
    manifest = {
        "format": backup.FORMAT,
        "database": {"file": backup.DUMP, "sha256": hashlib.sha256(b"PGDMP stand-in").hexdigest()},
        "documents": {
            "index": backup.INDEX,
            "index_sha256": hashlib.sha256((folder / backup.INDEX).read_bytes()).hexdigest(),
            "count": 2,
        },
    }
    (folder / backup.MANIFEST).write_text(json.dumps(manifest))
    return folder


def test_verify_finds_a_damaged_dump_or_document(tmp_path):
    folder = _backup_folder(tmp_path)
    assert backup.verify(folder)["documents"]["count"] == 2

    document = next(p for p in (folder / backup.DOCUMENTS).rglob("*") if p.is_file())
    document.write_bytes(b"changed")
    with pytest.raises(backup.BackupError, match=f"document {document.name} in the backup is damaged"):
        backup.verify(folder)

    folder = _backup_folder(tmp_path / "again")
    with (folder / backup.DUMP).open("ab") as f:
        f.write(b"!")
    with pytest.raises(backup.BackupError, match="does not match its checksum"):
        backup.verify(folder)


def test_an_unfinished_or_foreign_folder_is_not_a_backup(tmp_path):
    folder = _backup_folder(tmp_path)
    os.unlink(folder / backup.MANIFEST)
    with pytest.raises(backup.BackupError, match="an unfinished backup has none"):
        backup.read_manifest(folder)
    (folder / backup.MANIFEST).write_text(json.dumps({"format": "something-else/3"}))
    with pytest.raises(backup.BackupError, match="unknown backup format"):
        backup.read_manifest(folder)


@pytest.mark.parametrize(
    "part, key, named",
    [
        ("database", "file", "../outside.dump"),
        ("database", "file", "/etc/passwd"),
        ("documents", "index", "../../documents.jsonl"),
        ("documents", "index", "/etc/shadow"),
    ],
)
def test_a_manifest_naming_a_file_outside_the_backup_is_refused_before_anything_is_written(tmp_path, part, key, named):
    folder = _backup_folder(tmp_path)
    manifest = json.loads((folder / backup.MANIFEST).read_text())
    manifest[part][key] = named
    (folder / backup.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(backup.BackupError, match="refused"):
        backup.verify(folder)

    # the restore too, with or without verifying first: before it opens the store or the database (a store
    # folder that does not exist stays so; a connection to port 1 would fail with another error)
    store = tmp_path / "store"
    settings = SimpleNamespace(
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
        document_store_url=store.as_uri(),
        data_dir=str(tmp_path),
    )
    for verify_first in (True, False):
        with pytest.raises(backup.BackupError, match="refused"):
            backup.restore(settings, folder, verify_first=verify_first)
    assert not store.exists()


def test_a_symbolic_link_in_a_backup_is_refused(tmp_path):
    """A document (or the documents' folder) that links elsewhere would read any file of the machine."""
    folder = _backup_folder(tmp_path)
    document = next(p for p in (folder / backup.DOCUMENTS).rglob("*") if p.is_file())
    outside = tmp_path / "outside"
    outside.write_bytes(document.read_bytes())  # the same bytes: only the link gives it away
    document.unlink()
    document.symlink_to(outside)
    with pytest.raises(backup.BackupError, match="is a symbolic link"):
        backup.verify(folder)

    folder = _backup_folder(tmp_path / "again")
    (folder / backup.DOCUMENTS).rename(tmp_path / "elsewhere")
    (folder / backup.DOCUMENTS).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(backup.BackupError, match="is a symbolic link"):
        backup.verify(folder)


@pytest.mark.parametrize("line", ["not json", "[1, 2]", '{"sha256": "ab", "size": 1, "content_type": "x"}', "{}"])
def test_a_damaged_document_index_is_a_backup_error(tmp_path, line):
    folder = _backup_folder(tmp_path)
    with (folder / backup.INDEX).open("a") as f:
        f.write(line + "\n")
    with pytest.raises(backup.BackupError, match="line 3 of the document index"):
        list(backup._index(folder))


def test_a_backup_of_a_local_store_that_does_not_exist_is_refused(tmp_path):
    """A wrong PENGADUAN_DATA_DIR: the store would be created empty and backed up as such. Refused before the
    database is asked anything; neither the store nor a backup folder is made."""
    settings = SimpleNamespace(
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
        document_store_url=None,
        data_dir=str(tmp_path / "wrong"),
    )
    with pytest.raises(backup.BackupError, match="does not exist: check PENGADUAN_DOCUMENT_STORE_URL"):
        backup.backup(settings, tmp_path / "backups")
    assert not (tmp_path / "wrong").exists()
    assert not (tmp_path / "backups").exists()
