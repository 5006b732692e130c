"""A complainant's personal data erased (issue #17, docs/adr/0017): intake's, notify's and the dashboard's copies
scrubbed when ``workflow.PersonalDataErased`` reaches them, on real PostgreSQL, the local document store and the
providers' local sinks.

A complaint made as the product makes it: the web form with a KTP scan and a photo, recorded by the workflow from
intake's outbox message, acknowledged by e-mail (notify, through the SMTP sink) and announced to the Kasi as new work,
its report recorded on the history, documents asked for, a reply by e-mail with a scan, a WhatsApp delivery
receipt, a dead letter, then closed. A second complaint shares the KTP scan's bytes. The first complaint's data key
is destroyed and ``PersonalDataErased`` appended in one transaction (as the workflow's erasure command does; the
test does it itself so as not to depend on that command), then each service's scrub runs: notify's task handler,
intake's tracking projection, the dashboard's complaints projection. Afterwards no row of intake's, notify's or the
dashboard's tables holds the complainant's name, NIK, phone, e-mail or address, nor a file name they gave; the
complaint's own scans are gone from the store and the shared one is not; the other complaint is untouched; a
second run changes nothing; and a dashboard rebuilt from zero equals the live table.

A complaint made by WhatsApp (docs/adr/0017, decision 7): a WhatsApp message id is ``wamid.`` and the base64 of a
record holding the other party's phone number. The complaint comes in as a WhatsApp message, is acknowledged and
its withdrawal announced over WhatsApp through the Cloud API stand-in (``devtools/sinks``), whose ids hold the number
as Meta's do and whose signed status webhooks reach intake over a real socket, naming the message by its id alone
(no reference echoed): intake hands them to notify, which finds each delivery by the id's keyed hash, before the
erasure and after it. Afterwards no table of any schema holds one of the ids, their base64, the base64 that any id
of the person's number carries, the number or the name.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import insert, select, text, update

from devtools.sinks.runner import Sinks
from devtools.sinks.whatsapp import wamid_for
from services.accounts.handlers import add_user, set_contact
from services.dashboard.adapters import tables as dashboard_tables
from services.dashboard.adapters.projections import Calendars, ComplaintsProjection
from services.dashboard.adapters.subscription import Subscription, rebuild_projection
from services.intake.adapters.tables import attachments, channel_statuses, inbound_messages, outbox, submissions
from services.intake.adapters.tracking import TrackingProjection
from services.intake.bootstrap import bootstrap as intake_bootstrap
from services.intake.config import IntakeSettings
from services.intake.entrypoints.api import create_app
from services.notify.adapters.tables import dead_letters, deliveries, handoffs
from services.notify.bootstrap import bootstrap as notify_bootstrap
from services.notify.config import NotifySettings
from services.notify.domain.erasure import ERASED_BODY, ERASED_RECIPIENT, NOT_SENT
from services.notify.handlers.erasure import Erased, erase_personal_data
from services.notify.handlers.planning import NewWork, plan_event
from services.notify.handlers.sending import send_delivery
from services.notify.handlers.statuses import record_status
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from services.workflow.domain.events import stream_id
from shared.contracts.intake import ComplaintSubmitted
from shared.contracts.notify import NotificationReport
from shared.contracts.workflow import ERASED_NAME, PersonalDataErased
from shared.events import Actor, envelope
from shared.privacy import is_sealed, provider_id_hashes
from shared.tenancy import Kecamatan, KecamatanDirectory, configure_kecamatan, upsert_kecamatan
from tests.integration.test_intake_channels import sign, wa_body
from tests.support.complaints import outbox_message
from tests.support.processes import wait_until
from tests.support.servers_http import serve_in_thread
from tests.unit.test_attachments import as_stored, tiny_png

EMAIL_TOKEN = "rahasia-email-hapus"
MAIL_SERVER = "mx.hapus.example.id"
APP_SECRET = "app-secret-uji"  # as tests.integration.test_intake_channels signs its webhooks
# the workflow's too: its events hold the reply's text, sender and file names sealed (migration 0022), its dead
# letters masked by the erasure itself
SCHEMAS = ("intake", "notify", "dashboard", "workflow")
EVERY_SCHEMA = ("intake", "workflow", "letters", "notify", "dashboard", "privacy", "tenancy")
# the kecamatan's WhatsApp number at the Cloud API (its phone_number_id): its own, so that routing finds it alone
PHONE_NUMBER_ID = f"1{random.randint(10**13, 10**14 - 1)}"
STATUS_RANK = {"sent": 0, "delivered": 1}


def letters(n: int) -> str:
    return "".join(random.choices(string.ascii_lowercase, k=n)).title()


def mobile() -> str:
    return f"+62812{random.randint(10_000_000, 99_999_999)}"


class Person:
    """A complainant of values no other test uses, so that a search of whole tables means something."""

    def __init__(self) -> None:
        self.name = f"Wulandari {letters(9)}"
        born = f"{random.randint(1, 28):02d}{random.randint(1, 12):02d}{random.randint(60, 99)}"
        self.nik = f"352807{born}{random.randint(1, 9999):04d}"
        self.phone = mobile()
        self.email = f"wulan.{uuid.uuid4().hex[:10]}@example.id"
        self.address = f"Dusun {letters(8)}, Desa {letters(7)}"
        self.photo_name = f"rumah {self.name}.png"
        self.reply_name = f"kk {self.name}.png"

    def form(self, kecamatan: str) -> dict:
        national = "0" + self.phone.removeprefix("+62")
        body = {
            "kecamatan": kecamatan,
            "complainant": {
                "name": self.name,
                "nik": self.nik,
                "phone": f"{national[:4]}-{national[4:8]}-{national[8:]}",
                "email": self.email,
                "address": self.address,
            },
            "subject": "Jalan desa rusak",
            "description": "Jalan di dusun kami rusak sejak Januari.",
            "id_kind": "ktp",
        }
        return {"complaint": json.dumps(body)}

    def needles(self) -> list[str]:
        """Every form of the person's values a row could hold."""
        digits = self.phone.removeprefix("+")
        national = "0" + self.phone.removeprefix("+62")
        return [
            self.name,
            self.nik,
            self.phone,
            digits,
            national,
            self.email,
            self.address,
            self.photo_name,
            self.reply_name,
        ]


