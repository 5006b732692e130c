"""Checking a signed letter as received (pyHanko): :func:`verify_pdf` says whether the Camat's signature is
cryptographically valid, whether nothing but long-term validation data was added after it (a B-LTA letter's DSS
and document timestamp; anything else appended, an incremental update or trailing bytes, makes it not valid),
whether its certificate chains to one of the given trust roots, and when it was signed. Never raises on a bad PDF.

When was the certificate valid? At the validation time (now, unless ``at`` says otherwise) if it is valid then.
A certificate that has expired since is still good for a letter that proves it was signed before: a B-T letter by
its signature timestamp (the chain is checked again as of the timestamp's time, when the timestamp itself still
validates), a B-LTA letter by pyHanko's AdES long-term validation (``ades_lta_validation``: the document
timestamp over the embedded validation data is the proof of existence, ETSI EN 319 102-1 § 5.6.3). A B-B letter
has only the signer's own claim of time: once its certificate expires it no longer verifies.

Safe inside or outside a running event loop, CPU-bound (see :mod:`services.letters.adapters.signing`). No
network is used: nothing is fetched; revocation is checked (soft-fail) against the CRLs in
:class:`~services.letters.adapters.signing.ValidationData` and, for long-term validation, those the letter embeds.
"""

from __future__ import annotations

import functools
import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asn1crypto import x509 as asn1_x509

from services.letters.adapters.signing import ValidationData, load_asn1_certs, load_crls, run_coroutine

DEVELOPMENT_CA_NAME = "pengaduan Development CA"  # development_ca.DEV_CA_COMMON_NAME (not imported: dev code)


@dataclass(frozen=True)
class CertificateInfo:
    """The signer's certificate as a person reads it."""

    subject: str | None  # CN
    issuer: str | None  # the issuing CA's CN
    serial: str  # hexadecimal, upper case
    valid_from: datetime
    valid_until: datetime


