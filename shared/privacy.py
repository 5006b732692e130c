"""A complainant's personal data under a key of its own, so that it can be erased from an append-only history
(crypto-shredding; UU 27/2022 PDP; issue #17, docs/adr/0017).

- **Data keys.** Each complaint (the *subject*) has a random 256-bit data key, created when its first personal
  value is stored, kept in ``privacy.data_keys`` only *wrapped* (AES key wrap, RFC 3394) by a key-encryption key.
  Erasure destroys the wrapped key (the row stays, saying when and why): every value sealed under it is from then
  on unreadable everywhere, in every copy of the store and in every backup once the backups holding the key have
  aged out.
- **Key-encryption keys** (:class:`KeyEncryptionKeys`) come from the settings: ``PENGADUAN_PRIVACY_KEYS`` (or a
  file, ``PENGADUAN_PRIVACY_KEYS_FILE``), a JSON object ``{"current": "<id>", "keys": {"<id>": "<base64 of 32 bytes>", ...}}`` (required in production; a
  KMS or HSM would stand behind the same two methods, ``wrap`` and ``unwrap``). Rotation: add a key, make it
  current, ``pengaduan privacy rotate-keys`` rewraps every data key; the old one may then go. In development and
  test the key is derived from ``PENGADUAN_SECRET_KEY`` (HKDF), so every process of a deployment agrees without a
  file.
- **Sealed values** (:func:`seal`, :func:`unseal`): a JSON value encrypted with AES-256-GCM under the subject's data
  key, stored as ``{"$pdp": 1, "n": <nonce>, "c": <ciphertext>}`` (base64). The associated data binds it to its
  place (subject, event type, field): a sealed value copied elsewhere does not open.

The event store seals the personal fields an event type declares (``PERSONAL``) on append and opens them on read
(``shared/eventstore/postgres.py``); a field whose key was erased reads as the event type's ``ERASED`` value.

- **Keyed hashes of providers' message ids** (:class:`ProviderIdHashes`): a WhatsApp message id (``wamid.`` and
  base64) holds the other party's phone number, so no table keeps one to match by: every match (a delivery
  receipt finding its delivery, a redelivered inbound message recognised, intake's erasure finding a complaint's
  receipts) is by HMAC-SHA256 of the id under a key derived from the key-encryption keys (docs/adr/0017,
  decision 7).
- **Keyed hashes of a complainant's NIK, phone and e-mail** (:class:`LookupHashes`, table ``privacy.lookups``): what a
  search on personal data matches by (possible duplicates, docs/adr/0021), so that no table is searched by a value in
  clear (docs/adr/0017, decision 13).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import threading
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap
from sqlalchemy import (
    Column,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    Table,
    Text,
    any_,
    bindparam,
    delete,
    func,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.engine import Connection, Engine

MARKER = "$pdp"
SEALED_VERSION = 1
KEY_BYTES = 32

metadata = MetaData(schema="privacy")
data_keys = Table(
    "data_keys",
    metadata,
    Column("subject_id", PG_UUID(as_uuid=True), primary_key=True),  # the complaint
    Column("kek_id", Text),  # the key-encryption key it is wrapped by; NULL once erased
    Column("wrapped", LargeBinary),  # NULL once erased
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("rotated_at", DateTime(timezone=True)),
    Column("erased_at", DateTime(timezone=True)),
    Column("erased_by", Text),
    Column("erasure_reason", Text),
)
# the data keys of some subjects (``DataKeys.for_reading``: every event read with sealed data), built once
_KEYS_OF = select(data_keys.c.subject_id, data_keys.c.kek_id, data_keys.c.wrapped).where(
    data_keys.c.subject_id == any_(bindparam("subjects", type_=ARRAY(PG_UUID(as_uuid=True))))
)

# the keyed hashes of each complaint's normalised NIK, phone and e-mail (migration 0028; decision 13 of docs/adr/0017):
# written with ComplaintReceived and each correction, deleted with the erasure, searched within a kecamatan
lookups = Table(
    "lookups",
    metadata,
    Column("subject_id", PG_UUID(as_uuid=True), primary_key=True),  # the complaint
    Column("kind", Text, primary_key=True),  # nik, phone, email
    Column("hash", Text, primary_key=True),  # hex HMAC-SHA256 (LookupHashes)
    Column("kecamatan", Text, nullable=False),
    Index("lookups_search", "kecamatan", "kind", "hash"),
)


# the subject's key made now (the third column true) or the one it has (false), in one round trip; no row when another
# transaction made it after this statement's snapshot was taken (the insert waited for it, the select cannot see it)
_KEY_FOR_WRITING = text(
    "WITH made AS ("
    " INSERT INTO privacy.data_keys (subject_id, kek_id, wrapped) VALUES (:subject, :kek_id, :wrapped)"
    " ON CONFLICT (subject_id) DO NOTHING RETURNING kek_id, wrapped)"
    " SELECT kek_id, wrapped, true FROM made"
    " UNION ALL SELECT kek_id, wrapped, false FROM privacy.data_keys"
    " WHERE subject_id = :subject AND NOT EXISTS (SELECT FROM made)"
).bindparams(bindparam("wrapped", type_=LargeBinary))


class PrivacyKeyError(ValueError):
    """The key-encryption keys are missing, unreadable, or do not open a data key: refuse, never store in clear."""


@dataclass(frozen=True)
class KeyEncryptionKeys:
    current: str
    keys: dict[str, bytes] = field(repr=False)

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise PrivacyKeyError(f"the current key-encryption key {self.current!r} is not among the keys")
        for kid, key in self.keys.items():
            if len(key) != KEY_BYTES:
                raise PrivacyKeyError(f"key-encryption key {kid!r} is not {KEY_BYTES} bytes")

    @classmethod
    def from_json(cls, text: str, source: str = "PENGADUAN_PRIVACY_KEYS") -> KeyEncryptionKeys:
        """``{"current": id, "keys": {id: base64}}``; PrivacyKeyError when it is not that (never showing it)."""
        try:
            data = json.loads(text)
            keys = {str(k): base64.b64decode(v, validate=True) for k, v in data["keys"].items()}
            return cls(str(data["current"]), keys)
        except PrivacyKeyError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise PrivacyKeyError(
                f"{source}: not privacy keys ({type(exc).__name__}): expected "
                '{"current": "<id>", "keys": {"<id>": "<base64 of 32 random bytes>"}}'
            ) from None

    @classmethod
    def from_file(cls, path: str | Path) -> KeyEncryptionKeys:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise PrivacyKeyError(f"{path}: cannot read the privacy keys ({exc.strerror})") from None
        return cls.from_json(text, str(path))

    @classmethod
    def derived_from(cls, secret: str) -> KeyEncryptionKeys:
        """Development and test: one key derived from the deployment's secret (HKDF-SHA256)."""
        key = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"pengaduan privacy kek v1").derive(
            secret.encode()
        )
        return cls("dev-1", {"dev-1": key})

    @staticmethod
    def generate(kid: str) -> dict[str, Any]:
        """A new keys file's content with one fresh key (``pengaduan privacy new-key``)."""
        return {"current": kid, "keys": {kid: base64.b64encode(os.urandom(KEY_BYTES)).decode()}}

    def wrap(self, data_key: bytes) -> tuple[str, bytes]:
        return self.current, aes_key_wrap(self.keys[self.current], data_key)

    def unwrap(self, kek_id: str, wrapped: bytes) -> bytes:
        kek = self.keys.get(kek_id)
        if kek is None:
            raise PrivacyKeyError(f"a data key is wrapped by key-encryption key {kek_id!r}, which is not configured")
        try:
            return aes_key_unwrap(kek, wrapped)
        except InvalidUnwrap:
            raise PrivacyKeyError(f"key-encryption key {kek_id!r} does not open a data key") from None


