"""What an independent review of issue #17's rights and confidential complaints found (session 10), kept as tests:
each states what must hold. Real intake, workflow and letters APIs and handlers over the shared PostgreSQL, as
tests/integration/test_confidential.py runs them (same helpers)."""

from __future__ import annotations

import io
import json
import uuid

from fastapi.testclient import TestClient
from pypdf import PdfReader

from services.letters import handlers as letters_handlers
from services.letters.entrypoints.api import create_app as letters_app
from services.workflow.entrypoints.api import create_app as workflow_app
from tests.integration.test_confidential import act, open_place, submit, user  # noqa: F401
from tests.integration.test_privacy_erasure import catch_up, submitted, world  # noqa: F401
from tests.support.auth import bearer_header

SECRET_NAME, SECRET_NIK, SECRET_PHONE = "Kartikasari Wulan Ningrum", "3528014806910003", "0819-5512-3390"
PLAIN_NAME, PLAIN_NIK, PLAIN_PHONE = "Slamet Riyadi Prawiro", "3528011709880005", "0819-6623-4401"
NEW_PHONE, NEW_PHONE_E164 = "0857-4411-9922", "+6285744119922"


def _inbox_code(api: TestClient, headers: dict, complaint_id: uuid.UUID) -> str | None:
    page = 1
    while True:
        answer = api.get("/v1/inbox", params={"page": page, "per_page": 200}, headers=headers)
        assert answer.status_code == 200, answer.text
        for item in answer.json():
            if item["id"] == str(complaint_id):
                return item["tracking_code"]
        if "next" not in answer.headers.get("Link", ""):
            return None
        page += 1


def test_the_inbox_withholds_a_pelapor_rahasias_tracking_code_from_the_staf(settings, world):
    """The code opens the receipt (which names them) without signing in: the complaint view and the inbox withhold
    it from those who may not see them; the Kasi, who verifies identity, has it."""
    wf, letters = world["wf"], world["letters"]
    cid, code = submit(world, SECRET_NAME, SECRET_NIK, SECRET_PHONE, confidential=True)
    act(wf, cid, "verify-identity", "kasi", {})  # step 3 (register) waits on the Staf now
    received = next(e for e in wf.store.read_stream(f"complaint-{cid}") if e.type == "workflow.ComplaintReceived")
    assert letters_handlers.issue_receipt(letters, received.event_id) is not None
    staf = bearer_header(settings, user("staf"))
    with TestClient(workflow_app(wf)) as api:
        assert api.get(f"/v1/complaints/{cid}", headers=staf).json()["tracking_code"] is None
        assert _inbox_code(api, staf, cid) is None
        assert (
            api.get(f"/v1/complaints/{cid}", headers=bearer_header(settings, user("kasi"))).json()["tracking_code"]
            == code
        )
    with TestClient(letters_app(letters)) as public:  # the complainant's own code still opens their receipt
        pdf = public.get(f"/v1/letters/track/{code}/receipt")
    assert pdf.status_code == 200
    words = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert SECRET_NAME in words


def test_a_staf_who_may_not_see_a_pelapor_rahasia_cannot_test_a_guess_of_their_nik_or_name(settings, world):
    """A correction answers 422 nothing_to_correct when the value sent is the one recorded: an oracle for a reader
    who may not see it (a wrong guess is written, 201: the Staf may also point the complainant's contact to
    their own number or address)."""
    wf = world["wf"]
    cid, _ = submit(world, SECRET_NAME, SECRET_NIK, SECRET_PHONE, confidential=True)
    staf = bearer_header(settings, user("staf"))
    with TestClient(workflow_app(wf)) as api:
        for guess in ({"nik": SECRET_NIK}, {"name": SECRET_NAME}):
            answer = api.post(
                "/v1/privacy/corrections",
                json={"complaint_id": str(cid), "reason": "Koreksi atas permintaan", "complainant": guess},
                headers=staf,
            )
            assert answer.status_code == 403, (guess, answer.json())


