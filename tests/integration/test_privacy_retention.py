"""Retention (issue #17 item 3, docs/adr/0017) and the record of requests about personal data (item 2): the
scheduler's retention job erases a closed complaint's personal data once its kabupaten's retention period has passed
after closing (on a clock the test sets), never an open one's, each erasure on record with why; erasure requests are
decided by the kabupaten's data-protection officer (role ``pdp``) or an admin and recorded, refusals too.

The test's kecamatan belongs to a kabupaten of its own, and the job runs over a directory that serves only it, so the
years it jumps ahead do not erase the other modules' complaints in the shared database."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from services.workflow import handlers
from services.workflow.bootstrap import bootstrap
from services.workflow.entrypoints.api import create_app as workflow_app
from services.workflow.scheduler import Retention
from shared.auth import Principal
from shared.contracts.workflow import ERASED_NAME
from shared.tenancy import Kecamatan, configure_kabupaten, upsert_kecamatan
from tests.support.auth import bearer_header, ensure_user
from tests.support.complaints import record_complaint
from tests.support.processes import env_for
from tests.support.tasks import SentTasks

SUFFIX = uuid.uuid4().hex[:6]
KABUPATEN = f"retensi{SUFFIX}"
KECAMATAN = f"retensi-{SUFFIX}"
CLOSED_DOWN = f"retensi-tutup-{SUFFIX}"  # a kecamatan no longer served here (inactive)


class OnlyOurs:
    """The kecamatan directory as the job sees it: the test's kecamatan only."""

    def __init__(self, directory) -> None:
        self.directory = directory

    def get(self, slug: str):
        return self.directory.get(slug)

    def on_record(self, slug: str):
        return self.directory.on_record(slug)

    def active(self):
        return [k for k in self.directory.active() if k.slug in (KECAMATAN, CLOSED_DOWN)]

    def every(self):
        return [k for k in self.directory.every() if k.slug in (KECAMATAN, CLOSED_DOWN)]


@pytest.fixture(scope="module")
def wf(settings, engine):
    upsert_kecamatan(engine, [Kecamatan(KECAMATAN, f"96.{SUFFIX}", "Retensi Uji", KABUPATEN, "Kabupaten Retensi", {})])
    configure_kabupaten(engine, KABUPATEN, {"retention_years": 2})
    container = bootstrap(settings)
    yield dataclasses.replace(container, directory=OnlyOurs(container.directory))
    container.engine.dispose()


def closed_complaint(wf, at: datetime, kecamatan: str = KECAMATAN) -> uuid.UUID:
    message = record_complaint(wf, kecamatan)
    handlers.act(
        wf, message.complaint_id, "withdraw", {"reason": "Dicabut pengadu"}, expected_version=1, user_id="staf.retensi",
        role="staf", unit=None, kecamatan=kecamatan, at=at, correlation_id=uuid.uuid4(),
    )  # fmt: skip
    return message.complaint_id


def stream(wf, cid):
    return wf.store.read_stream(f"complaint-{cid}")


