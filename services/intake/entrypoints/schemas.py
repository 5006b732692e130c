"""The public shapes of intake's HTTP API. Outside clients code against these names: keep them."""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from services.intake.domain import identity

WIB = ZoneInfo("Asia/Jakarta")


def _today_in_indonesia() -> date:
    return datetime.now(WIB).date()


def _custom(exc: identity.InvalidIdentity) -> PydanticCustomError:
    return PydanticCustomError(exc.code, exc.message)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _printable(value: str) -> str:
    """Text a person typed: line breaks and tabs are fine, NUL and other control characters are not."""
    if _CONTROL.search(value):
        raise PydanticCustomError("invalid_character", "Berisi karakter yang tidak diizinkan.")
    return value


Text = Annotated[str, AfterValidator(_printable)]


class ComplainantIn(BaseModel):
    """Who complains. The SOP asks for an identity document (KTP/SIM/KK): on the web form the NIK stands
    for it (it is on the KTP and the KK), and one way to reach the complainant is required (phone or
    e-mail) so that the response can be delivered."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Text = Field(min_length=2, max_length=100, examples=["Siti Aminah"])
    nik: str = Field(max_length=32, examples=["3528071505900001"])
    phone: str | None = Field(None, max_length=32, examples=["081234567890"])
    email: str | None = Field(None, max_length=254, examples=["siti@example.id"])
    address: Text | None = Field(None, max_length=300, examples=["Dusun Bunangka, Desa Pegantenan"])

    @field_validator("nik")
    @classmethod
    def _nik(cls, value: str) -> str:
        try:
            return identity.validate_nik(value, _today_in_indonesia())
        except identity.InvalidIdentity as exc:
            raise _custom(exc) from None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return identity.normalize_phone(value)
        except identity.InvalidIdentity as exc:
            raise _custom(exc) from None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return identity.normalize_email(value)
        except identity.InvalidIdentity as exc:
            raise _custom(exc) from None

    @field_validator("address")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _reachable(self) -> "ComplainantIn":
        if not self.phone and not self.email:
            raise PydanticCustomError(
                "contact_required", "Isi nomor HP/WhatsApp atau e-mail agar tanggapan dapat dikirim kepada Anda."
            )
        return self


class ComplaintIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kecamatan: str = Field(min_length=2, max_length=40, pattern=r"^[a-z0-9-]+$", examples=["pegantenan"])
    channel: Literal["web"] = Field("web", description="Other channels arrive through their own webhooks")
    complainant: ComplainantIn
    subject: Text = Field(min_length=5, max_length=200, examples=["Jalan desa rusak"])
    description: Text = Field(min_length=10, max_length=5000, examples=["Jalan di Dusun Bunangka rusak sejak ..."])


class ComplaintAccepted(BaseModel):
    tracking_code: str
    status: Literal["received"]
    received_at: datetime
    track_url: str
    message: str


class StepOut(BaseModel):
    number: int
    name: str


class StepDoneOut(StepOut):
    completed_at: datetime


class TrackingOut(BaseModel):
    tracking_code: str
    kecamatan: str
    status: str
    status_label: str
    received_at: datetime
    current_step: StepOut | None
    steps: list[StepDoneOut]
    outcome: str | None = None  # resolved, referred, identity_rejected, incomplete, withdrawn, duplicate
    outcome_label: str | None = None
    referred_to: str | None = None  # the agency, when referred (dilimpahkan)
