"""The organisation over HTTP (issue #15 items 1 and 3, docs/adr/0014): a kecamatan's units with their heads,
Plh./Plt. named, listed and ended early, every change in the organisation's log, and the refusals with their
codes; as the workflow API's process serves them (pengaduan/apps.py)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from pengaduan.apps import workflow as workflow_app
from services.accounts import handlers
from services.accounts.domain.organisation import OrganisationRefused, UnitChange
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from shared.auth import Principal
from shared.calendar import WIB
from shared.tenancy import Kecamatan, upsert_kecamatan
from tests.support.auth import bearer_header
from tests.support.processes import env_for

PASSWORD = "kata-sandi-yang-panjang"


@pytest.fixture(scope="module")
def client(settings):
    with TestClient(workflow_app(workflow_bootstrap(settings))) as c:
        yield c


@pytest.fixture
def place(engine, client):
    """A kecamatan of the test's own, with a Camat, a Sekcam, the Kasi Pemerintahan and a Staf."""
    suffix = uuid.uuid4().hex[:8]
    slug = f"org-{suffix}"
    upsert_kecamatan(engine, [Kecamatan(slug, f"98.{suffix}", "Uji", "pamekasan", "Kabupaten Pamekasan", {})])
    client.app.state.accounts.directory.invalidate()  # the API's directory reads a new slug at most once a second
    people = {
        "camat": ("Drs. Camat Uji", None),
        "sekcam": ("Sekcam Uji", None),
        "kasi": ("Kasi Pemerintahan Uji", "Seksi Pemerintahan"),
        "staf": ("Staf Uji", None),
    }
    for role, (name, unit) in people.items():
        handlers.add_user(
            engine, f"{role}.{slug}", name, role, PASSWORD, kecamatan=slug, unit=unit,
            nip="197001011990031001", pangkat="Pembina", golongan="iv/A",
        )  # fmt: skip
    return slug


def as_(settings, slug: str, role: str, unit: str | None = None) -> dict[str, str]:
    principal = Principal(f"{role}.{slug}", role.title(), role, slug, "pamekasan", unit)
    return bearer_header(settings, principal)


def today() -> date:
    return datetime.now(UTC).astimezone(WIB).date()


def test_units_list_with_their_heads(client, settings, place):
    r = client.get(f"/v1/kecamatan/{place}/units", headers=as_(settings, place, "staf"))
    assert r.status_code == 200, r.text
    units = {u["code"]: u for u in r.json()}
    assert set(units) == {"umpeg", "renkeu", "pemerintahan", "trantib", "kesra", "pmd", "pelayanan-umum"}
    pem = units["pemerintahan"]
    assert pem["title"] == "Seksi Pemerintahan" and pem["kind"] == "seksi"
    assert pem["head"] == {
        "username": f"kasi.{place}",
        "name": "Kasi Pemerintahan Uji",
        "jabatan": "Kepala Seksi Pemerintahan",
        "nip": "197001011990031001",
        "pangkat": "Pembina",
        "golongan": "IV/a",
    }
    assert units["trantib"]["head"] is None
    assert [u["kind"] for u in r.json()][:2] == ["subbagian", "subbagian"]  # the sekretariat first
    # the kabupaten reads it too; another kecamatan's staff do not; nobody unsigned
    kabupaten = bearer_header(settings, Principal(f"kab.{place}", "Kab", "kabupaten", None, "pamekasan"))
    assert client.get(f"/v1/kecamatan/{place}/units", headers=kabupaten).status_code == 200
    other = bearer_header(settings, Principal("staf.pegantenan.o", "Staf", "staf", "pegantenan", "pamekasan"))
    refused = client.get(f"/v1/kecamatan/{place}/units", headers=other)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert client.get(f"/v1/kecamatan/{place}/units").status_code == 401
    unknown = client.get("/v1/kecamatan/tidak-ada/units", headers=kabupaten)
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_kecamatan"


def test_a_kasi_is_stored_with_the_unit_code_and_an_unknown_unit_is_refused(engine, place):
    handlers.add_user(engine, f"kasi2.{place}", "Kasi Trantib", "kasi", PASSWORD, kecamatan=place, unit="Sie Trantib")
    assert handlers.person(engine, f"kasi2.{place}").unit == "trantib"
    with pytest.raises(ValueError, match=r"unknown unit 'Seksi Pertanian'.*pemerintahan"):
        handlers.add_user(engine, f"kasi3.{place}", "Kasi", "kasi", PASSWORD, kecamatan=place, unit="Seksi Pertanian")
    assert handlers.person(engine, f"kasi3.{place}") is None


