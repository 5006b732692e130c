"""Follow-ups out to SP4N-LAPOR! (services/lapor/follower.py and sender.py): the workflow's events of complaints
that came from LAPOR! become rows of the bridge's outbox with the follower's checkpoint, and the sender reports them
to the fake LAPOR! (devtools/lapor). With the fake failing mid-way (500s, a call held past the timeout, calls done
and their answers dropped), every follow-up arrives exactly once, in the order of the complaint's events, the
closing with the response letter; a complaint not from LAPOR! reports nothing, and one whose report was not yet
handed over waits for it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from devtools.lapor.server import DEV_TOKEN, LaporServer
from services.lapor import cli
from services.lapor.adapters.gauges import gauges
from services.lapor.adapters.http import HttpLaporApi
from services.lapor.adapters.tables import checkpoints, inbox, outbox
from services.lapor.config import LaporSettings
from services.lapor.domain import importing
from services.lapor.domain.model import LaporReport
from services.lapor.follower import ERASED_TEXT, FollowUps
from services.lapor.sender import FollowUpSender
from shared.contracts import sop
from shared.contracts.intake import Complainant
from shared.contracts.workflow import (
    ClarificationGiven,
    ComplaintReceived,
    ComplaintReferred,
    ComplaintRegistered,
    ComplaintReopened,
    ComplaintWithdrawn,
    DispositionIssued,
    LetterDrafted,
    LetterSigned,
    ObjectionAnswered,
    ObjectionRaised,
    PersonalDataErased,
    ReferralAnswered,
    ResponseSent,
)
from shared.events import Actor, EventEnvelope, envelope
from shared.eventstore.postgres import PostgresEventStore

KECAMATAN = "pegantenan"
STAFF = Actor(kind="user", user_id="staf-uji", role="staf")
LETTER_BODY = "Jalan desa akan diperbaiki pada anggaran perubahan tahun ini."


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self) -> None:
        self.now += timedelta(hours=2)


class Stream:
    """One complaint's events appended to the real event store, version by version."""

    def __init__(self, store: PostgresEventStore, channel: str) -> None:
        self.store, self.id, self.version = store, uuid.uuid4(), 0
        self.code = f"LPR-{uuid.uuid4().hex[:8].upper()}"
        at = datetime.now(UTC)
        self.append(
            ComplaintReceived(
                complaint_id=self.id,
                submission_id=uuid.uuid4(),
                tracking_code=self.code,
                kecamatan=KECAMATAN,
                channel=channel,
                complainant=Complainant(name="Siti Aminah"),
                subject="Jalan desa rusak",
                description="Berlubang.",
                received_at=at,
                sop_version=sop.DEFAULT.version,  # a version every projection knows
            )
        )

    def append(self, event) -> None:
        self.version += 1
        e = envelope(
            event,
            event_id=uuid.uuid4(),
            stream_id=f"complaint-{self.id}",
            version=self.version,
            kecamatan=KECAMATAN,
            occurred_at=datetime.now(UTC),
            actor=STAFF,
            correlation_id=uuid.uuid4(),
        )
        self.store.append(e.stream_id, self.version - 1, [e])


def _handed_over(engine, lapor: LaporServer, instansi: str, complaint: Stream) -> str:
    """The report as the import leaves it: in the inbox, handed to intake as ``complaint``."""
    tracking_id = lapor.dispose(instansi, tracking_id=uuid.uuid4().hex[:10], title="Judul", content="Isi.")
    at = datetime.now(UTC)
    report = LaporReport(tracking_id, instansi, "Judul", "Isi.", None, at, at)
    with engine.begin() as conn:
        conn.execute(
            inbox.insert().values(
                tracking_id=tracking_id,
                kecamatan=KECAMATAN,
                instansi_id=instansi,
                report=importing.to_json(report),
                state="submitted",
                complaint_id=complaint.id,
                tracking_code=complaint.code,
                acknowledged_at=at,
            )
        )
    return tracking_id


@pytest.fixture
def lapor():
    with LaporServer(hold=1.5) as server:
        yield server


@pytest.fixture
def parts(settings, engine, lapor):
    store = PostgresEventStore(engine)
    clock = Clock()
    lapor_settings = LaporSettings.from_base(
        settings, lapor_url=lapor.url, lapor_token=DEV_TOKEN, lapor_webhook_token="x", lapor_max_attempts=10
    )
    api = HttpLaporApi(lapor.url, DEV_TOKEN, timeout=0.7)
    yield store, FollowUps(engine, store, batch_size=7), FollowUpSender(engine, api, lapor_settings, clock), clock
    api.close()


def _drain(follower, sender, clock, rounds=40) -> None:
    while follower.round().more:
        pass
    for _ in range(rounds):
        clock.advance()
        sender.round()


