"""Complaint categories (issue #18 item 2), on real PostgreSQL through intake's and the workflow's APIs: a list per
kabupaten (the default, or the kabupaten's own from its settings), served publicly; the citizen may pick one when
they complain (a code not in their kabupaten's list: 422 ``category_unknown``, nothing written); it travels with the
complaint into the workflow; staff set or correct it at step 3 (the Staf) or 4 (the Camat), not at another step
nor in another role, and the history says what it was."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.dashboard.adapters import tables as dashboard_tables
from services.dashboard.adapters.projections import ComplaintsProjection
from services.dashboard.adapters.subscription import Subscription, rebuild_projection
from services.dashboard.bootstrap import bootstrap as dashboard_bootstrap
from services.dashboard.config import DashboardSettings
from services.dashboard.entrypoints.api import create_app as dashboard_app
from services.intake.adapters.tables import submissions
from services.intake.bootstrap import bootstrap as intake_bootstrap
from services.intake.config import IntakeSettings
from services.intake.entrypoints.api import create_app as intake_app
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from services.workflow.entrypoints.api import create_app as workflow_app
from shared.auth import Principal
from shared.contracts import categories
from shared.tenancy import Kecamatan, configure_kabupaten, upsert_kecamatan, validate_kabupaten_settings
from tests.integration.test_privacy_erasure import submitted
from tests.support.auth import bearer_header, ensure_user
from tests.support.organisation import give_heads

SUFFIX = uuid.uuid4().hex[:6]
DEFAULT_PLACE = Kecamatan(f"kat-{SUFFIX}", f"93.{SUFFIX}", "Kategori Uji", f"katkab{SUFFIX}", "Kabupaten Kat", {})
OWN_PLACE = Kecamatan(f"katsendiri-{SUFFIX}", f"94.{SUFFIX}", "Kategori Sendiri", f"katown{SUFFIX}", "Kab Own", {})
REKAP_PLACE = Kecamatan(f"katrekap-{SUFFIX}", f"92.{SUFFIX}", "Kategori Rekap", OWN_PLACE.kabupaten_slug, "Kab Own", {})
OWN_LIST = [
    {"code": "air-bersih", "name": "Air bersih", "lapor": "Infrastruktur"},
    {"code": "pelayanan-lainnya", "name": "Lainnya"},
]
PERSON = {"name": "Rahmat Hidayat", "nik": "3528011505900003", "phone": "081234500011"}


@pytest.fixture(scope="module")
def world(settings, engine):
    upsert_kecamatan(engine, [DEFAULT_PLACE, OWN_PLACE, REKAP_PLACE])
    configure_kabupaten(engine, OWN_PLACE.kabupaten_slug, {"categories": OWN_LIST})
    intake = intake_bootstrap(IntakeSettings(**settings.model_dump()))
    wf = workflow_bootstrap(settings)
    dash = dashboard_bootstrap(DashboardSettings(**settings.model_dump()))
    yield {"intake": intake, "wf": wf, "dash": dash}
    for container in (intake, wf, dash):
        container.engine.dispose()


def complain(world, place: Kecamatan, **extra):
    with TestClient(intake_app(world["intake"])) as client:
        return client.post(
            "/v1/complaints",
            json={
                "kecamatan": place.slug,
                "complainant": PERSON,
                "subject": "Air PDAM mati",
                "description": "Air PDAM di dusun kami mati sejak tiga hari.",
                **extra,
            },
        )


def recorded(world, code: str) -> uuid.UUID:
    message = submitted(world["intake"].engine, code)
    handlers.record_complaint(world["wf"], message)
    return message.complaint_id


def staff(settings, role: str, place: Kecamatan) -> Principal:
    return ensure_user(settings, Principal(f"{role}.{place.slug}", role.title(), role, place.slug, None))


def act(settings, world, place, cid, action: str, role: str, body: dict, revision: int):
    with TestClient(workflow_app(world["wf"])) as api:
        return api.post(
            f"/v1/complaints/{cid}/{action}",
            json={"expected_version": revision, **body},
            headers=bearer_header(settings, staff(settings, role, place)),
        )


def revision(world, cid) -> int:
    with world["wf"].uow() as uow:
        state, _ = handlers.load(uow, cid, lambda k: True)
    return state.revision


def test_the_list_is_public_the_default_or_the_kabupatens_own(world):
    with TestClient(intake_app(world["intake"])) as client:
        default = client.get("/v1/categories")
        of_place = client.get("/v1/categories", params={"kecamatan": DEFAULT_PLACE.slug})
        own = client.get("/v1/categories", params={"kecamatan": OWN_PLACE.slug})
        unknown = client.get("/v1/categories", params={"kecamatan": "tidak-ada"})
    assert default.status_code == of_place.status_code == own.status_code == 200
    codes = [c["code"] for c in default.json()]
    assert codes == [c.code for c in categories.DEFAULT] and of_place.json() == default.json()
    # close to SP4N-LAPOR!'s topics, each with the LAPOR! category it is filed under
    assert {"administrasi-kependudukan", "infrastruktur", "kesehatan", "pendidikan", "sosial"} <= set(codes)
    assert all(c["lapor"] and c["name"] for c in default.json())
    assert [(c["code"], c["name"]) for c in own.json()] == [
        ("air-bersih", "Air bersih"),
        ("pelayanan-lainnya", "Lainnya"),
    ]
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_kecamatan"


def test_a_kabupatens_list_is_checked_before_it_is_stored():
    for bad in (
        [],
        [{"code": "air-bersih", "name": "Air bersih"}],  # without the catch-all
        [{"code": "Air Bersih", "name": "Air"}, {"code": "pelayanan-lainnya", "name": "Lainnya"}],
        [{"code": "pelayanan-lainnya", "name": "Lainnya"}, {"code": "pelayanan-lainnya", "name": "Lagi"}],
        [{"code": "pelayanan-lainnya", "name": "Lainnya", "warna": "merah"}],
    ):
        with pytest.raises(ValueError, match="categories"):
            validate_kabupaten_settings({"categories": bad})
    assert validate_kabupaten_settings({"categories": OWN_LIST}) == {"categories": OWN_LIST}


def test_the_citizen_may_pick_one_of_their_kabupatens_list_and_it_travels_into_the_workflow(world, engine):
    picked = complain(world, DEFAULT_PLACE, category="infrastruktur")
    none = complain(world, DEFAULT_PLACE)
    own = complain(world, OWN_PLACE, category="air-bersih")
    assert picked.status_code == none.status_code == own.status_code == 202
    for answer, category in ((picked, "infrastruktur"), (none, None), (own, "air-bersih")):
        cid = recorded(world, answer.json()["tracking_code"])
        received = world["wf"].store.read_stream(f"complaint-{cid}")[0].decode()
        assert received.category == category


@pytest.mark.parametrize(
    "place, category",
    [(DEFAULT_PLACE, "air-bersih"), (OWN_PLACE, "infrastruktur"), (DEFAULT_PLACE, "tidak-ada")],
)
def test_a_code_not_in_the_kabupatens_list_is_refused_and_nothing_is_written(world, engine, place, category):
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(submissions)).scalar_one()
    r = complain(world, place, category=category)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "category_unknown" and r.json()["errors"][0]["field"] == "category"
    assert "Kategori tidak dikenal" in r.json()["message"]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(submissions)).scalar_one() == before


def test_staff_set_or_correct_it_at_step_3_or_4_in_that_steps_role(settings, world):
    cid = recorded(world, complain(world, DEFAULT_PLACE).json()["tracking_code"])
    place = DEFAULT_PLACE
    early = act(settings, world, place, cid, "categorize", "kasi", {"category": "sosial"}, revision(world, cid))
    assert early.status_code == 409 and early.json()["code"] == "not_this_step"  # step 2: identity first
    assert act(settings, world, place, cid, "verify-identity", "kasi", {}, revision(world, cid)).status_code == 200

    wrong_role = act(settings, world, place, cid, "categorize", "camat", {"category": "sosial"}, revision(world, cid))
    assert wrong_role.status_code == 403 and wrong_role.json()["code"] == "role_not_allowed", wrong_role.text
    unknown = act(settings, world, place, cid, "categorize", "staf", {"category": "air-bersih"}, revision(world, cid))
    assert unknown.status_code == 422 and unknown.json()["code"] == "category_unknown"
    by_staf = act(settings, world, place, cid, "categorize", "staf", {"category": "sosial"}, revision(world, cid))
    assert by_staf.status_code == 200, by_staf.text
    assert "categorize" in by_staf.json()["allowed_actions"]  # still step 3: it may be corrected again
    again = act(settings, world, place, cid, "categorize", "staf", {"category": "sosial"}, revision(world, cid))
    assert again.status_code == 409 and again.json()["code"] == "same_category"

    assert act(settings, world, place, cid, "register", "staf", {}, revision(world, cid)).status_code == 200
    by_camat = act(settings, world, place, cid, "categorize", "camat", {"category": "kesehatan"}, revision(world, cid))
    assert by_camat.status_code == 200, by_camat.text

    history = [
        e.decode() for e in world["wf"].store.read_stream(f"complaint-{cid}") if e.type == "workflow.CategorySet"
    ]
    assert [(e.category, e.previous, e.step) for e in history] == [("sosial", None, 3), ("kesehatan", "sosial", 4)]
    with world["wf"].uow() as uow:
        state, _ = handlers.load(uow, cid, lambda k: True)
    assert state.category == "kesehatan" and state.current_step == 4  # the step did not move


def test_a_categorization_is_not_offered_once_the_complaint_moved_past_step_4(settings, world, engine):
    give_heads(engine, DEFAULT_PLACE.slug, ("pemerintahan",))  # the disposition names a unit with a head
    cid = recorded(world, complain(world, DEFAULT_PLACE, category="infrastruktur").json()["tracking_code"])
    place = DEFAULT_PLACE
    for action, role, body in (
        ("verify-identity", "kasi", {}),
        ("register", "staf", {}),
        ("dispose", "camat", {"unit": "pemerintahan", "instructions": "Tindak lanjuti."}),
    ):
        r = act(settings, world, place, cid, action, role, body, revision(world, cid))
        assert r.status_code == 200, (action, r.text)
    late = act(settings, world, place, cid, "categorize", "kasi", {"category": "sosial"}, revision(world, cid))
    assert late.status_code == 409 and late.json()["code"] == "not_this_step"
    assert "langkah 3" in late.json()["message"]


def test_the_read_side_counts_by_category_and_the_buku_rekap_names_it(settings, world, engine):
    """The dashboard's row follows the category (picked, then corrected at step 3), its summary counts by category
    (`belum-ditetapkan` for none yet), the Buku Rekap's last column names it from the kabupaten's list, and a rebuild
    from zero agrees."""
    own = REKAP_PLACE  # its own kecamatan (of the kabupaten with its own list): its figures are this test's alone
    picked = recorded(world, complain(world, own, category="air-bersih").json()["tracking_code"])
    corrected = recorded(world, complain(world, own).json()["tracking_code"])
    none = recorded(world, complain(world, own).json()["tracking_code"])  # none set
    for cid in (picked, corrected, none):  # verified and registered: in the Buku Rekap
        assert act(settings, world, own, cid, "verify-identity", "kasi", {}, revision(world, cid)).status_code == 200
        if cid == corrected:
            body = {"category": "air-bersih"}
            r = act(settings, world, own, cid, "categorize", "staf", body, revision(world, cid))
            assert r.status_code == 200, r.text
        assert act(settings, world, own, cid, "register", "staf", {}, revision(world, cid)).status_code == 200
    dash = world["dash"]
    Subscription(dash.engine, dash.store, ComplaintsProjection(dash.calendars), batch_size=500).catch_up()

    def rows() -> dict:
        with engine.connect() as conn:
            query = select(dashboard_tables.complaints.c.complaint_id, dashboard_tables.complaints.c.category).where(
                dashboard_tables.complaints.c.kecamatan == own.slug
            )
            return dict(conn.execute(query).all())

    live = rows()
    assert live[picked] == live[corrected] == "air-bersih"
    assert sorted(live.values(), key=lambda v: v or "") == [None, "air-bersih", "air-bersih"]
    camat = staff(settings, "camat", own)
    with TestClient(dashboard_app(dash)) as api:
        summary = api.get(
            "/v1/dashboard/summary", params={"kecamatan": own.slug}, headers=bearer_header(settings, camat)
        )
        book = api.get(
            "/v1/register", params={"kecamatan": own.slug, "format": "csv"}, headers=bearer_header(settings, camat)
        )
    assert summary.status_code == 200, summary.text
    figures = summary.json()["kecamatan"][0]
    assert figures["by_category"] == {"air-bersih": 2, "belum-ditetapkan": 1}
    assert book.status_code == 200, book.text
    lines = book.text.splitlines()
    assert lines[0].rstrip().endswith("Kategori")
    assert sum(line.rstrip().endswith("Air bersih") for line in lines[1:]) == 2
    assert sum(line.rstrip().endswith("-") for line in lines[1:]) == 1

    rebuild_projection(dash.engine, dash.store, ComplaintsProjection(dash.calendars))
    assert rows() == live


def test_an_open311_service_is_the_complaints_category(world):
    """A GeoReport service request's service_code is its category (the default list keeps Open311's codes); a
    kabupaten whose own list has no such service answers the spec's error list."""
    form = {
        "service_code": "infrastruktur",
        "description": "Jembatan bambu di Dusun Tengah patah sejak hujan deras kemarin.",
        "first_name": "Rahmat",
        "email": "rahmat@contoh.id",
    }
    with TestClient(intake_app(world["intake"])) as client:
        posted = client.post("/open311/v2/requests.json", data={**form, "jurisdiction_id": DEFAULT_PLACE.slug})
        refused = client.post("/open311/v2/requests.json", data={**form, "jurisdiction_id": OWN_PLACE.slug})
    assert posted.status_code == 201, posted.text
    cid = recorded(world, posted.json()[0]["token"])
    assert world["wf"].store.read_stream(f"complaint-{cid}")[0].decode().category == "infrastruktur"
    assert refused.status_code == 400
    assert refused.json() == [
        {"code": 400, "description": "service_code 'infrastruktur' tidak ada dalam daftar kategori kecamatan ini."}
    ]