def delegation(place: str, **changes) -> dict:
    body = {
        "role": "camat",
        "kecamatan": place,
        "delegate": f"sekcam.{place}",
        "kind": "plh",
        "starts_on": str(today()),
        "ends_on": str(today() + timedelta(days=6)),
        "reason": "Cuti tahunan",
    }
    return {**body, **changes}


def test_the_camat_names_the_sekcam_plh_camat_and_an_admin_ends_it(client, settings, engine, place):
    camat = as_(settings, place, "camat")
    r = client.post("/v1/delegations", json=delegation(place), headers=camat)
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["delegate"], made["label"], made["in_force"], made["granted_by"]) == (
        f"sekcam.{place}",
        "Plh.",
        True,
        f"camat.{place}",
    )
    listed = client.get("/v1/delegations", params={"kecamatan": place}, headers=as_(settings, place, "staf"))
    assert [d["id"] for d in listed.json()] == [made["id"]]

    overlapping = client.post("/v1/delegations", json=delegation(place, delegate=f"staf.{place}"), headers=camat)
    assert overlapping.status_code == 409 and overlapping.json()["code"] == "delegation_overlaps"

    admin = bearer_header(settings, Principal("admin.org", "Admin", "admin"))
    ended = client.post(f"/v1/delegations/{made['id']}/end", json={"reason": "Camat kembali"}, headers=admin)
    assert ended.status_code == 200 and ended.json()["ended_at"] and not ended.json()["in_force"]
    again = client.post(f"/v1/delegations/{made['id']}/end", json={"reason": "lagi"}, headers=admin)
    assert again.status_code == 409 and again.json()["code"] == "delegation_over"
    assert client.get("/v1/delegations", params={"kecamatan": place}, headers=camat).json()[0]["ended_at"]

    log = handlers.organisation_log(engine, place)
    assert [e["type"] for e in log] == ["DelegationEnded", "DelegationGranted"]
    assert log[1]["actor"] == f"camat.{place}" and log[1]["data"]["delegate"] == f"sekcam.{place}"
    assert log[0]["actor"] == "admin.org" and log[0]["data"]["reason"] == "Camat kembali"


def test_a_plt_for_a_unit_without_a_head_is_listed_and_another_kecamatan_s_delegation_is_not_found(
    client, settings, engine, place
):
    handlers.add_user(engine, f"staf2.{place}", "Staf Dua", "staf", PASSWORD, kecamatan=place)
    body = delegation(place, role="kasi", unit="kesra", delegate=f"staf2.{place}", kind="plt", reason="Jabatan kosong")
    made = client.post("/v1/delegations", json=body, headers=as_(settings, place, "camat"))
    assert made.status_code == 201, made.text
    units = {
        u["code"]: u for u in client.get(f"/v1/kecamatan/{place}/units", headers=as_(settings, place, "staf")).json()
    }
    assert units["kesra"]["head"] is None
    assert units["kesra"]["acting"]["username"] == f"staf2.{place}" and units["kesra"]["acting"]["label"] == "Plt."
    assert units["trantib"]["acting"] is None
    other = bearer_header(settings, Principal("camat.pegantenan.o", "C", "camat", "pegantenan", "pamekasan"))
    ended = client.post(f"/v1/delegations/{made.json()['id']}/end", json={"reason": "x"}, headers=other)
    assert ended.status_code == 404 and ended.json()["code"] == "unknown_delegation"


def test_a_kasi_names_another_for_their_unit_by_its_name(client, settings, engine, place):
    handlers.add_user(
        engine, f"kasi.trantib.{place}", "Kasi Trantib", "kasi", PASSWORD, kecamatan=place, unit="trantib"
    )
    body = delegation(place, role="kasi", unit="seksi pemerintahan", delegate=f"kasi.trantib.{place}")
    r = client.post("/v1/delegations", json=body, headers=as_(settings, place, "kasi", "pemerintahan"))
    assert r.status_code == 201, r.text
    assert r.json()["unit"] == "pemerintahan"


