"""Odd input is a 4xx, never a 500, in every app: an empty Idempotency-Key, control characters in a URL (also
through the gateway), Open311 dates at the calendar's edges, invisible formatting characters and line breaks in
one-line fields, a body that cannot be parsed; and every 405 says which methods the path takes (``Allow``)."""

from __future__ import annotations

import socket
import threading
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from pengaduan.apps import gateway as create_gateway
from services.accounts.handlers import add_user
from services.workflow import handlers
from shared.gateway import GatewaySettings
from tests.support.complaints import new_complaint
from tests.support.processes import wait_until
from tests.support.web import web_client

PASSWORD = "kata-sandi-uji-yang-cukup-panjang"
BODY = {
    "kecamatan": "pegantenan",
    "complainant": {"name": "Siti Aminah", "nik": "3528071505900001", "phone": "081234567890"},
    "subject": "Jalan desa rusak",
    "description": "Jalan di Dusun Bunangka rusak sejak Januari dan belum diperbaiki.",
}


def complaint(**changes) -> dict:
    body = {**BODY, "complainant": dict(BODY["complainant"])}
    for key, value in changes.items():
        if key.startswith("complainant_"):
            body["complainant"][key.removeprefix("complainant_")] = value
        else:
            body[key] = value
    return body


@pytest.fixture(scope="module")
def stack(settings, engine, tmp_path_factory):  # engine: the kecamatan seeded, also when run alone
    """Every app in-process (intake, workflow, letters, dashboard with Open311, web), over the test database."""
    data = tmp_path_factory.mktemp("odd-input-data")
    with web_client(settings.model_copy(update={"data_dir": str(data)})) as web:
        yield web


@pytest.fixture(scope="module")
def apps(stack):
    from fastapi.testclient import TestClient

    clients = {name: TestClient(app, raise_server_exceptions=False) for name, app in stack.apps.items()}
    clients["web"] = stack
    return clients