@dataclass(frozen=True)
class TimestampInfo:
    """The signature timestamp (RFC 3161) a B-T or B-LTA letter carries."""

    time: datetime  # the TSA's genTime (UTC)
    authority: str | None  # CN of the TSA's certificate
    valid: bool  # it matches the signature and the TSA's certificate chains to a timestamp root (see trusted_as_of)


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_pdf` found.

    ``valid`` is the one to act on: intact, cryptographically valid and trusted. ``signer`` and
    ``signed_at`` are what the signature *claims* (the certificate's CN, the ``/M`` time in the
    signature dictionary); they mean something only when ``trusted`` (resp. ``valid``). A valid
    ``timestamp`` gives the time the signature is proven to have existed.
    """

    valid: bool  # intact and cryptographically valid, and trusted by the given roots
    intact: bool  # not modified after signing: digest matches, the signature (or the B-LTA document timestamp
    # after it, with only validation data between) covers the entire file
    trusted: bool  # the signer's certificate chains to one of the given roots (key usage included), see trusted_as_of
    signer: str | None  # subject CN of the signer's certificate
    signed_at: datetime | None  # the signer's own claim: /M of the signature
    sha256: str  # hex, of the PDF bytes as given
    reason: str | None  # why not valid, in English (for logs; the API translates); None when valid
    certificate: CertificateInfo | None = None
    timestamp: TimestampInfo | None = None  # None: the letter has no signature timestamp (B-B)
    level: str | None = None  # PAdES baseline level: "B-B", "B-T", "B-LT" or "B-LTA"
    validation_data_embedded: bool = False  # a document security store (DSS) with certificates / revocation data
    trusted_as_of: datetime | None = None  # when the chain was found valid: the validation time, or for an
    # expired certificate the time its timestamp (B-T) or long-term validation (B-LTA) proves
    development: bool = False  # the certificate was issued by the development CA


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

# an expired certificate: worth checking again at the time a timestamp proves
_EXPIRY_INDICATIONS = {"OUT_OF_BOUNDS_NO_POE", "OUT_OF_BOUNDS_NOT_REVOKED", "EXPIRED"}


@functools.lru_cache(maxsize=32)
def _trust_root_certs(trust_roots: tuple[bytes, ...]) -> tuple[asn1_x509.Certificate, ...]:
    certs: list[asn1_x509.Certificate] = []
    for data in trust_roots:
        try:
            for cert in load_asn1_certs([data]):
                cert.native  # asn1crypto parses lazily: parse now, so a bad root fails here, not mid-validation  # noqa: B018
                certs.append(cert)
        except Exception as e:
            raise ValueError(f"unreadable trust root certificate: {e}") from e
    return tuple(certs)


def _cn_of_name(name: Any) -> str | None:
    try:
        cn = name.native.get("common_name")
    except Exception:  # noqa: BLE001
        return None
    if isinstance(cn, list):
        cn = cn[-1] if cn else None
    return str(cn) if cn is not None else None


def _cn_of(cert: asn1_x509.Certificate | None) -> str | None:
    return None if cert is None else _cn_of_name(cert.subject)


def _certificate_info(cert: asn1_x509.Certificate | None) -> CertificateInfo | None:
    if cert is None:
        return None
    try:
        validity = cert["tbs_certificate"]["validity"]
        return CertificateInfo(
            subject=_cn_of(cert),
            issuer=_cn_of_name(cert.issuer),
            serial=f"{cert.serial_number:X}",
            valid_from=validity["not_before"].native,
            valid_until=validity["not_after"].native,
        )
    except Exception:  # noqa: BLE001
        return None


def _timestamp_info(ts_status: Any, valid: bool) -> TimestampInfo | None:
    if ts_status is None or ts_status.timestamp is None:
        return None
    return TimestampInfo(time=ts_status.timestamp, authority=_cn_of(ts_status.signing_cert), valid=valid)


def _has_dss(reader: Any) -> bool:
    from pyhanko.sign.validation.dss import DocumentSecurityStore, NoDSSFoundError

    try:
        DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return False
    except Exception:  # noqa: BLE001  (a damaged DSS is no usable DSS)
        return False
    return True


async def async_verify_pdf(
    pdf: bytes, trust_roots: list[bytes], *, at: datetime | None = None, validation: ValidationData | None = None
) -> Verification:
    """Coroutine form of :func:`verify_pdf`."""
    sha = hashlib.sha256(pdf).hexdigest()
    roots = _trust_root_certs(tuple(trust_roots))  # a bad trust root is a configuration error: raises
    data = validation or ValidationData()
    ts_roots = _trust_root_certs(tuple(data.timestamp_roots))
    extra_certs = load_asn1_certs(data.certs)
    known_crls = load_crls(data.crls)

    def not_valid(reason: str, **kw) -> Verification:
        fields_ = dict(valid=False, intact=False, trusted=False, signer=None, signed_at=None, sha256=sha, reason=reason)
        fields_.update(kw)
        return Verification(**fields_)

    try:
        from pyhanko.pdf_utils.reader import PdfFileReader
        from pyhanko.sign.diff_analysis import ModificationLevel
        from pyhanko.sign.validation import (
            SignatureCoverageLevel,
            async_validate_pdf_signature,
            async_validate_pdf_timestamp,
        )
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
    regular = [s for s in signatures if s.sig_object_type == "/Sig"]
    if not regular:
        return not_valid("no signature")
    # The last approval signature is the Camat's; after it, only a B-LTA letter's document timestamps may follow.
    sig = regular[-1]
    later = signatures[signatures.index(sig) + 1 :]

    signer = signed_at = certificate = None
    try:
        signer = _cn_of(sig.signer_cert)
        signed_at = sig.self_reported_timestamp
        certificate = _certificate_info(sig.signer_cert)
    except Exception:  # noqa: BLE001, S110
        pass
    # our development CA, or the stand-in for BSrE's (devtools/bsre: "pengaduan Development BSrE CA")
    development = certificate is not None and (certificate.issuer or "").startswith(
        DEVELOPMENT_CA_NAME.removesuffix(" CA")
    )
    moment = at or datetime.now(UTC)

    def context(trust: tuple[asn1_x509.Certificate, ...], when: datetime) -> ValidationContext:
        return ValidationContext(
            trust_roots=list(trust),
            other_certs=extra_certs,
            crls=known_crls,
            allow_fetching=False,
            revocation_mode="soft-fail",
            moment=when,
        )

    vc, ts_vc = context(roots, moment), context(ts_roots, moment)
    try:
        try:
            # skip_diff when the signature is the last thing in the file: we then demand ENTIRE_FILE coverage.
            status = await async_validate_pdf_signature(sig, vc, ts_validation_context=ts_vc, skip_diff=not later)
            doc_ts_status = None
            if later and all(s.sig_object_type == "/DocTimeStamp" for s in later):
                doc_ts_status = await async_validate_pdf_timestamp(later[-1], ts_vc, skip_diff=True)
        finally:
            await vc.aclose()
            await ts_vc.aclose()
    except SignatureValidationError as e:
        return not_valid(f"invalid signature: {e.failure_message}", signer=signer, signed_at=signed_at)
    except Exception as e:  # noqa: BLE001
        return not_valid(f"invalid signature: {type(e).__name__}: {e}", signer=signer, signed_at=signed_at)

    ts_status = status.timestamp_validity
    dss = _has_dss(reader)
    level = "B-B" if ts_status is None else ("B-LTA" if doc_ts_status is not None and dss else "B-LT" if dss else "B-T")

    crypto_ok = bool(status.valid)
    reason: str | None = None
    if not later:
        coverage = status.coverage
        whole_file = coverage == SignatureCoverageLevel.ENTIRE_FILE
        coverage_name = coverage.name if coverage else "UNCLEAR"
    else:
        # only validation data and document timestamps after the signature, and the last of these covers it all
        lta_only = status.modification_level in (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)
        whole_file = bool(
            doc_ts_status is not None
            and lta_only
            and status.docmdp_ok is not False
            and doc_ts_status.intact
            and doc_ts_status.valid
            and doc_ts_status.coverage == SignatureCoverageLevel.ENTIRE_FILE
        )
        coverage_name = "ENTIRE_REVISION" if doc_ts_status is None or not lta_only else "UNCLEAR"
        if doc_ts_status is not None and lta_only and doc_ts_status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
            coverage_name = "ENTIRE_REVISION"  # bytes after the document timestamp
    intact = bool(status.intact and whole_file)
    trusted = bool(status.validation_path is not None and status.trust_problem_indic is None)
    trusted_as_of: datetime | None = moment if trusted else None
    ts_valid = bool(ts_status is not None and ts_status.valid and ts_status.intact and ts_status.trusted)

    indication = status.trust_problem_indic.name if status.trust_problem_indic is not None else "NO_PATH"
    if intact and crypto_ok and not trusted and indication in _EXPIRY_INDICATIONS and ts_status is not None:
        if level == "B-LTA":
            proven = await _long_term(sig, roots, ts_roots, extra_certs, known_crls, moment)
            if proven is not None:
                trusted, trusted_as_of, ts_valid = True, proven[0], proven[1]
        elif ts_valid and await _valid_at(sig, roots, extra_certs, known_crls, ts_status.timestamp):
            trusted, trusted_as_of = True, ts_status.timestamp

    signer = _cn_of(status.signing_cert) or signer
    signed_at = status.signer_reported_dt or signed_at
    if not status.intact:
        reason = "the document was modified after signing (its content does not match the signature)"
    elif not crypto_ok:
        reason = "the signature value is not valid for the signer's certificate"
    elif not whole_file:
        reason = _COVERAGE_REASONS.get(coverage_name, _COVERAGE_REASONS["UNCLEAR"])
    elif not trusted:
        reason = (
            f"the signer's certificate is not trusted: {_TRUST_REASONS.get(indication, 'it could not be validated')} "
            f"({indication})"
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
        certificate=_certificate_info(status.signing_cert) or certificate,
        timestamp=_timestamp_info(ts_status, ts_valid),
        level=level,
        validation_data_embedded=dss,
        trusted_as_of=trusted_as_of,
        development=development,
    )


async def _valid_at(sig: Any, roots: tuple, extra_certs: list, crls: list, when: datetime) -> bool:
    """B-T: the signer's chain, checked again as of ``when`` (the signature timestamp's time), with the key usage
    a signer needs (non-repudiation, pyHanko's default for PDF signatures)."""
    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError, ValidationError

    embedded = list(sig.other_embedded_certs)
    vc = ValidationContext(
        trust_roots=list(roots),
        other_certs=[*embedded, *extra_certs],
        crls=crls,
        allow_fetching=False,
        revocation_mode="soft-fail",
        moment=when,
    )
    try:
        validator = CertificateValidator(sig.signer_cert, intermediate_certs=embedded, validation_context=vc)
        await validator.async_validate_usage({"non_repudiation"})
    except (PathBuildingError, PathValidationError, ValidationError):
        return False
    finally:
        await vc.aclose()
    return True


async def _long_term(
    sig: Any, roots: tuple, ts_roots: tuple, extra_certs: list, crls: list, moment: datetime
) -> tuple[datetime, bool] | None:
    """B-LTA: pyHanko's AdES long-term validation as of ``moment``, the signer's and the TSA's roots kept apart,
    what the letter embeds (its DSS) and the known CRLs as local knowledge. The time the signature is proven to
    have existed and whether the signature timestamp passed, or None when it does not pass."""
    from pyhanko.sign.ades.report import AdESPassed
    from pyhanko.sign.validation import ades
    from pyhanko.sign.validation.policy_decl import (
        LocalKnowledge,
        PdfSignatureValidationSpec,
        SignatureValidationSpec,
    )
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
    from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, RevocationCheckingPolicy
    from pyhanko_certvalidator.registry import SimpleTrustManager
    from pyhanko_certvalidator.revinfo.archival import CRLContainer

    revinfo = CertRevTrustPolicy(RevocationCheckingPolicy.from_legacy("soft-fail"))
    spec = SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(list(roots)), revinfo_policy=revinfo
        ),
        ts_cert_validation_policy=CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(list(ts_roots)), revinfo_policy=revinfo
        ),
        local_knowledge=LocalKnowledge(known_certs=list(extra_certs), known_crls=[CRLContainer(c) for c in crls]),
    )
    timing = ValidationTimingInfo(validation_time=moment, best_signature_time=moment, point_in_time_validation=False)
    try:
        result = await ades.ades_lta_validation(sig, PdfSignatureValidationSpec(spec), timing_info=timing)
    except Exception:  # noqa: BLE001  (an unexpected failure is no proof)
        return None
    if result.ades_subindic != AdESPassed.OK:
        return None
    ts_result = result.signature_timestamp_status
    return result.best_signature_time, bool(ts_result is not None and ts_result.ades_subindic == AdESPassed.OK)


def verify_pdf(
    pdf: bytes, trust_roots: list[bytes], *, at: datetime | None = None, validation: ValidationData | None = None
) -> Verification:
    """Check the Camat's signature (the last approval signature) of ``pdf`` against ``trust_roots`` (PEM or DER
    root certificates), and its timestamp against ``validation.timestamp_roots``.

    ``valid`` needs all of: the signed digest matches, the signature value is right for the embedded
    certificate, the signature covers the **entire** file or only validation data and document timestamps
    follow it, the last of which covers the entire file (a signed letter with anything else appended, an
    incremental update or stray bytes, is not valid; ``reason`` says which), and the certificate chains to one of
    ``trust_roots`` with keyUsage nonRepudiation (pyHanko's default requirement).

    Certificates are checked as of ``at`` (default now). An expired signer certificate is still trusted when a
    valid timestamp proves the letter was signed while it was valid (B-T, B-LTA; ``trusted_as_of`` says as of
    when); without one (B-B) the letter is no longer trusted.

    Never raises on bad input (garbage, an unsigned or damaged PDF): returns ``valid=False`` with a
    reason. Raises ``ValueError`` only for an unreadable trust root or CRL, which is a configuration error.
    """
    return run_coroutine(lambda: async_verify_pdf(pdf, trust_roots, at=at, validation=validation))


__all__ = ["CertificateInfo", "TimestampInfo", "Verification", "async_verify_pdf", "verify_pdf"]