@pytest.mark.parametrize(
    "changes, status, code",
    [
        ({"role": "bupati"}, 422, "unknown_role"),
        ({"delegate": "nobody.at.all"}, 422, "unknown_delegate"),
        ({"ends_on": "2020-01-01", "starts_on": "2019-12-01"}, 422, "invalid_period"),
        ({"role": "kasi", "unit": "Seksi Pertanian"}, 422, "unknown_unit"),
        ({"kind": "pj"}, 422, "validation_error"),
        ({"nonsense": 1}, 422, "validation_error"),
        ({"reason": "Cuti\x00tahunan"}, 422, "validation_error"),
        ({"delegate": "sekcam\x00x"}, 422, "validation_error"),
        ({"unit": "pemerin\ntahan", "role": "kasi"}, 422, "validation_error"),
        ({"starts_on": "9999-12-30", "ends_on": "9999-12-31"}, 422, "invalid_period"),
    ],
)
def test_bad_delegations_are_refused_and_leave_nothing(client, settings, engine, place, changes, status, code):
    r = client.post("/v1/delegations", json=delegation(place, **changes), headers=as_(settings, place, "camat"))
    assert r.status_code == status and r.json()["code"] == code, r.text
    assert r.json()["message"]
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM tenancy.org_delegations WHERE kecamatan = :k"), {"k": place})
        assert n.scalar_one() == 0


def test_only_the_camat_the_official_or_an_admin_may_name_one(client, settings, place):
    r = client.post("/v1/delegations", json=delegation(place), headers=as_(settings, place, "sekcam"))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    other = bearer_header(settings, Principal("camat.pegantenan.o", "C", "camat", "pegantenan", "pamekasan"))
    assert client.post("/v1/delegations", json=delegation(place), headers=other).status_code == 403


def test_an_admin_defines_and_retires_units_and_the_kecamatan_gets_its_own_list(engine, place):
    unit = handlers.define_unit(engine, "admin", place, UnitChange("perizinan", "seksi", "Pelayanan Perizinan"))
    codes = {e.code for e in handlers.list_units(engine, place)}
    assert unit.code in codes and "trantib" in codes and len(codes) == 8  # the copied list plus the new unit
    handlers.retire_unit(engine, "admin", place, "kesra", "Digabung dengan PMD (Perbup 2026)")
    assert "kesra" not in {e.code for e in handlers.list_units(engine, place)}
    with pytest.raises(OrganisationRefused) as headed:
        handlers.retire_unit(engine, "admin", place, "pemerintahan", "x")
    assert headed.value.code == "unit_has_head"
    with pytest.raises(OrganisationRefused) as taken:
        handlers.define_unit(engine, "admin", place, UnitChange("trantib-2", "seksi", "Ketenteraman & Ketertiban Umum"))
    assert taken.value.code == "unit_name_taken"
    # other kecamatan still have the default list
    assert len(handlers.list_units(engine, "pegantenan")) == 7
    assert [e["type"] for e in handlers.organisation_log(engine, place)] == ["UnitRetired", "UnitDefined"]


def org(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pengaduan", "org", *args],
        capture_output=True,
        text=True,
        env=env_for(settings),
        timeout=60,
        check=False,
    )