def test_the_retention_job_erases_closed_complaints_once_their_period_has_passed(wf):
    closed_at = datetime.now(UTC).replace(microsecond=0)
    closed = closed_complaint(wf, closed_at)
    still_open = record_complaint(wf, KECAMATAN).complaint_id
    assert stream(wf, closed)[0].decode().complainant.name != ERASED_NAME

    one_year_on = Retention(wf, clock=lambda: closed_at + timedelta(days=365)).round()
    assert one_year_on.handled == 0 and stream(wf, closed)[-1].type != "workflow.PersonalDataErased"
    assert handlers.erase_past_retention(wf, closed_at + timedelta(days=732), dry_run=True).due == 1
    assert stream(wf, closed)[-1].type != "workflow.PersonalDataErased"  # a dry run erases nothing

    past = Retention(wf, clock=lambda: closed_at + timedelta(days=732)).round()  # two years and a day
    assert past.handled == 1 and not past.more
    erased = stream(wf, closed)[-1]
    assert erased.type == "workflow.PersonalDataErased"
    assert erased.actor.kind == "system" and erased.actor.user_id == "retensi"
    assert "2 tahun" in erased.payload["reason"] and "Kabupaten Retensi" in erased.payload["reason"]
    assert stream(wf, closed)[0].decode().complainant.name == ERASED_NAME
    # the open complaint keeps its data however long it runs; the erased one is not erased twice
    assert all(e.type != "workflow.PersonalDataErased" for e in stream(wf, still_open))
    assert Retention(wf, clock=lambda: closed_at + timedelta(days=3650)).round().handled == 0
    with wf.uow() as uow:
        record = uow.requests.list(kecamatan=[KECAMATAN], kind="retention", limit=10)
        row = uow.complaints.get(closed)
    assert [(r["complaint_id"], r["outcome"], r["requested_by"]) for r in record] == [(closed, "done", "retensi")]
    assert record[0]["detail"]["closed_at"].startswith(closed_at.date().isoformat())
    assert row["personal_data_erased"] and row["closed_at"] == closed_at


def test_a_kecamatan_no_longer_served_has_its_complainants_data_erased_in_time_too(wf, engine):
    place = Kecamatan(CLOSED_DOWN, f"97.{SUFFIX}", "Tutup Uji", KABUPATEN, "Kabupaten Retensi", {})
    upsert_kecamatan(engine, [place])
    wf.directory.directory.invalidate()
    closed_at = datetime.now(UTC).replace(microsecond=0)
    closed = closed_complaint(wf, closed_at, CLOSED_DOWN)
    upsert_kecamatan(engine, [dataclasses.replace(place, active=False)])  # the kecamatan leaves the deployment
    wf.directory.directory.invalidate()
    assert wf.directory.get(CLOSED_DOWN) is None

    assert Retention(wf, clock=lambda: closed_at + timedelta(days=365)).round().handled == 0
    past = Retention(wf, clock=lambda: closed_at + timedelta(days=732)).round()

    assert past.handled == 1
    assert stream(wf, closed)[-1].type == "workflow.PersonalDataErased"
    assert stream(wf, closed)[0].decode().complainant.name == ERASED_NAME


def test_the_retention_period_is_a_kabupaten_setting_checked_before_it_is_stored(engine):
    for bad in (0, -1, 101, "5", True, 2.5):
        with pytest.raises(ValueError, match="retention_years"):
            configure_kabupaten(engine, KABUPATEN, {"retention_years": bad})


def test_erasure_requests_are_decided_by_the_kabupatens_data_protection_officer_and_recorded(settings, wf):
    closed = closed_complaint(wf, datetime.now(UTC))
    still_open = record_complaint(wf, KECAMATAN).complaint_id
    ours = bearer_header(settings, Principal(f"pdp.{KABUPATEN}", "PDP", "pdp", None, KABUPATEN))
    theirs = bearer_header(settings, Principal("pdp.pamekasan", "PDP", "pdp", None, "pamekasan"))
    camat = bearer_header(settings, Principal("camat.retensi", "Camat", "camat", KECAMATAN, KABUPATEN))
    staf = bearer_header(settings, Principal("staf.retensi", "Staf", "staf", KECAMATAN, KABUPATEN))
    with TestClient(workflow_app(wf)) as api:

        def erase(cid, headers):
            return api.post(
                "/v1/privacy/erasures", json={"complaint_id": str(cid), "reason": "Surat 3/12"}, headers=headers
            )

        assert erase(closed, camat).status_code == 403
        assert erase(closed, theirs).json()["code"] == "complaint_not_found"  # another kabupaten's: not found
        refused = erase(still_open, ours)
        assert refused.status_code == 409 and refused.json()["code"] == "complaint_open"
        done = erase(closed, ours)
        assert done.status_code == 201, done.text

        listed = api.get("/v1/privacy/requests", params={"kind": "erasure"}, headers=ours)
        assert listed.status_code == 200
        mine = {(r["complaint_id"], r["outcome"]) for r in listed.json()}
        assert {(str(closed), "done"), (str(still_open), "refused")} <= mine
        refusal = next(r for r in listed.json() if r["complaint_id"] == str(still_open))
        assert refusal["detail"]["code"] == "complaint_open" and refusal["requested_by"] == f"pdp.{KABUPATEN}"
        # the Camat reads their kecamatan's; the other kabupaten's officer none of it; a staf nothing
        assert {r["complaint_id"] for r in api.get("/v1/privacy/requests", headers=camat).json()} >= {str(closed)}
        other = api.get("/v1/privacy/requests", params={"limit": 500}, headers=theirs).json()
        assert all(r["kecamatan"] != KECAMATAN for r in other)
        assert api.get("/v1/privacy/requests", headers=staf).json()["code"] == "forbidden"
        assert api.get("/v1/privacy/requests", params={"kind": "lupa"}, headers=ours).status_code == 422
    assert stream(wf, closed)[-1].actor.role == "pdp"


