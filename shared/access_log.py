"""Who looked at a complainant's personal data (UU 27/2022 PDP; issue #17 item 4; docs/adr/0017 "Access log").

Every request that serves a complainant's personal data writes one row of ``privacy.access_log`` (migration 0024)
before its answer goes out: when, who (username and role), which service, what (a stable code, ``WHAT``), the
complaints it showed (an export of many is one row holding all their ids), the kecamatan, the reason the reader
gave in the ``X-Access-Reason`` header, and the request's correlation id. Who is served personal data is
``shared.masking.sees_personal_data``'s decision; a masked view writes nothing. The complainant downloading their
receipt or letter by tracking code is recorded too, as ``public`` with no user (the code is a bearer secret: the
record shows when it was used).

**Fail closed.** ``record`` raises when the row cannot be written, and the request fails with it (503 when the
database is out of reach): an audit that can be skipped is no audit. One INSERT per request, in a transaction of
its own (or in the caller's, given a connection).

**Nothing personal in it.** Ids, usernames, roles, codes; no IP address (for a tracking code's holder that would be
the complainant's own). The reason is the reader's words: before it is written, whatever looks like a NIK, a phone
number or an e-mail address, and the shown complainants' own values and names, are masked (``mask_reason``). So the
log needs no change when a complainant's data is erased, and stays: the record of who looked is kept. Append-only:
rows are inserted, never updated or deleted.

``entries`` reads a complaint's rows, newest first, for ``GET /v1/complaints/{id}/access-log`` (the workflow).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol
from uuid import UUID

from fastapi import Depends, Header, Request
from pydantic_core import PydanticCustomError
from sqlalchemy import BigInteger, Column, DateTime, MetaData, Table, Text, func, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.engine import Connection, Engine

from shared.contracts.workflow import ERASED_NAME
from shared.http import ApiError, FieldError
from shared.masking import scrub
from shared.text import clean_one_line

metadata = MetaData(schema="privacy")
access_log = Table(
    "access_log",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("user_id", Text),  # None: the holder of a tracking code (role "public")
    Column("role", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("what", Text, nullable=False),
    Column("complaint_ids", ARRAY(PG_UUID(as_uuid=True)), nullable=False),
    Column("kecamatan", Text, nullable=False),
    Column("reason", Text),
    Column("correlation_id", Text),
)

_INSERT = insert(access_log)  # built once, each row's values passed at execution (a row for every view of a complaint)

PUBLIC = "public"  # the role recorded for whoever holds a tracking code

# what was looked at: the stable codes the services record (the access-log endpoint shows them as they are)
WHAT = {
    "complaint.detail": "the complaint (GET /v1/complaints/{id}; the web app's complaint page)",
    "complaint.action": "the complaint as an SOP action's answer returns it",
    "register.json": "a page of the Buku Rekap (GET /v1/register)",
    "register.csv": "the Buku Rekap exported as CSV",
    "register.xlsx": "the Buku Rekap exported as XLSX",
    "dashboard.overdue": "the overdue list with the complainants' names and phone numbers",
    "document.<kind>": "a document downloaded by staff: receipt, draft, response_letter, disposition_sheet, "
    "referral_letter, kartu_kendali",
    "document.<kind>.by_tracking_code": "the receipt or the response letter downloaded with the tracking code",
    "scan.download": "an identity scan or photo the complainant sent",
    "privacy.access_copy": "the copy of the complainant's data given on their access request",
}

REASON_HEADER = "X-Access-Reason"
REASON_MAX_LENGTH = 500
INVALID = "Ada isian yang belum benar. Periksa kembali."
_CORRELATION_MAX_LENGTH = 64


class Reader(Protocol):
    """Who reads (``shared.auth.Principal``)."""

    @property
    def username(self) -> str: ...

    @property
    def role(self) -> str: ...


# --- the request's part: the reason and the correlation id --------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """What a request says of itself for the log: the reader's reason (``X-Access-Reason``) and the correlation id
    (``X-Correlation-Id``), each when given."""

    reason: str | None = None
    correlation_id: str | None = None


def _header_text(value: str) -> str:
    """A header value as the client meant it: Starlette reads header bytes as Latin-1; UTF-8 bytes (a browser's
    ``fetch`` cannot send them, ``curl`` and the gateway pass them as they are) are read as UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def reason_of(value: str | None) -> str | None:
    """The reason as it is recorded (None when none was given); ``ApiError`` 422 ``invalid_access_reason`` for a
    value that is not one line of at most 500 characters."""
    if value is None:
        return None
    try:
        text = " ".join(clean_one_line(_header_text(value)).split())
    except PydanticCustomError as exc:
        raise _bad_reason(exc.type, exc.message()) from None
    if len(text) > REASON_MAX_LENGTH:
        raise _bad_reason("string_too_long", f"Terlalu panjang (maksimal {REASON_MAX_LENGTH} karakter).")
    # staff may quote the complainant's NIK, number or address: masked before the row keeps it
    return scrub(text) or None


def _bad_reason(code: str, message: str) -> ApiError:
    return ApiError(
        422,
        "invalid_access_reason",
        "Alasan membuka data pribadi (header X-Access-Reason) harus satu baris, paling banyak 500 karakter.",
        [FieldError(field=REASON_HEADER, code=code, message=message)],
    )


