"""Step 10 where a kecamatan signs through the national e-signature service (BSrE; docs/adr/0016), over real HTTP:
the Camat posts sign-letter with their passphrase to the workflow's API, which asks the letters API (uvicorn in a
thread, with the Camat's own token), which renders the numbered letter and has the fake BSrE (devtools/bsre, the
documented request and answer shapes) sign it. Then the letters handler issues the letter BSrE signed, and the
verification page checks it against the BSrE root the settings name.

What must hold: a wrong or missing passphrase, a signer without a NIK for BSrE, and BSrE being down each leave the
complaint at step 10 with nothing recorded and the letter's number given back; the passphrase is in no event, no
table, no log line."""

from __future__ import annotations

import io
import json
import logging
import uuid
from datetime import UTC, datetime

import pytest
import uvicorn
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select, text

from devtools.bsre.server import DEV_PASSWORD, DEV_USERNAME, BsreServer, FakeUser
from services.accounts.handlers import add_user, set_rank
from services.letters import handlers as letters_handlers
from services.letters.adapters.tables import documents, esigned
from services.letters.bootstrap import bootstrap as letters_bootstrap
from services.letters.config import LettersSettings
from services.letters.entrypoints.api import create_app as letters_app
from services.workflow.adapters.esign import LettersEsign
from services.workflow.bootstrap import bootstrap
from services.workflow.entrypoints.api import create_app as workflow_app
from shared.auth import Principal
from shared.contracts.letters import ESIGN_PATH
from shared.tenancy import Kecamatan, upsert_kecamatan
from tests.integration.test_letters import TO_STEP_10, to_step_10
from tests.support.auth import bearer_header
from tests.support.organisation import give_heads
from tests.support.servers_http import serve_in_thread

NIK = "3528011204780002"
PASSPHRASE = "Rahasia Camat #BSrE-2026"  # spaces and signs: sent as typed
CAMAT_NAME = "Drs. H. Moh. Ma'ruf, M.Si."


@pytest.fixture(scope="module")
def bsre(tmp_path_factory):
    with BsreServer(tmp_path_factory.mktemp("bsre"), users={NIK: FakeUser(CAMAT_NAME, PASSPHRASE)}) as server:
        yield server


@pytest.fixture(scope="module")
def letters(settings, bsre, tmp_path_factory):
    data = tmp_path_factory.mktemp("letters-data")
    roots = data / "bsre-root.pem"
    roots.write_bytes(bsre.root_pem())
    letters_settings = LettersSettings(
        **settings.model_copy(update={"data_dir": str(data), "public_base_url": "http://127.0.0.1:8000"}).model_dump(),
        bsre_url=bsre.url,
        bsre_username=DEV_USERNAME,
        bsre_password=DEV_PASSWORD,
        bsre_ca_file=str(roots),
        bsre_attempts=2,
        bsre_timeout=5,
    )
    container = letters_bootstrap(letters_settings)
    yield container
    container.engine.dispose()


@pytest.fixture(scope="module")
def letters_url(letters):
    config = uvicorn.Config(letters_app(letters), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    with serve_in_thread(config) as url:
        yield url


@pytest.fixture(scope="module")
def wf(settings, letters_url):
    container = bootstrap(settings)
    container.esign = LettersEsign(letters_url, timeout=25, secret_key=settings.secret_key)
    yield container
    container.engine.dispose()


@pytest.fixture(scope="module")
def api(wf):
    with TestClient(workflow_app(wf)) as client:
        yield client


def bsre_kecamatan(engine, wf, letters, *, nik: str | None = NIK) -> tuple[str, Principal]:
    """A kecamatan that signs through BSrE, its Camat (with ``nik`` registered for BSrE), the unit the walk
    disposes to with a head."""
    suffix = uuid.uuid4().hex[:5]
    place = Kecamatan(
        f"tte-{suffix}",
        f"95.{suffix}.1",
        f"Tte {suffix}",
        "pamekasan",
        "Kabupaten Pamekasan",
        {"pemerintah": "PEMERINTAH KABUPATEN PAMEKASAN", "kecamatan": f"KECAMATAN TTE {suffix}", "city": "Tte"},
        settings={"signature_service": "bsre"},
    )
    upsert_kecamatan(engine, [place])
    give_heads(engine, place.slug, ("pemerintahan",))
    camat = f"camat.{place.slug}"
    add_user(engine, camat, CAMAT_NAME, "camat", "rahasia-uji-123", kecamatan=place.slug, nip="197001011990031001")
    if nik:
        set_rank(engine, "test", camat, nip=None, pangkat="Pembina Tingkat I", golongan="IV/b", tte_nik=nik)
    wf.directory._loaded_at = letters.directory._loaded_at = float("-inf")  # both reload now
    return place.slug, Principal(camat, CAMAT_NAME, "camat", place.slug, "pamekasan")


def post_sign(api, settings, camat: Principal, cid, **body):
    return api.post(
        f"/v1/complaints/{cid}/sign-letter",
        json={"expected_version": len(TO_STEP_10) + 1, **body},
        headers=bearer_header(settings, camat),
    )


def events_of(engine, cid) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT type, payload::text AS payload FROM workflow.events WHERE stream_id = :s ORDER BY version"),
            {"s": f"complaint-{cid}"},
        )
        return [dict(r._mapping) for r in rows]


