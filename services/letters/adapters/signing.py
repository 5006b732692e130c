"""Signing response letters for the Camat (pyHanko, PAdES), and the signing identity they are signed with.

* :class:`SigningIdentity` — a kecamatan's signing key, its certificate and the issuing chain (PEM).
  In production they come from configured files (:func:`load_identity`); elsewhere the development CA
  (:mod:`services.letters.adapters.development_ca`) kept in a folder makes them on first use.
* :func:`sign_pdf` — adds a PAdES signature (SubFilter ``/ETSI.CAdES.detached``) in a new signature field
  ``"Tanda Tangan Camat"``, as an incremental update. The signature's ``/ByteRange`` covers the whole signed
  revision except the ``/Contents`` hex string, so everything printed in the letter (its number included) is
  covered. Its level depends on ``timestamping`` (:class:`Timestamping`, from the settings, ``adapters/keys.py``):

  - none: **B-B**, the signing time is the signer's own claim (``/M``); once the certificate expires the
    letter no longer verifies;
  - a timestamp authority (RFC 3161, over HTTP with pyHanko's ``HTTPTimeStamper``): **B-T**, a signature
    timestamp from the TSA proves the signature existed at that time, so it still verifies after the signing
    certificate expires (as long as the TSA's certificate is valid);
  - and ``long_term``: **B-LTA**, after the signature pyHanko writes the validation data (the certificates of
    the signer's and the TSA's chains and the CRLs / OCSP responses known for them) into the document security
    store (DSS), then a document timestamp over it all, so that the evidence itself is timestamped (ETSI EN
    319 142-1). Only certificates, CRLs and responses given in :class:`ValidationData` are embedded unless
    ``fetch_revocation`` lets pyHanko fetch what the certificates point to.

  A TSA that cannot be reached raises :class:`TimestampUnavailable`, a ``ConnectionError``: the worker retries
  the task and never issues the letter without its timestamp.

Checking such a signature is :mod:`services.letters.adapters.verification`.

pyHanko's own synchronous entry points (``PdfSigner.sign_pdf``, ``validate_pdf_signature``) wrap
``asyncio.run`` and so fail inside a running event loop (e.g. an ``async def`` FastAPI route). Signing and
verification use pyHanko's async API through :func:`run_coroutine` and are safe either way: with no loop
running in the calling thread it calls ``asyncio.run`` itself, otherwise it runs it in a short-lived
worker thread (blocking the caller, as any synchronous call does). Both are CPU-bound: call them from a
worker (Celery) or via a threadpool in async code. :func:`async_sign_pdf` and
:func:`~services.letters.adapters.verification.async_verify_pdf` are the coroutine forms for callers that
already run an event loop and accept that it is blocked meanwhile.

The network is used only to ask the configured TSA for timestamps (two per B-LTA letter, one per B-T letter,
plus one per process for pyHanko's size estimate) and, when ``fetch_revocation`` is set, for the revocation
data the certificates name.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import io
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from shared.tanggal import format_tanggal

SIGNATURE_FIELD = "Tanda Tangan Camat"
DOCUMENT_TIMESTAMP_FIELD = "Stempel Waktu Arsip"  # the B-LTA document timestamp's field
DEVELOPMENT_NOTICE = "Tanda tangan uji coba (bukan sertifikat BSrE)"
DEFAULT_ZONE, DEFAULT_ZONE_LABEL = ZoneInfo("Asia/Jakarta"), "WIB"

# Room for the CMS object, in hex digits of the PDF's /Contents (pyHanko counts it that way: 2 per byte).
# Fixed rather than estimated, so that pyHanko does not make a throw-away dummy signature first and the
# output length is predictable. Our signature (RSA 2048 + the 2 development certificates) is ~3 KB of
# DER; longer production chains get more room, see _contents_reserve.
CMS_HEX_RESERVED = 32 * 1024


class SigningError(Exception):
    """The PDF could not be signed (unreadable input, an existing signature forbidding changes, bad key…)."""


class TimestampUnavailable(SigningError, ConnectionError):
    """The timestamp authority could not be reached or answered with a server error (5xx, 429) or a timeout: try
    again later. A ``ConnectionError``, so the worker retries the task (shared.tasks.TRANSIENT) rather than keep a
    dead letter; the letter is not issued without its timestamp."""


@dataclass(frozen=True)
class SigningIdentity:
    """A kecamatan's signing key and certificate (PEM), with the issuer certificates (the CA chain)."""

    kecamatan: str  # slug
    signer_name: str  # the certificate subject's CN, e.g. "Camat Pegantenan"
    key_pem: bytes  # unencrypted PKCS#8
    cert_pem: bytes
    chain_pem: tuple[bytes, ...]  # issuer certificates, the root included
    # issued by the development CA: the visible signature says it is a test signature (not part of equality: the
    # same files loaded with load_identity are the same identity)
    development: bool = field(default=False, compare=False)

    def __repr__(self) -> str:  # never print the key
        return f"SigningIdentity(kecamatan={self.kecamatan!r}, signer_name={self.signer_name!r})"


