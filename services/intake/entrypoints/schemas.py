"""The public shapes of intake's HTTP API. Outside clients code against these names: keep them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator, model_validator
from pydantic_core import PydanticCustomError

from shared import identity
from shared.contracts.intake import Complainant, anonymous_complainant
from shared.text import FreeText, OneLine

WIB = ZoneInfo("Asia/Jakarta")


def _today_in_indonesia() -> date:
    return datetime.now(WIB).date()


def _custom(exc: identity.InvalidIdentity) -> PydanticCustomError:
    return PydanticCustomError(exc.code, exc.message)


class ComplainantIn(BaseModel):
    """Who complains. The SOP asks for an identity document (KTP/SIM/KK): on the web form the NIK stands
    for it (it is on the KTP and the KK), and one way to reach the complainant is required (phone or
    e-mail) so that the response can be delivered."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: OneLine = Field(min_length=2, max_length=100, examples=["Siti Aminah"])
    nik: str = Field(max_length=32, examples=["3528071505900001"])
    phone: str | None = Field(None, max_length=32, examples=["081234567890"])
    email: str | None = Field(None, max_length=254, examples=["siti@example.id"])
    address: OneLine | None = Field(None, max_length=300, examples=["Dusun Bunangka, Desa Pegantenan"])

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
    def _reachable(self) -> ComplainantIn:
        if not self.phone and not self.email:
            raise PydanticCustomError(
                "contact_required", "Isi nomor HP/WhatsApp atau e-mail agar tanggapan dapat dikirim kepada Anda."
            )
        return self


class ComplaintIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kecamatan: str = Field(min_length=2, max_length=40, pattern=r"^[a-z0-9-]+$", examples=["pegantenan"])
    channel: Literal["web"] = Field("web", description="Other channels arrive through their own webhooks")
    complainant: ComplainantIn | None = Field(
        None, description="Who complains; required unless `anonymous` (then it must be left out)"
    )
    subject: OneLine = Field(min_length=5, max_length=200, examples=["Jalan desa rusak"])
    description: FreeText = Field(min_length=10, max_length=5000, examples=["Jalan di Dusun Bunangka rusak sejak ..."])
    confidential: bool = Field(
        False,
        description="Pelapor rahasia: keep the complainant's identity confidential. Only the officer who verifies "
        "identity (Kasi/Kasubag, step 2) and the Camat see it; everyone else, the kabupaten, exports and letters to other offices see "
        "it masked; the response still reaches the complainant",
    )

    category: str | None = Field(
        None,
        min_length=2,
        max_length=40,
        pattern=r"^[a-z0-9-]+$",
        examples=["infrastruktur"],
        description="The complaint's category, a `code` of `GET /v1/categories?kecamatan=...` (the kabupaten's list; "
        "422 `category_unknown` otherwise). Optional: staff set or correct it at step 3 or 4",
    )

    anonymous: bool = Field(
        False,
        description="An anonymous complaint, with no identity at all: accepted only where the kecamatan accepts them "
        "(422 `anonymous_not_accepted` elsewhere: the SOP asks for KTP/SIM/KK). Nothing reaches the complainant but "
        "the tracking code in this answer; identity verification is skipped, with that reason on the history",
    )

    @model_validator(mode="after")
    def _identity(self) -> ComplaintIn:
        if self.anonymous and self.complainant is not None:
            raise PydanticCustomError(
                "anonymous_with_identity", "Pengaduan anonim tidak memuat identitas: kosongkan data pengadu."
            )
        if not self.anonymous and self.complainant is None:
            raise PydanticCustomError("complainant_required", "Isi data pengadu (nama, NIK, dan kontak).")
        return self

    def person(self) -> Complainant:
        """The complainant as the contract carries them (the confidentiality asked for travels with them)."""
        if self.complainant is None:
            return anonymous_complainant()
        return Complainant.model_construct(**self.complainant.model_dump(), confidential=self.confidential)


class ComplaintFormIn(ComplaintIn):
    """The ``complaint`` field of ``POST /v1/complaints/form``: a web complaint with its identity document.
    ``id_kind`` says which card the ``identitas`` file is (the SOP asks for a copy of KTP, SIM or KK)."""

    id_kind: Literal["ktp", "sim", "kk"] = Field(examples=["ktp"], description="What the `identitas` file is")
    anonymous: Literal[False] = Field(
        False, description="An identity document comes with this form: an anonymous complaint is `POST /v1/complaints`"
    )


class ComplaintAccepted(BaseModel):
    tracking_code: str
    status: Literal["received"]
    received_at: datetime
    track_url: str
    message: str


class CategoryOut(BaseModel):
    code: str = Field(description="What a complaint keeps (`category` in `POST /v1/complaints`); stable")
    name: str = Field(description="As people read it")
    description: str
    group: str
    lapor: str = Field(
        description="The SP4N-LAPOR! category a complaint of it is filed under (to be confirmed by "
        "the kabupaten's LAPOR! administrator)"
    )


class StaffComplaintAccepted(ComplaintAccepted):
    complaint_id: UUID = Field(
        description="The complaint's id: the staff's page of it (`/petugas/pengaduan/{id}`), where its receipt is "
        "downloaded once made (recorded in the access log as the signed-in user, not as a tracking-code holder)"
    )


