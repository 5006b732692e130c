"""Accounts' own tables: ``tenancy.users`` (migrations 0002, 0006, 0009, 0015, 0019) and the organisation's (0015).
Other services read the view ``tenancy.staff_directory`` (``shared/contracts/accounts.py``), never these tables."""

from sqlalchemy import ARRAY, BigInteger, Boolean, Column, Date, DateTime, ForeignKey, Identity, Table, Text, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB

from shared.tenancy import kecamatan_table, metadata

users = Table(
    "users",
    metadata,  # shared.tenancy's: schema "tenancy", so the foreign key to the kecamatan resolves
    Column("username", Text, primary_key=True),
    Column("full_name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("kecamatan", Text, ForeignKey(kecamatan_table.c.slug), nullable=True),
    Column("kabupaten", Text, nullable=True),
    Column("unit", Text, nullable=True),
    Column("nip", Text, nullable=True),
    Column("pangkat", Text, nullable=True),  # an official's rank (migration 0015): "Pembina"
    Column("golongan", Text, nullable=True),  # and grade: "IV/a"
    # the NIK their BSrE signing certificate is registered under (migration 0019, docs/adr/0016)
    Column("tte_nik", Text, nullable=True),
    Column("password_hash", Text, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    # where notify reaches the user (migration 0006): overdue alerts always, new work when they ask for it
    Column("email", Text, nullable=True),
    Column("phone", Text, nullable=True),
    Column("notify_channel", Text, nullable=False, server_default=text("'email'")),
    Column("notify_new_work", Boolean, nullable=False, server_default=text("false")),
    # tokens issued before this are refused (migration 0009): deactivation, a new password, a move
    Column("tokens_valid_after", DateTime(timezone=True), nullable=True),
)  # the constraints (role, scope per role, formats) are in migration 0002

# The organisation (migration 0015, docs/adr/0014). Other services read the views ``tenancy.unit_directory``
# and ``tenancy.delegation_directory`` (``shared/contracts/organisation.py``), never these tables.
org_default_units = Table(
    "org_default_units",
    metadata,
    Column("kabupaten", Text, primary_key=True),  # '' for the national default
    Column("code", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("short_names", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)
org_units = Table(
    "org_units",
    metadata,
    Column("kecamatan", Text, ForeignKey(kecamatan_table.c.slug), primary_key=True),
    Column("code", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("short_names", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)
org_delegations = Table(
    "org_delegations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("kecamatan", Text, ForeignKey(kecamatan_table.c.slug), nullable=False),
    Column("role", Text, nullable=False),
    Column("unit", Text, nullable=True),
    Column("delegate", Text, ForeignKey(users.c.username), nullable=False),
    Column("kind", Text, nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    Column("reason", Text, nullable=False),
    Column("granted_by", Text, nullable=False),
    Column("granted_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("ended_by", Text, nullable=True),
)
org_events = Table(  # append-only: triggers refuse UPDATE, DELETE and TRUNCATE
    "org_events",
    metadata,
    Column("position", BigInteger, Identity(always=True), primary_key=True),
    Column("id", Uuid, nullable=False, unique=True),
    Column("kecamatan", Text, nullable=True),
    Column("type", Text, nullable=False),
    Column("data", JSONB, nullable=False),
    Column("actor", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)