# -- the services -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def place(engine) -> Kecamatan:
    suffix = uuid.uuid4().hex[:6]
    slug = f"uji-hapus-{suffix}"
    kecamatan = Kecamatan(
        slug, f"99.{random.randint(10, 99)}.{suffix}", "Uji Hapus", "pamekasan", "Kabupaten Pamekasan", {}
    )
    upsert_kecamatan(engine, [kecamatan])
    channels = {"emails": [f"pengaduan-{suffix}@uji.example.id"], "whatsapp_phone_number_ids": [PHONE_NUMBER_ID]}
    configure_kecamatan(engine, slug, {"channels": channels})
    directory = KecamatanDirectory(engine)
    found = directory.get(slug)
    assert found is not None
    return found


@pytest.fixture(scope="module")
def intake_url(intake):
    """Intake's API on a real socket: the WhatsApp Cloud API stand-in posts its status webhooks there."""
    with serve_in_thread(uvicorn.Config(create_app(intake), host="127.0.0.1", port=0, log_level="warning")) as url:
        yield url


@pytest.fixture(scope="module")
def sinks(intake_url):
    """The providers' stand-ins; the WhatsApp one signs its status webhooks as Meta does, posts them to intake and
    names each message by its id alone (no reference echoed): they must find it by the id's keyed hash."""
    with Sinks(
        whatsapp_app_secret=APP_SECRET,
        whatsapp_webhook_url=f"{intake_url}/v1/channels/whatsapp",
        whatsapp_status_reference=False,
    ) as s:
        yield s


@pytest.fixture(scope="module")
def intake(settings, place, tmp_path_factory):
    container = intake_bootstrap(
        IntakeSettings(**settings.model_dump()).model_copy(
            update={
                "data_dir": str(tmp_path_factory.mktemp("erasure-intake")),
                "email_webhook_token": SecretStr(EMAIL_TOKEN),
                "email_authserv_ids": MAIL_SERVER,
                "whatsapp_app_secret": SecretStr(APP_SECRET),
                "whatsapp_verify_token": SecretStr("verifikasi"),
            }
        )
    )
    yield container
    container.engine.dispose()


@pytest.fixture(scope="module")
def client(intake):
    with TestClient(create_app(intake)) as c:
        yield c


@pytest.fixture(scope="module")
def wf(settings, place):
    container = workflow_bootstrap(settings)
    yield container
    container.engine.dispose()


