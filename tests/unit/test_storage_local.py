"""LocalDocumentStore against the shared contract, plus what only a folder has: files on disk,
their permissions, crash leftovers. Also ``store_from_settings`` URL parsing (no network)."""

from __future__ import annotations

import json
import os
import stat as st
from pathlib import Path

import pytest

from shared.storage import (
    DocumentCorrupted,
    DocumentNotFound,
    LocalDocumentStore,
    S3DocumentStore,
    StoredObject,
    store_from_settings,
)
from tests.contracts.storage import JPEG, PDF, DocumentStoreContract, sha


def blob_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".meta"))


class TestLocalDocumentStore(DocumentStoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        return LocalDocumentStore(tmp_path / "documents")

    def stored_count(self, store) -> int:
        return len(blob_files(store.root))

    # layout ------------------------------------------------------------------------------------
    def test_layout_is_aa_bb_sha256_with_a_meta_file(self, store):
        obj = store.put(PDF, "application/pdf")
        h = obj.sha256
        folder = store.root / h[:2] / h[2:4]
        assert sorted(p.name for p in folder.iterdir()) == [h, f"{h}.meta"]
        assert (folder / h).read_bytes() == PDF
        assert json.loads((folder / f"{h}.meta").read_text()) == {"content_type": "application/pdf", "size": len(PDF)}

    def test_second_put_does_not_rewrite(self, store):
        obj = store.put(PDF, "application/pdf")
        blob = store.root / obj.sha256[:2] / obj.sha256[2:4] / obj.sha256
        before = blob.stat()
        store.put(PDF, "application/pdf")
        after = blob.stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)

    def test_root_is_created(self, tmp_path):
        root = tmp_path / "a" / "b" / "documents"
        LocalDocumentStore(root).put(PDF, "application/pdf")
        assert root.is_dir()

    # corruption --------------------------------------------------------------------------------
    def test_corrupted_file_on_disk_raises_document_corrupted(self, store):
        obj = store.put(PDF, "application/pdf")
        blob = store.root / obj.sha256[:2] / obj.sha256[2:4] / obj.sha256
        blob.write_bytes(PDF.replace(b"ditandatangani", b"DIPALSUKAN!!!!"))  # same size, other bytes
        with pytest.raises(DocumentCorrupted) as info:
            store.get(obj.sha256)
        assert info.value.sha256 == obj.sha256

    def test_truncated_file_raises_document_corrupted(self, store):
        obj = store.put(JPEG, "image/jpeg")
        blob = store.root / obj.sha256[:2] / obj.sha256[2:4] / obj.sha256
        blob.write_bytes(JPEG[:5])
        with pytest.raises(DocumentCorrupted):
            store.get(obj.sha256)

    def test_put_repairs_a_corrupted_copy_and_keeps_its_content_type(self, store):
        obj = store.put(PDF, "application/pdf")
        blob = store.root / obj.sha256[:2] / obj.sha256[2:4] / obj.sha256
        blob.write_bytes(b"garbage")
        assert store.put(PDF, "application/octet-stream") == obj
        assert store.get(obj.sha256) == PDF

    def test_unreadable_meta_raises_document_corrupted_and_put_repairs_it(self, store):
        obj = store.put(PDF, "application/pdf")
        meta = store.root / obj.sha256[:2] / obj.sha256[2:4] / f"{obj.sha256}.meta"
        meta.write_text("{not json")
        with pytest.raises(DocumentCorrupted):
            store.stat(obj.sha256)
        assert store.put(PDF, "application/pdf") == obj
        assert store.stat(obj.sha256) == obj

    def test_bytes_without_meta_are_not_a_document(self, store):
        """What a crash between writing the bytes and the metadata leaves: not visible, and the next
        put completes it."""
        obj = store.put(PDF, "application/pdf")
        meta = store.root / obj.sha256[:2] / obj.sha256[2:4] / f"{obj.sha256}.meta"
        meta.unlink()
        assert not store.exists(obj.sha256) and store.stat(obj.sha256) is None
        with pytest.raises(DocumentNotFound):
            store.get(obj.sha256)
        assert store.put(PDF, "application/pdf") == obj
        assert store.get(obj.sha256) == PDF

    # delete ------------------------------------------------------------------------------------
    def test_delete_removes_both_files_from_the_disk(self, store):
        obj = store.put(PDF, "application/pdf")
        folder = store.root / obj.sha256[:2] / obj.sha256[2:4]
        store.put(JPEG, "image/jpeg")
        assert store.delete(obj.sha256)
        assert not (folder / obj.sha256).exists() and not (folder / f"{obj.sha256}.meta").exists()
        assert [p.read_bytes() for p in blob_files(store.root)] == [JPEG]

    def test_delete_removes_what_a_crash_left_of_the_bytes(self, store):
        """Bytes without metadata (a put, or a delete, that died halfway) and a put's temp files still hold the
        bytes: a delete removes them, and says something was there."""
        obj = store.put(PDF, "application/pdf")
        folder = store.root / obj.sha256[:2] / obj.sha256[2:4]
        (folder / f"{obj.sha256}.meta").unlink()
        (folder / f".tmp-{obj.sha256}.x1y2").write_bytes(PDF)
        (folder / f".tmp-{obj.sha256}.meta.z3").write_bytes(b"{}")
        assert store.delete(obj.sha256) is True
        assert list(folder.iterdir()) == []
        assert store.delete(obj.sha256) is False

    def test_delete_with_a_malformed_id_touches_nothing(self, tmp_path):
        store = LocalDocumentStore(tmp_path / "documents")
        outside = tmp_path / "secret"
        outside.write_bytes(b"x")
        for bad in ("../secret", "../../secret", str(outside), "*" * 64):
            with pytest.raises(ValueError):
                store.delete(bad)
        assert outside.read_bytes() == b"x"

    # files -------------------------------------------------------------------------------------
    def test_no_temp_files_left_behind(self, store):
        for i in range(20):
            store.put(os.urandom(1000) + bytes([i]), "application/pdf")
        store.put(PDF, "application/pdf")
        store.put(PDF, "application/pdf")
        names = [p.name for p in store.root.rglob("*") if p.is_file()]
        assert len(names) == 2 * 21
        assert not [n for n in names if n.startswith(".") or "tmp" in n]

    def test_no_temp_file_left_when_a_write_fails(self, store, monkeypatch):
        def boom(fd):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "fsync", boom)
        with pytest.raises(OSError):
            store.put(PDF, "application/pdf")
        monkeypatch.undo()
        assert [p for p in store.root.rglob("*") if p.is_file()] == []
        assert not store.exists(sha(PDF))

    def test_permissions_files_0640_dirs_0750(self, tmp_path):
        old = os.umask(0o022)  # a typical umask would give 0644/0755
        try:
            store = LocalDocumentStore(tmp_path / "documents")
            store.put(PDF, "application/pdf")
        finally:
            os.umask(old)
        files = [p for p in store.root.rglob("*") if p.is_file()]
        dirs = [store.root, *(p for p in store.root.rglob("*") if p.is_dir())]
        assert len(files) == 2 and len(dirs) == 3
        for f in files:
            assert st.S_IMODE(f.stat().st_mode) == 0o640, f
        for d in dirs:
            assert st.S_IMODE(d.stat().st_mode) == 0o750, d

    def test_malformed_id_never_touches_the_filesystem(self, tmp_path):
        outside = tmp_path / "secret"
        outside.write_bytes(b"x")
        store = LocalDocumentStore(tmp_path / "documents")
        for bad in ("../secret", "../../secret", str(outside)):
            with pytest.raises(ValueError):
                store.get(bad)


