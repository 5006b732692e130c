"""The complainant's personal data in the event store, under a data key of the complaint's own (issue #17,
docs/adr/0017): sealed in the table, opened on read, erased by destroying the key (and read as erased from then
on, by every reader: replays and projections go on), rewrapped on rotation, and never read wrong in silence."""

from __future__ import annotations

import base64
import json
import os
import uuid

import pytest
from pydantic import ValidationError
from sqlalchemy import event, select, text

from shared import privacy
from shared.config import Settings
from shared.contracts.tracking import new_tracking_code
from shared.contracts.workflow import ERASED_NAME, ComplaintReceived
from shared.eventstore.postgres import PostgresEventStore
from tests.support.complaints import record_complaint

NIK, PHONE, EMAIL = "3528011204780009", "+6281234567809", "siti.rahasia@example.id"
NAME, ADDRESS = "Siti Aminah Rahasia", "Dusun Bunangka RT 02 RW 03, Desa Pegantenan"


@pytest.fixture(scope="module")
def wf(settings):
    from services.workflow.bootstrap import bootstrap

    container = bootstrap(settings)
    yield container
    container.engine.dispose()


def a_complaint(wf) -> uuid.UUID:
    from shared.contracts.intake import Complainant

    who = Complainant(name=NAME, nik=NIK, phone=PHONE, email=EMAIL, address=ADDRESS)
    return record_complaint(wf, "pegantenan", complainant=who).complaint_id


def raw_payload(engine, cid) -> str:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT payload::text FROM workflow.events WHERE stream_id = :s AND type = :t"),
            {"s": f"complaint-{cid}", "t": ComplaintReceived.type},
        ).scalar_one()


def received(store, cid) -> ComplaintReceived:
    event = next(e for e in store.read_stream(f"complaint-{cid}") if e.type == ComplaintReceived.type)
    decoded = event.decode()
    assert isinstance(decoded, ComplaintReceived)
    return decoded


def keys_file(tmp_path, current: str, **keys: bytes) -> str:
    path = tmp_path / f"keys-{uuid.uuid4().hex[:6]}.json"
    path.write_text(
        json.dumps({"current": current, "keys": {k: base64.b64encode(v).decode() for k, v in keys.items()}})
    )
    return str(path)


def test_the_complainants_data_is_sealed_in_the_table_and_read_in_clear(wf, engine):
    cid = a_complaint(wf)
    stored = raw_payload(engine, cid)
    assert '"$pdp": 1' in stored
    for value in (NAME, NIK, PHONE, EMAIL, "RT 02 RW 03", "siti.rahasia"):
        assert value not in stored, value
    assert "Jalan" in stored or "subject" in stored  # the rest of the event is as before
    who = received(wf.store, cid).complainant
    assert (who.name, who.nik, who.phone, who.email, who.address) == (NAME, NIK, PHONE, EMAIL, ADDRESS)
    # another process's store (fresh cache) under the same keys reads it too
    other = PostgresEventStore(engine, privacy.DataKeys(privacy.KeyEncryptionKeys.derived_from(Settings().secret_key)))
    assert received(other, cid).complainant.nik == NIK


def test_erasing_the_key_erases_the_data_for_every_reader_and_the_history_goes_on(wf, engine):
    cid = a_complaint(wf)
    with engine.begin() as conn:
        assert wf.store.data_keys.erase(conn, cid, by="admin", reason="permintaan penghapusan (uji)")
        assert not wf.store.data_keys.erase(conn, cid, by="admin", reason="lagi")  # once
    who = received(wf.store, cid).complainant
    assert who.name == ERASED_NAME and (who.nik, who.phone, who.email, who.address) == (None,) * 4
    assert [e.version for e in wf.store.read_stream(f"complaint-{cid}")] == [1]  # the history still reads
    # a reader elsewhere, with its own cache, reads it erased too; and the global feed the projections read
    fresh = PostgresEventStore(engine, privacy.DataKeys(privacy.KeyEncryptionKeys.derived_from(Settings().secret_key)))
    assert received(fresh, cid).complainant.name == ERASED_NAME
    with engine.connect() as conn:
        feed, _, _ = fresh.read_all_of_types(0, 100_000, [ComplaintReceived.type], conn)
    (mine,) = [e for e in feed if e.stream_id == f"complaint-{cid}"]
    assert mine.decode().complainant.nik is None
    with engine.connect() as conn:
        row = conn.execute(select(privacy.data_keys).where(privacy.data_keys.c.subject_id == cid)).mappings().one()
    assert row["wrapped"] is None and row["erased_by"] == "admin" and row["erased_at"] is not None