def test_the_org_commands(settings, engine, place):
    listed = org(settings, "units", place)
    assert listed.returncode == 0, listed.stderr
    assert "Seksi Pemerintahan" in listed.stdout and f"Kasi Pemerintahan Uji (kasi.{place})" in listed.stdout
    defined = org(settings, "define-unit", place, "perizinan", "--kind", "seksi", "--name", "Pelayanan Perizinan")
    assert defined.returncode == 0 and "Seksi Pelayanan Perizinan" in defined.stdout
    start, end = today(), today() + timedelta(days=3)
    made = org(
        settings, "delegate", "--kecamatan", place, "--role", "camat", "--delegate", f"sekcam.{place}",
        "--kind", "plt", "--from", str(start), "--to", str(end), "--reason", "Camat pindah tugas",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert f"Plt. camat of {place}: sekcam.{place}" in made.stdout
    delegation_id = made.stdout.split("id ")[-1].strip()
    shown = org(settings, "delegations", "--kecamatan", place)
    assert delegation_id in shown.stdout and "Plt." in shown.stdout
    refused = org(
        settings, "delegate", "--kecamatan", place, "--role", "kasi", "--unit", "pertanian", "--delegate",
        f"staf.{place}", "--kind", "plh", "--from", str(start), "--to", str(end), "--reason", "Cuti",
    )  # fmt: skip
    assert refused.returncode != 0 and "(unknown_unit)" in refused.stderr
    bad_date = org(settings, "delegate", "--kecamatan", place, "--role", "camat", "--delegate", "x", "--kind", "plh",
                   "--from", "besok", "--to", "lusa", "--reason", "x")  # fmt: skip
    assert bad_date.returncode != 0 and "YYYY-MM-DD" in bad_date.stderr
    ended = org(settings, "end-delegation", delegation_id, "--reason", "Camat definitif dilantik")
    assert ended.returncode == 0, ended.stderr
    log = org(settings, "log", "--kecamatan", place)
    assert log.stdout.index("DelegationEnded") < log.stdout.index("DelegationGranted") < log.stdout.index("UnitDefined")
    assert "cli:" in log.stdout
    ranked = subprocess.run(
        [sys.executable, "-m", "pengaduan", "users", "rank", f"camat.{place}", "--nip", "197001011990031001",
         "--pangkat", "Pembina Tingkat I", "--golongan", "IV/b"],
        capture_output=True, text=True, env=env_for(settings), timeout=60, check=False,
    )  # fmt: skip
    assert ranked.returncode == 0, ranked.stderr
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT pangkat, golongan FROM tenancy.staff_directory WHERE username = :u"), {"u": f"camat.{place}"}
        ).one()
    assert tuple(row) == ("Pembina Tingkat I", "IV/b")


# -- what the commands do, over HTTP for admins (issue #15 item 1) ----------------------------------------------
ADMIN = Principal("admin.org", "Admin", "admin")


def admin(settings) -> dict[str, str]:
    return bearer_header(settings, ADMIN)


def events_of(client, settings, place: str, **params) -> list[dict]:
    r = client.get(f"/v1/kecamatan/{place}/org-events", params=params, headers=admin(settings))
    assert r.status_code == 200, r.text
    return r.json()


def test_an_admin_adds_renames_and_retires_a_unit_over_http_each_change_in_the_log(client, settings, place):
    base = f"/v1/kecamatan/{place}/units"
    body = {"code": "perizinan", "kind": "seksi", "name": "Pelayanan  Perizinan", "short_names": ["yanzin"]}
    added = client.post(base, json=body, headers=admin(settings))
    assert added.status_code == 201, added.text
    assert added.json() | {"short_names": None} == {
        "code": "perizinan", "kind": "seksi", "name": "Pelayanan Perizinan", "title": "Seksi Pelayanan Perizinan",
        "short_names": None, "head": None, "acting": None, "active": True,
    }  # fmt: skip
    again = client.post(base, json={**body, "name": "Perizinan Lain"}, headers=admin(settings))
    assert again.status_code == 409 and again.json()["code"] == "unit_exists", again.text
    assert again.json()["errors"] == [{"field": "code", "code": "unit_exists", "message": again.json()["message"]}]

    renamed = client.patch(f"{base}/perizinan", json={"name": "Perizinan dan Nonperizinan"}, headers=admin(settings))
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["title"] == "Seksi Perizinan dan Nonperizinan"
    assert renamed.json()["short_names"] == ["yanzin"]  # what was left out stays
    listed = {u["code"]: u for u in client.get(base, headers=as_(settings, place, "staf")).json()}
    assert listed["perizinan"]["name"] == "Perizinan dan Nonperizinan"

    retired = client.post(f"{base}/perizinan/retire", json={"reason": "Dipindah ke MPP"}, headers=admin(settings))
    assert retired.status_code == 200 and retired.json()["active"] is False, retired.text
    assert "perizinan" not in {u["code"] for u in client.get(base, headers=admin(settings)).json()}
    with_retired = client.get(base, params={"include_retired": "true"}, headers=admin(settings)).json()
    assert {u["code"]: u["active"] for u in with_retired}["perizinan"] is False
    gone = client.patch(f"{base}/perizinan", json={"name": "X Y"}, headers=admin(settings))
    assert gone.status_code == 404 and gone.json()["code"] == "unknown_unit"

    log = events_of(client, settings, place)
    assert [(e["type"], e["actor"]) for e in log] == [
        ("UnitRetired", "admin.org"),
        ("UnitChanged", "admin.org"),
        ("UnitDefined", "admin.org"),
    ]
    assert log[0]["data"] == {"code": "perizinan", "reason": "Dipindah ke MPP"}
    assert log[1]["data"]["name"] == "Perizinan dan Nonperizinan"
    # defined again: the retired unit is back, as a new definition
    back = client.post(base, json={**body, "name": "Perizinan"}, headers=admin(settings))
    assert back.status_code == 201 and back.json()["active"], back.text
    assert events_of(client, settings, place, limit=1)[0]["type"] == "UnitDefined"


