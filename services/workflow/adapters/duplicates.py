"""Possible duplicates in PostgreSQL (issue #18 item 3; docs/adr/0021): what a complaint is compared by, written in
the unit of work's transaction, and the search the staff's complaint view makes.

- ``privacy.lookups``: the keyed hashes of the complainant's NIK, phone and e-mail (``shared.privacy.LookupHashes``;
  docs/adr/0017 decision 13), never the values;
- ``workflow.duplicate_texts``: the complaint's comparable text (``shared.privacy.comparable_text``), flagged
  ``open`` while the complaint is (the read model's update keeps the flag), compared by pg_trgm's similarity.

Only open complaints of the same kecamatan are candidates, never the complaint itself; both rows go with the
complaint's erasure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from sqlalchemy import Update, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from services.workflow.adapters.tables import complaints, duplicate_texts
from shared import privacy
from shared.contracts.intake import Complainant

# pg_trgm's similarity (shared trigrams over all trigrams of both) from which two texts are shown as alike: measured
# on the tests' texts and five more of one village, two wordings of one matter scored 0.42-0.82 (a one-line and a
# longer account of the same road 0.42-0.46), unrelated complaints 0.09-0.28 (the place names and "jalan", "desa"
# they share); pg_trgm's own default, 0.3, is too near the latter
TEXT_SIMILARITY = 0.4
MAX_SHOWN = 10  # candidates in a view: the closest; a staff member compares a few, not a list


_ADD_TEXT = insert(duplicate_texts).on_conflict_do_nothing(index_elements=["complaint_id"])  # values at execution


def contacts(person: Complainant) -> dict[str, str | None]:
    return {"nik": person.nik, "phone": person.phone, "email": person.email}


class PostgresDuplicates:
    """The unit of work's ``duplicates`` (services/workflow/unit_of_work.py)."""

    def __init__(self, conn: Connection, hashes: privacy.LookupHashes) -> None:
        self._conn, self._hashes = conn, hashes

    def record(
        self,
        complaint_id: UUID,
        kecamatan: str,
        complainant: Complainant,
        *,
        subject: str | None = None,
        description: str | None = None,
    ) -> None:
        first = subject is not None and description is not None  # the complaint's first record: nothing to replace
        privacy.record_lookups(
            self._conn, self._hashes, complaint_id, kecamatan, contacts(complainant), replace=not first
        )
        if subject is None or description is None:
            return
        text = privacy.comparable_text(subject, description)
        self._conn.execute(_ADD_TEXT, {"complaint_id": complaint_id, "kecamatan": kecamatan, "text": text})

    def erase(self, complaint_id: UUID) -> None:
        privacy.erase_lookups(self._conn, complaint_id)
        self._conn.execute(delete(duplicate_texts).where(duplicate_texts.c.complaint_id == complaint_id))


def keep_open_flag(complaint_id: UUID | None, status: str) -> Update:
    """The statement that sets the text's ``open`` flag as the complaint's status has it (the read model's update
    sends it with its own, in one statement; a reopened complaint is a candidate again)."""
    is_open = status != "closed"
    return (
        update(duplicate_texts)
        .where(duplicate_texts.c.complaint_id == complaint_id, duplicate_texts.c.open.is_not(is_open))
        .values(open=is_open)
    )


@dataclass
class Candidate:
    complaint_id: UUID
    tracking_code: str
    register_number: str | None
    received_at: datetime
    subject: str
    confidential: bool
    reasons: set[str] = field(default_factory=set)  # nik, phone, email, text
    similarity: float | None = None


def possible_duplicates(
    conn: Connection,
    hashes: privacy.LookupHashes,
    complaint_id: UUID,
    kecamatan: str,
    complainant: Complainant,
    subject: str,
    description: str,
) -> list[Candidate]:
    """The open complaints of ``kecamatan`` (not ``complaint_id``) whose complainant has the same NIK, phone or e-mail
    (looked up by keyed hash under every configured key) or whose text is alike (``TEXT_SIMILARITY``); those matched
    by the person first, then the most alike, at most ``MAX_SHOWN``. In ``conn``'s transaction (the threshold is set
    for it alone)."""
    by_person = privacy.find_lookups(conn, hashes, kecamatan, contacts(complainant), besides=complaint_id)
    own = privacy.comparable_text(subject, description)
    by_text: dict[UUID, float] = {}
    if own:
        conn.execute(select(func.set_config("pg_trgm.similarity_threshold", str(TEXT_SIMILARITY), True)))
        similarity = func.similarity(duplicate_texts.c.text, own)
        rows = conn.execute(
            select(duplicate_texts.c.complaint_id, similarity)
            .where(
                duplicate_texts.c.open.is_(True),
                duplicate_texts.c.text.op("%")(own),
                duplicate_texts.c.kecamatan == kecamatan,
                duplicate_texts.c.complaint_id != complaint_id,
            )
            .order_by(similarity.desc())
            .limit(MAX_SHOWN)
        )
        by_text = {found: float(score) for found, score in rows}
    ids = set(by_person) | set(by_text)
    if not ids:
        return []
    c = complaints.c
    rows = conn.execute(
        select(c.complaint_id, c.tracking_code, c.register_number, c.register_year, c.received_at, c.subject)
        .add_columns(c.confidential)
        .where(c.complaint_id.in_(ids), c.kecamatan == kecamatan, c.status != "closed")
    ).all()
    found = [
        Candidate(
            complaint_id=r.complaint_id,
            tracking_code=r.tracking_code,
            register_number=f"{r.register_number}/{r.register_year}" if r.register_number else None,
            received_at=r.received_at,
            subject=r.subject,
            confidential=r.confidential,
            reasons=set(by_person.get(r.complaint_id, ())) | ({"text"} if r.complaint_id in by_text else set()),
            similarity=round(by_text[r.complaint_id], 2) if r.complaint_id in by_text else None,
        )
        for r in rows
    ]
    found.sort(key=shown_order)
    return found  # every one: the view filters what a reader may see of them, sorts again, then keeps MAX_SHOWN


def shown_order(m: Candidate) -> tuple:
    """Matched by the person first, then the most alike, then the earliest. Sorted again after a reader's view has
    dropped the reasons they may not see: an order by reasons they cannot see would tell them (docs/adr/0021)."""
    return (not (m.reasons - {"text"}), -(m.similarity or 0), m.received_at)