@pytest.fixture(scope="module")
def notify(settings, sinks, place, tmp_path_factory):
    container = notify_bootstrap(
        NotifySettings(
            **{
                **settings.model_dump(),
                "data_dir": str(tmp_path_factory.mktemp("erasure-notify")),
                "smtp_host": "127.0.0.1",
                "smtp_port": sinks.smtp_port,
                "sms_provider": "http",
                "sms_url": f"{sinks.http_url}/sms/send",
                "sms_status_url": f"{sinks.http_url}/sms/status/{{reference}}",
                "whatsapp_api_url": f"{sinks.http_url}/whatsapp",
                "whatsapp_token": "token-uji",
                "whatsapp_phone_number_id": PHONE_NUMBER_ID,
                # a withdrawal is announced by an approved template (outside the 24-hour window)
                "whatsapp_templates": {"withdrawn": "pengaduan_dicabut"},
                "public_base_url": "https://pengaduan.example.id",
            }
        )
    )
    yield container
    container.celery.control.purge()  # the sends and reports handed to the broker without a worker
    container.engine.dispose()


class World:
    """What the module's tests look at: the erased complaint, the other one, and what each scrub did."""

    def __init__(self, engine, client, intake, wf, notify, place) -> None:  # the module's fixtures
        self.engine, self.client, self.wf, self.notify, self.place = engine, client, wf, notify, place
        self.tracking = TrackingProjection(engine, wf.store, documents=intake.documents)
        self.dashboard = Subscription(engine, wf.store, projection(engine))
        self.revisions: dict[uuid.UUID, int] = {}  # the complaint's revision after each action (1: recorded)

    def submit(self, person: Person, ktp: bytes, photo: bytes | None) -> ComplaintSubmitted:
        files = [("identitas", (f"ktp {person.name}.png", ktp, "image/png"))]
        if photo is not None:
            files.append(("foto", (person.photo_name, photo, "image/png")))
        r = self.client.post("/v1/complaints/form", data=person.form(self.place.slug), files=files)
        assert r.status_code == 202, r.text
        message = outbox_message(self.engine, r.json()["tracking_code"])
        assert handlers.record_complaint(self.wf, message)
        return message

    def act(self, complaint_id: uuid.UUID, action: str, role: str, **fields) -> None:
        state = handlers.act(
            self.wf,
            complaint_id,
            action,
            fields,
            expected_version=self.revisions.get(complaint_id, 1),
            user_id=f"{role}.{self.place.slug}",
            role=role,
            unit="pemerintahan" if role == "kasi" else None,
            kecamatan=self.place.slug,
            at=datetime.now(UTC),
            correlation_id=uuid.uuid4(),
        )
        self.revisions[complaint_id] = state.revision

    def plan_last(self, complaint_id: uuid.UUID, *, send_now: bool) -> None:
        last = self.wf.store.read_stream(stream_id(complaint_id))[-1]
        plan_event(self.notify, last.event_id, send_now=send_now)

    def plan_news(self, complaint_id: uuid.UUID) -> None:
        """The news of new work of the complaint's last event, as a round of the projections process plans it
        (services/notify/new_work.py), each message then sent as its ``notify.send`` task sends it."""
        last = self.wf.store.read_stream(stream_id(complaint_id))[-1]
        with self.notify.uow() as uow:
            planner = NewWork(self.notify, uow)
            planner.plan([last])
            uow.commit()
        for row in planner.added:
            send_delivery(self.notify, row["id"])

    def record_reports(self, complaint_id: uuid.UUID) -> None:
        """The workflow's worker records notify's reports on the complaint's history (NotificationSent)."""
        with self.engine.connect() as conn:
            payloads = conn.execute(
                select(handoffs.c.payload).where(handoffs.c.payload["complaint_id"].astext == str(complaint_id))
            ).scalars()
            for payload in list(payloads):
                handlers.record_notification(self.wf, NotificationReport.model_validate(payload))

    def project(self) -> None:
        while self.tracking.round().more:
            pass
        self.dashboard.catch_up()


def projection(engine) -> ComplaintsProjection:
    return ComplaintsProjection(Calendars(KecamatanDirectory(engine)))


def email_reply(to: str, sender: str, attachment: tuple[bytes, str]) -> bytes:
    msg = EmailMessage()
    domain = sender.rpartition("@")[2]
    msg["Authentication-Results"] = f"{MAIL_SERVER}; dkim=pass header.d={domain}; dmarc=pass header.from={domain}"
    msg["From"], msg["To"], msg["Subject"] = sender, to, "Re: kelengkapan"
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.id>"
    msg.set_content("Terlampir KK saya.")
    data, name = attachment
    msg.add_attachment(data, maintype="image", subtype="png", filename=name)
    return msg.as_bytes()


