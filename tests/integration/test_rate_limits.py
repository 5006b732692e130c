"""Issue #12, item 6: anonymous endpoints are limited per client address in the application (Redis, shared by
every replica), X-Forwarded-For is believed only from trusted proxies, the complaint form is no SMS cannon,
and Open311 API keys work from the real settings. Over real PostgreSQL and Redis; every app as its process
builds it, behind uvicorn's proxy-header handling as `pengaduan api` runs it."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from services.intake.adapters.tables import submissions
from services.intake.bootstrap import bootstrap as intake_bootstrap
from services.intake.config import IntakeSettings
from services.intake.entrypoints.api import create_app as intake_app
from services.letters.bootstrap import bootstrap as letters_bootstrap
from services.letters.config import LettersSettings
from services.letters.entrypoints.api import create_app as letters_app
from services.notify.adapters.tables import deliveries
from services.notify.bootstrap import bootstrap as notify_bootstrap
from services.notify.config import NotifySettings
from services.notify.domain.delivery import THROTTLED
from services.notify.handlers.planning import plan_event
from services.web.adapters.api_client import Api
from services.web.config import WebSettings
from services.web.entrypoints.api import create_app as web_app
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from tests.integration.test_notify import first_event_id, new_complaint
from tests.support.addresses import unique_address
from tests.support.complaints import valid_body

TRUSTED = "testclient"  # the test client's peer name: it plays the reverse proxy


def behind_proxy(app) -> TestClient:
    return TestClient(ProxyHeadersMiddleware(app, trusted_hosts=TRUSTED))


def address() -> str:
    return unique_address()


def from_(addr: str, **headers) -> dict[str, str]:
    return {"X-Forwarded-For": addr, **headers}


def stored(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(submissions)).scalar_one()


@pytest.fixture(scope="module")
def limited(settings):
    return settings.model_copy(update={"rate_limit_submissions": "3/minute", "rate_limit_tracking": "4/minute"})


@pytest.fixture(scope="module")
def intake(limited):
    with behind_proxy(intake_app(intake_bootstrap(IntakeSettings(**limited.model_dump())))) as c:
        yield c


def test_anonymous_submissions_are_limited_per_address_with_retry_after(intake, engine):
    me, other = address(), address()
    for _ in range(3):
        assert intake.post("/v1/complaints", json=valid_body(), headers=from_(me)).status_code == 202
    before = stored(engine)
    refused = intake.post("/v1/complaints", json=valid_body(), headers=from_(me))
    assert refused.status_code == 429, refused.text
    body = refused.json()
    assert body["code"] == "rate_limited" and "Terlalu banyak pengaduan" in body["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert stored(engine) == before  # nothing half-written
    assert intake.post("/v1/complaints", json=valid_body(), headers=from_(other)).status_code == 202


def test_invalid_submissions_count_too(intake):
    """Validation costs CPU too (and the form's scans more): a flood of bad bodies is limited like good ones."""
    me = address()
    for _ in range(3):
        assert intake.post("/v1/complaints", json={"kecamatan": "x"}, headers=from_(me)).status_code == 422
    assert intake.post("/v1/complaints", json=valid_body(), headers=from_(me)).status_code == 429


def test_the_form_endpoint_shares_the_submission_limit(intake):
    me = address()
    for _ in range(3):
        intake.post("/v1/complaints", json=valid_body(), headers=from_(me))
    r = intake.post("/v1/complaints/form", headers=from_(me), files={"complaint": (None, "{}")})
    assert r.status_code == 429 and r.json()["code"] == "rate_limited"


def test_tracking_is_limited_per_address(intake):
    me = address()
    code = intake.post("/v1/complaints", json=valid_body(), headers=from_(address())).json()["tracking_code"]
    answers = [intake.get(f"/v1/track/{code}", headers=from_(me)).status_code for _ in range(5)]
    assert answers[-1] == 429
    assert intake.get(f"/v1/track/{code}", headers=from_(address())).status_code in (200, 404)  # others unaffected


def test_guessing_tracking_codes_is_limited(intake):
    me = address()
    answers = [intake.get(f"/v1/track/ZZZZ-ZZZZ-{i:02d}", headers=from_(me)).status_code for i in range(6)]
    assert answers[:4] == [404] * 4 and answers[4:] == [429, 429]


def test_the_citizens_pdfs_by_tracking_code_are_limited(limited):
    with behind_proxy(letters_app(letters_bootstrap(LettersSettings(**limited.model_dump())))) as c:
        me = address()
        answers = [c.get("/v1/letters/track/ZZZZ-ZZZZ-ZZ/receipt", headers=from_(me)).status_code for _ in range(5)]
        assert answers == [404, 404, 404, 404, 429]


def test_a_client_cannot_choose_its_address_without_a_trusted_proxy(limited):
    """X-Forwarded-For from a peer that is not a trusted proxy is ignored: every request counts for the peer."""
    app = intake_app(intake_bootstrap(IntakeSettings(**limited.model_dump())))
    with TestClient(ProxyHeadersMiddleware(app, trusted_hosts="192.0.2.1")) as c:
        answers = [c.post("/v1/complaints", json=valid_body(), headers=from_(address())).status_code for _ in range(4)]
    assert answers == [202, 202, 202, 429]


def test_submissions_still_work_when_the_counters_are_away(settings, engine):
    """Anonymous limits fail open: a Redis outage must not stop citizens from filing (it is logged)."""
    away = IntakeSettings(**settings.model_dump()).model_copy(update={"cache_url": "redis://127.0.0.1:1/0"})
    with behind_proxy(intake_app(intake_bootstrap(away))) as c:
        assert c.post("/v1/complaints", json=valid_body(), headers=from_(address())).status_code == 202


def test_open311_posts_are_limited_and_need_a_configured_key(limited, engine, monkeypatch):
    """PENGADUAN_OPEN311_API_KEYS works as documented: read by intake's own settings (from the environment,
    as `pengaduan api intake` reads it), a POST without a listed key is refused."""
    monkeypatch.setenv("PENGADUAN_OPEN311_API_KEYS", "kunci-aplikasi-a,kunci-aplikasi-b")
    for name, value in limited.model_dump().items():
        if isinstance(value, (str, int, float, bool)):
            monkeypatch.setenv(f"PENGADUAN_{name.upper()}", str(value))
    assert IntakeSettings().open311_api_keys
    app = intake_app()  # as `pengaduan api intake` builds it: settings from the environment
    form = {
        "jurisdiction_id": "pegantenan",
        "service_code": "infrastruktur",
        "description": "Lampu jalan di Desa Tebul mati sejak seminggu.",
        "email": "warga@example.id",
    }
    with behind_proxy(app) as c:
        me = address()
        keyless = c.post("/open311/v2/requests.json", data=form, headers=from_(me))
        assert keyless.status_code == 403
        keyed = [
            c.post(
                "/open311/v2/requests.json", data={**form, "api_key": "kunci-aplikasi-b"}, headers=from_(me)
            ).status_code
            for _ in range(3)
        ]
        assert keyed == [201, 201, 429]  # the refused keyless POST counted too: 3 a minute


class _Recorder:
    """Stands in for the APIs behind the web app: a real ASGI app that answers and keeps the headers it got."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        self.seen.append({k.decode(): v.decode() for k, v in scope["headers"]})
        await send({"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"application/json")]})
        await send(
            {
                "type": "http.response.body",
                "body": b'{"code":"invalid_credentials","message":"Nama pengguna atau kata sandi salah."}',
            }
        )


def test_the_web_app_passes_the_visitors_address_on_to_the_apis(settings):
    recorder = _Recorder()
    api = Api("http://api.test", transport=httpx.ASGITransport(app=recorder))
    app = web_app(WebSettings(**settings.model_dump()), api=api)
    with behind_proxy(app) as c:
        page = c.get("/masuk", headers=from_("203.0.113.9"))
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        c.post(
            "/masuk",
            data={"username": "staf.x", "password": "salah-sekali", "csrf_token": csrf},
            headers=from_("203.0.113.9"),
        )
    assert recorder.seen and recorder.seen[-1]["x-forwarded-for"] == "203.0.113.9"


def test_acknowledgments_to_one_recipient_are_throttled(settings, engine):
    """Anyone can file a complaint with anyone's number: after the limit, the acknowledgment is not sent but
    recorded as failed (staff see it on the complaint); another recipient is not affected."""
    wf = workflow_bootstrap(settings)
    notify = notify_bootstrap(
        NotifySettings(
            **{
                **settings.model_dump(),
                "rate_limit_acknowledgments_per_recipient": "2/hour",
                "sms_provider": "http",
                "sms_url": "http://127.0.0.1:9/sms",
            }
        )
    )
    try:
        victim = f"+62812{uuid.uuid4().int % 10**7:07d}"
        states = []
        for _ in range(3):
            cid, _ = new_complaint(wf, "sms", phone=victim, email=None)
            event_id = first_event_id(wf, cid)
            plan_event(notify, event_id, send_now=False)
            plan_event(notify, event_id, send_now=False)  # a redelivered task: not counted twice
            with notify.engine.connect() as conn:
                (row,) = conn.execute(select(deliveries).where(deliveries.c.complaint_id == cid)).mappings().all()
            states.append((row["state"], row["last_error"]))
        assert [s for s, _ in states] == ["pending", "pending", "failed"]
        assert states[2][1] == THROTTLED
        cid, _ = new_complaint(wf, "sms", phone=f"+62813{uuid.uuid4().int % 10**7:07d}", email=None)
        plan_event(notify, first_event_id(wf, cid), send_now=False)
        with notify.engine.connect() as conn:
            assert (
                conn.execute(select(deliveries.c.state).where(deliveries.c.complaint_id == cid)).scalar_one()
                == "pending"
            )
    finally:
        notify.celery.control.purge()
        notify.engine.dispose()
        wf.engine.dispose()


def test_one_ipv6_subscriber_is_one_client(intake):
    """An IPv6 subscriber holds a whole /64: addresses in it count as one client; another /64 is another."""
    net = f"2001:db8:{uuid.uuid4().int % 65535:x}:1"
    answers = [
        intake.post("/v1/complaints", json=valid_body(), headers=from_(f"{net}::{i + 1:x}")).status_code
        for i in range(4)
    ]
    assert answers == [202, 202, 202, 429]
    assert intake.post("/v1/complaints", json=valid_body(), headers=from_(f"{net[:-1]}2::1")).status_code == 202


def test_sub_addresses_and_gmail_dots_count_as_one_mailbox():
    from services.notify.domain.delivery import mailbox as _mailbox

    assert len({_mailbox(a) for a in ("korban@example.id", "Korban+1@Example.id", "korban+xyz@example.id")}) == 1
    assert _mailbox("k.o.r.b.a.n+2@googlemail.com") == _mailbox("korban@gmail.com") == "korban@gmail.com"
    assert _mailbox("k.orban@example.id") != _mailbox("korban@example.id")  # dots matter elsewhere
    assert _mailbox("+6281234567890") == "+6281234567890"