@dataclass(frozen=True)
class TimestampAuthority:
    """An RFC 3161 timestamp authority over HTTP (``application/timestamp-query`` in, ``-reply`` out)."""

    url: str
    username: str | None = None  # HTTP basic authentication, when the TSA wants it
    password: str | None = field(default=None, repr=False)
    timeout: float = 10.0  # seconds per request


@dataclass(frozen=True)
class ValidationData:
    """What certificate chains are checked against, besides what a signature carries: the roots a signer's
    certificate must chain to, the roots a timestamp authority's certificate must chain to (kept apart: a TSA's CA
    vouches for times, not for Camats), further certificates (intermediates, the TSA's), and the CRLs known now
    (PEM or DER). Signing embeds the chains and CRLs in a B-LTA letter; verification uses them with what the
    letter embeds, and never fetches anything."""

    trust_roots: tuple[bytes, ...] = ()
    timestamp_roots: tuple[bytes, ...] = ()
    certs: tuple[bytes, ...] = ()
    crls: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class Timestamping:
    """How letters get their time: the TSA, whether to go on to B-LTA (``long_term``), the validation data to
    check the chains with and embed, and whether pyHanko may fetch revocation data the certificates name."""

    authority: TimestampAuthority
    long_term: bool
    validation: ValidationData
    fetch_revocation: bool = False

    @property
    def level(self) -> str:
        return "B-LTA" if self.long_term else "B-T"


# --------------------------------------------------------------------------- keys and certificates


def pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def pem_key(key: Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_certs(data: bytes, source: str) -> list[x509.Certificate]:
    """All certificates in PEM (one or more) or DER data."""
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError as e:
        raise ValueError(f"{source}: no readable X.509 certificate ({e})") from e
    if not certs:
        raise ValueError(f"{source}: no certificate found")
    return certs


def load_crls(blobs: tuple[bytes, ...] | list[bytes]) -> list[Any]:
    """CRLs (PEM, one or more per blob, or DER) as asn1crypto objects, as pyHanko takes them. Parsed once per
    process for the same bytes."""
    return list(_parsed_crls(tuple(blobs)))


@functools.lru_cache(maxsize=32)
def _parsed_crls(blobs: tuple[bytes, ...]) -> tuple[Any, ...]:
    from asn1crypto import crl as asn1_crl
    from asn1crypto import pem

    found = []
    for blob in blobs:
        ders = [der for _, _, der in pem.unarmor(blob, multiple=True)] if pem.detect(blob) else [blob]
        for der in ders:
            try:
                parsed = asn1_crl.CertificateList.load(der)
                parsed.native  # asn1crypto parses lazily: a bad CRL fails here  # noqa: B018
            except (ValueError, TypeError) as e:
                raise ValueError(f"unreadable CRL: {e}") from e
            found.append(parsed)
    return tuple(found)


def load_asn1_certs(blobs: tuple[bytes, ...] | list[bytes]) -> list[Any]:
    """Certificates (PEM bundles or DER) as asn1crypto objects, as pyHanko takes them. Parsed once per process
    for the same bytes."""
    return list(_parsed_certs(tuple(blobs)))


@functools.lru_cache(maxsize=64)
def _parsed_certs(blobs: tuple[bytes, ...]) -> tuple[Any, ...]:
    from pyhanko.keys import load_certs_from_pemder_data

    certs = tuple(cert for blob in blobs for cert in load_certs_from_pemder_data(blob))
    for cert in certs:
        cert.native  # asn1crypto parses lazily: parse now, once, not in several threads at a time  # noqa: B018
    return certs


def load_key(data: bytes, password: bytes | None, source: str):
    try:
        if b"-----BEGIN" in data:
            return serialization.load_pem_private_key(data, password=password)
        return serialization.load_der_private_key(data, password=password)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{source}: cannot read the private key ({e})") from e


def same_public_key(key: Any, cert: x509.Certificate) -> bool:
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki)