def test_a_complaint_erased_before_more_of_it_is_stored_keeps_nothing_new(wf, engine):
    """A message of the complainant appended after the erasure (a late reply) is stored as erased, not in clear."""
    from datetime import UTC, datetime

    from shared.contracts.workflow import ComplainantReplied
    from shared.events import Actor, envelope

    cid = a_complaint(wf)
    with engine.begin() as conn:
        wf.store.data_keys.erase(conn, cid, by="admin", reason="uji")
    reply = ComplainantReplied(
        channel="sms", sender=PHONE, text=f"Ini KTP saya, {NAME}, NIK {NIK}", received_at=datetime.now(UTC)
    )
    late = envelope(
        reply,
        event_id=uuid.uuid4(),
        stream_id=f"complaint-{cid}",
        version=2,
        kecamatan="pegantenan",
        occurred_at=reply.received_at,
        actor=Actor.system("intake"),
        correlation_id=uuid.uuid4(),
    )
    wf.store.append(f"complaint-{cid}", 1, [late])
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT payload::text FROM workflow.events WHERE stream_id = :s"), {"s": f"complaint-{cid}"}
        ).scalars()
        assert all(NIK not in r and NAME not in r and PHONE not in r for r in rows)
    stored = wf.store.read_stream(f"complaint-{cid}")[-1].decode()
    assert isinstance(stored, ComplainantReplied) and stored.text == ERASED_NAME and stored.sender == "-"


def test_rotation_rewraps_every_key_and_the_old_key_may_then_go(wf, engine, tmp_path):
    old, new = os.urandom(32), os.urandom(32)
    before = privacy.DataKeys(privacy.KeyEncryptionKeys.from_file(keys_file(tmp_path, "k1", k1=old)))
    store = PostgresEventStore(engine, before)
    cid = uuid.uuid4()
    with engine.begin() as conn:
        key = before.for_writing(conn, cid)
    both = privacy.DataKeys(privacy.KeyEncryptionKeys.from_file(keys_file(tmp_path, "k2", k1=old, k2=new)))
    with engine.begin() as conn:
        assert both.rotate(conn, subjects=[cid]) == 1  # (the database is shared: this test's key only)
        kek = conn.execute(select(privacy.data_keys.c.kek_id).where(privacy.data_keys.c.subject_id == cid)).scalar()
    assert kek == "k2"
    only_new = privacy.DataKeys(privacy.KeyEncryptionKeys.from_file(keys_file(tmp_path, "k2", k2=new)))
    with engine.connect() as conn:
        assert only_new.for_reading(conn, [cid])[cid] == key
    only_old = privacy.DataKeys(privacy.KeyEncryptionKeys.from_file(keys_file(tmp_path, "k1", k1=old)))
    with engine.connect() as conn, pytest.raises(privacy.PrivacyKeyError, match="k2"):
        only_old.for_reading(conn, [cid])  # loud, never read as erased
    assert store.data_keys is before


def test_the_commands_rotation_commits_a_batch_at_a_time_so_writers_wait_for_one_batch_at_most(engine, tmp_path):
    old, new = os.urandom(32), os.urandom(32)
    before = privacy.DataKeys(privacy.KeyEncryptionKeys.from_file(keys_file(tmp_path, "k1", k1=old)))
    subjects = [uuid.uuid4() for _ in range(3)]
    with engine.begin() as conn:
        for subject in subjects:
            before.for_writing(conn, subject)
    both = privacy.DataKeys(privacy.KeyEncryptionKeys.from_file(keys_file(tmp_path, "k2", k1=old, k2=new)))
    commits = []

    def count(conn) -> None:
        commits.append(conn)

    event.listen(engine, "commit", count)
    try:
        assert both.rotate_all(engine, batch=1, subjects=subjects) == 3
    finally:
        event.remove(engine, "commit", count)
    assert len(commits) >= 3  # one transaction per batch (and an empty last one), not one over the table
    with engine.connect() as conn:
        keks = conn.execute(select(privacy.data_keys.c.kek_id).where(privacy.data_keys.c.subject_id.in_(subjects)))
        assert set(keks.scalars()) == {"k2"}
        assert privacy.hold(conn, subjects[0])  # nothing left held once it returned


def test_a_wrong_key_or_a_lost_key_row_is_loud_never_read_as_erased(wf, engine, tmp_path):
    cid = a_complaint(wf)
    wrong = PostgresEventStore(
        engine,
        privacy.DataKeys(
            privacy.KeyEncryptionKeys.from_file(keys_file(tmp_path, "dev-1", **{"dev-1": os.urandom(32)}))
        ),
    )
    with pytest.raises(privacy.PrivacyKeyError, match="does not open"):
        wrong.read_stream(f"complaint-{cid}")
    with engine.begin() as conn:  # as if the keys were restored from an older backup than the events
        kept = conn.execute(select(privacy.data_keys).where(privacy.data_keys.c.subject_id == cid)).mappings().one()
        conn.execute(privacy.data_keys.delete().where(privacy.data_keys.c.subject_id == cid))
    try:
        fresh = PostgresEventStore(
            engine, privacy.DataKeys(privacy.KeyEncryptionKeys.derived_from(Settings().secret_key))
        )
        with pytest.raises(privacy.PrivacyKeyError, match="does not have"):
            fresh.read_stream(f"complaint-{cid}")
    finally:  # the database is shared: every later reader of the whole store would fail on this event
        with engine.begin() as conn:
            conn.execute(privacy.data_keys.insert().values(**kept))