def hits(engine, needles: list[str]) -> dict[str, int]:
    """For every table of intake, notify and the dashboard: how many rows hold one of ``needles`` in their text
    (any column, any case); only the tables with hits."""
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
            count = conn.execute(
                text(f'SELECT count(*) FROM {schema}."{table}" AS t WHERE t::text ILIKE ANY(:patterns)'),
                {"patterns": [f"%{n}%" for n in needles]},
            ).scalar_one()
            if count:
                found[f"{schema}.{table}"] = count
    return found


def erase(wf, complaint_id: uuid.UUID, kecamatan: str) -> uuid.UUID:
    """As the workflow's erasure command: the data key destroyed and the event appended in one transaction."""
    stream = stream_id(complaint_id)
    version = wf.store.stream_version(stream)
    request_id = uuid.uuid4()
    event = envelope(
        PersonalDataErased(reason="permintaan pengadu", requested_by="admin", request_id=request_id),
        event_id=uuid.uuid4(),
        stream_id=stream,
        version=version + 1,
        kecamatan=kecamatan,
        occurred_at=datetime.now(UTC),
        actor=Actor(kind="user", user_id="admin", role="admin"),
        correlation_id=request_id,
    )
    with wf.engine.begin() as conn:
        assert wf.store.data_keys.erase(conn, complaint_id, by="admin", reason="permintaan pengadu")
        wf.store.append(stream, version, [event], conn=conn)
    return event.event_id


def dashboard_rows(engine, ids: list[uuid.UUID]) -> dict:
    complaints, steps = dashboard_tables.complaints, dashboard_tables.step_times
    with engine.connect() as conn:
        rows = conn.execute(select(complaints).where(complaints.c.complaint_id.in_(ids))).mappings().all()
        times = conn.execute(
            select(steps).where(steps.c.complaint_id.in_(ids)).order_by(steps.c.complaint_id, steps.c.step)
        ).mappings()
        return {
            "complaints": sorted((dict(r) for r in rows), key=lambda r: str(r["complaint_id"])),
            "steps": [dict(r) for r in times],
        }


@pytest.fixture(scope="module")
def world(engine, client, intake, wf, notify, place):
    w = World(engine, client, intake, wf, notify, place)
    kasi = f"kasi.hapus.{uuid.uuid4().hex[:6]}"
    add_user(engine, kasi, "Kasi Hapus", "kasi", "rahasia-uji-123", kecamatan=place.slug, unit="pemerintahan")
    set_contact(engine, kasi, email=f"{kasi}@kecamatan.example.id", new_work=True)
    w.person, w.other = Person(), Person()
    seed = random.randint(1, 10**6)
    w.ktp, w.photo, w.reply_scan = tiny_png(seed), tiny_png(seed + 1), tiny_png(seed + 2)
    erased, other = w.submit(w.person, w.ktp, w.photo), w.submit(w.other, w.ktp, None)  # one KTP scan's bytes
    w.complaint_id, w.other_id = erased.complaint_id, other.complaint_id
    for complaint_id in (w.complaint_id, w.other_id):
        w.plan_last(complaint_id, send_now=True)  # the acknowledgment, by e-mail
        w.plan_news(complaint_id)  # and the Kasi's new work
    w.record_reports(w.complaint_id)
    w.act(w.complaint_id, "request-documents", "kasi", message="Mohon kirim KK.")
    w.plan_last(w.complaint_id, send_now=False)  # waits in notify.deliveries
    w.project()  # the tracking projection: awaiting documents, so a reply joins the complaint
    r = client.post(
        "/v1/channels/email",
        content=email_reply(
            place.settings["channels"]["emails"][0], w.person.email, (w.reply_scan, w.person.reply_name)
        ),
        headers={"X-Webhook-Token": EMAIL_TOKEN, "Content-Type": "message/rfc822"},
    )
    assert r.status_code == 200 and r.json()["result"] == "reply", r.text
    with engine.connect() as conn:
        ack = (
            conn.execute(
                select(deliveries).where(
                    deliveries.c.complaint_id == w.complaint_id, deliveries.c.kind == "acknowledgment"
                )
            )
            .mappings()
            .one()
        )
    status = {
        "id": f"wamid.{uuid.uuid4().hex}",
        "status": "delivered",
        "timestamp": str(int(datetime.now(UTC).timestamp())),
        "recipient_id": w.person.phone.removeprefix("+"),
        "biz_opaque_callback_data": ack["id"].hex,
    }
    body = wa_body(
        place, statuses=[status], wa_id=w.person.phone.removeprefix("+"), name=w.person.name, phone_number_id="100200"
    )
    assert client.post("/v1/channels/whatsapp", content=body, headers=sign(body)).status_code == 200
    with engine.begin() as conn:  # as the worker keeps a message it could not handle (shared.tasks)
        conn.execute(
            insert(dead_letters).values(
                id=uuid.uuid4(),
                task="notify.record_outcome",
                queue="notify",
                payload={"delivery_id": str(ack["id"]), "state": "failed", "error": f"nomor {w.person.phone} ditolak"},
                error=f"ValueError: {w.person.name} <{w.person.email}>",
            )
        )
    w.act(w.complaint_id, "close-incomplete", "kasi")
    w.plan_last(w.complaint_id, send_now=False)
    w.project()
    w.before = {"other": hits(engine, [w.other.name, w.other.nik, w.other.email])}
    assert set(hits(engine, w.person.needles())) >= {
        "intake.submissions",
        "intake.outbox",
        "intake.inbound_messages",
        "intake.attachments",
        "notify.deliveries",
        "notify.dead_letters",
        "dashboard.complaints",
    }  # the copies are there to be erased
    # a delivery receipt is kept without the recipient's number (and without the message's id), from the start
    assert "intake.channel_statuses" not in hits(engine, w.person.needles())
    w.scans = {
        name: hashlib.sha256(as_stored(data)).hexdigest()
        for name, data in (("ktp", w.ktp), ("photo", w.photo), ("reply", w.reply_scan))
    }
    assert all(intake.documents.exists(sha) for sha in w.scans.values())

    w.erasure_event = erase(wf, w.complaint_id, place.slug)
    w.notify_done = erase_personal_data(notify, w.erasure_event)
    w.project()
    return w


