"""The development certificate authority: when no real signing certificate is configured (``make run``,
tests), a self-made CA kept in a folder issues each kecamatan's signing key and certificate on first use, the
local timestamp authority's certificate (devtools/tsa) and a certificate revocation list, the validation data a
long-term (PAdES B-LTA) signature embeds. Not for production: the CA key sits next to the certificates it signs."""

from __future__ import annotations

import fcntl
import logging
import os
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from services.letters.adapters.signing import (
    SigningIdentity,
    load_certs,
    load_key,
    pem_cert,
    pem_key,
    same_public_key,
)

log = logging.getLogger(__name__)

DEV_CA_COMMON_NAME = "pengaduan Development CA"
DEV_CA_VALIDITY = timedelta(days=3652)  # 10 years
DEV_SIGNER_VALIDITY = timedelta(days=730)  # 2 years
DEV_TSA_VALIDITY = timedelta(days=1826)  # 5 years: it must outlive the signing certificates it vouches for
DEV_RENEW_BEFORE = timedelta(days=30)  # a development signing cert this close to expiry is re-issued
DEV_TSA_COMMON_NAME = "pengaduan Development TSA"
DEV_CRL_VALIDITY = timedelta(days=7)  # nextUpdate of the development CRL
DEV_CRL_RENEW_BEFORE = timedelta(days=1)  # a CRL this close to its nextUpdate is issued afresh
# id-kp-documentSigning (RFC 9336); cryptography has no constant for it in every version.
DOCUMENT_SIGNING_EKU = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_RESERVED_SLUGS = {"ca", "tsa"}  # would collide with the CA's and the TSA's own files


