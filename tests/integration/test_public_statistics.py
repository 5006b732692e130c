"""The public statistics (issue #18 item 4, ADR 0022): ``GET /v1/public/statistics`` over the dashboard's read
model on PostgreSQL, without signing in. The figures of a kecamatan's month, the threshold rule, the complementary
suppression (no withheld cell is a total minus the cells shown), the complainants' personal data and tracking
codes nowhere in the answer, the period's validation in Bahasa Indonesia, caching (ETag, 304) and the limit per
address.

The complaints are written straight into ``dashboard.complaints`` (as the projection leaves them: the rules that
fill it are tested in tests/integration/test_dashboard.py), in three fresh kecamatan of a fresh kabupaten, so
the counts are known exactly and no other test's data interferes.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from services.dashboard.adapters import tables as t
from services.dashboard.bootstrap import bootstrap as dashboard_bootstrap
from services.dashboard.config import DashboardSettings
from services.dashboard.entrypoints import public_statistics
from services.dashboard.entrypoints.api import create_app
from shared.tenancy import Kecamatan, upsert_kecamatan

WIB = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 4, 15, 10, 0, tzinfo=WIB)
URL = "/v1/public/statistics"
NIK, PHONE, EMAIL = "3528071505907777", "+6281299887766", "warga.rahasia@example.id"
REGISTER_BASE = 97000  # register numbers 97001...: none may appear in the answer


@pytest.fixture(scope="module")
def place(engine):
    suffix = uuid.uuid4().hex[:6]
    kab = f"statkab-{suffix}"
    items = [
        Kecamatan(
            f"stat-{suffix}-{n}", f"98.{suffix}.{n}", f"Statistik {n.upper()}", kab, f"Kabupaten Stat {suffix}", {}
        )
        for n in ("a", "b", "c")
    ]
    upsert_kecamatan(engine, items)
    return {"kabupaten": kab, "a": items[0].slug, "b": items[1].slug, "c": items[2].slug}


def _row(kecamatan: str, day: date, n: int, **fields) -> dict:
    received_at = datetime(day.year, day.month, day.day, 9, 0, tzinfo=WIB)
    closed_days = fields.pop("closed_days", None)
    row = {
        "complaint_id": uuid.uuid4(),
        "kecamatan": kecamatan,
        "tracking_code": f"ST{uuid.uuid4().hex[:10].upper()}",
        "register_number": REGISTER_BASE + n,
        "register_year": day.year,
        "received_at": received_at,
        "received_date": day,
        "complainant_name": f"Rahasia Warga {uuid.uuid4().hex[:8]}",
        "complainant_nik": NIK,
        "complainant_phone": PHONE,
        "complainant_email": EMAIL,
        "complainant_address": "Dusun Tersembunyi RT 07",
        "channel": "web",
        "subject": f"Pokok rahasia {uuid.uuid4().hex[:8]}",
        "status": "in_progress",
        "sop_version": "2024.1",
        "position": 1,
    }
    if closed_days is not None:
        row.update(status="closed", outcome="resolved", closed_at=received_at + timedelta(days=closed_days))
    row.update(fields)
    return row


@pytest.fixture(scope="module")
def seeded(engine, place):
    """Kecamatan A: January 12 (10 resolved in 1..10 days, 8 of them within the 12 working days; 6 answers, 4
    satisfied, ratings 4 4 3 3 2 1; one referred within its time, one open), February 3, March 7. B: January 6
    (resolved in 3 days), March 8. C: January 2."""
    a, b, c = place["a"], place["b"], place["c"]
    rows: list[dict] = []
    answers = [(True, 4), (True, 4), (True, 3), (True, 3), (False, 2), (False, 1)]
    for i in range(10):
        extra = {"within_sla": i < 8}
        if i < len(answers):
            extra.update(feedback_satisfied=answers[i][0], feedback_rating=answers[i][1], feedback_at=NOW)
        rows.append(_row(a, date(2026, 1, 5 + i), len(rows) + 1, closed_days=i + 1, **extra))
    rows.append(_row(a, date(2026, 1, 20), len(rows) + 1))
    rows.append(_row(a, date(2026, 1, 21), len(rows) + 1, status="closed", outcome="referred", within_sla=True,
                     closed_at=datetime(2026, 1, 23, 9, tzinfo=WIB)))  # fmt: skip
    rows += [_row(a, date(2026, 2, 3 + i), len(rows) + 1 + i) for i in range(3)]
    rows += [_row(a, date(2026, 3, 2 + i), len(rows) + 1 + i) for i in range(7)]
    rows += [_row(b, date(2026, 1, 6 + i), len(rows) + 1 + i, closed_days=3) for i in range(6)]
    rows += [_row(b, date(2026, 3, 9 + i), len(rows) + 1 + i) for i in range(8)]
    rows += [_row(c, date(2026, 1, 7 + i), len(rows) + 1 + i) for i in range(2)]
    rows.append(_row(a, date(2025, 12, 31), 999))  # the day before the period: not counted
    rows.append(_row(a, date(2026, 4, 1), 998))  # the day after (counted in the year's table: April 2026)
    optional = ("outcome", "closed_at", "within_sla", "feedback_satisfied", "feedback_rating", "feedback_at")
    rows = [{**dict.fromkeys(optional), **r} for r in rows]  # one set of columns for every row
    with engine.begin() as conn:
        conn.execute(insert(t.complaints), rows)
    return rows


@pytest.fixture(scope="module")
def dash(settings, engine):
    relaxed = {**settings.model_dump(), "rate_limit_statistics": "100000/minute"}  # the test asks often
    container = dashboard_bootstrap(DashboardSettings(**relaxed), engine=engine)
    container.clock = lambda: NOW
    return container


@pytest.fixture(scope="module")
def client(dash, seeded):
    with TestClient(create_app(dash, extra_routers=[public_statistics.router])) as c:
        yield c


def _get(client, **params):
    return client.get(URL, params=params)


@pytest.fixture(scope="module")
def answer(client, place):
    r = _get(client, kabupaten=place["kabupaten"], **{"from": "2026-01", "to": "2026-03"})
    assert r.status_code == 200, r.text
    return r.json()


def _kec(answer, slug):
    return next(k for k in answer["kecamatan"] if k["slug"] == slug)


def _month(item, month):
    return next(m for m in item["months"] if m["month"] == month)


def test_no_sign_in_and_the_figures_of_a_kecamatan_month(answer, place):
    assert answer["period"] == {"from": "2026-01", "to": "2026-03"}
    assert answer["months"] == ["2026-01", "2026-02", "2026-03"] and answer["threshold"] == 5
    assert [k["slug"] for k in answer["kecamatan"]] == [place["a"], place["b"], place["c"]]
    jan = _month(_kec(answer, place["a"]), "2026-01")
    values = {name: cell["value"] for name, cell in jan.items() if name != "month"}
    assert values == {
        "received": 12,
        "resolved": 10,
        "closed": 11,
        "within_sla_share": 0.818,  # 8 resolved and the referral of 11
        "median_days": 5.5,  # 1..10 days
        "feedback_responses": 6,
        "satisfied_share": 0.667,
        "mean_rating": 2.83,  # 17 / 6
    }
    assert not any(cell["suppressed"] for name, cell in jan.items() if name != "month")


def test_small_counts_and_figures_over_few_complaints_are_withheld(answer, place):
    a, c = _kec(answer, place["a"]), _kec(answer, place["c"])
    feb = _month(a, "2026-02")
    assert feb["received"] == {"value": None, "suppressed": True}  # 3 complaints
    # a cell's counts go together (ADR 0022 rule 4): shown beside the withheld received, closed would bound it
    assert all(feb[name] == {"value": None, "suppressed": True} for name in ("closed", "resolved"))
    assert feb["median_days"] == {"value": None, "suppressed": False}  # nothing to compute it over
    assert c["total"]["received"] == {"value": None, "suppressed": True}  # 2 complaints over the period
    b_jan = _month(_kec(answer, place["b"]), "2026-01")
    # six resolved: shown as a count if no total gives another cell away, and the median over six is >= 5
    assert b_jan["resolved"]["suppressed"] or b_jan["resolved"]["value"] == 6
    # fewer than five answers of the complainants in A's whole period but January: satisfaction only where >= 5
    assert _month(a, "2026-03")["satisfied_share"] == {"value": None, "suppressed": False}


def _sums(answer):
    """Every additive relation the answer publishes: (figure -> [(total cell, part cells)])."""
    rows = [(k["total"], list(k["months"])) for k in answer["kecamatan"]]
    columns = [
        (_month(answer["all"], month), [_month(k, month) for k in answer["kecamatan"]]) for month in answer["months"]
    ]
    grand = [
        (answer["all"]["total"], [k["total"] for k in answer["kecamatan"]]),
        (answer["all"]["total"], answer["all"]["months"]),
    ]
    return rows + columns + grand


COUNTS = ("received", "resolved", "closed", "feedback_responses")


def test_no_withheld_count_is_a_total_minus_the_cells_shown(client, place):
    """Complementary suppression in the protected table (the kabupaten's year, asked from January to the current
    month): in every row, column and the grand total, a count is withheld in none or in at least two cells."""
    year = _get(client, kabupaten=place["kabupaten"], **{"from": "2026-01", "to": "2026-04"}).json()
    for name in COUNTS:
        for total, parts in _sums(year):
            withheld = sum(cell[name]["suppressed"] for cell in (total, *parts))
            assert withheld != 1, (name, total, parts)
    # A's February (3) and April (1) are withheld, its year (23) is shown; C's two complaints are withheld, and
    # beside them another kecamatan's year, so the kabupaten's 39 do not tell C's
    a, c = _kec(year, place["a"]), _kec(year, place["c"])
    assert a["total"]["received"] == {"value": 23, "suppressed": False}
    assert c["total"]["received"]["suppressed"]
    assert sum(k["total"]["received"]["suppressed"] for k in year["kecamatan"]) >= 2
    assert year["all"]["total"]["received"] == {"value": 39, "suppressed": False}


def test_a_period_other_than_whole_years_shows_totals_only_where_every_part_is_shown(answer, place):
    """January to March (April not over yet is not asked): A's total would be its three months, one of them
    withheld: so it is withheld too; the kabupaten's months are those of its protected table."""
    a = _kec(answer, place["a"])
    assert _month(a, "2026-02")["received"]["suppressed"] and a["total"]["received"]["suppressed"]
    assert a["total"]["resolved"]["suppressed"]  # with its received count (rule 4), though each month's is shown
    assert _month(answer["all"], "2026-01")["received"] == {"value": 20, "suppressed": False}