# -- the tests -----------------------------------------------------------------------------------------------------
def test_no_table_of_intake_notify_or_the_dashboard_holds_the_complainants_data(world, engine):
    assert hits(engine, world.person.needles()) == {}
    assert hits(engine, [world.other.name, world.other.nik, world.other.email]) == world.before["other"]


def test_notify_keeps_the_audit_and_sends_nothing_more(world, engine):
    assert world.notify_done.deliveries >= 4 and world.notify_done.dead_letters == 1
    assert world.notify_done.handoffs >= 1  # the acknowledgment's report, not yet confirmed by the workflow
    with engine.connect() as conn:
        rows = conn.execute(select(deliveries).where(deliveries.c.complaint_id == world.complaint_id)).mappings().all()
    assert {r["body"] for r in rows} == {ERASED_BODY}
    with engine.connect() as conn:
        reports = conn.execute(
            select(handoffs.c.payload).where(handoffs.c.payload["complaint_id"].astext == str(world.complaint_id))
        ).scalars()
        assert {p["recipient"] for p in reports} == {"-"}
    assert all(r["variables"] is None and r["subject"] is None and r["attachment"] is None for r in rows)
    by_kind = {(r["kind"], r["audience"]): r for r in rows}
    ack = by_kind[("acknowledgment", "complainant")]
    assert (ack["state"], ack["recipient"], ack["channel"]) == ("sent", ERASED_RECIPIENT, "email")
    assert ack["provider"] and ack["sent_at"]  # the audit: what, how, when
    assert by_kind[("new_work", "staff")]["state"] == "sent"
    for kind in ("documents_requested", "closed_incomplete"):
        waiting = by_kind[(kind, "complainant")]
        assert (waiting["state"], waiting["last_error"], waiting["recipient"]) == ("failed", NOT_SENT, ERASED_RECIPIENT)


def test_intake_scrubs_its_copies_and_deletes_the_complaints_own_scans(world, engine, intake):
    with engine.connect() as conn:
        person = conn.execute(
            select(submissions.c.complainant, submissions.c.subject).where(
                submissions.c.complaint_id == world.complaint_id
            )
        ).one()
        files = conn.execute(
            select(attachments.c.sha256, attachments.c.filename)
            .select_from(
                attachments.outerjoin(inbound_messages, inbound_messages.c.id == attachments.c.inbound_message_id)
            )
            .where(
                (
                    attachments.c.submission_id.in_(
                        select(submissions.c.id).where(submissions.c.complaint_id == world.complaint_id)
                    )
                )
                | (inbound_messages.c.complaint_id == world.complaint_id)
            )
        ).all()
    assert person.complainant == {"name": ERASED_NAME} and person.subject == "Jalan desa rusak"
    assert sorted(files) == sorted((world.scans[k], None) for k in ("ktp", "photo", "reply"))
    assert not intake.documents.exists(world.scans["photo"]) and not intake.documents.exists(world.scans["reply"])
    assert intake.documents.exists(world.scans["ktp"])  # the other complaint's scan has the same bytes
    r = world.client.get(f"/v1/track/{tracking_code(engine, world.complaint_id)}")
    assert r.status_code == 200 and r.json()["status"] == "closed"