# --------------------------------------------------------------------------------------------------
# store_from_settings


def test_file_url_gives_a_local_store(tmp_path):
    store = store_from_settings(tmp_path.joinpath("dok umen").as_uri())
    assert isinstance(store, LocalDocumentStore)
    assert store.root == tmp_path / "dok umen"
    assert store.put(PDF, "application/pdf") == StoredObject(sha(PDF), len(PDF), "application/pdf")


def test_file_url_with_localhost(tmp_path):
    store = store_from_settings(f"file://localhost{tmp_path}/docs")
    assert store.root == tmp_path / "docs"


def test_s3_url_gives_an_s3_store_without_touching_the_network():
    store = store_from_settings(
        "s3://pengaduan-docs?endpoint=http://127.0.0.1:9000&access_key=minio&secret_key=a%26b+c/d&region=ap-southeast-3"
    )
    assert isinstance(store, S3DocumentStore)
    assert store.bucket == "pengaduan-docs"
    assert store.endpoint_url == "http://127.0.0.1:9000"
    assert store.region == "ap-southeast-3"
    creds = store._client._request_signer._credentials
    assert (creds.access_key, creds.secret_key) == ("minio", "a&b+c/d")  # '+' stays a plus


def test_s3_url_without_parameters_is_aws_with_default_credentials():
    store = store_from_settings("s3://pengaduan-docs")
    assert store.endpoint_url is None and store.region == "us-east-1"


@pytest.mark.parametrize(
    "url, needle",
    [
        ("", "empty"),
        ("documents", "unsupported"),
        ("/var/lib/pengaduan/documents", "unsupported"),
        ("http://example.invalid/x", "unsupported"),
        ("file://relative/path", "absolute path"),
        ("file:relative", "file:///abs/path"),
        ("file:///abs?x=1", "no query"),
        ("s3://", "bucket name"),
        ("s3://Bad_Bucket", "bucket name"),
        ("s3://bucket/prefix", "no path"),
        ("s3://bucket?endpoint=127.0.0.1:9000", "http(s)"),
        ("s3://bucket?access_key=only", "both"),
        ("s3://bucket?acces_key=typo&secret_key=SECRET", "unknown parameter"),
        ("s3://bucket?create=maybe", "create"),
        ("s3://bucket?region=a&region=b", "twice"),
        ("s3://key:SECRET@bucket", "access_key"),
        ("s3://bucket?secret_key=ab#SECRET", "'#'"),
    ],
)
def test_bad_urls_raise_a_clear_value_error(url, needle):
    with pytest.raises(ValueError) as info:
        store_from_settings(url)
    assert needle in str(info.value)
    assert "SECRET" not in str(info.value)
