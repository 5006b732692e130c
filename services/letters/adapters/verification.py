"""Checking a signed letter as received (pyHanko): :func:`verify_pdf` says whether the last signature is
cryptographically valid, covers the *entire* file (anything appended after signing, an incremental update
or trailing bytes, makes it not valid) and chains to one of the given trust roots. Never raises on a bad PDF.

Safe inside or outside a running event loop, CPU-bound (see :mod:`services.letters.adapters.signing`). No
network is used: no CRL/OCSP fetching (revocation mode soft-fail).
"""

from __future__ import annotations

import functools
import hashlib
import io
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import x509 as asn1_x509

from services.letters.adapters.signing import run_coroutine


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
                cert.native  # asn1crypto parses lazily: parse now, so a bad root fails here, not mid-validation  # noqa: B018
                certs.append(cert)
        except Exception as e:
            raise ValueError(f"unreadable trust root certificate: {e}") from e
    return tuple(certs)


def _cn_of(cert: asn1_x509.Certificate | None) -> str | None:
    if cert is None:
        return None
    try:
        cn = cert.subject.native.get("common_name")
    except Exception:  # noqa: BLE001
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
    except Exception as e:  # noqa: BLE001
        return not_valid(f"unreadable PDF: {type(e).__name__}: {e}")
    if not signatures:
        return not_valid("no signature")
    # The last signature is the only one that can cover the entire file.
    sig = signatures[-1]

    signer = signed_at = None
    try:
        signer = _cn_of(sig.signer_cert)
        signed_at = sig.self_reported_timestamp
    except Exception:  # noqa: BLE001, S110
        pass
    vc = ValidationContext(
        trust_roots=list(roots),
        allow_fetching=False,
        revocation_mode="soft-fail",
        moment=at,
    )
    try:
        try:
            # skip_diff: we demand ENTIRE_FILE coverage, so there is no later revision to judge.
            status = await async_validate_pdf_signature(sig, vc, skip_diff=True)
        finally:
            await vc.aclose()
    except SignatureValidationError as e:
        return not_valid(f"invalid signature: {e.failure_message}", signer=signer, signed_at=signed_at)
    except Exception as e:  # noqa: BLE001
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
        reason = (
            f"the signer's certificate is not trusted: {_TRUST_REASONS.get(name, 'it could not be validated')} ({name})"
        )
    valid = intact and crypto_ok and trusted
    return Verification(
        valid=valid,
        intact=intact,
        trusted=trusted,
        signer=signer,
        signed_at=signed_at,
        sha256=sha,
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
    return run_coroutine(lambda: async_verify_pdf(pdf, trust_roots, at=at))


__all__ = ["Verification", "async_verify_pdf", "verify_pdf"]
