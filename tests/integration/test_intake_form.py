"""The citizens' complaint form with its files (``POST /v1/complaints/form``) over a real database: the
KTP/SIM/KK copy the SOP requires, photos, files checked by their bytes, nothing stored on error, idempotency."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from pengaduan import registry
from services.intake.adapters.tables import attachments, outbox, submissions
from services.intake.bootstrap import bootstrap
from services.intake.config import IntakeSettings
from services.intake.entrypoints.api import create_app
from shared import gateway
from tests.unit.test_attachments import EXE, PDF, as_stored, tiny_jpeg, tiny_png

URL = "/v1/complaints/form"


def complaint(**overrides) -> dict:
    body = {
        "kecamatan": "pegantenan",
        "complainant": {
            "name": "Siti Aminah",
            "nik": "3528071505900001",
            "phone": "0812-3456-7890",
            "address": "Dusun Bunangka, Desa Pegantenan",
        },
        "subject": "Lampu jalan mati",
        "description": "Lampu jalan di depan balai desa mati sejak dua minggu.",
        "id_kind": "ktp",
    }
    for key, value in overrides.items():
        if key.startswith("complainant."):
            body["complainant"][key.split(".", 1)[1]] = value
        elif value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return {"complaint": json.dumps(body)}


@pytest.fixture(scope="module")
def intake(settings, engine, tmp_path_factory):
    container = bootstrap(
        IntakeSettings(**settings.model_dump()).model_copy(
            update={"data_dir": str(tmp_path_factory.mktemp("intake-form-data"))}
        )
    )
    yield container
    container.engine.dispose()


@pytest.fixture(scope="module")
def client(intake):
    with TestClient(create_app(intake)) as c:
        yield c


def counts(engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one() for t in (submissions, outbox, attachments)
        )


def stored(engine, tracking_code: str) -> tuple[dict, list[dict], dict]:
    with engine.connect() as conn:
        row = dict(
            conn.execute(select(submissions).where(submissions.c.tracking_code == tracking_code)).mappings().one()
        )
        files = [
            dict(r)
            for r in conn.execute(
                select(attachments).where(attachments.c.submission_id == row["id"]).order_by(attachments.c.kind)
            ).mappings()
        ]
        message = dict(conn.execute(select(outbox).where(outbox.c.id == row["id"])).mappings().one())
    return row, files, message


def test_the_gateway_and_intake_take_the_form_with_large_bodies():
    assert registry.route_for("POST", URL) == "intake"
    assert registry.route_for("GET", URL) == "workflow"  # only POST is intake's, as /v1/complaints
    assert URL.startswith(gateway.LARGE_BODY_PREFIXES)


def test_a_complaint_with_a_ktp_scan_and_photos_is_accepted_and_its_files_stored(client, engine, intake):
    ktp, photo = tiny_jpeg(), tiny_png(7001)
    before = counts(engine)
    r = client.post(
        URL,
        data=complaint(id_kind="ktp"),
        files=[("identitas", ("ktp saya.jpg", ktp, "image/jpeg")), ("foto", ("jalan.png", photo, "image/png"))],
    )
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "received" and body["track_url"].endswith(body["tracking_code"])
    assert "tidak dipungut biaya" in body["message"]
    row, files, message = stored(engine, body["tracking_code"])
    assert row["channel"] == "web" and row["kecamatan"] == "pegantenan" and row["entered_by"] is None
    assert [(f["kind"], f["content_type"], f["filename"]) for f in files] == [
        ("foto", "image/png", "jalan.png"),
        ("ktp", "image/jpeg", "ktp saya.jpg"),
    ]
    assert {a["kind"] for a in message["payload"]["attachments"]} == {"ktp", "foto"}
    for sent in (ktp, photo):  # kept re-encoded, under the digest of what is kept
        assert intake.documents.get(hashlib.sha256(as_stored(sent)).hexdigest()) == as_stored(sent)
    assert counts(engine) == (before[0] + 1, before[1] + 1, before[2] + 2)
    tracked = client.get(f"/v1/track/{body['tracking_code']}").json()
    assert tracked["status"] == "received" and tracked["letter_available"] is False


def test_a_pdf_of_a_family_card_without_photos_is_accepted(client, engine):
    r = client.post(URL, data=complaint(id_kind="kk"), files=[("identitas", ("kk.pdf", PDF, "application/pdf"))])
    assert r.status_code == 202, r.text
    _, files, _ = stored(engine, r.json()["tracking_code"])
    assert [(f["kind"], f["content_type"]) for f in files] == [("kk", "application/pdf")]


@pytest.mark.parametrize(
    "case, status, code, field",
    [
        ("no-scan", 422, "identity_document_required", "identitas"),
        ("empty-file-part", 422, "identity_document_required", "identitas"),  # a browser's "no file chosen"
        ("exe-as-jpg", 422, "attachment_type_not_allowed", "identitas.0"),
        ("exe-as-photo", 422, "attachment_type_not_allowed", "foto.1"),
        ("two-scans", 422, "one_identity_document", "identitas"),
        ("five-photos", 422, "too_many_attachments", "foto"),
        ("empty-scan", 422, "attachment_empty", "identitas.0"),
        ("no-id-kind", 422, "validation_error", "complaint.id_kind"),
        ("bad-nik-and-no-scan", 422, "validation_error", "complaint.complainant.nik"),
        ("unknown-kecamatan", 422, "unknown_kecamatan", "complaint.kecamatan"),
        ("unknown-field", 422, "validation_error", "lampiran"),
        ("bad-json", 400, "malformed_json", None),
        ("json-body", 415, "unsupported_media_type", None),
    ],
)
def test_bad_input_is_a_clear_4xx_in_indonesian_and_stores_nothing(client, engine, case, status, code, field):
    data = complaint()
    files = [("identitas", ("ktp.jpg", tiny_jpeg(), "image/jpeg"))]
    if case == "no-scan":
        files = [("foto", ("jalan.png", tiny_png(7003), "image/png"))]
    elif case == "empty-file-part":
        files = [("identitas", ("", b"", "application/octet-stream"))]
    elif case == "exe-as-jpg":
        files = [("identitas", ("ktp.jpg", EXE, "image/jpeg"))]
    elif case == "exe-as-photo":
        files = [
            ("identitas", ("ktp.png", tiny_png(7002), "image/png")),
            ("foto", ("a.png", tiny_png(7004), "image/png")),
            ("foto", ("foto.jpg", EXE, "image/jpeg")),
        ]
    elif case == "two-scans":
        files += [("identitas", ("ktp2.png", tiny_png(7005), "image/png"))]
    elif case == "five-photos":
        files += [("foto", (f"f{i}.png", tiny_png(7100 + i), "image/png")) for i in range(5)]
    elif case == "empty-scan":
        files = [("identitas", ("ktp.jpg", b"", "image/jpeg"))]
    elif case == "no-id-kind":
        data = complaint(id_kind=None)
    elif case == "bad-nik-and-no-scan":
        data, files = complaint(**{"complainant.nik": "12345"}), []
    elif case == "unknown-kecamatan":
        data = complaint(kecamatan="tidak-ada-di-sini")
    elif case == "unknown-field":
        data = {**data, "lampiran": "x"}
    elif case == "bad-json":
        data = {"complaint": '{"kecamatan": "pegantenan",'}
    before = counts(engine)
    if case == "json-body":
        r = client.post(URL, json=json.loads(data["complaint"]))
    else:
        r = client.post(URL, data=data, files=files or None)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code
    if field:
        assert field in [e["field"] for e in body["errors"]], body
    if case == "bad-nik-and-no-scan":  # every problem at once: the fields and the missing scan
        assert "identitas" in [e["field"] for e in body["errors"]]
    if case == "exe-as-jpg":
        assert "bukan jenis berkas yang diizinkan" in body["message"]
    assert counts(engine) == before


def test_nothing_is_stored_when_one_file_of_several_is_refused(client, engine, intake):
    good = tiny_png(7200)
    before = counts(engine)
    r = client.post(
        URL,
        data=complaint(),
        files=[("identitas", ("ktp.png", good, "image/png")), ("foto", ("virus.jpg", EXE, "image/jpeg"))],
    )
    assert r.status_code == 422
    assert counts(engine) == before
    from shared.storage import DocumentNotFound

    with pytest.raises(DocumentNotFound):  # the bytes are not kept either
        intake.documents.get(hashlib.sha256(as_stored(good)).hexdigest())


def test_the_same_form_twice_with_one_idempotency_key_is_one_complaint(client, engine):
    headers = {"Idempotency-Key": f"web-{uuid.uuid4()}"}
    scan = [("identitas", ("ktp.png", tiny_png(7300), "image/png"))]
    before = counts(engine)
    first = client.post(URL, headers=headers, data=complaint(), files=scan)
    second = client.post(URL, headers=headers, data=complaint(), files=scan)
    assert first.status_code == second.status_code == 202, second.text
    assert first.json()["tracking_code"] == second.json()["tracking_code"]
    assert second.headers.get("Idempotent-Replayed") == "true" and "Idempotent-Replayed" not in first.headers
    assert counts(engine) == (before[0] + 1, before[1] + 1, before[2] + 1)
    other_file = client.post(
        URL, headers=headers, data=complaint(), files=[("identitas", ("ktp.png", tiny_png(7301), "image/png"))]
    )
    assert other_file.status_code == 409 and other_file.json()["code"] == "idempotency_key_reused"


def test_a_complaint_body_over_64_kib_is_fine_here_but_files_keep_their_own_limit(client, engine, intake):
    big = b"\xff\xd8\xff\xe0" + b"\x00" * (intake.settings.max_attachment_bytes + 10)
    before = counts(engine)
    r = client.post(URL, data=complaint(), files=[("identitas", ("ktp.jpg", big, "image/jpeg"))])
    assert r.status_code == 422 and r.json()["code"] == "attachment_too_large"
    assert counts(engine) == before


def test_a_browsers_no_file_chosen_part_counts_as_no_scan(client, engine):
    boundary = "batas-uji-123"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="complaint"\r\n\r\n'.encode()
        + complaint()["complaint"].encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="identitas"; filename=""\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode(),
    ]
    raw = b"\r\n".join(parts) + f"\r\n--{boundary}--\r\n".encode()
    before = counts(engine)
    r = client.post(URL, content=raw, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 422 and r.json()["code"] == "identity_document_required", r.text
    assert counts(engine) == before