def access_of(
    request: Request,
    x_access_reason: Annotated[
        str | None,
        Header(
            description="Optional: why the reader opens the complainant's personal data (one line, at most 500 "
            "characters; UTF-8). Recorded in the complaint's access log (GET /v1/complaints/{id}/access-log); a "
            "NIK, phone number or e-mail address in it is masked. Otherwise 422 `invalid_access_reason`",
        ),
    ] = None,
) -> Access:
    correlation = request.headers.get("x-correlation-id")
    if correlation is not None and not _is_uuid(correlation):
        correlation = None  # only a well-formed id is kept (the workflow's actions refuse others)
    return Access(reason=reason_of(x_access_reason), correlation_id=correlation)


def _is_uuid(value: str) -> bool:
    if len(value) > _CORRELATION_MAX_LENGTH:
        return False
    try:
        UUID(value)
    except ValueError:
        return False
    return True


AccessDep = Annotated[Access, Depends(access_of)]


# --- writing ------------------------------------------------------------------------------------------------------


def record(
    target: Engine | Connection,
    *,
    user: Reader | None,
    service: str,
    what: str,
    complaint_ids: Iterable[UUID],
    kecamatan: str,
    access: Access | None = None,
    complainants: Iterable[Mapping[str, Any] | None] = (),
) -> bool:
    """One row: ``user`` (None: the holder of a tracking code) was served the personal data of ``complaint_ids``.
    ``complainants``: their data as the view showed it (``name``, ``nik``, ``phone``, ``email``, ``address``), masked
    in the reason given (``mask_reason``); only read when a reason was given. Raises when the row cannot be written
    (the caller's request must fail: fail closed). Nothing is written when no complaint was shown (an empty page);
    False then."""
    ids = list(dict.fromkeys(complaint_ids))
    if not ids:
        return False
    if any(i is None for i in ids):
        raise ValueError("an access-log row names every complaint it showed")
    access = access or Access()
    row = {
        "user_id": user.username if user is not None else None,
        "role": user.role if user is not None else PUBLIC,
        "service": service,
        "what": what,
        "complaint_ids": ids,
        "kecamatan": kecamatan,
        "reason": mask_reason(access.reason, complainants) if access.reason else None,
        "correlation_id": access.correlation_id,
    }
    if isinstance(target, Connection):
        target.execute(_INSERT, row)
    else:
        with target.begin() as conn:
            conn.execute(_INSERT, row)
    return True


def mask_reason(reason: str, complainants: Iterable[Mapping[str, Any] | None]) -> str:
    """A reason as the row keeps it: the values of the complainants the view showed (NIK, phone, e-mail, address,
    name; ``shared.masking.scrub``) masked, besides the patterns masked when the header was read. Only the values the
    reason may hold are tried (an export's thousands of names are not each a regular expression)."""
    lowered, digits = reason.lower(), re.sub(r"\D", "", reason)
    known: list[str] = []
    names: list[str] = []
    for who in complainants:
        if not who:
            continue
        for key in ("nik", "phone", "email", "address"):
            value = who.get(key)
            if not isinstance(value, str) or not value.strip():
                continue
            tail = re.sub(r"\D", "", value)[-6:]
            if value.lower() in lowered or (len(tail) == 6 and tail in digits):
                known.append(value)
        name = who.get("name")
        if (
            isinstance(name, str)
            and name != ERASED_NAME
            and (name.lower() in lowered or any(word.lower() in lowered for word in name.split() if len(word) >= 3))
        ):
            names.append(name)
    return scrub(reason, known, names) if known or names else reason


# --- reading ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    user_id: str | None
    role: str
    service: str
    what: str
    complaints: int  # how many complaints the view showed (1, or an export's rows)
    kecamatan: str
    reason: str | None
    correlation_id: str | None


def entries(conn: Connection, complaint_id: UUID, *, limit: int, before: int | None = None) -> list[Entry]:
    """The rows that name ``complaint_id``, newest first (by id), at most ``limit``, those with an id below
    ``before`` when given. ``complaint_ids @> ARRAY[id]`` is what the GIN index answers (``:id = ANY(complaint_ids)``
    is not); the rows found are materialized first, so that the planner cannot prefer walking the whole table
    backwards along the primary key to find the newest (it did, on a table whose ids it had no statistics for)."""
    where = [access_log.c.complaint_ids.contains([complaint_id])]
    if before is not None:
        where.append(access_log.c.id < before)
    hits = (
        select(
            access_log.c.id,
            access_log.c.at,
            access_log.c.user_id,
            access_log.c.role,
            access_log.c.service,
            access_log.c.what,
            func.cardinality(access_log.c.complaint_ids).label("complaints"),
            access_log.c.kecamatan,
            access_log.c.reason,
            access_log.c.correlation_id,
        )
        .where(*where)
        .cte("hits")
        .prefix_with("MATERIALIZED")
    )
    rows = conn.execute(select(hits).order_by(hits.c.id.desc()).limit(limit)).mappings().all()
    return [Entry(**row) for row in rows]
