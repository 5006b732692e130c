"""One sign-in for /masuk and /dasbor: ``POST /sesi/token`` hands the dashboard page's script the bearer token
of the web session (only with the ``X-Pengaduan-Sesi: 1`` header, the CSRF defence of these JSON endpoints),
``POST /sesi/keluar`` ends the session."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from services.accounts.handlers import add_user
from services.web.entrypoints.session import COOKIE, _serializer
from shared.auth import DEFAULT_TTL, Principal, create_token, decode_token
from shared.tenancy import Kecamatan, upsert_kecamatan
from tests.support.web import web_client
from tests.web.test_web_basics import PASSWORD, csrf_of

SESI = {"X-Pengaduan-Sesi": "1"}


@pytest.fixture(scope="module")
def web(settings, engine):
    with web_client(settings) as client:
        yield client


@pytest.fixture(scope="module")
def kabupaten(engine) -> str:
    """A kabupaten user of a fresh kabupaten with one kecamatan."""
    suffix = uuid.uuid4().hex[:6]
    kab = f"sesikab-{suffix}"
    upsert_kecamatan(
        engine, [Kecamatan(f"sesi-{suffix}", f"97.{suffix}.1", "Sesi Satu", kab, f"Kabupaten Sesi {suffix}", {})]
    )
    username = f"s{suffix}.kab"
    add_user(engine, username, "Operator Sesi", "kabupaten", PASSWORD, kabupaten=kab)
    return username


@pytest.fixture(scope="module")
def staf(engine) -> str:
    username = f"s{uuid.uuid4().hex[:6]}.staf"
    add_user(engine, username, "Staf Sesi", "staf", PASSWORD, kecamatan="pegantenan")
    return username


def sign_in(web, username: str) -> None:
    web.cookies.clear()
    token = csrf_of(web.get("/masuk").text)
    r = web.post(
        "/masuk", data={"username": username, "password": PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303, r.text


def assert_error(r, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["code"] == code and body["message"] and body["errors"] == []
    assert "access_token" not in r.text
    assert "no-store" in r.headers["cache-control"]


def test_a_signed_in_kabupaten_user_gets_a_token_the_dashboard_accepts(web, settings, kabupaten):
    sign_in(web, kabupaten)
    r = web.post("/sesi/token", headers=SESI)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "no-store" in r.headers["cache-control"]
    out = r.json()
    assert set(out) == {"access_token", "token_type", "expires_in", "user"}
    assert out["token_type"] == "bearer"
    assert 0 < out["expires_in"] <= DEFAULT_TTL.total_seconds()
    assert DEFAULT_TTL.total_seconds() - out["expires_in"] < 120  # just issued at the sign-in above
    assert out["user"]["username"] == kabupaten and out["user"]["role"] == "kabupaten"
    assert out["user"]["full_name"] == "Operator Sesi" and out["user"]["kecamatan"] is None
    assert set(out["user"]) == {"username", "full_name", "role", "kecamatan", "kabupaten", "unit"}

    who = decode_token(out["access_token"], settings.secret_key, datetime.now(UTC))
    assert (who.username, who.role, who.kabupaten) == (kabupaten, "kabupaten", out["user"]["kabupaten"])

    # the token reads the dashboard's figures, as the page does
    dashboard = TestClient(web.apps["dashboard"])  # its lifespan already runs (web_client)
    summary = dashboard.get("/v1/dashboard/summary", headers={"Authorization": f"Bearer {out['access_token']}"})
    assert summary.status_code == 200, summary.text
    assert [k["kecamatan"]["name"] for k in summary.json()["kecamatan"]] == ["Sesi Satu"]
    # and asking again gives the same session's token: nothing changes
    assert web.post("/sesi/token", headers=SESI).json()["access_token"] == out["access_token"]


def test_any_signed_in_role_gets_its_own_token(web, settings, staf):
    sign_in(web, staf)
    out = web.post("/sesi/token", headers=SESI).json()
    assert out["user"]["role"] == "staf" and out["user"]["kecamatan"] == "pegantenan"
    assert decode_token(out["access_token"], settings.secret_key, datetime.now(UTC)).username == staf


def test_without_the_custom_header_it_is_refused(web, kabupaten):
    sign_in(web, kabupaten)
    assert_error(web.post("/sesi/token"), 403, "sesi_header_required")
    assert_error(web.post("/sesi/token", headers={"X-Pengaduan-Sesi": "0"}), 403, "sesi_header_required")
    # a plain form post from another site (what a CSRF attack can send)
    assert_error(web.post("/sesi/token", data={"x": "1"}), 403, "sesi_header_required")
    # the browser says the request comes from another site: refused even with the header
    assert_error(web.post("/sesi/token", headers={**SESI, "Sec-Fetch-Site": "cross-site"}), 403, "sesi_header_required")
    assert web.post("/sesi/token", headers={**SESI, "Sec-Fetch-Site": "same-origin"}).status_code == 200
    # /sesi/keluar likewise: refused, and the session is still there
    assert_error(web.post("/sesi/keluar"), 403, "sesi_header_required")
    assert web.post("/sesi/token", headers=SESI).status_code == 200


def test_not_signed_in_is_a_401(web):
    web.cookies.clear()
    assert_error(web.post("/sesi/token", headers=SESI), 401, "not_authenticated")
    web.get("/")  # a citizen's session (CSRF value only) is not a sign-in either
    assert_error(web.post("/sesi/token", headers=SESI), 401, "not_authenticated")
    assert web.get("/sesi/token").status_code == 405


def test_keluar_ends_the_web_session(web, kabupaten):
    sign_in(web, kabupaten)
    assert web.post("/sesi/token", headers=SESI).status_code == 200
    r = web.post("/sesi/keluar", headers=SESI)
    assert r.status_code == 204 and r.content == b""
    assert_error(web.post("/sesi/token", headers=SESI), 401, "not_authenticated")
    assert "Masuk petugas" in web.get("/").text  # the pages see it too
    assert web.get("/buku-rekap", follow_redirects=False).status_code == 303
    assert web.post("/sesi/keluar", headers=SESI).status_code == 204  # again: nothing to end, still fine


def test_an_expired_token_in_the_session_is_not_handed_out_and_ends_the_session(web, settings):
    principal = Principal("sesi.lama", "Operator Lama", "kabupaten", None, "pamekasan")
    old = create_token(principal, settings.secret_key, datetime.now(UTC) - DEFAULT_TTL - timedelta(minutes=1))
    cookie = _serializer(settings.secret_key).dumps({"c": "csrf-uji", "t": old, "u": principal.as_dict()})
    web.cookies.clear()
    web.cookies.set(COOKIE, cookie)
    assert_error(web.post("/sesi/token", headers=SESI), 401, "token_expired")
    assert_error(web.post("/sesi/token", headers=SESI), 401, "not_authenticated")  # signed out, as the pages do

    forged = create_token(principal, "another-secret-key-of-someone-else", datetime.now(UTC))
    web.cookies.clear()
    web.cookies.set(
        COOKIE, _serializer(settings.secret_key).dumps({"c": "csrf-uji", "t": forged, "u": principal.as_dict()})
    )
    assert_error(web.post("/sesi/token", headers=SESI), 401, "token_invalid")


def test_signing_out_revokes_the_token_so_a_copied_cookie_is_dead_too(web, staf):
    """Issue #12 item 3: the web sign-out revokes the token inside the cookie at the API; a copy of the cookie
    taken before sign-out (a shared computer, a stolen cookie) no longer works anywhere."""
    sign_in(web, staf)
    token = web.post("/sesi/token", headers=SESI).json()["access_token"]
    copied = dict(web.cookies)
    workflow = TestClient(web.apps["workflow"])
    assert workflow.get("/v1/inbox", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    csrf = csrf_of(web.get("/kotak-masuk").text)
    assert web.post("/keluar", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    refused = workflow.get("/v1/inbox", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"
    web.cookies.clear()
    web.cookies.update(copied)  # the old cookie, replayed
    assert web.get("/kotak-masuk", follow_redirects=False).status_code == 303  # back to sign-in


def test_the_dashboard_pages_sign_out_revokes_too(web, kabupaten):
    sign_in(web, kabupaten)
    token = web.post("/sesi/token", headers=SESI).json()["access_token"]
    assert web.post("/sesi/keluar", headers=SESI).status_code == 204
    dashboard = TestClient(web.apps["dashboard"])
    refused = dashboard.get("/v1/dashboard/summary", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"


def test_the_web_sign_in_is_throttled_with_the_apis_retry_after(settings, staf):
    """Issue #12 item 2: the web sign-in shares the API's counters; after repeated failures the page says so,
    with 429 and Retry-After, even for the right password."""
    strict = settings.model_copy(update={"rate_limit_signin_account": "2/15minutes"})
    with web_client(strict) as web:
        for _ in range(2):
            csrf = csrf_of(web.get("/masuk").text)
            r = web.post("/masuk", data={"username": staf, "password": "salah-" + PASSWORD, "csrf_token": csrf})
            assert r.status_code == 401
        csrf = csrf_of(web.get("/masuk").text)
        r = web.post("/masuk", data={"username": staf, "password": PASSWORD, "csrf_token": csrf})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
        assert "Terlalu banyak percobaan masuk" in r.text


def test_a_replayed_cookie_gets_no_token_after_sign_out(web, staf):
    """The dashboard page's token endpoint holds the token as the APIs do: a cookie copied before sign-out
    is refused there too (401), not handed the revoked token."""
    sign_in(web, staf)
    copied = dict(web.cookies)
    csrf = csrf_of(web.get("/kotak-masuk").text)
    assert web.post("/keluar", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    web.cookies.clear()
    web.cookies.update(copied)
    assert_error(web.post("/sesi/token", headers=SESI), 401, "token_revoked")
