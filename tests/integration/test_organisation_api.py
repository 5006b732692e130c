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
