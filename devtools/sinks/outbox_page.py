"""``/dev/outbox``, for people and tests: the page listing every message the sinks received, the same as
JSON (``/dev/outbox/messages``, ``/dev/outbox/attempts``), the attachments, and ``/dev/outbox/control``,
which makes a sink fail on purpose."""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, Response

from devtools.sinks.provider_api import ControlRequest
from devtools.sinks.store import Outbox


def router(outbox: Outbox) -> APIRouter:
    routes = APIRouter()

    @routes.get("/dev/outbox", response_class=HTMLResponse)
    async def outbox_page() -> HTMLResponse:
        return HTMLResponse(render_page(outbox.messages(), outbox.attempts()))

    @routes.get("/dev/outbox/messages")
    async def list_messages(channel: str | None = None, to: str | None = None) -> list[dict[str, Any]]:
        return outbox.messages(channel=channel, to=to)

    @routes.delete("/dev/outbox/messages")
    async def clear_messages() -> dict[str, str]:
        outbox.clear()
        return {"status": "cleared"}

    @routes.get("/dev/outbox/attempts")
    async def attempts() -> dict[str, int]:
        return outbox.attempts()

    @routes.get("/dev/outbox/attachments/{sha256}")
    async def attachment(sha256: str) -> Response:
        blob = outbox.blob(sha256)
        if blob is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        safe_name = re.sub(r"[^\w.\- ]", "_", blob.filename)
        return Response(
            blob.data, media_type=blob.content_type, headers={"Content-Disposition": f'inline; filename="{safe_name}"'}
        )

    @routes.get("/dev/outbox/control")
    async def get_controls() -> dict[str, dict[str, Any]]:
        return outbox.controls()

    @routes.post("/dev/outbox/control")
    async def set_control(request: ControlRequest) -> ControlRequest:
        outbox.set_control(request.target, request.mode, request.times, request.delay)
        return request

    return routes


CHANNEL_NAMES = {"email": "E-mail", "sms": "SMS", "whatsapp": "WhatsApp"}


def render_page(messages: list[dict[str, Any]], attempts: dict[str, int]) -> str:
    """The outbox as a page for people: every value escaped, no outside assets, refreshed every 5 s."""
    e = html.escape
    rows = []
    for m in messages:
        files = (
            "<br>".join(
                f'<a href="/dev/outbox/attachments/{e(a["sha256"])}">{e(a["filename"] or "lampiran")}</a> '
                f"({e(str(a['size']))} byte)"
                if a.get("sha256")
                else f'<a href="{e(a.get("url") or "")}">{e(a.get("filename") or "tautan")}</a>'
                for a in m["attachments"]
            )
            or "-"
        )
        subject = f"<strong>{e(m['subject'])}</strong><br>" if m["subject"] else ""
        rows.append(
            f"<tr><td>{e(m['received_at'][:19].replace('T', ' '))}</td>"
            f"<td>{e(CHANNEL_NAMES.get(m['channel'], m['channel']))}<br><small>{e(m['provider'])}</small></td>"
            f"<td>{e(m['to'])}</td><td>{subject}<pre>{e(m['text'])}</pre></td><td>{files}</td></tr>"
        )
    body = "\n".join(rows) or '<tr><td colspan="5">Belum ada pesan.</td></tr>'
    tried = ", ".join(f"{e(t)}: {n}" for t, n in attempts.items())
    return f"""<!doctype html>
<html lang="id"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>Pesan yang akan terkirim</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #ccc; padding: .4rem .6rem; vertical-align: top; text-align: left; }}
th {{ background: #f2f2f2; }}
pre {{ white-space: pre-wrap; margin: 0; font-family: inherit; }}
</style></head>
<body>
<h1>Pesan yang akan terkirim</h1>
<p>Semua pesan e-mail, SMS dan WhatsApp yang diterima server tiruan ini (pengembangan saja; tidak ada yang
benar-benar dikirim). Halaman ini diperbarui setiap 5 detik. Percobaan per penyedia: {tried}.</p>
<table>
<thead><tr><th>Waktu (UTC)</th><th>Saluran</th><th>Penerima</th><th>Subjek / isi</th><th>Lampiran</th></tr></thead>
<tbody>
{body}
</tbody></table>
</body></html>
"""
