"""Concurrent appends (issue #20 item 1, docs/adr/0027): the one append lock goes; readers read up to the
settled position (shared/eventstore/postgres.py ``Horizon``).

That needs every appending transaction to hold a transaction id before it draws a position: a statement trigger
before each INSERT into ``workflow.events`` takes one (``pg_current_xact_id()``; statement triggers fire before any
row's defaults are computed, also for COPY). The sequence must hand out one value at a time (CACHE 1, the default,
made explicit): a backend's cached values would be drawn after a reader took them for settled.

``workflow.events_horizon(start)``: the sequence's last drawn position, then the next transaction id to be assigned,
read live after it (a reader pairs the two: every transaction that drew a position up to the first took its id
before the second was read, so below it). A snapshot's xmax is the latest completed id + 1, and transactions that took
an id after it run unlisted beyond it; ``pg_current_xact_id()`` would give the reader an id of its own (a commit
record each time), and ``age()``'s reference id is fixed for the whole transaction. ``pg_xact_status`` compares with
the live next id and refuses one "in the future" (``workflow.xact_in_future``): probing upward from ``start`` (the
snapshot's xmax) in doubling steps, then halving, finds it in a few probes however many ids were taken since the
latest completion. The next id moves on while it probes, so the answer can only be too high, which delays, never
too low. A sequence not yet used shows its first value with ``is_called`` false: that value is not yet drawn.

The NOTIFY trigger goes (migration 0001's ``events_notify``): a committing transaction that has NOTIFYed holds a
database-wide lock through its commit and fsync, so appending transactions committed one at a time. The writer wakes
the subscribers after its commit instead, in a transaction of its own committed asynchronously
(``PostgresEventStore.wake``).

Revision ID: 0030
"""

from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION workflow.take_xact_id() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_current_xact_id();
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER events_take_xact_id BEFORE INSERT ON workflow.events "
        "FOR EACH STATEMENT EXECUTE FUNCTION workflow.take_xact_id()"
    )
    op.execute("ALTER SEQUENCE workflow.events_position_seq CACHE 1")
    op.execute("DROP TRIGGER events_notify ON workflow.events")
    op.execute("DROP FUNCTION workflow.notify_events()")
    op.execute(
        """
        CREATE OR REPLACE FUNCTION workflow.xact_in_future(x xid8) RETURNS boolean AS $$
        BEGIN
            PERFORM pg_xact_status(x);
            RETURN false;
        EXCEPTION WHEN invalid_parameter_value THEN  -- "transaction ID ... is in the future"
            RETURN true;
        END;
        $$ LANGUAGE plpgsql VOLATILE
        """
    )
    op.execute(
        """
        CREATE OR REPLACE FUNCTION workflow.events_horizon(start xid8, OUT last_drawn bigint, OUT next_xid bigint)
        AS $$
        DECLARE
            lo bigint;  -- not in the future when probed
            hi bigint;  -- in the future when probed (the next id then, or above it: only ever too high, never too low)
            mid bigint;
            step bigint := 1;
        BEGIN
            -- a sequence not yet used shows its first value, not yet drawn
            SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END INTO last_drawn
            FROM workflow.events_position_seq;
            IF workflow.xact_in_future(start) THEN
                next_xid := start::text::bigint;
                RETURN;
            END IF;
            lo := start::text::bigint;
            LOOP  -- doubling steps: many ids taken since the latest completion cost a few probes, not one each
                hi := lo + step;
                EXIT WHEN workflow.xact_in_future(hi::text::xid8);
                lo := hi;
                step := step * 2;
            END LOOP;
            WHILE hi - lo > 1 LOOP
                mid := lo + (hi - lo) / 2;
                IF workflow.xact_in_future(mid::text::xid8) THEN
                    hi := mid;
                ELSE
                    lo := mid;
                END IF;
            END LOOP;
            next_xid := hi;
        END;
        $$ LANGUAGE plpgsql VOLATILE
        """
    )


def downgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION workflow.notify_events() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('pengaduan_events', '');
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER events_notify AFTER INSERT ON workflow.events "
        "FOR EACH STATEMENT EXECUTE FUNCTION workflow.notify_events()"
    )
    op.execute("DROP FUNCTION workflow.events_horizon(xid8)")
    op.execute("DROP FUNCTION workflow.xact_in_future(xid8)")
    op.execute("DROP TRIGGER events_take_xact_id ON workflow.events")
    op.execute("DROP FUNCTION workflow.take_xact_id()")
