"""A person's commands for the message templates (``pengaduan templates list|show|set|reset``): edited for a
kabupaten's every kecamatan (``*``) or for one kecamatan, checked before they are stored (domain/templates.py:
it renders with the kind's variables, an e-mail one has a subject; a warning when an SMS would no longer fit
one segment)."""

from __future__ import annotations

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects.postgresql import insert

from services.notify.adapters.tables import templates
from services.notify.domain.templates import DEFAULTS, VARIABLES, Template, validate


def set_template(
    engine: Engine,
    kecamatan: str,
    kind: str,
    channel: str,
    body: str,
    subject: str | None = None,
    updated_by: str | None = None,
) -> list[str]:
    """Store a template; returns warnings. Raises TemplateInvalid (a ValueError)."""
    warnings = validate(kind, channel, Template(body=body, subject=subject))
    stmt = insert(templates).values(
        kecamatan=kecamatan, kind=kind, channel=channel, body=body, subject=subject, updated_by=updated_by
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["kecamatan", "kind", "channel"],
        set_={
            "body": stmt.excluded.body,
            "subject": stmt.excluded.subject,
            "updated_by": stmt.excluded.updated_by,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    with engine.begin() as conn:
        conn.execute(stmt)
    return warnings


def reset_template(engine: Engine, kecamatan: str, kind: str, channel: str) -> bool:
    with engine.begin() as conn:
        return bool(
            conn.execute(
                delete(templates).where(
                    templates.c.kecamatan == kecamatan, templates.c.kind == kind, templates.c.channel == channel
                )
            ).rowcount
        )


def list_templates(engine: Engine, kecamatan: str | None = None) -> list[dict]:
    """Every kind and channel with where its text comes from (default, ``*``, or the kecamatan)."""
    with engine.connect() as conn:
        rows = conn.execute(select(templates)).mappings().all()
    edited = {(r["kecamatan"], r["kind"], r["channel"]): r for r in rows}
    result = []
    for (kind, channel), default in DEFAULTS.items():
        source, row = "default", None
        if kecamatan and (kecamatan, kind, channel) in edited:
            source, row = kecamatan, edited[(kecamatan, kind, channel)]
        elif ("*", kind, channel) in edited:
            source, row = "*", edited[("*", kind, channel)]
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
