"""The LAPOR! bridge's pure parts (services/lapor/domain): a report as intake takes it, and which workflow events
become which follow-ups, in what words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.lapor.domain import importing
from services.lapor.domain.followups import SentLetter, follow_up_of
from services.lapor.domain.model import LaporAttachment, LaporReport
from shared.contracts.categories import DEFAULT
from shared.contracts.workflow import (
    ClarificationGiven,
    ComplaintReferred,
    ComplaintRegistered,
    DispositionIssued,
    IdentityRejected,
    MarkedDuplicate,
    ObjectionAnswered,
    ResponseSent,
    StepOverdue,
)

AT = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def report(**overrides) -> LaporReport:
    fields = {
        "tracking_id": "1916449",
        "instansi_id": "INS-1",
        "title": "  Jalan   rusak ",
        "content": "Berlubang.",
        "category": "infrastruktur ",
        "reported_at": AT,
        "disposed_at": AT,
        "reporter_name": "Siti",
        "reporter_phone": "0812-3456-7890",
        "reporter_email": "bukan email",
        "attachments": (LaporAttachment("foto.jpg", "https://lapor.example/files/1"),),
    }
    return LaporReport(**{**fields, **overrides})


def test_a_report_as_intake_takes_it():
    body = importing.submission(report(), "pegantenan", "infrastruktur")
    assert body["subject"] == "Jalan rusak"
    assert body["description"] == "Berlubang.\n\n[SP4N-LAPOR! #1916449; kategori LAPOR!: infrastruktur ]"
    assert body["complainant"] == {
        "name": "Siti",
        "phone": "+6281234567890",
        "email": None,  # not an address: left out rather than refused
        "anonymous": False,
        "confidential": False,
    }
    assert body["received_at"] == AT.isoformat()
    assert importing.submission(report(reporter_name=None), "pegantenan", None)["complainant"]["anonymous"]


@pytest.mark.parametrize(
    "raw, e164",
    [
        ("0812-3456-7890", "+6281234567890"),
        ("+62 812 3456 7890", "+6281234567890"),
        ("6281234567890", "+6281234567890"),
        ("12", None),
        ("telepon", None),
        (None, None),
    ],
)
def test_phone_numbers(raw, e164):
    assert importing.phone_e164(raw) == e164


def test_lapor_categories_map_to_ours_by_name():
    assert importing.category_code(" Infrastruktur", DEFAULT) == "infrastruktur"
    assert importing.category_code("Topik yang tidak ada", DEFAULT) is None
    assert importing.category_code(None, DEFAULT) is None


def test_the_inbox_copy_round_trips_and_loses_the_identity():
    data = importing.to_json(report())
    assert importing.from_json(data) == report()
    assert importing.without_identity(data)["reporter_phone"] is None
    assert importing.erased(data)["content"] == importing.ERASED_TEXT


def test_which_events_are_follow_ups():
    registered = ComplaintRegistered(step=3, output="x", register_number=5, register_year=2026)
    assert follow_up_of(registered, AT).text.endswith("nomor 5/2026 dan sedang ditindaklanjuti.")
    disposed = follow_up_of(DispositionIssued(step=4, output="x", unit="trantib", instructions="rahasia"), AT)
    assert "Seksi Ketenteraman dan Ketertiban Umum" in disposed.text and "rahasia" not in disposed.text
    assert "catatan" not in follow_up_of(ClarificationGiven(step=5, output="x", explanation="catatan"), AT).text
    letter = SentLetter("400/1/2026", "Tanggapan", "Isi surat.")
    sent = follow_up_of(ResponseSent(step=12, output="x", channel="pos"), AT, letter)
    assert (sent.status, sent.letter_number) == ("selesai", "400/1/2026") and sent.text.endswith("Isi surat.")
    referred = ComplaintReferred(agency="Dinas PUPR", agency_kind="opd", reason="Jalan kabupaten.")
    assert follow_up_of(referred, AT).status == "selesai"  # not followed: closed at once
    assert follow_up_of(referred.model_copy(update={"follow_up_by": AT}), AT).status == "proses"
    assert "KTP" not in follow_up_of(IdentityRejected(reason="KTP palsu"), AT).text
    assert "PGD" not in follow_up_of(MarkedDuplicate(duplicate_of="PGD-AAAA-BBBB"), AT).text
    assert follow_up_of(ObjectionAnswered(decision="reopened", answer="x"), AT) is None
    assert follow_up_of(StepOverdue(step=3, role="staf", due_at=AT), AT) is None
