"""Intake's HTTP API over a real database: submission, idempotency, tracking, and every kind of bad input."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.intake.adapters.tables import outbox, submissions
from services.intake.bootstrap import bootstrap
from services.intake.config import IntakeSettings
from services.intake.entrypoints.api import create_app
from tests.support.complaints import valid_body


@pytest.fixture(scope="module")
def intake(settings, engine):
    container = bootstrap(IntakeSettings(**settings.model_dump()))
    yield container
    container.engine.dispose()


@pytest.fixture(scope="module")
def client(intake):
    with TestClient(create_app(intake)) as c:
        yield c


def counts(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(submissions)).scalar_one(),
            conn.execute(select(func.count()).select_from(outbox)).scalar_one(),
        )


def test_accepts_a_complaint_with_202_and_a_readable_tracking_code(client, engine):
    before = counts(engine)
    r = client.post("/v1/complaints", json=valid_body())
    assert r.status_code == 202, r.text
    body = r.json()
    code = body["tracking_code"]
    assert len(code) == 12 and code[4] == "-" and code[9] == "-"
    assert body["status"] == "received"
    assert body["track_url"].endswith(f"/v1/track/{code}")
    assert counts(engine) == (before[0] + 1, before[1] + 1)
    with engine.connect() as conn:
        row = conn.execute(select(submissions).where(submissions.c.tracking_code == code)).mappings().one()
        message = conn.execute(select(outbox.c.payload, outbox.c.queue).where(outbox.c.id == row["id"])).one()
    assert row["complainant"]["phone"] == "+6281234567890"  # normalised to E.164
    assert message.queue == "workflow"
    assert message.payload["tracking_code"] == code and message.payload["complaint_id"] == str(row["complaint_id"])


def test_tracking_before_the_workflow_has_it_shows_received_with_no_step(client):
    code = client.post("/v1/complaints", json=valid_body()).json()["tracking_code"]
    r = client.get(f"/v1/track/{code.lower().replace('-', '')}")  # as read over the phone
    assert r.status_code == 200
    body = r.json()
    assert body["tracking_code"] == code
    assert body["status"] == "received" and body["current_step"] is None and body["steps"] == []
    text = json.dumps(body)
    assert "Siti" not in text and "3528071505900001" not in text and "6281234567890" not in text


@pytest.mark.parametrize("code", ["ZZZZ-ZZZZ-ZZ", "not-a-code", "0000000000", "UUUU-UUUU-UU"])
def test_unknown_tracking_code_is_404_with_a_stable_code(client, code):
    r = client.get(f"/v1/track/{code}")
    assert r.status_code == 404
    assert r.json()["code"] == "tracking_code_not_found"
    assert "tidak ditemukan" in r.json()["message"]


def test_idempotency_key_returns_the_same_code_and_stores_one_complaint(client, engine):
    key = str(uuid.uuid4())
    before = counts(engine)
    first = client.post("/v1/complaints", json=valid_body(), headers={"Idempotency-Key": key})
    second = client.post("/v1/complaints", json=valid_body(), headers={"Idempotency-Key": key})
    assert first.status_code == second.status_code == 202
    assert first.json()["tracking_code"] == second.json()["tracking_code"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert counts(engine) == (before[0] + 1, before[1] + 1)


def test_concurrent_requests_with_one_idempotency_key_store_one_complaint(client, engine):
    key = str(uuid.uuid4())
    before = counts(engine)
    with ThreadPoolExecutor(8) as pool:
        responses = list(
            pool.map(
                lambda _: client.post("/v1/complaints", json=valid_body(), headers={"Idempotency-Key": key}), range(8)
            )
        )
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["tracking_code"] for r in responses}) == 1
    assert counts(engine) == (before[0] + 1, before[1] + 1)


def test_idempotency_key_reused_for_another_complaint_is_409(client, engine):
    key = str(uuid.uuid4())
    assert client.post("/v1/complaints", json=valid_body(), headers={"Idempotency-Key": key}).status_code == 202
    before = counts(engine)
    r = client.post("/v1/complaints", json=valid_body(subject="Lampu jalan mati"), headers={"Idempotency-Key": key})
    assert r.status_code == 409 and r.json()["code"] == "idempotency_key_reused"
    assert counts(engine) == before


BAD_INPUT = [
    # (description, body or raw bytes, status, top code, field, field code)
    ("malformed json", b'{"kecamatan": "pegantenan",', 400, "malformed_json", None, None),
    ("not an object", b"[1, 2]", 422, "validation_error", "body", None),
    ("wrong type", valid_body(subject=12345), 422, "validation_error", "subject", "string_type"),
    (
        "missing name",
        valid_body(**{"complainant.name": None}),
        422,
        "validation_error",
        "complainant.name",
        "string_type",
    ),
    ("oversize subject", valid_body(subject="x" * 201), 422, "validation_error", "subject", "string_too_long"),
    (
        "oversize description",
        valid_body(description="x" * 5001),
        422,
        "validation_error",
        "description",
        "string_too_long",
    ),
    (
        "short nik",
        valid_body(**{"complainant.nik": "35280715059"}),
        422,
        "validation_error",
        "complainant.nik",
        "nik_format",
    ),
    (
        "nik bad province",
        valid_body(**{"complainant.nik": "9928071505900001"}),
        422,
        "validation_error",
        "complainant.nik",
        "nik_region",
    ),
    (
        "nik bad date",
        valid_body(**{"complainant.nik": "3528073102900001"}),
        422,
        "validation_error",
        "complainant.nik",
        "nik_birth_date",
    ),
    (
        "bad phone",
        valid_body(**{"complainant.phone": "12345"}),
        422,
        "validation_error",
        "complainant.phone",
        "phone_invalid",
    ),
    (
        "bad email",
        valid_body(**{"complainant.email": "siti@@example"}),
        422,
        "validation_error",
        "complainant.email",
        "email_invalid",
    ),
    (
        "no contact",
        valid_body(**{"complainant.phone": None, "complainant.email": None}),
        422,
        "validation_error",
        "complainant",
        "contact_required",
    ),
    ("unknown field", valid_body(extra="x"), 422, "validation_error", "extra", "extra_forbidden"),
    ("other channel", valid_body(channel="sms"), 422, "validation_error", "channel", "literal_error"),
    ("unknown kecamatan", valid_body(kecamatan="atlantis"), 422, "unknown_kecamatan", "kecamatan", "unknown_kecamatan"),
    (
        "bad kecamatan slug",
        valid_body(kecamatan="Pegantenan!"),
        422,
        "validation_error",
        "kecamatan",
        "string_pattern_mismatch",
    ),
    (
        "name absent",
        {k: v for k, v in valid_body().items() if k != "complainant"}
        | {"complainant": {"nik": "3528071505900001", "phone": "081234567890"}},
        422,
        "validation_error",
        "complainant.name",
        "missing",
    ),
    (
        "NUL in description",
        valid_body(description="Jalan rusak\u0000 parah sekali"),
        422,
        "validation_error",
        "description",
        "invalid_character",
    ),
    (
        "control char in name",
        valid_body(**{"complainant.name": "Siti\x07 Aminah"}),
        422,
        "validation_error",
        "complainant.name",
        "invalid_character",
    ),
    ("lone surrogate", b'{"kecamatan": "pegantenan", "subject": "\\ud800 rusak"}', 422, "validation_error", None, None),
]


@pytest.mark.parametrize("name,body,status,code,field,field_code", BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_is_a_clear_4xx_and_stores_nothing(client, engine, name, body, status, code, field, field_code):
    before = counts(engine)
    if isinstance(body, bytes):
        r = client.post("/v1/complaints", content=body, headers={"content-type": "application/json"})
    else:
        r = client.post("/v1/complaints", json=body)
    assert r.status_code == status, r.text
    payload = r.json()
    assert payload["code"] == code
    assert payload["message"]  # a sentence a person can read
    if field_code:
        assert {"field": field, "code": field_code} in [
            {"field": e["field"], "code": e["code"]} for e in payload["errors"]
        ]
        assert all(e["message"] for e in payload["errors"])
    elif field:
        assert payload["errors"][0]["field"] == field
    assert counts(engine) == before


def test_a_body_over_the_limit_is_413(client, engine):
    before = counts(engine)
    r = client.post("/v1/complaints", content=b"{" + b" " * 70_000 + b"}", headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    assert counts(engine) == before


def test_line_breaks_and_tabs_in_a_description_are_kept(client, engine):
    text = "Baris pertama.\n\tBaris kedua, dengan tab."
    code = client.post("/v1/complaints", json=valid_body(description=text)).json()["tracking_code"]
    with engine.connect() as conn:
        stored = conn.execute(select(submissions.c.description).where(submissions.c.tracking_code == code)).scalar_one()
    assert stored == text


def test_validation_messages_are_in_bahasa_indonesia(client):
    r = client.post("/v1/complaints", json=valid_body(**{"complainant.nik": "123"}))
    messages = " ".join(e["message"] for e in r.json()["errors"])
    assert "NIK" in messages and "digit" in messages


def test_health_reports_each_dependency(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]