def test_an_access_request_gives_the_person_a_copy_of_their_data_and_is_recorded_without_it(settings, wf):
    import json

    message = record_complaint(wf, KECAMATAN)
    cid, name = message.complaint_id, message.complainant.name
    ours = bearer_header(settings, Principal(f"pdp.{KABUPATEN}", "PDP", "pdp", None, KABUPATEN))
    theirs = bearer_header(settings, Principal("pdp.pamekasan", "PDP", "pdp", None, "pamekasan"))
    staf = bearer_header(settings, Principal("staf.retensi", "Staf", "staf", KECAMATAN, KABUPATEN))
    body = {"complaint_id": str(cid), "reason": "Permintaan salinan, KTP diperiksa di loket"}
    with TestClient(workflow_app(wf)) as api:
        assert api.post("/v1/privacy/access-requests", json=body, headers=staf).json()["code"] == "forbidden"
        assert api.post("/v1/privacy/access-requests", json=body, headers=theirs).status_code == 404
        blank = api.post("/v1/privacy/access-requests", json={**body, "reason": " "}, headers=ours)
        assert blank.status_code == 422
        answer = api.post("/v1/privacy/access-requests", json=body, headers=ours)
        assert answer.status_code == 201, answer.text
        copy = answer.json()
        assert copy["complainant"]["name"] == name and copy["complainant"]["nik"] == message.complainant.nik
        assert copy["tracking_code"] == message.tracking_code and copy["history"][0]["type"].endswith("Received")
        assert copy["retention"] == {"years_after_closing": 2, "kept_until": None} and copy["copies_elsewhere"]
        listed = api.get("/v1/privacy/requests", params={"kind": "access"}, headers=ours).json()
    record = next(r for r in listed if r["complaint_id"] == str(cid))
    assert record["outcome"] == "done" and "name" in record["detail"]["fields"]
    assert name not in json.dumps(record) and message.complainant.nik not in json.dumps(record)

    handlers.act(
        wf, cid, "withdraw", {"reason": "Dicabut"}, expected_version=1, user_id="staf.retensi", role="staf",
        unit=None, kecamatan=KECAMATAN, at=datetime.now(UTC), correlation_id=uuid.uuid4(),
    )  # fmt: skip
    handlers.erase_personal_data(wf, cid, by="pdp.uji", reason="Permintaan pengadu", at=datetime.now(UTC))
    with TestClient(workflow_app(wf)) as api:  # after the erasure the copy says so, and holds nothing of them
        after = api.post("/v1/privacy/access-requests", json=body, headers=ours).json()
    assert after["personal_data_erased"] and after["complainant"]["name"] == ERASED_NAME
    assert after["retention"]["kept_until"] is not None and name not in json.dumps(after)


