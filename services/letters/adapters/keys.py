"""The kecamatan's signing keys, the roots a letter's signature and its timestamp must chain to, the revocation
data known now, and the timestamp authority letters are timestamped by: files and settings in production, the
development CA elsewhere."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from services.letters.adapters.development_ca import DevelopmentCA
from services.letters.adapters.signing import (
    SigningIdentity,
    TimestampAuthority,
    Timestamping,
    ValidationData,
    load_identity,
)
from shared.tenancy import Kecamatan

if TYPE_CHECKING:
    from services.letters.config import LettersSettings


class SigningKeys:
    IDENTITY_TTL = 3600.0  # seconds a loaded key is reused: reading and parsing it costs as much as a letter
    VALIDATION_TTL = 300.0  # seconds the roots and CRLs read from files are reused (a renewed CRL: within 5 min)

    def __init__(
        self,
        folder: Path,
        *,
        production: bool,
        tsa: TimestampAuthority | None = None,
        long_term: bool = True,
        timestamp_roots_file: Path | None = None,
        fetch_revocation: bool = False,
        esign_roots_file: Path | None = None,
    ) -> None:
        self.folder, self.production = folder, production
        self.esign_roots_file = esign_roots_file  # BSrE's roots: its letters' signatures and timestamps chain to them
        self.tsa, self.long_term = tsa, long_term
        self.timestamp_roots_file, self.fetch_revocation = timestamp_roots_file, fetch_revocation
        self._identities: dict[str, tuple[float, SigningIdentity]] = {}
        self._validation: tuple[float, ValidationData] | None = None

    @classmethod
    def from_settings(cls, settings: LettersSettings) -> SigningKeys:
        """As the letters service's settings say: the signing folder, and the TSA settings (config.py)."""
        tsa = None
        if settings.tsa_url:
            tsa = TimestampAuthority(
                url=settings.tsa_url,
                username=settings.tsa_username,
                password=settings.tsa_password,
                timeout=settings.tsa_timeout,
            )
        return cls(
            settings.signing_path,
            production=settings.environment == "production",
            tsa=tsa,
            long_term=settings.pades_level == "B-LTA",
            timestamp_roots_file=Path(settings.tsa_ca_file) if settings.tsa_ca_file else None,
            fetch_revocation=settings.signing_fetch_revocation,
            esign_roots_file=Path(settings.bsre_ca_file) if settings.bsre_ca_file else None,
        )

    def identity(self, kecamatan: Kecamatan) -> SigningIdentity:
        """The kecamatan's signing key, loaded once an hour per process (a renewed certificate is picked
        up within the hour)."""
        cached = self._identities.get(kecamatan.slug)
        if cached and time.monotonic() - cached[0] < self.IDENTITY_TTL:
            return cached[1]
        identity = self._load_identity(kecamatan)
        self._identities[kecamatan.slug] = (time.monotonic(), identity)
        return identity

    def _load_identity(self, kecamatan: Kecamatan) -> SigningIdentity:
        """From files in production; a development CA makes them elsewhere."""
        folder = self.folder
        if self.production:
            return load_identity(
                folder / f"{kecamatan.slug}.key",
                folder / f"{kecamatan.slug}.crt",
                [folder / "ca.crt"],
                kecamatan.slug,
                f"Camat {kecamatan.name}",
            )
        return DevelopmentCA(folder).identity(kecamatan.slug, kecamatan.name, kecamatan.kabupaten_name)

    def trust_roots(self) -> list[bytes]:
        """The roots a letter's signer must chain to: the kecamatan's CA (``ca.crt``; elsewhere the development
        CA) and BSrE's (``PENGADUAN_BSRE_CA_FILE``), when letters are signed through it."""
        esign = [self.esign_roots_file.read_bytes()] if self.esign_roots_file is not None else []
        if self.production:  # a kabupaten whose kecamatan all sign through BSrE keeps no CA of its own
            own = self.folder / "ca.crt"
            return [*([own.read_bytes()] if own.exists() else []), *esign]
        return [*DevelopmentCA(self.folder).trust_roots(), *esign]

    def validation_data(self) -> ValidationData:
        """What signatures and timestamps are checked against and what a B-LTA letter embeds, reread every 5
        minutes. Production: the roots in ``ca.crt``, the timestamp roots in the TSA's CA file
        (``PENGADUAN_TSA_CA_FILE``; none: no timestamp is trusted), every ``*.crl`` in the signing folder
        (kept fresh by the operator, PEM or DER). Elsewhere the development CA: its root for both, the local TSA's
        certificate, its CRL."""
        cached = self._validation
        if cached and time.monotonic() - cached[0] < self.VALIDATION_TTL:
            return cached[1]
        data = self._read_validation_data()
        self._validation = (time.monotonic(), data)
        return data

    def _read_validation_data(self) -> ValidationData:
        roots = tuple(self.trust_roots())
        timestamp_roots: tuple[bytes, ...] = ()
        if self.timestamp_roots_file is not None:
            timestamp_roots = (self.timestamp_roots_file.read_bytes(),)
        # BSrE timestamps what it signs
        esign = (self.esign_roots_file.read_bytes(),) if self.esign_roots_file is not None else ()
        if self.production:
            crls = tuple(path.read_bytes() for path in sorted(self.folder.glob("*.crl")))
            return ValidationData(trust_roots=roots, timestamp_roots=(*timestamp_roots, *esign), crls=crls)
        ca = DevelopmentCA(self.folder)
        return ValidationData(
            trust_roots=roots,
            timestamp_roots=(*(timestamp_roots or DevelopmentCA(self.folder).trust_roots()), *esign),
            certs=(ca.tsa_identity().cert_pem,),
            crls=(ca.crl(),),
        )

    def timestamping(self) -> Timestamping | None:
        """How letters are timestamped now: None without a TSA (PAdES B-B)."""
        if self.tsa is None:
            return None
        return Timestamping(
            authority=self.tsa,
            long_term=self.long_term,
            validation=self.validation_data(),
            fetch_revocation=self.fetch_revocation,
        )
