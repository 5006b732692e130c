"""docker-compose.yml brought up for real (issue #19 item 1): on podman with runc, the images built here from
Debian's packages (deploy/ci/images.py), the production file plus deploy/ci/docker-compose.ci.yml. Then driven
from outside, through nginx's HTTPS port only, as a citizen and the kecamatan's staff would: every service's
/healthz; a complaint in; its 12 steps, each by its own role; the signed letter, checked by pyHanko against the
kecamatan's CA and by the letters API; the acknowledgment and the letter out to the mail server; then a worker kind
scaled to three and the work seen spread over them; then everything stopped, each process by its signal, none
killed. `make compose-test` runs it; .ci/run too."""

from __future__ import annotations

import io
import json
import re
import ssl
import time
import uuid
from collections import Counter

import httpx
import pytest
from pyhanko.keys import load_certs_from_pemder_data
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature, validate_pdf_timestamp
from pyhanko_certvalidator import ValidationContext

from tests.compose.stack import APIS, BACKGROUND, FRONT, INFRA, INTEGRATION_TOKENS
from tests.support.complaints import valid_body
from tests.support.walk import PASSWORD, WALK, act

# the stack comes up in the first test's time: up to ~10 minutes on a busy machine
pytestmark = [pytest.mark.compose, pytest.mark.timeout(1800)]

SERVICES = {"intake", "workflow", "letters", "dashboard", "web"}


