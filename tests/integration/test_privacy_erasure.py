"""A complaint walked through all 12 steps, then its complainant's personal data erased (issue #17 item 2,
docs/adr/0017): afterwards no table of the database holds any of the complainant's values, no stored document or
scan of the complaint remains, and the history, the register number, the letter number and a projection rebuilt
from zero still read.

Every service runs its real handlers over real PostgreSQL and the real document store (one data folder for all),
in this process: intake's form (with a KTP scan), the workflow's steps, letters' documents (receipt, Lembar
Disposisi, draft, the signed letter), notify's planned messages, the intake tracking and dashboard projections;
then the erasure through the API and each service's part of it, as their workers would run them."""

from __future__ import annotations

import dataclasses
import io
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select, text

from devtools.sinks.runner import Sinks
from services.dashboard.adapters.projections import ComplaintsProjection
from services.dashboard.adapters.subscription import Subscription, rebuild_projection
from services.dashboard.bootstrap import bootstrap as dashboard_bootstrap
from services.dashboard.config import DashboardSettings
from services.intake.adapters.tables import attachments, outbox, submissions
from services.intake.adapters.tracking import TrackingProjection
from services.intake.bootstrap import bootstrap as intake_bootstrap
from services.intake.config import IntakeSettings
from services.intake.entrypoints.api import create_app as intake_app
from services.letters import handlers as letters_handlers
from services.letters.adapters.tables import documents
from services.letters.bootstrap import bootstrap as letters_bootstrap
from services.letters.config import LettersSettings
from services.notify.bootstrap import bootstrap as notify_bootstrap
from services.notify.config import NotifySettings
from services.notify.handlers.planning import plan_event
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from services.workflow.entrypoints.api import create_app as workflow_app
from shared import privacy
from shared.auth import Principal
from shared.contracts.intake import ComplaintSubmitted
from shared.contracts.workflow import ERASED_NAME
from shared.eventstore.postgres import PostgresEventStore
from tests.integration.test_letters import TO_STEP_10
from tests.support.auth import bearer_header
from tests.support.organisation import give_heads
from tests.unit.test_attachments import tiny_png

NAME, NIK = "Wulandari Kusumaningrum", "3528011508920007"
PHONE, PHONE_E164, EMAIL = "0813-9876-5432", "+6281398765432", "wulan.kusuma@contoh.id"
ADDRESS = "Dusun Larangan Badung RT 04 RW 02"
# what must be found nowhere after the erasure (the phone as typed, as stored, and its national digits)
PERSONAL = (NAME, NIK, PHONE, PHONE_E164, "81398765432", EMAIL, "Larangan Badung", "ktp-wulandari")
SCHEMAS = ("intake", "workflow", "letters", "notify", "dashboard", "privacy", "tenancy")


