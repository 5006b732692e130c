"""Confidential complainants (pelapor rahasia, issue #17 item 5, docs/adr/0017): a complainant who asks that their
identity be kept confidential is seen only by the officer who verifies identity (the Kasi/Kasubag of step 2) and the
Camat; the Staf, the Sekcam, the kabupaten, its data-protection officer and admins read "(pelapor rahasia)" and no
value at all (not even the first word of the name a masked view shows otherwise); exports conceal them from everyone;
documents that carry the name are refused to those who may not see it, and the Lembar Disposisi does not name them;
the event feed conceals them. A complaint that did not ask reads as before.

Intake's real API takes the complaint (``"confidential": true``), the workflow records it from intake's outbox message
as its worker would, letters and the dashboard run their real handlers over the same PostgreSQL."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select

from services.dashboard.entrypoints import feed
from services.dashboard.entrypoints.api import create_app as dashboard_app
from services.intake.adapters.tables import submissions
from services.intake.entrypoints.api import create_app as intake_app
from services.letters import handlers as letters_handlers
from services.letters.entrypoints.api import create_app as letters_app
from services.workflow import handlers
from services.workflow.entrypoints.api import create_app as workflow_app
from shared.auth import Principal
from shared.masking import CONFIDENTIAL_NAME
from tests.integration.test_privacy_erasure import catch_up, model_revision, published, submitted, world  # noqa: F401
from tests.support.auth import bearer_header
from tests.support.organisation import give_heads

NAME, NIK, PHONE = "Rahmawati Dwi Lestari", "3528014107930002", "0819-3300-7781"
OTHER_NAME = "Bambang Sutejo Wicaksono"


def submit(world, name: str, nik: str, phone: str, *, confidential: bool) -> tuple[uuid.UUID, str]:
    body = {
        "kecamatan": "pegantenan",
        "complainant": {"name": name, "nik": nik, "phone": phone},
        "subject": "Pungutan liar di kantor desa",
        "description": "Ada pungutan untuk surat pengantar di kantor desa, saya takut diketahui perangkat desa.",
        "confidential": confidential,
    }
    with TestClient(intake_app(world["intake"])) as client:
        answer = client.post("/v1/complaints", json=body)
    assert answer.status_code == 202, answer.text
    code = answer.json()["tracking_code"]
    wf = world["wf"]
    message = submitted(wf.engine, code)
    assert message.complainant.confidential is confidential
    handlers.record_complaint(wf, message)
    published(wf.engine, code)
    return message.complaint_id, code


def act(wf, cid, action: str, role: str, fields: dict) -> None:
    handlers.act(
        wf, cid, action, fields, expected_version=model_revision(wf, cid), user_id=f"{role}.rahasia", role=role,
        unit="pemerintahan", kecamatan="pegantenan", at=datetime.now(UTC), correlation_id=uuid.uuid4(),
    )  # fmt: skip


def user(role: str) -> Principal:
    if role in ("kabupaten", "pdp"):
        return Principal(f"{role}.rahasia", role, role, None, "pamekasan")
    if role == "admin":
        return Principal("admin.rahasia", "Admin", "admin")
    return Principal(
        f"{role}.rahasia", role, role, "pegantenan", "pamekasan", "pemerintahan" if role == "kasi" else None
    )


@pytest.fixture(scope="module")
def complaints(world):
    wf = world["wf"]
    secret, secret_code = submit(world, NAME, NIK, PHONE, confidential=True)
    plain, _ = submit(world, OTHER_NAME, "3528011203850004", "0819-4400-1234", confidential=False)
    for cid in (secret, plain):
        act(wf, cid, "verify-identity", "kasi", {})
        act(wf, cid, "register", "staf", {})
        act(wf, cid, "dispose", "camat", {"unit": "pemerintahan", "instructions": "Tindak lanjuti"})
    catch_up(world)
    return {"secret": secret, "secret_code": secret_code, "plain": plain}


@pytest.mark.parametrize(
    "role, sees",
    [("kasi", True), ("camat", True), ("staf", False), ("sekcam", False), ("kabupaten", False), ("pdp", False),
     ("admin", False)],
)  # fmt: skip
def test_the_complaint_names_a_confidential_complainant_only_to_the_kasi_and_the_camat(
    settings, world, complaints, role, sees
):
    with TestClient(workflow_app(world["wf"])) as api:
        shown = api.get(f"/v1/complaints/{complaints['secret']}", headers=bearer_header(settings, user(role)))
        plain = api.get(f"/v1/complaints/{complaints['plain']}", headers=bearer_header(settings, user(role)))
    assert shown.status_code == 200 and plain.status_code == 200
    body = shown.json()
    assert body["confidential"] is True and plain.json()["confidential"] is False
    if sees:
        assert body["complainant"]["name"] == NAME and body["complainant"]["nik"] == NIK
    else:
        assert body["complainant"]["name"] == CONFIDENTIAL_NAME
        text = json.dumps(body)
        assert "Rahmawati" not in text and NIK[:4] + "*" not in text and "+62819" not in text, text
    # a complaint that did not ask: the staff of the kecamatan read it, the others masked as before
    other = plain.json()["complainant"]["name"]
    assert other == (OTHER_NAME if role in ("kasi", "camat", "staf", "sekcam") else "Bambang ***")


def test_the_buku_rekap_conceals_them_from_the_staf_and_in_every_export(settings, world, complaints):
    with TestClient(dashboard_app(world["dash"], extra_routers=[feed.router])) as api:

        def names(role: str, fmt: str = "json") -> str:
            answer = api.get(
                "/v1/register",
                params={"format": fmt, "page_size": 500},
                headers=bearer_header(settings, user(role)),
            )
            assert answer.status_code == 200, answer.text
            return answer.text

        assert NAME in names("kasi") and NAME in names("camat")
        assert NAME not in names("staf") and CONFIDENTIAL_NAME in names("staf") and OTHER_NAME in names("staf")
        for role in ("kasi", "camat", "staf"):  # a file travels further than a page: concealed for everyone
            exported = names(role, "csv")
            assert NAME not in exported and NIK not in exported and CONFIDENTIAL_NAME in exported
            assert OTHER_NAME in exported
        events = api.get("/v1/events", params={"limit": 1000}, headers=bearer_header(settings, user("camat")))
    mine = [e for e in events.json()["events"] if e["complaint_id"] == str(complaints["secret"])]
    assert mine and "Rahmawati" not in json.dumps(mine) and "+62819" not in json.dumps(mine)
    received = next(e for e in mine if e["type"] == "workflow.ComplaintReceived")
    assert not any(received["payload"]["complainant"].values())  # not even which contacts they gave


def test_documents_naming_them_are_refused_to_those_who_may_not_see_them(settings, world, complaints):
    letters, wf = world["letters"], world["wf"]
    stream = wf.store.read_stream(f"complaint-{complaints['secret']}")
    received = next(e for e in stream if e.type == "workflow.ComplaintReceived")
    disposed = next(e for e in stream if e.type == "workflow.DispositionIssued")
    receipt = letters_handlers.issue_receipt(letters, received.event_id)
    sheet = letters_handlers.issue_disposition_sheet(letters, disposed.event_id)
    assert receipt is not None and sheet is not None
    with TestClient(letters_app(letters)) as api:

        def download(document_id, role: str):
            return api.get(f"/v1/letters/{document_id}/pdf", headers=bearer_header(settings, user(role)))

        refused = download(receipt["id"], "staf")
        assert refused.status_code == 403 and refused.json()["code"] == "personal_data_not_available"
        assert "dirahasiakan" in refused.json()["message"]
        assert download(receipt["id"], "sekcam").status_code == 403
        assert download(receipt["id"], "kasi").status_code == 200
        kept = download(sheet["id"], "kasi")
        assert kept.status_code == 200
    # the Lembar Disposisi travels through the office: it does not name a pelapor rahasia
    words = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(kept.content)).pages)
    assert NAME not in words and "pelapor rahasia" in words


# -- anonymous complaints ----------------------------------------------------------------------------------------
ANONYMOUS_BODY = {
    "subject": "Pungutan liar di pasar",
    "description": "Petugas pasar memungut uang tanpa karcis setiap pagi, saya tidak berani menyebut nama.",
    "anonymous": True,
}


@pytest.fixture(scope="module")
def open_place(world, engine):
    """A kecamatan of its own that accepts anonymous complaints (the demo kecamatan do not)."""
    from shared.tenancy import Kecamatan, configure_kecamatan, upsert_kecamatan

    slug = f"anonim-{uuid.uuid4().hex[:6]}"
    upsert_kecamatan(engine, [Kecamatan(slug, f"95.{slug[-6:]}", "Anonim Uji", "pamekasan", "Kabupaten Pamekasan", {})])
    configure_kecamatan(engine, slug, {"anonymous_complaints": True})
    give_heads(engine, slug, ("pemerintahan",))  # its disposition at step 4 needs a Kasi
    for container in ("intake", "wf", "letters", "notify", "dash"):
        world[container].directory.invalidate()
    return slug


def test_an_anonymous_complaint_is_refused_where_the_kecamatan_does_not_accept_them(world, engine):
    with TestClient(intake_app(world["intake"])) as client:
        refused = client.post("/v1/complaints", json={**ANONYMOUS_BODY, "kecamatan": "pegantenan"})
        both = client.post(
            "/v1/complaints",
            json={
                **ANONYMOUS_BODY,
                "kecamatan": "pegantenan",
                "complainant": {"name": "Rina", "nik": NIK, "phone": PHONE},
            },
        )
        nobody = client.post("/v1/complaints", json={**ANONYMOUS_BODY, "kecamatan": "pegantenan", "anonymous": False})
    assert refused.status_code == 422 and refused.json()["code"] == "anonymous_not_accepted"
    assert "dirahasiakan" in refused.json()["message"]  # it points to the confidential complaint instead
    assert both.status_code == 422 and "anonymous_with_identity" in both.text
    assert nobody.status_code == 422 and "complainant_required" in nobody.text
    with engine.connect() as conn:  # nothing half-written
        assert not conn.execute(
            select(submissions.c.id).where(submissions.c.subject == ANONYMOUS_BODY["subject"])
        ).all()


def test_an_anonymous_complaint_is_accepted_where_enabled_and_skips_identity_verification(world, open_place, settings):
    with TestClient(intake_app(world["intake"])) as client:
        accepted = client.post("/v1/complaints", json={**ANONYMOUS_BODY, "kecamatan": open_place})
    assert accepted.status_code == 202, accepted.text
    code = accepted.json()["tracking_code"]
    wf = world["wf"]
    message = submitted(wf.engine, code)
    assert message.complainant.anonymous and not (message.complainant.phone or message.complainant.nik)
    handlers.record_complaint(wf, message)
    published(wf.engine, code)
    stream = wf.store.read_stream(f"complaint-{message.complaint_id}")
    assert [e.type for e in stream] == ["workflow.ComplaintReceived", "workflow.IdentityVerified"]
    assert "anonim" in stream[1].payload["notes"] and stream[1].actor.kind == "system"
    state = handlers.model.replay(stream)
    assert state.current_step == 3 and state.status == "in_progress"  # the Staf registers it next
    with TestClient(workflow_app(wf)) as api:
        staff = Principal("staf.anonim", "Staf", "staf", open_place, "pamekasan")
        shown = api.get(f"/v1/complaints/{message.complaint_id}", headers=bearer_header(settings, staff)).json()
    assert shown["complainant"]["name"] == "(anonim)" and shown["current_step"]["number"] == 3


def test_an_anonymous_complaints_letter_is_released_to_its_tracking_code_at_step_12(world, open_place, settings):
    from services.intake.entrypoints.api import create_app as intake_api
    from tests.integration.test_letters import TO_STEP_10

    wf, letters = world["wf"], world["letters"]
    with TestClient(intake_api(world["intake"])) as client:
        code = client.post("/v1/complaints", json={**ANONYMOUS_BODY, "kecamatan": open_place}).json()["tracking_code"]
    message = submitted(wf.engine, code)
    handlers.record_complaint(wf, message)
    published(wf.engine, code)
    cid = message.complaint_id

    def step(action: str, role: str, fields: dict) -> None:
        handlers.act(
            wf, cid, action, fields, expected_version=model_revision(wf, cid), user_id=f"{role}.anonim", role=role,
            unit="pemerintahan", kecamatan=open_place, at=datetime.now(UTC), correlation_id=uuid.uuid4(),
        )  # fmt: skip

    for action, role, fields in TO_STEP_10[1:]:  # step 2 was skipped: nobody to verify
        step(action, role, fields)
    step("sign-letter", "camat", {})
    signed = next(e for e in reversed(wf.store.read_stream(f"complaint-{cid}")) if e.type == "workflow.LetterSigned")
    handlers.record_letter_document(wf, letters_handlers.issue_signed_letter(letters, signed.event_id))
    step("archive-letter", "staf", {})
    with pytest.raises(handlers.model.NoContact, match="halaman pelacakan"):  # nobody to send it to
        step("send-response", "staf", {"channel": "otomatis"})
    step("send-response", "staf", {"channel": "lacak"})
    stream = wf.store.read_stream(f"complaint-{cid}")
    sent = stream[-1]
    assert sent.type == "workflow.ResponseSent" and sent.payload["channel"] == "lacak"
    assert handlers.model.replay(stream).status == "closed"
    letters_handlers.release_letter(letters, sent.event_id)
    with TestClient(letters_app(letters)) as public:  # the complainant opens it with the code they were given
        letter = public.get(f"/v1/letters/track/{code}/letter")
    assert letter.status_code == 200 and letter.content.startswith(b"%PDF")


def test_only_an_anonymous_complaint_is_answered_by_the_tracking_page():
    from services.workflow.domain import commands as c
    from services.workflow.domain import model

    send = c.SendResponse(channel="lacak", actor=c.Actor(user_id="staf.x", role="staf"), at=datetime.now(UTC))
    with pytest.raises(model.TrackingPageForAnonymousOnly):
        model._send(model.Complaint(anonymous=False), send, None)
