"""The inbox of a kecamatan role (``/kotak-masuk``): what waits on me, overdue first, then by due time; a page
at a time, filtered by unit, channel and received date, or searched by tracking code or register number."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.web.adapters.api_client import ApiProblem
from services.web.entrypoints import staff_views as views
from services.web.entrypoints.pages import api, redirect, render, require_user, zone_of
from services.web.entrypoints.staff_complaint import STAFF_ROLES, signed_out_on_401

router = APIRouter()


FILTERS = ("q", "unit", "channel", "received_from", "received_to")
PER_PAGE = 50


@router.get("/kotak-masuk", response_class=HTMLResponse)
async def inbox(request: Request) -> Response:
    s = require_user(request)
    if s.role not in STAFF_ROLES:  # kabupaten and admin: their page is the dashboard
        return redirect("/dasbor")
    chosen = {k: v.strip() for k in FILTERS if (v := request.query_params.get(k, "")) and v.strip()}
    try:
        page = max(1, min(int(request.query_params.get("halaman", "1")), 10_000))
    except ValueError:
        page = 1
    params = {**chosen, "page": page, "per_page": PER_PAGE}
    problem = None
    try:
        answer = await api(request).raw("GET", "/v1/inbox", token=s.token, params=params)
        if answer.status_code == 422 and chosen:  # a filter the API refused: say so, show the unfiltered inbox
            problem = answer.json().get("message", "Saringan tidak dapat dipakai.")
            answer = await api(request).raw("GET", "/v1/inbox", token=s.token, params={"per_page": PER_PAGE})
        if answer.status_code >= 400:
            body = answer.json() if answer.content else {}
            raise ApiProblem(answer.status_code, body.get("code", ""), body.get("message", ""), [], None)
        items, total = answer.json(), int(answer.headers.get("x-total-count", "0"))
    except ApiProblem as exc:
        signed_out_on_401(request, exc)
        return render(request, "galat.html", status_code=exc.status, title="Kotak masuk", message=exc.message)
    await zone_of(request, (s.user or {}).get("kecamatan"))  # times in the kabupaten's zone, as its filters' dates
    now = datetime.now(UTC)
    rows = []
    for item in items:
        due_at = views.parse_time(item.get("due_at"))
        rows.append(
            {
                **item,
                "due_at": due_at,
                "received_at": views.parse_time(item.get("received_at")),
                "state": views.due_state(due_at, item.get("overdue", False), now),
                "status_label": views.STATUS_LABELS.get(item["status"], item["status"]),
            }
        )
    late = sum(1 for r in rows if r["state"] == "terlambat")
    pages = max(1, -(-total // PER_PAGE))

    def link(n: int) -> str:
        return "/kotak-masuk?" + urlencode({**chosen, "halaman": n})

    return render(
        request,
        "petugas_kotak_masuk.html",
        title="Kotak masuk",
        rows=rows,
        late=late,
        total=total,
        page=page,
        pages=pages,
        previous=link(page - 1) if page > 1 else None,
        next=link(page + 1) if page < pages else None,
        chosen=chosen,
        problem=problem,
        # the channels a complaint comes in by (not the ways a letter is sent)
        channels={k: v for k, v in views.CHANNEL_LABELS.items() if k not in ("pos", "langsung", "kurir")},
    )
