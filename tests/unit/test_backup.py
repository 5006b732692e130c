"""The backup module's parts that need no database (the drill itself: tests/integration/test_backup_restore.py)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

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


def test_the_password_goes_to_the_environment_never_onto_the_command_line(monkeypatch):
    monkeypatch.setenv("PGHOST", "elsewhere")  # the caller's libpq settings must not redirect the dump
    uri, env = backup._libpq("postgresql+psycopg://pengaduan:s3cr%40t@db.internal:5433/pengaduan?sslmode=require")
    assert uri == "postgresql://pengaduan@db.internal:5433/pengaduan?sslmode=require"
    assert env["PGPASSWORD"] == "s3cr@t"
    assert "PGHOST" not in env


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