class SentTasks:
    """A broker that keeps what it is handed: this test runs each consumer's handler itself."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list]] = []

    def send_task(self, name: str, args: list, **_: object) -> None:
        self.sent.append((name, args))


@pytest.fixture(scope="module")
def world(settings, engine, tmp_path_factory):
    data = tmp_path_factory.mktemp("erasure-data")
    base = settings.model_copy(update={"data_dir": str(data), "public_base_url": "http://127.0.0.1:8000"})
    give_heads(engine, "pegantenan", ("pemerintahan",))
    intake = intake_bootstrap(IntakeSettings(**base.model_dump()))
    wf = workflow_bootstrap(base)
    letters = dataclasses.replace(letters_bootstrap(LettersSettings(**base.model_dump())), celery=SentTasks())
    sinks = Sinks().__enter__()  # the acknowledgment goes out by e-mail and SMS, to the local sinks
    notify_settings = {
        **base.model_dump(),
        "smtp_host": "127.0.0.1",
        "smtp_port": sinks.smtp_port,
        "sms_provider": "http",
        "sms_url": f"{sinks.http_url}/sms/send",
        "sms_status_url": f"{sinks.http_url}/sms/status/{{reference}}",
    }
    notify = dataclasses.replace(notify_bootstrap(NotifySettings(**notify_settings)), celery=SentTasks())
    dash = dashboard_bootstrap(DashboardSettings(**base.model_dump()))
    yield {"data": data, "intake": intake, "wf": wf, "letters": letters, "notify": notify, "dash": dash, "base": base}
    for container in (intake, wf, letters, notify, dash):
        container.engine.dispose()
    sinks.__exit__(None, None, None)


def walk_all_twelve_steps(world, complainant: dict | None = None) -> tuple[uuid.UUID, str]:
    """The complaint in through intake's form with a KTP scan, recorded, walked to its end, each service's
    documents and messages made; its id and tracking code. ``complainant``: another module's (this module looks
    for this one's values in every table after the erasure: another module's complaints must not hold them)."""
    wf, letters, notify = world["wf"], world["letters"], world["notify"]
    body = {
        "kecamatan": "pegantenan",
        "complainant": complainant or {"name": NAME, "nik": NIK, "phone": PHONE, "email": EMAIL, "address": ADDRESS},
        "subject": "Lampu jalan mati",
        "description": "Lampu jalan di depan balai desa mati sejak dua minggu.",
        "id_kind": "ktp",
    }
    with TestClient(intake_app(world["intake"])) as client:
        answer = client.post(
            "/v1/complaints/form",
            data={"complaint": json.dumps(body)},
            files=[
                (
                    "identitas",
                    # another module's scan of its own bytes (the store keeps one copy of equal bytes)
                    ("ktp-wulandari.png", tiny_png(seed=4711), "image/png")
                    if complainant is None
                    else ("ktp.png", tiny_png(seed=5000 + int(complainant["nik"][-4:])), "image/png"),
                )
            ],
        )
    assert answer.status_code == 202, answer.text
    code = answer.json()["tracking_code"]
    message = submitted(wf.engine, code)
    handlers.record_complaint(wf, message)
    published(wf.engine, code)
    cid = message.complaint_id

    def last(kind: str):
        return next(e for e in reversed(wf.store.read_stream(f"complaint-{cid}")) if e.type == kind)

    received = last("workflow.ComplaintReceived")
    letters_handlers.issue_receipt(letters, received.event_id)
    plan_event(notify, received.event_id)  # the acknowledgment by SMS and e-mail, planned and stored
    now = datetime.now(UTC)
    for version, (action, role, fields) in enumerate(TO_STEP_10, start=1):
        handlers.act(
            wf, cid, action, fields, expected_version=version, user_id=f"{role}.erasure", role=role,
            unit="pemerintahan", kecamatan="pegantenan", at=now, correlation_id=uuid.uuid4(),
        )  # fmt: skip
    letters_handlers.issue_disposition_sheet(letters, last("workflow.DispositionIssued").event_id)
    letters_handlers.render_draft(letters, last("workflow.LetterDrafted").event_id)
    handlers.act(
        wf, cid, "sign-letter", {}, expected_version=len(TO_STEP_10) + 1, user_id="camat.erasure", role="camat",
        unit=None, kecamatan="pegantenan", at=now, correlation_id=uuid.uuid4(),
    )  # fmt: skip
    issued = letters_handlers.issue_signed_letter(letters, last("workflow.LetterSigned").event_id)
    handlers.record_letter_document(wf, issued)
    for action, role, fields in (
        ("archive-letter", "staf", {}),
        ("send-response", "staf", {"channel": "langsung", "receipt": "Diterima langsung oleh pengadu"}),
    ):
        state = handlers.act(
            wf, cid, action, fields, expected_version=model_revision(wf, cid), user_id=f"{role}.erasure", role=role,
            unit=None, kecamatan="pegantenan", at=datetime.now(UTC), correlation_id=uuid.uuid4(),
        )  # fmt: skip
    assert state.status == "closed" and state.register_number and state.letter_number
    return cid, code


def submitted(engine, tracking_code: str) -> ComplaintSubmitted:
    """Intake's message of the complaint with this code, as its outbox holds it (the workflow's worker records it)."""
    with engine.connect() as conn:
        payload = conn.execute(
            select(outbox.c.payload)
            .join(submissions, submissions.c.id == outbox.c.id)
            .where(submissions.c.tracking_code == tracking_code)
        ).scalar_one()
    return ComplaintSubmitted.model_validate(payload)


def published(engine, tracking_code: str) -> None:
    """The complaint's outbox message marked published, as the relay marks what it handed on: this module hands
    it to the workflow itself, and a later module's publisher must not send it to that module's workers."""
    with engine.begin() as conn:
        conn.execute(
            outbox.update()
            .where(outbox.c.id.in_(select(submissions.c.id).where(submissions.c.tracking_code == tracking_code)))
            .values(published_at=datetime.now(UTC))
        )


def model_revision(wf, cid) -> int:
    with wf.uow() as uow:
        state, _ = handlers.load(uow, cid, lambda k: True)
    return state.revision


def catch_up(world) -> None:
    """The intake tracking and dashboard complaints projections, up to the store's head."""
    tracking = TrackingProjection(world["intake"].engine, world["wf"].store, documents=world["intake"].documents)
    while tracking.round().handled:
        pass
    dash = world["dash"]
    Subscription(dash.engine, dash.store, ComplaintsProjection(dash.calendars), batch_size=500).catch_up()


