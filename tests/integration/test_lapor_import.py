"""Reports in from SP4N-LAPOR! (services/lapor/importer.py): the fake LAPOR! (devtools/lapor) disposes reports to a
kecamatan's instansi; the bridge polls them into its inbox, hands each to intake's real API (over a socket, through a
TCP proxy that can lose intake's answer after intake committed) as channel ``lapor`` and acknowledges it to LAPOR!.
With LAPOR! and intake failing mid-way (a 500 on a poll, a poll past the timeout, an attachment that fails, an
acknowledgement done and its answer dropped, intake's answer lost after its commit), every report becomes exactly
one complaint in intake, with its attachments, and is acknowledged once."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn
from PIL import Image
from sqlalchemy import select

from devtools.lapor.server import DEV_TOKEN, LaporServer
from services.intake.adapters.tables import attachments, submissions
from services.intake.bootstrap import bootstrap as intake_bootstrap
from services.intake.config import IntakeSettings
from services.intake.entrypoints.api import create_app
from services.lapor import cli
from services.lapor.adapters.gauges import gauges
from services.lapor.adapters.intake import IntakeClient
from services.lapor.adapters.tables import cursors, inbox
from services.lapor.bootstrap import bootstrap
from services.lapor.config import LaporSettings
from services.lapor.importer import Importer
from tests.support.servers_http import serve_in_thread
from tests.support.tcp_proxy import TcpProxy

WEBHOOK_TOKEN = "test-lapor-webhook-token-0123456789abcdef"
KECAMATAN = "pegantenan"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


class Clock:
    """The bridge's clock: each round an hour later, so every retry is due."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self) -> None:
        self.now += timedelta(hours=1)


@pytest.fixture
def intake_url(settings, engine):
    intake = intake_bootstrap(IntakeSettings(**settings.model_dump(), lapor_webhook_token=WEBHOOK_TOKEN))
    config = uvicorn.Config(create_app(intake), host="127.0.0.1", port=0, log_level="warning")
    with serve_in_thread(config) as url:
        yield url
    intake.engine.dispose()


@pytest.fixture
def lapor():
    with LaporServer(hold=1.5) as server:
        yield server


def _importer(settings, engine, lapor, intake_url, instansi, clock) -> Importer:
    lapor_settings = LaporSettings.from_base(
        settings,
        lapor_url=lapor.url,
        lapor_token=DEV_TOKEN,
        lapor_webhook_token=WEBHOOK_TOKEN,
        lapor_intake_url=intake_url,
        lapor_instansi={KECAMATAN: instansi},
        lapor_timeout=0.8,
    )
    bridge = bootstrap(lapor_settings, engine)
    bridge.intake = IntakeClient(intake_url, WEBHOOK_TOKEN, timeout=5)
    return Importer(engine, bridge.api, bridge.intake, bridge.directory, lapor_settings, clock)


def _rows(engine, ids):
    with engine.connect() as conn:
        return {r.tracking_id: r for r in conn.execute(select(inbox).where(inbox.c.tracking_id.in_(ids))).all()}


def _submissions(engine, ids):
    keys = [f"lapor:{i}" for i in ids]
    with engine.connect() as conn:
        return conn.execute(select(submissions).where(submissions.c.idempotency_key.in_(keys))).all()