def test_a_key_made_in_a_transaction_rolled_back_never_seals_what_is_stored_later(wf, engine):
    """A worker's first try makes the complaint's key and is rolled back (a lost race, a crash); the next try, in
    this process or another, must seal under the key the table holds, and every reader must open it."""
    from shared.events import envelope

    template = received(wf.store, a_complaint(wf))
    cid = uuid.uuid4()
    # a complaint of its own: another id and tracking code (a copy of both would be two complaints in one for the
    # read side, whose rebuild refuses a tracking code twice)
    event = template.model_copy(
        update={"complaint_id": cid, "submission_id": uuid.uuid4(), "tracking_code": new_tracking_code(os.urandom(7))}
    )
    stored = envelope(
        event,
        event_id=uuid.uuid4(),
        stream_id=f"complaint-{cid}",
        version=1,
        kecamatan="pegantenan",
        occurred_at=event.received_at,
        actor=template_actor(),
        correlation_id=uuid.uuid4(),
    )
    with engine.connect() as conn:
        transaction = conn.begin()
        wf.store.append(f"complaint-{cid}", 0, [stored], conn=conn)
        transaction.rollback()
    other = PostgresEventStore(engine, privacy.DataKeys(privacy.KeyEncryptionKeys.derived_from(Settings().secret_key)))
    other.append(f"complaint-{cid}", 0, [stored])  # another process makes the key anew
    assert received(wf.store, cid).complainant.nik == NIK  # the first process reads it, whatever it made before
    wf.store.append(f"complaint-{cid}", 1, [stored.model_copy(update={"event_id": uuid.uuid4(), "version": 2})])
    fresh = PostgresEventStore(engine, privacy.DataKeys(privacy.KeyEncryptionKeys.derived_from(Settings().secret_key)))
    assert [e.decode().complainant.nik for e in fresh.read_stream(f"complaint-{cid}")] == [NIK, NIK]


def template_actor():
    from shared.events import Actor

    return Actor.system("test")


def test_a_sealed_value_opens_only_in_its_place():
    key, subject = os.urandom(32), uuid.uuid4()
    sealed = privacy.seal({"nik": NIK}, key, subject, "workflow.ComplaintReceived.complainant")
    assert privacy.unseal(sealed, key, subject, "workflow.ComplaintReceived.complainant") == {"nik": NIK}
    from cryptography.exceptions import InvalidTag

    with pytest.raises(InvalidTag):
        privacy.unseal(sealed, key, uuid.uuid4(), "workflow.ComplaintReceived.complainant")  # another complaint


def test_keys_are_required_in_production_and_a_bad_keys_value_is_refused_without_showing_it(tmp_path):
    with pytest.raises(ValidationError, match="PENGADUAN_PRIVACY_KEYS"):
        Settings(environment="production", secret_key=base64.b64encode(os.urandom(36)).decode())
    with pytest.raises(privacy.PrivacyKeyError) as refused:
        privacy.KeyEncryptionKeys.from_json('{"current": "a", "keys": {"a": "c2VjcmV0LXZhbHVlLXNob3J0"}}')
    assert "c2VjcmV0" not in str(refused.value)
    with pytest.raises(privacy.PrivacyKeyError, match="not privacy keys"):
        privacy.KeyEncryptionKeys.from_json("not json at all")
    made = privacy.KeyEncryptionKeys.generate("2026-12")
    assert privacy.KeyEncryptionKeys.from_json(json.dumps(made)).current == "2026-12"


def test_the_privacy_commands_make_a_key_and_report_the_data_keys(settings, engine, wf, tmp_path):
    import subprocess
    import sys

    from tests.support.processes import env_for

    a_complaint(wf)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: PLW1510
            [sys.executable, "-m", "pengaduan", "privacy", *args],
            env=env_for(settings),
            capture_output=True,
            text=True,
            timeout=60,
        )

    made = run("new-key", "--id", "k1")
    first = json.loads(made.stdout)
    assert made.returncode == 0 and first["current"] == "k1" and len(base64.b64decode(first["keys"]["k1"])) == 32
    (tmp_path / "keys.json").write_text(made.stdout)
    second = json.loads(run("new-key", "--id", "k2", "--keys-file", str(tmp_path / "keys.json")).stdout)
    assert second["current"] == "k1" and second["keys"]["k1"] == first["keys"]["k1"] and "k2" in second["keys"]
    (tmp_path / "keys2.json").write_text(json.dumps(second))  # rolled out to every process; now current
    third = json.loads(
        run("new-key", "--id", "k3", "--keys-file", str(tmp_path / "keys2.json"), "--make-current").stdout
    )
    assert third["current"] == "k3" and set(third["keys"]) == {"k1", "k2", "k3"}
    (tmp_path / "broken.json").write_text('{"keys": 1}')
    broken = run("new-key", "--id", "k9", "--keys-file", str(tmp_path / "broken.json"))
    assert broken.returncode != 0 and "not a privacy keys file" in broken.stderr and "Traceback" not in broken.stderr
    assert run("new-key", "--id", "k1", "--keys-file", str(tmp_path / "keys.json")).returncode != 0  # no twice
    status = run("status")
    assert status.returncode == 0, status.stderr
    assert "current key-encryption key: dev-1" in status.stdout and "data key(s)" in status.stdout
