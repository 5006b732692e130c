"""The staff API's shapes. The web app and outside clients code against these names: keep them."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class StepOut(BaseModel):
    number: int
    name: str
    role: str


class InboxItem(BaseModel):
    id: UUID
    tracking_code: str | None = Field(
        description="None for a pelapor rahasia read by someone who may not see them (the code opens their receipt)"
    )
    confidential: bool = False
    kecamatan: str
    subject: str
    status: str
    current_step: StepOut | None
    due_at: datetime | None
    overdue: bool
    deadline_at: datetime | None
    received_at: datetime
    channel: str
    unit: str | None = None  # the disposed unit's code, once disposed
    register_number: str | None = None  # "12/2026", once registered


class HistoryItem(BaseModel):
    position: int
    version: int
    type: str
    occurred_at: datetime
    actor: dict[str, Any]
    step: int | None = None
    output: str | None = None
    payload: dict[str, Any]


class PossibleDuplicate(BaseModel):
    """An open complaint of the same kecamatan that may be about the same matter (docs/adr/0021)."""

    complaint_id: UUID
    tracking_code: str | None = Field(
        description="None where its complainant is a pelapor rahasia the reader may not see (the code opens their receipt)"
    )
    register_number: str | None = None  # "12/2026", once registered
    received_at: datetime
    subject: str
    reasons: list[str] = Field(
        description="What matched: nik, phone, email (the complainants' values, compared by keyed hash; only to a "
        "reader who may see both complainants) and text (the subject and description alike)"
    )
    similarity: float | None = Field(None, description="pg_trgm similarity of the texts (0-1), when the text matched")


class ComplaintOut(BaseModel):
    """Kabupaten users and admins get the masked view (``shared.masking.COMPLAINT``): no tracking code,
    the complainant masked, free text ``[disembunyikan]``, each event's payload as the event feed shows it."""

    id: UUID
    tracking_code: str | None  # null for a masked reader: it opens the receipt without sign-in
    kecamatan: str
    status: str
    outcome: str | None
    version: int
    current_step: StepOut | None
    due_at: datetime | None
    overdue: bool
    deadline_at: datetime | None
    register_number: str | None  # "12/2026": number/year, as written in the Buku Rekap Pengaduan
    letter_number: str | None
    unit: str | None
    channel: str
    subject: str
    description: str
    complainant: dict[str, Any]
    received_at: datetime
    confidential: bool = Field(
        False,
        description="Pelapor rahasia: the complainant asked that their identity be kept confidential (only the "
        "Kasi/Kasubag, who verify identity, and the Camat read it; to others `complainant.name` reads `(pelapor rahasia)` and nothing else)",
    )
    category: str | None = Field(
        None, description="The complaint's category, a code of its kabupaten's list (`GET /v1/categories`)"
    )
    allowed_actions: list[str]  # what the signed-in user may do now
    history: list[HistoryItem]
    possible_duplicates: list[PossibleDuplicate] = Field(
        [],
        description="Open complaints of the same kecamatan with the same complainant's NIK, phone or e-mail, or a "
        "similar text (docs/adr/0021): for the kecamatan's staff while this one is open; none for others",
    )


class ActedOut(BaseModel):
    """An action's answer to a client that asked for a minimal one (``Prefer: return=minimal``, RFC 7240): what it
    needs to act again or to read the complaint (its next ``expected_version``), none of its data."""

    id: UUID
    status: str
    version: int
    current_step: int | None


class ActionBody(BaseModel):
    """``expected_version`` plus the action's own fields (see the action list in the API description)."""

    model_config = ConfigDict(extra="allow")
    expected_version: int
    passphrase: SecretStr | None = Field(
        None,
        max_length=200,
        description="sign-letter where the kecamatan signs through BSrE (`signature_service` in GET /v1/kecamatan): "
        "the signer's passphrase for their BSrE certificate, passed to BSrE once and never stored or logged",
    )

    @field_validator("passphrase")
    @classmethod
    def _typable(cls, value: SecretStr | None) -> SecretStr | None:
        """A passphrase is typed: no control characters, no lone surrogates (which cannot be sent on)."""
        if value is not None and any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value.get_secret_value()):
            raise ValueError("Passphrase berisi karakter yang tidak dapat diketik.")
        return value


class KecamatanOut(BaseModel):
    slug: str
    name: str
    kabupaten: str  # the kabupaten's slug
    kabupaten_name: str
    time_zone: str = "Asia/Jakarta"  # the kabupaten's: every date people see or filter by (Asia/Makassar: WITA)
    time_zone_label: str = "WIB"
    # how step 10 signs: "bsre" (the national e-signature service: the signer types their passphrase) or "local"
    # (the kecamatan's own certificate, no passphrase)
    signature_service: str = "local"
    # the kabupaten's archive classification codes a letter may carry (code -> title), and the default per kind of
    # letter (response_letter, referral_letter): what the Camat chooses from at sign-letter and refer
    klasifikasi: dict[str, str] = {}
    klasifikasi_default: dict[str, str] = {}
    # the kabupaten's complaint categories (code -> name, in the list's order): what the citizen picks from and what
    # staff set at step 3 or 4 (`GET /v1/categories` has the whole entries)
    categories: dict[str, str] = {}