def _now() -> datetime:
    return datetime.now(UTC)


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
        try:  # noqa: SIM105
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

    For the local timestamp authority (devtools/tsa) it issues ``tsa.key`` / ``tsa.crt`` (:meth:`tsa_identity`:
    RSA 2048, 5 years, extendedKeyUsage timeStamping only and critical, as RFC 3161 requires, CN
    ``pengaduan Development TSA``), and it keeps a CRL, ``ca.crl`` (:meth:`crl`: DER, nothing revoked, valid 7
    days, issued afresh a day before it runs out), which a B-LTA signature embeds as its revocation data. Its
    certificates name no CRL distribution point (a URL in a certificate outlives any ``make run`` port), so no
    verifier is obliged to look the CRL up; a production CA's certificates do name one.

    Files: ``<folder>/ca.key``, ``ca.crt``, ``ca.crl``, ``tsa.key``, ``tsa.crt``, ``<slug>.key``, ``<slug>.crt``;
    keys mode 0600, the folder 0700 when created here. Idempotent: existing files are read, never rewritten,
    except a signing (or TSA) certificate that has expired, is within 30 days of expiry or was not issued by
    this folder's CA, which is re-issued (same key), and a CRL near its nextUpdate. Safe for concurrent callers,
    threads or processes: creation happens under an ``flock`` on ``<folder>/.lock`` and each file is written
    to a temp file and ``os.replace``-d.

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
            _write_atomically(self.folder / f"{kecamatan}.crt", pem_cert(cert), 0o644)
            log.info("development CA issued a signing certificate for %s (%s)", kecamatan, signer_name)
        found = self._read_identity(kecamatan, signer_name)
        assert found is not None  # noqa: S101
        return found

    def trust_roots(self) -> list[bytes]:
        path = self.folder / "ca.crt"
        if not (path.exists() and (self.folder / "ca.key").exists()):
            with self._locked():
                self._ensure_ca()
        return [path.read_bytes()]

    def tsa_identity(self) -> SigningIdentity:
        """The local timestamp authority's key and certificate (``tsa.key``, ``tsa.crt``), made on first use and
        re-issued like a signing certificate near its expiry. Its ``kecamatan`` is ``"tsa"``."""
        found = self._read_identity("tsa", DEV_TSA_COMMON_NAME)
        if found is not None:
            return found
        with self._locked():
            found = self._read_identity("tsa", DEV_TSA_COMMON_NAME)
            if found is not None:
                return found
            ca_key, ca_cert = self._ensure_ca()
            key = self._ensure_key(self.folder / "tsa.key", lambda: rsa.generate_private_key(65537, 2048))
            cert = self._issue_tsa(ca_key, ca_cert, key)
            _write_atomically(self.folder / "tsa.crt", pem_cert(cert), 0o644)
            log.info("development CA issued the local timestamp authority's certificate")
        found = self._read_identity("tsa", DEV_TSA_COMMON_NAME)
        assert found is not None  # noqa: S101
        return found

    def crl(self) -> bytes:
        """The CA's current certificate revocation list (DER; nothing is revoked): ``ca.crl``, issued afresh when
        missing, not by this CA, or within a day of its nextUpdate (then numbered one higher)."""
        found = self._read_crl()
        if found is not None:
            return found
        with self._locked():
            found = self._read_crl()
            if found is not None:
                return found
            ca_key, ca_cert = self._ensure_ca()
            path = self.folder / "ca.crl"
            number = 1
            if path.exists():
                try:
                    old = x509.load_der_x509_crl(path.read_bytes())
                    number = old.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number + 1
                except (ValueError, x509.ExtensionNotFound):
                    number = 1
            now = _now()
            ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            crl = (
                x509.CertificateRevocationListBuilder()
                .issuer_name(ca_cert.subject)
                .last_update(now - timedelta(minutes=5))
                .next_update(now + DEV_CRL_VALIDITY)
                .add_extension(x509.CRLNumber(number), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
                .sign(ca_key, hashes.SHA256())
            )
            der = crl.public_bytes(serialization.Encoding.DER)
            _write_atomically(path, der, 0o644)
            log.info("development CA issued CRL number %s", number)
            return der

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
        ca_cert = load_certs(ca_pem, str(ca_crt))[0]
        cert = load_certs(cert_pem, str(crt_file))[0]
        key = load_key(key_pem, None, str(key_file))
        if not same_public_key(key, cert):
            return None  # a half-replaced pair cannot happen (the cert is written last) but re-issue if so
        if cert.issuer != ca_cert.subject or cert.not_valid_after_utc - DEV_RENEW_BEFORE < _now():
            return None
        try:
            cert.verify_directly_issued_by(ca_cert)
        except Exception:  # InvalidSignature: another CA of the same name  # noqa: BLE001
            return None
        cn = _common_name(cert) or signer_name
        return SigningIdentity(slug, cn, key_pem, cert_pem, (ca_pem,), development=True)

    def _read_crl(self) -> bytes | None:
        """The stored CRL if it is this CA's and not near its nextUpdate; else None (lock and issue)."""
        paths = [self.folder / n for n in ("ca.key", "ca.crt", "ca.crl")]
        if not all(p.exists() for p in paths):
            return None
        der = paths[2].read_bytes()
        try:
            crl = x509.load_der_x509_crl(der)
            ca_cert = load_certs(paths[1].read_bytes(), str(paths[1]))[0]
        except ValueError:
            return None
        next_update = crl.next_update_utc
        if crl.issuer != ca_cert.subject or next_update is None or next_update - DEV_CRL_RENEW_BEFORE < _now():
            return None
        if not crl.is_signature_valid(ca_cert.public_key()):  # type: ignore[arg-type]
            return None
        return der

    def _ensure_key(self, path: Path, generate) -> Any:
        if path.exists():
            return load_key(path.read_bytes(), None, str(path))
        key = generate()
        _write_atomically(path, pem_key(key), 0o600)
        return key

    def _ensure_ca(self) -> tuple[Any, x509.Certificate]:
        """Under the lock: the CA key and certificate, made if missing."""
        key_path, crt_path = self.folder / "ca.key", self.folder / "ca.crt"
        if key_path.exists() and crt_path.exists():
            key = load_key(key_path.read_bytes(), None, str(key_path))
            cert = load_certs(crt_path.read_bytes(), str(crt_path))[0]
            if same_public_key(key, cert):
                return key, cert
            log.warning("development CA: %s does not match %s; making a new CA", key_path, crt_path)
            key_path.unlink()
        key = self._ensure_key(key_path, lambda: rsa.generate_private_key(65537, 3072))
        now = _now()
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pengaduan (development only)"),
                x509.NameAttribute(NameOID.COMMON_NAME, DEV_CA_COMMON_NAME),
            ]
        )
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
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_atomically(crt_path, pem_cert(cert), 0o644)
        log.info("development CA created in %s", self.folder)
        return key, cert

    @staticmethod
    def _issue(
        ca_key, ca_cert: x509.Certificate, key, signer_name: str, kecamatan_name: str, kabupaten_name: str
    ) -> x509.Certificate:
        now = _now()
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, _organisation_for(kabupaten_name)),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"Kecamatan {' '.join(kecamatan_name.split())}"),
                x509.NameAttribute(NameOID.COMMON_NAME, signer_name),
            ]
        )
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
                    digital_signature=True,
                    content_commitment=True,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
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

    @staticmethod
    def _issue_tsa(ca_key, ca_cert: x509.Certificate, key) -> x509.Certificate:
        now = _now()
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pengaduan (development only)"),
                x509.NameAttribute(NameOID.COMMON_NAME, DEV_TSA_COMMON_NAME),
            ]
        )
        ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(min(now + DEV_TSA_VALIDITY, ca_cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=True,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            # RFC 3161 2.3: the TSA's certificate has timeStamping as its only extended key usage, critical
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
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
        assert self.fd is not None  # noqa: S101
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            os.close(self.fd)
            self.fd = None


def _check_slug(slug: str) -> None:
    if not _SLUG.match(slug) or slug in _RESERVED_SLUGS:
        raise ValueError(f"not a usable kecamatan slug for key files: {slug!r}")


__all__ = ["DevelopmentCA"]
