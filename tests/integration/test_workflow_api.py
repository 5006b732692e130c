"""The 12 SOP steps over HTTP, each by its own role user; every branch; tenancy; concurrency."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from pengaduan import apps
from services.accounts.handlers import add_user
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap
from tests.support.complaints import new_complaint

PASSWORD = "rahasia-uji-123"


@pytest.fixture(scope="module")
def wf(settings, engine):
    container = bootstrap(settings)
    yield container
    container.engine.dispose()


@pytest.fixture(scope="module")
def client(wf):
    with TestClient(apps.workflow(wf)) as c:
        yield c


@pytest.fixture(scope="module")
def tokens(client, engine):
    """One user per role in Pegantenan (two kasi of different units), a Galis staf, a kabupaten user."""
    suffix = uuid.uuid4().hex[:6]
    people = {
        "staf": ("staf", "pegantenan", None, None),
        "kasi": ("kasi", "pegantenan", None, "pemerintahan"),
        "kasi_trantib": ("kasi", "pegantenan", None, "trantib"),
        "sekcam": ("sekcam", "pegantenan", None, None),
        "camat": ("camat", "pegantenan", None, None),
        "galis": ("staf", "galis", None, None),
        "kabupaten": ("kabupaten", None, "pamekasan", None),
    }
    result = {}
    for key, (role, kecamatan, kabupaten, unit) in people.items():
        username = f"t{suffix}.{key.replace('_', '-')}"
        add_user(
            engine, username, f"Pengguna Uji {key}", role, PASSWORD, kecamatan=kecamatan, kabupaten=kabupaten, unit=unit
        )
        r = client.post("/v1/auth/token", data={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        result[key] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return result


def report_letter_issued(wf, complaint_id) -> None:
    """What the letters worker sends back once the signed letter is stored (tests/integration/test_letters.py
    runs the real worker)."""
    from shared.contracts.letters import LetterDocumentIssued

    with wf.uow() as uow:
        state, _ = handlers.load(uow, complaint_id, lambda k: True)
    document_id = uuid.uuid4()
    handlers.record_letter_document(
        wf,
        LetterDocumentIssued(
            message_id=document_id,
            complaint_id=complaint_id,
            kecamatan=state.kecamatan,
            document_id=document_id,
            letter_version=state.approved_letter_version,
            letter_number=state.letter_number,
            sha256="a" * 64,
            size=1000,
            verify_url=f"http://127.0.0.1:8000/v1/letters/verify/{document_id}",
        ),
    )


class Flow:
    def __init__(self, client, tokens, complaint_id):
        self.client, self.tokens, self.id = client, tokens, complaint_id
        self.version = 1

    def get(self, who="staf"):
        return self.client.get(f"/v1/complaints/{self.id}", headers=self.tokens[who])

    def do(self, who: str, action: str, expect: int = 200, **fields):
        r = self.client.post(
            f"/v1/complaints/{self.id}/{action}",
            json={"expected_version": self.version, **fields},
            headers=self.tokens[who],
        )
        assert r.status_code == expect, r.text
        if expect == 200:
            self.version = r.json()["version"]
        return r.json()

    def step(self) -> int | None:
        body = self.get().json()
        return body["current_step"]["number"] if body["current_step"] else None


def inbox_ids(client, headers) -> set[str]:
    """Every complaint in the inbox, all pages (other tests' complaints wait in the same kecamatan)."""
    ids: set[str] = set()
    page = 1
    while True:
        r = client.get("/v1/inbox", params={"page": page, "per_page": 200}, headers=headers)
        assert r.status_code == 200, r.text
        for item in r.json():  # when and how it came in, for the inbox page's "Diterima" column
            assert item["received_at"] and item["channel"]
        ids |= {item["id"] for item in r.json()}
        if "Link" not in r.headers:
            return ids
        page += 1


def test_a_complaint_goes_through_all_twelve_steps_each_by_its_own_role(client, tokens, wf):
    f = Flow(client, tokens, new_complaint(wf))
    walk = [
        (2, "kasi", "verify-identity", {"notes": "KTP cocok"}),
        (3, "staf", "register", {}),
        (4, "camat", "dispose", {"unit": "pemerintahan", "instructions": "Koordinasikan dengan desa."}),
        (5, "kasi", "clarify", {"explanation": "Perbaikan dijadwalkan bulan depan."}),
        (6, "kasi", "request-letter", {}),
        (7, "staf", "draft-letter", {"perihal": "Tanggapan pengaduan", "body": "Dengan hormat, ..."}),
        (8, "sekcam", "review-letter", {"approved": True, "notes": "Paraf"}),
        (9, "staf", "duplicate-letter", {}),
        (10, "camat", "sign-letter", {}),
        (11, "staf", "archive-letter", {}),
        (12, "staf", "send-response", {"channel": "pos", "receipt": "Diterima oleh pengadu"}),
    ]
    for step, who, action, fields in walk:
        assert f.step() == step
        assert str(f.id) in inbox_ids(client, tokens[who]), f"step {step} is not in the {who}'s inbox"
        if action == "archive-letter":  # waits for the letters worker's signed document
            assert f.do(who, action, expect=409)["code"] == "letter_not_ready"
            report_letter_issued(wf, f.id)
            f.version += 1
        body = f.do(who, action, **fields)
    assert body["status"] == "closed" and body["outcome"] == "resolved" and body["current_step"] is None
    assert body["register_number"].endswith(f"/{datetime.now(UTC).year}")
    # Pegantenan's unit code (the demo's unit_pengolah), the default classification, this year's register
    assert re.fullmatch(rf"000\.8\.3\.4/[1-9]\d*/432\.407/{datetime.now(UTC).year}", body["letter_number"])
    types = [h["type"] for h in body["history"]]
    assert types[0] == "workflow.ComplaintReceived" and types[-1] == "workflow.ResponseSent" and len(types) == 13
    assert "workflow.LetterIssued" in types
    staff_events = [h for h in body["history"][1:] if h["actor"]["kind"] == "user"]
    for h, (_, who, _, _) in zip(staff_events, walk):  # noqa: B905
        assert h["actor"]["role"] == ("kasi" if who.startswith("kasi") else who) and h["actor"]["user_id"]
        assert h["output"]  # the SOP's output column, recorded on every step event
    assert str(f.id) not in inbox_ids(client, tokens["staf"])


def test_role_step_version_and_body_errors_have_their_codes(client, tokens, wf):
    f = Flow(client, tokens, new_complaint(wf))
    assert f.do("camat", "verify-identity", expect=403)["code"] == "role_not_allowed"
    assert f.do("staf", "register", expect=409)["code"] == "not_this_step"
    f.version = 0
    assert f.do("kasi", "verify-identity", expect=409)["code"] == "stale_version"
    f.version = 1
    assert f.do("staf", "dispose", expect=403)["code"] == "role_not_allowed"  # wrong role wins over wrong step
    assert f.do("camat", "dispose", expect=409)["code"] == "not_this_step"
    f.do("kasi", "verify-identity")
    f.do("staf", "register")
    bad = f.do("camat", "dispose", expect=422, unit="pemerintahan")  # no instructions
    assert bad["code"] == "validation_error" and any(e["field"] == "instructions" for e in bad["errors"])
    assert f.do("camat", "fly-to-the-moon", expect=404)["code"] == "unknown_action"
    assert f.do("kabupaten", "dispose", expect=403, unit="x", instructions="y")["code"] == "read_only"


def test_documents_requested_pause_then_resume_or_close_as_incomplete(client, tokens, wf):
    f = Flow(client, tokens, new_complaint(wf))
    f.do("kasi", "request-documents", message="Mohon kirim foto KTP.")
    body = f.get().json()
    assert body["status"] == "awaiting_documents" and body["due_at"] is None  # the step's clock pauses
    assert f.do("kasi", "verify-identity", expect=409)["code"] == "awaiting_documents"
    f.do("kasi", "receive-documents", notes="KTP diterima lewat WhatsApp")
    body = f.get().json()
    assert body["status"] == "in_progress" and body["current_step"]["number"] == 2 and body["due_at"]

    g = Flow(client, tokens, new_complaint(wf))
    g.do("kasi", "request-documents", message="Mohon kirim foto KK.")
    assert g.do("kasi", "close-incomplete")["outcome"] == "incomplete"
    assert g.do("kasi", "verify-identity", expect=409)["code"] == "complaint_closed"


def test_identity_rejected_closes_the_complaint(client, tokens, wf):
    f = Flow(client, tokens, new_complaint(wf))
    assert (
        f.do("kasi", "reject-identity", reason="Identitas tidak dapat diverifikasi.")["outcome"] == "identity_rejected"
    )


def test_outside_the_duties_it_is_referred_to_a_named_agency(client, tokens, wf):
    f = Flow(client, tokens, new_complaint(wf))
    f.do("kasi", "verify-identity")
    f.do("staf", "register")
    body = f.do("camat", "refer", agency="Dinas PUPR Kabupaten Pamekasan", agency_kind="opd", reason="Jalan kabupaten")
    # followed until the office answers (tests/integration/test_referral_follow_up.py)
    assert (body["status"], body["outcome"]) == ("referred", None)
    referral = body["history"][-1]
    assert (
        referral["type"] == "workflow.ComplaintReferred"
        and referral["payload"]["agency"] == "Dinas PUPR Kabupaten Pamekasan"
    )


def test_a_returned_letter_goes_back_to_step_7_and_every_version_is_kept(client, tokens, wf):
    f = Flow(client, tokens, new_complaint(wf))
    for who, action, fields in [
        ("kasi", "verify-identity", {}),
        ("staf", "register", {}),
        ("camat", "dispose", {"unit": "pemerintahan", "instructions": "Tindak lanjuti"}),
    ]:
        f.do(who, action, **fields)
    assert f.do("kasi_trantib", "clarify", expect=403, explanation="x")["code"] == "wrong_unit"
    f.do("kasi", "clarify", explanation="Penjelasan")
    f.do("kasi", "request-letter")
    f.do("staf", "draft-letter", perihal="Tanggapan", body="Draf pertama")
    f.do("sekcam", "review-letter", approved=False, notes="Perbaiki paragraf kedua")
    assert f.step() == 7
    f.do("staf", "draft-letter", perihal="Tanggapan", body="Draf kedua")
    body = f.do("sekcam", "review-letter", approved=True)
    drafts = [h["payload"] for h in body["history"] if h["type"] == "workflow.LetterDrafted"]
    assert [(d["letter_version"], d["body"]) for d in drafts] == [(1, "Draf pertama"), (2, "Draf kedua")]
    assert body["history"][-1]["payload"]["letter_version"] == 2  # the paraf is on version 2
    assert body["current_step"]["number"] == 9


def test_withdrawn_or_marked_duplicate_at_any_step(client, tokens, wf):
    f = Flow(client, tokens, new_complaint(wf))
    f.do("kasi", "verify-identity")
    assert f.do("staf", "withdraw", reason="Pengadu mencabut")["outcome"] == "withdrawn"
    g = Flow(client, tokens, new_complaint(wf))
    # the original named, by code or id (the Staf may mark one as it registers: tests/integration/test_duplicates.py)
    assert g.do("staf", "mark-duplicate", expect=422)["code"] == "validation_error"
    assert g.do("sekcam", "mark-duplicate", duplicate_of="7KQ2-M9XD-4T")["outcome"] == "duplicate"


def test_another_kecamatan_sees_nothing_and_the_kabupaten_sees_masked_data(client, tokens, wf):
    cid = new_complaint(wf)
    assert client.get(f"/v1/complaints/{cid}", headers=tokens["galis"]).status_code == 404
    r = client.post(f"/v1/complaints/{cid}/verify-identity", json={"expected_version": 1}, headers=tokens["galis"])
    assert r.status_code == 404 and r.json()["code"] == "complaint_not_found"
    assert str(cid) not in inbox_ids(client, tokens["galis"])
    assert client.get(f"/v1/complaints/{uuid.uuid4()}", headers=tokens["staf"]).status_code == 404

    own = client.get(f"/v1/complaints/{cid}", headers=tokens["staf"]).json()
    assert own["complainant"]["nik"] == "3528071505900001"
    seen = client.get(f"/v1/complaints/{cid}", headers=tokens["kabupaten"])
    assert seen.status_code == 200
    text = seen.text
    assert "3528071505900001" not in text and "+6281234567890" not in text and "Desa Pegantenan" not in text
    assert seen.json()["allowed_actions"] == []
    assert client.get("/v1/inbox", headers=tokens["kabupaten"]).status_code == 403


def test_without_a_token_every_staff_endpoint_is_401(client):
    for method, path in [
        ("get", "/v1/inbox"),
        ("get", f"/v1/complaints/{uuid.uuid4()}"),
        ("post", f"/v1/complaints/{uuid.uuid4()}/register"),
    ]:
        r = getattr(client, method)(path, **({"json": {"expected_version": 1}} if method == "post" else {}))
        assert r.status_code == 401 and r.json()["code"] == "not_authenticated"


def test_two_concurrent_actions_on_one_complaint_exactly_one_wins(client, tokens, wf):
    cid = new_complaint(wf)
    results: list[int] = []
    barrier = threading.Barrier(2)

    def verify():
        barrier.wait()
        r = client.post(f"/v1/complaints/{cid}/verify-identity", json={"expected_version": 1}, headers=tokens["kasi"])
        results.append(r.status_code)

    threads = [threading.Thread(target=verify) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 409]
    body = client.get(f"/v1/complaints/{cid}", headers=tokens["staf"]).json()
    assert body["version"] == 2 and [h["type"] for h in body["history"]].count("workflow.IdentityVerified") == 1


def test_an_action_answers_with_the_complaint_as_stored(client, tokens, wf):
    """The action's answer is built from what the action read and appended (its new events read again only for
    their positions): the same body a reader gets next, positions and the access-logged view included."""
    f = Flow(client, tokens, new_complaint(wf))
    for who, action, fields in (("kasi", "verify-identity", {"notes": "KTP cocok"}), ("staf", "register", {})):
        done = f.do(who, action, **fields)
        again = f.get(who).json()
        assert done == again
        assert [h["version"] for h in done["history"]] == list(range(1, len(done["history"]) + 1))
        assert all(h["position"] for h in done["history"])
    assert done["current_step"]["number"] == 4 and done["register_number"]


def test_an_answer_takes_one_pooled_connection_and_an_action_two(client, tokens, wf):
    """Issue #20 item 3: a GET reads the complaint, the reader's delegations, the possible duplicates and writes the
    access-log row on one connection; a POST adds only the action's own unit of work (each checkout is a pre-ping, a
    BEGIN and a COMMIT or ROLLBACK more)."""
    from sqlalchemy import event

    f = Flow(client, tokens, new_complaint(wf))
    f.get("kasi")  # the token guard has read the user (it reads again only after a change or its cache's time)
    checkouts: list[object] = []
    listener = lambda *_args: checkouts.append(1)  # noqa: E731
    event.listen(wf.engine.pool, "checkout", listener)
    try:
        assert f.get("kasi").status_code == 200
        assert len(checkouts) == 1
        checkouts.clear()
        f.do("kasi", "verify-identity", notes="KTP cocok")
        assert len(checkouts) == 2
    finally:
        event.remove(wf.engine.pool, "checkout", listener)


def test_an_event_appended_between_the_action_and_its_answer_is_in_the_answer(tokens, wf):
    from services.workflow.entrypoints.complaints import _stored

    cid = new_complaint(wf)
    who = dict(role="kasi", unit="pemerintahan", kecamatan="pegantenan", correlation_id=uuid.uuid4())
    acted = handlers.act_with_events(
        wf, cid, "verify-identity", {}, expected_version=1, user_id="kasi-a", at=datetime.now(UTC), **who
    )
    assert acted[1][-1].type == "workflow.IdentityVerified" and acted[1][-1].position is None  # not stored yet
    # another person's action lands before the answer is read
    handlers.act(
        wf, cid, "register", {}, expected_version=2, user_id="staf-b", at=datetime.now(UTC), **who | {"role": "staf"}
    )
    with wf.engine.begin() as conn:
        state, events = _stored(wf, conn, cid, *acted)
    assert [e.type for e in events][-2:] == ["workflow.IdentityVerified", "workflow.ComplaintRegistered"]
    assert all(e.position for e in events) and state.version == 3 and state.current_step == 4


def test_a_kecamatan_with_its_own_sk_changes_roles_and_times_for_new_complaints_only(client, tokens, wf, engine):
    from shared.tenancy import Kecamatan, configure_kecamatan, upsert_kecamatan

    slug = f"uji-{uuid.uuid4().hex[:6]}"
    upsert_kecamatan(engine, [Kecamatan(slug, f"96.{slug[-6:]}", "Uji", "pamekasan", "Kabupaten Pamekasan", {})])
    wf.directory._loaded_at = float("-inf")  # the directory caches for 30 s; a test does not wait
    before = new_complaint(wf, slug)
    # this kecamatan's SK: the Camat verifies identity (step 2) and has 5 working days for it
    configure_kecamatan(engine, slug, {"sop_overrides": {"steps": {"2": {"role": "camat", "standard_time": 5}}}})
    wf.directory._loaded_at = float("-inf")  # the directory caches for 30 s; a test does not wait
    after = new_complaint(wf, slug)
    now = datetime.now(UTC)
    with pytest.raises(handlers.model.RoleNotAllowed):
        handlers.act(
            wf,
            after,
            "verify-identity",
            {},
            expected_version=1,
            user_id="k",
            role="kasi",
            unit=None,
            kecamatan=slug,
            at=now,
            correlation_id=uuid.uuid4(),
        )
    state = handlers.act(
        wf,
        after,
        "verify-identity",
        {},
        expected_version=1,
        user_id="c",
        role="camat",
        unit=None,
        kecamatan=slug,
        at=now,
        correlation_id=uuid.uuid4(),
    )
    assert state.current_step == 3 and state.sop_overrides == {"steps": {"2": {"role": "camat", "standard_time": 5}}}
    assert state.definition.version.startswith("pegantenan-1+")
    # the complaint received before the change keeps the SOP it started with: the Kasi verifies it
    kept = handlers.act(
        wf,
        before,
        "verify-identity",
        {},
        expected_version=1,
        user_id="k",
        role="kasi",
        unit=None,
        kecamatan=slug,
        at=now,
        correlation_id=uuid.uuid4(),
    )
    assert kept.current_step == 3 and kept.sop_overrides is None


def test_invalid_kecamatan_settings_are_refused_with_a_clear_message(engine):
    from shared.tenancy import configure_kecamatan

    for bad, words in [
        ({"sop_overrides": {"steps": {"13": {"role": "camat"}}}}, "step 13"),
        ({"sop_overrides": {"steps": {"2": {"role": "bupati"}}}}, "unknown role"),
        ({"office_hours": {"days": {"mon": ["16:00", "08:00"]}}}, "closing 08:00 is not after opening 16:00"),
        ({"extra_holidays": {"31-12-2026": "x"}}, "not a date"),
        ({"colour": "blue"}, "unknown settings"),
    ]:
        with pytest.raises(ValueError, match=words):
            configure_kecamatan(engine, "pegantenan", bad)


def test_fields_the_system_sets_or_out_of_range_values_are_422_not_500(client, tokens, wf):
    f = Flow(client, tokens, new_complaint(wf))
    for fields in (
        {"actor": {"user_id": "x", "role": "camat"}},
        {"at": "2020-01-01T00:00:00Z"},
        {"register_number": 7},
    ):
        r = f.do("kasi", "verify-identity", expect=422, **fields)
        assert r["errors"][0]["code"] == "reserved_field"
    for days in (-1, 0, 61):
        r = f.do("kasi", "request-documents", expect=422, message="Kirim KTP", close_after_working_days=days)
        assert r["errors"][0]["field"] == "close_after_working_days"
    assert f.get().json()["version"] == 1  # nothing was written


def test_the_kabupaten_reads_no_free_text_that_may_name_the_complainant(client, tokens, wf):
    f = Flow(client, tokens, new_complaint(wf))
    f.do("kasi", "verify-identity", notes="NIK 3528071505900001 cocok dengan KTP Siti Aminah")
    seen = client.get(f"/v1/complaints/{f.id}", headers=tokens["kabupaten"])
    assert seen.status_code == 200
    assert "3528071505900001" not in seen.text and "Siti Aminah" not in seen.text and "Bunangka" not in seen.text
    assert [h["type"] for h in seen.json()["history"]] == ["workflow.ComplaintReceived", "workflow.IdentityVerified"]
    own = client.get(f"/v1/complaints/{f.id}", headers=tokens["camat"]).text
    assert "Siti Aminah" in own and "Bunangka" in own  # inside the kecamatan, everything


def test_a_disposition_names_the_unit_whatever_its_case_or_spaces(client, tokens, wf):
    f = Flow(client, tokens, new_complaint(wf))
    f.do("kasi", "verify-identity")
    f.do("staf", "register")
    f.do("camat", "dispose", unit="  Pemerintahan ", instructions="Tindak lanjuti")
    assert str(f.id) in inbox_ids(client, tokens["kasi"]) and str(f.id) not in inbox_ids(client, tokens["kasi_trantib"])
    assert f.do("kasi", "clarify", explanation="Sudah dicek")["current_step"]["number"] == 6


def test_every_event_records_the_step_and_its_output(client, tokens, wf):
    f = Flow(client, tokens, new_complaint(wf))
    f.do("kasi", "request-documents", message="Kirim KTP")
    f.do("kasi", "receive-documents")
    body = f.do("staf", "withdraw")
    for h in body["history"]:
        assert h["output"], h["type"]
    assert body["history"][-1]["step"] == 2


def test_two_registrations_of_one_complaint_one_number_no_gap(client, tokens, wf, engine):
    from shared.tenancy import Kecamatan, upsert_kecamatan

    slug = f"uji-{uuid.uuid4().hex[:6]}"
    upsert_kecamatan(engine, [Kecamatan(slug, f"95.{slug[-6:]}", "Uji", "pamekasan", "Kabupaten Pamekasan", {})])
    wf.directory._loaded_at = float("-inf")
    now = datetime.now(UTC)
    first, second = new_complaint(wf, slug), new_complaint(wf, slug)
    for cid in (first, second):
        handlers.act(
            wf,
            cid,
            "verify-identity",
            {},
            expected_version=1,
            user_id="k",
            role="kasi",
            unit=None,
            kecamatan=slug,
            at=now,
            correlation_id=uuid.uuid4(),
        )
    outcomes: list = []
    barrier = threading.Barrier(2)

    def register():
        barrier.wait()
        try:
            outcomes.append(
                handlers.act(
                    wf,
                    first,
                    "register",
                    {},
                    expected_version=2,
                    user_id="s",
                    role="staf",
                    unit=None,
                    kecamatan=slug,
                    at=now,
                    correlation_id=uuid.uuid4(),
                ).register_number
            )
        except (handlers.StaleVersion, handlers.model.DomainError) as exc:
            outcomes.append(type(exc).__name__)
        except Exception as exc:  # the loser of the append race
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=register) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count(1) == 1, outcomes
    nxt = handlers.act(
        wf,
        second,
        "register",
        {},
        expected_version=2,
        user_id="s",
        role="staf",
        unit=None,
        kecamatan=slug,
        at=now,
        correlation_id=uuid.uuid4(),
    )
    assert nxt.register_number == 2  # the loser's number came back