def load_identity(
    key_file: Path,
    cert_file: Path,
    chain_files: list[Path],
    kecamatan: str,
    signer_name: str,
    key_password: bytes | None = None,
) -> SigningIdentity:
    """A signing identity from configured files (production). PEM or DER.

    ``cert_file`` holds the signer's certificate first; any further certificates in it (a "fullchain"
    file) join the chain, followed by those in ``chain_files``. The key may be encrypted
    (``key_password``); the identity holds it decrypted, as PKCS#8 PEM. Raises ``ValueError`` when a file
    is unreadable or the key does not belong to the certificate, ``FileNotFoundError`` when one is missing.
    """
    key = load_key(Path(key_file).read_bytes(), key_password, str(key_file))
    certs = load_certs(Path(cert_file).read_bytes(), str(cert_file))
    cert, chain = certs[0], certs[1:]
    for path in chain_files:
        chain.extend(load_certs(Path(path).read_bytes(), str(path)))
    if not same_public_key(key, cert):
        raise ValueError(f"{key_file} is not the key of the certificate in {cert_file}")
    return SigningIdentity(
        kecamatan=kecamatan,
        signer_name=signer_name,
        key_pem=pem_key(key),
        cert_pem=pem_cert(cert),
        chain_pem=tuple(pem_cert(c) for c in chain),
    )


# --------------------------------------------------------------------------- running pyHanko's coroutines


def run_coroutine(coro_factory) -> Any:
    """Run a coroutine to completion from synchronous code, whether or not this thread has a running loop."""
    try:
        asyncio.get_running_loop()
        loop_running = True
    except RuntimeError:
        loop_running = False
    if not loop_running:  # (outside the except block, so errors don't chain onto the RuntimeError)
        return asyncio.run(coro_factory())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="pyhanko") as pool:
        return pool.submit(lambda: asyncio.run(coro_factory())).result()


# --------------------------------------------------------------------------- signing