def test_the_figures_key_for_no_category_is_no_kabupatens_code():
    with pytest.raises(ValueError, match="belum-ditetapkan"):
        validate_kabupaten_settings(
            {"categories": [{"code": "belum-ditetapkan", "name": "Belum"}, {"code": "pelayanan-lainnya", "name": "L"}]}
        )


def test_an_open311_requests_idempotency_hash_is_what_it_was_before_categories():
    """An Open311 POST's service is in its subject already: its category leaves the idempotency hash as it was, so a
    client retrying a request of before with its key gets its first answer, not 409."""
    from services.intake.domain.commands import SubmitComplaint
    from shared.contracts.intake import Complainant

    fields = {
        "kecamatan": "pegantenan",
        "channel": "open311",
        "complainant": Complainant(name="Rahmat", email="rahmat@contoh.id"),
        "subject": "Infrastruktur: Jembatan patah",
        "description": "Jembatan bambu patah.",
        "idempotency_key": "k",
        "correlation_id": uuid.uuid4(),
    }
    assert (
        SubmitComplaint(**fields, category="infrastruktur").content_hash() == SubmitComplaint(**fields).content_hash()
    )
    web = {**fields, "channel": "web"}
    assert SubmitComplaint(**web, category="infrastruktur").content_hash() != SubmitComplaint(**web).content_hash()