def test_a_correction_is_checked_recorded_without_its_values_and_used_by_every_reader(settings, wf, engine):
    import json

    from sqlalchemy import text

    from devtools.sinks.runner import Sinks
    from services.dashboard.domain import complaints as dashboard_rows
    from services.notify.bootstrap import bootstrap as notify_bootstrap
    from services.notify.config import NotifySettings
    from services.notify.handlers.planning import plan_event
    from shared.calendar import WorkingCalendar

    message = record_complaint(wf, KECAMATAN)
    cid = message.complaint_id
    new_phone, new_name = "0857-3000-4411", "Siti Aminah Rahayu"
    staf = bearer_header(settings, Principal("staf.retensi", "Staf", "staf", KECAMATAN, KABUPATEN))
    kabupaten = bearer_header(settings, Principal("kab.retensi", "Kab", "kabupaten", None, KABUPATEN))
    theirs = bearer_header(settings, Principal("pdp.pamekasan", "PDP", "pdp", None, "pamekasan"))
    ours = bearer_header(settings, Principal(f"pdp.{KABUPATEN}", "PDP", "pdp", None, KABUPATEN))
    reason = f"Pengadu datang: nomor HP salah ketik, yang benar {new_phone}"

    def correct(headers, **values):
        body = {"complaint_id": str(cid), "reason": reason, "complainant": values}
        return api.post("/v1/privacy/corrections", json=body, headers=headers)

    with TestClient(workflow_app(wf)) as api:
        assert correct(kabupaten, phone=new_phone).json()["code"] == "forbidden"
        assert correct(theirs, phone=new_phone).json()["code"] == "complaint_not_found"
        for values, code in (
            ({"nik": "1234"}, "nik_format"),
            ({"phone": "bukan nomor"}, "phone_invalid"),
            ({"phone": message.complainant.phone}, "nothing_to_correct"),
            ({"phone": "", "email": ""}, "contact_required"),
            ({"name": " "}, "validation_error"),
            ({"agama": "x"}, "validation_error"),
        ):
            refused = correct(staf, **values)
            assert refused.status_code == 422 and refused.json()["code"].startswith(code), (values, refused.text)
        done = correct(staf, phone=new_phone, name=new_name)
        assert done.status_code == 201, done.text
        assert done.json()["corrected"] == ["name", "phone"]
        shown = api.get(f"/v1/complaints/{cid}", headers=staf).json()
        assert shown["complainant"]["phone"] == "+6285730004411" and shown["complainant"]["name"] == new_name
        assert shown["complainant"]["nik"] == message.complainant.nik  # the rest as received
        masked = api.get(f"/v1/complaints/{cid}", headers=kabupaten).json()
        assert new_name not in json.dumps(masked) and "+6285730004411" not in json.dumps(masked)
        record = next(
            r
            for r in api.get("/v1/privacy/requests", params={"kind": "correction"}, headers=ours).json()
            if r["complaint_id"] == str(cid)
        )
    assert record["detail"]["fields"] == ["name", "phone"] and record["requested_by"] == "staf.retensi"
    assert "0857" not in json.dumps(record) and new_name not in json.dumps(record)  # the reason is masked too
    envelopes = wf.store.read_stream(f"complaint-{cid}")
    assert envelopes[-1].type == "workflow.ComplainantDataCorrected"
    assert envelopes[0].decode().complainant.name == message.complainant.name  # the history keeps what was received

    # the dashboard's row follows the correction
    calendar = WorkingCalendar()
    row, _ = dashboard_rows.apply(None, envelopes[0], calendar)
    row = {**row, "position": envelopes[0].position}
    row, _ = dashboard_rows.apply(row, envelopes[-1], calendar)
    assert (row["complainant_name"], row["complainant_phone"]) == (new_name, "+6285730004411")

    # notify writes to the corrected number from then on
    handlers.act(
        wf, cid, "withdraw", {"reason": "Dicabut"}, expected_version=2, user_id="staf.retensi", role="staf",
        unit=None, kecamatan=KECAMATAN, at=datetime.now(UTC), correlation_id=uuid.uuid4(),
    )  # fmt: skip
    withdrawn = wf.store.read_stream(f"complaint-{cid}")[-1]
    with Sinks() as sinks:
        notify = notify_bootstrap(
            NotifySettings(
                **{
                    **settings.model_dump(),
                    "smtp_host": "127.0.0.1",
                    "smtp_port": sinks.smtp_port,
                    "sms_provider": "http",
                    "sms_url": f"{sinks.http_url}/sms/send",
                    "sms_status_url": f"{sinks.http_url}/sms/status/{{reference}}",
                }
            )
        )
        tasks = SentTasks()
        try:  # planned and handed to the (test's) broker, not sent: the delivery rows say where it goes
            assert plan_event(dataclasses.replace(notify, celery=tasks), withdrawn.event_id, send_now=False) >= 1
        finally:
            notify.engine.dispose()
        assert tasks.sent
    with engine.connect() as conn:
        sent_to = conn.execute(
            text("SELECT channel, recipient FROM notify.deliveries WHERE source_event_id = :e"),
            {"e": withdrawn.event_id},
        ).all()
    assert ("sms", "+6285730004411") in sent_to and all(r != message.complainant.phone for _, r in sent_to)