@functools.cache
def _cached_key_signer_class():
    from cryptography.hazmat.primitives.asymmetric.ec import ECDSA, EllipticCurvePrivateKey
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from pyhanko.sign.general import get_pyca_cryptography_hash
    from pyhanko.sign.signers import SimpleSigner

    class _CachedKeySigner(SimpleSigner):
        """SimpleSigner that keeps the parsed private key.

        pyHanko's SimpleSigner.sign_raw re-parses the key with ``load_der_private_key`` on every
        signature, and for RSA that load re-validates the key (~35 ms for RSA 2048 on this class of
        machine, more than the rest of the signing). Here the key is parsed once; RSA PKCS#1 v1.5 and
        ECDSA are signed with it directly, anything else goes to pyHanko's own implementation.
        """

        def __init__(self, *args, pyca_key, **kwargs):
            super().__init__(*args, **kwargs)
            self._pyca_key = pyca_key

        def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
            try:
                algo = mechanism.signature_algo
            except ValueError:
                algo = mechanism["algorithm"].native
            key = self._pyca_key
            if algo == "rsassa_pkcs1v15" and isinstance(key, RSAPrivateKey):
                return key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
            if algo == "ecdsa" and isinstance(key, EllipticCurvePrivateKey):
                return key.sign(data, ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
            return super().sign_raw(data, digest_algorithm)

    return _CachedKeySigner


@functools.lru_cache(maxsize=64)
def _signer_for(identity: SigningIdentity):
    """pyHanko's signer for an identity, built once per process (it keeps no per-signature state)."""
    from pyhanko.keys import load_certs_from_pemder_data
    from pyhanko.keys.internal import translate_pyca_cryptography_key_to_asn1
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    pyca_key = load_key(identity.key_pem, None, f"signing key of {identity.kecamatan}")
    cert = next(iter(load_certs_from_pemder_data(identity.cert_pem)))
    chain = [c for pem in identity.chain_pem for c in load_certs_from_pemder_data(pem)]
    # Not SimpleSigner.load: it logs and returns None on bad files instead of raising.
    return _cached_key_signer_class()(
        signing_cert=cert,
        signing_key=translate_pyca_cryptography_key_to_asn1(pyca_key),
        cert_registry=SimpleCertificateStore.from_certs(chain),
        pyca_key=pyca_key,
    )


def _pdf_signer_class():
    from pyhanko.sign.signers import PdfSigner

    class _PdfSignerAt(PdfSigner):
        """PdfSigner with a chosen signing time. pyHanko takes the time (the /M entry; PAdES puts no
        signingTime in the CMS) from PdfSigningSession.system_time, which init_signing_session sets to
        now and offers no parameter for; it is a plain attribute read later, so we set it here."""

        signing_time: datetime | None = None

        def init_signing_session(self, pdf_out, existing_fields_only=False):
            session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
            if self.signing_time is not None:
                session.system_time = self.signing_time
            return session

    return _PdfSignerAt


@functools.cache
def _tls_context():
    """One TLS context per process for the TSA's HTTPS (certifi's roots, as pyHanko's own clients use): building
    one loads the CA bundle, ~0.1 s, which pyHanko's HTTPTimeStamper does for every request."""
    import ssl

    import certifi

    return ssl.create_default_context(cafile=certifi.where())


@functools.cache
def _timestamper_class():
    import aiohttp
    from asn1crypto import tsp
    from pyhanko.sign.timestamps import HTTPTimeStamper, TimestampRequestError

    class _HTTPTimeStamper(HTTPTimeStamper):
        """pyHanko's HTTPTimeStamper with its request (the documented extension point) made on a session that
        reuses the process's TLS context. Same protocol: POST ``application/timestamp-query``, expect
        ``application/timestamp-reply``; errors as pyHanko's (``TimestampRequestError`` from the aiohttp error)."""

        async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
            headers = await self.async_request_headers()
            try:
                async with (
                    aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_tls_context())) as session,
                    session.post(
                        url=self.url,
                        headers=headers,
                        data=req.dump(),
                        auth=self.auth,
                        raise_for_status=True,
                        timeout=aiohttp.ClientTimeout(total=self.timeout),
                    ) as response,
                ):
                    data = await response.read()
                    content_type = response.headers.get("Content-Type")
            except (aiohttp.ClientError, OSError) as e:  # asyncio's TimeoutError is an OSError
                raise TimestampRequestError("Error while contacting timestamp service") from e
            if content_type != "application/timestamp-reply":
                raise TimestampRequestError(f"the timestamp service answered {content_type}, not a timestamp reply")
            return tsp.TimeStampResp.load(data)

    return _HTTPTimeStamper


@functools.lru_cache(maxsize=8)
def _timestamper(authority: TimestampAuthority):
    """The HTTP timestamp client for ``authority``, one per process: it keeps the dummy response it asks for once
    (pyHanko sizes timestamp tokens by it, and learns the TSA's certificates from it). It opens a session per
    request, so it is safe from the short-lived event loops of :func:`run_coroutine`."""
    auth = (authority.username, authority.password or "") if authority.username else None
    return _timestamper_class()(authority.url, timeout=authority.timeout, auth=auth)