def test_the_camat_signs_through_bsre_and_the_letter_bsre_signed_is_issued(
    settings, engine, wf, api, letters, bsre, caplog
):
    caplog.set_level(logging.DEBUG)
    slug, camat = bsre_kecamatan(engine, wf, letters)
    assert next(k for k in api.get("/v1/kecamatan").json() if k["slug"] == slug)["signature_service"] == "bsre"
    cid = to_step_10(wf, slug, camat.username)
    signed_before = bsre.counts()["signed"]

    answer = post_sign(api, settings, camat, cid, passphrase=PASSPHRASE)
    assert answer.status_code == 200, answer.text
    assert answer.json()["current_step"]["number"] == 11
    assert bsre.counts()["signed"] == signed_before + 1

    signed = next(e for e in wf.store.read_stream(f"complaint-{cid}") if e.type == "workflow.LetterSigned")
    assert signed.payload["signature_service"] == "bsre"
    number = signed.payload["letter_number"]
    with engine.connect() as conn:
        kept = conn.execute(select(esigned).where(esigned.c.event_id == signed.event_id)).mappings().one()
    assert kept["letter_number"] == number and kept["signer"] == camat.username

    # the letters worker's task: the document is the PDF BSrE signed, not signed again
    issued = letters_handlers.issue_signed_letter(letters, signed.event_id)
    assert issued.sha256 == kept["sha256"] and issued.letter_number == number
    pdf = letters.documents.get(issued.sha256)
    words = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    for expected in (number, "Balai Besar Sertifikasi Elektronik (BSrE)", "tidak memerlukan tanda tangan basah"):
        assert expected in words, expected
    assert "UJI COBA" not in words
    with TestClient(letters_app(letters)) as client:
        check = client.get(f"/v1/letters/verify/{issued.document_id}").json()
        assert check["valid"] and check["letter_number"] == number, check
        assert CAMAT_NAME in (check.get("signer") or ""), check

    # the passphrase: in no event, no table row, no log line
    assert all(PASSPHRASE not in e["payload"] for e in events_of(engine, cid))
    with engine.connect() as conn:
        rows = conn.execute(select(esigned).where(esigned.c.complaint_id == cid)).mappings().all()
        docs = conn.execute(select(documents).where(documents.c.complaint_id == cid)).mappings().all()
    assert PASSPHRASE not in json.dumps([dict(r) for r in [*rows, *docs]], default=str)
    assert PASSPHRASE not in caplog.text


def test_a_wrong_passphrase_leaves_the_complaint_at_step_10_and_the_number_free(
    settings, engine, wf, api, bsre, letters, caplog
):
    caplog.set_level(logging.DEBUG)
    slug, camat = bsre_kecamatan(engine, wf, letters)
    cid = to_step_10(wf, slug, camat.username)
    before = events_of(engine, cid)

    wrong = post_sign(api, settings, camat, cid, passphrase="salah ketik")
    assert wrong.status_code == 422 and wrong.json()["code"] == "wrong_passphrase", wrong.text
    assert wrong.json()["message"].startswith("Passphrase tanda tangan elektronik salah.")
    missing = post_sign(api, settings, camat, cid)
    assert missing.status_code == 422 and missing.json()["code"] == "passphrase_required"
    assert events_of(engine, cid) == before  # nothing recorded
    detail = api.get(f"/v1/complaints/{cid}", headers=bearer_header(settings, camat)).json()
    assert detail["current_step"]["number"] == 10 and "sign-letter" in detail["allowed_actions"]
    assert "salah ketik" not in caplog.text

    right = post_sign(api, settings, camat, cid, passphrase=PASSPHRASE)
    assert right.status_code == 200, right.text
    signed = next(e for e in wf.store.read_stream(f"complaint-{cid}") if e.type == "workflow.LetterSigned")
    assert signed.payload["letter_sequence"] == 1  # the kecamatan's first letter: the refused tries took none


def test_bsre_down_is_a_503_to_try_again_and_nothing_is_lost(settings, engine, wf, api, bsre, letters):
    slug, camat = bsre_kecamatan(engine, wf, letters)
    cid = to_step_10(wf, slug, camat.username)
    before = events_of(engine, cid)
    bsre.control("error503")  # every request, until changed
    try:
        down = post_sign(api, settings, camat, cid, passphrase=PASSPHRASE)
    finally:
        bsre.control("ok")
    assert down.status_code == 503 and down.json()["code"] == "esign_unavailable", down.text
    assert down.headers["retry-after"] == "60"
    assert events_of(engine, cid) == before

    again = post_sign(api, settings, camat, cid, passphrase=PASSPHRASE)  # the Camat tries again: signed
    assert again.status_code == 200, again.text
    signed = next(e for e in wf.store.read_stream(f"complaint-{cid}") if e.type == "workflow.LetterSigned")
    assert signed.payload["letter_sequence"] == 1  # the number taken while BSrE was down was given back