def keys_from_settings(settings: Any) -> KeyEncryptionKeys:
    """The key-encryption keys the settings name (``privacy_keys_file``), else, outside production, derived from
    the secret key. Production without the file: PrivacyKeyError (a process refuses to start)."""
    if getattr(settings, "privacy_keys", None):
        return KeyEncryptionKeys.from_json(settings.privacy_keys)
    path = getattr(settings, "privacy_keys_file", None)
    if path:
        return KeyEncryptionKeys.from_file(path)
    if getattr(settings, "environment", "production") == "production":
        raise PrivacyKeyError(
            "PENGADUAN_PRIVACY_KEYS_FILE must name the key-encryption keys in production "
            "(pengaduan privacy new-key > keys.json; keep it apart from the database and its backups)"
        )
    return KeyEncryptionKeys.derived_from(settings.secret_key)


# -- keyed hashes of providers' message ids ----------------------------------------------------------------------
PROVIDER_ID_INFO = b"pengaduan provider message id hmac v1"


class ProviderIdHashes:
    """HMAC-SHA256 of a provider's message id (hex), under a key derived (HKDF) from each key-encryption key: what
    notify's deliveries, intake's inbound messages and delivery receipts, the notification events and the hand-offs
    between them match by, so that none of them needs the id itself (a WhatsApp id holds the recipient's or the
    sender's phone number). Every provider's ids alike: which of them hold a person's data is the provider's
    business (an SMS gateway's, an e-mail Message-ID may too), and no match needs the id in clear.

    ``hash`` is under the current key-encryption key; ``candidates`` under every configured one, the current first:
    a lookup of an id hashed before the current key became current (a redelivered webhook, a late receipt) still
    finds it while that key is configured. Without the key-encryption keys a hash confirms no guess (a phone
    number with a guessed suffix)."""

    def __init__(self, keks: KeyEncryptionKeys) -> None:
        self._current = keks.current
        self._keys = {
            kid: HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=PROVIDER_ID_INFO).derive(kek)
            for kid, kek in keks.keys.items()
        }

    def __repr__(self) -> str:
        return f"ProviderIdHashes(current={self._current!r}, keys={len(self._keys)})"

    @staticmethod
    def _hmac(key: bytes, provider_id: str) -> str:
        return hmac.new(key, provider_id.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def hash(self, provider_id: str) -> str:
        """The id's hash under the current key: what is stored."""
        return self._hmac(self._keys[self._current], provider_id)

    def candidates(self, provider_id: str) -> list[str]:
        """The id's hash under every configured key, the current one first: what a lookup matches."""
        return [self.hash(provider_id)] + [
            self._hmac(key, provider_id) for kid, key in sorted(self._keys.items()) if kid != self._current
        ]


# -- keyed hashes of a complainant's NIK, phone and e-mail (lookups) ---------------------------------------------
LOOKUP_INFO = b"pengaduan personal data lookup hmac v1"
LOOKUP_KINDS = ("nik", "phone", "email")


def lookup_value(kind: str, value: str | None) -> str | None:
    """``value`` as it is compared (None: nothing to compare): a NIK its 16 digits (the separators people type
    dropped), a phone number in E.164 (``0812-3456-7890`` and ``+62 812 3456 7890`` alike), an e-mail address in
    lower case (NFC; the local part too: nobody's mailbox differs from another's by case alone)."""
    from shared import identity

    if not value or not value.strip():
        return None
    if kind == "nik":
        digits = re.sub(r"[\s.\-]", "", value)
        return digits if re.fullmatch(r"[0-9]{16}", digits) else None
    if kind == "phone":
        try:
            return identity.normalize_phone(value)
        except identity.InvalidPhone:
            return None
    if kind == "email":
        text = unicodedata.normalize("NFC", value.strip()).lower()
        return text if "@" in text else None
    raise ValueError(f"no lookups of kind {kind!r}")


class LookupHashes:
    """HMAC-SHA256 (hex) of a normalised NIK, phone or e-mail (``lookup_value``), the kind bound in, under a key
    derived (HKDF, its own label) from each key-encryption key, as ``ProviderIdHashes`` does for providers' ids:
    ``hash`` under the current key (what is stored), ``candidates`` under every configured one (what a lookup
    matches, so a value hashed before a rotation is still found while its key is configured). A NIK is 16 digits
    of which few are unknown: a hash without a key would be reversed by trying them, which is why the key is the
    KEKs' and never a constant (docs/adr/0017, decision 13)."""

    def __init__(self, keks: KeyEncryptionKeys) -> None:
        self._current = keks.current
        self._keys = {
            kid: HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=LOOKUP_INFO).derive(kek)
            for kid, kek in keks.keys.items()
        }

    def __repr__(self) -> str:
        return f"LookupHashes(current={self._current!r}, keys={len(self._keys)})"

    @staticmethod
    def _hmac(key: bytes, kind: str, normalised: str) -> str:
        return hmac.new(key, f"{kind}:{normalised}".encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def hash(self, kind: str, value: str | None) -> str | None:
        """The value's hash under the current key (None: no value to compare)."""
        normalised = lookup_value(kind, value)
        return None if normalised is None else self._hmac(self._keys[self._current], kind, normalised)

    def candidates(self, kind: str, value: str | None) -> list[str]:
        """The value's hash under every configured key, the current one first ([]: no value to compare)."""
        normalised = lookup_value(kind, value)
        if normalised is None:
            return []
        return [self._hmac(self._keys[self._current], kind, normalised)] + [
            self._hmac(key, kind, normalised) for kid, key in sorted(self._keys.items()) if kid != self._current
        ]


COMPARABLE_TEXT_LENGTH = 2000  # characters of a complaint's text compared (pg_trgm reads the whole, so bounded)


def comparable_text(subject: str, description: str) -> str:
    """A complaint's subject and description as texts are compared (possible duplicates, docs/adr/0021): NFKC,
    lower case, NIK-, phone- and e-mail-shaped strings taken out (a description is not where a person's numbers
    should be kept, and they would make two complaints alike for the wrong reason), one space between words, the
    first ``COMPARABLE_TEXT_LENGTH`` characters."""
    from shared import masking

    text = masking.scrub(f"{subject}\n{description}").replace(masking.REDACTED, " ")
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", text).split())[:COMPARABLE_TEXT_LENGTH]


_ADD_LOOKUPS = insert(lookups).on_conflict_do_nothing()  # the rows at execution: built once


def record_lookups(
    conn: Connection,
    hashes: LookupHashes,
    subject: UUID,
    kecamatan: str,
    values: dict[str, str | None],
    *,
    replace: bool = True,
) -> None:
    """The subject's lookups as ``values`` (kind -> NIK, phone, e-mail as recorded) have them now, in ``conn``'s
    transaction: those of an earlier record (a correction replaces a mistyped number) go (``replace``; a subject's
    first record has none to replace)."""
    if replace:
        conn.execute(delete(lookups).where(lookups.c.subject_id == subject))
    rows = [
        {"subject_id": subject, "kind": kind, "hash": digest, "kecamatan": kecamatan}
        for kind in LOOKUP_KINDS
        if (digest := hashes.hash(kind, values.get(kind))) is not None
    ]
    if rows:
        conn.execute(_ADD_LOOKUPS, rows)


def erase_lookups(conn: Connection, subject: UUID) -> int:
    """Delete the subject's lookups (in the transaction that destroys its key); how many there were."""
    return conn.execute(delete(lookups).where(lookups.c.subject_id == subject)).rowcount


# -- sealed values ----------------------------------------------------------------------------------------------
def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and value.get(MARKER) == SEALED_VERSION and "c" in value


def _aad(subject: UUID, place: str) -> bytes:
    return f"{subject}:{place}".encode()


def seal(value: Any, data_key: bytes, subject: UUID, place: str) -> dict[str, Any]:
    """``value`` (anything JSON) sealed under ``data_key``, bound to ``subject`` and ``place``."""
    nonce = os.urandom(12)
    plain = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    sealed = AESGCM(data_key).encrypt(nonce, plain, _aad(subject, place))
    return {MARKER: SEALED_VERSION, "n": base64.b64encode(nonce).decode(), "c": base64.b64encode(sealed).decode()}


def unseal(sealed: dict[str, Any], data_key: bytes, subject: UUID, place: str) -> Any:
    plain = AESGCM(data_key).decrypt(base64.b64decode(sealed["n"]), base64.b64decode(sealed["c"]), _aad(subject, place))
    return json.loads(plain)


# -- the data keys ----------------------------------------------------------------------------------------------
class DataKeys:
    """``privacy.data_keys`` read and written in the caller's transaction, with the keys opened kept a short while
    per process (``CACHE_SECONDS``: an erasure elsewhere is honoured here within that time; here, at once)."""

    CACHE_SECONDS = 60.0

    def __init__(self, keks: KeyEncryptionKeys) -> None:
        self.keks = keks
        self._cache: dict[UUID, tuple[float, bytes]] = {}
        self._swept = time.monotonic()
        self._lock = threading.Lock()

    def _cached(self, subject: UUID) -> bytes | None:
        with self._lock:
            hit = self._cache.get(subject)
            if hit is None:
                return None
            if time.monotonic() - hit[0] < self.CACHE_SECONDS:
                return hit[1]
            del self._cache[subject]  # expired: not kept in memory a moment longer than it may be used
            return None

    def _keep(self, subject: UUID, key: bytes) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._swept > self.CACHE_SECONDS or len(self._cache) > 50_000:
                # keys read once and never again leave the process's memory after their minute, not weeks later
                self._cache = {s: hit for s, hit in self._cache.items() if now - hit[0] < self.CACHE_SECONDS}
                self._swept = now
            self._cache[subject] = (now, key)

    def forget(self, subject: UUID) -> None:
        with self._lock:
            self._cache.pop(subject, None)

    def for_writing(self, conn: Connection, subject: UUID) -> bytes | None:
        """The subject's data key as ``conn``'s transaction has it, made now if it has none; None when it was erased
        (nothing more is stored). Never from the cache, and not cached: a key made in a transaction that is then
        rolled back must not seal anything later (another transaction makes the subject's key anew)."""
        fresh = os.urandom(KEY_BYTES)
        kek_id, wrapped = self.keks.wrap(fresh)
        bound = {"subject": subject, "kek_id": kek_id, "wrapped": wrapped}
        row = conn.execute(_KEY_FOR_WRITING, bound).first()
        if row is None:  # made by a transaction that committed after this statement's snapshot: read it now
            row = conn.execute(
                select(data_keys.c.kek_id, data_keys.c.wrapped, literal(False)).where(data_keys.c.subject_id == subject)
            ).one()
        if row.wrapped is None:
            return None
        return fresh if row[2] else self.keks.unwrap(row.kek_id, bytes(row.wrapped))

    def for_reading(
        self, conn: Connection, subjects: Iterable[UUID], *, fresh: bool = False
    ) -> dict[UUID, bytes | None]:
        """Each subject's data key, None for one erased; a subject with no row at all is left out (never made: a
        reader holding a value sealed under it has a store and key table that do not belong together). ``fresh``:
        read from the table, not the cache."""
        found: dict[UUID, bytes | None] = {}
        missing = []
        for subject in set(subjects):
            cached = None if fresh else self._cached(subject)
            if cached is not None:
                found[subject] = cached
            else:
                missing.append(subject)
        if missing:
            rows = conn.execute(_KEYS_OF, {"subjects": missing})
            for subject, kek_id, wrapped in rows:
                if wrapped is None:
                    found[subject] = None
                    continue
                key = self.keks.unwrap(kek_id, bytes(wrapped))
                self._keep(subject, key)
                found[subject] = key
        return found

    def erase(self, conn: Connection, subject: UUID, *, by: str, reason: str, at: datetime | None = None) -> bool:
        """Destroy the subject's data key (a key never made is recorded as erased too, so none is made later);
        False when it was already erased."""
        at = at or datetime.now(UTC)
        conn.execute(
            insert(data_keys)
            .values(subject_id=subject, kek_id=None, wrapped=None, erased_at=at, erased_by=by, erasure_reason=reason)
            .on_conflict_do_nothing(index_elements=["subject_id"])
        )
        erased = conn.execute(
            update(data_keys)
            .where(data_keys.c.subject_id == subject, data_keys.c.erased_at.is_(None))
            .values(kek_id=None, wrapped=None, erased_at=at, erased_by=by, erasure_reason=reason)
        ).rowcount
        self.forget(subject)
        if erased:
            return True
        row = conn.execute(
            select(data_keys.c.erased_at, data_keys.c.erased_by).where(data_keys.c.subject_id == subject)
        ).one()
        return bool(row.erased_at == at and row.erased_by == by)  # the row this call inserted

    def rotate_all(self, engine: Engine, batch: int = 500, subjects: Iterable[UUID] | None = None) -> int:
        """``rotate`` every data key (or those of ``subjects``), a batch per transaction: a row is locked (``FOR UPDATE``) only until its
        batch commits, so notify's and letters' writers (``hold``) wait for one batch at most, not for the whole
        table; how many were rewrapped."""
        done = 0
        while True:
            with engine.begin() as conn:
                rewrapped = self.rotate(conn, batch, subjects, once=True)
            if not rewrapped:
                return done
            done += rewrapped

    def rotate(
        self, conn: Connection, batch: int = 500, subjects: Iterable[UUID] | None = None, *, once: bool = False
    ) -> int:
        """Rewrap every data key (or those of ``subjects``) not wrapped by the current key-encryption key, in
        ``conn``'s transaction (``once``: one batch only); how many. Rows another transaction holds are skipped."""
        done = 0
        only = [] if subjects is None else [data_keys.c.subject_id.in_(list(subjects))]
        while True:
            rows = conn.execute(
                select(data_keys.c.subject_id, data_keys.c.kek_id, data_keys.c.wrapped)
                .where(data_keys.c.wrapped.is_not(None), data_keys.c.kek_id != self.keks.current, *only)
                .limit(batch)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return done
            for subject, kek_id, wrapped in rows:
                kid, rewrapped = self.keks.wrap(self.keks.unwrap(kek_id, bytes(wrapped)))
                conn.execute(
                    update(data_keys)
                    .where(data_keys.c.subject_id == subject)
                    .values(kek_id=kid, wrapped=rewrapped, rotated_at=func.now())
                )
            done += len(rows)
            if once:
                return done


# -- writers of personal data beside the event store -------------------------------------------------------------
def hold(conn: Connection, subject: UUID) -> bool:
    """Whether the subject's personal data may still be written in ``conn``'s transaction: True while it is not
    erased, and the subject's key row is then held (``FOR SHARE``) until the transaction ends; False once erased
    (write none of it).

    What a service writes of a complainant beside the event store (notify's messages, letters' documents) is made
    from values it read a moment before, perhaps from a key cached for up to a minute: an erasure may have run in
    between. The erasure destroys the key by updating this row first, so it waits for every transaction that holds
    the row, and the services' own erasures (which run on ``PersonalDataErased``, committed with the key's
    destruction) find what those transactions wrote; a transaction that comes after it reads the row erased. A
    subject without a key row has no personal data stored (an anonymous complaint): True, nothing to hold."""
    row = conn.execute(_HOLD, {"subject": subject}).first()
    return row is None or row.erased_at is None


# built once (every message and document of a complainant holds the key row): the subject passed at execution
_HOLD = select(data_keys.c.erased_at).where(data_keys.c.subject_id == bindparam("subject")).with_for_update(read=True)


# -- this process's data keys -------------------------------------------------------------------------------------
_defaults: dict[tuple[Any, ...], DataKeys] = {}
_defaults_lock = threading.Lock()


_hashes: dict[tuple[Any, ...], ProviderIdHashes] = {}
_lookups: dict[int, tuple[KeyEncryptionKeys, LookupHashes]] = {}


def _ident(settings: Any) -> tuple[Any, ...]:
    return (
        getattr(settings, "privacy_keys", None),
        getattr(settings, "privacy_keys_file", None),
        settings.secret_key,
        settings.environment,
    )


def data_keys_for(settings: Any) -> DataKeys:
    """The data keys under the key-encryption keys ``settings`` name, one object per distinct configuration in a
    process (so its cache is shared by every store built from the same settings)."""
    ident = _ident(settings)
    with _defaults_lock:
        found = _defaults.get(ident)
        if found is None:
            found = _defaults[ident] = DataKeys(keys_from_settings(settings))
        return found


def provider_id_hashes(settings: Any) -> ProviderIdHashes:
    """The keyed hashes of providers' message ids under the key-encryption keys ``settings`` name (production
    without them: PrivacyKeyError, as for the data keys); one object per distinct configuration in a process."""
    ident = _ident(settings)
    with _defaults_lock:
        found = _hashes.get(ident)
        if found is None:
            found = _hashes[ident] = ProviderIdHashes(keys_from_settings(settings))
        return found


def lookup_hashes(keks: KeyEncryptionKeys) -> LookupHashes:
    """The lookups' keyed hashes under ``keks`` (a process's, e.g. its event store's ``data_keys.keks``): one object
    per key-encryption keys object in a process (the keys derived once)."""
    with _defaults_lock:
        found = _lookups.get(id(keks))
        if found is None or found[0] is not keks:
            found = _lookups[id(keks)] = (keks, LookupHashes(keks))
        return found[1]


def default_data_keys() -> DataKeys:
    """As this process's environment configures them (``shared.config.Settings``)."""
    from shared.config import Settings

    return data_keys_for(Settings())


def default_provider_id_hashes() -> ProviderIdHashes:
    """As this process's environment configures them (``shared.config.Settings``): for the migrations."""
    from shared.config import Settings

    return provider_id_hashes(Settings())