def test_a_staf_of_a_pelapor_rahasia_still_reads_what_the_complaint_is_about(settings, world):
    """Concealing who complains should not conceal the complaint: the Staf prepares the response letter (step 7)
    and the Sekcam checks it (step 8), yet both get the masked view (subject and description hidden), while the
    inbox shows the subject anyway."""
    wf = world["wf"]
    cid, _ = submit(world, SECRET_NAME, SECRET_NIK, SECRET_PHONE, confidential=True)
    with TestClient(workflow_app(wf)) as api:
        for role in ("staf", "sekcam"):
            body = api.get(f"/v1/complaints/{cid}", headers=bearer_header(settings, user(role))).json()
            assert body["subject"] != "[disembunyikan]" and body["description"] != "[disembunyikan]", (role, body)


def test_an_access_copy_after_a_correction_gives_the_data_as_corrected(settings, world):
    wf = world["wf"]
    cid, _ = submit(world, PLAIN_NAME, PLAIN_NIK, PLAIN_PHONE, confidential=False)
    staf, camat = bearer_header(settings, user("staf")), bearer_header(settings, user("camat"))
    with TestClient(workflow_app(wf)) as api:
        done = api.post(
            "/v1/privacy/corrections",
            json={"complaint_id": str(cid), "reason": "Nomor HP salah ketik", "complainant": {"phone": NEW_PHONE}},
            headers=staf,
        )
        assert done.status_code == 201, done.text
        copy = api.post(
            "/v1/privacy/access-requests",
            json={"complaint_id": str(cid), "reason": "Salinan data, KTP diperiksa"},
            headers=camat,
        )
    assert copy.status_code == 201, copy.text
    assert NEW_PHONE_E164 in json.dumps(copy.json()), copy.json()["complainant"]


def test_intake_matches_a_documents_reply_by_the_corrected_number(settings, world):
    """Intake ties a reply to a complaint awaiting documents by the sender, compared with its submission's copy of
    the complainant, which no correction reaches: the documents request goes to the corrected number, the answer
    from it is not recognised (a new complaint instead), and the mistyped number (someone else's) still is."""
    wf, intake = world["wf"], world["intake"]
    cid, _ = submit(world, PLAIN_NAME, PLAIN_NIK, "0819-7734-5512", confidential=False)
    act(wf, cid, "request-documents", "kasi", {"message": "Mohon kirim foto KK."})
    with TestClient(workflow_app(wf)) as api:
        done = api.post(
            "/v1/privacy/corrections",
            json={"complaint_id": str(cid), "reason": "Nomor HP salah ketik", "complainant": {"phone": NEW_PHONE}},
            headers=bearer_header(settings, user("staf")),
        )
        assert done.status_code == 201, done.text
    catch_up(world)  # intake's tracking projection: awaiting documents, and the correction
    with intake.uow() as uow:
        by_old = uow.tracking.awaiting_documents("pegantenan", "sms", "+6281977345512")
        by_new = uow.tracking.awaiting_documents("pegantenan", "sms", NEW_PHONE_E164)
    assert (by_new, by_old) == (cid, None)