def test_every_follow_up_reaches_lapor_once_in_order_with_lapor_failing_mid_way(engine, lapor, parts):
    store, follower, sender, clock = parts
    instansi = f"INS-{uuid.uuid4().hex[:8]}"
    answered, referred, other = Stream(store, "lapor"), Stream(store, "lapor"), Stream(store, "web")
    first, second = _handed_over(engine, lapor, instansi, answered), _handed_over(engine, lapor, instansi, referred)
    step = {"next_due_at": datetime.now(UTC)}
    answered.append(
        ComplaintRegistered(step=3, output="Buku Register", next_step=4, register_number=17, register_year=2026, **step)
    )
    referred.append(
        ComplaintRegistered(step=3, output="Buku Register", next_step=4, register_number=18, register_year=2026, **step)
    )
    other.append(
        ComplaintRegistered(step=3, output="Buku Register", next_step=4, register_number=19, register_year=2026, **step)
    )
    answered.append(
        DispositionIssued(
            step=4,
            output="Disposisi",
            next_step=5,
            unit="Kasi Pemerintahan",
            instructions="Cek lokasi, jangan sebut ke luar.",
            **step,
        )
    )
    referred.append(
        ComplaintReferred(
            agency="Dinas PUPR Kabupaten Pamekasan",
            agency_kind="opd",
            reason="Jalan kabupaten.",
            follow_up_by=datetime.now(UTC) + timedelta(days=10),
        )
    )
    answered.append(
        ClarificationGiven(step=5, output="Klarifikasi", next_step=6, explanation="Catatan internal unit.", **step)
    )
    answered.append(
        LetterDrafted(
            step=7,
            output="Konsep",
            next_step=8,
            letter_version=1,
            perihal="Tanggapan jalan rusak",
            body="Konsep pertama.",
        )
    )
    answered.append(
        LetterDrafted(
            step=7,
            output="Konsep",
            next_step=8,
            letter_version=2,
            perihal="Tanggapan atas pengaduan jalan desa",
            body=LETTER_BODY,
        )
    )
    answered.append(
        LetterSigned(
            step=10, output="Ditandatangani", next_step=11, letter_version=2, letter_number="400.14/27/432.407/2026"
        )
    )
    referred.append(ReferralAnswered(answer="Perbaikan dijadwalkan bulan depan."))
    answered.append(ResponseSent(step=12, output="Terkirim", channel="lapor"))

    # the follower records each follow-up once: a batch done again (the checkpoint put back) writes nothing new
    while follower.round().more:
        pass
    with engine.begin() as conn:
        recorded = conn.execute(select(outbox.c.id).where(outbox.c.complaint_id.in_([answered.id, referred.id]))).all()
        conn.execute(update(checkpoints).where(checkpoints.c.name == follower.name).values(position=0))
    while follower.round().more:
        pass
    with engine.connect() as conn:
        again = conn.execute(select(outbox.c.id).where(outbox.c.complaint_id.in_([answered.id, referred.id]))).all()
        others = conn.execute(select(outbox.c.id).where(outbox.c.complaint_id == other.id)).all()
    assert sorted(again) == sorted(recorded) and len(recorded) == 7
    assert others == []  # not from LAPOR!: nothing to report

    # LAPOR! fails mid-way: a 500, then a follow-up done and its answer dropped, a call held past the timeout, and
    # the closing done and its answer dropped
    lapor.fail("follow_up", "error500", skip=1)
    lapor.fail("follow_up", "drop", skip=1)
    lapor.fail("follow_up", "timeout")
    lapor.fail("follow_up", "drop", skip=1)
    _drain(follower, sender, clock)
    assert all(f.times == 0 for f in lapor.state.faults)

    thread = lapor.follow_ups(first)
    assert [(f["jenis"], f["status"]) for f in thread] == [
        ("registered", "proses"),
        ("disposed", "proses"),
        ("clarified", "proses"),
        ("responded", "selesai"),
    ]
    closing = thread[-1]
    assert closing["nomor_surat"] == "400.14/27/432.407/2026"
    assert LETTER_BODY in closing["isi"] and "Tanggapan atas pengaduan jalan desa" in closing["isi"]
    assert "17/2026" in thread[0]["isi"]
    assert [(f["jenis"], f["status"]) for f in lapor.follow_ups(second)] == [
        ("registered", "proses"),
        ("referred", "proses"),
        ("referral_answered", "selesai"),
    ]
    everything = " ".join(f["isi"] for f in thread + lapor.follow_ups(second))
    for secret in (answered.code, referred.code, "jangan sebut", "Catatan internal"):
        assert secret not in everything  # the tracking code, the Camat's instructions, the unit's notes stay home
    assert len({f["key"] for f in thread}) == len(thread)
    with engine.connect() as conn:
        states = conn.execute(
            select(outbox.c.state, outbox.c.lapor_id).where(outbox.c.complaint_id == answered.id)
        ).all()
    assert {s.state for s in states} == {"sent"} and {s.lapor_id for s in states} == {f["id"] for f in thread}


