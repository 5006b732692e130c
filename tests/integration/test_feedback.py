"""Satisfaction, reopening and keberatan (issue #18 item 1; docs/adr/0020), end to end on real PostgreSQL: a complaint
walked through the twelve steps; its complainant answers on the public endpoint by tracking code ("not resolved",
once per closing); the workflow's worker takes intake's message and reopens it at step 5 for the disposed unit; the
tracking page, the dashboard's figures and notify's messages follow; walked again to a new letter; a second "not
resolved" is a keberatan for the Camat, who answers it over the workflow's API; and a last "resolved" is recorded.
Bad answers are refused with a stable code and nothing written."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.dashboard.adapters import tables as dashboard_tables
from services.dashboard.entrypoints.api import create_app as dashboard_app
from services.intake.adapters.tables import outbox
from services.intake.entrypoints.api import create_app as intake_app
from services.letters import handlers as letters_handlers
from services.letters.entrypoints.api import create_app as letters_app
from services.notify.adapters.tables import deliveries
from services.notify.handlers.planning import plan_event
from services.workflow import handlers
from services.workflow.entrypoints.api import create_app as workflow_app
from shared.auth import Principal
from shared.contracts.intake import FeedbackGiven
from tests.integration.test_letters import TO_STEP_10
from tests.integration.test_privacy_erasure import (  # noqa: F401 (world: the module's fixture)
    catch_up,
    model_revision,
    walk_all_twelve_steps,
    world,
)
from tests.support.auth import bearer_header, ensure_user

pytestmark = pytest.mark.usefixtures("world")
# not test_privacy_erasure's complainant: that module looks for its values in every table after its erasure
PERSON = {"name": "Ratna Sari Dewi", "nik": "3528015003880002", "phone": "0819-1111-2222", "address": "Dusun Sumber"}


def track(world, code: str) -> dict:
    with TestClient(intake_app(world["intake"])) as client:
        answer = client.get(f"/v1/track/{code}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def give(world, code: str, body: dict):
    with TestClient(intake_app(world["intake"])) as client:
        return client.post(f"/v1/track/{code}/feedback", json=body)


def deliver_feedback(world) -> FeedbackGiven:
    """Intake's FeedbackGiven messages not yet handed on, taken by the workflow's worker handler (as the relay and
    the worker do); the last one."""
    engine = world["intake"].engine
    with engine.begin() as conn:
        rows = conn.execute(
            select(outbox.c.id, outbox.c.payload)
            .where(outbox.c.task == FeedbackGiven.TASK, outbox.c.published_at.is_(None))
            .order_by(outbox.c.created_at)
        ).all()
        conn.execute(
            outbox.update().where(outbox.c.id.in_([r.id for r in rows])).values(published_at=datetime.now(UTC))
        )
    assert rows, "intake wrote no FeedbackGiven"
    message = None
    for row in rows:
        message = FeedbackGiven.model_validate(row.payload)
        assert handlers.record_feedback(world["wf"], message)
        assert not handlers.record_feedback(world["wf"], message)  # a redelivery changes nothing
    assert message is not None
    return message


def events(world, cid) -> list:
    return world["wf"].store.read_stream(f"complaint-{cid}")


def last(world, cid, kind: str):
    return next(e for e in reversed(events(world, cid)) if e.type == kind)


def act(world, cid, action: str, role: str, fields: dict | None = None):
    return handlers.act(
        world["wf"], cid, action, fields or {}, expected_version=model_revision(world["wf"], cid),
        user_id=f"{role}.feedback", role=role, unit="pemerintahan", kecamatan="pegantenan", at=datetime.now(UTC),
        correlation_id=uuid.uuid4(),
    )  # fmt: skip


def walk_again_from_step_five(world, cid) -> None:
    """Steps 5 to 12 again after a reopening: a new letter drafted, signed under a new number, sent by hand."""
    for action, role, fields in TO_STEP_10[3:]:
        act(world, cid, action, role, fields)
    letters_handlers.render_draft(world["letters"], last(world, cid, "workflow.LetterDrafted").event_id)
    act(world, cid, "sign-letter", "camat")
    issued = letters_handlers.issue_signed_letter(world["letters"], last(world, cid, "workflow.LetterSigned").event_id)
    handlers.record_letter_document(world["wf"], issued)
    act(world, cid, "archive-letter", "staf")
    act(world, cid, "send-response", "staf", {"channel": "langsung", "receipt": "Diterima langsung oleh pengadu"})


def planned_kinds(world, event) -> set[tuple[str, str]]:
    plan_event(world["notify"], event.event_id, send_now=False)
    with world["notify"].engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.kind, deliveries.c.audience).where(deliveries.c.source_event_id == event.event_id)
        ).all()
    return {(r.kind, r.audience) for r in rows}


def dashboard_row(world, cid) -> dict:
    with world["dash"].engine.connect() as conn:
        return dict(
            conn.execute(
                select(dashboard_tables.complaints).where(dashboard_tables.complaints.c.complaint_id == cid)
            ).mappings().one()
        )  # fmt: skip


def test_not_resolved_reopens_then_a_keberatan_goes_to_the_camat_and_every_reader_follows(settings, world):
    cid, code = walk_all_twelve_steps(world, PERSON)
    letters_handlers.release_letter(world["letters"], last(world, cid, "workflow.ResponseSent").event_id)
    catch_up(world)
    status = track(world, code)
    assert status["status"] == "closed" and status["feedback"] == {
        "open": True,
        "given": False,
        "closing": 1,
        "objection_answer": None,
    }
    first_letter = dashboard_row(world, cid)["letter_number"]

    # bad answers: refused with a stable code, nothing written
    refused = [
        give(world, code, {"satisfied": True, "rating": 5}),
        give(world, code, {"satisfied": False, "rating": 1}),  # "not resolved" says what
        give(world, code, {"satisfied": False, "rating": 1, "comment": "   "}),
        give(world, code, {"satisfied": "tidak", "rating": 1, "comment": "x"}),
    ]
    assert [r.status_code for r in refused] == [422, 422, 422, 422]
    assert any(e["code"] == "comment_required" for e in refused[1].json()["errors"]), refused[1].json()
    assert give(world, "ZZZZ-ZZZZ-ZZ", {"satisfied": True, "rating": 4}).status_code == 404
    assert track(world, code)["feedback"]["given"] is False

    answered = give(world, code, {"satisfied": False, "rating": 2, "comment": "Lampu masih mati di dua titik."})
    assert answered.status_code == 202, answered.text
    again = give(world, code, {"satisfied": True, "rating": 4})
    assert (again.status_code, again.json()["code"]) == (409, "feedback_already_given")
    message = deliver_feedback(world)
    assert (message.closing, message.satisfied, message.rating) == (1, False, 2)

    # reopened at step 5 for the unit the Camat disposed to; the first letter kept
    assert [e.type for e in events(world, cid)[-2:]] == ["workflow.FeedbackReceived", "workflow.ComplaintReopened"]
    reopened = last(world, cid, "workflow.ComplaintReopened").decode()
    assert (reopened.cause, reopened.unit, reopened.reopening, reopened.next_step) == ("feedback", "pemerintahan", 1, 5)
    catch_up(world)
    status = track(world, code)
    assert (status["status"], status["current_step"]["number"], status["reopened"]) == ("in_progress", 5, 1)
    assert status["status_label"].startswith("Dibuka kembali") and status["feedback"]["open"] is False
    closed_now = give(world, code, {"satisfied": True, "rating": 4})
    assert (closed_now.status_code, closed_now.json()["code"]) == (409, "feedback_not_open")
    # the first letter stays the complainant's while the new one is prepared
    assert status["letter_available"] is True
    with TestClient(letters_app(world["letters"])) as letters_api:
        first_pdf = letters_api.get(f"/v1/letters/track/{code}/letter")
    assert first_pdf.status_code == 200 and first_pdf.content.startswith(b"%PDF")
    row = dashboard_row(world, cid)
    assert (row["status"], row["current_step"], row["waiting_role"], row["reopened"]) == ("in_progress", 5, "kasi", 1)
    assert (row["feedback_satisfied"], row["feedback_rating"]) == (False, 2)
    # the complainant is told, and so is the unit's Kasi (who asked for news of new work, or not: then no row)
    kinds = planned_kinds(world, last(world, cid, "workflow.ComplaintReopened"))
    assert ("reopened", "complainant") in kinds

    # walked again: a new letter under a new number; the complainant may answer the second closing
    walk_again_from_step_five(world, cid)
    letters_handlers.release_letter(world["letters"], last(world, cid, "workflow.ResponseSent").event_id)
    catch_up(world)
    assert dashboard_row(world, cid)["letter_number"] not in (None, first_letter)
    with TestClient(letters_app(world["letters"])) as letters_api:
        second_pdf = letters_api.get(f"/v1/letters/track/{code}/letter")
    assert second_pdf.status_code == 200 and second_pdf.content != first_pdf.content  # the new one, once sent
    assert track(world, code)["feedback"] == {"open": True, "given": False, "closing": 2, "objection_answer": None}

    # not resolved again: a keberatan for the Camat, however soon
    assert give(world, code, {"satisfied": False, "rating": 1, "comment": "Masih mati."}).status_code == 202
    deliver_feedback(world)
    assert events(world, cid)[-1].type == "workflow.ObjectionRaised"
    catch_up(world)
    status = track(world, code)
    assert (status["status"], status["objection"]) == ("objection", "open")
    assert status["status_label"] == "Keberatan Anda sedang diperiksa Camat"
    assert ("objection_raised", "complainant") in planned_kinds(world, last(world, cid, "workflow.ObjectionRaised"))
    row = dashboard_row(world, cid)
    assert (row["status"], row["waiting_role"], row["objection_state"]) == ("objection", "camat", "open")

    # the Camat answers over the API: nobody else may, nor any other action meanwhile
    camat = ensure_user(settings, Principal("camat.keberatan", "Camat", "camat", "pegantenan", None))
    sekcam = ensure_user(settings, Principal("sekcam.keberatan", "Sekcam", "sekcam", "pegantenan", None))
    version = model_revision(world["wf"], cid)
    body = {"expected_version": version, "decision": "upheld", "answer": "Perbaikan dua titik lampu dijadwalkan."}
    with TestClient(workflow_app(world["wf"])) as client:
        refused = client.post(
            f"/v1/complaints/{cid}/answer-objection", json=body, headers=bearer_header(settings, sekcam)
        )
        assert (refused.status_code, refused.json()["code"]) == (403, "role_not_allowed"), refused.text
        other = client.post(
            f"/v1/complaints/{cid}/withdraw", json={"expected_version": version}, headers=bearer_header(settings, camat)
        )
        assert (other.status_code, other.json()["code"]) == (409, "awaiting_objection_answer"), other.text
        bad = client.post(
            f"/v1/complaints/{cid}/answer-objection",
            json={**body, "decision": "maybe"},
            headers=bearer_header(settings, camat),
        )
        assert bad.status_code == 422, bad.text
        done = client.post(f"/v1/complaints/{cid}/answer-objection", json=body, headers=bearer_header(settings, camat))
        assert done.status_code == 200, done.text
        assert (done.json()["status"], done.json()["outcome"]) == ("closed", "resolved")
    answered = last(world, cid, "workflow.ObjectionAnswered")
    assert ("objection_answered", "complainant") in planned_kinds(world, answered)
    catch_up(world)
    status = track(world, code)
    assert (status["status"], status["objection"], status["feedback"]["open"]) == ("closed", "answered", True)
    assert status["feedback"]["objection_answer"] == "Perbaikan dua titik lampu dijadwalkan."

    # after the Camat's answer, an answer is recorded and nothing more (and the complainant is told so)
    recorded = give(world, code, {"satisfied": True, "rating": 3})
    assert recorded.status_code == 202 and recorded.json()["message"] == "Terima kasih atas penilaian Anda."
    deliver_feedback(world)
    assert events(world, cid)[-1].type == "workflow.FeedbackReceived"
    assert events(world, cid)[-1].decode().consequence == "none"
    catch_up(world)
    row = dashboard_row(world, cid)
    assert (row["status"], row["feedback_satisfied"], row["feedback_rating"], row["objection_state"]) == (
        "closed", True, 3, "answered"
    )  # fmt: skip

    # the kabupaten's dashboard: satisfaction and reopen rates, per kecamatan and per unit
    kabupaten = ensure_user(settings, Principal("kab.keberatan", "Kabupaten", "kabupaten", None, "pamekasan"))
    with TestClient(dashboard_app(world["dash"])) as client:
        summary = client.get("/v1/dashboard/summary?kecamatan=pegantenan", headers=bearer_header(settings, kabupaten))
    assert summary.status_code == 200, summary.text
    item = next(i for i in summary.json()["kecamatan"] if i["kecamatan"]["slug"] == "pegantenan")
    figures, unit = item["feedback"], item["feedback_by_unit"]["pemerintahan"]
    for f in (figures, unit):
        assert f["responded"] >= 1 and f["answered"] >= 1 and f["reopened"] >= 1 and f["objections"] >= 1
        assert f["satisfied_share"] == round(f["satisfied"] / f["answered"], 4)
        assert f["reopened_share"] == round(f["reopened"] / f["responded"], 4)
        assert 1 <= f["mean_rating"] <= 4
    assert summary.json()["total"]["feedback"]["reopened"] >= figures["reopened"]


def test_an_erased_complaint_takes_no_answer(settings, world):
    """ADR 0017 and 0020: once the complainant's data is erased there is nobody to handle it again for; an answer
    is refused (nothing written), and the workflow would drop one that came all the same."""
    cid, code = walk_all_twelve_steps(world, PERSON)
    handlers.erase_personal_data(
        world["wf"], cid, by="dpo.uji", reason="Permintaan penghapusan pengadu", at=datetime.now(UTC)
    )
    catch_up(world)
    refused = give(world, code, {"satisfied": False, "rating": 1, "comment": "Nama saya Budi, belum selesai."})
    assert (refused.status_code, refused.json()["code"]) == (409, "feedback_not_open")
    assert track(world, code)["feedback"]["open"] is False
    with world["intake"].engine.connect() as conn:
        waiting = conn.execute(
            select(outbox.c.id).where(outbox.c.task == FeedbackGiven.TASK, outbox.c.published_at.is_(None))
        ).all()
    assert waiting == []
    late = FeedbackGiven(
        message_id=uuid.uuid4(), complaint_id=cid, kecamatan="pegantenan", closing=1, satisfied=False, rating=1,
        comment="x", given_at=datetime.now(UTC),
    )  # fmt: skip
    assert handlers.record_feedback(world["wf"], late)
    assert events(world, cid)[-1].type == "workflow.PersonalDataErased"


COUNTERS = {"complaint_counts": dashboard_tables.complaint_counts, "feedback_counts": dashboard_tables.feedback_counts}


def test_the_figures_per_unit_charge_each_count_to_the_unit_it_is_about(world):
    """A complaint disposed to pemerintahan, not resolved, a keberatan, reopened by the Camat for trantib, answered
    satisfied: pemerintahan keeps its response, its reopening and the first answer's keberatan; trantib gets the
    latest answer (the rows as the projection writes them: tests/unit/test_dashboard_projection.py)."""
    from services.dashboard.adapters import counters, queries
    from shared.contracts.workflow import (
        ComplaintReopened,
        DispositionIssued,
        FeedbackReceived,
        ObjectionRaised,
        ResponseSent,
    )
    from tests.unit.test_dashboard_projection import CAL, Stream, at, done

    slug = f"umpan-{uuid.uuid4().hex[:6]}"
    s = Stream(at(2, 9))
    s.emit(DispositionIssued(unit="pemerintahan", instructions="Tindak lanjuti.", **done(4, 5)), at(3, 9))
    s.emit(ResponseSent(channel="pos", receipt="Diterima", **done(12, None)), at(4, 9))
    s.emit(
        FeedbackReceived(closing=1, satisfied=False, rating=1, given_at=at(27, 9), consequence="objection"), at(27, 9)
    )
    s.emit(ObjectionRaised(closing=1, due_at=at(9, 9, month=3)), at(2, 9, month=3))
    deadline = CAL.add_working_days(at(3, 9, month=3), 12)
    s.emit(
        ComplaintReopened(
            cause="objection", reopening=1, unit="trantib", next_due_at=at(9, 9, month=3), deadline_at=deadline
        ),
        at(3, 9, month=3),
    )
    s.emit(ResponseSent(channel="pos", receipt="Diterima", **done(12, None)), at(20, 9, month=3))
    s.emit(FeedbackReceived(closing=2, satisfied=True, rating=4, given_at=at(21, 9, month=3)), at(21, 9, month=3))
    row = {**s.row, "kecamatan": slug, "tracking_code": f"U{uuid.uuid4().hex[:11]}"}
    with world["dash"].engine.begin() as conn:
        conn.execute(dashboard_tables.complaints.insert().values(**row))
        counters.apply(conn, COUNTERS, [(None, row)])  # as the projection counts the row it writes
        [item] = queries.summary(conn, [slug], queries.Period(), datetime.now(UTC))
    with world["dash"].engine.connect() as conn:  # the counters and the scan of every row agree
        assert queries.summary_scan(conn, [slug], queries.Period(), datetime.now(UTC)) == [item]
    by_unit = item["feedback_by_unit"]
    assert (by_unit["pemerintahan"]["responded"], by_unit["pemerintahan"]["reopened"]) == (1, 1)
    assert by_unit["trantib"]["responded"] == 1 and by_unit["trantib"]["reopened"] == 0
    assert by_unit["pemerintahan"]["answered"] == 0  # the latest answer judged trantib's response
    assert (by_unit["trantib"]["answered"], by_unit["trantib"]["satisfied"], by_unit["trantib"]["mean_rating"]) == (
        1, 1, 4.0
    )  # fmt: skip
    assert item["feedback"] == {
        "responded": 1, "answered": 1, "satisfied": 1, "rating_sum": 4, "reopened": 1, "objections": 1,
        "satisfied_share": 1.0, "mean_rating": 4.0, "reopened_share": 1.0,
    }  # fmt: skip
