"""Notify: one delivery row per message (the claim that makes a send happen once), editable templates,
and the staff's contact details and notification preferences.

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        # uuid5(source event, kind, channel, recipient): the idempotency key; also the provider reference
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("source_event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("complaint_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kecamatan", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("audience", sa.Text, nullable=False),  # complainant | staff
        sa.Column("username", sa.Text),  # the staff member, for audience staff
        sa.Column("channel", sa.Text, nullable=False),  # email | sms | whatsapp
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("attachment", JSONB),  # {"sha256", "filename", "content_type"}: bytes in the document store
        sa.Column("link", sa.Text),  # the verification / download link of a letter
        sa.Column("variables", JSONB),  # what the template was rendered with (WhatsApp template parameters)
        sa.Column("state", sa.Text, nullable=False, server_default="pending"),
        sa.Column("attempts", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("enqueued_at", sa.DateTime(timezone=True)),  # its send task was last published then
        sa.Column("sending_since", sa.DateTime(timezone=True)),
        sa.Column("provider", sa.Text),
        sa.Column("provider_message_id", sa.Text),
        sa.Column("last_error", sa.Text),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("reported_state", sa.Text),  # the last state reported to the workflow
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.CheckConstraint(
            "state IN ('pending', 'sending', 'sent', 'delivered', 'failed', 'unknown')", name="state_known"
        ),
        schema="notify",
    )
    op.create_index(
        "deliveries_due",
        "deliveries",
        ["next_attempt_at"],
        schema="notify",
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index(
        "deliveries_sending",
        "deliveries",
        ["sending_since"],
        schema="notify",
        postgresql_where=sa.text("state = 'sending'"),
    )
    op.create_index(
        "deliveries_unreported",
        "deliveries",
        ["updated_at"],
        schema="notify",
        postgresql_where=sa.text(
            "state IN ('sent', 'delivered', 'failed', 'unknown') AND reported_state IS DISTINCT FROM state"
        ),
    )
    op.create_index("deliveries_provider_id", "deliveries", ["provider", "provider_message_id"], schema="notify")
    op.create_index("deliveries_complaint", "deliveries", ["complaint_id", "created_at"], schema="notify")
    op.create_table(
        "templates",
        sa.Column("kecamatan", sa.Text, primary_key=True),  # "*" for every kecamatan of the deployment
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("channel", sa.Text, primary_key=True),
        sa.Column("subject", sa.Text),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("updated_by", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        schema="notify",
    )
    # the new relay subscription starts at the head of the store: it must not replay history to citizens
    op.execute(
        "INSERT INTO workflow.checkpoints (name, position) "
        "SELECT 'relay.notify-messages', coalesce(max(position), 0) FROM workflow.events "
        "ON CONFLICT (name) DO NOTHING"
    )
    op.add_column("users", sa.Column("email", sa.Text), schema="tenancy")
    op.add_column("users", sa.Column("phone", sa.Text), schema="tenancy")
    op.add_column(
        "users", sa.Column("notify_channel", sa.Text, nullable=False, server_default="email"), schema="tenancy"
    )
    op.add_column(
        "users",
        sa.Column("notify_new_work", sa.Boolean, nullable=False, server_default=sa.text("false")),
        schema="tenancy",
    )


def downgrade() -> None:
    op.execute("DELETE FROM workflow.checkpoints WHERE name = 'relay.notify-messages'")
    for column in ("notify_new_work", "notify_channel", "phone", "email"):
        op.drop_column("users", column, schema="tenancy")
    op.drop_table("templates", schema="notify")
    op.drop_table("deliveries", schema="notify")