def test_every_report_becomes_one_complaint_with_lapor_and_intake_failing_mid_way(settings, engine, lapor, intake_url):
    instansi, run = f"INS-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex[:6]
    proxy = TcpProxy("127.0.0.1", int(intake_url.rsplit(":", 1)[1]))
    clock = Clock()
    importer = _importer(settings, engine, lapor, f"http://127.0.0.1:{proxy.port}", instansi, clock)

    def dispose(n: int, **kw) -> str:
        return lapor.dispose(instansi, tracking_id=f"{run}{n}", title=f"Laporan {n}", content=f"Isi laporan {n}.", **kw)

    ids = [
        dispose(1, category="Infrastruktur", reporter={"nama": "Siti", "telepon": "0812-3456-7890"}),
        dispose(2, files={"foto.png": _png(), "surat.docx": b"PK\x03\x04 not a photo"}),
        dispose(3, anonymous=True),  # pegantenan does not take anonymous complaints; LAPOR!'s it answers all the same
    ]
    # the first poll fails (500), the second is held past the timeout: nothing is recorded, the cursor stays
    lapor.fail("dispositions", "error500")
    importer.round()
    lapor.fail("dispositions", "timeout")
    clock.advance()
    importer.round()
    assert _rows(engine, ids) == {}
    # then: the first attachment fetch fails, intake's answer to the first hand-over is lost after its commit, the
    # first acknowledgement is done at LAPOR! and its answer dropped
    lapor.fail("attachment", "error500")
    proxy.cut_after(b"POST /v1/channels/lapor", b"HTTP/1.1 202")
    lapor.fail("acknowledge", "drop")
    for _ in range(3):
        clock.advance()
        importer.round()
    # more reports come while the bridge runs; a poll drops its answer
    ids += [dispose(4), dispose(5, confidential=True, reporter={"nama": "Budi", "email": "budi@example.id"})]
    lapor.fail("dispositions", "drop")
    for _ in range(4):
        clock.advance()
        importer.round()
    proxy.close()

    assert proxy.cuts == 1
    assert all(f.times == 0 for f in lapor.state.faults)  # every failure happened
    assert lapor.requests("acknowledge") == len(ids) + 1  # the dropped one asked again
    rows = _rows(engine, ids)
    assert sorted(rows) == sorted(ids)
    assert {r.state for r in rows.values()} == {"submitted"}
    assert all(r.acknowledged_at is not None for r in rows.values())
    made = _submissions(engine, ids)
    assert len(made) == len(ids)  # one complaint each, nothing lost, nothing doubled
    assert {s.channel for s in made} == {"lapor"}
    assert {s.complaint_id for s in made} == {r.complaint_id for r in rows.values()}
    assert lapor.acknowledged() == {i: str(rows[i].complaint_id) for i in ids}
    # the reporter's identity is intake's now, not the inbox's
    assert all(r.report["reporter_name"] is None for r in rows.values())
    by_key = {s.idempotency_key: s for s in made}
    assert by_key[f"lapor:{run}1"].received_at is not None
    assert f"[SP4N-LAPOR! #{run}1; kategori LAPOR!: Infrastruktur]" in by_key[f"lapor:{run}1"].description
    with engine.connect() as conn:
        kept = conn.execute(
            select(attachments.c.content_type).where(attachments.c.submission_id == by_key[f"lapor:{run}2"].id)
        ).all()
    assert [k.content_type for k in kept] == ["image/png"]
    assert "surat.docx" in by_key[f"lapor:{run}2"].description  # a file intake may not keep: a note, not a loss
    with engine.connect() as conn:
        cursor = conn.execute(select(cursors.c.cursor).where(cursors.c.instansi_id == instansi)).scalar()
    assert cursor is not None
    # and a later round finds nothing new to do
    clock.advance()
    assert importer.round().handled == 0
    assert len(_submissions(engine, ids)) == len(ids)


def test_a_report_intake_refuses_is_kept_for_a_person(settings, engine, lapor, intake_url):
    instansi, run = f"INS-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex[:6]
    clock = Clock()
    importer = _importer(settings, engine, lapor, intake_url, instansi, clock)
    importer.settings = importer.settings.model_copy(update={"lapor_instansi": {"tidak-ada": instansi}})
    tracking_id = lapor.dispose(instansi, tracking_id=f"{run}1", title="Judul", content="Isi.")
    importer.round()
    row = _rows(engine, [tracking_id])[tracking_id]
    assert row.state == "refused" and "unknown_kecamatan" in row.last_error
    assert _submissions(engine, [tracking_id]) == []
    assert lapor.acknowledged() == {}
    with engine.connect() as conn:  # the operators see it waiting for a person
        refused = [g for g in gauges(conn) if g.name == "pengaduan_lapor_reports" and g.labels["state"] == "refused"]
    assert refused[0].value >= 1
    assert any(tracking_id in line and "unknown_kecamatan" in line for line in cli.status(engine))


