"""What Open311 says of a referred complaint (services/dashboard/domain/open311.py; pure): open while the kecamatan
follows the referral, with until when; closed once the receiving office answered or the follow-up lapsed, saying
which, never the answer's text (it is addressed to the complainant and these reads are public). A request is shown
under one id, its complaint id, never its tracking code; the catalogue's other documents (a service's definition,
the discovery document)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from services.dashboard.domain.open311 import (
    RequestRow,
    as_georeport,
    as_token,
    discovery,
    read_ids,
    read_query,
    service_definition,
    status_notes,
)
from shared.contracts.categories import DEFAULT, Category, find
from shared.contracts.open311 import Jurisdiction, Problems

RECEIVED = datetime(2026, 2, 2, 2, 0, tzinfo=UTC)
FOLLOW_UP = datetime(2026, 2, 24, 9, 0, tzinfo=UTC)  # 16:00 WIB, 17:00 WITA; 18:00 WIT: already the 24th in each


def referred(**changes) -> RequestRow:
    row = RequestRow(
        complaint_id=uuid.uuid4(),
        tracking_code="7KQ2-M9XD-4T",
        kecamatan="pegantenan",
        kecamatan_name="Pegantenan",
        kabupaten_name="Kabupaten Pamekasan",
        service_code="infrastruktur",
        received_at=RECEIVED,
        status="referred",
        outcome=None,
        current_step=4,
        deadline_at=datetime(2026, 2, 18, 9, 0, tzinfo=UTC),
        updated_at=datetime(2026, 2, 4, 2, 0, tzinfo=UTC),
        referred_to="Dinas PUPR Kabupaten Pamekasan",
        sop_version="pegantenan-1",
        referral_state="followed",
        follow_up_by=FOLLOW_UP,
    )
    return replace(row, **changes)


def test_a_followed_referral_is_open_names_the_agency_and_until_when_it_is_followed():
    shown = as_georeport(referred(), DEFAULT)
    assert shown["status"] == "open"
    assert (
        shown["status_notes"]
        == "Dilimpahkan kepada Dinas PUPR Kabupaten Pamekasan; kecamatan memantau sampai 24 Februari 2026."
    )
    assert shown["agency_responsible"] == "Dinas PUPR Kabupaten Pamekasan"
    assert shown["expected_datetime"] == FOLLOW_UP.isoformat()  # the answer is expected by then
    late_evening = referred(follow_up_by=datetime(2026, 2, 24, 17, 30, tzinfo=UTC), time_zone="Asia/Jayapura")
    assert status_notes(late_evening).endswith("sampai 25 Februari 2026.")  # the kabupaten's own date


def test_an_answered_referral_is_closed_and_says_when_the_office_answered_but_not_what():
    row = referred(status="closed", outcome="referred", current_step=None, referral_state="answered")
    assert status_notes(replace(row, referral_answered_on=date(2026, 2, 20))) == (
        "Dilimpahkan kepada Dinas PUPR Kabupaten Pamekasan; instansi penerima telah menanggapi pada 20 Februari 2026."
    )
    shown = as_georeport(row, DEFAULT)
    assert shown["status"] == "closed" and shown["agency_responsible"] == "Dinas PUPR Kabupaten Pamekasan"
    assert shown["status_notes"].endswith("instansi penerima telah menanggapi.")
    assert shown["expected_datetime"] == row.deadline_at.isoformat()


def test_a_lapsed_referral_says_no_answer_came_by_the_follow_up_time():
    row = referred(status="closed", outcome="referred", current_step=None, referral_state="lapsed")
    assert status_notes(row) == (
        "Dilimpahkan kepada Dinas PUPR Kabupaten Pamekasan; belum ada tanggapan sampai 24 Februari 2026, "
        "kecamatan tidak lagi memantau."
    )


def test_an_older_referral_and_one_withdrawn_while_followed_read_as_before():
    older = referred(
        status="closed", outcome="referred", current_step=None, referral_state="unfollowed", follow_up_by=None
    )
    assert status_notes(older) == "Dilimpahkan kepada Dinas PUPR Kabupaten Pamekasan."
    assert status_notes(replace(older, referred_to=None)) == "Dilimpahkan kepada instansi yang berwenang."
    withdrawn = referred(status="closed", outcome="withdrawn", current_step=None, referral_state="ended")
    shown = as_georeport(withdrawn, DEFAULT)
    assert (
        shown["status_notes"] == "Ditutup: dicabut oleh pengadu."
        and shown["agency_responsible"] == "Kecamatan Pegantenan"
    )


def test_a_request_is_shown_under_its_complaint_id_and_never_with_its_tracking_code():
    row = referred()
    shown = as_georeport(row, DEFAULT)
    assert shown["service_request_id"] == str(row.complaint_id)
    assert row.tracking_code not in repr(shown) and row.tracking_code.replace("-", "") not in repr(shown)
    assert as_token(row) == {"service_request_id": str(row.complaint_id), "token": "7KQ2-M9XD-4T"}


def test_ids_are_read_as_complaint_ids_or_tracking_codes_as_typed():
    complaint_id = uuid.uuid4()
    codes, ids = read_ids(f" 7kq2m9xd4t , {complaint_id}.json, bukan-id,")
    assert codes == ("7KQ2-M9XD-4T",) and ids == (complaint_id,)


def test_a_service_definition_has_no_attributes_since_no_service_asks_for_any():
    assert service_definition(find(DEFAULT, "infrastruktur")) == {"service_code": "infrastruktur", "attributes": []}


def test_the_discovery_document_names_this_endpoint_and_both_formats():
    document = discovery("https://pengaduan.example.id/", production=True)
    assert set(document) == {"changeset", "contact", "key_service", "endpoints"}
    [endpoint] = document["endpoints"]
    assert endpoint == {
        "specification": "http://wiki.open311.org/GeoReport_v2",
        "url": "https://pengaduan.example.id/open311/v2",
        "changeset": document["changeset"],
        "type": "production",
        "formats": ["text/xml", "application/json"],
    }
    assert datetime.fromisoformat(document["changeset"]).tzinfo is not None
    assert discovery("http://127.0.0.1:8000", production=False)["endpoints"][0]["type"] == "test"


# --- the kabupaten's categories (issue #18 items 2 and 5) -------------------------------------------------------

OWN = (Category("air-bersih", "Air bersih", group="Sarana"), Category("pelayanan-lainnya", "Lainnya"))
PLACES = (
    Jurisdiction("pegantenan", "pamekasan", "Kabupaten Pamekasan", DEFAULT),
    Jurisdiction("sendiri", "kabown", "Kabupaten Own", OWN),
)
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_a_request_reads_under_its_categorys_name_in_its_kabupatens_list():
    shown = as_georeport(referred(service_code="kesehatan"), DEFAULT)
    assert (shown["service_code"], shown["service_name"]) == ("kesehatan", "Kesehatan")
    assert shown["description"] == "Kesehatan di Kecamatan Pegantenan"
    assert as_georeport(referred(service_code="air-bersih"), OWN)["service_name"] == "Air bersih"
    # the catch-all under the list's name (the old "Pelayanan publik lainnya" was Open311's own, before categories)
    assert as_georeport(referred(service_code="pelayanan-lainnya"), OWN)["service_name"] == "Lainnya"
    # a code the kabupaten's list no longer has: the default list's name, else the code itself
    assert as_georeport(referred(service_code="perizinan"), OWN)["service_name"] == "Pelayanan perizinan"
    assert as_georeport(referred(service_code="sumur-bor"), OWN)["service_name"] == "sumur-bor"


def test_a_search_by_service_code_takes_any_code_of_the_list_and_names_the_unknown():
    assert [c.code for c in read_query({"service_code": "kesehatan,sosial"}, NOW, PLACES).services] == [
        "kesehatan",
        "sosial",
    ]
    mine = read_query({"service_code": "air-bersih", "jurisdiction_id": "sendiri"}, NOW, PLACES)
    assert [c.code for c in mine.services] == ["air-bersih"] and mine.kecamatan == "sendiri"
    assert read_query({"service_code": "air-bersih"}, NOW, PLACES).services == (OWN[0],)  # a code of any list
    with pytest.raises(Problems) as refused:  # not in that kecamatan's kabupaten's list
        read_query({"service_code": "kesehatan", "jurisdiction_id": "sendiri"}, NOW, PLACES)
    assert refused.value.status == 400
    assert refused.value.problems[0].description == (
        "service_code 'kesehatan' tidak dikenal (lihat daftar di services.json?jurisdiction_id=sendiri)."
    )
    with pytest.raises(Problems) as unknown:
        read_query({"jurisdiction_id": "tidak-ada"}, NOW, PLACES)
    assert unknown.value.status == 404