def test_a_signer_without_a_nik_for_bsre_is_told_what_to_do(settings, engine, wf, api, letters):
    slug, camat = bsre_kecamatan(engine, wf, letters, nik=None)
    cid = to_step_10(wf, slug, camat.username)
    answer = post_sign(api, settings, camat, cid, passphrase=PASSPHRASE)
    assert answer.status_code == 422 and answer.json()["code"] == "signer_without_nik", answer.text
    assert "NIK" in answer.json()["message"]


def test_letters_takes_only_what_the_workflow_decided_and_signed(settings, engine, wf, letters, letters_url, bsre):
    """The internal route wants the workflow's HMAC over the body: a signed-in user who composes one themselves
    (a Kasi naming themselves Plh. Camat, with a made-up number) is refused before BSrE is asked; with the
    workflow's signature but someone else's token it is refused too; with no token, 401."""
    import httpx

    from shared.contracts.letters import ESIGN_SIGNATURE_HEADER, esign_signature

    slug, camat = bsre_kecamatan(engine, wf, letters)
    cid = to_step_10(wf, slug, camat.username)
    kasi = Principal(f"kasi.x.{slug}", "Kasi", "kasi", slug, "pamekasan", "pemerintahan")
    asked = bsre.counts()["sign_requests"]

    def body(actor: str, **over) -> bytes:
        return json.dumps(
            {
                "event_id": str(uuid.uuid4()),
                "complaint_id": str(cid),
                "kecamatan": slug,
                "letter_version": 1,
                "letter_number": "999/FAKE/2026",
                "signed_at": datetime.now(UTC).isoformat(),
                "actor": {
                    "kind": "user",
                    "user_id": actor,
                    "role": "kasi",
                    "acting_for": "camat",
                    "acting_kind": "plh",
                },
                "passphrase": PASSPHRASE,
                **over,
            }
        ).encode()

    composed = httpx.post(letters_url + ESIGN_PATH, content=body(kasi.username), headers=bearer_header(settings, kasi))
    assert composed.status_code == 403 and composed.json()["code"] == "forbidden"
    forged = body(camat.username)
    signed_by_workflow = {ESIGN_SIGNATURE_HEADER: esign_signature(settings.secret_key, forged)}
    other = httpx.post(
        letters_url + ESIGN_PATH, content=forged, headers={**bearer_header(settings, kasi), **signed_by_workflow}
    )
    assert other.status_code == 409 and "penanda tangan" in other.json()["message"]
    assert httpx.post(letters_url + ESIGN_PATH, content=forged, headers=signed_by_workflow).status_code == 401
    assert bsre.counts()["sign_requests"] == asked  # BSrE was never asked


def test_a_report_appended_while_bsre_signs_does_not_lose_the_signature_or_reuse_its_number(
    settings, engine, wf, api, bsre, letters
):
    """A notification's report (or an overdue flag) may be appended to the complaint while BSrE signs: the
    signature is then recorded after it, with the number and event id BSrE signed, not refused as stale."""
    from services.workflow import handlers as workflow_handlers
    from shared.contracts.notify import NotificationReport

    slug, camat = bsre_kecamatan(engine, wf, letters)
    cid = to_step_10(wf, slug, camat.username)
    real = wf.esign

    class ReportArrivesMeanwhile:
        timeout = real.timeout

        def sign(self, request, authorization):
            real.sign(request, authorization)
            source = next(e for e in wf.store.read_stream(f"complaint-{cid}") if e.type == "workflow.ComplaintReceived")
            workflow_handlers.record_notification(
                wf,
                NotificationReport(
                    message_id=uuid.uuid4(),
                    delivery_id=uuid.uuid4(),
                    complaint_id=cid,
                    kecamatan=slug,
                    source_event_id=source.event_id,
                    kind="acknowledgment",
                    channel="sms",
                    recipient="+62812****789",
                    state="delivered",
                    at=datetime.now(UTC),
                ),
            )

    wf.esign = ReportArrivesMeanwhile()
    asked = bsre.counts()["signed"]
    try:
        answer = post_sign(api, settings, camat, cid, passphrase=PASSPHRASE)
    finally:
        wf.esign = real
    assert answer.status_code == 200, answer.text
    assert bsre.counts()["signed"] == asked + 1  # signed once
    stream = wf.store.read_stream(f"complaint-{cid}")
    assert [e.type for e in stream][-2:] == ["workflow.NotificationDelivered", "workflow.LetterSigned"]
    signed = stream[-1]
    with engine.connect() as conn:
        kept = conn.execute(select(esigned).where(esigned.c.complaint_id == cid)).mappings().all()
    assert [k["event_id"] for k in kept] == [signed.event_id]  # the PDF BSrE signed is the one recorded
    assert kept[0]["letter_number"] == signed.payload["letter_number"] and signed.payload["letter_sequence"] == 1
