"""Content-addressed document storage: signed PDF letters, ID scans, attachments.

A document is named by the SHA-256 of its bytes (64 lowercase hex digits), so storing the same bytes
twice yields the same name and keeps one copy, and every read checks that the bytes still hash to
their name. The content type is metadata of the stored bytes: the first ``put`` of some bytes fixes
it, and a later ``put`` of the same bytes returns what is stored (see ``DocumentStore.put``).

Two implementations of the ``DocumentStore`` port:

* ``LocalDocumentStore``: a folder, ``<root>/<aa>/<bb>/<sha256>`` plus ``<sha256>.meta`` (JSON),
  written atomically (temp file, fsync, ``os.replace``, fsync of the folder).
* ``S3DocumentStore``: any S3-compatible service (MinIO in docker-compose, AWS S3 in production),
  key ``sha256/<aa>/<sha256>``.

``store_from_settings(url)`` builds either from a URL (``Settings.document_store_url``).

``delete`` removes a document for good (a complainant's personal data erased, docs/adr/0017). Content addressing
means one stored copy may serve several records: deciding that nobody else needs the bytes is the caller's part.

Ids given by callers are checked (``ValueError`` unless 64 lowercase hex digits) before they
come near a path or an object key, so an id can never traverse out of the store.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

__all__ = [
    "DocumentCorrupted",
    "DocumentNotFound",
    "DocumentStore",
    "LocalDocumentStore",
    "S3DocumentStore",
    "StoredObject",
    "store_from_settings",
]

_SHA256_RE = re.compile(r"[0-9a-f]{64}")
# RFC 9110 media type: type "/" subtype, optionally "; parameters"; printable ASCII only, so it is
# safe as an HTTP header (no CR/LF) and as JSON.
_CONTENT_TYPE_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]*;[\x20-\x7e\t]*)?")
_MAX_CONTENT_TYPE = 255


class DocumentNotFound(KeyError):
    """No document with this sha256 is stored."""

    def __init__(self, sha256: str):
        super().__init__(sha256)
        self.sha256 = sha256

    def __str__(self) -> str:  # KeyError would print the repr of its argument
        return f"no document with sha256 {self.sha256}"


class DocumentCorrupted(Exception):
    """The stored bytes (or their metadata) no longer match the document's sha256."""

    def __init__(self, sha256: str, detail: str):
        super().__init__(f"document {sha256} is corrupted: {detail}")
        self.sha256 = sha256
        self.detail = detail


@dataclass(frozen=True)
class StoredObject:
    sha256: str
    size: int
    content_type: str


