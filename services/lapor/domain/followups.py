"""Which workflow events are reported to LAPOR! as follow-ups, in what words, and which close the report there.
Pure: the event and, for the response, the letter it sent come in; the follow-up goes out.

What is never sent: the tracking code (it opens the complainant's receipt, which names them), the identity checks'
reasons, the Camat's instructions and the unit's clarification (internal working papers): LAPOR! shows its
follow-ups to the complainant and, for a report that is not confidential, to the public."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.lapor.domain.model import FollowUp
from shared.contracts.organisation import PP17_UNITS
from shared.contracts.workflow import (
    ClarificationGiven,
    ClosedIncomplete,
    ComplaintReferred,
    ComplaintRegistered,
    ComplaintReopened,
    ComplaintWithdrawn,
    DispositionIssued,
    DispositionRedirected,
    IdentityRejected,
    MarkedDuplicate,
    ObjectionAnswered,
    ObjectionRaised,
    ReferralAnswered,
    ReferralLapsed,
    ResponseSent,
)
from shared.events import Event


@dataclass(frozen=True)
class SentLetter:
    """The response letter a ``ResponseSent`` delivered: its number, perihal and text (the signed version)."""

    number: str | None
    perihal: str
    body: str


# the event types a follow-up is made of (the follower reads only these, and ComplaintReceived, from the store)
REPORTED = tuple(
    cls.type
    for cls in (
        ComplaintRegistered,
        DispositionIssued,
        DispositionRedirected,
        ClarificationGiven,
        ResponseSent,
        ComplaintReferred,
        ReferralAnswered,
        ReferralLapsed,
        IdentityRejected,
        ClosedIncomplete,
        ComplaintWithdrawn,
        MarkedDuplicate,
        ComplaintReopened,
        ObjectionRaised,
        ObjectionAnswered,
    )
)


def unit_title(code: str) -> str:
    """A unit as people read it ("Seksi Pemerintahan"); a kecamatan's own unit, by its code."""
    return next((u.title for u in PP17_UNITS if u.code == code), code)


def follow_up_of(event: Event, at: datetime, letter: SentLetter | None = None) -> FollowUp | None:
    """The follow-up ``event`` is reported as (None: not reported)."""
    match event:
        case ComplaintRegistered():
            text = (
                "Laporan telah dicatat dalam Buku Register Pengaduan kecamatan "
                f"dengan nomor {event.register_number}/{event.register_year} dan sedang ditindaklanjuti."
            )
            return FollowUp("registered", "proses", text, at)
        case DispositionIssued():
            return FollowUp(
                "disposed", "proses", f"Camat telah mendisposisikan laporan kepada {unit_title(event.unit)}.", at
            )
        case DispositionRedirected():
            return FollowUp("redirected", "proses", f"Disposisi laporan dialihkan kepada {unit_title(event.unit)}.", at)
        case ClarificationGiven():
            text = "Unit yang ditugasi telah memberikan klarifikasi; surat tanggapan sedang disiapkan."
            return FollowUp("clarified", "proses", text, at)
        case ResponseSent():
            if letter is None:
                return FollowUp("responded", "selesai", "Surat tanggapan telah dikirim kepada pelapor.", at)
            number = f" Nomor {letter.number}" if letter.number else ""
            text = f"Surat tanggapan{number} perihal {letter.perihal} telah dikirim kepada pelapor.\n\n{letter.body}"
            return FollowUp("responded", "selesai", text, at, letter_number=letter.number)
        case ComplaintReferred():
            text = f"Laporan bukan kewenangan kecamatan dan dilimpahkan kepada {event.agency}. Alasan: {event.reason}"
            if event.follow_up_by is not None:  # followed until the receiving office answers
                return FollowUp("referred", "proses", text, at, letter_number=event.letter_number)
            return FollowUp("referred", "selesai", text, at, letter_number=event.letter_number)
        case ReferralAnswered():
            return FollowUp("referral_answered", "selesai", f"Tanggapan instansi penerima: {event.answer}", at)
        case ReferralLapsed():
            text = "Batas waktu pemantauan pelimpahan berakhir; laporan ditutup sebagai dilimpahkan."
            return FollowUp("referral_lapsed", "selesai", text, at)
        case IdentityRejected():
            text = "Laporan tidak dapat diproses karena identitas pelapor tidak dapat diverifikasi."
            return FollowUp("identity_rejected", "selesai", text, at)
        case ClosedIncomplete():
            text = "Laporan ditutup karena kelengkapan identitas pelapor tidak diterima dalam batas waktu."
            return FollowUp("closed_incomplete", "selesai", text, at)
        case ComplaintWithdrawn():
            return FollowUp("withdrawn", "selesai", "Laporan dicabut oleh pelapor.", at)
        case ComplaintReopened():  # after a closing: handled again (LAPOR! keeps a report open to its reporter)
            why = "pelapor menyatakan belum selesai" if event.cause == "feedback" else "keputusan Camat atas keberatan"
            by = f" oleh {unit_title(event.unit)}" if event.unit else ""
            text = f"Laporan dibuka kembali ({why}) dan ditangani ulang{by}."
            return FollowUp("reopened", "proses", text, at)
        case ObjectionRaised():
            return FollowUp("objection", "proses", "Keberatan pelapor diteruskan kepada Camat.", at)
        case ObjectionAnswered():
            if event.decision != "upheld":
                return None  # a ComplaintReopened follows, and says so
            return FollowUp(
                "objection_answered", "selesai", f"Jawaban Camat atas keberatan pelapor: {event.answer}", at
            )
        case MarkedDuplicate():
            text = "Laporan sama dengan laporan lain yang sudah ditangani kecamatan; ditutup sebagai duplikat."
            return FollowUp("duplicate", "selesai", text, at)
    return None
