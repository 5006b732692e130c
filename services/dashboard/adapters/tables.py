"""The dashboard's read models (schema ``dashboard``), fed from the event store by
``adapters/projections.py``. Migrations 0008, 0014 and 0017 create the same tables; a rebuild creates fresh
copies from these definitions (``<table>__next``) and swaps them in, so keep the two in step (a test compares
them). Beside them, the checkpoints and the events a projection set aside (``projection_failures``, migration
0018; ``shared.projection_failures``), one table for every projection and its rebuild's copies.

Index names start with their table's name: a rebuilt table's indexes are renamed by that prefix when it
takes the live table's place.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.projection_failures import failures_table
from shared.subscriptions import checkpoint_table

SCHEMA = "dashboard"
metadata = MetaData(schema=SCHEMA)

checkpoints = checkpoint_table(metadata)
# not late whatever the clock says: closed, a referral the kecamatan follows (its part ended when it referred), a
# keberatan (docs/adr/0020: the Camat's answer has its own due time)
OPEN_NOT_LATE = ("closed", "referred", "objection")
projection_failures = failures_table(metadata)


def _complaints(md: MetaData, name: str = "complaints") -> Table:
    """One row per complaint: where it stands and what the Buku Rekap Pengaduan shows of it."""
    table = Table(
        name,
        md,
        Column("complaint_id", UUID(as_uuid=True), primary_key=True),
        Column("kecamatan", Text, nullable=False),
        Column("tracking_code", Text, nullable=False),
        Column("register_number", Integer),
        Column("register_year", Integer),
        Column("received_at", DateTime(timezone=True), nullable=False),
        Column("received_date", Date, nullable=False),  # in the kecamatan's time zone: the period filters
        Column("complainant_name", Text, nullable=False),
        Column("complainant_nik", Text),
        Column("complainant_phone", Text),
        Column("complainant_email", Text),
        Column("complainant_address", Text),
        Column("channel", Text, nullable=False),
        Column("subject", Text, nullable=False),
        Column("status", Text, nullable=False),  # in_progress | awaiting_documents | referred | closed
        Column("outcome", Text),  # resolved | referred | identity_rejected | incomplete | withdrawn | duplicate
        Column("current_step", SmallInteger),
        Column("waiting_role", Text),
        Column("step_started_at", DateTime(timezone=True)),
        Column("step_due_at", DateTime(timezone=True)),
        Column("deadline_at", DateTime(timezone=True)),  # the 12-working-day promise
        Column("disposition_unit", Text),  # step 4
        Column("disposition_instructions", Text),
        Column("disposed_at", DateTime(timezone=True)),
        Column("follow_up", Text),  # step 5: the clarification
        Column("followed_up_at", DateTime(timezone=True)),
        Column("referred_to", Text),  # step 4, dilimpahkan
        Column("agency_kind", Text),
        Column("referral_reason", Text),
        Column("referred_at", DateTime(timezone=True)),
        Column("letter_number", Text),
        Column("letter_signed_at", DateTime(timezone=True)),
        Column("dispatched_at", DateTime(timezone=True)),  # step 12 handed to notify (otomatis)
        Column("sent_at", DateTime(timezone=True)),  # ResponseSent: the tanda terima
        Column("sent_channel", Text),
        Column("receipt", Text),
        Column("closed_at", DateTime(timezone=True)),
        # the kecamatan's part done on or before deadline_at: when it closed, or for a referral when it referred
        Column("within_sla", Boolean),
        Column("sop_version", Text, nullable=False),
        Column("sop_overrides", JSONB(none_as_null=True)),
        Column("step_occurrences", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("position", BigInteger, nullable=False),  # the last event applied
        # a referral followed until the receiving office answers (migration 0017; domain/complaints.py):
        # followed | answered | lapsed | ended | unfollowed (referred before referrals were followed)
        Column("referral_state", Text),
        Column("referral_follow_up_by", DateTime(timezone=True)),
        Column("referral_letter_number", Text),  # the surat pelimpahan
        Column("referral_answer", Text),  # the receiving office's answer, as staff recorded it
        Column("referral_answered_on", Date),  # the date of the office's letter or message
        Column("referral_reference", Text),
        Column("referral_ended_at", DateTime(timezone=True)),  # answered, lapsed or ended
        # pelapor rahasia (migration 0023): concealed from all but the Kasi/Kasubag and Camat, and in every export
        Column("complainant_confidential", Boolean, nullable=False, server_default="false"),
        # the category (migration 0026): a code of the kabupaten's list (shared/contracts/categories.py), or NULL
        Column("category", Text),
        # the complainant's answer to the latest closing, reopenings and a keberatan (migration 0027; ADR 0020)
        Column("feedback_satisfied", Boolean),
        Column("feedback_rating", SmallInteger),  # 1-4
        Column("feedback_at", DateTime(timezone=True)),
        Column("reopened", SmallInteger, nullable=False, server_default="0"),
        Column("objection_at", DateTime(timezone=True)),
        Column("objection_state", Text),  # open | answered
        Column("feedback_unit", Text),  # the unit whose response the latest answer judged
        Column("reopened_unit", Text),  # the unit whose response was followed by the first reopening
    )
    Index(
        f"{name}_kecamatan_received",
        table.c.kecamatan,
        table.c.received_date,
        postgresql_include=["channel", "status", "outcome", "within_sla", "deadline_at"],
    )
    Index(
        f"{name}_register",
        table.c.kecamatan,
        table.c.register_year,
        table.c.register_number,
        unique=True,
        postgresql_where=table.c.register_number.isnot(None),
    )
    Index(f"{name}_overdue", table.c.kecamatan, table.c.step_due_at, postgresql_where=table.c.status == "in_progress")
    # every referral, followed (open) or closed (migration 0017; before, only closed ones: outcome referred)
    Index(
        f"{name}_referred", table.c.kecamatan, table.c.received_date, postgresql_where=table.c.referred_to.isnot(None)
    )
    Index(f"{name}_tracking_code", table.c.tracking_code, unique=True)
    # open, counted against the 12-day deadline (the summary's open_late: it depends on the clock, so it is not one
    # of the counters; migration 0031)
    Index(
        f"{name}_open",
        table.c.kecamatan,
        table.c.received_date,
        postgresql_include=["deadline_at"],
        postgresql_where=table.c.status.notin_(OPEN_NOT_LATE),
    )
    return table


def _complaint_counts(md: MetaData, name: str = "complaint_counts") -> Table:
    """How many complaints received in a month (``span`` 'month') or a year ('year') of a kecamatan (in its time
    zone; ``start``: the first day) have each channel, status, outcome, category, and were closed within the 12
    days (``dimension``, ``value``; adapters/counters.py, migration 0031). Kept by the projection in the transaction
    that changes ``complaints``, recounted from ``complaints`` at the end of a rebuild. No row holds 0."""
    return Table(
        name,
        md,
        Column("kecamatan", Text, primary_key=True),
        Column("span", Text, primary_key=True),  # month | year
        Column("start", Date, primary_key=True),
        Column("dimension", Text, primary_key=True),  # channel | status | outcome | category | closed_within
        Column("value", Text, primary_key=True),  # '' for closed_within
        Column("n", Integer, nullable=False),
    )


def _feedback_counts(md: MetaData, name: str = "feedback_counts") -> Table:
    """The complainants' answers of the complaints received in a month or a year, by the three units they are
    charged to (``queries._charge_feedback``), kept and rebuilt as ``complaint_counts`` (migration 0031). ``n``:
    complaints in the row (none holds 0); absent units are ``''``."""
    return Table(
        name,
        md,
        Column("kecamatan", Text, primary_key=True),
        Column("span", Text, primary_key=True),
        Column("start", Date, primary_key=True),
        Column("disposition_unit", Text, primary_key=True),
        Column("feedback_unit", Text, primary_key=True),
        Column("reopened_unit", Text, primary_key=True),
        Column("n", Integer, nullable=False),
        Column("responded", Integer, nullable=False),
        Column("answered", Integer, nullable=False),
        Column("satisfied", Integer, nullable=False),
        Column("rating_sum", Integer, nullable=False),
        Column("reopened", Integer, nullable=False),
        Column("objections", Integer, nullable=False),
    )


def _step_times(md: MetaData, name: str = "step_times") -> Table:
    """One row per completed occurrence of a step (a step done again, e.g. a redraft, is a new occurrence).

    ``elapsed_minutes`` are office minutes on the kecamatan's working calendar (``wall_minutes`` the clock's);
    ``standard_minutes`` is the SOP's standard in office minutes (working days x the calendar's office day);
    ``within_standard`` says whether the step was done by the due time the workflow set for it."""
    table = Table(
        name,
        md,
        Column("complaint_id", UUID(as_uuid=True), primary_key=True),
        Column("step", SmallInteger, primary_key=True),
        Column("occurrence", SmallInteger, primary_key=True),
        Column("kecamatan", Text, nullable=False),
        Column("role", Text, nullable=False),
        Column("started_at", DateTime(timezone=True), nullable=False),
        Column("completed_at", DateTime(timezone=True), nullable=False),
        Column("completed_date", Date, nullable=False),  # in the kecamatan's time zone
        Column("due_at", DateTime(timezone=True)),
        Column("elapsed_minutes", Integer, nullable=False),
        Column("wall_minutes", Integer, nullable=False),
        Column("standard_minutes", Integer, nullable=False),
        Column("within_standard", Boolean, nullable=False),
        Column("position", BigInteger, nullable=False),
    )
    # a short period: the rows of those days; the whole history of many kecamatan: every row, but already in
    # the order of the groups and of elapsed time (no sort before the percentiles)
    Index(
        f"{name}_kecamatan_completed",
        table.c.kecamatan,
        table.c.completed_date,
        table.c.step,
        postgresql_include=["role", "elapsed_minutes", "standard_minutes", "within_standard"],
    )
    Index(
        f"{name}_groups",
        table.c.kecamatan,
        table.c.step,
        table.c.role,
        table.c.standard_minutes,
        table.c.elapsed_minutes,
        postgresql_include=["completed_date", "within_standard"],
    )
    return table


def _service_requests(md: MetaData, name: str = "service_requests") -> Table:
    """One row per complaint as Open311 shows it to the public (services/dashboard/domain/open311.py): no personal
    data, the category already read from the subject; ``updated_at`` moves with every event of the complaint
    (migration 0014)."""
    table = Table(
        name,
        md,
        Column("complaint_id", UUID(as_uuid=True), primary_key=True),
        Column("tracking_code", Text, nullable=False),
        Column("kecamatan", Text, nullable=False),
        Column("service_code", Text, nullable=False),  # shared.contracts.open311, from the subject
        Column("received_at", DateTime(timezone=True), nullable=False),
        Column("status", Text, nullable=False),  # in_progress | awaiting_documents | referred | closed
        Column("outcome", Text),
        Column("current_step", SmallInteger),
        Column("deadline_at", DateTime(timezone=True)),
        Column("referred_to", Text),
        Column("sop_version", Text, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),  # the last event's occurred_at
        Column("position", BigInteger, nullable=False),  # the last event applied
        # a referral followed until the receiving office answers (migration 0017), as in ``complaints``
        Column("referral_state", Text),
        Column("follow_up_by", DateTime(timezone=True)),
        Column("referral_answered_on", Date),
    )
    Index(f"{name}_tracking_code", table.c.tracking_code, unique=True)
    Index(f"{name}_received", table.c.received_at, table.c.complaint_id)  # newest first, across kecamatan
    Index(f"{name}_kecamatan_received", table.c.kecamatan, table.c.received_at)
    return table


complaints = _complaints(metadata)
step_times = _step_times(metadata)
service_requests = _service_requests(metadata)
complaint_counts = _complaint_counts(metadata)
feedback_counts = _feedback_counts(metadata)

BUILDERS = {
    "complaints": _complaints,
    "step_times": _step_times,
    "service_requests": _service_requests,
    "complaint_counts": _complaint_counts,
    "feedback_counts": _feedback_counts,
}


def copies(names: tuple[str, ...], suffix: str) -> dict[str, Table]:
    """Fresh definitions of the named tables as ``<name><suffix>`` (own MetaData, same schema)."""
    md = MetaData(schema=SCHEMA)
    return {name: BUILDERS[name](md, name + suffix) for name in names}
