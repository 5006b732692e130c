"""The composition root: the one place that knows every service.

``pengaduan.cli`` (the ``pengaduan`` command), ``pengaduan.supervisor`` (``pengaduan run``) and the gateway's
route table are built here from each service's declaration (``services/<name>/service.py``). ``shared/``
imports nothing from ``services/``, and no service imports another (docs/adr/0007).
"""