@pytest.mark.parametrize(
    "method, path, body, status, code",
    [
        ("post", "units", {"code": "Bad Code", "kind": "seksi", "name": "Perizinan"}, 422, "invalid_unit"),
        ("post", "units", {"code": "tapem", "kind": "seksi", "name": "Seksi Pemerintahan"}, 409, "unit_name_taken"),
        ("post", "units", {"code": "x", "kind": "bidang", "name": "X"}, 422, "validation_error"),
        ("post", "units", {"code": "x", "kind": "seksi", "name": "A\nB"}, 422, "validation_error"),
        ("patch", "units/trantib", {}, 422, "nothing_to_change"),
        ("patch", "units/trantib", {"name": "Pemerintahan"}, 409, "unit_name_taken"),
        ("patch", "units/tidak-ada", {"name": "Baru"}, 404, "unknown_unit"),
        ("post", "units/pemerintahan/retire", {"reason": "x"}, 409, "unit_has_head"),
        ("post", "units/tidak-ada/retire", {"reason": "x"}, 404, "unknown_unit"),
        ("post", "units/trantib/retire", {"reason": ""}, 422, "validation_error"),
        ("post", "units/pemerintahan/head", {"username": "staf.{place}"}, 409, "unit_has_head"),
        ("post", "units/trantib/head", {"username": "sekcam.{place}"}, 422, "official_holds_another_post"),
        ("post", "units/trantib/head", {"username": "staf.pegantenan"}, 422, "unknown_official"),
        ("post", "units/trantib/head/end", {"reason": "Mutasi"}, 409, "unit_without_head"),
        ("patch", "officials/camat.{place}", {"nip": "1970"}, 422, "invalid_nip"),
        ("patch", "officials/camat.{place}", {"golongan": "V/z"}, 422, "invalid_golongan"),
        ("patch", "officials/camat.{place}", {"pangkat": "P" * 61}, 422, "invalid_pangkat"),
        ("patch", "officials/camat.{place}", {}, 422, "nothing_to_change"),
        ("patch", "officials/camat.pegantenan", {"nip": ""}, 404, "unknown_official"),
    ],
)
def test_bad_changes_are_refused_with_their_code_and_leave_no_event(
    client, settings, engine, place, method, path, body, status, code
):
    body = {k: v.replace("{place}", place) if isinstance(v, str) else v for k, v in body.items()}
    r = getattr(client, method)(
        f"/v1/kecamatan/{place}/{path.replace('{place}', place)}", json=body, headers=admin(settings)
    )
    assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert r.json()["message"]
    assert handlers.organisation_log(engine, place) == []
    assert handlers.person(engine, f"sekcam.{place}").role == "sekcam"


def test_only_an_admin_changes_the_organisation(client, settings, engine, place):
    kabupaten = bearer_header(settings, Principal(f"kab.{place}", "Kab", "kabupaten", None, "pamekasan"))
    unit = {"code": "perizinan", "kind": "seksi", "name": "Perizinan"}
    for headers in (as_(settings, place, "camat"), as_(settings, place, "kasi", "pemerintahan"), kabupaten):
        for method, path, body in (
            ("post", "units", unit),
            ("patch", "units/trantib", {"name": "Trantib Baru"}),
            ("post", "units/kesra/retire", {"reason": "x"}),
            ("post", "units/trantib/head", {"username": f"staf.{place}"}),
            ("post", "units/pemerintahan/head/end", {"reason": "x"}),
            ("patch", f"officials/camat.{place}", {"pangkat": "Pembina Utama"}),
        ):
            r = getattr(client, method)(f"/v1/kecamatan/{place}/{path}", json=body, headers=headers)
            assert (r.status_code, r.json()["code"]) == (403, "forbidden"), f"{method} {path}: {r.text}"
    assert handlers.organisation_log(engine, place) == []
    unknown = client.post("/v1/kecamatan/tidak-ada/units", json=unit, headers=admin(settings))
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_kecamatan")
    assert client.post(f"/v1/kecamatan/{place}/units", json=unit).status_code == 401


