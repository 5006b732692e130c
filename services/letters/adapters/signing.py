"""Signing response letters for the Camat (pyHanko, PAdES), and the signing identity they are signed with.

* :class:`SigningIdentity` — a kecamatan's signing key, its certificate and the issuing chain (PEM).
  In production they come from configured files (:func:`load_identity`); elsewhere the development CA
  (:mod:`services.letters.adapters.development_ca`) kept in a folder makes them on first use.
* :func:`sign_pdf` — adds a PAdES baseline B-B signature (SubFilter ``/ETSI.CAdES.detached``) in a new
  signature field ``"Tanda Tangan Camat"``, as an incremental update. The signature's ``/ByteRange``
  covers the whole output file except the ``/Contents`` hex string, so everything printed in the letter
  (its number included) is covered.

Checking such a signature is :mod:`services.letters.adapters.verification`.

pyHanko's own synchronous entry points (``PdfSigner.sign_pdf``, ``validate_pdf_signature``) wrap
``asyncio.run`` and so fail inside a running event loop (e.g. an ``async def`` FastAPI route). Signing and
verification use pyHanko's async API through :func:`run_coroutine` and are safe either way: with no loop
running in the calling thread it calls ``asyncio.run`` itself, otherwise it runs it in a short-lived
worker thread (blocking the caller, as any synchronous call does). Both are CPU-bound: call them from a
worker (Celery) or via a threadpool in async code. :func:`async_sign_pdf` and
:func:`~services.letters.adapters.verification.async_verify_pdf` are the coroutine forms for callers that
already run an event loop and accept that it is blocked meanwhile.

No network is used: no timestamp authority (so the signing time is the signer's own claim, ``/M``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

SIGNATURE_FIELD = "Tanda Tangan Camat"

# Room for the CMS object, in hex digits of the PDF's /Contents (pyHanko counts it that way: 2 per byte).
# Fixed rather than estimated, so that pyHanko does not make a throw-away dummy signature first and the
# output length is predictable. Our signature (RSA 2048 + the 2 development certificates) is ~3 KB of
# DER; longer production chains get more room, see _contents_reserve.
CMS_HEX_RESERVED = 32 * 1024


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
    return run_coroutine(
        lambda: async_sign_pdf(
            pdf, identity, reason=reason, location=location, signed_at=signed_at, visible_box=visible_box
        )
    )


__all__ = [
    "SIGNATURE_FIELD",
    "SigningError",
    "SigningIdentity",
    "async_sign_pdf",
    "load_identity",
    "run_coroutine",
    "sign_pdf",
]