class _GivenValidationData(logging.Filter):
    """pyHanko warns, on every B-LTA signature made without fetching, that embedding validation data without
    fetching "may give rise to unexpected results". Here that is the design (the data is given: ValidationData),
    so the warning, one per letter, says nothing; any other pyHanko message passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(
            "Validation/revocation info will be embedded, but fetching is not allowed"
        )


@functools.cache
def _quiet_given_validation_data() -> None:
    logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_GivenValidationData())


def _signing_validation_context(identity: SigningIdentity, timestamping: Timestamping):
    """What pyHanko checks the signer's and the TSA's chains with before signing, and, for B-LTA, embeds: the
    configured roots, the identity's chain and the known certificates and CRLs. Revocation ``hard-fail`` for
    B-LTA: a certificate that names revocation data must have it (given or, with ``fetch_revocation``, fetched),
    or the letter is not signed, rather than signed without the data it claims to carry."""
    from pyhanko_certvalidator import ValidationContext

    if not timestamping.fetch_revocation:
        _quiet_given_validation_data()
    data = timestamping.validation
    return ValidationContext(
        trust_roots=load_asn1_certs([*data.trust_roots, *data.timestamp_roots]),
        other_certs=load_asn1_certs([*identity.chain_pem, *data.certs]),
        crls=load_crls(data.crls),
        allow_fetching=timestamping.fetch_revocation,
        revocation_mode="hard-fail" if timestamping.long_term else "soft-fail",
    )


def stamp_text(
    signer_name: str,
    signed_at: datetime,
    *,
    zone: tzinfo = DEFAULT_ZONE,
    zone_label: str = DEFAULT_ZONE_LABEL,
    development: bool = False,
) -> str:
    """The visible signature's words: who signed and when, in the office's time zone, and for a development
    certificate that it is a test signature::

        Ditandatangani secara elektronik oleh
        Drs. H. Moh. Ma'ruf, M.Si.
        2 Maret 2026 pukul 09.30 WIB
        Tanda tangan uji coba (bukan sertifikat BSrE)
    """
    local = signed_at.astimezone(zone)
    lines = [
        "Ditandatangani secara elektronik oleh",
        " ".join(signer_name.split()),
        f"{format_tanggal(local.date())} pukul {local.hour:02d}.{local.minute:02d} {zone_label}",
    ]
    if development:
        lines.append(DEVELOPMENT_NOTICE)
    return "\n".join(lines)


def _unavailable(exc: BaseException) -> bool:
    """Whether a failed timestamp request is worth trying again: no answer (connection, timeout) or a server
    error; not a TSA that refuses the request or answers nonsense (a person must look at the configuration)."""
    import aiohttp

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, aiohttp.ClientResponseError):
            return current.status >= 500 or current.status in (408, 429)
        if isinstance(current, (aiohttp.ClientConnectionError, asyncio.TimeoutError, TimeoutError, OSError)):
            return True
        current = current.__cause__ or current.__context__
    return False


def _contents_reserve(identity: SigningIdentity, extra: int = 0) -> int:
    """Hex digits to reserve: the certificates embedded in the CMS (as DER, ~3/4 of PEM) plus 4 KB for the
    signature value and attributes and ``extra`` bytes (a timestamp token), doubled for hex, at least
    CMS_HEX_RESERVED; even, as pyHanko requires."""
    der_estimate = sum(len(p) for p in (identity.cert_pem, *identity.chain_pem)) * 3 // 4
    return max(CMS_HEX_RESERVED, 2 * (der_estimate + 4096 + extra))


async def async_sign_pdf(
    pdf: bytes,
    identity: SigningIdentity,
    *,
    reason: str,
    location: str,
    signed_at: datetime | None = None,
    visible_box: tuple[int, int, int, int] | None = None,
    signer_name: str | None = None,
    zone: tzinfo = DEFAULT_ZONE,
    zone_label: str = DEFAULT_ZONE_LABEL,
    timestamping: Timestamping | None = None,
) -> bytes:
    """Coroutine form of :func:`sign_pdf` (CPU-bound: it blocks the event loop while it runs)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields
    from pyhanko.sign.signers import PdfSignatureMetadata
    from pyhanko.sign.signers.pdf_signer import DSSContentSettings, TimestampDSSContentSettings
    from pyhanko.sign.timestamps import TimestampRequestError
    from pyhanko.stamp import TextStampStyle

    if signed_at is not None and (signed_at.tzinfo is None or signed_at.utcoffset() is None):
        raise ValueError("signed_at must be timezone-aware")
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    except Exception as e:  # PdfReadError and friends
        raise SigningError(f"not a readable PDF: {e}") from e
    long_term = timestamping is not None and timestamping.long_term
    meta = PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        location=location,
        name=identity.signer_name,
        validation_context=_signing_validation_context(identity, timestamping) if timestamping else None,
        embed_validation_info=long_term,
        use_pades_lta=long_term,
        timestamp_field_name=DOCUMENT_TIMESTAMP_FIELD if long_term else None,
        # B-LTA: the validation data (the signature's and the TSA's) goes into the DSS in the document timestamp's
        # revision, before it, so that the document timestamp is the last thing in the file and covers all of it
        # (pyHanko's default writes the TSA's data in one more revision after it, which nothing covers). No VRI
        # dictionary: deprecated by PAdES, and it would force that later revision.
        dss_settings=DSSContentSettings(
            include_vri=False,
            next_ts_settings=TimestampDSSContentSettings(include_vri=False, update_before_ts=True),
        ),
    )
    text = stamp_text(
        signer_name or identity.signer_name,
        signed_at or datetime.now(UTC),
        zone=zone,
        zone_label=zone_label,
        development=identity.development,
    )
    # pyHanko %-formats the text: a name's % stays a %; a thin border, as a stamp on paper
    stamp = TextStampStyle(stamp_text=text.replace("%", "%%"), border_width=1)
    pdf_signer = _pdf_signer_class()(
        meta,
        signer=_signer_for(identity),
        timestamper=_timestamper(timestamping.authority) if timestamping else None,
        stamp_style=stamp,
        new_field_spec=fields.SigFieldSpec(sig_field_name=SIGNATURE_FIELD, on_page=0, box=visible_box),
    )
    pdf_signer.signing_time = signed_at
    try:
        extra = 0
        if timestamping:
            # room for the timestamp token too, sized by the TSA's own dummy token (asked once per process):
            # pyHanko's estimate would make a throw-away signature for every letter
            token = await _timestamper(timestamping.authority).async_dummy_response("sha256")
            extra = len(token.dump()) + 1024
        out = await pdf_signer.async_sign_pdf(
            writer, bytes_reserved=_contents_reserve(identity, extra), output=io.BytesIO()
        )
    except TimestampRequestError as e:
        if _unavailable(e):
            raise TimestampUnavailable(f"the timestamp authority is unavailable: {e}") from e
        raise SigningError(f"the timestamp authority refused or garbled the request: {e}") from e
    except Exception as e:
        if timestamping and _unavailable(e):  # e.g. revocation data that could not be fetched
            raise TimestampUnavailable(f"validation data unavailable: {type(e).__name__}: {e}") from e
        raise SigningError(f"signing failed: {type(e).__name__}: {e}") from e
    return out.getvalue()