def test_an_admin_appoints_a_staf_head_of_a_unit_and_ends_the_post_the_official_signs_in_again(
    client, settings, engine, place
):
    staf = bearer_header(settings, Principal(f"staf.{place}", "Staf Uji", "staf", place, "pamekasan"))
    assert client.get("/v1/auth/me", headers=staf).status_code == 200
    r = client.post(
        f"/v1/kecamatan/{place}/units/trantib/head", json={"username": f"STAF.{place}"}, headers=admin(settings)
    )
    assert r.status_code == 200, r.text
    assert r.json()["head"] | {"nip": None} == {
        "username": f"staf.{place}", "name": "Staf Uji", "jabatan": "Kepala Seksi Ketenteraman dan Ketertiban Umum",
        "nip": None, "pangkat": "Pembina", "golongan": "IV/a",
    }  # fmt: skip
    assert handlers.person(engine, f"staf.{place}").role == "kasi"
    assert client.get("/v1/auth/me", headers=staf).status_code == 401  # a staf's token no longer fits the user
    again = client.post(
        f"/v1/kecamatan/{place}/units/trantib/head", json={"username": f"staf.{place}"}, headers=admin(settings)
    )
    assert (again.status_code, again.json()["code"]) == (409, "already_head")
    officials = {
        o["username"]: o for o in client.get(f"/v1/kecamatan/{place}/officials", headers=admin(settings)).json()
    }
    assert officials[f"staf.{place}"]["jabatan"] == "Kepala Seksi Ketenteraman dan Ketertiban Umum"
    assert officials[f"camat.{place}"]["jabatan"] == "Camat"
    assert list(officials)[:2] == [f"camat.{place}", f"sekcam.{place}"]  # by post

    ended = client.post(
        f"/v1/kecamatan/{place}/units/trantib/head/end", json={"reason": "Mutasi ke Kecamatan Larangan"},
        headers=admin(settings),
    )  # fmt: skip
    assert ended.status_code == 200 and ended.json()["head"] is None, ended.text
    assert (handlers.person(engine, f"staf.{place}").role, handlers.person(engine, f"staf.{place}").unit) == (
        "staf",
        None,
    )
    log = events_of(client, settings, place)
    assert [(e["type"], e["actor"]) for e in log] == [
        ("OfficialRelieved", "admin.org"),
        ("OfficialAppointed", "admin.org"),
    ]
    assert log[1]["data"] == {
        "username": f"staf.{place}", "unit": "trantib", "jabatan": "Kepala Seksi Ketenteraman dan Ketertiban Umum",
        "previous_role": "staf", "previous_unit": None,
    }  # fmt: skip
    assert log[0]["data"]["reason"] == "Mutasi ke Kecamatan Larangan"


def test_a_kasi_moves_to_another_unit_leaving_the_first_without_a_head(client, settings, engine, place):
    r = client.post(
        f"/v1/kecamatan/{place}/units/kesra/head", json={"username": f"kasi.{place}"}, headers=admin(settings)
    )
    assert r.status_code == 200, r.text
    units = {u["code"]: u for u in client.get(f"/v1/kecamatan/{place}/units", headers=admin(settings)).json()}
    assert units["kesra"]["head"]["username"] == f"kasi.{place}" and units["pemerintahan"]["head"] is None
    assert events_of(client, settings, place)[0]["data"]["previous_unit"] == "pemerintahan"


