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
from typing import Any
from uuid import UUID

from sqlalchemy import BindParameter, Update, delete, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from services.workflow.adapters.tables import duplicate_texts
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


def keep_open_flag(complaint_id: UUID | BindParameter[Any] | None, status: str) -> Update:
    """The statement that sets the text's ``open`` flag as the complaint's status has it (the read model's update
    sends it with its own, in one statement; a reopened complaint is a candidate again). ``complaint_id`` may be a
    bind parameter (the statement built once, the id passed at execution)."""
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


# the candidates in one statement (four before: the lookups, the threshold, the alike texts, the complaints): the same
# person by a keyed hash of their NIK, phone or e-mail, under any configured key; the texts alike, the most alike
# first, at most MAX_SHOWN of them: the kecamatan's MAX_SHOWN open texts nearest to the complaint's (``<->``, one
# minus pg_trgm's similarity), which the GiST index on (kecamatan, text) returns in that order (migration 0032), then
# those at least TEXT_SIMILARITY alike; anything further is less alike than the last of them. The score is
# ``similarity()`` itself, for those ten: ``1 - (a <-> b)`` is computed from a float4 distance, and a text exactly
# 0.4 alike came out 0.39999998. (Filtering by the similarity inside the nearest-first scan would make it read on
# through the kecamatan's every text when fewer than MAX_SHOWN are alike; ``%`` with the GIN index computed the
# similarity of every text sharing trigrams with it.)
_CANDIDATES = text(
    """
    WITH person AS (
        SELECT l.subject_id, array_agg(DISTINCT l.kind) AS kinds
        FROM privacy.lookups AS l
        WHERE l.kecamatan = :kecamatan AND l.subject_id <> :me
          AND (l.kind, l.hash) IN (SELECT * FROM unnest(CAST(:kinds AS text[]), CAST(:hashes AS text[])))
        GROUP BY l.subject_id
    ), nearest AS (
        SELECT t.complaint_id, similarity(t.text, :own) AS score
        FROM workflow.duplicate_texts AS t
        WHERE :own <> '' AND t.open AND t.kecamatan = :kecamatan AND t.complaint_id <> :me
        ORDER BY t.text <-> :own
        LIMIT :most
    ), alike AS (
        SELECT complaint_id, score FROM nearest WHERE score >= :alike
    )
    SELECT c.complaint_id, c.tracking_code, c.register_number, c.register_year, c.received_at, c.subject,
           c.confidential, p.kinds, a.score
    FROM workflow.complaints AS c
    LEFT JOIN person AS p ON p.subject_id = c.complaint_id
    LEFT JOIN alike AS a ON a.complaint_id = c.complaint_id
    WHERE c.complaint_id IN (SELECT subject_id FROM person UNION SELECT complaint_id FROM alike)
      AND c.kecamatan = :kecamatan AND c.status <> 'closed'
    """
)


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
    by the person first, then the most alike, at most ``MAX_SHOWN`` alike. In ``conn``'s transaction, one statement."""
    wanted = [
        (kind, digest) for kind, value in contacts(complainant).items() for digest in hashes.candidates(kind, value)
    ]
    rows = conn.execute(
        _CANDIDATES,
        {
            "me": complaint_id,
            "kecamatan": kecamatan,
            "kinds": [kind for kind, _ in wanted],
            "hashes": [digest for _, digest in wanted],
            "own": privacy.comparable_text(subject, description),
            "alike": TEXT_SIMILARITY,
            "most": MAX_SHOWN,
        },
    ).all()
    found = [
        Candidate(
            complaint_id=r.complaint_id,
            tracking_code=r.tracking_code,
            register_number=f"{r.register_number}/{r.register_year}" if r.register_number else None,
            received_at=r.received_at,
            subject=r.subject,
            confidential=r.confidential,
            reasons=set(r.kinds or ()) | ({"text"} if r.score is not None else set()),
            similarity=round(float(r.score), 2) if r.score is not None else None,
        )
        for r in rows
    ]
    found.sort(key=shown_order)
    return found  # every one: the view filters what a reader may see of them, sorts again, then keeps MAX_SHOWN


def shown_order(m: Candidate) -> tuple:
    """Matched by the person first, then the most alike, then the earliest. Sorted again after a reader's view has
    dropped the reasons they may not see: an order by reasons they cannot see would tell them (docs/adr/0021)."""
    return (not (m.reasons - {"text"}), -(m.similarity or 0), m.received_at)
