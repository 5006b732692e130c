"""The kecamatan's organisation (issue #15, docs/adr/0014): units, officials' rank, delegations, and the log of
every change to them; two views for the other services.

- ``tenancy.org_default_units``: the units a kecamatan has until an admin gives it its own: a kabupaten's list
  (from its regulation on the kecamatan's SOTK), else the national default (``kabupaten`` ''), the PP 17/2018
  set. ``tenancy.org_units``: a kecamatan's own list, once an admin changed anything in it.
- ``tenancy.users`` gains ``pangkat`` and ``golongan`` (an official's rank, printed under a signature); a Kasi's
  ``unit`` is now a unit's code: the free text written so far is read through the unit matcher, and what it
  cannot read is left as it was (and listed in the migration's log) for an admin to correct.
- ``tenancy.org_delegations``: a delegate acting for a role (a Kasi's: for one unit) from one day to another,
  as Plh. or Plt.; ``ended_at`` when an admin ends it early.
- ``tenancy.org_events``: append-only (triggers refuse UPDATE, DELETE and TRUNCATE), one row per change.
- views ``tenancy.unit_directory`` (units with their head) and ``tenancy.delegation_directory``, and the staff
  directory with the two new columns at its end (a contract: columns are added, never renamed or dropped).

Revision ID: 0015
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# The PP 17/2018 set as of this migration (shared/contracts/organisation.py's PP17_UNITS may change later;
# this migration must not): (code, kind, name, short names)
UNITS = (
    ("umpeg", "subbagian", "Umum dan Kepegawaian", ["umum", "kepegawaian", "umum kepegawaian"]),
    ("renkeu", "subbagian", "Perencanaan dan Keuangan", ["perencanaan", "keuangan", "program dan keuangan"]),
    ("pemerintahan", "seksi", "Pemerintahan", ["tapem", "pemerintah"]),
    ("trantib", "seksi", "Ketenteraman dan Ketertiban Umum", ["trantibum", "ketentraman dan ketertiban umum"]),
    ("kesra", "seksi", "Kesejahteraan Sosial", ["kessos", "kesos", "kesejahteraan rakyat"]),
    ("pmd", "seksi", "Pemberdayaan Masyarakat dan Desa", ["pemberdayaan masyarakat", "pemberdayaan masyarakat desa"]),
    ("pelayanan-umum", "seksi", "Pelayanan Umum", ["pelayanan", "yanum", "pelum"]),
)
CODE = "^[a-z0-9]+(-[a-z0-9]+)*$"


def upgrade() -> None:
    for table, owner in (("org_default_units", "kabupaten"), ("org_units", "kecamatan")):
        op.create_table(
            table,
            sa.Column(owner, sa.Text, primary_key=True),
            sa.Column("code", sa.Text, primary_key=True),
            sa.Column("kind", sa.Text, nullable=False),
            sa.Column("name", sa.Text, nullable=False),
            sa.Column("short_names", sa.ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'")),
            sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
            sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
            sa.CheckConstraint(f"code ~ '{CODE}' AND length(code) <= 40", name=f"{table}_code_format"),
            sa.CheckConstraint("kind IN ('seksi', 'subbagian')", name=f"{table}_kind_known"),
            sa.CheckConstraint("length(btrim(name)) BETWEEN 1 AND 120", name=f"{table}_name_present"),
            schema="tenancy",
        )
    op.create_foreign_key(
        "org_units_kecamatan",
        "org_units",
        "kecamatan",
        ["kecamatan"],
        ["slug"],
        source_schema="tenancy",
        referent_schema="tenancy",
    )
    op.execute(
        sa.text(
            "INSERT INTO tenancy.org_default_units (kabupaten, code, kind, name, short_names) "
            "SELECT '', u.code, u.kind, u.name, u.short_names FROM jsonb_to_recordset(CAST(:units AS jsonb)) "
            "AS u(code text, kind text, name text, short_names text[])"
        ).bindparams(
            units=_json([{"code": c, "kind": k, "name": n, "short_names": s} for c, k, n, s in UNITS]),
        )
    )

    op.add_column("users", sa.Column("pangkat", sa.Text, nullable=True), schema="tenancy")
    op.add_column("users", sa.Column("golongan", sa.Text, nullable=True), schema="tenancy")
    op.create_check_constraint(
        "users_golongan_format", "users", r"golongan IS NULL OR golongan ~ '^(I|II|III|IV)/[a-e]$'", schema="tenancy"
    )
    _units_as_codes()

    op.create_table(
        "org_delegations",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("kecamatan", sa.Text, sa.ForeignKey("tenancy.kecamatan.slug"), nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("unit", sa.Text, nullable=True),
        sa.Column("delegate", sa.Text, sa.ForeignKey("tenancy.users.username"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("granted_by", sa.Text, nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.Text, nullable=True),
        sa.CheckConstraint("role IN ('staf', 'kasi', 'sekcam', 'camat')", name="org_delegations_role_known"),
        sa.CheckConstraint("(role = 'kasi') = (unit IS NOT NULL)", name="org_delegations_unit_for_kasi"),
        sa.CheckConstraint("kind IN ('plh', 'plt')", name="org_delegations_kind_known"),
        sa.CheckConstraint("starts_on <= ends_on", name="org_delegations_period"),
        sa.CheckConstraint("length(btrim(reason)) > 0", name="org_delegations_reason_present"),
        schema="tenancy",
    )
    op.create_index("org_delegations_lookup", "org_delegations", ["kecamatan", "role", "ends_on"], schema="tenancy")

    op.create_table(
        "org_events",
        sa.Column("position", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("id", sa.Uuid, nullable=False, unique=True),
        sa.Column("kecamatan", sa.Text, nullable=True),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("data", sa.dialects.postgresql.JSONB, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        schema="tenancy",
    )
    op.execute(
        """
        CREATE FUNCTION tenancy.forbid_org_event_change() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'tenancy.org_events is append-only';
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER org_events_no_update_delete BEFORE UPDATE OR DELETE ON tenancy.org_events "
        "FOR EACH ROW EXECUTE FUNCTION tenancy.forbid_org_event_change()"
    )
    op.execute(
        "CREATE TRIGGER org_events_no_truncate BEFORE TRUNCATE ON tenancy.org_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION tenancy.forbid_org_event_change()"
    )

    op.execute(
        """
        CREATE OR REPLACE VIEW tenancy.staff_directory AS
        SELECT username, full_name, role, kecamatan, kabupaten, unit, nip, active, tokens_valid_after,
               email, phone, notify_channel, notify_new_work, pangkat, golongan
        FROM tenancy.users
        """
    )
    # a kecamatan's units: its own list if it has one, else its kabupaten's, else the national default; a unit's
    # head: its active Kasi/Kasubag, the one added last when there are several
    op.execute(
        """
        CREATE VIEW tenancy.unit_directory AS
        WITH units AS (
            SELECT kecamatan, code, kind, name, short_names, active FROM tenancy.org_units
            UNION ALL
            SELECT k.slug, d.code, d.kind, d.name, d.short_names, d.active
            FROM tenancy.kecamatan k
            JOIN tenancy.org_default_units d ON d.kabupaten = (
                SELECT CASE WHEN EXISTS (
                    SELECT 1 FROM tenancy.org_default_units x WHERE x.kabupaten = k.kabupaten_slug
                ) THEN k.kabupaten_slug ELSE '' END
            )
            WHERE NOT EXISTS (SELECT 1 FROM tenancy.org_units o WHERE o.kecamatan = k.slug)
        )
        SELECT u.kecamatan, u.code, u.kind, u.name, u.short_names, u.active,
               h.username AS head_username, h.full_name AS head_name, h.nip AS head_nip,
               h.pangkat AS head_pangkat, h.golongan AS head_golongan
        FROM units u
        LEFT JOIN LATERAL (
            SELECT username, full_name, nip, pangkat, golongan FROM tenancy.users s
            WHERE s.role = 'kasi' AND s.active AND s.kecamatan = u.kecamatan AND s.unit = u.code
            ORDER BY s.created_at DESC, s.username LIMIT 1
        ) h ON true
        """
    )
    op.execute(
        """
        CREATE VIEW tenancy.delegation_directory AS
        SELECT id, kecamatan, role, unit, delegate, kind, starts_on, ends_on, reason, granted_by, granted_at,
               ended_at
        FROM tenancy.org_delegations
        """
    )
    for view in ("unit_directory", "delegation_directory"):
        op.execute(
            f"COMMENT ON VIEW tenancy.{view} IS 'Contract of the accounts service (shared/contracts/organisation.py):"
            " read-only for other services; columns are added, never renamed or dropped'"
        )