def test_an_admin_sets_an_officials_rank_and_the_signature_block_reads_it(client, settings, engine, place):
    r = client.patch(
        f"/v1/kecamatan/{place}/officials/camat.{place}",
        json={"nip": "19700101 199003 1 002", "pangkat": "Pembina  Utama Muda", "golongan": "iv/c"},
        headers=admin(settings),
    )
    assert r.status_code == 200, r.text
    assert (r.json()["nip"], r.json()["pangkat"], r.json()["golongan"]) == (
        "197001011990031002",
        "Pembina Utama Muda",
        "IV/c",
    )
    cleared = client.patch(f"/v1/kecamatan/{place}/officials/camat.{place}", json={"nip": ""}, headers=admin(settings))
    assert cleared.json()["nip"] is None and cleared.json()["pangkat"] == "Pembina Utama Muda"  # the rest stays
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT nip, pangkat, golongan FROM tenancy.staff_directory WHERE username = :u"),
            {"u": f"camat.{place}"},
        ).one()
    assert tuple(row) == (None, "Pembina Utama Muda", "IV/c")
    log = events_of(client, settings, place)
    assert [(e["type"], e["actor"], e["data"]) for e in log] == [
        ("OfficialRankSet", "admin.org", {"username": f"camat.{place}", "nip": None}),
        ("OfficialRankSet", "admin.org", {"username": f"camat.{place}", "nip": "197001011990031002",
                                          "pangkat": "Pembina Utama Muda", "golongan": "IV/c"}),
    ]  # fmt: skip
    refused = client.patch(
        f"/v1/kecamatan/{place}/officials/camat.{place}", json={"nip": "12ab"}, headers=admin(settings)
    )
    assert refused.json()["errors"] == [
        {"field": "nip", "code": "invalid_nip", "message": "NIP terdiri dari 18 digit angka."}
    ]


def test_the_change_log_pages_and_is_read_by_the_kecamatan_s_readers_only(client, settings, engine, place):
    for n in range(5):
        handlers.define_unit(engine, "admin.org", place, UnitChange(f"unit-{n}", "seksi", f"Unit Uji {n}"))
    first = client.get(f"/v1/kecamatan/{place}/org-events", params={"limit": 2}, headers=as_(settings, place, "staf"))
    assert first.status_code == 200, first.text
    assert [e["data"]["code"] for e in first.json()] == ["unit-4", "unit-3"]
    next_page = first.headers["link"].split(">")[0].lstrip("<")
    second = client.get(next_page, headers=as_(settings, place, "staf"))
    assert [e["data"]["code"] for e in second.json()] == ["unit-2", "unit-1"]
    last = client.get(f"/v1/kecamatan/{place}/org-events", params={"limit": 2, "before": second.json()[-1]["position"]},
                      headers=admin(settings))  # fmt: skip
    assert [e["data"]["code"] for e in last.json()] == ["unit-0"] and "link" not in last.headers
    too_far = client.get(f"/v1/kecamatan/{place}/org-events", params={"before": 2**63}, headers=admin(settings))
    assert (too_far.status_code, too_far.json()["code"]) == (422, "validation_error")  # not a bigint: no 500
    other = bearer_header(settings, Principal("staf.pegantenan.o", "Staf", "staf", "pegantenan", "pamekasan"))
    assert client.get(f"/v1/kecamatan/{place}/org-events", headers=other).status_code == 403
    assert client.get(f"/v1/kecamatan/{place}/officials", headers=other).status_code == 403
    kabupaten = bearer_header(settings, Principal(f"kab.{place}", "Kab", "kabupaten", None, "pamekasan"))
    assert len(client.get(f"/v1/kecamatan/{place}/org-events", headers=kabupaten).json()) == 5


def test_the_org_commands_appoint_and_relieve_a_head(settings, engine, place):
    appointed = org(settings, "appoint", place, "trantib", f"staf.{place}")
    assert appointed.returncode == 0, appointed.stderr
    assert f"Staf Uji (staf.{place}) heads Seksi Ketenteraman dan Ketertiban Umum of {place}" in appointed.stdout
    again = org(settings, "appoint", place, "trantib", f"sekcam.{place}")
    assert again.returncode != 0 and "(unit_has_head)" in again.stderr
    relieved = org(settings, "relieve", place, "trantib", "--reason", "Mutasi")
    assert relieved.returncode == 0, relieved.stderr
    assert "now headed by no one" in relieved.stdout
    log = [(e["type"], e["actor"]) for e in handlers.organisation_log(engine, place)][:2]
    assert [t for t, _ in log] == ["OfficialRelieved", "OfficialAppointed"] and all(
        a.startswith("cli:") for _, a in log
    )
