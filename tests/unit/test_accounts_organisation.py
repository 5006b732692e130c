"""The organisation's rules (issue #15, docs/adr/0014): who may name a Plh./Plt., for which role, unit and period;
which units a kecamatan may define."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from services.accounts.domain.organisation import (
    DelegationRequest,
    OrganisationRefused,
    Person,
    UnitChange,
    check_end,
    check_grant,
    check_unit,
)
from shared.contracts.organisation import PP17_UNITS, Delegation, delegations_of

TODAY = date(2026, 12, 2)
CAMAT = Person("camat.x", "camat", "x", None, True)
SEKCAM = Person("sekcam.x", "sekcam", "x", None, True)
KASI_PEM = Person("kasi.x", "kasi", "x", "pemerintahan", True)
KASI_TRANTIB = Person("kasi.trantib.x", "kasi", "x", "trantib", True)
ADMIN = Person("admin", "admin", None, None, True)


def request(**changes) -> DelegationRequest:
    base = DelegationRequest(
        role="camat",
        kecamatan="x",
        delegate="sekcam.x",
        kind="plh",
        starts_on=TODAY,
        ends_on=date(2026, 12, 11),
        reason="Cuti tahunan",
    )
    return replace(base, **changes)


def grant(req, granter=CAMAT, delegate=SEKCAM, existing=()):
    return check_grant(req, granter=granter, delegate=delegate, units=PP17_UNITS, existing=existing, today=TODAY)


def refusal(req, **kwargs) -> OrganisationRefused:
    with pytest.raises(OrganisationRefused) as caught:
        grant(req, **kwargs)
    return caught.value


def delegation(**changes) -> Delegation:
    base = Delegation(
        id=uuid.uuid4(),
        kecamatan="x",
        role="camat",
        unit=None,
        delegate="sekcam.x",
        kind="plh",
        starts_on=date(2026, 12, 1),
        ends_on=date(2026, 12, 5),
        reason="Cuti",
        granted_by="camat.x",
        granted_at=datetime(2026, 11, 30, tzinfo=UTC),
        ended_at=None,
    )
    return replace(base, **changes)


def test_the_camat_names_the_sekcam_plh_camat():
    g = grant(request())
    assert (g.role, g.unit, g.delegate, g.kind, g.reason) == ("camat", None, "sekcam.x", "plh", "Cuti tahunan")


def test_a_kasi_is_replaced_for_a_unit_named_as_people_write_it():
    g = grant(request(role="kasi", unit="Seksi Pemerintahan", delegate="kasi.trantib.x"), delegate=KASI_TRANTIB)
    assert g.unit == "pemerintahan"
    # the absent Kasi may name their own Plh.
    assert grant(request(role="kasi", unit="pemerintahan"), granter=KASI_PEM, delegate=KASI_TRANTIB).unit


@pytest.mark.parametrize(
    "changes, code",
    [
        ({"role": "bupati"}, "unknown_role"),
        ({"kind": "pj"}, "unknown_kind"),
        ({"ends_on": date(2026, 12, 1)}, "invalid_period"),  # before it starts
        ({"starts_on": date(2026, 11, 1), "ends_on": date(2026, 11, 30)}, "invalid_period"),  # already over
        ({"ends_on": date(2027, 3, 5)}, "invalid_period"),  # 94 days
        ({"reason": "  "}, "reason_required"),
        ({"role": "kasi"}, "unknown_unit"),
        ({"role": "kasi", "unit": "Seksi Pertanian"}, "unknown_unit"),
        ({"unit": "pemerintahan"}, "unit_not_expected"),
    ],
)
def test_bad_requests_are_refused_with_a_stable_code(changes, code):
    assert refusal(request(**changes)).code == code


def test_an_unknown_unit_lists_the_ones_there_are():
    refused = refusal(request(role="kasi", unit="pertanian"), delegate=KASI_TRANTIB)
    assert "Seksi Pemerintahan (pemerintahan)" in refused.message and "trantib" in refused.details["units"]


def test_only_an_admin_the_camat_or_the_official_may_name_a_delegate():
    assert refusal(request(), granter=SEKCAM).status == 403  # the Sekcam cannot make themself Plh. Camat
    assert refusal(request(role="kasi", unit="pemerintahan"), granter=KASI_TRANTIB, delegate=SEKCAM).code == "forbidden"
    other_camat = Person("camat.y", "camat", "y", None, True)
    assert refusal(request(), granter=other_camat).code == "forbidden"
    assert grant(request(), granter=ADMIN).delegate == "sekcam.x"


def test_the_delegate_is_an_active_official_of_the_kecamatan_who_does_not_hold_the_role():
    assert refusal(request(), delegate=None).code == "unknown_delegate"
    assert refusal(request(), delegate=replace(SEKCAM, active=False)).code == "unknown_delegate"
    assert refusal(request(), delegate=replace(SEKCAM, kecamatan="y")).code == "unknown_delegate"
    assert refusal(request(role="sekcam"), delegate=SEKCAM).code == "delegate_holds_the_role"


def test_no_one_names_themself_and_the_camat_is_no_one_s_stand_in():
    """Separation of duties: a self-named Plh., or the Camat as Plh. of a Kasi, would let one person verify,
    dispose, clarify and sign the same complaint."""
    self_named = refusal(request(role="kasi", unit="pemerintahan", delegate="camat.x"), delegate=CAMAT)
    assert self_named.code == "self_delegation" and self_named.status == 403
    by_admin = refusal(request(role="kasi", unit="pemerintahan", delegate="camat.x"), granter=ADMIN, delegate=CAMAT)
    assert by_admin.code == "delegate_outranks_the_role"
    staf = Person("staf.x", "staf", "x", None, True)
    assert refusal(request(role="staf", delegate="sekcam.x"), granter=staf).code == "forbidden"  # no one official
    assert grant(request(role="staf", delegate="sekcam.x")).role == "staf"  # the Camat may
    assert refusal(request(starts_on=date(2028, 1, 1), ends_on=date(2028, 1, 5))).code == "invalid_period"


def test_two_delegations_for_one_role_may_not_overlap():
    existing = [delegation()]
    refused = refusal(request(), existing=existing)
    assert refused.code == "delegation_overlaps" and refused.status == 409
    assert grant(request(starts_on=date(2026, 12, 6)), existing=existing).starts_on == date(2026, 12, 6)
    assert grant(request(), existing=[delegation(ended_at=datetime(2026, 12, 1, tzinfo=UTC))])
    assert grant(request(role="sekcam", delegate="kasi.x"), delegate=KASI_PEM, existing=existing).role == "sekcam"


def test_ending_early():
    d = delegation()
    check_end(d, ender=ADMIN, today=TODAY)
    check_end(d, ender=CAMAT, today=TODAY)  # who granted it
    with pytest.raises(OrganisationRefused, match="Hanya admin"):
        check_end(d, ender=SEKCAM, today=TODAY)
    with pytest.raises(OrganisationRefused) as over:
        check_end(delegation(ends_on=date(2026, 12, 1)), ender=ADMIN, today=TODAY)
    assert over.value.code == "delegation_over"


def test_a_delegation_is_in_force_on_the_days_of_its_period_until_ended():
    d = delegation()
    assert [d.in_force(date(2026, 12, day)) for day in (1, 5, 6)] == [True, True, False]
    assert not replace(d, ended_at=datetime(2026, 12, 2, tzinfo=UTC)).in_force(date(2026, 12, 3))
    assert delegations_of([d, delegation(delegate="kasi.x")], "sekcam.x", TODAY) == [d]
    assert d.label == "Plh." and replace(d, kind="plt").label == "Plt."


def test_units_a_kecamatan_defines():
    unit = check_unit(UnitChange("perizinan", "seksi", "  Pelayanan   Perizinan ", ("izin", " ")), PP17_UNITS)
    assert (unit.name, unit.short_names, unit.title) == ("Pelayanan Perizinan", ("izin",), "Seksi Pelayanan Perizinan")
    with pytest.raises(OrganisationRefused) as taken:
        check_unit(UnitChange("trantib2", "seksi", "Ketenteraman & Ketertiban Umum"), PP17_UNITS)
    assert taken.value.code == "unit_name_taken"
    renamed = check_unit(UnitChange("trantib", "seksi", "Ketenteraman dan Ketertiban Umum dan Linmas"), PP17_UNITS)
    assert renamed.code == "trantib"  # its own old name is no clash
    for bad in (
        UnitChange("Trantib", "seksi", "X"),
        UnitChange("x", "bidang", "X"),
        UnitChange("x", "seksi", " "),
        UnitChange("x", "seksi", "Pela\x00yanan"),
        UnitChange("x", "seksi", "Pelayanan\nUmum"),
        UnitChange("x", "seksi", "Pelayanan", ("\x07izin",)),
    ):
        with pytest.raises(OrganisationRefused, match="unit"):
            check_unit(bad, PP17_UNITS)