def _answers(client, place):
    """Every answer an outsider could combine: each selection, and every period within the year."""
    selections = [{"kabupaten": place["kabupaten"]}, *({"kecamatan": place[x]} for x in "abc")]
    selections.append({"kecamatan": f"{place['a']},{place['b']}"})
    months = ["2026-01", "2026-02", "2026-03", "2026-04"]
    for selection in selections:
        for i, first in enumerate(months):
            for last in months[i:]:
                r = _get(client, **selection, **{"from": first, "to": last})
                assert r.status_code == 200, r.text
                yield r.json()


def test_no_small_count_can_be_worked_out_from_any_answers_together(client, place, seeded):
    """The attack complementary suppression alone does not stop: subtracting one answer from another (January to
    March minus January to February is March). Every published figure of every period and selection goes into
    one linear system over the kecamatan's months; none of the small counts (1-4) may be fixed by it. And a
    kecamatan's month reads the same in every answer."""
    from services.dashboard.domain import statistics as rules

    true: dict[tuple[str, str], int] = {}
    for row in seeded:
        if row["received_date"].year == 2026:
            key = (row["kecamatan"], row["received_date"].strftime("%Y-%m"))
            true[key] = true.get(key, 0) + 1
    cells: dict = {}
    groups: dict = {}
    sums: list = []

    def published(key, cell):
        p = rules.Published({"received": rules.Cell(cell["value"], cell["suppressed"])})
        groups.setdefault(key, p)
        return key

    for answer in _answers(client, place):
        months = tuple(answer["months"])
        slugs = tuple(k["slug"] for k in answer["kecamatan"])
        for k in answer["kecamatan"]:
            for m in k["months"]:
                seen = cells.setdefault((k["slug"], m["month"]), m["received"])
                assert seen == m["received"], ("a cell reads differently in two answers", k["slug"], m["month"])
                published((k["slug"], m["month"]), m["received"])
            total = published((k["slug"], months), k["total"]["received"])
            sums.append(rules.Sum(total, tuple((k["slug"], m) for m in months)))
        for m in answer["all"]["months"]:
            total = published((slugs, m["month"]), m["received"])
            sums.append(rules.Sum(total, tuple((s, m["month"]) for s in slugs)))
        grand = published((slugs, months), answer["all"]["total"]["received"])
        sums.append(rules.Sum(grand, tuple((s, m) for s in slugs for m in months)))
    fixed = rules.determined(groups, sums, "received")
    small = [key for key in fixed if 0 < true.get(key, 0) < 5]
    assert small == [], small
    assert any(g["received"].suppressed for g in groups.values())