def test_follow_ups_wait_for_the_report_to_be_handed_over(engine, lapor, parts):
    store, follower, sender, clock = parts
    instansi = f"INS-{uuid.uuid4().hex[:8]}"
    complaint = Stream(store, "lapor")
    complaint.append(
        ComplaintRegistered(
            step=3,
            output="Buku Register",
            next_step=4,
            register_number=20,
            register_year=2026,
            next_due_at=datetime.now(UTC),
        )
    )
    _drain(follower, sender, clock, rounds=2)
    with engine.connect() as conn:
        [waiting] = conn.execute(select(outbox.c.state).where(outbox.c.complaint_id == complaint.id)).all()
    assert waiting.state == "pending"  # the import has not recorded which LAPOR! report it is yet
    tracking_id = _handed_over(engine, lapor, instansi, complaint)
    _drain(follower, sender, clock, rounds=2)
    assert [f["jenis"] for f in lapor.follow_ups(tracking_id)] == ["registered"]


def test_a_follow_up_lapor_refuses_is_kept_for_a_person_and_the_next_goes_on(engine, lapor, parts):
    store, follower, sender, clock = parts
    instansi = f"INS-{uuid.uuid4().hex[:8]}"
    complaint = Stream(store, "lapor")
    tracking_id = _handed_over(engine, lapor, instansi, complaint)
    [restored] = [r for r in lapor.state.reports if r.body["tracking_id"] == tracking_id]
    lapor.state.reports.remove(restored)  # LAPOR! does not know it (any more)
    complaint.append(
        ComplaintRegistered(
            step=3,
            output="Buku Register",
            next_step=4,
            register_number=21,
            register_year=2026,
            next_due_at=datetime.now(UTC),
        )
    )
    _drain(follower, sender, clock, rounds=2)
    with engine.connect() as conn:
        [row] = conn.execute(
            select(outbox.c.state, outbox.c.last_error).where(outbox.c.complaint_id == complaint.id)
        ).all()
    assert row.state == "failed" and "404" in row.last_error
    [follow_up_id] = [f"{i}" for (i,) in _ids(engine, complaint)]
    assert any(follow_up_id in line and "404" in line for line in cli.status(engine))
    # a person mends it (LAPOR! finds the report again) and sends it again: it goes, once
    lapor.state.reports.append(restored)
    assert cli.retry(engine, follow_up_id) == (0, 1)
    _drain(follower, sender, clock, rounds=2)
    assert [f["jenis"] for f in lapor.follow_ups(tracking_id)] == ["registered"]


def _ids(engine, complaint):
    with engine.connect() as conn:
        return conn.execute(select(outbox.c.id).where(outbox.c.complaint_id == complaint.id)).all()


def test_a_reopening_and_a_keberatan_are_reported_after_the_closing(engine, lapor, parts):
    store, follower, sender, clock = parts
    instansi = f"INS-{uuid.uuid4().hex[:8]}"
    complaint = Stream(store, "lapor")
    tracking_id = _handed_over(engine, lapor, instansi, complaint)
    due = datetime.now(UTC) + timedelta(days=3)
    complaint.append(ResponseSent(step=12, output="Terkirim", channel="lapor"))
    complaint.append(ComplaintReopened(cause="feedback", reopening=1, unit="kesra", next_due_at=due, deadline_at=due))
    complaint.append(
        ClarificationGiven(step=5, output="Klarifikasi", next_step=6, explanation="Lagi.", next_due_at=due)
    )
    complaint.append(ResponseSent(step=12, output="Terkirim", channel="lapor"))
    complaint.append(ObjectionRaised(closing=2, due_at=due))
    complaint.append(ObjectionAnswered(decision="upheld", answer="Tanggapan kedua sudah sesuai ketentuan."))
    _drain(follower, sender, clock, rounds=8)
    thread = lapor.follow_ups(tracking_id)
    assert [(f["jenis"], f["status"]) for f in thread] == [
        ("responded", "selesai"),
        ("reopened", "proses"),
        ("clarified", "proses"),
        ("responded", "selesai"),
        ("objection", "proses"),
        ("objection_answered", "selesai"),
    ]
    assert "ditangani ulang oleh Seksi Kesejahteraan Sosial" in thread[1]["isi"]
    assert "sudah sesuai ketentuan" in thread[-1]["isi"]


