"""Response bodies of the dashboard API."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class PeriodOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date | None = Field(None, alias="from")
    to: date | None = None


class KecamatanRef(BaseModel):
    slug: str
    name: str
    kabupaten: str


class Sla(BaseModel):
    """The 12-working-day promise: closures on or before the deadline, and open complaints already past it."""

    closed: int
    closed_within: int
    closed_late: int
    closed_within_share: float | None = Field(description="closed_within / closed; null when nothing closed")
    open: int
    open_late: int


class FeedbackFigures(BaseModel):
    """The complainants' answers after the response (docs/adr/0020), of the complaints received in the period."""

    responded: int = Field(description="Complaints whose response reached the complainant")
    answered: int = Field(description="Complaints whose complainant answered after it (the latest answer counts)")
    satisfied: int = Field(description="... and said it is resolved")
    satisfied_share: float | None = Field(description="satisfied / answered; null when nobody answered")
    rating_sum: int = Field(description="The sum of the ratings (1-4) given, to average across kecamatan")
    mean_rating: float | None = Field(description="rating_sum / answered")
    reopened: int = Field(description="Complaints reopened after a complainant's 'not resolved'")
    reopened_share: float | None = Field(description="reopened / responded")
    objections: int = Field(description="Complaints that became a keberatan to the Camat")


class SummaryFigures(BaseModel):
    total: int
    by_channel: dict[str, int]
    by_status: dict[str, int]
    by_outcome: dict[str, int]
    by_category: dict[str, int] = Field(
        default_factory=dict,
        description="By category code of the kabupaten's list (`GET /v1/categories`); `belum-ditetapkan`: none set yet",
    )
    by_month: dict[str, int] = Field(description="YYYY-MM of the received date")
    sla: Sla
    feedback: FeedbackFigures


class SummaryItem(SummaryFigures):
    kecamatan: KecamatanRef
    feedback_by_unit: dict[str, FeedbackFigures] = Field(
        default_factory=dict, description="The same by the unit the Camat disposed to (its code); units with a response"
    )


class SummaryOut(BaseModel):
    period: PeriodOut
    as_of: datetime
    kecamatan: list[SummaryItem]
    total: SummaryFigures = Field(description="All the kecamatan above together")


class StepItem(BaseModel):
    kecamatan: str
    step: int
    step_name: str
    role: str
    standard_minutes: int = Field(description="The SOP's standard in office minutes (working days x office day)")
    count: int
    within_standard: int = Field(description="Done by the due time the workflow set")
    within_standard_share: float | None
    median_minutes: float = Field(description="Office minutes on the kecamatan's working calendar")
    p90_minutes: float
    mean_minutes: float
    max_minutes: int


class StepsOut(BaseModel):
    period: PeriodOut = Field(description="Steps completed in this period")
    items: list[StepItem]


class StepRef(BaseModel):
    number: int
    name: str


class Contact(BaseModel):
    name: str | None = None
    phone: str | None = None


class OverdueItem(BaseModel):
    complaint_id: UUID
    tracking_code: str | None = Field(description="Staff of the kecamatan only (it opens the receipt without sign-in)")
    kecamatan: str
    register_number: str | None
    subject: str
    channel: str
    received_at: datetime
    step: StepRef
    role: str | None = Field(description="Who must act now")
    unit: str | None = Field(description="At steps 5 and 6: the Kasi unit the disposition named")
    step_started_at: datetime | None
    due_at: datetime
    overdue_minutes: int = Field(description="Office minutes since the due time")
    overdue_working_days: float
    deadline_at: datetime | None
    complainant: Contact


class OverdueOut(BaseModel):
    as_of: datetime
    total: int
    items: list[OverdueItem]


REFERRAL_STATES = "followed | answered | lapsed | ended | unfollowed"


class ReferralItem(BaseModel):
    kecamatan: str
    agency: str
    agency_kind: str | None
    state: str | None = Field(description=REFERRAL_STATES)
    count: int


class AgencyCount(BaseModel):
    agency: str
    agency_kind: str | None
    count: int


class ReferralsOut(BaseModel):
    period: PeriodOut
    total: int
    by_kind: dict[str, int]
    by_state: dict[str, int] = Field(
        description="Where the referrals stand: followed (open, the kecamatan waits for the receiving office's "
        "answer), answered, lapsed (no answer by the follow-up time), ended (withdrawn or a duplicate while "
        "followed), unfollowed (referred before referrals were followed: closed at once)"
    )
    by_agency: list[AgencyCount]
    items: list[ReferralItem]


class Complainant(BaseModel):
    name: str | None = None
    nik: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None


class Disposition(BaseModel):
    unit: str
    instructions: str | None
    at: datetime | None


class ReferralAnswer(BaseModel):
    text: str | None = Field(description="The receiving office's answer as staff recorded it (masked: hidden)")
    answered_on: date | None = Field(description="The date of the office's letter or message")
    reference: str | None
    at: datetime | None = Field(description="When staff recorded it")


class Referral(BaseModel):
    agency: str
    agency_kind: str | None
    reason: str | None
    at: datetime | None
    state: str | None = Field(None, description=REFERRAL_STATES)
    letter_number: str | None = Field(None, description="The surat pelimpahan's number")
    follow_up_by: datetime | None = Field(None, description="The kecamatan follows the referral until then")
    answer: ReferralAnswer | None = None
    ended_at: datetime | None = Field(None, description="When it was answered, lapsed or ended")


class FollowUp(BaseModel):
    text: str | None
    at: datetime | None


class Letter(BaseModel):
    number: str
    signed_at: datetime | None


class RegisterItem(BaseModel):
    register_number: str | None = Field(description="number/year, as written in the book")
    number: int | None
    year: int | None
    complaint_id: UUID
    tracking_code: str | None = Field(description="Staff of the kecamatan only (it opens the receipt without sign-in)")
    received_at: datetime
    complainant: Complainant
    channel: str
    channel_label: str
    category: str | None = Field(None, description="A code of the kabupaten's list (`GET /v1/categories`), if set")
    subject: str
    disposition: Disposition | None
    referral: Referral | None
    follow_up: FollowUp | None
    letter: Letter | None
    sent_at: datetime | None
    sent_channel: str | None
    receipt: str | None
    status: str
    outcome: str | None
    status_label: str
    current_step: int | None


class RegisterPage(BaseModel):
    kecamatan: KecamatanRef
    period: PeriodOut
    year: int | None
    page: int
    page_size: int
    total: int
    pages: int
    items: list[RegisterItem]