def _json(value: object) -> str:
    import json

    return json.dumps(value)


def _normal(text: str) -> str:
    """This migration's own copy of the matcher's normal form (shared/contracts/organisation.py, frozen)."""
    import re

    folded = text.casefold().replace("&", " dan ").replace("/", " dan ")
    plain = " ".join(re.sub(r"[^0-9a-z]+", " ", folded).split())
    prefixes = ("kepala seksi", "kepala subbagian", "kepala sub bagian", "kasubbag", "kasubag", "kasi", "kasie")
    prefixes += ("seksi", "sie", "subbagian", "sub bagian", "subbag", "bagian")
    pattern = re.compile(r"^(?:" + "|".join(re.escape(p) for p in prefixes) + r")\b\s*")
    while (stripped := pattern.sub("", plain, count=1)) != plain:
        plain = stripped
    return plain


def _units_as_codes() -> None:
    """A Kasi's free-text unit becomes the code of the unit it names; what names none stays as written."""
    names: dict[str, set[str]] = {}
    for code, _kind, name, short in UNITS:
        for written in (code, code.replace("-", " "), name, *short):
            names.setdefault(_normal(written), set()).add(code)
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT DISTINCT unit FROM tenancy.users WHERE unit IS NOT NULL")).scalars().all()
    for written in rows:
        codes = names.get(_normal(written), set())
        if len(codes) == 1:
            (code,) = codes
            if code != written:
                conn.execute(
                    sa.text("UPDATE tenancy.users SET unit = :code WHERE unit = :written"),
                    {"code": code, "written": written},
                )
        else:
            log.warning("unit %r of some users names no unit of PP 17/2018: left as written for an admin", written)


def downgrade() -> None:
    op.execute("DROP VIEW tenancy.staff_directory")  # CREATE OR REPLACE cannot drop columns
    op.execute(
        """
        CREATE VIEW tenancy.staff_directory AS
        SELECT username, full_name, role, kecamatan, kabupaten, unit, nip, active, tokens_valid_after,
               email, phone, notify_channel, notify_new_work
        FROM tenancy.users
        """
    )
    op.execute(
        "COMMENT ON VIEW tenancy.staff_directory IS "
        "'Contract of the accounts service (shared/contracts/accounts.py): read-only for other services; "
        "columns are added, never renamed or dropped'"
    )
    op.execute("DROP VIEW tenancy.delegation_directory")
    op.execute("DROP VIEW tenancy.unit_directory")
    op.drop_table("org_events", schema="tenancy")
    op.execute("DROP FUNCTION tenancy.forbid_org_event_change()")
    op.drop_table("org_delegations", schema="tenancy")
    op.drop_constraint("users_golongan_format", "users", schema="tenancy")
    op.drop_column("users", "golongan", schema="tenancy")
    op.drop_column("users", "pangkat", schema="tenancy")
    op.drop_table("org_units", schema="tenancy")
    op.drop_table("org_default_units", schema="tenancy")