def test_a_follow_ups_text_is_masked_of_the_complainants_data(engine, lapor, parts):
    """The attack review's finding: the staff's free texts went to LAPOR!, which shows follow-ups to the reporter
    and the public, as written; they are masked as the tracking page masks the same answers."""
    store, follower, sender, clock = parts
    instansi = f"INS-{uuid.uuid4().hex[:8]}"
    complaint = Stream(store, "lapor")
    tracking_id = _handed_over(engine, lapor, instansi, complaint)
    complaint.append(ResponseSent(step=12, output="Terkirim", channel="lapor"))
    complaint.append(ObjectionRaised(closing=1, due_at=datetime.now(UTC) + timedelta(days=3)))
    complaint.append(
        ObjectionAnswered(
            decision="upheld",
            answer="Sdr. Siti Aminah (NIK 3528071505900001, HP 081234567890) sudah kami temui; perbaikan terjadwal.",
        )
    )
    _drain(follower, sender, clock, rounds=4)
    [*_, answered] = lapor.follow_ups(tracking_id)
    assert "perbaikan terjadwal" in answered["isi"]
    for secret in ("Siti Aminah", "3528071505900001", "081234567890"):
        assert secret not in answered["isi"], answered["isi"]


def test_an_erasure_takes_the_complainants_words_out_of_the_bridge(engine, lapor, parts):
    store, follower, sender, clock = parts
    instansi = f"INS-{uuid.uuid4().hex[:8]}"
    complaint = Stream(store, "lapor")
    tracking_id = _handed_over(engine, lapor, instansi, complaint)
    complaint.append(ComplaintWithdrawn(reason="Dicabut."))
    _drain(follower, sender, clock, rounds=2)
    complaint.append(PersonalDataErased(reason="permintaan pengadu", requested_by="admin", request_id=uuid.uuid4()))
    _drain(follower, sender, clock, rounds=1)
    with engine.connect() as conn:
        texts = conn.execute(select(outbox.c.text, outbox.c.state).where(outbox.c.complaint_id == complaint.id)).all()
        report = conn.execute(select(inbox.c.report).where(inbox.c.tracking_id == tracking_id)).scalar_one()
    assert [(t.text, t.state) for t in texts] == [(ERASED_TEXT, "sent")]
    assert (report["title"], report["content"], report["attachments"]) == ("(dihapus)", "(dihapus)", [])
    assert [f["jenis"] for f in lapor.follow_ups(tracking_id)] == ["withdrawn"]  # nothing sent again


def test_an_event_the_follower_cannot_read_is_set_aside_and_the_others_go_on(engine, lapor, parts):
    store, follower, sender, clock = parts
    instansi = f"INS-{uuid.uuid4().hex[:8]}"
    broken, fine = Stream(store, "lapor"), Stream(store, "lapor")
    broken_id, fine_id = (_handed_over(engine, lapor, instansi, c) for c in (broken, fine))
    # a ComplaintRegistered whose payload does not decode (a bug elsewhere), then a later event of that complaint
    broken.version += 1
    bad = EventEnvelope(
        event_id=uuid.uuid4(),
        stream_id=f"complaint-{broken.id}",
        version=broken.version,
        kecamatan=KECAMATAN,
        type=ComplaintRegistered.type,
        schema_version=ComplaintRegistered.schema_version,
        occurred_at=datetime.now(UTC),
        actor=STAFF,
        correlation_id=uuid.uuid4(),
        payload={"step": 3, "output": "x"},
    )
    store.append(bad.stream_id, broken.version - 1, [bad])
    broken.append(ComplaintWithdrawn(reason="Dicabut."))
    fine.append(ComplaintWithdrawn(reason="Dicabut."))
    _drain(follower, sender, clock, rounds=2)
    assert [f["jenis"] for f in lapor.follow_ups(fine_id)] == ["withdrawn"]
    assert lapor.follow_ups(broken_id) == []  # its withdrawal waits behind the event that failed, not sent out of order
    lines = cli.status(engine)
    assert any("set aside: " in line and "held behind" in line for line in lines)
    with engine.connect() as conn:
        found = {g.name: g.value for g in gauges(conn) if g.labels.get("projection") == follower.name}
    assert found["pengaduan_projection_failures"] >= 1 and found["pengaduan_projection_held_events"] >= 1
    # its lag, now that it has a checkpoint: what the store holds after it (nothing once it has caught up)
    with engine.connect() as conn:
        lag = [g for g in gauges(conn) if g.name == "pengaduan_subscription_lag_events"]
        last = conn.execute(text("SELECT max(position) FROM workflow.events")).scalar_one()
        position = conn.execute(
            text("SELECT position FROM lapor.checkpoints WHERE name = :n"), {"n": follower.name}
        ).scalar_one()
    assert [(g.labels, g.value) for g in lag] == [({"subscription": follower.name}, last - position)]
