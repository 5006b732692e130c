"""The inbox of a kecamatan role (``/kotak-masuk``): what waits on me, the most urgent first."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.web.adapters.api_client import ApiProblem
from services.web.entrypoints import staff_views as views
from services.web.entrypoints.pages import api, redirect, render, require_user
from services.web.entrypoints.staff_complaint import STAFF_ROLES, signed_out_on_401

router = APIRouter()


@router.get("/kotak-masuk", response_class=HTMLResponse)
async def inbox(request: Request) -> Response:
    s = require_user(request)
    if s.role not in STAFF_ROLES:  # kabupaten and admin: their page is the dashboard
        return redirect("/dasbor")
    try:
        items = await api(request).call("GET", "/v1/inbox", token=s.token)
    except ApiProblem as exc:
        signed_out_on_401(request, exc)
        return render(request, "galat.html", status_code=exc.status, title="Kotak masuk", message=exc.message)
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
    return render(request, "petugas_kotak_masuk.html", title="Kotak masuk", rows=rows, late=late)