def test_the_dashboard_shows_the_complaint_without_the_person_and_a_rebuild_agrees(world, engine):
    live = dashboard_rows(engine, [world.complaint_id, world.other_id])
    (row,) = [r for r in live["complaints"] if r["complaint_id"] == world.complaint_id]
    assert row["complainant_name"] == ERASED_NAME and row["status"] == "closed"
    assert [row[f"complainant_{k}"] for k in ("nik", "phone", "email", "address")] == [None] * 4
    (other,) = [r for r in live["complaints"] if r["complaint_id"] == world.other_id]
    assert (other["complainant_name"], other["complainant_nik"]) == (world.other.name, world.other.nik)
    rebuild_projection(engine, world.wf.store, projection(engine))
    assert dashboard_rows(engine, [world.complaint_id, world.other_id]) == live


def test_a_second_run_of_each_scrub_changes_nothing(world, engine):
    def snapshot():
        with engine.connect() as conn:
            return {
                name: [dict(r) for r in conn.execute(text(query), {"c": str(world.complaint_id)}).mappings()]
                for name, query in {
                    "deliveries": "SELECT * FROM notify.deliveries WHERE complaint_id = :c ORDER BY id",
                    "dead_letters": "SELECT * FROM notify.dead_letters ORDER BY id",
                    "submissions": "SELECT * FROM intake.submissions WHERE complaint_id = :c",
                    "outbox": "SELECT * FROM intake.outbox WHERE payload->>'complaint_id' = :c ORDER BY id",
                    "complaints": "SELECT * FROM dashboard.complaints WHERE complaint_id = :c",
                }.items()
            }

    before = snapshot()
    assert erase_personal_data(world.notify, world.erasure_event) == Erased(0, 0, 0)
    event = world.wf.store.read_event(world.erasure_event)
    with engine.begin() as conn:
        again = world.tracking.erasure.apply(
            conn, world.complaint_id, world.wf.store.read_stream(event.stream_id, conn=conn)
        )
    assert asdict(again) == dict.fromkeys(asdict(again), 0) | {"scans_kept": 1}  # kept: the other complaint's KTP
    world.project()
    assert snapshot() == before


def tracking_code(engine, complaint_id: uuid.UUID) -> str:
    with engine.connect() as conn:
        return conn.execute(
            select(submissions.c.tracking_code).where(submissions.c.complaint_id == complaint_id)
        ).scalar_one()


# -- a complaint by WhatsApp: the provider's ids hold the phone number ------------------------------------------------
def exact_hits(engine, needles: list[str]) -> dict[str, int]:
    """For every table of every service's schema: how many rows hold one of ``needles`` as it is (case matters:
    base64); only the tables with hits."""
    found = {}
    with engine.connect() as conn:
        tables = conn.execute(
            text(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema = ANY(:schemas) AND table_type = 'BASE TABLE'"
            ),
            {"schemas": list(EVERY_SCHEMA)},
        ).all()
        for schema, table in tables:
            count = conn.execute(
                text(f'SELECT count(*) FROM {schema}."{table}" AS t WHERE t::text LIKE ANY(:patterns)'),
                {"patterns": [f"%{n}%" for n in needles]},
            ).scalar_one()
            if count:
                found[f"{schema}.{table}"] = count
    return found


def id_needles(wamid: str) -> list[str]:
    """A WhatsApp id as a row could hold it: whole, and its base64 (which holds the number)."""
    return [wamid, wamid.removeprefix("wamid.")]


def number_base64(phone: str) -> str:
    """What every WhatsApp id of ``phone`` carries as it is: the base64 of its first 9 digits (they start on a base64
    boundary: devtools.sinks.whatsapp.wamid_for)."""
    return base64.b64encode(phone.removeprefix("+")[:9].encode()).decode()


def status_messages(engine, settings, wamid: str) -> list[dict]:
    """Intake's outbox messages to notify for the stand-in's receipts of ``wamid`` (found by the id's hash), in the
    order the statuses follow each other."""
    digest = provider_id_hashes(settings).hash(wamid)
    with engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.id, outbox.c.payload).where(
                outbox.c.message_type == "intake.ChannelStatusReported",
                outbox.c.payload["provider_message_hashes"].contains([digest]),
            )
        ).all()
    return sorted(({"id": r.id, **r.payload} for r in rows), key=lambda p: STATUS_RANK[p["status"]])


