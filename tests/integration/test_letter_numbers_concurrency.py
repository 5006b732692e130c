"""Issue #16 item 1 on PostgreSQL: the kecamatan's one register of outgoing letters numbers the response letters and
the surat pelimpahan 1..n without a gap or a duplicate however many Camat sessions sign and refer at once, each
number in the kabupaten's pattern with the classification chosen from its list and the kecamatan's unit code; a
signing that fails after taking its number gives it back. Over HTTP a code not in the list is a 422."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from pengaduan import apps
from services.accounts import handlers as accounts
from services.workflow import handlers
from services.workflow.adapters.tables import counters
from services.workflow.bootstrap import bootstrap
from services.workflow.domain.events import stream_id
from shared.eventstore import ConcurrencyError
from shared.tenancy import Kecamatan, configure_kabupaten, upsert_kecamatan
from tests.support.complaints import new_complaint
from tests.support.organisation import give_heads
from tests.support.processes import wait_until

PASSWORD = "rahasia-uji-yang-panjang"
LISTED = {"000.8.3.4": "Pelayanan Publik", "400.10.2.2": "Administrasi Pemerintahan Desa dan Kelurahan"}
TO_STEP_10 = [
    ("kasi", "verify-identity", {}),
    ("staf", "register", {}),
    ("camat", "dispose", {"unit": "pemerintahan", "instructions": "Tindak lanjuti."}),
    ("kasi", "clarify", {"explanation": "Sudah dicek di lapangan."}),
    ("kasi", "request-letter", {}),
    ("staf", "draft-letter", {"perihal": "Tanggapan", "body": "Isi surat."}),
    ("sekcam", "review-letter", {"approved": True}),
    ("staf", "duplicate-letter", {}),
]
REFERRAL = {"agency": "Dinas PUPR Kabupaten Pamekasan", "reason": "Jalan kabupaten, bukan kewenangan kecamatan."}


@pytest.fixture(scope="module")
def wf(settings):
    container = bootstrap(settings.model_copy(update={"db_pool_size": 12}))
    yield container
    container.engine.dispose()


@pytest.fixture
def place(engine, wf) -> Kecamatan:
    """A kecamatan of its own (its register starts at 1) with a unit code, in a kabupaten of its own that lists two
    classification codes; the unit pemerintahan has a head, so the Camat can dispose to it."""
    suffix = uuid.uuid4().hex[:8]
    kabupaten = f"kab-{suffix}"
    kecamatan = Kecamatan(
        f"nomor-{suffix}",
        f"96.{suffix}",
        "Nomor",
        kabupaten,
        f"Kabupaten Uji {suffix}",
        {"city": "Uji"},
        settings={"unit_pengolah": f"432.{int(suffix, 16) % 1000}"},  # stored with a kecamatan added by seeding
    )
    upsert_kecamatan(engine, [kecamatan])
    configure_kabupaten(engine, kabupaten, {"letter_number": {"klasifikasi": LISTED}})
    give_heads(engine, kecamatan.slug, ("pemerintahan",))
    wf.directory.invalidate()
    found = wf.kecamatan(kecamatan.slug)
    assert found.unit_pengolah == kecamatan.settings["unit_pengolah"]
    return found


def act(wf, place: Kecamatan, cid, role: str, action: str, version: int, **fields):
    return handlers.act(
        wf,
        cid,
        action,
        fields,
        expected_version=version,
        user_id=f"{role}.{place.slug}",
        role=role,
        unit="pemerintahan" if role == "kasi" else None,
        kecamatan=place.slug,
        at=datetime.now(UTC),
        correlation_id=uuid.uuid4(),
    )


def walked(wf, place: Kecamatan, steps) -> tuple[uuid.UUID, int]:
    """A new complaint taken through ``steps``: its id and version."""
    cid, version = new_complaint(wf, place.slug), 1
    for role, action, fields in steps:
        version = act(wf, place, cid, role, action, version, **fields).revision
    return cid, version


def last_event(wf, cid):
    with wf.uow() as uow:
        return uow.events.read(stream_id(cid))[-1]


def register_value(engine, place: Kecamatan, year: int) -> int | None:
    with engine.connect() as conn:
        return conn.execute(
            select(counters.c.last_value).where(
                counters.c.kind == "surat_keluar", counters.c.kecamatan == place.slug, counters.c.year == year
            )
        ).scalar_one_or_none()


def test_twenty_letters_signed_and_referred_at_once_are_numbered_1_to_20(wf, place, engine):
    signings = [walked(wf, place, TO_STEP_10) for _ in range(10)]
    referrals = [walked(wf, place, TO_STEP_10[:2]) for _ in range(10)]
    # every other letter classified by the Camat, the rest by the kabupaten's default
    work = [("camat", "sign-letter", cid, v, i % 2) for i, (cid, v) in enumerate(signings)]
    work += [("camat", "refer", cid, v, i % 2) for i, (cid, v) in enumerate(referrals)]
    barrier = threading.Barrier(8)

    def sign_or_refer(item):
        role, action, cid, version, chosen = item
        fields = {**(REFERRAL if action == "refer" else {}), **({"klasifikasi": "400.10.2.2"} if chosen else {})}
        if item in work[:8]:
            barrier.wait()  # the first eight start together
        for _ in range(20):  # a lost race on the store's append lock is retried, as a person would
            try:
                return act(wf, place, cid, role, action, version, **fields)
            except Exception as exc:
                if "OperationalError" not in type(exc).__name__ and not isinstance(exc, ConcurrencyError):
                    raise
        raise AssertionError(f"{action} never went through")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(sign_or_refer, work))

    year = datetime.now(UTC).astimezone(place.time_zone).year
    got = {}
    for _, action, cid, _, chosen in work:
        event = last_event(wf, cid)
        assert event.type == ("workflow.LetterSigned" if action == "sign-letter" else "workflow.ComplaintReferred")
        sequence, number = event.payload["letter_sequence"], event.payload["letter_number"]
        klasifikasi = "400.10.2.2" if chosen else "000.8.3.4"
        assert number == f"{klasifikasi}/{sequence}/{place.unit_pengolah}/{year}"
        assert event.payload["letter_year"] == year
        got[sequence] = number
    assert sorted(got) == list(range(1, 21)), f"gap or duplicate in {sorted(got)}"
    assert len(set(got.values())) == 20
    assert register_value(engine, place, year) == 20


def test_a_signing_that_fails_after_taking_its_number_gives_it_back(wf, place, engine):
    first, v1 = walked(wf, place, TO_STEP_10)
    raced, v2 = walked(wf, place, TO_STEP_10)
    later, v3 = walked(wf, place, TO_STEP_10)
    assert act(wf, place, first, "camat", "sign-letter", v1).letter_number.split("/")[1] == "1"
    year = datetime.now(UTC).astimezone(place.time_zone).year

    # The register's row is held (as another signing in progress would hold it) while the Camat signs `raced`:
    # the signing has read the complaint and waits for its number. Meanwhile the complaint is withdrawn; when the
    # row is free the signing takes number 2, then finds the complaint moved on and fails (ConcurrencyError).
    outcome: list[object] = []
    with engine.connect() as holder:
        holder.execute(
            text(
                "SELECT last_value FROM workflow.counters WHERE kind = 'surat_keluar' AND kecamatan = :k "
                "AND year = :y FOR UPDATE"
            ),
            {"k": place.slug, "y": year},
        )

        def sign() -> None:
            try:
                outcome.append(act(wf, place, raced, "camat", "sign-letter", v2))
            except Exception as exc:  # the assertion below says which
                outcome.append(exc)

        signer = threading.Thread(target=sign)
        signer.start()
        wait_until(
            lambda: _waits_for_the_register(engine),
            timeout=30,
            message="the signing to wait for the register's row",
        )
        act(wf, place, raced, "staf", "withdraw", v2, reason="Dicabut oleh pengadu.")
        holder.rollback()  # the row is free
        signer.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], ConcurrencyError), outcome
    assert last_event(wf, raced).type == "workflow.ComplaintWithdrawn"
    assert register_value(engine, place, year) == 1  # number 2 was given back with the failed signing
    assert act(wf, place, later, "camat", "sign-letter", v3).letter_number.split("/")[1] == "2"


def _waits_for_the_register(engine) -> bool:
    """A session of this database waits for a lock in a statement on the counters (the signing's INSERT)."""
    with engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE '%counters%'"
                )
            ).scalar_one()
        )