def test_the_public_tracking_says_how_it_ended_and_where_it_was_referred(client, tokens, wf, engine):
    from sqlalchemy import select

    from services.intake.adapters.tables import tracking
    from services.intake.adapters.tracking import TrackingProjection

    f = Flow(client, tokens, new_complaint(wf))
    f.do("kasi", "verify-identity")
    f.do("staf", "register")
    f.do("camat", "refer", agency="Dinas PUPR Kabupaten Pamekasan", reason="Jalan kabupaten")
    projection = TrackingProjection(engine, wf.store)
    while projection.round().more:
        pass
    with engine.connect() as conn:
        row = conn.execute(select(tracking).where(tracking.c.complaint_id == f.id)).mappings().one()
    # followed until the office answers (tests/integration/test_tracking_referral.py): open, no SOP step runs
    assert (row["status"], row["outcome"], row["referred_to"], row["referral_state"], row["current_step"]) == (
        "referred",
        None,
        "Dinas PUPR Kabupaten Pamekasan",
        "followed",
        None,
    )
    assert [s["number"] for s in row["steps"]] == [1, 2, 3]


def test_the_kecamatan_served_here_are_listed_for_anyone(client):
    r = client.get("/v1/kecamatan")
    assert r.status_code == 200 and "max-age" in r.headers["cache-control"]
    by_slug = {k["slug"]: k for k in r.json()}
    assert by_slug["pegantenan"]["name"] == "Pegantenan" and by_slug["pegantenan"]["kabupaten"] == "pamekasan"
    # the kabupaten's time zone, for pages that show its dates whatever the browser's zone
    assert (by_slug["pegantenan"]["time_zone"], by_slug["pegantenan"]["time_zone_label"]) == ("Asia/Jakarta", "WIB")
    # the archive classification codes its letters may carry, and the default per letter
    assert by_slug["pegantenan"]["klasifikasi"]["000.8.3.4"] == "Pelayanan Publik"
    assert by_slug["pegantenan"]["klasifikasi_default"] == {
        "response_letter": "000.8.3.4",
        "referral_letter": "000.8.3.4",
    }