@runtime_checkable
class DocumentStore(Protocol):
    def put(self, data: bytes, content_type: str) -> StoredObject:
        """Store ``data``; idempotent. The same bytes give the same sha256 and are stored once;
        concurrent puts of the same bytes are safe. If the bytes are already stored, the stored
        object is returned as it is (its content type is the one it was first stored with)."""
        ...

    def get(self, sha256: str) -> bytes:
        """The stored bytes. Raises ``DocumentNotFound``; ``DocumentCorrupted`` if they no longer hash
        to ``sha256``; ``ValueError`` for a malformed id."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def stat(self, sha256: str) -> StoredObject | None: ...

    def delete(self, sha256: str) -> bool:
        """Remove the document (its bytes and its metadata) for good; idempotent. True when something of it was
        stored, False when nothing was. Raises ``ValueError`` for a malformed id; a failure to remove raises (a
        caller erasing personal data retries, it never reads a failure as done)."""
        ...


def _check_sha256(sha256: object) -> str:
    if not isinstance(sha256, str) or not _SHA256_RE.fullmatch(sha256):
        shown = repr(sha256)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        raise ValueError(f"malformed document id {shown}: expected 64 lowercase hex digits (sha256)")
    return sha256


def _check_put_args(data: object, content_type: object) -> bytes:
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise TypeError(f"document data must be bytes, not {type(data).__name__}")
    if (
        not isinstance(content_type, str)
        or len(content_type) > _MAX_CONTENT_TYPE
        or not _CONTENT_TYPE_RE.fullmatch(content_type)
    ):
        raise ValueError(f"malformed content type {content_type!r}: expected e.g. 'application/pdf'")
    return data


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------------
# Local folder


class LocalDocumentStore:
    """Documents in a folder: ``<root>/<aa>/<bb>/<sha256>`` and ``<sha256>.meta`` beside it.

    A put writes the bytes, then the metadata, each to a temp file in the target folder that is
    fsynced and moved into place with ``os.replace``, the folder fsynced after each move. A document
    exists once its ``.meta`` is in place, and by then its bytes are durable too, so a crash leaves
    either a complete document or none (at worst an orphan temp file or bytes without metadata,
    which the next put of the same bytes overwrites). Concurrent puts of the same bytes each write
    their own temp file and replace the same name with the same content, which is harmless.

    Files are created 0640 and folders 0750 (whatever the umask); the root is created if missing.
    """

    _FILE_MODE = 0o640
    _DIR_MODE = 0o750
    _TMP_PREFIX = ".tmp-"

    def __init__(self, root: Path):
        self.root = Path(root)
        self._mkdir(self.root, parents=True)

    def __repr__(self) -> str:
        return f"LocalDocumentStore({str(self.root)!r})"

    # paths -------------------------------------------------------------------------------------
    def _dir(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4]

    def _paths(self, sha256: str) -> tuple[Path, Path]:
        d = self._dir(_check_sha256(sha256))
        return d / sha256, d / f"{sha256}.meta"

    # port --------------------------------------------------------------------------------------
    def put(self, data: bytes, content_type: str) -> StoredObject:
        data = _check_put_args(data, content_type)
        sha256 = _sha256_hex(data)
        blob, meta = self._paths(sha256)
        try:
            existing = self._read_meta(sha256, meta)
        except DocumentCorrupted:
            existing = None  # rewritten below: this put brings the right bytes
        if existing is not None and _same_bytes(blob, data):
            return existing  # stored already; a damaged copy is repaired by the write below
        if existing is not None:
            content_type = existing.content_type  # repairing the bytes keeps what was stored
        self._mkdir(blob.parent, parents=True)
        self._write_atomic(blob, data)
        meta_bytes = json.dumps({"content_type": content_type, "size": len(data)}, sort_keys=True).encode()
        self._write_atomic(meta, meta_bytes)
        return StoredObject(sha256=sha256, size=len(data), content_type=content_type)

    def get(self, sha256: str) -> bytes:
        blob, meta = self._paths(sha256)
        if not meta.is_file():
            raise DocumentNotFound(sha256)
        try:
            data = blob.read_bytes()
        except FileNotFoundError:
            raise DocumentCorrupted(sha256, "metadata present but the bytes are missing") from None
        actual = _sha256_hex(data)
        if actual != sha256:
            raise DocumentCorrupted(sha256, f"stored bytes hash to {actual}")
        return data

    def exists(self, sha256: str) -> bool:
        blob, meta = self._paths(sha256)
        return meta.is_file() and blob.is_file()

    def stat(self, sha256: str) -> StoredObject | None:
        blob, meta = self._paths(sha256)
        obj = self._read_meta(sha256, meta)
        if obj is None or not blob.is_file():
            return None
        return obj

    def delete(self, sha256: str) -> bool:
        """The metadata first (the document is gone for readers at once), then the bytes, then what a put that
        died left of these bytes (its temp files), each removal made durable. A crash halfway leaves bytes without
        metadata, which the next delete removes (and reports: something was stored)."""
        blob, meta = self._paths(sha256)
        removed = _unlink(meta)
        removed = _unlink(blob) or removed
        for leftover in blob.parent.glob(f"{self._TMP_PREFIX}{sha256}.*") if blob.parent.is_dir() else ():
            removed = _unlink(leftover) or removed
        if removed:
            _fsync_dir(blob.parent)
        return removed

    def ids(self) -> Iterator[str]:
        """Every stored document's sha256, in no particular order (a document is stored once its ``.meta`` is in
        place). Not part of the port: the backup (``pengaduan backup``) lists a store to copy it."""
        for meta in self.root.glob("[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]/*.meta"):
            sha256 = meta.name.removesuffix(".meta")
            if _SHA256_RE.fullmatch(sha256) and (meta.parent / sha256).is_file():
                yield sha256

    # helpers -----------------------------------------------------------------------------------
    @staticmethod
    def _read_meta(sha256: str, meta: Path) -> StoredObject | None:
        try:
            raw = meta.read_bytes()
        except FileNotFoundError:
            return None
        try:
            doc = json.loads(raw)
            size, content_type = doc["size"], doc["content_type"]
            if not isinstance(size, int) or isinstance(size, bool) or size < 0 or not isinstance(content_type, str):
                raise TypeError("bad field types")
        except (ValueError, KeyError, TypeError) as exc:
            raise DocumentCorrupted(sha256, f"unreadable metadata {meta.name}: {exc}") from None
        return StoredObject(sha256=sha256, size=size, content_type=content_type)

    def _mkdir(self, path: Path, *, parents: bool) -> None:
        """Create ``path`` (and missing parents when asked) with mode 0750; existing folders are left
        as they are. Safe when several threads or processes create the same folder."""
        if path.is_dir():
            return
        if parents and path.parent != path:
            self._mkdir(path.parent, parents=True)
        try:
            os.mkdir(path, self._DIR_MODE)
        except FileExistsError:
            if not path.is_dir():
                raise
            return
        os.chmod(path, self._DIR_MODE)  # mkdir's mode is filtered by the umask
        _fsync_dir(path.parent)

    def _write_atomic(self, target: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f"{self._TMP_PREFIX}{target.name}.")
        try:
            try:
                os.fchmod(fd, self._FILE_MODE)
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(target.parent)


def _unlink(path: Path) -> bool:
    """Remove a file; False when there was none."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        if path.stat().st_size != len(data):
            return False
        return path.read_bytes() == data
    except FileNotFoundError:
        return False


