"""``/statistik``: the public statistics for anyone, without signing in (issue #18 item 4, ADR 0022).

Read from the dashboard's ``GET /v1/public/statistics`` over HTTP (ADR 0009), drawn on the server: the figures of
the period in a few cards, the months as bars and the kecamatan as bars in inline SVG (no script, no style
attribute: the Content-Security-Policy allows neither), and the same figures in tables. A withheld figure
(``suppressed``) is shown as ``*`` with one line saying why; which of them are small and which are withheld only
to protect a small one is not said (the API does not say either: that is the point).

Filters (a plain GET form): ``wilayah`` (empty: every kecamatan; ``kabupaten/<slug>``; or a kecamatan's slug),
``dari`` and ``sampai`` (months, YYYY-MM; an ``<input type="month">`` where the phone has one, text elsewhere;
empty: this year so far, the API's default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.web.adapters.api_client import ApiProblem
from services.web.entrypoints.pages import api, kecamatan_directory, render

router = APIRouter()

PATH = "/statistik"
KABUPATEN_PREFIX = "kabupaten/"
SUPPRESSED = "*"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")
FIELDS = {"kabupaten": "wilayah", "kecamatan": "wilayah", "from": "dari", "to": "sampai"}  # API -> the form's


def month_label(month: str, long: bool = False) -> str:
    """``2026-03`` -> ``Mar 2026`` (``Mar 26`` under a bar)."""
    year, number = month.split("-")
    return f"{MONTHS[int(number) - 1]} {year if long else year[2:]}"


def number(value: float, digits: int = 0) -> str:
    """Indonesian notation: 1.234 and 5,5."""
    text = f"{value:,.{digits}f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def show(cell: dict[str, Any], kind: str = "count") -> str:
    """A cell as the page shows it: ``*`` withheld, ``–`` nothing to show, else the value in its unit."""
    if cell.get("suppressed"):
        return SUPPRESSED
    value = cell.get("value")
    if value is None:
        return "–"
    if kind == "share":
        return f"{number(value * 100, 1)}%"
    if kind == "days":
        return f"{number(value, 1)} hari"
    if kind == "rating":
        return number(value, 2)
    return number(value)


COLUMNS = (  # (figure, heading, kind)
    ("received", "Diterima", "count"),
    ("resolved", "Selesai ditanggapi", "count"),
    ("closed", "Ditutup", "count"),
    ("within_sla_share", "Tepat waktu (≤ 12 hari kerja)", "share"),
    ("median_days", "Median lama penanganan", "days"),
    ("feedback_responses", "Jawaban pengadu", "count"),
    ("satisfied_share", "Merasa selesai", "share"),
    ("mean_rating", "Nilai rata-rata (1–4)", "rating"),
)


@dataclass(frozen=True)
class Bar:
    label: str
    year: str  # under a month's label where the year begins (and under the first)
    title: str
    x: float
    y: float
    width: float
    height: float
    text: str
    text_x: float
    text_y: float
    suppressed: bool


def month_bars(months: list[dict[str, Any]], height: float = 130.0, width: float = 400.0) -> list[Bar]:
    """Complaints received per month as vertical bars in a ``width`` x ``height`` chart (labels below it); a
    withheld month is a short hatched bar marked ``*``."""
    values = [m["received"]["value"] or 0 for m in months]
    top = max(values, default=0) or 1
    step = width / max(len(months), 1)
    bars = []
    for i, m in enumerate(months):
        cell = m["received"]
        h = 6.0 if cell["suppressed"] else height * (cell["value"] or 0) / top
        x = i * step + step * 0.15
        label = month_label(m["month"], long=True).split(" ")
        bars.append(
            Bar(
                label=label[0],
                year=label[1] if i == 0 or m["month"].endswith("-01") else "",
                title=f"{month_label(m['month'], long=True)}: {show(cell)} pengaduan diterima",
                x=round(x, 1),
                y=round(height - h, 1),
                width=round(step * 0.7, 1),
                height=round(h, 1),
                text=show(cell),
                text_x=round(x + step * 0.35, 1),
                text_y=round(max(height - h - 4, -4), 1),
                suppressed=bool(cell["suppressed"]),
            )
        )
    return bars


def kecamatan_bars(items: list[dict[str, Any]], width: float = 220.0, row: float = 24.0) -> list[Bar]:
    """Each kecamatan's complaints over the period as a horizontal bar (``width`` for the largest)."""
    values = [k["total"]["received"]["value"] or 0 for k in items]
    top = max(values, default=0) or 1
    bars = []
    for i, k in enumerate(items):
        cell = k["total"]["received"]
        w = 6.0 if cell["suppressed"] else width * (cell["value"] or 0) / top
        y = i * row
        bars.append(
            Bar(
                label=k["name"],
                year="",
                title=f"Kecamatan {k['name']}: {show(cell)} pengaduan diterima",
                x=0.0,
                y=y + 4,
                width=round(w, 1),
                height=row - 8,
                text=show(cell),
                text_x=round(w + 6, 1),
                text_y=y + row / 2 + 5,
                suppressed=bool(cell["suppressed"]),
            )
        )
    return bars


