"""S3DocumentStore against a real S3-compatible HTTP server on 127.0.0.1: moto's server, started here
on a free port in this process (no docker, no network beyond loopback). boto3 speaks the S3 protocol
to it over HTTP exactly as it does to MinIO or AWS; nothing is patched.

Needs no fixture from tests/conftest.py.
"""

from __future__ import annotations

import os
import uuid

import pytest

# Imported, not importorskip'd: a CI without moto[server] should fail, not quietly skip S3.
from moto.moto_server import threaded_moto_server as moto_server

from shared.storage import DocumentCorrupted, S3DocumentStore, StoredObject, store_from_settings
from tests.contracts.storage import PDF, DocumentStoreContract, sha

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test/secret+key"


@pytest.fixture(scope="module")
def s3_endpoint():
    # Loopback only, even where a proxy is configured in the environment.
    with pytest.MonkeyPatch.context() as mp:
        for name in ("NO_PROXY", "no_proxy"):
            mp.setenv(name, ",".join(filter(None, [os.environ.get(name), "127.0.0.1", "localhost"])))
        for name in (
            "AWS_PROFILE",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3",
            "AWS_DEFAULT_REGION",
            "AWS_REGION",
        ):
            mp.delenv(name, raising=False)
        server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def new_bucket() -> str:
    return f"pengaduan-test-{uuid.uuid4().hex[:16]}"


def make_store(endpoint: str, bucket: str | None = None, create: bool = True) -> S3DocumentStore:
    return S3DocumentStore(
        bucket or new_bucket(),
        endpoint_url=endpoint,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        create_bucket=create,
    )


class TestS3DocumentStore(DocumentStoreContract):
    @pytest.fixture
    def store(self, s3_endpoint):
        return make_store(s3_endpoint)  # a fresh bucket per test

    def stored_count(self, store) -> int:
        pages = store._client.get_paginator("list_objects_v2").paginate(Bucket=store.bucket)
        return sum(len(page.get("Contents", [])) for page in pages)

    def test_object_key_content_type_and_metadata(self, store):
        obj = store.put(PDF, "application/pdf")
        key = f"sha256/{obj.sha256[:2]}/{obj.sha256}"
        head = store._client.head_object(Bucket=store.bucket, Key=key)
        assert head["ContentType"] == "application/pdf"
        assert head["ContentLength"] == len(PDF)
        assert head["Metadata"] == {"sha256": obj.sha256}

    def test_corrupted_object_raises_document_corrupted(self, store):
        obj = store.put(PDF, "application/pdf")
        store._client.put_object(Bucket=store.bucket, Key=S3DocumentStore.key_for(obj.sha256), Body=b"tampered")
        with pytest.raises(DocumentCorrupted):
            store.get(obj.sha256)

    def test_conditional_create_loses_gracefully_to_an_earlier_writer(self, store):
        """The race the HEAD cannot see: the object appears between HEAD and PUT. The server answers
        412 to If-None-Match: *, and put returns the stored object."""
        key = S3DocumentStore.key_for(sha(PDF))
        real_stat = store.stat
        calls = []

        def stat_missing_first(h):
            calls.append(h)
            if len(calls) == 1:  # the HEAD inside put: "not there yet", then another writer wins
                store._client.put_object(Bucket=store.bucket, Key=key, Body=PDF, ContentType="application/pdf")
                return None
            return real_stat(h)

        store.stat = stat_missing_first
        assert store.put(PDF, "application/x-other") == StoredObject(sha(PDF), len(PDF), "application/pdf")
        assert len(calls) >= 2
        assert self.stored_count(store) == 1

    def test_service_without_conditional_writes_falls_back_to_head_then_put(self, store):
        """A service that answers 501 to If-None-Match (as some S3-compatible ones do): put retries
        as a plain put and stops sending the condition."""
        from botocore.exceptions import ClientError

        real_put = store._client.put_object
        conditional_calls = []

        def put_object(**kwargs):
            if "IfNoneMatch" in kwargs:
                conditional_calls.append(kwargs["Key"])
                raise ClientError(
                    {
                        "Error": {"Code": "NotImplemented", "Message": "If-None-Match"},
                        "ResponseMetadata": {"HTTPStatusCode": 501},
                    },
                    "PutObject",
                )
            return real_put(**kwargs)

        store._client.put_object = put_object
        first = store.put(PDF, "application/pdf")
        second = store.put(b"second", "text/plain")
        assert len(conditional_calls) == 1
        assert store.get(first.sha256) == PDF and store.get(second.sha256) == b"second"

    def test_delete_in_a_versioned_bucket_leaves_no_version_behind(self, store):
        """Where the bucket keeps versions, a plain delete would only hide the bytes behind a delete marker: every
        version goes, and the markers with them."""
        store._client.put_bucket_versioning(Bucket=store.bucket, VersioningConfiguration={"Status": "Enabled"})
        key = S3DocumentStore.key_for(sha(PDF))
        store.put(PDF, "application/pdf")
        store._client.put_object(Bucket=store.bucket, Key=key, Body=PDF, ContentType="application/pdf")  # 2nd version
        other = store.put(b"lain", "text/plain")
        assert store.delete(sha(PDF)) is True
        listed = store._client.list_object_versions(Bucket=store.bucket)
        left = [v["Key"] for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])]
        assert left == [S3DocumentStore.key_for(other.sha256)]
        assert store.delete(sha(PDF)) is False
        assert store.get(other.sha256) == b"lain"

    def test_delete_in_a_versioned_bucket_removes_versions_behind_a_delete_marker(self, store):
        """A plain delete made before (or by another tool) left the bytes as an old version: still erased."""
        store._client.put_bucket_versioning(Bucket=store.bucket, VersioningConfiguration={"Status": "Enabled"})
        obj = store.put(PDF, "application/pdf")
        store._client.delete_object(Bucket=store.bucket, Key=S3DocumentStore.key_for(obj.sha256))  # a marker only
        assert store.exists(obj.sha256) is False
        assert store.delete(obj.sha256) is True
        listed = store._client.list_object_versions(Bucket=store.bucket)
        assert listed.get("Versions", []) == [] and listed.get("DeleteMarkers", []) == []

    def test_store_from_settings_url(self, s3_endpoint):
        bucket = new_bucket()
        url = f"s3://{bucket}?endpoint={s3_endpoint}&access_key={ACCESS_KEY}&secret_key=test/secret%2Bkey&create=1"
        store = store_from_settings(url)
        assert isinstance(store, S3DocumentStore) and store.bucket == bucket
        obj = store.put(PDF, "application/pdf")
        # a second store on the same bucket (create=1 on an existing bucket is fine) sees it
        again = store_from_settings(url)
        assert again.get(obj.sha256) == PDF

    def test_missing_bucket_without_create_fails_loudly(self, s3_endpoint):
        store = make_store(s3_endpoint, create=False)
        with pytest.raises(Exception) as info:
            store.put(PDF, "application/pdf")
        assert "NoSuchBucket" in str(info.value) or "Not Found" in str(info.value) or "404" in str(info.value)
