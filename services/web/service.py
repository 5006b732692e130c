"""The web app (the pages citizens and staff use), as the composition root (``pengaduan/``) sees it."""

from __future__ import annotations

from shared.service import Api, Route, Service

SERVICE = Service(
    name="web",
    # every path no API claims: the citizens' and staff's pages, their /static assets
    api=Api("services.web.entrypoints.api:create_app", 8005, (Route("/"),)),
)
