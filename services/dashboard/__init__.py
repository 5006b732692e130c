"""The read side: the dashboard's projections, the Buku Rekap Pengaduan and the kabupaten's figures.

- ``domain/complaints.py``: how each workflow event changes a complaint's row and which step it completes
  (pure); ``domain/register.py``: the register's columns, labels and masking (pure);
  ``domain/service_requests.py``: a complaint as Open311's reads show it (pure, nothing personal);
  ``domain/open311.py``: the filters of an Open311 search and a request's public shape (pure);
  ``domain/redaction.py``: what the event feed shows of an event (pure, an allow-list per type).
- ``adapters/tables.py``: ``dashboard.complaints``, ``dashboard.step_times``, ``dashboard.checkpoints``
  (migration 0008), ``dashboard.service_requests`` (0014); ``adapters/projections.py``: the projections (how a
  batch of events changes those tables); ``adapters/subscription.py``: how they run (batch + checkpoint in one
  transaction, one leader per projection) and the rebuild without a gap (fresh ``<table>__next`` copies swapped
  in); ``adapters/queries.py``: the SQL aggregates behind the API, each shaped to an index;
  ``adapters/service_requests.py``: the Open311 search; ``adapters/event_feed.py``: the feed's reads;
  ``adapters/exports.py``: XLSX and CSV.
- ``entrypoints/projections.py``: the projections by name, their runners (``pengaduan projections run``),
  ``rebuild(settings_or_engine, name)`` and ``status(engine)``.
- ``entrypoints/api.py``: ``create_app(container=None, extra_routers=())`` and ``create_full_app()``;
  ``entrypoints/register.py`` (``GET /v1/register``), ``entrypoints/figures.py`` (``GET /v1/dashboard/...``),
  ``entrypoints/feed.py`` (the event feed), ``entrypoints/open311.py`` (Open311's reads: the catalogue,
  searches, one request; a posted request is intake's, the catalogue and error shape
  ``shared/contracts/open311.py``), ``entrypoints/page.py`` (``/dasbor``), ``entrypoints/deps.py`` (who reads
  what, filters, error codes).

Time: a step's elapsed time is counted in office minutes on the kecamatan's working calendar
(``WorkingCalendar.office_minutes_between``; ``wall_minutes`` keeps the clock's), its standard in the same
unit (working days x the calendar's office day), and "within standard" means done by the due time the
workflow set for that step. A complaint is within the SLA when it closed on or before its 12-working-day
deadline; an open complaint is late once that deadline passed (waiting for documents included: the SOP
promises the 12 days from the receipt).
"""
