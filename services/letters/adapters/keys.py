"""The kecamatan's signing keys and the roots a letter's signature must chain to: files in production, the
development CA elsewhere."""

from __future__ import annotations

import time
from pathlib import Path

from services.letters.adapters.development_ca import DevelopmentCA
from services.letters.adapters.signing import SigningIdentity, load_identity
from shared.tenancy import Kecamatan


class SigningKeys:
    IDENTITY_TTL = 3600.0  # seconds a loaded key is reused: reading and parsing it costs as much as a letter

    def __init__(self, folder: Path, *, production: bool) -> None:
        self.folder, self.production = folder, production
        self._identities: dict[str, tuple[float, SigningIdentity]] = {}

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
        if self.production:
            return [(self.folder / "ca.crt").read_bytes()]
        return DevelopmentCA(self.folder).trust_roots()