def hits(engine) -> dict[str, int]:
    """Per table of the services' schemas: rows whose text holds any of the complainant's values."""
    patterns = [f"%{v.lower()}%" for v in PERSONAL]
    found = {}
    with engine.connect() as conn:
        tables = conn.execute(
            text(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema = ANY(:schemas) AND table_type = 'BASE TABLE'"
            ),
            {"schemas": list(SCHEMAS)},
        ).all()
        for schema, table in tables:
            n = conn.execute(
                text(f'SELECT count(*) FROM "{schema}"."{table}" AS r WHERE lower(r::text) LIKE ANY(:p)'),
                {"p": patterns},
            ).scalar_one()
            if n:
                found[f"{schema}.{table}"] = n
    return found


def stored_blobs(engine, cid) -> list[str]:
    with engine.connect() as conn:
        letters_shas = conn.execute(select(documents.c.sha256).where(documents.c.complaint_id == cid)).scalars().all()
        scans = (
            conn.execute(
                select(attachments.c.sha256)
                .join(submissions, submissions.c.id == attachments.c.submission_id)
                .where(submissions.c.complaint_id == cid)
            )
            .scalars()
            .all()
        )
    return [*letters_shas, *scans]


def test_after_the_erasure_no_table_no_document_and_no_scan_holds_the_complainants_data(settings, world, engine):
    wf = world["wf"]
    cid, code = walk_all_twelve_steps(world)
    catch_up(world)
    before = hits(engine)
    assert {"intake.submissions", "dashboard.complaints", "notify.deliveries"} <= set(before), before
    assert "workflow.events" not in before  # sealed from the start
    blobs = stored_blobs(engine, cid)
    assert len(blobs) >= 5  # receipt, Lembar Disposisi, draft, signed letter, the KTP scan
    store = world["letters"].documents
    assert all(store.get(sha) for sha in blobs)

    admin = Principal("admin.erasure", "Admin", "admin")
    with TestClient(workflow_app(wf)) as api:
        staff = Principal("staf.erasure", "Staf", "staf", "pegantenan", "pamekasan")
        refused = api.post(
            "/v1/privacy/erasures",
            json={"complaint_id": str(cid), "reason": "uji"},
            headers=bearer_header(settings, staff),
        )
        assert refused.status_code == 403
        done = api.post(
            "/v1/privacy/erasures",
            # an admin writes the name in the reason: the reason stays in the history, the name must not
            json={"complaint_id": str(cid), "reason": f"Permintaan {NAME} ({PHONE}), surat 1 Desember 2026"},
            headers=bearer_header(settings, admin),
        )
        assert done.status_code == 201, done.text
        again = api.post(
            "/v1/privacy/erasures",
            json={"complaint_id": str(cid), "reason": "lagi"},
            headers=bearer_header(settings, admin),
        )
        assert again.status_code == 409 and again.json()["code"] == "already_erased"
    erased = next(e for e in wf.store.read_stream(f"complaint-{cid}") if e.type == "workflow.PersonalDataErased")
    # each service's part, as its worker runs it when the event reaches it
    letters_handlers.erase_personal_data(world["letters"], erased.event_id)
    from services.notify.handlers.erasure import erase_personal_data as notify_erase

    notify_erase(world["notify"], erased.event_id)
    catch_up(world)

    assert hits(engine) == {}  # not one row of any table holds a value of hers
    for sha in blobs:  # nor any stored document or scan of the complaint
        assert not _exists(world["data"], sha), sha
    for path in (Path(world["data"]) / "documents").rglob("*"):
        if path.is_file() and path.read_bytes().startswith(b"%PDF"):
            words = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(path.read_bytes())).pages)
            assert NAME not in words, path

    with TestClient(intake_app(world["intake"])) as client:  # the tracking page still answers, with no name
        tracked = client.get(f"/v1/track/{code}")
    assert tracked.status_code == 200 and tracked.json()["status"] == "closed" and NAME not in tracked.text
    # the history still reads, with its numbers; the complainant reads as erased; a rebuild from zero agrees
    stream = wf.store.read_stream(f"complaint-{cid}")
    received = stream[0].decode()
    assert received.complainant.name == ERASED_NAME and received.complainant.nik is None
    state = handlers.model.replay(stream)
    assert state.status == "closed" and state.register_number and state.letter_number and state.personal_data_erased
    dash = world["dash"]
    with dash.engine.connect() as conn:
        live = conn.execute(text("SELECT * FROM dashboard.complaints WHERE complaint_id = :c"), {"c": cid}).one()
    report = rebuild_projection(dash.engine, dash.store, ComplaintsProjection(dash.calendars))
    assert report.events > 0
    with dash.engine.connect() as conn:
        rebuilt = conn.execute(text("SELECT * FROM dashboard.complaints WHERE complaint_id = :c"), {"c": cid}).one()
    assert rebuilt == live and live.complainant_name == ERASED_NAME


