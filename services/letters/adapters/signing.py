"""Signing response letters for the Camat, and checking such signatures (pyHanko, PAdES).

Three parts:

* :class:`SigningIdentity` — a kecamatan's signing key, its certificate and the issuing chain (PEM).
  In production they come from configured files (:func:`load_identity`); elsewhere a
  :class:`DevelopmentCA` kept in a folder makes them on first use.
* :func:`sign_pdf` — adds a PAdES baseline B-B signature (SubFilter ``/ETSI.CAdES.detached``) in a new
  signature field ``"Tanda Tangan Camat"``, as an incremental update. The signature's ``/ByteRange``
  covers the whole output file except the ``/Contents`` hex string, so everything printed in the letter
  (its number included) is covered.
* :func:`verify_pdf` — checks a PDF as received: the last signature must be cryptographically valid,
  cover the *entire* file (anything appended after signing, an incremental update or trailing bytes,
  makes it not valid) and chain to one of the given trust roots. Never raises on a bad PDF.

pyHanko's own synchronous entry points (``PdfSigner.sign_pdf``, ``validate_pdf_signature``) wrap
``asyncio.run`` and so fail inside a running event loop (e.g. an ``async def`` FastAPI route). The
functions here use pyHanko's async API and are safe either way: with no loop running in the calling
thread they call ``asyncio.run`` themselves, otherwise they run it in a short-lived worker thread
(blocking the caller, as any synchronous call does). Both are CPU-bound: call them from a worker
(Celery) or via a threadpool in async code. :func:`async_sign_pdf` and :func:`async_verify_pdf` are the
coroutine forms for callers that already run an event loop and accept that it is blocked meanwhile.

No network is used: no timestamp authority (so the signing time is the signer's own claim, ``/M``) and
no CRL/OCSP fetching (revocation mode soft-fail, nothing to fetch for the development CA).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import fcntl
import functools
import hashlib
import io
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger(__name__)

SIGNATURE_FIELD = "Tanda Tangan Camat"
DEV_CA_COMMON_NAME = "pengaduan Development CA"
DEV_CA_VALIDITY = timedelta(days=3652)  # 10 years
DEV_SIGNER_VALIDITY = timedelta(days=730)  # 2 years
DEV_RENEW_BEFORE = timedelta(days=30)  # a development signing cert this close to expiry is re-issued
# id-kp-documentSigning (RFC 9336); cryptography has no constant for it in every version.
DOCUMENT_SIGNING_EKU = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
# Room for the CMS object, in hex digits of the PDF's /Contents (pyHanko counts it that way: 2 per byte).
# Fixed rather than estimated, so that pyHanko does not make a throw-away dummy signature first and the
# output length is predictable. Our signature (RSA 2048 + the 2 development certificates) is ~3 KB of
# DER; longer production chains get more room, see _contents_reserve.
CMS_HEX_RESERVED = 32 * 1024

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_RESERVED_SLUGS = {"ca"}  # would collide with the CA's own files

class SigningError(Exception):
    """The PDF could not be signed (unreadable input, an existing signature forbidding changes, bad key…)."""


@dataclass(frozen=True)
class SigningIdentity:
    """A kecamatan's signing key and certificate (PEM), with the issuer certificates (the CA chain)."""

    kecamatan: str  # slug
    signer_name: str  # the certificate subject's CN, e.g. "Camat Pegantenan"
    key_pem: bytes  # unencrypted PKCS#8
    cert_pem: bytes
    chain_pem: tuple[bytes, ...]  # issuer certificates, the root included

    def __repr__(self) -> str:  # never print the key
        return f"SigningIdentity(kecamatan={self.kecamatan!r}, signer_name={self.signer_name!r})"


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_pdf` found.

    ``valid`` is the one to act on: intact, cryptographically valid and trusted. ``signer`` and
    ``signed_at`` are what the signature *claims* (the certificate's CN, the ``/M`` time in the
    signature dictionary); they mean something only when ``trusted`` (resp. ``valid``) is true.
    """

    valid: bool  # intact and cryptographically valid, and trusted by the given roots
    intact: bool  # document not modified after signing: digest matches and the signature covers the entire file
    trusted: bool  # the signer's certificate chains to one of the given roots (key usage included)
    signer: str | None  # subject CN of the signer's certificate
    signed_at: datetime | None  # the signer's own claim (no timestamp authority): /M of the signature
    sha256: str  # hex, of the PDF bytes as given
    reason: str | None  # why not valid, in English (for logs; the API translates); None when valid



# --------------------------------------------------------------------------- keys and certificates


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _pem_key(key: Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_certs(data: bytes, source: str) -> list[x509.Certificate]:
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


def _load_key(data: bytes, password: bytes | None, source: str):
    try:
        if b"-----BEGIN" in data:
            return serialization.load_pem_private_key(data, password=password)
        return serialization.load_der_private_key(data, password=password)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{source}: cannot read the private key ({e})") from e


def _same_public_key(key: Any, cert: x509.Certificate) -> bool:
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki)


def _common_name(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def _organisation_for(kabupaten_name: str) -> str:
    """'Kabupaten Pamekasan' or 'Pamekasan' -> 'Pemerintah Kabupaten Pamekasan'; 'Kota Malang' -> 'Pemerintah Kota Malang'."""
    name = " ".join(kabupaten_name.split())
    if re.match(r"(?i)^(kabupaten|kota)\s", name):
        return f"Pemerintah {name}"
    return f"Pemerintah Kabupaten {name}"


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write a whole file or nothing: a temp file in the same folder, fsync, then os.replace."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class DevelopmentCA:
    """A development certificate authority kept in a folder (for ``make run`` and tests).

    Creates on first use a root CA (RSA 3072, CN ``pengaduan Development CA``, 10 years) and, per
    kecamatan, a signing key and certificate (RSA 2048, 2 years; keyUsage digitalSignature +
    nonRepudiation, critical; extendedKeyUsage documentSigning + emailProtection; subject
    ``C=ID, O=Pemerintah Kabupaten <kab>, OU=Kecamatan <name>, CN=Camat <name>``).

    Files: ``<folder>/ca.key``, ``ca.crt``, ``<slug>.key``, ``<slug>.crt``; keys mode 0600, the folder
    0700 when created here. Idempotent: existing files are read, never rewritten, except a signing
    certificate that has expired, is within 30 days of expiry or was not issued by this folder's CA,
    which is re-issued (same key). Safe for concurrent callers, threads or processes: creation happens
    under an ``flock`` on ``<folder>/.lock`` and each file is written to a temp file and ``os.replace``-d.

    Not for production: the CA key sits next to the certificates it signs.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    # -- public

    def identity(self, kecamatan: str, kecamatan_name: str, kabupaten_name: str) -> SigningIdentity:
        _check_slug(kecamatan)
        signer_name = f"Camat {' '.join(kecamatan_name.split())}"
        found = self._read_identity(kecamatan, signer_name)
        if found is not None:
            return found
        with self._locked():
            found = self._read_identity(kecamatan, signer_name)
            if found is not None:
                return found
            ca_key, ca_cert = self._ensure_ca()
            key = self._ensure_key(self.folder / f"{kecamatan}.key", lambda: rsa.generate_private_key(65537, 2048))
            cert = self._issue(ca_key, ca_cert, key, signer_name, kecamatan_name, kabupaten_name)
            _write_atomically(self.folder / f"{kecamatan}.crt", _pem_cert(cert), 0o644)
            log.info("development CA issued a signing certificate for %s (%s)", kecamatan, signer_name)
        found = self._read_identity(kecamatan, signer_name)
        assert found is not None
        return found

    def trust_roots(self) -> list[bytes]:
        path = self.folder / "ca.crt"
        if not (path.exists() and (self.folder / "ca.key").exists()):
            with self._locked():
                self._ensure_ca()
        return [path.read_bytes()]

    # -- internals

    def _locked(self):
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return _FileLock(self.folder / ".lock")

    def _read_identity(self, slug: str, signer_name: str) -> SigningIdentity | None:
        """The stored identity if it is complete, current and issued by this CA; else None (lock and make)."""
        paths = [self.folder / n for n in ("ca.key", "ca.crt", f"{slug}.key", f"{slug}.crt")]
        if not all(p.exists() for p in paths):
            return None
        _, ca_crt, key_file, crt_file = paths
        ca_pem, key_pem, cert_pem = ca_crt.read_bytes(), key_file.read_bytes(), crt_file.read_bytes()
        ca_cert = _load_certs(ca_pem, str(ca_crt))[0]
        cert = _load_certs(cert_pem, str(crt_file))[0]
        key = _load_key(key_pem, None, str(key_file))
        if not _same_public_key(key, cert):
            return None  # a half-replaced pair cannot happen (the cert is written last) but re-issue if so
        if cert.issuer != ca_cert.subject or cert.not_valid_after_utc - DEV_RENEW_BEFORE < _now():
            return None
        try:
            cert.verify_directly_issued_by(ca_cert)
        except Exception:  # InvalidSignature: another CA of the same name
            return None
        cn = _common_name(cert) or signer_name
        return SigningIdentity(slug, cn, key_pem, cert_pem, (ca_pem,))

    def _ensure_key(self, path: Path, generate) -> Any:
        if path.exists():
            return _load_key(path.read_bytes(), None, str(path))
        key = generate()
        _write_atomically(path, _pem_key(key), 0o600)
        return key

    def _ensure_ca(self) -> tuple[Any, x509.Certificate]:
        """Under the lock: the CA key and certificate, made if missing."""
        key_path, crt_path = self.folder / "ca.key", self.folder / "ca.crt"
        if key_path.exists() and crt_path.exists():
            key = _load_key(key_path.read_bytes(), None, str(key_path))
            cert = _load_certs(crt_path.read_bytes(), str(crt_path))[0]
            if _same_public_key(key, cert):
                return key, cert
            log.warning("development CA: %s does not match %s; making a new CA", key_path, crt_path)
            key_path.unlink()
        key = self._ensure_key(key_path, lambda: rsa.generate_private_key(65537, 3072))
        now = _now()
        name = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pengaduan (development only)"),
            x509.NameAttribute(NameOID.COMMON_NAME, DEV_CA_COMMON_NAME),
        ])
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + DEV_CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_atomically(crt_path, _pem_cert(cert), 0o644)
        log.info("development CA created in %s", self.folder)
        return key, cert

    @staticmethod
    def _issue(ca_key, ca_cert: x509.Certificate, key, signer_name: str, kecamatan_name: str,
               kabupaten_name: str) -> x509.Certificate:
        now = _now()
        subject = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _organisation_for(kabupaten_name)),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"Kecamatan {' '.join(kecamatan_name.split())}"),
            x509.NameAttribute(NameOID.COMMON_NAME, signer_name),
        ])
        ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(min(now + DEV_SIGNER_VALIDITY, ca_cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=True, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage([DOCUMENT_SIGNING_EKU, ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .sign(ca_key, hashes.SHA256())
        )


class _FileLock:
    """An exclusive flock on a file. Also excludes other threads of this process: each acquisition opens
    its own file description, and flock locks of different descriptions conflict."""

    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        assert self.fd is not None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            os.close(self.fd)
            self.fd = None


def _check_slug(slug: str) -> None:
    if not _SLUG.match(slug) or slug in _RESERVED_SLUGS:
        raise ValueError(f"not a usable kecamatan slug for key files: {slug!r}")


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
    key = _load_key(Path(key_file).read_bytes(), key_password, str(key_file))
    certs = _load_certs(Path(cert_file).read_bytes(), str(cert_file))
    cert, chain = certs[0], certs[1:]
    for path in chain_files:
        chain.extend(_load_certs(Path(path).read_bytes(), str(path)))
    if not _same_public_key(key, cert):
        raise ValueError(f"{key_file} is not the key of the certificate in {cert_file}")
    return SigningIdentity(
        kecamatan=kecamatan,
        signer_name=signer_name,
        key_pem=_pem_key(key),
        cert_pem=_pem_cert(cert),
        chain_pem=tuple(_pem_cert(c) for c in chain),
    )


# --------------------------------------------------------------------------- running pyHanko's coroutines


def _run(coro_factory) -> Any:
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

    pyca_key = _load_key(identity.key_pem, None, f"signing key of {identity.kecamatan}")
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


def _contents_reserve(identity: SigningIdentity) -> int:
    """Hex digits to reserve: the certificates embedded in the CMS (as DER, ~3/4 of PEM) plus 4 KB for the
    signature value and attributes, doubled for hex, at least CMS_HEX_RESERVED; even, as pyHanko requires."""
    der_estimate = sum(len(p) for p in (identity.cert_pem, *identity.chain_pem)) * 3 // 4
    return max(CMS_HEX_RESERVED, 2 * (der_estimate + 4096))


async def async_sign_pdf(
    pdf: bytes,
    identity: SigningIdentity,
    *,
    reason: str,
    location: str,
    signed_at: datetime | None = None,
    visible_box: tuple[int, int, int, int] | None = None,
) -> bytes:
    """Coroutine form of :func:`sign_pdf` (CPU-bound: it blocks the event loop while it runs)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields
    from pyhanko.sign.signers import PdfSignatureMetadata
    from pyhanko.stamp import TextStampStyle

    if signed_at is not None and (signed_at.tzinfo is None or signed_at.utcoffset() is None):
        raise ValueError("signed_at must be timezone-aware")
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    except Exception as e:  # PdfReadError and friends
        raise SigningError(f"not a readable PDF: {e}") from e
    meta = PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        location=location,
        name=identity.signer_name,
    )
    stamp = TextStampStyle(
        stamp_text="Ditandatangani secara elektronik oleh\n%(signer)s\n%(ts)s",
        timestamp_format="%d-%m-%Y %H:%M %Z",
    )
    pdf_signer = _pdf_signer_class()(
        meta,
        signer=_signer_for(identity),
        stamp_style=stamp,
        new_field_spec=fields.SigFieldSpec(sig_field_name=SIGNATURE_FIELD, on_page=0, box=visible_box),
    )
    pdf_signer.signing_time = signed_at
    try:
        out = await pdf_signer.async_sign_pdf(writer, bytes_reserved=_contents_reserve(identity), output=io.BytesIO())
    except Exception as e:
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
) -> bytes:
    """Sign ``pdf`` as ``identity``: a PAdES B-B signature (``/ETSI.CAdES.detached``, SHA-256) in a new
    field ``"Tanda Tangan Camat"`` on page 1, appended as an incremental update; returns the signed PDF.

    The signature covers the whole returned file except its own ``/Contents`` value. Invisible unless
    ``visible_box`` (x1, y1, x2, y2 in PDF points on page 1) is given, which draws a plain text box
    ("Ditandatangani secara elektronik oleh / <signer> / <time>").

    ``signed_at`` (timezone-aware) sets the signing time written in the signature dictionary (``/M``)
    instead of now. It is the signer's claim, not a trusted timestamp (there is no TSA). With the same
    input, identity and ``signed_at`` two outputs differ only in the second element of the trailer
    ``/ID`` (pyHanko draws it from os.urandom, as the PDF spec wants a new ID per revision) and so in
    the signature value; same length, same structure.

    Raises :class:`SigningError` when the input is not a readable PDF or pyHanko refuses to sign it
    (e.g. the field already holds a signature), ``ValueError`` for a naive ``signed_at``.
    """
    return _run(lambda: async_sign_pdf(
        pdf, identity, reason=reason, location=location, signed_at=signed_at, visible_box=visible_box
    ))


# --------------------------------------------------------------------------- verifying

_COVERAGE_REASONS = {
    # pyHanko reports ENTIRE_REVISION both for a real incremental update and for stray bytes after %%EOF.
    "ENTIRE_REVISION": "the document was changed after signing (data was appended after the signed revision)",
    "CONTIGUOUS_BLOCK_FROM_START": "the document was changed after signing (bytes were appended)",
    "UNCLEAR": "the signature does not cover the document in a recognised way",
}


_TRUST_REASONS = {  # pyHanko's AdES sub-indications, for the ones a misconfigured or foreign signer gives
    "NO_CERTIFICATE_CHAIN_FOUND": "it does not chain to a trusted root",
    "OUT_OF_BOUNDS_NO_POE": "a certificate of its chain has expired (or is not yet valid) at the validation time",
    "OUT_OF_BOUNDS_NOT_REVOKED": "a certificate of its chain has expired (or is not yet valid) at the validation time",
    "EXPIRED": "a certificate of its chain has expired at the validation time",
    "NOT_YET_VALID": "a certificate of its chain is not yet valid at the validation time",
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": "its chain is not valid at the validation time (e.g. not yet valid)",
    "CHAIN_CONSTRAINTS_FAILURE": "it is not allowed for this use (key usage or chain constraints)",
    "REVOKED_NO_POE": "it has been revoked",
    "REVOKED_CA_NO_POE": "a CA certificate of its chain has been revoked",
    "CRYPTO_CONSTRAINTS_FAILURE": "it uses a disallowed algorithm",
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": "it uses a disallowed algorithm",
}


@functools.lru_cache(maxsize=32)
def _trust_root_certs(trust_roots: tuple[bytes, ...]) -> tuple[asn1_x509.Certificate, ...]:
    from pyhanko.keys import load_certs_from_pemder_data

    certs: list[asn1_x509.Certificate] = []
    for data in trust_roots:
        try:
            for cert in load_certs_from_pemder_data(data):
                cert.native  # asn1crypto parses lazily: parse now, so a bad root fails here, not mid-validation
                certs.append(cert)
        except Exception as e:
            raise ValueError(f"unreadable trust root certificate: {e}") from e
    return tuple(certs)


def _cn_of(cert: asn1_x509.Certificate | None) -> str | None:
    if cert is None:
        return None
    try:
        cn = cert.subject.native.get("common_name")
    except Exception:
        return None
    if isinstance(cn, list):
        cn = cn[-1] if cn else None
    return str(cn) if cn is not None else None


async def async_verify_pdf(pdf: bytes, trust_roots: list[bytes], *, at: datetime | None = None) -> Verification:
    """Coroutine form of :func:`verify_pdf`."""
    sha = hashlib.sha256(pdf).hexdigest()
    roots = _trust_root_certs(tuple(trust_roots))  # a bad trust root is a configuration error: raises

    def not_valid(reason: str, **kw) -> Verification:
        fields_ = dict(valid=False, intact=False, trusted=False, signer=None, signed_at=None, sha256=sha, reason=reason)
        fields_.update(kw)
        return Verification(**fields_)

    try:
        from pyhanko.pdf_utils.reader import PdfFileReader
        from pyhanko.sign.validation import SignatureCoverageLevel, async_validate_pdf_signature
        from pyhanko.sign.validation.errors import SignatureValidationError
        from pyhanko_certvalidator import ValidationContext
    except ImportError as e:  # pragma: no cover - a broken install is not the PDF's fault, but still no raise
        return not_valid(f"signature validation unavailable: {e}")

    if b"%PDF-" not in pdf[:1024]:  # readers accept up to 1 KB before the header
        return not_valid("not a PDF")
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except Exception as e:
        return not_valid(f"unreadable PDF: {type(e).__name__}: {e}")
    if not signatures:
        return not_valid("no signature")
    # The last signature is the only one that can cover the entire file.
    sig = signatures[-1]

    signer = signed_at = None
    try:
        signer = _cn_of(sig.signer_cert)
        signed_at = sig.self_reported_timestamp
    except Exception:
        pass
    vc = ValidationContext(
        trust_roots=list(roots), allow_fetching=False, revocation_mode="soft-fail", moment=at,
    )
    try:
        try:
            # skip_diff: we demand ENTIRE_FILE coverage, so there is no later revision to judge.
            status = await async_validate_pdf_signature(sig, vc, skip_diff=True)
        finally:
            await vc.aclose()
    except SignatureValidationError as e:
        return not_valid(f"invalid signature: {e.failure_message}", signer=signer, signed_at=signed_at)
    except Exception as e:
        return not_valid(f"invalid signature: {type(e).__name__}: {e}", signer=signer, signed_at=signed_at)

    coverage = status.coverage
    whole_file = coverage == SignatureCoverageLevel.ENTIRE_FILE
    intact = bool(status.intact and whole_file)
    crypto_ok = bool(status.valid)
    trusted = bool(status.validation_path is not None and status.trust_problem_indic is None)
    signer = _cn_of(status.signing_cert) or signer
    signed_at = status.signer_reported_dt or signed_at
    reason: str | None = None
    if not status.intact:
        reason = "the document was modified after signing (its content does not match the signature)"
    elif not crypto_ok:
        reason = "the signature value is not valid for the signer's certificate"
    elif not whole_file:
        reason = _COVERAGE_REASONS.get(coverage.name if coverage else "UNCLEAR", _COVERAGE_REASONS["UNCLEAR"])
    elif not trusted:
        indic = status.trust_problem_indic
        name = indic.name if indic is not None else "NO_PATH"
        reason = f"the signer's certificate is not trusted: {_TRUST_REASONS.get(name, 'it could not be validated')} ({name})"
    valid = intact and crypto_ok and trusted
    return Verification(
        valid=valid, intact=intact, trusted=trusted, signer=signer, signed_at=signed_at, sha256=sha,
        reason=None if valid else reason,
    )


def verify_pdf(pdf: bytes, trust_roots: list[bytes], *, at: datetime | None = None) -> Verification:
    """Check the (last) signature of ``pdf`` against ``trust_roots`` (PEM or DER root certificates).

    ``valid`` needs all of: the signed digest matches, the signature value is right for the embedded
    certificate, the signature covers the **entire** file (a signed letter with anything appended, an
    incremental update or stray bytes, is not valid; ``reason`` says which), and the certificate
    chains to one of ``trust_roots`` with keyUsage nonRepudiation (pyHanko's default requirement).

    Certificates are checked as of ``at`` (default now): an expired signer certificate makes the
    signature untrusted even if it was valid when signed, since there is no trusted timestamp.

    Never raises on bad input (garbage, an unsigned or damaged PDF): returns ``valid=False`` with a
    reason. Raises ``ValueError`` only for an unreadable trust root, which is a configuration error.
    """
    return _run(lambda: async_verify_pdf(pdf, trust_roots, at=at))


__all__ = [
    "SIGNATURE_FIELD",
    "DevelopmentCA",
    "SigningError",
    "SigningIdentity",
    "Verification",
    "async_sign_pdf",
    "async_verify_pdf",
    "load_identity",
    "sign_pdf",
    "verify_pdf",
]