def handed_on(engine, message: dict) -> None:
    """The outbox message marked published, as intake's publisher marks what it handed on: this module hands it to
    notify itself, and a later module's publisher must not send it to that module's workers."""
    with engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == message["id"]).values(published_at=datetime.now(UTC)))


def delivery_of(engine, complaint_id: uuid.UUID, kind: str) -> dict:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                select(deliveries).where(
                    deliveries.c.complaint_id == complaint_id,
                    deliveries.c.kind == kind,
                    deliveries.c.audience == "complainant",
                )
            )
            .mappings()
            .one()
        )


@pytest.fixture(scope="module")
def wa_world(engine, client, intake, wf, notify, place, sinks, settings):
    w = World(engine, client, intake, wf, notify, place)
    w.person = Person()
    digits = w.person.phone.removeprefix("+")
    # the complaint as a WhatsApp message: Meta names it by an id holding the sender's number
    w.inbound_id = wamid_for(digits)
    message = {
        "from": digits,
        "id": w.inbound_id,
        "timestamp": str(int(datetime.now(UTC).timestamp())),
        "type": "text",
        "text": {"body": "Lampu jalan di depan rumah saya mati sejak dua minggu."},
    }
    body = wa_body(place, message, wa_id=digits, name=w.person.name, phone_number_id=PHONE_NUMBER_ID)
    r = client.post("/v1/channels/whatsapp", content=body, headers=sign(body))
    assert r.status_code == 200 and r.json()["messages"][0]["result"] == "complaint", r.text
    submitted = outbox_message(engine, r.json()["messages"][0]["tracking_code"])
    assert handlers.record_complaint(wf, submitted)
    handed_on(engine, {"id": submitted.submission_id})
    w.complaint_id = submitted.complaint_id

    # the acknowledgment over WhatsApp (the complaint came that way); the stand-in's "sent" and "delivered" reach
    # intake over HTTP, and notify records them as its worker would
    w.plan_last(w.complaint_id, send_now=True)
    ack = delivery_of(engine, w.complaint_id, "acknowledgment")
    assert (ack["channel"], ack["state"], ack["provider"]) == ("whatsapp", "sent", "whatsapp-cloud")
    w.ack_id = ack["provider_message_id"]
    assert digits.encode() in base64.b64decode(w.ack_id.removeprefix("wamid."))  # as Meta's ids do
    receipts = wait_until(
        lambda: len(found := status_messages(engine, settings, w.ack_id)) == 2 and found,
        message="the stand-in's two receipts of the acknowledgment at intake",
    )
    assert all("reference" in m and m["reference"] is None for m in receipts)  # by the id alone
    # "sent" changes nothing (the API's answer said so already), "delivered" moves the delivery on
    assert [record_status(notify, receipt) for receipt in receipts] == [False, True]
    for receipt in receipts:
        handed_on(engine, receipt)
    w.ack_after_receipts = delivery_of(engine, w.complaint_id, "acknowledgment")
    w.record_reports(w.complaint_id)

    # withdrawn: the notice goes by an approved template; its "delivered" reaches notify only after the erasure
    w.act(w.complaint_id, "withdraw", "staf", reason="Dicabut pengadu lewat WhatsApp")
    w.plan_last(w.complaint_id, send_now=True)
    notice = delivery_of(engine, w.complaint_id, "withdrawn")
    assert (notice["channel"], notice["state"]) == ("whatsapp", "sent")
    w.notice_id = notice["provider_message_id"]
    sent, late = wait_until(
        lambda: len(found := status_messages(engine, settings, w.notice_id)) == 2 and found,
        message="the stand-in's two receipts of the notice at intake",
    )
    assert not record_status(notify, sent)  # sent already
    handed_on(engine, sent)
    w.record_reports(w.complaint_id)
    w.project()
    w.opened = [
        (e.type, e.payload["provider_message_id"], e.payload["provider_message_hash"])
        for e in wf.store.read_stream(stream_id(w.complaint_id))
        if e.type.startswith("workflow.Notification") and e.payload.get("provider")
    ]
    with engine.connect() as conn:
        w.stored = [
            row.payload
            for row in conn.execute(
                text("SELECT payload FROM workflow.events WHERE stream_id = :s AND type LIKE 'workflow.Notification%'"),
                {"s": stream_id(w.complaint_id)},
            )
            if row.payload.get("provider")
        ]
    w.ids = (w.inbound_id, w.ack_id, w.notice_id)
    w.before = exact_hits(engine, [n for i in w.ids for n in id_needles(i)])

    w.erasure_event = erase(wf, w.complaint_id, place.slug)
    w.notify_done = erase_personal_data(notify, w.erasure_event)
    w.project()
    # Meta's late "delivered" for the notice: notify finds the erased delivery by the id's hash alone
    assert record_status(notify, late)
    handed_on(engine, late)
    w.record_reports(w.complaint_id)  # the late report goes on the history of the erased complaint
    w.project()
    return w