def test_over_http_the_camat_chooses_from_the_list_and_a_code_not_in_it_is_422(wf, place, engine):
    with TestClient(apps.workflow(wf)) as client:
        accounts.add_user(engine, f"camat.{place.slug}", "Camat Uji", "camat", PASSWORD, kecamatan=place.slug)
        r = client.post("/v1/auth/token", data={"username": f"camat.{place.slug}", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        cid, version = walked(wf, place, TO_STEP_10)
        refused = client.post(
            f"/v1/complaints/{cid}/sign-letter",
            json={"expected_version": version, "klasifikasi": "700.1.2.4"},
            headers=headers,
        )
        assert refused.status_code == 422, refused.text
        body = refused.json()
        assert body["code"] == "unknown_klasifikasi"
        assert body["message"].startswith("Kode klasifikasi arsip 700.1.2.4 tidak ada dalam daftar kabupaten.")
        assert (
            "000.8.3.4 (Pelayanan Publik); 400.10.2.2 (Administrasi Pemerintahan Desa dan Kelurahan)" in body["message"]
        )
        signed = client.post(
            f"/v1/complaints/{cid}/sign-letter",
            json={"expected_version": version, "klasifikasi": "400.10.2.2"},
            headers=headers,
        )
        assert signed.status_code == 200, signed.text
        year = datetime.now(UTC).astimezone(place.time_zone).year
        # the refusal took no number: this is the register's first
        assert signed.json()["letter_number"] == f"400.10.2.2/1/{place.unit_pengolah}/{year}"