def sign_pdf(
    pdf: bytes,
    identity: SigningIdentity,
    *,
    reason: str,
    location: str,
    signed_at: datetime | None = None,
    visible_box: tuple[int, int, int, int] | None = None,
    signer_name: str | None = None,
    zone: tzinfo = DEFAULT_ZONE,
    zone_label: str = DEFAULT_ZONE_LABEL,
    timestamping: Timestamping | None = None,
) -> bytes:
    """Sign ``pdf`` as ``identity``: a PAdES signature (``/ETSI.CAdES.detached``, SHA-256) in a new field
    ``"Tanda Tangan Camat"`` on page 1, appended as an incremental update; returns the signed PDF.

    Level B-B without ``timestamping``; B-T with it (a signature timestamp from its TSA); B-LTA when it is
    ``long_term`` (then two more incremental updates follow the signature: the DSS with the validation data, and
    a document timestamp in the field ``"Stempel Waktu Arsip"``). The signature covers its whole revision except
    its own ``/Contents`` value; without B-LTA that revision is the whole file.

    Invisible unless ``visible_box`` (x1, y1, x2, y2 in PDF points on page 1) is given, which draws a plain
    text box (:func:`stamp_text`): "Ditandatangani secara elektronik oleh / <signer_name, default the
    certificate's CN> / <date> pukul <HH.MM> <zone_label>", the time in ``zone`` (default WIB), and for a
    development certificate "Tanda tangan uji coba (bukan sertifikat BSrE)".

    ``signed_at`` (timezone-aware) sets the signing time written in the signature dictionary (``/M``)
    instead of now. It is the signer's claim; only a timestamp is a trusted time. Without a TSA, with the same
    input, identity and ``signed_at`` two outputs differ only in the second element of the trailer ``/ID``
    (pyHanko draws it from os.urandom, as the PDF spec wants a new ID per revision) and so in the signature
    value; same length, same structure.

    Raises :class:`TimestampUnavailable` (a ``ConnectionError``) when the TSA cannot be reached or answers a
    server error, :class:`SigningError` when the input is not a readable PDF, pyHanko refuses to sign it (e.g.
    the field already holds a signature), the TSA refuses the request or a chain does not validate before
    signing, ``ValueError`` for a naive ``signed_at``.
    """
    return run_coroutine(
        lambda: async_sign_pdf(
            pdf,
            identity,
            reason=reason,
            location=location,
            signed_at=signed_at,
            visible_box=visible_box,
            signer_name=signer_name,
            zone=zone,
            zone_label=zone_label,
            timestamping=timestamping,
        )
    )


__all__ = [
    "DEVELOPMENT_NOTICE",
    "DOCUMENT_TIMESTAMP_FIELD",
    "SIGNATURE_FIELD",
    "SigningError",
    "SigningIdentity",
    "TimestampAuthority",
    "TimestampUnavailable",
    "Timestamping",
    "ValidationData",
    "async_sign_pdf",
    "load_identity",
    "run_coroutine",
    "sign_pdf",
    "stamp_text",
]