class StepOut(BaseModel):
    number: int
    name: str


class StepDoneOut(StepOut):
    completed_at: datetime


class ReferralOut(BaseModel):
    """A referral the kecamatan follows until the receiving office answers (or the follow-up time passes)."""

    agency: str
    state: str  # followed (open) | answered | lapsed
    follow_up_by: datetime | None = None  # the kecamatan follows it until then
    answer: str | None = None  # the office's answer, masked of personal data (shared.masking.scrub)
    answered_on: date | None = None  # the date of the office's letter or message


class FeedbackIn(BaseModel):
    """The complainant's answer after the response (docs/adr/0020): is the complaint resolved, and how was it
    handled, from 1 (tidak baik) to 4 (sangat baik). Saying what is not resolved is required with "not resolved":
    the unit that handles it again reads it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    satisfied: StrictBool = Field(examples=[True], description="Whether the complaint is resolved for the complainant")
    rating: StrictInt = Field(
        ge=1, le=4, examples=[4], description="1 tidak baik, 2 kurang baik, 3 baik, 4 sangat baik"
    )
    comment: FreeText | None = Field(None, max_length=2000, examples=["Jalan sudah diperbaiki. Terima kasih."])

    @model_validator(mode="after")
    def _says_what_is_not_resolved(self) -> FeedbackIn:
        if not self.satisfied and not (self.comment or "").strip():
            raise PydanticCustomError(
                "comment_required", "Tuliskan apa yang belum selesai, agar petugas dapat menindaklanjutinya."
            )
        return self


class FeedbackAccepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    message: str


class FeedbackOut(BaseModel):
    """Whether the complainant may answer now (``open``), and whether they answered the latest closing."""

    open: bool
    given: bool
    closing: int  # the closings with a response so far (the answer is about the latest)
    objection_answer: str | None = None  # the Camat's answer to a keberatan, masked of personal data


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
    referral: ReferralOut | None = None  # where a followed referral stands (none for one referred before)
    letter_available: bool = False  # the signed response letter was sent: /v1/letters/track/{code}/letter
    feedback: FeedbackOut | None = None  # after a closing with a response: POST /v1/track/{code}/feedback
    reopened: int = 0  # how many times the complaint was reopened after the complainant's "not resolved"
    objection: Literal["open", "answered"] | None = None  # a keberatan to the Camat, and where it stands


# --- staff: complaint-box forms and phone calls ---------------------------------------------------

MAX_ENTRY_AGE_DAYS = 30
_ENTRY_SKEW_SECONDS = 300  # a phone's or a PC's clock a few minutes ahead is not "the future"


class StaffComplaintIn(ComplaintIn):
    """A complaint-box form (``kotak``), a phone call (``telepon``) or a complainant who came to the office
    (``datang``), typed in by staff (``shared.contracts.intake.STAFF_CHANNELS``). The kecamatan is the user's
    own (it may be left out). ``received_at``: when the form was found in the box, the call took place or the
    complainant came (a time without an offset is read as WIB)."""

    kecamatan: str | None = Field(None, min_length=2, max_length=40, pattern=r"^[a-z0-9-]+$")  # type: ignore[assignment]
    channel: Literal["kotak", "telepon", "datang"] = Field(examples=["kotak"])  # type: ignore[assignment]
    received_at: datetime = Field(examples=["2026-11-30T08:15:00+07:00"])
    scan_kinds: list[Literal["ktp", "sim", "kk", "foto", "lainnya"]] | None = Field(
        None, max_length=5, description="What each uploaded `scan` is, in the same order (optional)"
    )

    @field_validator("received_at")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=WIB)
        now = datetime.now(WIB)
        if (value - now).total_seconds() > _ENTRY_SKEW_SECONDS:
            raise PydanticCustomError("received_at_in_future", "Waktu diterima tidak boleh di masa depan.")
        if (now - value).days >= MAX_ENTRY_AGE_DAYS:
            raise PydanticCustomError(
                "received_at_too_old", f"Waktu diterima paling lama {MAX_ENTRY_AGE_DAYS} hari yang lalu."
            )
        return min(value, now)


# --- inbound channels -----------------------------------------------------------------------------


class SmsIn(BaseModel):
    """What a generic SMS gateway posts (form or JSON)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_strip_whitespace=True)

    sender: str = Field(alias="from", min_length=3, max_length=32, examples=["+6281234567890"])
    to: str = Field(min_length=3, max_length=32, examples=["+6281100000001"])
    message: str = Field("", max_length=5000, examples=["Lampu jalan di Desa Pegantenan mati sejak seminggu."])
    id: str = Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$", examples=["gw-8a6f1c"])
    received_at: datetime | None = Field(None, description="When the gateway received it (ISO 8601 or epoch seconds)")

    @field_validator("received_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            return value.replace(tzinfo=WIB)  # a local gateway's clock
        return value


class InboundAccepted(BaseModel):
    status: Literal["ok"] = "ok"
    result: Literal["complaint", "reply", "ignored"]
    tracking_code: str | None = None
    duplicate: bool = False
    note: str | None = None


class WhatsAppAck(BaseModel):
    status: Literal["ok"] = "ok"
    messages: list[InboundAccepted] = []
    statuses_recorded: int = 0