def test_bad_input_to_the_privacy_endpoints_is_a_4xx(settings, world):
    wf = world["wf"]
    cid, _ = submit(world, PLAIN_NAME, PLAIN_NIK, "0819-8845-6623", confidential=False)
    staf, pdp = bearer_header(settings, user("staf")), bearer_header(settings, user("pdp"))
    c = str(cid)
    corrections = [
        [],
        "x",
        {"complaint_id": None, "reason": "r", "complainant": {}},
        {"complaint_id": c, "reason": "r", "complainant": None},
        {"complaint_id": c, "reason": "r", "complainant": {}},
        {"complaint_id": c, "reason": "r\x00", "complainant": {"name": "Budi"}},
        {"complaint_id": c, "reason": "r", "complainant": {"name": "Bu\x00di"}},
        {"complaint_id": c, "reason": "r", "complainant": {"nik": "\x00" * 16}},
        {"complaint_id": c, "reason": "r", "complainant": {"phone": "\x00"}},
        {"complaint_id": c, "reason": "r", "complainant": {"email": "a\x00@b.id"}},
        {"complaint_id": c, "reason": "r", "complainant": {"email": "x" * 254}},
        {"complaint_id": c, "reason": "r", "complainant": {"email": "a@" + "b" * 70 + ".id"}},
        {"complaint_id": c, "reason": "r", "complainant": {"phone": "+" + "9" * 31}},
        {"complaint_id": c, "reason": "r", "complainant": {"nik": 3528011709880005}},
        {"complaint_id": c, "reason": "r", "complainant": {"address": "\u202e\u202e"}},
        {"complaint_id": c, "reason": "x" * 501, "complainant": {"name": "Budi"}},
        {"complaint_id": c, "reason": "r", "complainant": {"confidential": False}},
        {"complaint_id": c, "reason": "r", "complainant": {"email": "a@localhost"}},
        {"complaint_id": c, "reason": "r", "complainant": {"email": "ü@ü.id"}},
    ]
    access = [
        {"complaint_id": c, "reason": "\x00"},
        {"complaint_id": "1", "reason": "r"},
        {"complaint_id": c, "reason": ["r"]},
    ]
    with TestClient(workflow_app(wf), raise_server_exceptions=False) as api:
        seen = [
            (body, api.post("/v1/privacy/corrections", json=body, headers=staf).status_code) for body in corrections
        ]
        seen += [(body, api.post("/v1/privacy/access-requests", json=body, headers=pdp).status_code) for body in access]
        seen += [
            (q, api.get(f"/v1/complaints/{c}/access-log", params=q, headers=pdp).status_code)
            for q in ({"before": 0}, {"limit": 0}, {"before": 2**64}, {"limit": "x"})
        ]
    assert [s for s in seen if s[1] >= 500] == []


def test_an_anonymous_complaint_through_the_privacy_endpoints_is_never_a_500(settings, world, open_place):
    from services.intake.entrypoints.api import create_app as intake_app
    from services.workflow import handlers
    from shared.auth import Principal

    wf = world["wf"]
    body = {
        "kecamatan": open_place,
        "subject": "Pungutan liar di terminal",
        "description": "Petugas terminal memungut uang tanpa karcis setiap pagi hari.",
        "anonymous": True,
    }
    with TestClient(intake_app(world["intake"])) as client:
        code = client.post("/v1/complaints", json=body).json()["tracking_code"]
    message = submitted(wf.engine, code)
    handlers.record_complaint(wf, message)
    cid = str(message.complaint_id)
    staf = bearer_header(settings, Principal("staf.anon", "Staf", "staf", open_place, "pamekasan"))
    pdp = bearer_header(settings, user("pdp"))
    with TestClient(workflow_app(wf), raise_server_exceptions=False) as api:
        seen = [
            api.post(
                "/v1/privacy/corrections",
                json={"complaint_id": cid, "reason": "r", "complainant": values},
                headers=staf,
            )
            for values in ({"phone": NEW_PHONE}, {"name": "Budi Santoso"}, {"nik": None}, {"email": ""})
        ]
        seen.append(
            api.post("/v1/privacy/access-requests", json={"complaint_id": cid, "reason": "Salinan"}, headers=pdp)
        )
        seen.append(api.get(f"/v1/complaints/{cid}", headers=staf))
    assert [(r.status_code, r.text[:200]) for r in seen if r.status_code >= 500] == []
    # an anonymous complaint has nobody to correct (intake refuses identity on an anonymous complaint too)
    assert [r.json()["code"] for r in seen[:4]] == ["anonymous_complaint"] * 4
