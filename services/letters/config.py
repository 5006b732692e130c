from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.config import Settings


class TimestampSettings(BaseSettings):
    """How letters get a trusted time (PAdES B-T / B-LTA): the RFC 3161 timestamp authority and what a long-term
    signature embeds (services/letters/adapters/signing.py)."""

    model_config = SettingsConfigDict(env_prefix="PENGADUAN_", extra="ignore", hide_input_in_errors=True)

    tsa_url: str | None = Field(
        None,
        description="RFC 3161 timestamp authority (HTTP POST application/timestamp-query). Unset: letters are "
        "signed PAdES B-B, without a trusted time, and stop verifying once the signing certificate expires. "
        "`make run` sets it to its local TSA",
    )
    tsa_username: str | None = Field(None, description="HTTP basic authentication at the TSA, if it wants it")
    tsa_password: str | None = Field(None, description="HTTP basic authentication at the TSA (a secret)")
    tsa_timeout: float = Field(10.0, gt=0, le=60, description="Seconds a timestamp request may take")
    tsa_ca_file: str | None = Field(
        None,
        description="PEM file with the root certificate(s) the TSA's certificate chains to (trusted for timestamps "
        "only). Required in production when PENGADUAN_TSA_URL is set; elsewhere default: the development CA",
    )
    pades_level: Literal["B-T", "B-LTA"] = Field(
        "B-LTA",
        description="With a TSA: B-LTA (the validation data embedded and a document timestamp over it: two "
        "timestamps per letter) or B-T (the signature timestamp only)",
    )
    signing_fetch_revocation: bool = Field(
        False,
        description="Let the signer fetch the CRLs / OCSP responses its certificates name, to embed them (B-LTA); "
        "otherwise only the *.crl files in the signing folder are embedded. Verification never fetches",
    )

    @model_validator(mode="after")
    def _timestamp_roots_in_production(self) -> "TimestampSettings":
        if self.tsa_url and getattr(self, "environment", None) == "production" and not self.tsa_ca_file:
            raise ValueError(
                "PENGADUAN_TSA_CA_FILE must name the TSA's root certificate(s) when PENGADUAN_TSA_URL is set in "
                "production: a timestamp nobody can check proves nothing"
            )
        return self


class EsignSettings(BaseSettings):
    """The national e-signature service (BSrE, BSSN's esign client service API v2) for kecamatan whose setting
    ``signature_service`` is "bsre" (services/letters/adapters/bsre.py, docs/adr/0016). Unset: no kecamatan can
    sign through it (step 10 answers 503 esign_unavailable there)."""

    model_config = SettingsConfigDict(env_prefix="PENGADUAN_", extra="ignore", hide_input_in_errors=True)

    bsre_url: str | None = Field(
        None, description="Base URL of the kabupaten's BSrE esign client service (…/api/v2/sign/pdf is under it)"
    )
    bsre_username: str | None = Field(None, description="The client id BSrE gave the kabupaten (HTTP basic)")
    bsre_password: str | None = Field(None, description="The client secret BSrE gave the kabupaten (a secret)")
    bsre_timeout: float = Field(
        10.0,
        gt=0,
        le=25,
        description="Seconds one signing request may take; the tries of one signature never go past the "
        "workflow's deadline (PENGADUAN_ESIGN_TIMEOUT), which fits inside the gateway's 30 s",
    )
    bsre_attempts: int = Field(
        2,
        ge=1,
        le=5,
        description="Tries while BSrE is unreachable or answers 5xx/429, within the Camat's one request (never on "
        "a wrong passphrase, never after a request that may have reached BSrE unanswered)",
    )
    bsre_ca_file: str | None = Field(
        None,
        description="PEM file with the root certificate(s) BSrE's signing and timestamp certificates chain to "
        "(trusted for the letters it signs). Required in production when PENGADUAN_BSRE_URL is set",
    )

    @model_validator(mode="after")
    def _complete(self) -> "EsignSettings":
        if self.bsre_url and not (self.bsre_username and self.bsre_password):
            raise ValueError("PENGADUAN_BSRE_URL needs PENGADUAN_BSRE_USERNAME and PENGADUAN_BSRE_PASSWORD")
        if self.bsre_url and getattr(self, "environment", None) == "production" and not self.bsre_ca_file:
            raise ValueError(
                "PENGADUAN_BSRE_CA_FILE must name the root certificate(s) of BSrE's certificates when "
                "PENGADUAN_BSRE_URL is set in production: letters nobody can check prove nothing"
            )
        return self


class LettersSettings(Settings, TimestampSettings, EsignSettings):
    """The letters service's settings: the base ones (document store, signing keys), the timestamp authority, the
    national e-signature service and where each kabupaten's lambang is."""

    lambang_dir: str | None = Field(
        None,
        description="Each kabupaten's lambang for the kop surat, <kabupaten slug>.png (e.g. pamekasan.png); a "
        "kabupaten without one gets the neutral placeholder; default <data_dir>/lambang",
    )

    @property
    def documents_url(self) -> str:
        return self.document_store_url or (Path(self.data_dir).resolve() / "documents").as_uri()

    @property
    def signing_path(self) -> Path:
        return Path(self.signing_dir or Path(self.data_dir) / "signing").resolve()

    @property
    def lambang_path(self) -> Path:
        return Path(self.lambang_dir or Path(self.data_dir) / "lambang").resolve()
