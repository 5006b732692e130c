"""The web app: the pages citizens, kecamatan staff and the kabupaten use in a browser (Bahasa Indonesia).

Server-rendered (Jinja2, a little vendored JavaScript, no build step, no CDN). It holds no data of its own:
every page reads and writes through the public HTTP APIs of intake, workflow, letters and dashboard
(``adapters/api_client.py``), with the signed-in user's bearer token kept in a signed, HttpOnly session
cookie (``entrypoints/session.py``). The pages are routers in ``entrypoints/`` (``api.py`` assembles them),
the dates they show are formatted by ``domain/formatting.py``. Served by ``pengaduan api web``; the gateway
(and nginx) send every path that is not an API's to it.
"""