def test_a_derived_figure_goes_with_its_count(answer):
    for group in [*(m for k in answer["kecamatan"] for m in k["months"]), *(k["total"] for k in answer["kecamatan"])]:
        if group["resolved"]["suppressed"]:
            assert group["median_days"]["value"] is None
        if group["closed"]["suppressed"]:
            assert group["within_sla_share"]["value"] is None
        if group["feedback_responses"]["suppressed"]:
            assert group["satisfied_share"]["value"] is None and group["mean_rating"]["value"] is None


def test_no_personal_data_nor_tracking_codes_anywhere(client, answer, seeded, place):
    text = json.dumps(answer)
    for row in seeded:
        for value in (row["tracking_code"], row["complainant_name"], row["subject"]):
            assert value not in text
        assert str(row["complaint_id"]) not in text
        assert str(row["register_number"]) not in text
    for value in (NIK, PHONE, EMAIL, "Dusun Tersembunyi", "Rahasia", "rahasia", "9700"):
        assert value not in text
    keys: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            keys.update(node)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(answer)
    assert not keys & {"complainant", "name_of", "nik", "phone", "email", "address", "tracking_code", "subject",
                       "register_number", "complaint_id"}  # fmt: skip
    # one kecamatan asked alone gives the same cells of it (and hides its small months the same way)
    alone = _get(client, kecamatan=place["a"], **{"from": "2026-01", "to": "2026-03"}).json()
    assert _month(alone["kecamatan"][0], "2026-02")["received"]["suppressed"]