def _fsync_dir(path: Path) -> None:
    """Make a rename or create in ``path`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------------------
# S3-compatible


class S3DocumentStore:
    """Documents in an S3-compatible bucket, key ``sha256/<aa>/<sha256>``, with the object's
    ``ContentType`` and user metadata ``sha256``.

    ``put`` first asks (HEAD) whether the key exists, so re-storing a document sends no bytes. It then
    writes with a conditional create (``If-None-Match: *``, honoured by AWS S3 and current MinIO) and
    a ``x-amz-checksum-sha256`` that AWS S3 and MinIO check against the bytes they received. A 412 (someone
    else created it first) or 409 (a concurrent conditional write was in flight) means another writer
    stored the same bytes: the stored object is returned. A service that refuses conditional writes
    (501 NotImplemented) is remembered and written with a plain put after the HEAD, which has a race:
    two writers that both see no object both put. Since the key is the hash of the bytes, both write
    the same bytes, so the race is harmless (at worst the content type of the last writer wins).

    The boto3 client is thread-safe and shared by all calls. ``endpoint_url`` (e.g. MinIO's
    ``http://127.0.0.1:9000``) selects path-style addressing; without it boto3 talks to AWS and finds
    credentials the usual way (environment, instance role) when ``access_key`` is None.
    """

    KEY_PREFIX = "sha256/"

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None,
        access_key: str | None,
        secret_key: str | None,
        region: str = "us-east-1",
        create_bucket: bool = False,
    ):
        import boto3
        from botocore.config import Config

        if not bucket:
            raise ValueError("S3 bucket name is empty")
        if (access_key is None) != (secret_key is None):
            raise ValueError("S3 access_key and secret_key must be given together")
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        config = Config(
            region_name=region,
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
            max_pool_connections=32,
        )
        session = boto3.session.Session()  # its own session: the default one is not thread-safe
        self._client = session.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=config,
        )
        self._conditional_put = True
        self._lock = threading.Lock()
        if create_bucket:
            self._ensure_bucket()

    def __repr__(self) -> str:
        return f"S3DocumentStore(bucket={self.bucket!r}, endpoint_url={self.endpoint_url!r})"

    @classmethod
    def key_for(cls, sha256: str) -> str:
        sha256 = _check_sha256(sha256)
        return f"{cls.KEY_PREFIX}{sha256[:2]}/{sha256}"

    # port --------------------------------------------------------------------------------------
    def put(self, data: bytes, content_type: str) -> StoredObject:
        import base64

        from botocore.exceptions import ClientError

        data = _check_put_args(data, content_type)
        digest = hashlib.sha256(data).digest()
        sha256 = digest.hex()
        key = self.key_for(sha256)
        existing = self.stat(sha256)
        if existing is not None:
            return existing
        args: dict[str, Any] = dict(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            Metadata={"sha256": sha256},
            ChecksumSHA256=base64.b64encode(digest).decode(),
        )
        if self._conditional_put:
            try:
                self._client.put_object(IfNoneMatch="*", **args)
                return StoredObject(sha256=sha256, size=len(data), content_type=content_type)
            except ClientError as exc:
                code, status = _error(exc)
                if status in (409, 412) or code in ("PreconditionFailed", "ConditionalRequestConflict"):
                    stored = self._stat_after_race(sha256)
                    if stored is not None:
                        return stored
                    # 409 and the other write failed after all: fall through to a plain put
                elif status == 501 or code == "NotImplemented":
                    with self._lock:
                        self._conditional_put = False
                else:
                    raise
        # Head-then-put: the HEAD above and this put race with other writers, harmlessly (same bytes).
        self._client.put_object(**args)
        return StoredObject(sha256=sha256, size=len(data), content_type=content_type)

    def get(self, sha256: str) -> bytes:
        from botocore.exceptions import ClientError

        key = self.key_for(sha256)
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_not_found(exc):
                raise DocumentNotFound(sha256) from None
            raise
        with contextlib.closing(response["Body"]) as body:
            data = body.read()
        actual = _sha256_hex(data)
        if actual != sha256:
            raise DocumentCorrupted(sha256, f"stored bytes hash to {actual}")
        return data

    def exists(self, sha256: str) -> bool:
        return self.stat(sha256) is not None

    def stat(self, sha256: str) -> StoredObject | None:
        from botocore.exceptions import ClientError

        key = self.key_for(sha256)
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_not_found(exc):
                return None
            raise
        return StoredObject(
            sha256=sha256,
            size=int(head["ContentLength"]),
            content_type=head.get("ContentType") or "application/octet-stream",
        )

    def delete(self, sha256: str) -> bool:
        """Delete the object. In a bucket that keeps versions (versioning enabled or suspended) a plain delete only
        hides the bytes behind a delete marker, so every version of the key and every marker is deleted instead,
        by version id. The bucket's versioning is asked on every call (a bucket can be switched to versioning at
        any time; deletes are rare): the credentials need ``s3:GetBucketVersioning`` besides ``s3:DeleteObject``,
        and in a versioned bucket ``s3:ListBucketVersions`` and ``s3:DeleteObjectVersion``."""
        key = self.key_for(sha256)
        if self._versioned():
            return self._delete_versions(key)
        existed = self.stat(sha256) is not None
        self._client.delete_object(Bucket=self.bucket, Key=key)  # no error when absent: idempotent
        return existed

    def ids(self) -> Iterator[str]:
        """Every stored document's sha256 (a paginated listing of ``sha256/``; needs ``s3:ListBucket``). Not part of
        the port: the backup (``pengaduan backup``) lists a store to copy it."""
        for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.KEY_PREFIX):
            for item in page.get("Contents", []):
                sha256 = item["Key"].rpartition("/")[2]
                if _SHA256_RE.fullmatch(sha256) and item["Key"] == self.key_for(sha256):
                    yield sha256

    # helpers -----------------------------------------------------------------------------------
    def _versioned(self) -> bool:
        status = self._client.get_bucket_versioning(Bucket=self.bucket).get("Status")
        return status in ("Enabled", "Suspended")

    def _delete_versions(self, key: str) -> bool:
        """Delete every version of ``key`` and every delete marker; True when a version holding bytes was there."""
        found = False
        pages = self._client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=key)
        for page in pages:
            for kind in ("Versions", "DeleteMarkers"):
                for version in page.get(kind, []):
                    if version["Key"] != key:  # a prefix match only: another key that begins with this one
                        continue
                    found = found or kind == "Versions"
                    self._client.delete_object(Bucket=self.bucket, Key=key, VersionId=version["VersionId"])
        return found

    def _stat_after_race(self, sha256: str) -> StoredObject | None:
        """After a 409/412 the winner's write may not be visible for a moment: look a few times."""
        import time

        for delay in (0.0, 0.05, 0.2, 0.5):
            time.sleep(delay)
            stored = self.stat(sha256)
            if stored is not None:
                return stored
        return None

    def _ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self._client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if not _is_not_found(exc):
                raise
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self._client.create_bucket(**kwargs)
        except ClientError as exc:
            code, _ = _error(exc)
            if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
            if code == "BucketAlreadyExists":  # taken by another account (AWS): fail clearly
                raise ValueError(f"S3 bucket {self.bucket!r} exists and belongs to someone else") from exc