@pytest.fixture(scope="module")
def staff(apps, engine) -> dict[str, dict[str, str]]:
    """A signed-in staf and camat of Pegantenan (real users, real sign-in)."""
    suffix = uuid.uuid4().hex[:6]
    result = {}
    for role in ("staf", "camat", "kasi"):
        username = f"odd{suffix}.{role}"
        add_user(
            engine,
            username,
            f"Pengguna Uji {role}",
            role,
            PASSWORD,
            kecamatan="pegantenan",
            unit="pemerintahan" if role == "kasi" else None,
        )
        r = apps["workflow"].post("/v1/auth/token", data={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        result[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return result


def assert_error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, (r.status_code, r.text[:300])
    body = r.json()
    assert body["code"] == code, body
    assert body["message"]  # a sentence a person can read
    return body


# --- Idempotency-Key ----------------------------------------------------------------------------------------


def test_an_empty_idempotency_key_is_a_422_every_time_and_nothing_is_stored(apps):
    for _ in range(2):  # it used to be stored as a key of its own: the second one was a 500
        r = apps["intake"].post("/v1/complaints", json=complaint(), headers={"Idempotency-Key": ""})
        body = assert_error(r, 422, "validation_error")
        assert body["errors"][0]["field"] == "idempotency-key"


def test_a_usable_idempotency_key_still_replays_the_first_answer(apps):
    key = f"odd-{uuid.uuid4()}"
    first = apps["intake"].post("/v1/complaints", json=complaint(), headers={"Idempotency-Key": key})
    again = apps["intake"].post("/v1/complaints", json=complaint(), headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 202, (first.text, again.text)
    assert first.json()["tracking_code"] == again.json()["tracking_code"]


def test_the_form_endpoint_refuses_an_empty_idempotency_key_too(apps):
    r = apps["intake"].post("/v1/complaints/form", data={"complaint": "{}"}, headers={"Idempotency-Key": ""})
    assert r.status_code == 422, r.text


# --- control characters and broken encodings in URLs -----------------------------------------------------------


@pytest.mark.parametrize(
    "app, url",
    [
        ("intake", "/v1/track/ABCD-EFGH-JK?x=%00"),
        ("intake", "/v1/track/%00ABCD"),
        ("dashboard", "/v1/register?kecamatan=pegantenan%00"),
        ("dashboard", "/open311/v2/requests?jurisdiction_id=peg%00antenan"),
        ("dashboard", "/open311/v2/requests/%0D%0AX-Injected:%201"),
        ("workflow", "/v1/complaints?status=%00"),
        ("letters", "/v1/letters/track/%00/receipt"),
        ("web", "/lacak/%00"),
        ("web", "/lacak?kode=%1B"),
        ("intake", "/v1/track/%FF%FE"),  # not UTF-8
        ("dashboard", "/v1/events?kecamatan=%C0%AF"),  # an overlong encoding: not UTF-8 either
    ],
)
def test_control_characters_or_broken_utf8_in_a_url_are_a_400(apps, staff, app, url):
    r = apps[app].get(url, headers=staff["staf"])
    body = assert_error(r, 400, "invalid_url")
    assert body["errors"][0]["code"] in ("invalid_character", "invalid_encoding")


@contextmanager
def serve(app: FastAPI):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10, message="uvicorn")
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_control_characters_in_a_path_through_the_gateway_are_a_400_and_the_gateway_keeps_serving(stack):
    with serve(stack.apps["intake"]) as intake, serve(create_gateway({"intake": intake}, GatewaySettings())) as gateway:  # noqa: SIM117
        with httpx.Client(base_url=gateway, timeout=10) as http:
            for path in ("/v1/track/%00abc", "/v1/track/ab%0Dc", "/v1/track/%7F", "/v1/track/%C0%AF"):
                assert_error(http.get(path), 400, "invalid_url")
            ok = http.get("/v1/track/ABCD-EFGH-JK")  # the same connection, the next request: served
            assert_error(ok, 404, "tracking_code_not_found")
            trace = http.request("TRACE", "/v1/track/ABCD-EFGH-JK")
            assert_error(trace, 405, "method_not_allowed")
            assert "GET" in trace.headers["allow"]


# --- Open311 dates ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"start_date": "0001-01-01T00:00:00+14:00"},
        {"end_date": "0001-01-01"},
        {"start_date": "0001-01-01", "end_date": "0001-01-02"},
        {"start_date": "9999-12-31"},
        {"end_date": "9999-12-31T23:59:59-12:00"},
        {"start_date": "9999-12-31T23:00:00+00:00", "end_date": "9999-12-31T23:30:00+00:00"},
    ],
)
def test_open311_dates_at_the_edges_of_the_calendar_are_a_400(apps, query):
    r = apps["dashboard"].get("/open311/v2/requests", params=query)
    assert r.status_code == 400, r.text
    assert r.json()[0]["code"] == 400 and "tahun" in r.json()[0]["description"]


def test_open311_dates_inside_the_range_still_search(apps):
    r = apps["dashboard"].get("/open311/v2/requests", params={"start_date": "2026-01-01", "end_date": "2026-02-01"})
    assert r.status_code == 200 and isinstance(r.json(), list)


# --- names and free text ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"subject": "Jalan rusak\r\nBcc: warga@example.id"}, "subject"),
        ({"subject": "Jalan rusak\u2028parah"}, "subject"),
        ({"complainant_name": "Siti\nAminah"}, "complainant.name"),
        ({"complainant_address": "Dusun Bunangka\rDesa Pegantenan"}, "complainant.address"),
    ],
)
def test_line_breaks_in_one_line_fields_are_a_422(apps, changes, field):
    r = apps["intake"].post("/v1/complaints", json=complaint(**changes))
    body = assert_error(r, 422, "validation_error")
    assert {"field": field, "code": "line_break_not_allowed"} in [
        {"field": e["field"], "code": e["code"]} for e in body["errors"]
    ]