def test_cacheable_with_an_etag(client, place):
    params = {"kecamatan": place["b"], "from": "2026-01", "to": "2026-03"}
    r = client.get(URL, params=params)
    assert r.status_code == 200
    assert r.headers["cache-control"].startswith("public, max-age=")
    etag = r.headers["etag"]
    again = client.get(URL, params=params, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag and not again.content


@pytest.mark.parametrize(
    "params,field,code",
    [
        ({"from": "2026-13"}, "from", "invalid_month"),
        ({"to": "januari"}, "to", "invalid_month"),
        ({"from": "\uff12\uff10\uff12\uff16-01"}, "from", "invalid_month"),  # digits, but not ASCII ones
        ({"from": "2026-03", "to": "2026-01"}, "to", "period_reversed"),
        ({"from": "2020-01", "to": "2026-01"}, "to", "period_too_long"),
        ({"kecamatan": "tidak-ada-di-mana-pun"}, "kecamatan", "unknown_kecamatan"),
        ({"kabupaten": "tidak-ada-kabupatennya"}, "kabupaten", "unknown_kabupaten"),
        ({"kabupaten": "pamekasan", "kecamatan": "KEY_A"}, "kecamatan", "kecamatan_outside_kabupaten"),
    ],
)
def test_bad_input_is_a_422_in_bahasa_indonesia(client, place, params, field, code):
    params = {k: place["a"] if v == "KEY_A" else v for k, v in params.items()}
    r = client.get(URL, params=params)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "validation_error" and body["message"] == "Ada isian yang belum benar. Periksa kembali."
    assert {(e["field"], e["code"]) for e in body["errors"]} == {(field, code)}
    assert all(e["message"] and "must" not in e["message"] for e in body["errors"])


def test_the_default_period_is_this_year_so_far(client, place):
    body = _get(client, kecamatan=place["c"]).json()
    assert body["period"] == {"from": "2026-01", "to": "2026-04"} and len(body["months"]) == 4
    assert _get(client, kecamatan=place["c"], to="2026-02").json()["period"] == {"from": "2025-03", "to": "2026-02"}


def test_limited_per_address(settings, engine, seeded, place):
    limited = DashboardSettings(**{**settings.model_dump(), "rate_limit_statistics": "3/minute"})
    container = dashboard_bootstrap(limited, engine=engine)
    container.clock = lambda: NOW
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.9"  # counters of its own
    with TestClient(create_app(container, extra_routers=[public_statistics.router]), client=(address, 1234)) as c:
        answers = [c.get(URL, params={"kecamatan": place["c"]}).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]


def test_routed_to_the_dashboard_and_answering_as_documented(client, answer):
    from jsonschema import Draft202012Validator

    from pengaduan.registry import route_for

    assert route_for("GET", URL) == "dashboard"
    assert route_for("GET", "/v1/public/other") == "workflow"  # only the exact path is the dashboard's
    spec = client.get("/openapi.json").json()
    operation = spec["paths"][URL]["get"]
    assert "security" not in operation  # no sign-in
    assert {"200", "304", "422", "429"} <= set(operation["responses"])
    schema = {
        **operation["responses"]["200"]["content"]["application/json"]["schema"],
        "components": spec["components"],
    }
    assert [e.message for e in Draft202012Validator(schema).iter_errors(answer)] == []
