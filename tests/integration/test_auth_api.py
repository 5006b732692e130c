"""Sign-in over a real database: the token endpoint, the bearer dependency, and `pengaduan users`."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from services.accounts.adapters.tables import users
from services.accounts.bootstrap import bootstrap as accounts_bootstrap
from services.accounts.demo import ensure_demo_users
from services.accounts.entrypoints.api import router as sign_in_router
from services.accounts.handlers import add_user, authenticate, list_units, list_users, set_active, set_contact
from shared.auth import CurrentUser, Principal, create_token, install_auth
from shared.contracts.accounts import StaffMember
from shared.http import install_error_handlers
from shared.staff_directory import staff_directory
from shared.tenancy import demo_kecamatan
from tests.support.processes import env_for

PASSWORD = "kata-sandi-yang-panjang"


def fresh(prefix: str = "staf") -> str:
    return f"{prefix}.t{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def app(settings, engine) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    install_auth(app, settings, engine)
    app.state.accounts = accounts_bootstrap(settings, engine=engine)
    app.include_router(sign_in_router)

    @app.get("/v1/protected")
    def protected(user: CurrentUser) -> dict:
        return {"username": user.username, "kecamatan": user.kecamatan}

    return app


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture
def staf(engine) -> str:
    username = fresh()
    add_user(engine, username, "Siti Rahmawati", "staf", PASSWORD, kecamatan="pegantenan", nip="198501012010012001")
    return username


def login(client, username: str, password: str):
    return client.post("/v1/auth/token", data={"username": username, "password": password})


def assert_401(r, code: str, message: str | None = None) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"
    body = r.json()
    assert set(body) == {"code", "message", "errors"} and body["code"] == code and body["errors"] == []
    if message:
        assert body["message"] == message


def test_sign_in_returns_a_bearer_token_and_the_user(client, staf):
    r = login(client, staf, PASSWORD)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 8 * 3600 and body["access_token"]
    assert body["user"] == {
        "username": staf,
        "full_name": "Siti Rahmawati",
        "role": "staf",
        "kecamatan": "pegantenan",
        "kabupaten": "pamekasan",
        "unit": None,
    }
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get("/v1/protected", headers=headers).json() == {"username": staf, "kecamatan": "pegantenan"}
    assert client.get("/v1/auth/me", headers=headers).json() == body["user"]


def test_usernames_are_case_insensitive_at_sign_in(client, staf):
    assert login(client, staf.upper(), PASSWORD).status_code == 200


def test_wrong_password_and_unknown_user_get_the_same_401(client, staf):
    message = "Nama pengguna atau kata sandi salah."
    assert_401(login(client, staf, PASSWORD + "x"), "invalid_credentials", message)
    assert_401(login(client, fresh(), PASSWORD), "invalid_credentials", message)
    assert_401(login(client, "NOT VALID!", PASSWORD), "invalid_credentials", message)
    empty = login(client, staf, "")  # a missing field is a form error, not a failed sign-in
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "password"


def test_an_inactive_user_cannot_sign_in_and_their_me_is_refused(client, engine, staf):
    token = login(client, staf, PASSWORD).json()["access_token"]
    assert set_active(engine, staf, False)
    assert_401(login(client, staf, PASSWORD), "invalid_credentials")
    assert authenticate(engine, staf, PASSWORD) is None
    assert_401(client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"}), "account_inactive")
    assert set_active(engine, staf, True)
    assert login(client, staf, PASSWORD).status_code == 200


def test_the_token_endpoint_wants_a_form(client, staf):
    r = client.post("/v1/auth/token", json={"username": staf, "password": PASSWORD})
    assert r.status_code == 422 and r.json()["code"] == "validation_error"


def test_protected_routes_need_a_token(client):
    for path in ("/v1/auth/me", "/v1/protected"):
        assert_401(client.get(path), "not_authenticated")
        assert_401(client.get(path, headers={"Authorization": "Basic YWRtaW46ZGVtbw=="}), "not_authenticated")
        assert_401(client.get(path, headers={"Authorization": "Bearer"}), "not_authenticated")
        assert_401(client.get(path, headers={"Authorization": "Bearer not.a.token"}), "token_invalid")


def test_an_expired_token_is_refused(client, settings, staf):
    principal = Principal(staf, "Siti Rahmawati", "staf", "pegantenan", "pamekasan")
    old = create_token(principal, settings.secret_key, datetime.now(UTC) - timedelta(hours=9))
    assert_401(client.get("/v1/auth/me", headers={"Authorization": f"Bearer {old}"}), "token_expired")
    other_secret = create_token(principal, settings.secret_key + "-other", datetime.now(UTC))
    assert_401(client.get("/v1/auth/me", headers={"Authorization": f"Bearer {other_secret}"}), "token_invalid")


def test_openapi_declares_the_bearer_scheme(client):
    schemes = client.get("/openapi.json").json()["components"]["securitySchemes"]
    assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "/v1/auth/token"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"role": "staf", "kecamatan": "atlantis"}, "unknown kecamatan 'atlantis'"),
        ({"role": "staf"}, "needs a kecamatan"),
        ({"role": "kasi", "kecamatan": "pegantenan"}, "needs a unit"),
        ({"role": "lurah", "kecamatan": "pegantenan"}, "unknown role 'lurah'"),
        ({"role": "kabupaten"}, "needs a kabupaten"),
        ({"role": "kabupaten", "kabupaten": "atlantis"}, "unknown kabupaten 'atlantis'"),
        ({"role": "kabupaten", "kabupaten": "pamekasan", "kecamatan": "pegantenan"}, "not bound to a kecamatan"),
        ({"role": "pdp"}, "role 'pdp' needs a kabupaten"),
        ({"role": "pdp", "kabupaten": "pamekasan", "kecamatan": "pegantenan"}, "not bound to a kecamatan"),
        ({"role": "staf", "kecamatan": "pegantenan", "nip": "12345"}, "NIP must be 18 digits"),
        ({"role": "admin", "unit": "trantib"}, "has no unit"),
    ],
)
def test_add_user_refuses_bad_input_with_a_clear_message(engine, kwargs, message):
    username = fresh()
    with pytest.raises(ValueError, match=message):
        add_user(engine, username, "Nama", password=PASSWORD, **kwargs)
    assert not exists(engine, username)


def test_add_user_refuses_bad_usernames_duplicates_and_empty_passwords(engine, staf):
    for bad in ("ab", "staf pegantenan", "staf/pegantenan", "x" * 65, ""):
        with pytest.raises(ValueError, match="username"):
            add_user(engine, bad, "Nama", "admin", PASSWORD)
    with pytest.raises(ValueError, match="already exists"):
        add_user(engine, staf, "Nama", "admin", PASSWORD)
    with pytest.raises(ValueError, match="password"):
        add_user(engine, fresh(), "Nama", "admin", "")


def test_each_role_can_be_added_and_signs_in_with_its_scope(engine):
    cases = [
        ({"role": "kasi", "kecamatan": "galis", "unit": "trantib"}, ("galis", "pamekasan", "trantib")),
        ({"role": "camat", "kecamatan": "galis"}, ("galis", "pamekasan", None)),
        ({"role": "kabupaten", "kabupaten": "pamekasan"}, (None, "pamekasan", None)),
        ({"role": "pdp", "kabupaten": "pamekasan"}, (None, "pamekasan", None)),
        ({"role": "admin"}, (None, None, None)),
    ]
    for kwargs, scope in cases:
        username = fresh(kwargs["role"])
        add_user(engine, username, "Nama Lengkap", password=PASSWORD, **kwargs)
        p = authenticate(engine, username, PASSWORD)
        assert p is not None and (p.kecamatan, p.kabupaten, p.unit) == scope and p.role == kwargs["role"]
        # the data-protection officer reads as a kabupaten user does: its kabupaten's kecamatan, masked
        assert p.is_data_protection == (p.role == "pdp") and p.is_kabupaten == (p.role in ("kabupaten", "pdp"))
        if p.is_kabupaten:
            assert p.can_read_kecamatan("galis", "pamekasan") and not p.can_read_kecamatan("x", "sumenep")


def test_the_database_enforces_the_scope_rules_too(engine):
    from sqlalchemy.exc import IntegrityError

    base = {"full_name": "X", "password_hash": "x"}
    for row in (
        {"role": "staf"},
        {"role": "kasi", "kecamatan": "pegantenan"},
        {"role": "kabupaten", "kabupaten": "pamekasan", "kecamatan": "pegantenan"},
        {"role": "lurah"},
        {"role": "admin", "nip": "123"},
    ):
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(users.insert().values(username=fresh(), **base, **row))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(users.insert().values(username="Upper.Case", role="admin", **base))


def test_demo_users_are_added_once(engine):
    items = demo_kecamatan()
    ensure_demo_users(engine, items)  # whatever an earlier run left, afterwards all are there
    assert ensure_demo_users(engine, items) == 0
    names = {u.username for u in list_users(engine)}
    for k in items:
        assert {f"staf.{k.slug}", f"kasi.{k.slug}", f"sekcam.{k.slug}", f"camat.{k.slug}"} <= names
    assert {"kabupaten.pamekasan", "pdp.pamekasan", "admin"} <= names
    kasi = authenticate(engine, "kasi.pegantenan", "demo")
    assert kasi is not None and kasi.unit == "pemerintahan" and kasi.kecamatan == "pegantenan"
    assert authenticate(engine, "kabupaten.pamekasan", "demo").kabupaten == "pamekasan"
    assert authenticate(engine, "admin", "demo").role == "admin"
    # issue #15: every unit of every demo kecamatan has its Kasi/Kasubag, every official a NIP and a rank
    for k in items:
        units = list_units(engine, k.slug)
        assert len(units) == 7 and all(u.head_username for u in units), k.slug
        assert {u.code: u.head_username for u in units}["pemerintahan"] == f"kasi.{k.slug}"
    with engine.connect() as conn:
        camat = conn.execute(select(staff_directory).where(staff_directory.c.username == "camat.pegantenan")).one()
    assert (
        len(camat.nip) == 18
        and camat.nip.isdigit()
        and (camat.pangkat, camat.golongan) == ("Pembina Tingkat I", "IV/b")
    )


def test_other_services_read_users_through_the_staff_directory_never_the_password_hash(engine, staf):
    """The contract (shared/contracts/accounts.py) is what the view has: StaffMember's fields, in order, and a
    user added by accounts is in it at once, with their contact details and without their password hash."""
    set_contact(engine, staf, email="siti@kecamatan.example.id", phone="081234567890", channel="sms", new_work=True)
    with engine.connect() as conn:
        columns = (
            conn.execute(
                text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = 'tenancy' AND table_name = 'staff_directory' ORDER BY ordinal_position"
                )
            )
            .scalars()
            .all()
        )
        row = conn.execute(select(staff_directory).where(staff_directory.c.username == staf)).mappings().one()
    assert columns == [f.name for f in dataclasses.fields(StaffMember)] and "password_hash" not in columns
    member = StaffMember(**row)
    assert (member.full_name, member.role, member.kecamatan, member.kabupaten, member.nip, member.active) == (
        "Siti Rahmawati",
        "staf",
        "pegantenan",
        "pamekasan",
        "198501012010012001",
        True,
    )
    assert (member.email, member.phone, member.notify_channel, member.notify_new_work) == (
        "siti@kecamatan.example.id",
        "+6281234567890",
        "sms",
        True,
    )
    assert member.tokens_valid_after is None
    set_active(engine, staf, False)
    with engine.connect() as conn:
        row = conn.execute(select(staff_directory).where(staff_directory.c.username == staf)).mappings().one()
    assert row["active"] is False and row["tokens_valid_after"] is not None


def exists(engine, username: str) -> bool:
    with engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(users).where(users.c.username == username)).scalar_one() == 1
        )


def cli(settings, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: PLW1510
        [sys.executable, "-m", "pengaduan", "users", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env_for(settings),
        timeout=60,
    )


def test_cli_adds_a_user_who_can_then_sign_in(client, settings, engine):
    username = fresh("kasi")
    r = cli(
        settings,
        "add",
        username,
        "--role",
        "kasi",
        "--kecamatan",
        "pegantenan",
        "--unit",
        "pelayanan umum",
        "--name",
        "Ahmad Fauzi",
        "--nip",
        "197803152005011002",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert r.returncode == 0, r.stderr
    assert username in r.stdout and PASSWORD not in r.stdout + r.stderr
    body = login(client, username, PASSWORD).json()
    # the unit as written is stored as its code (issue #15: units are data)
    assert body["user"]["unit"] == "pelayanan-umum" and body["user"]["full_name"] == "Ahmad Fauzi"

    listed = cli(settings, "list", "--kecamatan", "pegantenan")
    assert listed.returncode == 0, listed.stderr
    assert username in listed.stdout and "$argon2" not in listed.stdout and "197803152005011002" not in listed.stdout
    assert username not in cli(settings, "list", "--kecamatan", "galis").stdout


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (["--role", "staf", "--kecamatan", "atlantis"], PASSWORD + "\n", "unknown kecamatan 'atlantis'"),
        (["--role", "kasi", "--kecamatan", "pegantenan"], PASSWORD + "\n", "needs a unit"),
        (["--role", "staf", "--kecamatan", "pegantenan"], "\n", "password must not be empty"),
        (["--role", "staf", "--kecamatan", "pegantenan"], "", "password must not be empty"),
        (["--role", "lurah", "--kecamatan", "pegantenan"], PASSWORD + "\n", "invalid choice: 'lurah'"),
    ],
    ids=["unknown-kecamatan", "kasi-without-unit", "empty-password", "no-stdin", "bad-role"],
)
def test_cli_refuses_invalid_input_and_creates_nothing(settings, engine, args, stdin, message):
    username = fresh()
    r = cli(settings, "add", username, *args, "--password-stdin", stdin=stdin)
    assert r.returncode != 0
    assert message in r.stderr
    assert "Traceback" not in r.stderr
    assert not exists(engine, username)


def test_seed_demo_adds_the_demo_users_and_refuses_production(settings, engine):
    env = env_for(settings)
    r = subprocess.run(  # noqa: PLW1510
        [sys.executable, "-m", "pengaduan", "seed-demo"], capture_output=True, text=True, env=env, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert "demo user(s)" in r.stdout
    assert authenticate(engine, "camat.pasean", "demo").role == "camat"
    env.update(PENGADUAN_ENVIRONMENT="production", PENGADUAN_SECRET_KEY="x" * 40)
    r = subprocess.run(  # noqa: PLW1510
        [sys.executable, "-m", "pengaduan", "seed-demo"], capture_output=True, text=True, env=env, timeout=120
    )
    assert r.returncode != 0 and "refusing" in r.stderr
