"""Accounts' own table: ``tenancy.users`` (migrations 0002, 0006, 0009). Other services read the view
``tenancy.staff_directory`` (``shared/contracts/accounts.py``), never this table."""

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Table, Text, text

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
