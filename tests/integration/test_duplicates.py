"""Possible duplicates shown to staff (issue #18 item 3; docs/adr/0021), on real PostgreSQL with pg_trgm: complaints
recorded in the workflow as its worker records them, read through the workflow's API by the kecamatan's staff, the
duplicate marked with one action, and notify planning from the event.

Each test has a kecamatan of its own (its candidates are only its own complaints), users of each role there, and
one more kecamatan for the complaints that must never match across.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from pengaduan import apps
from services.accounts.handlers import add_user
from services.notify.adapters.tables import deliveries
from services.notify.bootstrap import bootstrap as notify_bootstrap
from services.notify.config import NotifySettings
from services.notify.handlers.planning import plan_event
from services.workflow import handlers
from services.workflow.adapters import duplicates
from services.workflow.adapters.tables import duplicate_texts
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from services.workflow.domain.events import stream_id
from shared import privacy
from shared.contracts.intake import Complainant
from shared.contracts.workflow import MarkedDuplicate
from shared.tenancy import KecamatanDirectory, upsert_kecamatan
from tests.contracts.workflow_uow import new_place
from tests.support.complaints import record_complaint
from tests.support.web import web_client

PASSWORD = "rahasia-uji-123"
ROAD = (
    "Jalan desa rusak parah",
    "Jalan utama Desa Tlagah di Dusun Bunangka rusak parah dan berlubang sejak Januari, membahayakan pengendara motor.",
)
ROAD_AGAIN = (  # the same matter, another wording
    "Jalan rusak di Dusun Bunangka",
    "Jalan utama Desa Tlagah di Dusun Bunangka berlubang dan rusak parah sejak Januari; pengendara motor sering jatuh.",
)
LAMP = (  # another matter of the same village
    "Lampu penerangan jalan mati",
    "Lampu penerangan di depan balai desa Tlagah mati sejak dua minggu, warga minta segera diganti.",
)


def person(n: int, **fields) -> Complainant:
    """Someone of their own: NIK, phone and e-mail differ from everyone else's unless ``fields`` say otherwise."""
    values = {
        "name": f"Warga {n} Uji",
        "nik": f"352807150590{n:04d}",
        "phone": f"+62812345{n:05d}",
        "email": f"warga{n}@contoh.id",
        "address": "Desa Tlagah",
    }
    return Complainant(**{**values, **fields})


@pytest.fixture(scope="module")
def wf(settings, engine):
    container = workflow_bootstrap(settings)
    yield container
    container.engine.dispose()


@pytest.fixture(scope="module")
def client(wf):
    with TestClient(apps.workflow(wf)) as c:
        yield c


@pytest.fixture(scope="module")
def elsewhere(engine):
    place = new_place()
    upsert_kecamatan(engine, [place])
    return place


@dataclasses.dataclass
class Office:
    slug: str
    tokens: dict[str, dict[str, str]]
    usernames: dict[str, str]


