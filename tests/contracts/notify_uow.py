"""The contract every implementation of notify's unit of work must pass (in memory and PostgreSQL), so the unit
tests' flows on the fake say what the service does on the database (services/notify/unit_of_work.py).

A test module provides the fixtures: ``notify_uow`` (a factory of units of work), ``place`` (a kecamatan of the
test's own), ``erase`` (a complaint's personal data erased, as the workflow does), ``add_staff`` (a member of staff of that kecamatan in the directory; of its own, so that no other
test's messages find them), ``ledger`` (the hand-offs recorded, by message id), ``inbox`` (the inbox's rows, by message
id) and ``workflow_events`` (the workflow's event store the units read, to append to). Rows are dated 1990 and carry fresh
ids, so that the tests share one database with everything else and find only their own rows.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

from shared.handoffs import Handoff
from tests.contracts.eventstore import make_event, new_stream

LONG_AGO = datetime(1990, 1, 1, tzinfo=UTC)


def delivery(state: str = "pending", at: datetime = LONG_AGO, **values) -> dict:
    """A delivery row as planning writes it."""
    return {
        "id": uuid.uuid4(),
        "source_event_id": uuid.uuid4(),
        "complaint_id": values.pop("complaint_id", uuid.uuid4()),
        "kecamatan": "pegantenan",
        "kind": "acknowledgment",
        "audience": "complainant",
        "username": None,
        "channel": "sms",
        "recipient": "+6281234567890",
        "subject": None,
        "body": "Pengaduan Anda diterima.",
        "attachment": None,
        "link": None,
        "variables": {"kode": "7KQ2-M9XD-4T"},
        "state": state,
        "last_error": None,
        "next_attempt_at": at,
        "enqueued_at": at,
        "created_at": at,
        "updated_at": at,
        **values,
    }


def stored(notify_uow, *rows: dict) -> list[dict]:
    with notify_uow() as uow:
        uow.deliveries.add(list(rows))
        uow.commit()
    return list(rows)


class NotifyUnitOfWorkContract:
    # -- deliveries: planned once -------------------------------------------------------------------------------
    def test_a_delivery_is_added_once_and_read_back_with_the_defaults(self, notify_uow):
        row = delivery()
        stored(notify_uow, row)
        stored(notify_uow, {**row, "state": "failed", "body": "another"})  # the redelivered plan: left as it is
        with notify_uow() as uow:
            got = uow.deliveries.get(row["id"])
            assert uow.deliveries.many([row["id"], uuid.uuid4()]) == [got]
            assert uow.deliveries.get(uuid.uuid4()) is None
        assert got | {k: row[k] for k in ("state", "body", "recipient", "variables", "next_attempt_at")} == got
        assert (got["state"], got["attempts"], got["reported_state"], got["sending_since"]) == (
            "pending",
            0,
            None,
            None,
        )

    def test_add_returns_the_rows_it_added_as_stored_and_not_those_that_existed(self, notify_uow):
        first, second = delivery(), delivery(state="sending", attempts=1, sending_since=LONG_AGO)
        with notify_uow() as uow:
            assert [r["id"] for r in uow.deliveries.add([first])] == [first["id"]]
            uow.commit()
        with notify_uow() as uow:
            # a redelivered plan, and a new row written claimed (the rows of one call have the same columns)
            added = uow.deliveries.add([{**first, "body": "again", "attempts": 0, "sending_since": None}, second])
            uow.commit()
        assert [r["id"] for r in added] == [second["id"]]
        (row,) = added
        assert (row["state"], row["attempts"], row["sending_since"], row["reported_state"]) == (
            "sending",
            1,
            LONG_AGO,
            None,
        )
        with notify_uow() as uow:
            assert uow.deliveries.get(first["id"])["body"] == first["body"]
            assert uow.deliveries.add([]) == []

    def test_nothing_is_kept_without_commit(self, notify_uow):
        row = delivery()
        with notify_uow() as uow:
            uow.deliveries.add([row])
            assert uow.deliveries.get(row["id"])["state"] == "pending"  # the unit reads its own writes
        with notify_uow() as uow:
            assert uow.deliveries.get(row["id"]) is None

    # -- deliveries: the claim and the outcome ------------------------------------------------------------------
    def test_an_update_writes_only_where_the_state_and_the_claim_still_hold(self, notify_uow):
        (row,) = stored(notify_uow, delivery())
        claimed_at = LONG_AGO + timedelta(minutes=1)
        with notify_uow() as uow:
            assert uow.deliveries.update(row["id"], {"state": "sent"}, states=("sending",)) is None
            claim = uow.deliveries.update(
                row["id"], {"state": "sending", "sending_since": claimed_at, "attempts": 1}, states=("pending",)
            )
            uow.commit()
        assert (claim["state"], claim["attempts"], claim["sending_since"]) == ("sending", 1, claimed_at)
        with notify_uow() as uow:
            late = uow.deliveries.update(
                row["id"], {"state": "sent"}, states=("sending",), sending_since=claimed_at - timedelta(seconds=1)
            )
            done = uow.deliveries.update(
                row["id"], {"state": "sent", "sending_since": None}, states=("sending",), sending_since=claimed_at
            )
            uow.commit()
        assert late is None and done["state"] == "sent"
        with notify_uow() as uow:
            assert uow.deliveries.get(row["id"])["state"] == "sent"
            assert uow.deliveries.update(uuid.uuid4(), {"state": "sent"}) is None

    def test_of_two_units_claiming_one_row_the_second_waits_and_sees_the_claim(self, notify_uow):
        (row,) = stored(notify_uow, delivery())
        first_holds, seen = threading.Event(), []

        def second() -> None:
            first_holds.wait()
            with notify_uow() as uow:
                seen.append(uow.deliveries.get(row["id"], lock=True)["state"])

        thread = threading.Thread(target=second)
        thread.start()
        with notify_uow() as uow:
            assert uow.deliveries.get(row["id"], lock=True)["state"] == "pending"
            first_holds.set()
            thread.join(0.3)
            assert thread.is_alive()  # waiting for the row
            uow.deliveries.update(row["id"], {"state": "sending", "sending_since": LONG_AGO})
            uow.commit()
        thread.join(10)
        assert seen == ["sending"]

    def test_a_delivery_is_found_by_the_keyed_hash_of_the_providers_message_id(self, notify_uow):
        digest, other = uuid.uuid4().hex * 2, uuid.uuid4().hex * 2  # hashes, as shared.privacy makes them
        (row,) = stored(
            notify_uow,
            delivery("sent", provider="whatsapp-cloud", provider_message_id="wamid.x", provider_message_hash=digest),
        )
        with notify_uow() as uow:
            # by any of the id's hashes (one per configured key: hashed before a key rotation, still found)
            assert uow.deliveries.by_provider("whatsapp-cloud", [other, digest], lock=True)["id"] == row["id"]
            assert uow.deliveries.by_provider("smtp", [digest]) is None
            assert uow.deliveries.by_provider("whatsapp-cloud", [other]) is None
            assert uow.deliveries.by_provider("whatsapp-cloud", []) is None
            assert uow.deliveries.by_provider("whatsapp-cloud", ["wamid.x"]) is None  # never by the id itself

    # -- deliveries: what people and the sweeps look for ------------------------------------------------------
    def test_a_complaints_messages_are_listed_latest_first_by_state(self, notify_uow):
        cid = uuid.uuid4()
        rows = stored(
            notify_uow,
            *(
                delivery(state, LONG_AGO + timedelta(minutes=m), complaint_id=cid)
                for m, state in enumerate(("failed", "unknown", "failed"))
            ),
        )
        with notify_uow() as uow:
            every = uow.deliveries.listing(state=None, complaint_id=cid, limit=10)
            failed = uow.deliveries.listing(state="failed", complaint_id=cid, limit=1)
        assert [r["id"] for r in every] == [r["id"] for r in reversed(rows)]
        assert [r["id"] for r in failed] == [rows[2]["id"]]

    def test_the_sweeps_find_due_stale_and_unreported_rows(self, notify_uow):
        now = LONG_AGO + timedelta(days=1)
        due = delivery(next_attempt_at=now - timedelta(minutes=5), enqueued_at=None)
        lost = delivery(next_attempt_at=now - timedelta(minutes=9), enqueued_at=now - timedelta(minutes=2))
        just_enqueued = delivery(next_attempt_at=now - timedelta(minutes=9), enqueued_at=now)
        later = delivery(next_attempt_at=now + timedelta(minutes=1), enqueued_at=None)
        stale = delivery("sending", sending_since=now - timedelta(minutes=5))
        sending = delivery("sending", sending_since=now)
        unreported = delivery("failed", updated_at=now - timedelta(minutes=1))
        reported = delivery("failed", reported_state="failed")
        rows = (due, lost, just_enqueued, later, stale, sending, unreported, reported)
        for row in rows:  # one by one: the rows of one add() have the same columns
            stored(notify_uow, row)
        ours = {r["id"] for r in rows}
        with notify_uow() as uow:
            taken = uow.deliveries.take_due(now, timedelta(minutes=1), 500)
            uow.commit()
        assert {r["id"] for r in taken} & ours == {lost["id"], due["id"]}
        assert all(r["enqueued_at"] == now for r in taken)
        with notify_uow() as uow:
            assert uow.deliveries.get(due["id"])["enqueued_at"] == now
            assert [r["id"] for r in uow.deliveries.take_due(now, timedelta(minutes=1), 500) if r["id"] in ours] == []
            assert {r["id"] for r in uow.deliveries.stale(now - timedelta(minutes=1), 500)} & ours == {stale["id"]}
            found = uow.deliveries.unreported(("sent", "failed"), now, 500)
            assert {r["id"] for r in found} & ours == {unreported["id"]}

    # -- escalations, templates, staff, hand-offs -------------------------------------------------------------
    def test_an_alert_is_recorded_once_per_event_and_user(self, notify_uow):
        event_id = uuid.uuid4()
        alert = {
            "event_id": event_id,
            "kecamatan": "pegantenan",
            "complaint_id": uuid.uuid4(),
            "step": 4,
            "due_at": LONG_AGO,
        }
        with notify_uow() as uow:
            assert uow.escalations.add([{**alert, "username": "a", "reason": "responsible"}]) == 1
            uow.commit()
        with notify_uow() as uow:
            rows = [{**alert, "username": u, "reason": "superior"} for u in ("a", "b")]
            assert uow.escalations.add(rows) == 1
            uow.commit()

    def test_templates_are_stored_replaced_and_removed_per_kecamatan(self, notify_uow):
        place = f"k-{uuid.uuid4().hex[:8]}"
        with notify_uow() as uow:
            uow.templates.put(place, "acknowledgment", "sms", "Halo {{ nama }}", None, "admin")
            uow.templates.put(place, "acknowledgment", "sms", "Salam {{ nama }}", None, "admin")
            uow.templates.put(place, "referred", "email", "Dirujuk", "Perihal", None)
            uow.commit()
        with notify_uow() as uow:
            mine = sorted((r["kind"], r["body"]) for r in uow.templates.applying(place) if r["kecamatan"] == place)
            assert mine == [("acknowledgment", "Salam {{ nama }}"), ("referred", "Dirujuk")]
            assert all(r["kecamatan"] in (place, "*") for r in uow.templates.applying(place))
            assert len([r for r in uow.templates.all() if r["kecamatan"] == place]) == 2
            assert uow.templates.remove(place, "referred", "email")
            assert not uow.templates.remove(place, "referred", "email")
            uow.commit()
        with notify_uow() as uow:
            assert [r["kind"] for r in uow.templates.applying(place) if r["kecamatan"] == place] == ["acknowledgment"]

    def test_a_kabupatens_templates_apply_to_its_kecamatan_only(self, notify_uow):
        place, kabupaten, other = (f"{p}-{uuid.uuid4().hex[:8]}" for p in ("k", "kab", "kab"))
        with notify_uow() as uow:
            uow.templates.put(f"kabupaten:{kabupaten}", "acknowledgment", "sms", "Pemkab {{ kode }}", None, "admin")
            uow.commit()
        with notify_uow() as uow:
            mine = [r["body"] for r in uow.templates.applying(place, kabupaten) if r["kecamatan"] != "*"]
            assert mine == ["Pemkab {{ kode }}"]
            scopes = {r["kecamatan"] for r in uow.templates.applying(place, other)}
            assert scopes <= {place, "*", f"kabupaten:{other}"}  # another kabupaten's wording never applies

    def test_staff_are_found_by_role_and_by_wish_to_hear_of_new_work(self, notify_uow, place, add_staff):
        tag = uuid.uuid4().hex[:6]
        add_staff(f"kasi.{tag}", "kasi", unit="pemerintahan", email=f"kasi.{tag}@kecamatan.example.id", new_work=True)
        add_staff(f"sekcam.{tag}", "sekcam", email=f"sekcam.{tag}@kecamatan.example.id")
        add_staff(f"camat.{tag}", "camat")
        with notify_uow() as uow:
            both = uow.staff.active(place, {"kasi", "sekcam"})
            wanting = uow.staff.active(place, {"kasi", "sekcam"}, new_work=True)
            elsewhere = uow.staff.active("pegantenan", {"kasi", "sekcam"})
        assert not [p for p in elsewhere if p["username"].endswith(tag)]  # another kecamatan's staff
        mine = {p["username"]: p for p in both}
        assert set(mine) == {f"kasi.{tag}", f"sekcam.{tag}"}
        assert mine[f"kasi.{tag}"]["unit"] == "pemerintahan"
        assert mine[f"sekcam.{tag}"]["email"] == f"sekcam.{tag}@kecamatan.example.id"
        assert [p["username"] for p in wanting] == [f"kasi.{tag}"]

    def test_a_hand_off_is_recorded_once(self, notify_uow, ledger):
        message_id = uuid.uuid4()
        handoff = Handoff(
            consumer="workflow.record_notification",
            message_id=message_id,
            queue="workflow",
            task_id=f"notification-report:{message_id}",
            payload={"message_id": str(message_id)},
        )
        for _ in range(2):
            with notify_uow() as uow:
                uow.handoffs.record([handoff])
                uow.commit()
        with notify_uow() as uow:
            uow.handoffs.record([handoff])  # not committed
        assert ledger([message_id]) == {("workflow.record_notification", message_id)}

    # -- the inbox: what the plan records in its own unit ---------------------------------------------------------
    def test_a_message_is_recorded_in_the_inbox_once_and_only_when_the_unit_commits(self, notify_uow, inbox):
        message_id = uuid.uuid4()
        with notify_uow() as uow:
            uow.inbox.record("notify.plan", message_id)  # not committed
        assert inbox([message_id]) == set()
        for _ in range(2):  # the task again: recorded before, left as it is
            with notify_uow() as uow:
                uow.inbox.record("notify.plan", message_id)
                uow.commit()
        assert inbox([message_id]) == {("notify.plan", message_id)}

    # -- the workflow's events, read in the unit --------------------------------------------------------------
    def test_an_events_stream_is_read_in_the_unit_up_to_the_event_or_whole(self, notify_uow, workflow_events):
        stream, other = new_stream(), new_stream()
        mine = [make_event(stream, version) for version in (1, 2, 3)]
        workflow_events.append(stream, 0, mine)
        workflow_events.append(other, 0, [make_event(other, 1)])
        with notify_uow() as uow:
            assert [e.event_id for e in uow.events.stream_to(mine[1].event_id)] == [e.event_id for e in mine[:2]]
            assert [e.event_id for e in uow.events.stream(stream)] == [e.event_id for e in mine]
            assert uow.events.stream_to(uuid.uuid4()) == []

    # -- a complainant's personal data erased (docs/adr/0017) ---------------------------------------------------
    def test_the_complainants_data_may_be_written_until_the_complaint_is_erased(self, notify_uow, erase):
        """``hold_personal_data``: True before the erasure (on PostgreSQL the erasure then waits for the unit:
        tests/integration/test_erasure_races.py), False after it; another complaint's is not affected."""
        complaint_id, other = uuid.uuid4(), uuid.uuid4()
        with notify_uow() as uow:
            assert uow.hold_personal_data(complaint_id)
        erase(complaint_id)
        with notify_uow() as uow:
            assert not uow.hold_personal_data(complaint_id)
            assert uow.hold_personal_data(other)