def _choices(directory: dict[str, dict[str, Any]]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The ``wilayah`` options by kabupaten: the whole kabupaten first, then its kecamatan by name."""
    by_kabupaten: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for k in sorted(directory.values(), key=lambda k: k["name"]):
        by_kabupaten.setdefault((k["kabupaten"], k["kabupaten_name"]), []).append((k["slug"], f"Kecamatan {k['name']}"))
    return [
        (name, [(f"{KABUPATEN_PREFIX}{slug}", f"Seluruh {name}"), *items])
        for (slug, name), items in sorted(by_kabupaten.items(), key=lambda kv: kv[0][1])
    ]


def _query(wilayah: str, dari: str, sampai: str) -> dict[str, str]:
    params: dict[str, str] = {}
    if wilayah.startswith(KABUPATEN_PREFIX):
        params["kabupaten"] = wilayah[len(KABUPATEN_PREFIX) :]
    elif wilayah:
        params["kecamatan"] = wilayah
    if dari:
        params["from"] = dari
    if sampai:
        params["to"] = sampai
    return params


@router.get(PATH, response_class=HTMLResponse)
async def statistics_page(request: Request, wilayah: str = "", dari: str = "", sampai: str = "") -> HTMLResponse:
    wilayah, dari, sampai = wilayah.strip()[:100], dari.strip()[:20], sampai.strip()[:20]
    directory = await kecamatan_directory(request)
    params = _query(wilayah, dari, sampai)
    context: dict[str, Any] = {
        "title": "Statistik pengaduan",
        "choices": _choices(directory),
        "values": {"wilayah": wilayah, "dari": dari, "sampai": sampai},
        "errors": {},
        "problem": None,
        "stats": None,
    }
    try:
        stats = await api(request).call("GET", "/v1/public/statistics", params=params)
    except ApiProblem as problem:
        for e in problem.errors:
            context["errors"].setdefault(FIELDS.get(e.get("field", ""), "wilayah"), e.get("message", ""))
        context["problem"] = problem.message
        return render(request, "statistik.html", status_code=429 if problem.status == 429 else 422, **context)
    where = "Semua kecamatan"
    if "kecamatan" in params and stats["kecamatan"]:
        where = f"Kecamatan {stats['kecamatan'][0]['name']}"
    elif "kabupaten" in params and stats["kecamatan"]:
        where = stats["kecamatan"][0]["kabupaten_name"]
    single = len(stats["kecamatan"]) == 1
    context.update(
        stats=stats,
        where=where,
        single=single,
        period=f"{month_label(stats['period']['from'], True)} – {month_label(stats['period']['to'], True)}",
        columns=COLUMNS,
        show=show,
        month_label=month_label,
        month_bars=month_bars(stats["all"]["months"]),
        kecamatan_bars=[] if single else kecamatan_bars(stats["kecamatan"]),
        chart_rows=len(stats["kecamatan"]) * 24,
        suppressed_any=_any_suppressed(stats),
        api_query=urlencode(params),
    )
    return render(request, "statistik.html", **context)


def _any_suppressed(stats: dict[str, Any]) -> bool:
    groups = [stats["all"]["total"], *stats["all"]["months"]]
    for k in stats["kecamatan"]:
        groups += [k["total"], *k["months"]]
    return any(cell.get("suppressed") for g in groups for name, cell in g.items() if name != "month")
