"""The contract every ``DocumentStore`` implementation must pass (local folder and S3).

Subclass ``DocumentStoreContract``, provide a ``store`` fixture (a fresh, empty store per test) and
implement ``stored_count(store)``: how many documents' bytes the backend holds.
"""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.storage import DocumentNotFound, DocumentStore, StoredObject

PDF = b"%PDF-1.7\n% surat keterangan, ditandatangani\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00scan KTP\xff\xd9"
MALFORMED_IDS = [
    "../etc/passwd",
    "../../" + "a" * 58,
    "A" * 64,  # uppercase hex
    hashlib.sha256(b"x").hexdigest().upper(),  # a real hash, uppercase
    "abc123",  # short
    "a" * 63,
    "a" * 65,
    "g" * 64,  # not hex
    "a" * 63 + "/",
    "/" + "a" * 63,
    "a" * 64 + "\n",
    "",
]
THREADS = 8


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run_together(n: int, fn) -> list:
    """Run fn(i) for i in range(n) on n threads released at the same moment; re-raise any error."""
    barrier = threading.Barrier(n)

    def task(i: int):
        barrier.wait(timeout=30)
        return fn(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return [f.result(timeout=120) for f in [pool.submit(task, i) for i in range(n)]]


class DocumentStoreContract:
    def stored_count(self, store) -> int:  # pragma: no cover - each backend overrides it
        raise NotImplementedError

    def test_is_a_document_store(self, store):
        assert isinstance(store, DocumentStore)

    def test_put_then_get_round_trip(self, store):
        obj = store.put(PDF, "application/pdf")
        assert obj == StoredObject(sha256=sha(PDF), size=len(PDF), content_type="application/pdf")
        assert store.get(obj.sha256) == PDF

    def test_empty_document(self, store):
        obj = store.put(b"", "application/octet-stream")
        assert obj.sha256 == sha(b"") and obj.size == 0
        assert store.get(obj.sha256) == b""

    def test_same_bytes_twice_are_the_same_object_stored_once(self, store):
        first = store.put(PDF, "application/pdf")
        second = store.put(PDF, "application/pdf")
        assert first == second
        assert self.stored_count(store) == 1
        assert store.get(first.sha256) == PDF

    def test_same_bytes_keep_the_content_type_they_were_first_stored_with(self, store):
        first = store.put(PDF, "application/pdf")
        again = store.put(PDF, "application/octet-stream")
        assert again == first
        assert store.stat(first.sha256).content_type == "application/pdf"
        assert self.stored_count(store) == 1

    def test_different_content_types(self, store):
        items = {
            PDF: "application/pdf",
            JPEG: "image/jpeg",
            b"catatan petugas\n": "text/plain; charset=utf-8",
            b'{"a": 1}': "application/vnd.pengaduan+json",
        }
        objects = {data: store.put(data, ct) for data, ct in items.items()}
        for data, ct in items.items():
            assert objects[data].content_type == ct
            assert store.stat(sha(data)) == StoredObject(sha(data), len(data), ct)
            assert store.get(sha(data)) == data
        assert self.stored_count(store) == len(items)

    @pytest.mark.parametrize("content_type", ["", "pdf", "application/pdf\r\nX-Evil: 1", "teks/ä", "a/" + "b" * 300])
    def test_malformed_content_type_is_rejected(self, store, content_type):
        with pytest.raises(ValueError):
            store.put(PDF, content_type)
        assert self.stored_count(store) == 0

    def test_data_must_be_bytes(self, store):
        with pytest.raises(TypeError):
            store.put("not bytes", "text/plain")
        assert store.put(bytearray(b"ok"), "text/plain").sha256 == sha(b"ok")

    def test_get_unknown_raises_document_not_found(self, store):
        unknown = sha(b"never stored")
        with pytest.raises(DocumentNotFound) as info:
            store.get(unknown)
        assert isinstance(info.value, KeyError)
        assert info.value.sha256 == unknown

    @pytest.mark.parametrize("bad", MALFORMED_IDS)
    def test_malformed_ids_are_rejected(self, store, bad):
        store.put(PDF, "application/pdf")
        for call in (store.get, store.exists, store.stat, store.delete):
            with pytest.raises(ValueError):
                call(bad)
        assert store.get(sha(PDF)) == PDF  # nothing was deleted

    @pytest.mark.parametrize("bad", [None, 123, b"a" * 64])
    def test_non_string_ids_are_rejected(self, store, bad):
        with pytest.raises(ValueError):
            store.get(bad)

    def test_stat_and_exists(self, store):
        unknown = sha(b"nothing")
        assert store.exists(unknown) is False
        assert store.stat(unknown) is None
        obj = store.put(JPEG, "image/jpeg")
        assert store.exists(obj.sha256) is True
        assert store.stat(obj.sha256) == StoredObject(sha(JPEG), len(JPEG), "image/jpeg")
        assert store.exists(unknown) is False

    def test_concurrent_puts_of_the_same_bytes(self, store):
        data = os.urandom(256 * 1024)
        results = run_together(THREADS, lambda i: store.put(data, "application/pdf"))
        assert {r.sha256 for r in results} == {sha(data)}
        assert {r.size for r in results} == {len(data)}
        assert store.get(sha(data)) == data
        assert store.stat(sha(data)) == StoredObject(sha(data), len(data), "application/pdf")
        assert self.stored_count(store) == 1

    def test_concurrent_puts_of_different_bytes(self, store):
        blobs = [os.urandom(64 * 1024) + bytes([i]) for i in range(THREADS)]
        results = run_together(THREADS, lambda i: store.put(blobs[i], "image/jpeg"))
        assert [r.sha256 for r in results] == [sha(b) for b in blobs]
        for b in blobs:
            assert store.get(sha(b)) == b
        assert self.stored_count(store) == THREADS

    def test_five_megabyte_object(self, store):
        data = os.urandom(5 * 1024 * 1024)
        obj = store.put(data, "application/pdf")
        assert obj.size == len(data)
        assert store.stat(obj.sha256).size == len(data)
        assert store.get(obj.sha256) == data

    # delete (a complainant's personal data erased, docs/adr/0017) -----------------------------------------------
    def test_delete_removes_the_document_for_good(self, store):
        obj = store.put(PDF, "application/pdf")
        assert store.delete(obj.sha256) is True
        with pytest.raises(DocumentNotFound):
            store.get(obj.sha256)
        assert store.exists(obj.sha256) is False and store.stat(obj.sha256) is None
        assert self.stored_count(store) == 0

    def test_delete_is_idempotent_and_false_when_nothing_is_stored(self, store):
        obj = store.put(PDF, "application/pdf")
        assert store.delete(obj.sha256) is True
        assert store.delete(obj.sha256) is False  # a redelivered erasure: nothing more to do, no error
        assert store.delete(sha(b"never stored")) is False

    def test_delete_leaves_other_documents_alone(self, store):
        kept = store.put(JPEG, "image/jpeg")
        gone = store.put(PDF, "application/pdf")
        assert store.delete(gone.sha256)
        assert store.get(kept.sha256) == JPEG and store.stat(kept.sha256) == kept
        assert self.stored_count(store) == 1

    def test_the_same_bytes_can_be_stored_again_after_a_delete(self, store):
        obj = store.put(PDF, "application/pdf")
        store.delete(obj.sha256)
        assert store.put(PDF, "text/plain") == StoredObject(sha(PDF), len(PDF), "text/plain")  # a new document
        assert store.get(obj.sha256) == PDF