def test_the_command_runs_a_round_or_counts_it_and_lists_the_requests(settings, wf):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: PLW1510
            [sys.executable, "-m", "pengaduan", "privacy", *args],
            env=env_for(settings),
            capture_output=True,
            text=True,
            timeout=120,
        )

    counted = run("retention", "--dry-run")  # over every kecamatan of the database: only counts
    assert counted.returncode == 0, counted.stderr
    assert (
        "would be erased" in counted.stdout
        and "Kabupaten Retensi / Retensi Uji: personal data kept 2" in counted.stdout
    )
    listed = run("requests", "--limit", "500")
    assert listed.returncode == 0, listed.stderr
    assert "retention" in listed.stdout and KECAMATAN in listed.stdout


def test_the_officer_keeps_the_record_and_the_erasures_of_a_kecamatan_no_longer_served(settings, engine):
    """A kecamatan leaves the deployment: its complaints stay its kabupaten's records, so its officer still reads the
    record of their requests and still decides a person's erasure there."""
    s = uuid.uuid4().hex[:5]
    place = Kecamatan(f"inak-{s}", f"95.{s}", "Inaktif", f"kab-inak-{s}", "Kabupaten Inaktif", {})
    upsert_kecamatan(engine, [place])
    wf = bootstrap(settings)
    pdp = ensure_user(settings, Principal(f"i{s}.pdp", "PDP", "pdp", None, place.kabupaten_slug))
    erased, other = (record_complaint(wf, place.slug).complaint_id for _ in range(2))
    for complaint_id in (erased, other):
        handlers.act(
            wf, complaint_id, "withdraw", {"reason": "Dicabut"}, expected_version=1, user_id="staf", role="staf",
            unit=None, kecamatan=place.slug, at=datetime.now(UTC), correlation_id=uuid.uuid4(),
        )  # fmt: skip
    handlers.erase_personal_data(wf, erased, by=pdp.username, reason="permintaan pengadu", at=datetime.now(UTC))
    try:
        with TestClient(workflow_app(wf)) as api:
            upsert_kecamatan(engine, [dataclasses.replace(place, active=False)])  # it leaves the deployment
            wf.directory.invalidate()
            record = api.get("/v1/privacy/requests", headers=bearer_header(settings, pdp))
            erasure = api.post(
                "/v1/privacy/erasures",
                json={"complaint_id": str(other), "reason": "permintaan pengadu"},
                headers=bearer_header(settings, pdp),
            )
    finally:
        wf.engine.dispose()
    assert [r["complaint_id"] for r in record.json()] == [str(erased)]
    assert erasure.status_code == 201, erasure.json()
