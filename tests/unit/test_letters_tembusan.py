"""The Tembusan of the response letter, chosen at step 9 (issue #16 item 2): ``duplicate-letter`` takes the offices
(bounded: one line each, at most 200 characters, at most 10), ``workflow.LetterDuplicated`` carries them (a field
added to the contract; older events read as none), a masked reader sees only how many, and the letters worker
prints them on the signed letter, "Yth." before each. The letter's body is the approved draft as drafted: the
clarification of step 5 is not pasted after it. Its date is the day it was signed in the kabupaten's zone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.letters import handlers
from services.workflow.domain import commands as c
from shared import masking
from shared.contracts.workflow import LetterDrafted, LetterDuplicated
from shared.events import envelope, registry
from shared.tanggal import format_tanggal
from tests.unit.test_letters_flow import letters, memory, place, signing_keys, story, text_of  # noqa: F401
from tests.unit.test_letters_render import flat
from tests.unit.test_workflow_flow import MONDAY, Workflow, walk_to

OFFICES = ["Bupati Pamekasan (sebagai laporan)", "Inspektur Kabupaten Pamekasan"]
ACTOR = c.Actor(user_id="staf.x", role="staf")


def test_duplicate_letter_takes_the_offices_of_the_tembusan_and_the_event_carries_them():
    wf = Workflow()
    cid = wf.receive().complaint_id
    state = walk_to(wf, cid, 9)
    wf.act(cid, "staf", "duplicate-letter", state.revision, tembusan=[f"  {OFFICES[0]} ", OFFICES[1]])
    (duplicated,) = [e for e in wf.events(cid) if e.type == LetterDuplicated.type]
    event = duplicated.decode()
    assert isinstance(event, LetterDuplicated)
    assert event.tembusan == OFFICES  # trimmed, in the order given
    assert event.copies == ["pengadu", "arsip"]


def test_without_tembusan_the_letter_has_none_and_an_old_event_reads_as_none():
    assert c.DuplicateLetter(actor=ACTOR, at=MONDAY).tembusan == []
    old = {"step": 9, "output": "Surat digandakan", "copies": ["pengadu", "arsip"]}  # written before the field
    assert registry.decode(LetterDuplicated.type, 1, old).tembusan == []


@pytest.mark.parametrize(
    "tembusan",
    [
        ["Bupati Pamekasan\nInspektur"],  # a line break
        ["   "],  # nothing but spaces
        [""],
        ["x" * 201],
        [f"Kantor {i}" for i in range(11)],  # more than a letter's foot holds
        "Bupati Pamekasan",  # not a list
    ],
    ids=["line-break", "blank", "empty", "too-long", "too-many", "not-a-list"],
)
def test_the_tembusan_is_bounded(tembusan):
    with pytest.raises(ValidationError):
        c.DuplicateLetter(actor=ACTOR, at=MONDAY, tembusan=tembusan)
    assert c.DuplicateLetter(actor=ACTOR, at=MONDAY, tembusan=["x" * 200] * 10).tembusan[0] == "x" * 200


def test_a_masked_reader_sees_how_many_offices_never_which():
    payload = LetterDuplicated(step=9, output="Surat digandakan", copies=["pengadu"], tembusan=OFFICES)
    shown = masking.event_payload(LetterDuplicated.type, payload.model_dump(mode="json"))
    assert shown["tembusan_count"] == 2 and shown["copies_count"] == 1
    assert "Bupati" not in str(shown)


def test_the_signed_letter_prints_the_tembusan_and_the_approved_body_without_the_clarification(
    letters,
    story,
    place,
):
    story.duplicated(OFFICES)
    signed = story.signed(f"camat.{place.slug}")
    issued = handlers.issue_signed_letter(letters, signed.event_id)
    text = flat(text_of(letters.documents.get(issued.sha256)))
    assert "Tembusan: 1. Yth. Bupati Pamekasan (sebagai laporan) 2. Yth. Inspektur Kabupaten Pamekasan" in text
    assert "Yth. Sdr. Siti Aminah" in text  # the complainant, addressed as Saudara/i
    assert "Menanggapi pengaduan Saudara (konsep 1)" in text
    assert "Perbaikan jalan telah dijadwalkan bulan depan." not in text  # step 5's explanation, not pasted
    # dated the day it was signed in the kabupaten's zone (WIB), whatever the day in UTC
    signed_on = signed.occurred_at.astimezone(place.time_zone).date()
    assert f"Uji, {format_tanggal(signed_on)}" in text
    assert "Hal : Tanggapan atas pengaduan jalan rusak" in text


def test_a_letter_duplicated_without_tembusan_has_none(letters, story, place):
    story.duplicated()
    issued = handlers.issue_signed_letter(letters, story.signed(f"camat.{place.slug}").event_id)
    assert "Tembusan" not in text_of(letters.documents.get(issued.sha256))


def test_the_date_line_is_the_day_in_wib_not_in_utc(letters, memory, story):
    """A draft written at 18.30 UTC on 27 November is dated 28 November: 01.30 WIB (the signed letter is dated
    the same way, by its signing event)."""
    late = envelope(
        LetterDrafted(step=7, output="Konsep surat", letter_version=2, perihal="Tanggapan", body="Isi surat."),
        event_id=uuid.uuid4(),
        stream_id=story.stream,
        version=len(story.events) + 1,
        kecamatan=story.place.slug,
        occurred_at=datetime(2026, 11, 27, 18, 30, tzinfo=UTC),
        actor=story.events[-1].actor,
        correlation_id=uuid.uuid4(),
    )
    memory.store.append(story.stream, len(story.events), [late])
    row = handlers.render_draft(letters, late.event_id)
    text = flat(text_of(letters.documents.get(row["sha256"])))
    assert "Uji, 28 November 2026" in text and "27 November 2026" not in text