def test_a_whatsapp_complaint_leaves_no_provider_id_nor_the_number_in_any_table_after_its_erasure(wa_world, engine):
    w = wa_world
    # before the erasure the ids were in notify's deliveries and the reports waiting for the workflow's confirmation
    # only (until the erasure), never in intake's tables or in the event store in clear
    assert set(w.before) == {"notify.deliveries", "notify.handoffs"}, w.before
    needles = [n for i in w.ids for n in id_needles(i)] + [number_base64(w.person.phone)]
    assert all(number_base64(w.person.phone) in i for i in w.ids)  # every id of the number carries it
    assert exact_hits(engine, needles) == {}
    assert hits(engine, w.person.needles()) == {}  # nor the number or the name, in any form
    assert exact_hits(engine, [w.person.phone, w.person.phone.removeprefix("+"), w.person.name]) == {}


def test_the_stand_ins_receipts_found_each_delivery_by_the_ids_hash_before_and_after_the_erasure(
    wa_world, engine, settings
):
    w = wa_world
    hashes = provider_id_hashes(settings)
    assert (w.ack_after_receipts["state"], w.ack_after_receipts["provider_message_hash"]) == (
        "delivered",
        hashes.hash(w.ack_id),
    )
    notice = delivery_of(engine, w.complaint_id, "withdrawn")
    assert (notice["state"], notice["provider_message_id"], notice["provider_message_hash"]) == (
        "delivered",  # the receipt that came after the erasure still found it
        None,
        hashes.hash(w.notice_id),
    )
    with engine.connect() as conn:
        kept = (
            conn.execute(
                select(channel_statuses).where(
                    channel_statuses.c.provider_message_hash.in_([hashes.hash(w.ack_id), hashes.hash(w.notice_id)])
                )
            )
            .mappings()
            .all()
        )
        inbound = (
            conn.execute(select(inbound_messages).where(inbound_messages.c.complaint_id == w.complaint_id))
            .mappings()
            .one()
        )
    assert sorted(r["status"] for r in kept) == ["delivered", "delivered", "sent", "sent"]
    assert all(r["recipient_id"] is None and "id" not in r["raw"] for r in kept)
    assert inbound["provider_message_hash"] == hashes.hash(w.inbound_id) and inbound["sender"] is None
    # Meta delivering the complaint's message again is still recognised as the first time (by the id's hash)
    message = {
        "from": w.person.phone.removeprefix("+"),
        "id": w.inbound_id,
        "timestamp": str(int(datetime.now(UTC).timestamp())),
        "type": "text",
        "text": {"body": "Lampu jalan di depan rumah saya mati sejak dua minggu."},
    }
    body = wa_body(w.place, message, wa_id="6280000000000", name="-", phone_number_id=PHONE_NUMBER_ID)
    again = w.client.post("/v1/channels/whatsapp", content=body, headers=sign(body))
    assert again.status_code == 200 and again.json()["messages"][0]["duplicate"] is True, again.text


def test_the_history_held_the_ids_sealed_with_their_hash_and_holds_only_the_hash_once_erased(wa_world, settings):
    w = wa_world
    hashes = provider_id_hashes(settings)
    assert w.stored and all(is_sealed(p["provider_message_id"]) for p in w.stored)  # never in clear in the table
    assert {(i, h) for _, i, h in w.opened} == {(i, hashes.hash(i)) for i in (w.ack_id, w.notice_id)}
    after = [
        e.decode()
        for e in w.wf.store.read_stream(stream_id(w.complaint_id))
        if e.type.startswith("workflow.Notification") and e.payload.get("provider")
    ]
    assert {(e.provider_message_id, e.provider_message_hash) for e in after} == {
        (None, hashes.hash(i)) for i in (w.ack_id, w.notice_id)
    }
    assert len(after) == len(w.opened) + 1  # the late receipt's report, recorded after the erasure
