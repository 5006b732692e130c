"""Tokens, passwords and the tenancy rules of a principal: pure, no database, time passed in."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from services.accounts.adapters import passwords
from services.accounts.adapters.passwords import hash_password, verify_password
from shared import auth
from shared.auth import AuthError, Principal, create_token, decode_token

SECRET = "unit-test-secret-at-least-32-bytes-long"
NOW = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)

STAF = Principal("staf.pegantenan", "Staf Kecamatan Pegantenan", "staf", "pegantenan", "pamekasan")
KASI = Principal("kasi.pegantenan", "Kasi Pemerintahan", "kasi", "pegantenan", "pamekasan", "pemerintahan")
KABUPATEN = Principal("kabupaten.pamekasan", "Operator Kabupaten Pamekasan", "kabupaten", None, "pamekasan")
ADMIN = Principal("admin", "Administrator", "admin")


@pytest.mark.parametrize("principal", [STAF, KASI, KABUPATEN, ADMIN])
def test_a_token_round_trips_the_principal(principal):
    token = create_token(principal, SECRET, NOW)
    assert decode_token(token, SECRET, NOW + timedelta(minutes=1)) == principal


def test_the_token_carries_the_claims_and_issuer():
    claims = jwt.decode(create_token(KASI, SECRET, NOW), options={"verify_signature": False})
    assert claims["iss"] == "pengaduan"
    assert claims["sub"] == "kasi.pegantenan" and claims["name"] == "Kasi Pemerintahan"
    assert (claims["role"], claims["kecamatan"], claims["kabupaten"], claims["unit"]) == (
        "kasi",
        "pegantenan",
        "pamekasan",
        "pemerintahan",
    )
    assert claims["iat"] == int(NOW.timestamp())
    assert claims["exp"] == int((NOW + timedelta(hours=8)).timestamp())


def test_a_token_expires_after_its_ttl_by_the_clock_passed_in():
    token = create_token(STAF, SECRET, NOW, ttl=timedelta(minutes=30))
    assert decode_token(token, SECRET, NOW + timedelta(minutes=29, seconds=59)) == STAF
    for later in (NOW + timedelta(minutes=30), NOW + timedelta(days=3)):
        with pytest.raises(AuthError) as e:
            decode_token(token, SECRET, later)
        assert e.value.code == "token_expired"


def test_a_token_from_the_future_is_invalid():
    token = create_token(STAF, SECRET, NOW + timedelta(hours=1))
    with pytest.raises(AuthError) as e:
        decode_token(token, SECRET, NOW)
    assert e.value.code == "token_invalid"


def _tamper(token: str, **changes) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize(
    "token",
    [
        _tamper(create_token(STAF, SECRET, NOW), kecamatan="galis"),
        _tamper(create_token(STAF, SECRET, NOW), role="admin"),
        create_token(STAF, "another-secret", NOW),
        # signed with the raw secret rather than the key derived from it
        jwt.encode(
            {"sub": "admin", "name": "A", "role": "admin", "iss": "pengaduan", "iat": 0, "exp": 2**40},
            SECRET,
            algorithm="HS256",
        ),
        jwt.encode(
            {"sub": "admin", "name": "A", "role": "admin", "iss": "elsewhere", "iat": 0, "exp": 2**40},
            auth._signing_key(SECRET),
            algorithm="HS256",
        ),
        "not-a-token",
        "",
        create_token(STAF, SECRET, NOW) + "x",
    ],
    ids=[
        "tampered-kecamatan",
        "tampered-role",
        "wrong-secret",
        "raw-secret",
        "other-issuer",
        "garbage",
        "empty",
        "bad-signature",
    ],
)
def test_a_forged_or_foreign_token_is_invalid(token):
    with pytest.raises(AuthError) as e:
        decode_token(token, SECRET, NOW)
    assert e.value.code == "token_invalid"


def test_the_none_algorithm_is_refused():
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    payload = create_token(ADMIN, SECRET, NOW).split(".")[1]
    with pytest.raises(AuthError) as e:
        decode_token(f"{header}.{payload}.", SECRET, NOW)
    assert e.value.code == "token_invalid"


def test_a_signed_token_with_an_inconsistent_scope_is_invalid():
    # signed with the right key but saying "staf" without a kecamatan: never issued by us, refused anyway
    token = create_token(Principal("staf.x", "X", "staf", None), SECRET, NOW)
    with pytest.raises(AuthError) as e:
        decode_token(token, SECRET, NOW)
    assert e.value.code == "token_invalid"


def test_now_must_be_timezone_aware():
    with pytest.raises(ValueError):
        create_token(STAF, SECRET, datetime(2025, 3, 10, 8, 0))


def test_staff_read_only_their_own_kecamatan():
    for p in (STAF, KASI):
        assert p.is_staff
        assert p.can_read_kecamatan("pegantenan", "pamekasan")
        assert not p.can_read_kecamatan("galis", "pamekasan")
        assert not p.can_read_kecamatan("lain", "sumenep")


def test_kabupaten_users_read_every_kecamatan_of_their_kabupaten_only():
    assert not KABUPATEN.is_staff
    assert KABUPATEN.can_read_kecamatan("pegantenan", "pamekasan")
    assert KABUPATEN.can_read_kecamatan("galis", "pamekasan")
    assert not KABUPATEN.can_read_kecamatan("kalianget", "sumenep")
    assert not KABUPATEN.can_read_kecamatan("unknown", None)


def test_admins_read_all():
    assert not ADMIN.is_staff
    assert ADMIN.can_read_kecamatan("pegantenan", "pamekasan")
    assert ADMIN.can_read_kecamatan("kalianget", "sumenep")


@pytest.mark.parametrize("role", ["staf", "kasi", "sekcam", "camat"])
def test_the_four_kecamatan_roles_are_staff(role):
    assert Principal("x.y", "X", role, "pegantenan").is_staff


def test_password_hash_verifies_only_the_right_password():
    h = hash_password("rahasia-kecamatan")
    assert h.startswith("$argon2id$") and "rahasia" not in h
    assert verify_password("rahasia-kecamatan", h)
    assert not verify_password("rahasia-kecamatan ", h)
    assert not verify_password("", h)
    assert not verify_password("x" * 5000, h)
    assert not verify_password("rahasia-kecamatan", "not-a-hash")
    assert hash_password("same") != hash_password("same")  # salted


def test_an_unknown_user_still_costs_one_argon2_verification(monkeypatch):
    calls = []
    real = passwords._password_hash
    other = hash_password("other")
    passwords._dummy_hash()  # made (and cached) before counting starts

    class Counting:
        def verify(self, password, password_hash):
            calls.append(password_hash)
            return real.verify(password, password_hash)

        def verify_and_update(self, password, password_hash):
            calls.append(password_hash)
            return real.verify_and_update(password, password_hash)

    monkeypatch.setattr(passwords, "_password_hash", Counting())
    assert verify_password("anything", None) is False
    assert len(calls) == 1 and calls[0].startswith("$argon2id$")
    assert verify_password("anything", other) is False
    assert len(calls) == 2