@pytest.fixture
def office(engine, wf, client) -> Office:
    """A kecamatan of the test's own and one user of each role there."""
    place = new_place()
    upsert_kecamatan(engine, [place])
    wf.directory.invalidate()
    tokens, usernames = {}, {}
    for role in ("staf", "kasi", "sekcam"):
        username = usernames[role] = f"dup{uuid.uuid4().hex[:8]}.{role}"
        add_user(engine, username, f"Petugas {role}", role, PASSWORD, kecamatan=place.slug, unit="pemerintahan")
        r = client.post("/v1/auth/token", data={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        tokens[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return Office(place.slug, tokens, usernames)


def unrelated() -> tuple[str, str]:
    """A text like no other complaint's."""
    words = [uuid.uuid4().hex[:8] for _ in range(8)]
    return f"Perihal {words[0]}", " ".join(words)


def receive(wf, kecamatan: str, who: Complainant, text: tuple[str, str] | None = None):
    subject, description = text or unrelated()
    return record_complaint(wf, kecamatan, complainant=who, subject=subject, description=description)


def view(client, office: Office, complaint_id, role: str = "staf") -> dict:
    r = client.get(f"/v1/complaints/{complaint_id}", headers=office.tokens[role])
    assert r.status_code == 200, r.text
    return r.json()


def matches(client, office: Office, complaint_id, role: str = "staf") -> dict[str, list[str]]:
    return {d["complaint_id"]: d["reasons"] for d in view(client, office, complaint_id, role)["possible_duplicates"]}


def act(client, office: Office, complaint_id, action: str, role: str = "staf", expect: int = 200, **fields) -> dict:
    version = view(client, office, complaint_id, role)["version"]
    r = client.post(
        f"/v1/complaints/{complaint_id}/{action}",
        json={"expected_version": version, **fields},
        headers=office.tokens[role],
    )
    assert r.status_code == expect, r.text
    return r.json()


def test_a_complaint_by_the_same_nik_is_listed_and_only_in_its_own_kecamatan(wf, client, office, elsewhere):
    first = receive(wf, office.slug, person(1), ROAD)
    again = receive(wf, office.slug, person(2, nik=" 3528 0715 0590 0001 "))  # the same NIK, typed with spaces
    receive(wf, elsewhere.slug, person(3, nik=person(1).nik), ROAD)  # the same NIK and text, in another kecamatan
    stranger = receive(wf, office.slug, person(4))
    [found] = view(client, office, again.complaint_id)["possible_duplicates"]
    assert found["complaint_id"] == str(first.complaint_id) and found["reasons"] == ["nik"]
    assert found["tracking_code"] == first.tracking_code and found["subject"] == ROAD[0]
    assert found["similarity"] is None
    assert str(again.complaint_id) in matches(client, office, first.complaint_id)  # and the other way round
    assert matches(client, office, stranger.complaint_id) == {}  # never the complaint itself, nor strangers
    with wf.engine.connect() as conn:  # stored by keyed hash only: no table holds the NIK
        kinds = conn.execute(
            select(privacy.lookups.c.kind, privacy.lookups.c.hash).where(
                privacy.lookups.c.subject_id == first.complaint_id
            )
        ).all()
    assert sorted(k for k, _ in kinds) == ["email", "nik", "phone"]
    assert all(len(h) == 64 and person(1).nik not in h for _, h in kinds)


def test_a_complaint_by_the_same_phone_is_listed_however_the_number_was_written(wf, client, office):
    first = receive(wf, office.slug, person(5, phone="+6281299887766"), ROAD)
    again = receive(wf, office.slug, person(6, phone="0812-9988-7766"))
    assert matches(client, office, again.complaint_id) == {str(first.complaint_id): ["phone"]}


def test_a_complaint_with_a_similar_text_is_listed_with_its_similarity(wf, client, office, elsewhere):
    first = receive(wf, office.slug, person(7), ROAD)
    lamp = receive(wf, office.slug, person(8), LAMP)
    receive(wf, elsewhere.slug, person(9), ROAD_AGAIN)  # the same words in another kecamatan
    again = receive(wf, office.slug, person(10), ROAD_AGAIN)
    [found] = view(client, office, again.complaint_id)["possible_duplicates"]
    assert found["complaint_id"] == str(first.complaint_id) and found["reasons"] == ["text"]
    assert found["similarity"] >= duplicates.TEXT_SIMILARITY
    assert str(again.complaint_id) not in matches(client, office, lamp.complaint_id)  # another matter


def test_a_closed_complaint_is_no_candidate_and_its_erasure_removes_what_it_was_found_by(wf, client, office):
    first = receive(wf, office.slug, person(11), ROAD)
    again = receive(wf, office.slug, person(12, nik=person(11).nik), ROAD_AGAIN)
    assert matches(client, office, again.complaint_id) == {str(first.complaint_id): ["nik", "text"]}
    act(client, office, first.complaint_id, "withdraw", reason="Dicabut oleh pengadu.")
    assert matches(client, office, again.complaint_id) == {}
    assert view(client, office, first.complaint_id)["possible_duplicates"] == []  # a closed one lists none

    def stored(table, column) -> int:
        with wf.engine.connect() as conn:
            return conn.execute(select(func.count()).where(column == first.complaint_id)).scalar_one()

    assert stored(privacy.lookups, privacy.lookups.c.subject_id) == 3
    assert stored(duplicate_texts, duplicate_texts.c.complaint_id) == 1
    handlers.erase_personal_data(
        wf, first.complaint_id, by="pdp.uji", reason="permintaan pengadu", at=datetime.now(UTC)
    )
    assert stored(privacy.lookups, privacy.lookups.c.subject_id) == 0
    assert stored(duplicate_texts, duplicate_texts.c.complaint_id) == 0


def test_a_correction_replaces_the_lookups(wf, client, office):
    first = receive(wf, office.slug, person(13), ROAD)
    again = receive(wf, office.slug, person(14))
    assert matches(client, office, again.complaint_id) == {}
    handlers.correct_personal_data(
        wf,
        again.complaint_id,
        {"phone": person(13).phone},
        by="kasi.uji",
        role="kasi",
        reason="nomor salah ketik",
        at=datetime.now(UTC),
        kecamatan_of=lambda k: k == office.slug,
    )
    assert matches(client, office, again.complaint_id) == {str(first.complaint_id): ["phone"]}


def test_a_pelapor_rahasia_is_not_revealed_by_a_match_on_their_person(wf, client, office):
    hidden = receive(wf, office.slug, person(15, confidential=True), ROAD)
    again = receive(wf, office.slug, person(16, nik=person(15).nik))  # the same NIK, another text
    # the Staf and the Sekcam may not see who the pelapor rahasia is: a match by NIK would tell them
    assert matches(client, office, again.complaint_id, "staf") == {}
    assert matches(client, office, again.complaint_id, "sekcam") == {}
    assert matches(client, office, hidden.complaint_id, "staf") == {}
    # the Kasi, who verifies identity, sees both; the code of the confidential one too
    [found] = view(client, office, again.complaint_id, "kasi")["possible_duplicates"]
    assert found["reasons"] == ["nik"] and found["tracking_code"] == hidden.tracking_code
    # by text the Staf sees it, without its code (it opens the pelapor rahasia's receipt)
    alike = receive(wf, office.slug, person(17), ROAD_AGAIN)
    [found] = view(client, office, alike.complaint_id, "staf")["possible_duplicates"]
    assert found["complaint_id"] == str(hidden.complaint_id) and found["reasons"] == ["text"]
    assert found["tracking_code"] is None
    # marked by the Staf as its duplicate: the history does not hold the pelapor rahasia's code either
    body = act(client, office, alike.complaint_id, "mark-duplicate", original=str(hidden.complaint_id))
    marked = body["history"][-1]["payload"]
    assert marked["original_id"] == str(hidden.complaint_id) and marked["duplicate_of"] == "(pelapor rahasia)"


def test_the_staf_marks_the_duplicate_with_one_action_and_both_complainants_are_told(
    wf, client, office, elsewhere, settings, tmp_path_factory
):
    first = receive(wf, office.slug, person(18), ROAD)
    again = receive(wf, office.slug, person(19), ROAD_AGAIN)
    other = receive(wf, elsewhere.slug, person(20), ROAD)
    # the original must be another complaint of the same kecamatan
    refused = act(client, office, again.complaint_id, "mark-duplicate", expect=422, original=str(other.complaint_id))
    assert refused["code"] == "original_not_found"
    refused = act(client, office, again.complaint_id, "mark-duplicate", expect=422, original=str(again.complaint_id))
    assert refused["code"] == "original_not_found"

    reason = f"sama dengan laporan {person(18).name}"  # the staff's reason may name the other complainant
    body = act(client, office, again.complaint_id, "mark-duplicate", original=str(first.complaint_id), reason=reason)
    assert (body["status"], body["outcome"]) == ("closed", "duplicate")
    event = wf.store.read_stream(stream_id(again.complaint_id))[-1]
    marked = event.decode()
    assert isinstance(marked, MarkedDuplicate) and event.actor.role == "staf"
    assert (marked.original_id, marked.duplicate_of) == (first.complaint_id, first.tracking_code)
    # and not the other way round: the original of a duplicate must still be handled (the attack review's finding)
    refused = act(client, office, first.complaint_id, "mark-duplicate", expect=422, original=str(again.complaint_id))
    assert refused["code"] == "original_closed"

    notify = notify_bootstrap(
        NotifySettings(
            **{
                **settings.model_dump(),
                "data_dir": str(tmp_path_factory.mktemp("duplicates-notify")),
                "smtp_host": "127.0.0.1",  # an e-mail channel to plan to; nothing is sent (send_now=False)
                "smtp_port": 9,
            }
        )
    )
    notify = dataclasses.replace(notify, directory=KecamatanDirectory(notify.engine), celery=_Broker())
    try:
        assert plan_event(notify, event.event_id, send_now=False) == 2
        assert plan_event(notify, event.event_id, send_now=False) == 2  # again: the same two, nothing new
    finally:
        notify.engine.dispose()
    with wf.engine.connect() as conn:
        rows = [
            dict(r)
            for r in conn.execute(select(deliveries).where(deliveries.c.source_event_id == event.event_id)).mappings()
        ]
    told = {r["kind"]: r for r in rows}
    assert set(told) == {"duplicate", "duplicate_joined"} and len(rows) == 2
    duplicate, joined = told["duplicate"], told["duplicate_joined"]
    assert (duplicate["complaint_id"], duplicate["recipient"]) == (again.complaint_id, person(19).email)
    assert (joined["complaint_id"], joined["recipient"]) == (first.complaint_id, person(18).email)
    # each learns of the other report and nothing of the other person: no name, no tracking code
    assert again.tracking_code in duplicate["body"] and first.tracking_code not in duplicate["body"]
    assert person(18).name not in duplicate["body"] and person(18).name not in str(duplicate["variables"])
    assert first.tracking_code in joined["body"] and again.tracking_code not in joined["body"]
    assert person(19).name not in joined["body"]
    assert "laporan lain tentang hal yang sama" in joined["body"]


def test_the_staf_marks_duplicates_only_as_it_registers(wf, client, office):
    first = receive(wf, office.slug, person(21), ROAD)
    again = receive(wf, office.slug, person(22), ROAD_AGAIN)
    act(client, office, again.complaint_id, "verify-identity", role="kasi")
    act(client, office, again.complaint_id, "register")  # step 3 done: the Camat's disposition waits
    refused = act(client, office, again.complaint_id, "mark-duplicate", expect=403, original=str(first.complaint_id))
    assert refused["code"] == "role_not_allowed"
    # typed, a code names the original as the id does
    body = act(client, office, again.complaint_id, "mark-duplicate", role="sekcam", duplicate_of=first.tracking_code)
    assert body["history"][-1]["payload"]["original_id"] == str(first.complaint_id)


def test_the_staf_page_lists_them_and_marks_the_duplicate_with_one_click(wf, office, settings, tmp_path):
    first = receive(wf, office.slug, person(23), ROAD)
    again = receive(wf, office.slug, person(24, nik=person(23).nik), ROAD_AGAIN)
    web_settings = settings.model_copy(update={"data_dir": str(tmp_path), "public_base_url": "http://127.0.0.1:8000"})
    with web_client(web_settings) as web:
        token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/masuk").text).group(1)
        signed_in = web.post(
            "/masuk",
            data={"username": office.usernames["staf"], "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        assert signed_in.status_code == 303, signed_in.text
        # the earlier complaint's page lists the later one, without the button (the earlier one is the original)
        page = web.get(f"/petugas/pengaduan/{first.complaint_id}").text
        assert "Kemungkinan duplikat" in page and again.tracking_code in page and "data-duplikat=" not in page
        page = web.get(f"/petugas/pengaduan/{again.complaint_id}").text
        assert "Kemungkinan duplikat" in page and first.tracking_code in page and "NIK, isi mirip" in page
        form = re.search(rf'<form[^>]*data-duplikat="{first.complaint_id}".*?</form>', page, re.DOTALL)
        assert form and "Tandai duplikat dari ini" in form.group(0)
        data = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(0)))
        assert set(data) == {"csrf_token", "expected_version", "original"}
        marked = web.post(f"/petugas/pengaduan/{again.complaint_id}/mark-duplicate", data=data, follow_redirects=False)
        assert marked.status_code == 303, marked.text
        assert "Kemungkinan duplikat" not in web.get(f"/petugas/pengaduan/{first.complaint_id}").text
    event = wf.store.read_stream(stream_id(again.complaint_id))[-1].decode()
    assert isinstance(event, MarkedDuplicate) and event.original_id == first.complaint_id


def test_the_migration_fills_what_the_open_complaints_are_found_by(settings, database_url):
    """Migration 0028 on a deployment that has complaints: the open ones get their lookups (their complainant opened
    under the configured keys) and their text; a closed one gets neither."""
    from sqlalchemy import create_engine, make_url, text

    from shared.migrate import migrate

    name = f"duplicates_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        scratch = workflow_bootstrap(settings.model_copy(update={"database_url": url}))
        place = new_place()
        upsert_kecamatan(scratch.engine, [place])
        opened = receive(scratch, place.slug, person(30), ROAD)
        corrected = receive(scratch, place.slug, person(31), ROAD_AGAIN)
        handlers.correct_personal_data(
            scratch,
            corrected.complaint_id,
            {"phone": "+6281399990000"},
            by="kasi.uji",
            role="kasi",
            reason="nomor salah ketik",
            at=datetime.now(UTC),
            kecamatan_of=lambda k: True,
        )
        closed = receive(scratch, place.slug, person(32), LAMP)
        handlers.act(
            scratch,
            closed.complaint_id,
            "withdraw",
            {},
            expected_version=1,
            user_id="staf.uji",
            role="staf",
            unit=None,
            kecamatan=place.slug,
            at=datetime.now(UTC),
            correlation_id=uuid.uuid4(),
        )
        with scratch.engine.begin() as conn:  # as before the migration
            before = {r.subject_id: r.hash for r in conn.execute(select(privacy.lookups)) if r.kind == "phone"}
            conn.execute(privacy.lookups.delete())
            conn.execute(duplicate_texts.delete())
        migration = importlib.import_module("migrations.versions.0028_duplicates")
        with scratch.engine.begin() as conn:
            migration._fill(conn)
            phones = {r.subject_id: r.hash for r in conn.execute(select(privacy.lookups)) if r.kind == "phone"}
            texts = set(conn.execute(select(duplicate_texts.c.complaint_id)).scalars())
        assert phones == {k: v for k, v in before.items() if k != closed.complaint_id}
        assert phones[corrected.complaint_id] == privacy.lookup_hashes(scratch.store.data_keys.keks).hash(
            "phone", "+6281399990000"
        )  # as corrected
        assert texts == {opened.complaint_id, corrected.complaint_id}
        scratch.engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


class _Broker:
    """Notify's broker: nothing is taken from it here."""

    def send_task(self, name, args=None, **_options):
        pass


def test_the_order_of_the_list_tells_nothing_a_reader_may_not_see(wf, client, office):
    """The attack review's finding: sorted by person matches first and then filtered, a pelapor rahasia matched by
    NIK came before a closer text match, which told the Staf that the two complainants are one person. Sorted
    again by what the reader sees, the closer text comes first."""
    hidden = receive(wf, office.slug, person(31, confidential=True), ROAD_AGAIN)
    closer = receive(wf, office.slug, person(32), (ROAD[0], ROAD[1] + " Mohon segera diperbaiki."))
    again = receive(wf, office.slug, person(33, nik=person(31).nik), ROAD)
    found = view(client, office, again.complaint_id, "staf")["possible_duplicates"]
    by_id = {f["complaint_id"]: f for f in found}
    assert by_id[str(hidden.complaint_id)]["reasons"] == ["text"]  # the NIK match is not the Staf's to see
    similarities = [f["similarity"] for f in found]
    assert similarities == sorted(similarities, reverse=True), found
    if by_id[str(closer.complaint_id)]["similarity"] > by_id[str(hidden.complaint_id)]["similarity"]:
        assert found[0]["complaint_id"] == str(closer.complaint_id)


def test_the_most_alike_of_many_are_found_nearest_first_by_the_index(wf, engine, office, elsewhere):
    """A kecamatan with thousands of open texts (migration 0032): the search reads the GiST index nearest first, and
    finds the ``MAX_SHOWN`` most alike of those at least ``TEXT_SIMILARITY`` alike, as computing the similarity of
    every open text would."""
    villages = ["Tlagah", "Bulangan", "Ambender", "Tebul", "Plakpak", "Larangan", "Pasanggar", "Blumbungan"]
    months = ["Januari", "Maret", "Mei", "Juli", "September", "November"]
    for i, (village, month) in enumerate((v, m) for v in villages[:4] for m in months[:4]):  # one matter, 16 times
        receive(
            wf, office.slug, person(900 + i), (ROAD[0], ROAD[1].replace("Tlagah", village).replace("Januari", month))
        )
    with engine.begin() as conn:  # texts for the index to pass over (no complaint of their own)
        conn.execute(
            duplicate_texts.insert(),
            [
                {"complaint_id": uuid.uuid4(), "kecamatan": k, "text": f"{uuid.uuid4().hex} {LAMP[1]} {v} {m}".lower()}
                for k in (office.slug, elsewhere.slug)
                for v in villages
                for m in months
                for _ in range(25)
            ],
        )
        conn.exec_driver_sql("ANALYZE workflow.duplicate_texts")
    me, own = uuid.uuid4(), privacy.comparable_text(*ROAD_AGAIN)
    hashes = privacy.LookupHashes(privacy.keys_from_settings(wf.settings))
    with engine.connect() as conn:
        found = duplicates.possible_duplicates(conn, hashes, me, office.slug, person(999), *ROAD_AGAIN)
        every = dict(  # every open text of the kecamatan with a complaint, by its similarity
            conn.exec_driver_sql(
                "SELECT t.complaint_id, round(similarity(t.text, %(own)s)::numeric, 2)::float FROM "
                "workflow.duplicate_texts t JOIN workflow.complaints c USING (complaint_id) "
                "WHERE t.kecamatan = %(k)s AND t.open",
                {"own": own, "k": office.slug},
            ).all()
        )
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                text("EXPLAIN " + duplicates._CANDIDATES.text),
                {
                    "me": me,
                    "kecamatan": office.slug,
                    "kinds": [],
                    "hashes": [],
                    "own": own,
                    "alike": duplicates.TEXT_SIMILARITY,
                    "most": duplicates.MAX_SHOWN,
                },
            )
        )
    most_alike = sorted((s for s in every.values() if s >= duplicates.TEXT_SIMILARITY), reverse=True)
    assert len(most_alike) > duplicates.MAX_SHOWN  # more alike than are shown
    assert [m.similarity for m in found] == most_alike[: duplicates.MAX_SHOWN]  # the most alike, in that order
    assert all(m.reasons == {"text"} and every[m.complaint_id] == m.similarity for m in found)
    # the index read nearest first (an index scan ordered by the distance), not every text sharing trigrams with it
    assert "Index Scan using duplicate_texts_nearest" in plan and "Order By: (text <-> " in plan, plan


def test_a_text_exactly_as_alike_as_the_threshold_is_listed(wf, client, office):
    """pg_trgm's similarity of 'ab ab' and 'abc abc' is 2 shared trigrams of 5: exactly 0.4, listed (its distance,
    a float4, made ``1 - distance`` 0.39999998, below it)."""
    earlier = receive(wf, office.slug, person(31), ("abc", "abc"))
    later = receive(wf, office.slug, person(32), ("ab", "ab"))
    [found] = view(client, office, later.complaint_id)["possible_duplicates"]
    assert found["complaint_id"] == str(earlier.complaint_id) and found["similarity"] == duplicates.TEXT_SIMILARITY
