"""The keyed hashes a search on personal data matches by (docs/adr/0017 decision 13, docs/adr/0021): values normalised
as people write them, bound to their kind, keyed by the key-encryption keys, found under every configured key; and the
text complaints are compared by, without NIK-, phone- or e-mail-shaped strings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from shared import privacy
from shared.privacy import KeyEncryptionKeys, LookupHashes, comparable_text, lookup_value

NIK, PHONE, EMAIL = "3528071505900001", "+6281234567890", "siti.aminah@contoh.id"


@pytest.mark.parametrize(
    "kind, written, normalised",
    [
        ("nik", NIK, NIK),
        ("nik", " 3528 0715 0590 0001 ", NIK),
        ("nik", "3528.0715.0590.0001", NIK),
        ("nik", "3528-0715-0590-0001", NIK),
        ("nik", "35280715059000", None),  # not 16 digits: nothing to compare
        ("nik", "352807150590000A", None),
        ("phone", PHONE, PHONE),
        ("phone", "0812-3456-7890", PHONE),
        ("phone", "+62 812 3456 7890", PHONE),
        ("phone", "6281234567890", PHONE),
        ("phone", "0812-CALL-ME", None),
        ("email", "Siti.Aminah@Contoh.ID ", EMAIL),
        ("email", "tanpa-at", None),
        ("email", "", None),
        ("nik", None, None),
    ],
)
def test_values_are_compared_as_normalised(kind, written, normalised):
    assert lookup_value(kind, written) == normalised


def test_a_hash_is_an_hmac_of_kind_and_value_under_a_key_of_its_own_derived_from_the_kek():
    keks = KeyEncryptionKeys.derived_from("rahasia-uji")
    hashes = LookupHashes(keks)
    digest = hashes.hash("nik", "3528 0715 0590 0001")
    assert digest == hashes.hash("nik", NIK) and len(digest) == 64
    # not a bare hash of the NIK (16 digits are tried in minutes), nor under the KEK itself or the providers' key
    assert digest != hashlib.sha256(NIK.encode()).hexdigest()
    assert digest != hmac.new(keks.keys["dev-1"], f"nik:{NIK}".encode(), hashlib.sha256).hexdigest()
    assert digest != privacy.ProviderIdHashes(keks).hash(f"nik:{NIK}")
    # the kind is bound in: a phone number never matches an e-mail or a NIK of the same characters
    assert hashes.hash("nik", NIK) != hashes.hash("phone", NIK)
    assert hashes.hash("phone", "08") is None and hashes.candidates("email", None) == []
    # another deployment's keys: another hash
    assert LookupHashes(KeyEncryptionKeys.derived_from("lain")).hash("nik", NIK) != digest


def test_a_value_hashed_before_a_rotation_is_found_while_its_key_is_configured():
    old = {"current": "k1", "keys": {"k1": base64.b64encode(b"1" * 32).decode()}}
    before = LookupHashes(KeyEncryptionKeys.from_json(json.dumps(old))).hash("phone", PHONE)
    rotated = KeyEncryptionKeys.from_json(
        json.dumps({"current": "k2", "keys": {**old["keys"], "k2": base64.b64encode(b"2" * 32).decode()}})
    )
    hashes = LookupHashes(rotated)
    candidates = hashes.candidates("phone", "0812 3456 7890")
    assert candidates[0] == hashes.hash("phone", PHONE) != before  # written under the current key
    assert before in candidates and len(candidates) == 2  # found under the retired one too
    assert privacy.lookup_hashes(rotated) is privacy.lookup_hashes(rotated)  # derived once per keys


def test_the_text_compared_holds_no_nik_phone_or_email_and_reads_alike_however_written():
    text = comparable_text(
        "JALAN Desa Rusak!!",
        "Hubungi saya di 0812-3456-7890 atau siti@contoh.id; NIK 3528 0715 0590 0001.\nTerima kasih",
    )
    assert text == "jalan desa rusak hubungi saya di atau nik terima kasih"
    assert comparable_text("Jalan desa rusak", "") == comparable_text("jalan   DESA rusak", "")
    assert len(comparable_text("x", "kata " * 2000)) == privacy.COMPARABLE_TEXT_LENGTH
