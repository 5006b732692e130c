"""Open311's catalogue is the kabupaten's category list (shared/contracts/open311.py; pure): by ``jurisdiction_id`` (a
kecamatan's slug) its kabupaten's list; without one the list every served kecamatan shares, or a 400 naming the
jurisdictions where lists differ; each category as the spec's service. A POST's ``service_code`` is checked against
the kecamatan's kabupaten's list (services/intake/domain/open311.py), and its subject begins with the category's
name there; the names Open311's six services had before categories only read old subjects."""

from __future__ import annotations

import pytest

from services.intake.domain.open311 import jurisdiction_of, read_new_request
from shared.contracts.categories import DEFAULT, Category
from shared.contracts.open311 import Jurisdiction, Problems, catalogue, defined, served_codes, service, service_of

OWN = (
    Category("air-bersih", "Air bersih", "Air PDAM dan sumur umum.", group="Sarana", keywords=("pdam", "sumur")),
    Category("pelayanan-lainnya", "Lainnya"),
)
PEGANTENAN = Jurisdiction("pegantenan", "pamekasan", "Kabupaten Pamekasan", DEFAULT)
GALIS = Jurisdiction("galis", "pamekasan", "Kabupaten Pamekasan", DEFAULT)
SENDIRI = Jurisdiction("sendiri", "kabown", "Kabupaten Own", OWN)
CLOSED = Jurisdiction("tutup", "kabown", "Kabupaten Own", OWN, active=False)


def test_a_jurisdiction_has_its_kabupatens_list():
    assert catalogue([PEGANTENAN, SENDIRI], "sendiri") == OWN
    assert catalogue([PEGANTENAN, SENDIRI], " Pegantenan ") == DEFAULT
    with pytest.raises(Problems) as unknown:
        catalogue([PEGANTENAN], "tidak-ada")
    assert unknown.value.status == 404


def test_without_a_jurisdiction_the_shared_list_or_a_400_naming_the_jurisdictions():
    assert catalogue([PEGANTENAN, GALIS], None) == DEFAULT  # one kabupaten
    assert catalogue([SENDIRI, CLOSED], "") == OWN
    assert catalogue([PEGANTENAN, CLOSED], None) == DEFAULT  # a kecamatan no longer served offers nothing
    assert catalogue([], None) == DEFAULT
    with pytest.raises(Problems) as several:
        catalogue([SENDIRI, PEGANTENAN, GALIS], None)
    [problem] = several.value.problems
    assert problem.status == 400
    assert problem.description.startswith("jurisdiction_id wajib diisi")
    assert problem.description.endswith("Kabupaten Own: sendiri; Kabupaten Pamekasan: galis, pegantenan.")


def test_a_category_is_the_specs_service():
    assert service(OWN[0]) == {
        "service_code": "air-bersih",
        "service_name": "Air bersih",
        "description": "Air PDAM dan sumur umum.",
        "metadata": False,
        "type": "realtime",
        "keywords": "pdam, sumur",
        "group": "Sarana",
    }
    assert service(OWN[1])["keywords"] == "lainnya" and service(OWN[1])["group"] == "Lainnya"
    assert service(DEFAULT[2])["service_name"] == "Kesehatan" and service(DEFAULT[2])["group"] == "Pelayanan dasar"


def test_old_subjects_read_by_the_names_of_then():
    assert service_of("Ketertiban umum: pengeras suara") == "ketertiban-umum"
    assert service_of("Pelayanan publik lainnya: antre lama") == "pelayanan-lainnya"
    assert service_of("Kesehatan: puskesmas tutup") == "pelayanan-lainnya"  # never an Open311 service before
    assert service_of(None) == "pelayanan-lainnya"


FORM = {
    "jurisdiction_id": "sendiri",
    "service_code": "air-bersih",
    "description": "Air PDAM mati tiga hari di Dusun Tengah.",
    "email": "warga@contoh.id",
}
SERVED = served_codes([DEFAULT, OWN])


def test_a_posted_service_code_is_checked_against_the_kecamatans_kabupatens_list():
    new = read_new_request(FORM, OWN, SERVED)
    assert new.category == OWN[0] and new.subject == "Air bersih: Air PDAM mati tiga hari di Dusun Tengah."
    kesehatan = read_new_request(
        {**FORM, "jurisdiction_id": "pegantenan", "service_code": "kesehatan"}, DEFAULT, SERVED
    )
    assert kesehatan.category.code == "kesehatan" and kesehatan.subject.startswith("Kesehatan: ")
    with pytest.raises(Problems) as elsewhere:  # another kabupaten's
        read_new_request({**FORM, "service_code": "kesehatan"}, OWN, SERVED)
    assert [p.description for p in elsewhere.value.problems] == [
        "service_code 'kesehatan' tidak ada dalam daftar kategori kecamatan ini."
    ]
    with pytest.raises(Problems) as nowhere:
        read_new_request({**FORM, "service_code": "jalan"}, OWN, SERVED)
    assert [p.description for p in nowhere.value.problems] == [
        "service_code 'jalan' tidak dikenal (lihat daftar di services.json?jurisdiction_id=sendiri)."
    ]


def test_without_a_known_kecamatan_the_code_is_checked_against_every_list_served():
    with pytest.raises(Problems) as both:
        read_new_request({**FORM, "jurisdiction_id": "", "service_code": "jalan"}, None, SERVED)
    assert [p.description[:30] for p in both.value.problems] == [
        "jurisdiction_id wajib diisi: s",
        "service_code 'jalan' tidak dik",
    ]
    # a kecamatan not on record: the code is one served here, so the answer is the 404 that follows
    assert read_new_request({**FORM, "jurisdiction_id": "tidak-ada"}, None, SERVED).category.code == "air-bersih"
    assert jurisdiction_of({"jurisdiction_id": " Pegantenan "}) == "pegantenan"
    assert jurisdiction_of({"jurisdiction_id": "bukan slug!"}) == ""


def test_a_definition_needs_no_jurisdiction_since_it_is_the_same_in_every_list():
    assert defined([PEGANTENAN, SENDIRI], None, "air-bersih") == OWN[0]
    assert defined([PEGANTENAN, SENDIRI], None, "kesehatan").name == "Kesehatan"
    assert defined([PEGANTENAN, SENDIRI], "sendiri", "kesehatan") is None
    assert defined([PEGANTENAN, CLOSED], None, "air-bersih") is None  # no longer served
    assert defined([], None, "sosial") == DEFAULT[4]
    with pytest.raises(Problems):
        defined([PEGANTENAN], "tidak-ada", "sosial")