def _error(exc: Any) -> tuple[str, int | None]:
    response = getattr(exc, "response", {}) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code, status


def _is_not_found(exc: Any) -> bool:
    code, status = _error(exc)
    # A missing bucket is a configuration error, not a missing document (HEAD has no body, so it
    # cannot tell them apart; GET can).
    return code in ("404", "NoSuchKey", "NotFound") or (status == 404 and code != "NoSuchBucket")


# --------------------------------------------------------------------------------------------------
# From settings

_S3_PARAMS = {"endpoint", "access_key", "secret_key", "region", "create"}
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def store_from_settings(url: str) -> DocumentStore:
    """Build a store from a URL.

    * ``file:///abs/path`` (e.g. ``Path(...).resolve().as_uri()``): a ``LocalDocumentStore``.
    * ``s3://bucket?endpoint=http://127.0.0.1:9000&access_key=..&secret_key=..&region=..&create=1``:
      an ``S3DocumentStore``. All parameters are optional: without ``endpoint`` it is AWS S3, without
      keys boto3 finds credentials itself, ``create=1`` creates the bucket if missing. Values are
      percent-decoded but ``+`` stays a plus (AWS secret keys contain it); percent-encode ``&``,
      ``#`` and ``%`` in them.

    Anything else raises ``ValueError``; the messages never repeat the query string, which holds secrets.
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("document store URL is empty: expected file:///abs/path or s3://bucket?...")
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    shown = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"  # no query, no userinfo
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(
                f"document store URL {shown!r}: a file URL needs an absolute path, file:///abs/path "
                f"(found host {parts.netloc!r}; a relative path is not allowed)"
            )
        if parts.query or parts.fragment:
            raise ValueError(f"document store URL {shown!r}: a file URL takes no query or fragment")
        path = unquote(parts.path)
        if not path.startswith("/") or "\x00" in path:
            raise ValueError(f"document store URL {shown!r}: expected file:///abs/path")
        return LocalDocumentStore(Path(path))
    if scheme == "s3":
        if parts.fragment:
            raise ValueError(f"document store URL {shown!r}: unexpected '#' (percent-encode it as %23 in keys)")
        if "@" in parts.netloc:
            raise ValueError(f"document store URL {shown!r}: give keys as ?access_key=..&secret_key=.., not user:pass@")
        bucket = parts.netloc
        if not _BUCKET_RE.fullmatch(bucket) or ".." in bucket:
            raise ValueError(f"document store URL {shown!r}: {bucket!r} is not a valid S3 bucket name")
        if parts.path not in ("", "/"):
            raise ValueError(f"document store URL {shown!r}: s3://bucket takes no path (key prefixes are fixed)")
        params: dict[str, str] = {}
        for item in parts.query.split("&") if parts.query else []:
            if not item:
                continue
            name, sep, value = item.partition("=")
            name = unquote(name)
            if name not in _S3_PARAMS:
                raise ValueError(
                    f"document store URL {shown!r}: unknown parameter {name!r}; expected {sorted(_S3_PARAMS)}"
                )
            if name in params:
                raise ValueError(f"document store URL {shown!r}: parameter {name!r} given twice")
            params[name] = unquote(value) if sep else ""
        endpoint = params.get("endpoint") or None
        if endpoint is not None:
            ep = urlsplit(endpoint)
            if ep.scheme not in ("http", "https") or not ep.netloc:
                raise ValueError(f"document store URL {shown!r}: endpoint {endpoint!r} must be an http(s):// URL")
        create = params.get("create", "").lower()
        if create not in _TRUE | _FALSE:
            raise ValueError(f"document store URL {shown!r}: create must be 1 or 0, not {create!r}")
        access_key = params.get("access_key") or None
        secret_key = params.get("secret_key") or None
        if (access_key is None) != (secret_key is None):
            raise ValueError(f"document store URL {shown!r}: give both access_key and secret_key, or neither")
        return S3DocumentStore(
            bucket,
            endpoint_url=endpoint,
            access_key=access_key,
            secret_key=secret_key,
            region=params.get("region") or "us-east-1",
            create_bucket=create in _TRUE,
        )
    raise ValueError(
        f"unsupported document store URL {shown!r}: expected file:///abs/path or "
        "s3://bucket?endpoint=http://host:port&access_key=..&secret_key=.."
    )