def test_an_open_complaint_is_not_erased(settings, world):
    from tests.support.complaints import new_complaint

    wf = world["wf"]
    cid = new_complaint(wf)
    with TestClient(workflow_app(wf)) as api:
        answer = api.post(
            "/v1/privacy/erasures",
            json={"complaint_id": str(cid), "reason": "uji"},
            headers=bearer_header(settings, Principal("admin.erasure", "Admin", "admin")),
        )
    assert answer.status_code == 409 and answer.json()["code"] == "complaint_open"
    assert "masih berjalan" in answer.json()["message"]
    with TestClient(workflow_app(wf)) as api:
        admin = bearer_header(settings, Principal("admin.erasure", "Admin", "admin"))
        for body in (
            {"complaint_id": str(cid), "reason": "alasan\u0000uji"},  # a NUL the database would refuse
            {"complaint_id": str(cid), "reason": "   "},
            {"complaint_id": "bukan-uuid", "reason": "uji"},
            {"complaint_id": str(cid)},
        ):
            refused = api.post("/v1/privacy/erasures", json=body, headers=admin)
            assert refused.status_code == 422, (body, refused.text)
        unknown = api.post(
            "/v1/privacy/erasures", json={"complaint_id": str(uuid.uuid4()), "reason": "uji"}, headers=admin
        )
        assert unknown.status_code == 404 and unknown.json()["code"] == "complaint_not_found"
    assert all(e.type != "workflow.PersonalDataErased" for e in wf.store.read_stream(f"complaint-{cid}"))


