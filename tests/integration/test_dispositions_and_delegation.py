"""Issue #15 items 2 and 3 over HTTP (docs/adr/0014): step 4 disposes to a unit that exists, named as people
write it; an unknown unit or one without a head is refused; a disposition stranded by free text is repaired by
the Camat; a Plh. Camat disposes and signs during the delegation's period, the events record both identities,
and outside the period the delegate is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from pengaduan import apps
from services.accounts import handlers as accounts
from services.accounts.domain.organisation import DelegationRequest, Person
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap
from shared.calendar import WIB
from shared.tenancy import Kecamatan, upsert_kecamatan
from tests.support.complaints import new_complaint

PASSWORD = "rahasia-uji-yang-panjang"
ADMIN = Person("admin.uji", "admin", None, None, True)


@pytest.fixture(scope="module")
def wf(settings):
    container = bootstrap(settings)
    yield container
    container.engine.dispose()


@pytest.fixture(scope="module")
def client(wf):
    with TestClient(apps.workflow(wf)) as c:
        yield c


@pytest.fixture(scope="module")
def place(engine, client):
    """A kecamatan of these tests: Staf, Kasi Pemerintahan, Sekcam, Camat; signed in."""
    suffix = uuid.uuid4().hex[:8]
    slug = f"disp-{suffix}"
    upsert_kecamatan(engine, [Kecamatan(slug, f"99.{suffix}", "Uji", "pamekasan", "Kabupaten Pamekasan", {})])
    tokens = {}
    for key, role, unit in [
        ("staf", "staf", None),
        ("kasi", "kasi", "pemerintahan"),
        ("sekcam", "sekcam", None),
        ("camat", "camat", None),
    ]:
        username = f"{key}.{slug}"
        accounts.add_user(engine, username, f"Nama {key}", role, PASSWORD, kecamatan=slug, unit=unit)
        r = client.post("/v1/auth/token", data={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        tokens[key] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return slug, tokens


class Flow:
    def __init__(self, client, tokens, complaint_id):
        self.client, self.tokens, self.id, self.version = client, tokens, complaint_id, 1

    def do(self, who: str, action: str, expect: int = 200, **fields) -> dict:
        r = self.client.post(
            f"/v1/complaints/{self.id}/{action}",
            json={"expected_version": self.version, **fields},
            headers=self.tokens[who],
        )
        assert r.status_code == expect, r.text
        if expect == 200:
            self.version = r.json()["version"]
        return r.json()

    def get(self, who: str = "staf") -> dict:
        return self.client.get(f"/v1/complaints/{self.id}", headers=self.tokens[who]).json()


def at_step_4(client, wf, place) -> Flow:
    slug, tokens = place
    f = Flow(client, tokens, new_complaint(wf, slug))
    f.do("kasi", "verify-identity")
    f.do("staf", "register")
    return f


@pytest.mark.parametrize("written", ["pemerintahan", "Seksi Pemerintahan", "SEKSI  pemerintahan", "Kasi Pemerintahan"])
def test_step_4_takes_the_unit_as_people_write_it(client, wf, place, written):
    f = at_step_4(client, wf, place)
    body = f.do("camat", "dispose", unit=written, instructions="Tindak lanjuti.")
    assert body["unit"] == "pemerintahan" and body["current_step"]["number"] == 5
    assert "clarify" in f.get("kasi")["allowed_actions"]  # the Kasi of the unit can go on


def test_an_unknown_unit_or_one_without_a_head_is_refused_and_nothing_is_written(client, wf, place):
    f = at_step_4(client, wf, place)
    unknown = f.do("camat", "dispose", expect=422, unit="Seksi Pertanian", instructions="x")
    assert unknown["code"] == "unknown_unit"
    assert "Seksi Pemerintahan (pemerintahan)" in unknown["message"] and "Seksi Pertanian" in unknown["message"]
    headless = f.do("camat", "dispose", expect=422, unit="trantib", instructions="x")
    assert headless["code"] == "unit_without_head" and "Ketenteraman" in headless["message"]
    assert f.get()["current_step"]["number"] == 4 and f.get()["version"] == f.version  # nothing written


def test_a_stranded_disposition_is_repaired_by_the_camat(client, wf, place):
    slug, _tokens = place
    f = at_step_4(client, wf, place)
    # an old disposition, written as free text before units were data: no Kasi matches it
    stranded = handlers.act(
        handlers.Context(uow=wf.uow, directory=wf.directory, calendars=wf.calendars),  # no organisation: as before
        f.id,
        "dispose",
        {"unit": "Seksi Pemerintahan", "instructions": "Tindak lanjuti."},
        expected_version=f.version,
        user_id=f"camat.{slug}",
        role="camat",
        unit=None,
        kecamatan=slug,
        at=datetime.now(UTC),
        correlation_id=uuid.uuid4(),
    )
    f.version = stranded.revision
    assert f.get()["unit"] == "seksi pemerintahan" and "clarify" not in f.get("kasi")["allowed_actions"]
    assert "redispose" in f.get("camat")["allowed_actions"]
    assert f.do("kasi", "redispose", expect=403, unit="x", instructions="x", reason="x")["code"] == "role_not_allowed"
    body = f.do("camat", "redispose", unit="pemerintahan", instructions="Tindak lanjuti.", reason="Unit ditulis bebas")
    assert body["unit"] == "pemerintahan" and body["current_step"]["number"] == 5
    assert body["history"][-1]["type"] == "workflow.DispositionRedirected"
    # the same unit again would only restart step 5's clock (an overdue step hidden)
    same = f.do("camat", "redispose", expect=409, unit="Seksi Pemerintahan", instructions="x", reason="x")
    assert same["code"] == "unit_unchanged"
    f.do("kasi", "clarify", explanation="Sudah ditangani.")
    assert f.do("camat", "redispose", expect=409, unit="pemerintahan", instructions="x", reason="x")["code"] == (
        "not_this_step"
    )


def test_a_plh_camat_disposes_and_signs_during_the_period_only(client, wf, engine, place):
    slug, tokens = place
    today = datetime.now(UTC).astimezone(WIB).date()
    f = at_step_4(client, wf, place)
    assert f.do("sekcam", "dispose", expect=403, unit="pemerintahan", instructions="x")["code"] == "role_not_allowed"

    made = accounts.grant_delegation(
        engine,
        ADMIN,
        DelegationRequest("camat", slug, f"sekcam.{slug}", "plh", today, today + timedelta(days=2), "Camat cuti"),
        today,
    )
    assert "dispose" in f.get("sekcam")["allowed_actions"]
    inbox = client.get("/v1/inbox", headers=tokens["sekcam"]).json()
    assert str(f.id) in {i["id"] for i in inbox}  # the Camat's work waits in the Plh.'s inbox
    body = f.do("sekcam", "dispose", unit="pemerintahan", instructions="Segera.")
    actor = body["history"][-1]["actor"]
    assert (actor["user_id"], actor["role"], actor["acting_for"], actor["acting_kind"]) == (
        f"sekcam.{slug}",
        "sekcam",
        "camat",
        "plh",
    )
    assert actor["delegation_id"] == str(made.id)
    for who, action, fields in [
        ("kasi", "clarify", {"explanation": "x"}),
        ("kasi", "request-letter", {}),
        ("staf", "draft-letter", {"perihal": "Tanggapan", "body": "Isi"}),
    ]:
        f.do(who, action, **fields)
    f.do("sekcam", "review-letter", approved=True)  # step 8 in their own role
    f.do("staf", "duplicate-letter")
    signed = f.do("sekcam", "sign-letter")  # step 10 as Plh. Camat
    assert signed["history"][-1]["actor"]["acting_for"] == "camat" and signed["letter_number"]

    # ended early: the Sekcam is the Sekcam again
    accounts.end_delegation(engine, ADMIN, made.id, today, "Camat kembali")
    g = at_step_4(client, wf, place)
    assert g.do("sekcam", "dispose", expect=403, unit="pemerintahan", instructions="x")["code"] == "role_not_allowed"
    assert str(g.id) not in {i["id"] for i in client.get("/v1/inbox", headers=tokens["sekcam"]).json()}
    # a delegation that starts tomorrow is not in force today
    accounts.grant_delegation(
        engine,
        ADMIN,
        DelegationRequest(
            "camat", slug, f"sekcam.{slug}", "plt", today + timedelta(days=1), today + timedelta(days=5), "x"
        ),
        today,
    )
    assert g.do("sekcam", "dispose", expect=403, unit="pemerintahan", instructions="x")["code"] == "role_not_allowed"
    body = g.do("camat", "dispose", unit="pemerintahan", instructions="x")  # the Camat in their own role
    assert body["history"][-1]["actor"]["acting_for"] is None


def test_notify_finds_who_acts_for_an_official_today(engine, place):
    """Notify's staff adapter over the real views: the Plh. in force is found with the role and unit it acts
    for (overdue alerts go to them, tests/unit/test_notify_flow.py), one not in force is not."""
    from services.notify.adapters.postgres import PostgresStaff

    slug, _tokens = place
    today = datetime.now(UTC).astimezone(WIB).date()
    accounts.add_user(engine, f"kasi2.{slug}", "Kasi Dua", "kasi", PASSWORD, kecamatan=slug, unit="pmd")
    accounts.grant_delegation(
        engine,
        ADMIN,
        DelegationRequest("kasi", slug, f"kasi2.{slug}", "plh", today, today, "Dinas luar", "pemerintahan"),
        today,
    )
    with engine.connect() as conn:
        staff = PostgresStaff(conn)
        (row,) = staff.acting(slug, {"kasi"}, today)
        assert (row["username"], row["role"], row["unit"], row["acting_kind"]) == (
            f"kasi2.{slug}",
            "kasi",
            "pemerintahan",
            "plh",
        )
        assert staff.acting(slug, {"kasi"}, today + timedelta(days=1)) == []
        assert staff.acting(slug, {"camat"}, today) == []