def wait_for(what: str, probe, timeout: float = 120.0, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="module")
def http(stack):
    """A client of the one base URL, trusting only the stack's own (self-signed) certificate."""
    context = ssl.create_default_context(cafile=str(stack.secrets / "tls_certificate.pem"))
    with httpx.Client(base_url=stack.base_url, verify=context, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(http):
    out = {}
    for user in {who for _, who, _, _ in WALK}:
        r = http.post("/v1/auth/token", data={"username": user, "password": PASSWORD})
        assert r.status_code == 200, r.text
        out[user] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return out


def outbox(stack) -> list[dict]:
    """What reached the mail and SMS sinks (their outbox, read inside the compose network: it is not published)."""
    done = stack.podman(
        "exec", stack.container("sinks"), "python", "-c",
        "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8025/dev/outbox/messages').read().decode())",
    )  # fmt: skip
    return json.loads(done.stdout)


def submit(http, email: str, key: str) -> str:
    body = valid_body(**{"complainant.email": email, "complainant.nik": f"35280715059{uuid.uuid4().int % 10**5:05d}"})
    r = http.post("/v1/complaints", json=body, headers={"Idempotency-Key": key})
    assert r.status_code == 202, r.text
    return r.json()["tracking_code"]


def receipts_made(log: str) -> int:
    """Receipts (tanda terima) a letters worker made, by its log: the issue_receipt tasks that succeeded."""
    return len(re.findall(r"Task letters\.issue_receipt\[[^\]]+\] succeeded in", log))


def receipt(http, code: str) -> httpx.Response | None:
    r = http.get(f"/v1/letters/track/{code}/receipt")
    return r if r.status_code == 200 else None


def test_every_service_is_up_behind_the_proxy_and_healthy(stack, http):
    running = {c["Labels"]["com.docker.compose.service"] for c in stack.containers()}
    assert set(INFRA) | set(APIS) | set(BACKGROUND) | set(FRONT) <= running, running
    exited = {c["Labels"]["com.docker.compose.service"]: c["ExitCode"] for c in stack.containers(all_states=True)}
    assert exited["migrate"] == 0 and exited["seed-demo"] == 0

    # the stack is up when every service's own health check passes (stack.py); the aggregate asks each for its
    # /healthz with 3 s to answer, which a service still warming up on a busy machine (the first start after the
    # images were built: every container at once on 2 cores) may miss: healthy within a minute, then checked
    deadline = time.monotonic() + 60
    health = http.get("/healthz")
    while health.status_code != 200 and time.monotonic() < deadline:
        time.sleep(2)
        health = http.get("/healthz")
    assert health.status_code == 200, health.text
    body = health.json()
    assert body["status"] == "ok", body
    assert {s["service"] for s in body["services"]} == SERVICES
    for service in SERVICES:  # each API's own, through nginx
        own = http.get(f"/{service}/healthz")
        assert own.status_code == 200 and own.json()["status"] == "ok", own.text
    assert http.get("/docs").status_code == 200
    assert "/v1/complaints" in http.get("/openapi.json").json()["paths"]
    # port 80 only sends people to HTTPS
    plain = httpx.get(f"http://localhost:{stack.http_port}/", follow_redirects=False, timeout=10)
    assert plain.status_code in (301, 308) and plain.headers["location"].startswith("https://")
    home = http.get("/")
    assert home.status_code == 200 and "Buat pengaduan" in home.text
    assert "max-age" in home.headers["strict-transport-security"]


def test_a_complaint_walks_all_twelve_steps_and_its_signed_letter_goes_out(stack, http, tokens):
    email = f"compose-{uuid.uuid4().hex[:8]}@example.id"
    code = submit(http, email, f"compose-walk-{uuid.uuid4()}")
    staf = tokens["staf.pegantenan"]

    def found():  # in the inbox of the Kasi, whose step (2, verifying the identity) it waits at
        items = http.get("/v1/inbox", params={"q": code}, headers=tokens["kasi.pegantenan"]).json()
        return [i for i in items if i["tracking_code"] == code]

    [item] = wait_for("the complaint in the staff's inbox (relay, worker, projection)", found)
    cid = item["id"]
    for step, who, action, fields in WALK:
        now = http.get(f"/v1/complaints/{cid}", headers=tokens[who]).json()
        assert now["current_step"]["number"] == step, now["current_step"]
        done = wait_for(
            f"{action} to be accepted",
            lambda who=who, action=action, fields=fields: act(http, cid, tokens[who], action, fields),
            timeout=180 if action == "archive-letter" else 60,  # archive waits for the signed document
        )
    # `otomatis`: notify sends the letter by e-mail, and the mail server's acceptance closes the complaint
    done = wait_for(
        "the letter sent and the complaint closed",
        lambda: (lambda b: b if b["status"] == "closed" else None)(
            http.get(f"/v1/complaints/{cid}", headers=staf).json()
        ),
        timeout=120,
    )
    assert done["outcome"] == "resolved" and done["current_step"] is None
    assert done["letter_number"] and done["register_number"]

    # the signed letter: pyHanko checks it against the kecamatan's CA (from the letters volume) ...
    documents = http.get(f"/v1/letters/complaints/{cid}", headers=staf)
    assert documents.status_code == 200, documents.text
    [letter] = [d for d in documents.json() if d["kind"] == "response_letter"]
    assert letter["letter_number"] == done["letter_number"]
    pdf = http.get(f"/v1/letters/{letter['id']}/pdf", headers=staf)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    ca = stack.podman("exec", stack.container("letters-api"), "cat", "/data/signing/ca.crt").stdout.encode()
    reader = PdfFileReader(io.BytesIO(pdf.content))
    [signature] = reader.embedded_regular_signatures
    trusting_the_ca = ValidationContext(trust_roots=list(load_certs_from_pemder_data(ca)), allow_fetching=False)
    status = validate_pdf_signature(signature, trusting_the_ca)
    assert status.bottom_line and status.intact and status.valid and status.trusted
    # PAdES B-LTA: the settings file's timestamp authority (PENGADUAN_TSA_URL, the `tsa` service) stamped the
    # signature, and the document timestamp over the validation data covers the whole file (the last revision)
    assert status.timestamp_validity is not None and status.timestamp_validity.valid
    assert status.timestamp_validity.trusted, "the signature's timestamp does not chain to the CA"
    [document_timestamp] = reader.embedded_timestamp_signatures
    stamped = validate_pdf_timestamp(document_timestamp, validation_context=trusting_the_ca)
    assert stamped.intact and stamped.valid and stamped.trusted
    assert stamped.coverage == SignatureCoverageLevel.ENTIRE_FILE
    # ... and the public verification answers for it, the PDF uploaded as anyone holding it would
    check = http.post("/v1/letters/verify", content=pdf.content, headers={"Content-Type": "application/pdf"})
    assert check.status_code == 200, check.text
    assert check.json()["valid"] and check.json()["letter_number"] == done["letter_number"]

    # the messages out: the acknowledgment and the letter, at the mail server, to the complainant's address
    def mails():
        mine = [m for m in outbox(stack) if m["channel"] == "email" and email in json.dumps(m)]
        return mine if len(mine) >= 2 else None

    sent = wait_for("the acknowledgment and the letter at the mail server", mails, timeout=120)
    assert any(code in (m.get("subject") or "") + (m.get("text") or "") for m in sent)
    tracked = http.get(f"/v1/track/{code}")
    assert tracked.status_code == 200 and tracked.json()["status"] == "closed"


def test_the_kabupatens_integrations_reach_the_processes(stack, http):
    """docs/adr/0033: a setting from the .env file (the e-mail webhook's token) and a credential from
    secrets/integrations/ (the SMS webhook's) configure intake as production reads them: a wrong token is refused
    (401, not 503 "channel not configured"), the right one lets the request through to its next check."""
    for channel, token, body, content_type, after_token in (
        ("sms", INTEGRATION_TOKENS["sms"], b"{}", "application/json", 422),  # then: the fields are missing
        ("email", INTEGRATION_TOKENS["email"], b"not mime", "text/plain", 415),  # then: not message/rfc822
    ):
        path = f"/v1/channels/{channel}"
        wrong = http.post(path, content=body, headers={"Content-Type": content_type, "X-Webhook-Token": "salah"})
        assert wrong.status_code == 401 and wrong.json()["code"] == "webhook_unauthorized", (channel, wrong.text)
        right = http.post(path, content=body, headers={"Content-Type": content_type, "X-Webhook-Token": token})
        assert right.status_code == after_token, (channel, right.text)
    # the WhatsApp webhook's secrets were given neither way: not configured, said so
    check = http.get("/v1/channels/whatsapp", params={"hub.mode": "subscribe", "hub.verify_token": "x"})
    assert check.status_code == 503, check.text
    # and what an operator runs to see it: where each came from, no value (in the letters service's container, which
    # the CI runs in development: production's would refuse the TSA without its CA file, as it should)
    said = stack.podman("exec", stack.container("letters-api"), "pengaduan", "integrations").stdout
    lines = {line.split("  ")[0]: line for line in said.splitlines()[1:]}
    assert "/run/secrets/integrations/pengaduan_sms_webhook_token" in lines["SMS in (POST /v1/channels/sms)"]
    assert "PENGADUAN_EMAIL_WEBHOOK_TOKEN (environment)" in lines["e-mail in (POST /v1/channels/email)"]
    assert " on " in lines["timestamp authority"] and "http://tsa:8026," in lines["timestamp authority"]
    assert " off " in lines["WhatsApp in (POST /v1/channels/whatsapp)"]
    assert not any(token in said for token in INTEGRATION_TOKENS.values())


def test_a_worker_kind_scaled_to_three_shares_the_work(stack, http):
    stack.compose("up", "-d", "--no-deps", "--scale", "worker-letters=3", "worker-letters")
    workers = wait_for(
        "three letters workers",
        lambda: (lambda cs: cs if len(cs) == 3 else None)(stack.containers("worker-letters")),
        timeout=120,
    )
    names = sorted(c["Names"][0] for c in workers)
    wait_for(
        "the new workers to join the queue",
        lambda: all("ready." in text for text in stack.logs("worker-letters").values()),
        timeout=120,
    )
    before = {name: receipts_made(text) for name, text in stack.logs("worker-letters").items()}
    # each complaint received makes a receipt (tanda terima): one task on the letters queue
    codes = [
        submit(http, f"scale-{i}-{uuid.uuid4().hex[:6]}@example.id", f"compose-scale-{uuid.uuid4()}") for i in range(18)
    ]

    def receipts_done():
        done = Counter()
        for name, text in stack.logs("worker-letters").items():
            done[name] = receipts_made(text) - before.get(name, 0)
        return done if sum(done.values()) >= len(codes) else None

    done = wait_for("every receipt made", receipts_done, timeout=240, interval=2)
    assert sum(done.values()) == len(codes), dict(done)  # one receipt each, none made twice
    busy = [name for name in names if done[name] > 0]
    assert len(busy) >= 2, f"the work did not spread: {dict(done)}"
    for code in codes:  # and every complainant can fetch their receipt
        pdf = wait_for(f"the receipt of {code}", lambda code=code: receipt(http, code), timeout=60)
        assert pdf.content.startswith(b"%PDF")


def test_it_stops_cleanly(stack):
    running = [c["Names"][0] for c in stack.containers()]
    # podman-compose stops the containers its file names, dependants before what they depend on; the replicas
    # `--scale` added it does not know, so they go first, as `docker compose stop` would stop them (before Redis:
    # a Celery worker whose broker has gone does not finish its warm shutdown, and is killed after the grace)
    extra = sorted(n for n in running if "_worker-letters_" in n and not n.endswith("_1"))
    assert len(extra) == 2, running
    stack.podman("stop", "--time", "60", *extra, timeout=300)
    stack.compose("stop", timeout=600)
    states = {c["Names"][0]: c for c in stack.containers(all_states=True)}
    assert not [name for name, c in states.items() if c["State"] == "running"]
    # the application's processes end on SIGTERM by themselves (exit 0), none killed after the grace period
    killed = {name: states[name]["ExitCode"] for name in running if states[name]["ExitCode"] in (137, -1)}
    assert not killed, f"killed instead of stopping: {killed}"
    app = [n for n in running if not any(k in n for k in ("_postgres_", "_redis_", "_minio_", "_proxy_"))]
    failed = {n: states[n]["ExitCode"] for n in app if not stopped_cleanly(stack, n, states[n]["ExitCode"])}
    assert not failed, f"exited with an error on stop: {failed}"


def stopped_cleanly(stack, name: str, code: int) -> bool:
    """0; or, for the HTTP processes, 143 after uvicorn's own graceful shutdown: uvicorn finishes the requests in
    flight and its lifespan, then raises the SIGTERM it caught again, so the exit says which signal ended it."""
    if code == 0:
        return True
    done = stack.podman("logs", name, check=False)
    return code == 143 and "Application shutdown complete." in done.stdout + done.stderr