def test_invisible_formatting_characters_are_removed_before_the_length_is_checked(apps):
    only_invisible = "\u200b\u200c\u200d\u2060\ufeff\u202e"
    r = apps["intake"].post("/v1/complaints", json=complaint(subject=only_invisible))
    body = assert_error(r, 422, "validation_error")
    assert body["errors"][0]["field"] == "subject" and body["errors"][0]["code"] == "string_too_short"
    r = apps["intake"].post(
        "/v1/complaints",
        json=complaint(
            complainant_name="\u202eSiti\u200b Aminah\u2066", description="Jalan rusak\r\nsejak Januari.\u202e"
        ),
    )
    assert r.status_code == 202, r.text  # stripped, accepted; line breaks in free text are fine


def test_staff_one_line_fields_refuse_line_breaks_and_free_text_loses_bidi_overrides(apps, staff, engine, stack):
    wf = stack.apps["workflow"].state.workflow
    cid = new_complaint(wf, "pegantenan")
    now = datetime.now(UTC)
    handlers.act(
        wf,
        cid,
        "verify-identity",
        {},
        expected_version=1,
        user_id="kasi.x",
        role="kasi",
        unit="pemerintahan",
        kecamatan="pegantenan",
        at=now,
        correlation_id=uuid.uuid4(),
    )
    handlers.act(
        wf,
        cid,
        "register",
        {},
        expected_version=2,
        user_id="staf.x",
        role="staf",
        unit=None,
        kecamatan="pegantenan",
        at=now,
        correlation_id=uuid.uuid4(),
    )
    r = apps["workflow"].post(
        f"/v1/complaints/{cid}/dispose",
        headers=staff["camat"],
        json={"expected_version": 3, "unit": "pemerintahan\r\nX", "instructions": "Tindak lanjuti"},
    )
    body = assert_error(r, 422, "validation_error")
    assert body["errors"][0]["code"] == "line_break_not_allowed"
    r = apps["workflow"].post(
        f"/v1/complaints/{cid}/dispose",
        headers=staff["camat"],
        json={"expected_version": 3, "unit": "pemerintahan", "instructions": "Tindak\u202e lanjuti\r\nsegera"},
    )
    assert r.status_code == 200, r.text
    events = wf.store.read_stream(f"complaint-{cid}")
    disposed = [e for e in events if e.type.endswith("DispositionIssued")][-1]
    assert disposed.payload["instructions"] == "Tindak lanjuti\nsegera"


# --- bodies that cannot be parsed ---------------------------------------------------------------------------


def test_a_multipart_body_that_cannot_be_parsed_is_a_400_in_bahasa_indonesia(apps):
    r = apps["intake"].post(
        "/v1/complaints/form", content=b"--x\r\nbroken", headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert r.status_code in (400, 422), r.text
    assert "error" not in r.json()["message"].lower()


# --- 405 and Allow ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "app, method, path, allowed",
    [
        ("intake", "PUT", "/v1/track/ABCD-EFGH-JK", "GET"),
        ("intake", "GET", "/v1/complaints", "POST"),
        ("workflow", "DELETE", "/v1/auth/token", "POST"),
        ("letters", "DELETE", "/v1/letters/track/ABCD-EFGH-JK/receipt", "GET"),
        ("dashboard", "PATCH", "/v1/register", "GET"),
        ("dashboard", "DELETE", "/open311/v2/services", "GET"),
        ("web", "DELETE", "/lacak", "GET"),
    ],
)
def test_every_405_says_which_methods_the_path_takes(apps, app, method, path, allowed):
    r = apps[app].request(method, path)
    assert r.status_code == 405, r.text[:200]
    assert allowed in [m.strip() for m in r.headers["allow"].split(",")]
    if app != "web":  # the web app answers with a page
        assert r.json()["code"] == "method_not_allowed"