def _exists(data: Path, sha: str) -> bool:
    return any(p.name.startswith(sha) for p in (Path(data) / "documents").rglob(f"{sha}*"))


def test_the_command_erases_a_closed_complaint_by_its_tracking_code(settings, world):
    import subprocess
    import sys

    from tests.support.complaints import record_complaint
    from tests.support.processes import env_for

    wf = world["wf"]
    message = record_complaint(wf)
    cid = message.complaint_id
    handlers.act(
        wf, cid, "withdraw", {"reason": "Dicabut pengadu"}, expected_version=1, user_id="staf.erasure", role="staf",
        unit=None, kecamatan="pegantenan", at=datetime.now(UTC), correlation_id=uuid.uuid4(),
    )  # fmt: skip

    def erase(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: PLW1510
            [sys.executable, "-m", "pengaduan", "privacy", "erase", *args],
            env=env_for(settings),
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert erase(message.tracking_code).returncode != 0  # a reason is required
    done = erase(message.tracking_code.lower(), "--reason", "Permintaan pengadu lewat telepon")
    assert done.returncode == 0, done.stderr
    assert str(cid) in done.stdout
    erased = wf.store.read_stream(f"complaint-{cid}")[-1]
    assert erased.type == "workflow.PersonalDataErased" and erased.actor.user_id.startswith("cli:")
    assert erased.payload["reason"] == "Permintaan pengadu lewat telepon"
    # erased in another process: this one's key cache honours it within a minute; a fresh reader at once
    fresh = PostgresEventStore(wf.engine, privacy.DataKeys(privacy.KeyEncryptionKeys.derived_from(settings.secret_key)))
    assert fresh.read_stream(f"complaint-{cid}")[0].decode().complainant.name == ERASED_NAME
    again = erase(message.tracking_code, "--reason", "lagi")
    assert again.returncode != 0 and "sudah dihapus" in again.stderr


class RefusingStore:
    """A document store that refuses every delete with ``error`` (a failure of the store, not of our code)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def delete(self, sha256: str) -> bool:
        raise self.error


def test_a_scan_the_store_refuses_to_delete_does_not_stop_tracking_but_an_outage_is_retried(world, engine):
    """A store that refuses for good (access denied, a retention lock) must not halt the tracking projection for
    every complaint: the rows are scrubbed, the scan is left and logged; a store that is away makes the round fail
    and retry."""
    from services.intake.adapters.erasure import IntakeErasure, ScanStoreUnavailable

    body = {
        "kecamatan": "pegantenan",
        "complainant": {"name": "Ratna Sari Dewi", "nik": "3528011508920008", "phone": "0813-1111-2222"},
        "subject": "Jalan rusak",
        "description": "Jalan rusak di depan pasar.",
        "id_kind": "ktp",
    }
    with TestClient(intake_app(world["intake"])) as client:
        answer = client.post(
            "/v1/complaints/form",
            data={"complaint": json.dumps(body)},
            files=[("identitas", ("ktp-ratna.png", tiny_png(seed=4712), "image/png"))],
        )
    assert answer.status_code == 202, answer.text
    published(engine, answer.json()["tracking_code"])  # never recorded: only intake's copies are looked at
    with engine.connect() as conn:
        cid = conn.execute(
            select(submissions.c.complaint_id).where(submissions.c.tracking_code == answer.json()["tracking_code"])
        ).scalar_one()
    with pytest.raises(ScanStoreUnavailable), engine.begin() as conn:  # the round's transaction rolls back
        IntakeErasure(RefusingStore(ConnectionError("store away"))).apply(conn, cid, [])
    with engine.begin() as conn:
        done = IntakeErasure(RefusingStore(PermissionError("access denied"))).apply(conn, cid, [])
    assert done.submissions == 1 and done.attachments == 1 and done.scans_deleted == 0
    assert stored_blobs(engine, cid) and all(world["intake"].documents.get(s) for s in stored_blobs(engine, cid))
