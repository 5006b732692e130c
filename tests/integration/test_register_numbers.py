"""Register numbers (step 3) are unique and gapless per kecamatan per year under concurrent workers."""

from __future__ import annotations

import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from services.workflow import handlers
from services.workflow.adapters.tables import complaints
from services.workflow.bootstrap import bootstrap
from shared.tenancy import Kecamatan, upsert_kecamatan
from tests.support.complaints import new_complaint


def test_200_complaints_registered_concurrently_across_3_kecamatan_get_1_to_n_each(settings, engine):
    suffix = uuid.uuid4().hex[:6]
    places = [
        Kecamatan(f"uji-{suffix}-{i}", f"99.{suffix}.{i}", f"Uji {i}", "pamekasan", "Kabupaten Pamekasan", {})
        for i in range(3)
    ]
    upsert_kecamatan(engine, places)
    wf = bootstrap(settings.model_copy(update={"db_pool_size": 12}))
    try:
        ids = [(k.slug, new_complaint(wf, k.slug)) for k, n in zip(places, (67, 67, 66)) for _ in range(n)]  # noqa: B905
        now = datetime.now(UTC)
        for slug, cid in ids:  # step 2 done, so step 3 (register) is next
            handlers.act(
                wf,
                cid,
                "verify-identity",
                {},
                expected_version=1,
                user_id="kasi",
                role="kasi",
                unit="x",
                kecamatan=slug,
                at=now,
                correlation_id=uuid.uuid4(),
            )

        def register(item):
            slug, cid = item
            for _ in range(20):  # a lost race on the append lock is retried, as a worker would
                try:
                    return handlers.act(
                        wf,
                        cid,
                        "register",
                        {},
                        expected_version=2,
                        user_id="staf",
                        role="staf",
                        unit=None,
                        kecamatan=slug,
                        at=now,
                        correlation_id=uuid.uuid4(),
                    )
                except Exception as exc:
                    if "OperationalError" not in type(exc).__name__ and "Concurrency" not in type(exc).__name__:
                        raise
            raise AssertionError("never registered")

        with ThreadPoolExecutor(8) as pool:
            states = list(pool.map(register, ids))
        assert all(s.current_step == 4 for s in states)
        with engine.connect() as conn:
            rows = conn.execute(
                select(complaints.c.kecamatan, complaints.c.register_number, complaints.c.register_year).where(
                    complaints.c.kecamatan.in_([k.slug for k in places])
                )
            ).all()
        numbers = defaultdict(list)
        for kecamatan, number, year in rows:
            assert year == now.astimezone(ZoneInfo("Asia/Jakarta")).year
            numbers[kecamatan].append(number)
        per_kecamatan = {k: sorted(v) for k, v in numbers.items()}
        assert sum(len(v) for v in per_kecamatan.values()) == 200
        for slug, got in per_kecamatan.items():
            assert got == list(range(1, len(got) + 1)), f"{slug}: gap or duplicate in {got}"
    finally:
        wf.engine.dispose()


def test_a_register_rolled_back_gives_its_number_back(settings, engine):
    slug = f"uji-{uuid.uuid4().hex[:6]}"
    upsert_kecamatan(engine, [Kecamatan(slug, f"98.{slug[-6:]}", "Uji", "pamekasan", "Kabupaten Pamekasan", {})])
    wf = bootstrap(settings)
    try:
        now = datetime.now(UTC)
        first, second = new_complaint(wf, slug), new_complaint(wf, slug)
        for cid in (first, second):
            handlers.act(
                wf,
                cid,
                "verify-identity",
                {},
                expected_version=1,
                user_id="k",
                role="kasi",
                unit=None,
                kecamatan=slug,
                at=now,
                correlation_id=uuid.uuid4(),
            )
        try:  # a stale version fails after the check: nothing may be consumed  # noqa: SIM105
            handlers.act(
                wf,
                first,
                "register",
                {},
                expected_version=1,
                user_id="s",
                role="staf",
                unit=None,
                kecamatan=slug,
                at=now,
                correlation_id=uuid.uuid4(),
            )
        except handlers.StaleVersion:
            pass
        a = handlers.act(
            wf,
            second,
            "register",
            {},
            expected_version=2,
            user_id="s",
            role="staf",
            unit=None,
            kecamatan=slug,
            at=now,
            correlation_id=uuid.uuid4(),
        )
        b = handlers.act(
            wf,
            first,
            "register",
            {},
            expected_version=2,
            user_id="s",
            role="staf",
            unit=None,
            kecamatan=slug,
            at=now,
            correlation_id=uuid.uuid4(),
        )
        assert (a.register_number, b.register_number) == (1, 2)
    finally:
        wf.engine.dispose()
