"""A person's commands for the message templates (``pengaduan templates list|show|set|reset``): edited for every
kecamatan served here (``*``), for every kecamatan of one kabupaten (``kabupaten:<slug>``) or for one kecamatan,
checked before they are stored (domain/templates.py:
it renders with the kind's variables, an e-mail one has a subject; a warning when an SMS would no longer fit
one segment)."""

from __future__ import annotations

from collections.abc import Callable

from services.notify.domain.templates import DEFAULTS, VARIABLES, Template, scopes_for, validate
from services.notify.unit_of_work import UnitOfWork


def set_template(
    uow: Callable[[], UnitOfWork],
    kecamatan: str,
    kind: str,
    channel: str,
    body: str,
    subject: str | None = None,
    updated_by: str | None = None,
) -> list[str]:
    """Store a template; returns warnings. Raises TemplateInvalid (a ValueError)."""
    warnings = validate(kind, channel, Template(body=body, subject=subject))
    with uow() as unit:
        unit.templates.put(kecamatan, kind, channel, body, subject, updated_by)
        unit.commit()
    return warnings


def reset_template(uow: Callable[[], UnitOfWork], kecamatan: str, kind: str, channel: str) -> bool:
    with uow() as unit:
        removed = unit.templates.remove(kecamatan, kind, channel)
        unit.commit()
    return removed


def list_templates(
    uow: Callable[[], UnitOfWork], kecamatan: str | None = None, kabupaten: str | None = None
) -> list[dict]:
    """Every kind and channel with where its text comes from (default, ``*``, ``kabupaten:<slug>`` or the
    kecamatan): what a kecamatan of that kabupaten sends."""
    with uow() as unit:
        rows = unit.templates.all()
    edited = {(r["kecamatan"], r["kind"], r["channel"]): r for r in rows}
    narrowest_first = [s for s in reversed(scopes_for(kecamatan or "", kabupaten)) if s]
    result = []
    for (kind, channel), default in DEFAULTS.items():
        source, row = "default", None
        for scope in narrowest_first:
            if (scope, kind, channel) in edited:
                source, row = scope, edited[(scope, kind, channel)]
                break
        result.append(
            {
                "kind": kind,
                "channel": channel,
                "source": source,
                "variables": list(VARIABLES[kind]),
                "subject": row["subject"] if row else default.subject,
                "body": row["body"] if row else default.body,
            }
        )
    return result
