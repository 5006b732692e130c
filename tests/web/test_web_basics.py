"""The web app's frame: pages, sign-in and sign-out with a session cookie and CSRF, error pages, headers."""

from __future__ import annotations

import re
import uuid

import pytest

from services.accounts.handlers import add_user
from shared.auth import DEFAULT_TTL
from tests.support.web import web_client

PASSWORD = "rahasia-uji-123"


@pytest.fixture(scope="module")
def web(settings, engine):
    with web_client(settings) as client:
        yield client


@pytest.fixture(scope="module")
def staf(engine) -> str:
    username = f"w{uuid.uuid4().hex[:6]}.staf"
    add_user(engine, username, "Staf Uji", "staf", PASSWORD, kecamatan="pegantenan")
    return username


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def test_home_is_indonesian_with_strict_headers(web):
    r = web.get("/")
    assert r.status_code == 200
    assert '<html lang="id">' in r.text and "Buat pengaduan" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie  # plain http here


def test_unknown_page_is_a_404_page(web):
    r = web.get("/tidak-ada-halaman-ini")
    assert r.status_code == 404 and "Halaman tidak ditemukan" in r.text


def test_sign_in_needs_the_form_csrf_value(web, staf):
    web.cookies.clear()
    r = web.post("/masuk", data={"username": staf, "password": PASSWORD, "csrf_token": "palsu"}, follow_redirects=False)
    assert r.status_code == 403


def test_wrong_password_is_a_clear_message_and_no_session(web, staf):
    web.cookies.clear()
    token = csrf_of(web.get("/masuk").text)
    r = web.post("/masuk", data={"username": staf, "password": "salah-sekali", "csrf_token": token})
    assert r.status_code == 401
    assert 'role="alert"' in r.text and staf in r.text


def test_sign_in_and_out(web, staf):
    web.cookies.clear()
    token = csrf_of(web.get("/masuk?lanjut=https://jahat.example/").text)
    assert 'name="lanjut" value=""' in web.get("/masuk?lanjut=//jahat.example").text  # no open redirect
    r = web.post("/masuk", data={"username": staf, "password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/kotak-masuk"
    max_age = int(re.search(r"max-age=(\d+)", r.headers["set-cookie"], re.IGNORECASE).group(1))
    assert 0 < max_age <= DEFAULT_TTL.total_seconds()  # the cookie does not outlive the token in it
    home = web.get("/")
    assert f"Keluar ({staf})" in home.text
    new_token = csrf_of(home.text)
    assert new_token != token  # a new CSRF value once signed in
    r = web.post("/keluar", data={"csrf_token": new_token}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["clear-site-data"] == '"storage"'  # the dashboard page's copy of the token goes too
    assert "Masuk petugas" in web.get("/").text


def test_the_session_cookie_is_secure_when_the_site_is_served_over_tls(settings):
    from fastapi.testclient import TestClient

    from services.web.config import WebSettings
    from services.web.entrypoints.api import create_app

    app = create_app(
        WebSettings(**{**settings.model_dump(), "public_base_url": "https://pengaduan.pamekasankab.go.id"})
    )
    with TestClient(app, base_url="https://testserver") as client:
        cookie = client.get("/masuk").headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie


def test_the_style_sheet_colours_are_contrasted_enough_to_read():
    from pathlib import Path

    from tests.support.colours import contrast

    css = (Path(__file__).resolve().parents[2] / "services" / "web" / "static" / "web.css").read_text()
    var = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})\s*;", css))
    var["putih"] = "#ffffff"
    text_on = [
        ("teks", "latar"),
        ("teks", "latar2"),
        ("lemah", "latar"),
        ("lemah", "latar2"),
        ("utama", "latar"),
        ("putih", "utama"),
        ("putih", "utama-gelap"),
        ("galat", "latar"),
        ("galat", "galat-latar"),
        ("berhasil", "berhasil-latar"),
        ("peringatan", "peringatan-latar"),
    ]
    for fg, bg in text_on:  # WCAG AA for body text
        assert contrast(var[fg], var[bg]) >= 4.5, (fg, bg, round(contrast(var[fg], var[bg]), 2))
    assert contrast(var["fokus"], var["utama"]) >= 3  # the focus ring shows on the blue header too


def test_a_form_sent_after_the_session_ended_leads_back_to_its_page_after_sign_in(web, staf):
    web.cookies.clear()
    token = csrf_of(web.get("/masuk").text)
    page = "/petugas/pengaduan/00000000-0000-4000-8000-000000000000"
    r = web.post(
        f"{page}/draft-letter",
        data={"csrf_token": token},
        headers={"referer": f"http://testserver{page}"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/masuk?lanjut=" + page.replace("/", "%2F")


def test_only_a_digest_reaches_the_attachments_api(web, staf):
    web.cookies.clear()
    token = csrf_of(web.get("/masuk").text)
    web.post("/masuk", data={"username": staf, "password": PASSWORD, "csrf_token": token})
    for bad in ("%2e%2e", "x%3Fcomplaint_id%3D1", "A" * 64, "0" * 63):
        assert web.get(f"/petugas/lampiran/{bad}").status_code == 404, bad