def test_intakes_lapor_route_wants_its_secret_and_the_reports_own_key(settings, engine):
    from fastapi.testclient import TestClient

    body = {
        "kecamatan": KECAMATAN,
        "lapor_id": "42",
        "subject": "Judul",
        "description": "Isi.",
        "complainant": {"anonymous": True},
        "received_at": datetime.now(UTC).isoformat(),
    }
    form = {"complaint": json.dumps(body)}
    off = intake_bootstrap(IntakeSettings(**settings.model_dump()))
    with TestClient(create_app(off)) as client:
        answer = client.post("/v1/channels/lapor", data=form, headers={"Idempotency-Key": "lapor:42"})
        assert (answer.status_code, answer.json()["code"]) == (503, "channel_not_configured")
    on = intake_bootstrap(IntakeSettings(**settings.model_dump(), lapor_webhook_token=WEBHOOK_TOKEN))
    with TestClient(create_app(on)) as client:
        headers = {"Idempotency-Key": "lapor:42", "X-Webhook-Token": "wrong"}
        assert client.post("/v1/channels/lapor", data=form, headers=headers).status_code == 401
        headers = {"Idempotency-Key": "lapor:43", "X-Webhook-Token": WEBHOOK_TOKEN}
        answer = client.post("/v1/channels/lapor", data=form, headers=headers)
        assert (answer.status_code, answer.json()["code"]) == (422, "idempotency_key_mismatch")
    assert _submissions(engine, ["42", "43"]) == []


def test_intakes_lapor_route_refuses_what_no_report_holds_and_kecamatan_not_bridged(settings, engine):
    """The attack review's findings: a NUL in the subject (was a 500), a disposition time out of this world (a
    complaint intake kept and the workflow could not record), a kecamatan the bridge does not serve here (the
    token is the bridge's: it writes for its own kecamatan only)."""
    from fastapi.testclient import TestClient

    def body(**changes) -> dict:
        values = {
            "kecamatan": KECAMATAN,
            "lapor_id": "77",
            "subject": "Judul",
            "description": "Isi.",
            "complainant": {"anonymous": True},
            "received_at": datetime.now(UTC).isoformat(),
        }
        return {"complaint": json.dumps({**values, **changes})}

    on = intake_bootstrap(
        IntakeSettings(**settings.model_dump(), lapor_webhook_token=WEBHOOK_TOKEN, lapor_instansi={KECAMATAN: "INS"})
    )
    headers = {"Idempotency-Key": "lapor:77", "X-Webhook-Token": WEBHOOK_TOKEN}
    with TestClient(create_app(on)) as client:
        for changes in (
            {"subject": "a\x00b"},
            {"received_at": "9999-12-31T00:00:00+00:00"},
            {"received_at": "2026-12-01T10:00:00"},  # no offset
            {"received_at": "2001-01-01T00:00:00+00:00"},
            {"subject": "   "},
        ):
            answer = client.post("/v1/channels/lapor", data=body(**changes), headers=headers)
            assert answer.status_code == 422, (changes, answer.text)
        answer = client.post("/v1/channels/lapor", data=body(kecamatan="batumarmar"), headers=headers)
        assert (answer.status_code, answer.json()["code"]) == (403, "kecamatan_not_bridged")
    assert _submissions(engine, ["77"]) == []
    with pytest.raises(ValueError):  # a guessable secret is refused when the settings are read
        IntakeSettings(**settings.model_dump(), lapor_webhook_token="short")
