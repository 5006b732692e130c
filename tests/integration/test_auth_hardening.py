"""Issue #12, items 1-3: sign-in that resists guessing, sign-out that ends a token everywhere, and tokens
checked against the user's current state; over real PostgreSQL and Redis, through real HTTP apps (two
replicas of the workflow API share nothing but the database and Redis)."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import update
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from pengaduan.apps import workflow as workflow_app
from services.accounts.adapters.sessions import UserChanges
from services.accounts.adapters.tables import users
from services.accounts.handlers import add_user, set_active, set_password
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from shared.auth import cache_client
from shared.config import Settings
from tests.support.addresses import unique_address
from tests.support.processes import env_for

PASSWORD = "kata-sandi-yang-panjang"


def fresh(prefix: str = "staf") -> str:
    return f"{prefix}.h{uuid.uuid4().hex[:12]}"


def replica(settings: Settings, **overrides) -> TestClient:
    """One workflow API replica (its own process state: caches, limiter), as `pengaduan api workflow` builds it,
    behind uvicorn's proxy-header handling as `pengaduan api` runs it (the test client is the trusted proxy)."""
    app = workflow_app(workflow_bootstrap(settings.model_copy(update=overrides)))
    return TestClient(ProxyHeadersMiddleware(app, trusted_hosts="testclient"))


@pytest.fixture(scope="module")
def strict(settings) -> Settings:
    """The shared test settings with the production sign-in limits (a few failures), and a long user cache:
    what a replica sees of a change must come from the change marker, not from the cache running out."""
    return settings.model_copy(
        update={
            "rate_limit_signin_account": "3/15minutes",
            "rate_limit_signin_address": "6/15minutes",
            "auth_user_cache_seconds": 300.0,
        }
    )


@pytest.fixture(scope="module")
def a(strict):
    with replica(strict) as c:
        yield c


@pytest.fixture(scope="module")
def b(strict):
    with replica(strict) as c:
        yield c


@pytest.fixture
def staf(engine) -> str:
    username = fresh()
    add_user(engine, username, "Siti Rahmawati", "staf", PASSWORD, kecamatan="pegantenan")
    return username


def login(client, username, password, address: str | None = None):
    # each call from its own address unless one is given: the per-address count is tested on its own
    address = address or unique_address()
    headers = {"X-Forwarded-For": address}
    return client.post("/v1/auth/token", data={"username": username, "password": password}, headers=headers)


def me(client, token):
    return client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})


def inbox(client, token):
    return client.get("/v1/inbox", headers={"Authorization": f"Bearer {token}"})


# --- 2. sign-in resists guessing ---------------------------------------------------------------------


def test_repeated_failures_for_one_account_get_429_with_retry_after_on_every_replica(a, b, engine, staf):
    for _ in range(3):
        assert login(a, staf, "salah-" + PASSWORD).status_code == 401
    refused = login(b, staf, PASSWORD)  # another replica, and the right password: still refused for now
    assert refused.status_code == 429, refused.text
    assert refused.json()["code"] == "too_many_attempts"
    assert "Terlalu banyak percobaan" in refused.json()["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 15 * 60
    other = fresh()
    add_user(engine, other, "Ahmad", "staf", PASSWORD, kecamatan="pegantenan")
    assert login(a, other, PASSWORD).status_code == 200  # another account from the same address still signs in


def test_a_success_clears_the_account_count(a, staf):
    for _ in range(2):
        assert login(a, staf, "salah").status_code == 401
    assert login(a, staf, PASSWORD).status_code == 200
    for _ in range(2):
        assert login(a, staf, "salah").status_code == 401
    assert login(a, staf, PASSWORD).status_code == 200  # 2 + 2 failures, but never 3 in a row


def test_one_address_guessing_many_accounts_is_refused(settings, engine):
    with replica(settings, rate_limit_signin_address="4/15minutes") as c:
        address = unique_address()
        names = [fresh() for _ in range(5)]
        for name in names[:4]:
            assert login(c, name, "tebakan-kata-sandi", address).status_code == 401
        refused = login(c, names[4], "tebakan-kata-sandi", address)
        assert refused.status_code == 429 and refused.json()["code"] == "too_many_attempts"
        # X-Forwarded-For from the test client (127.0.0.1, a trusted proxy) names the client; another address
        # is not affected
        assert login(c, names[4], "tebakan-kata-sandi", unique_address()).status_code == 401


def test_a_forged_forwarded_for_from_an_untrusted_peer_is_not_believed(settings, engine):
    """Only trusted proxies may name the client: with no trusted proxy the peer itself is counted, whatever
    X-Forwarded-For says (uvicorn's proxy handling, configured from PENGADUAN_TRUSTED_PROXIES)."""
    import httpx
    import uvicorn

    from tests.support.servers_http import serve_in_thread

    app = workflow_app(workflow_bootstrap(settings.model_copy(update={"rate_limit_signin_address": "2/15minutes"})))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, proxy_headers=True, forwarded_allow_ips="192.0.2.1"
    )  # not 127.0.0.1: the test client is not trusted
    with serve_in_thread(config) as base:
        statuses = []
        for i in range(3):
            r = httpx.post(
                f"{base}/v1/auth/token",
                data={"username": fresh(), "password": "tebakan"},
                headers={"X-Forwarded-For": f"198.51.100.{i + 10}"},
            )
            statuses.append(r.status_code)
        assert statuses == [401, 401, 429]  # one client (127.0.0.1) in spite of three claimed addresses


def test_sign_in_refuses_when_its_counters_cannot_be_reached(settings, staf):
    with replica(settings, cache_url="redis://127.0.0.1:1/0") as c:
        r = login(c, staf, PASSWORD)
        assert r.status_code == 503 and r.json()["code"] == "service_unavailable"
        assert r.headers["Retry-After"]


def test_new_passwords_must_be_long_enough(engine, staf):
    with pytest.raises(ValueError, match="at least 12"):
        add_user(engine, fresh(), "Nama", "staf", "pendek-123", kecamatan="pegantenan")
    with pytest.raises(ValueError, match="at least 20"):
        set_password(engine, staf, "cukup-panjang-tadi", 20)


def test_the_cli_refuses_a_short_password(settings):
    env = env_for(settings, PENGADUAN_PASSWORD_MIN_LENGTH="16")
    done = subprocess.run(  # noqa: PLW1510
        [
            sys.executable,
            "-m",
            "pengaduan",
            "users",
            "add",
            fresh(),
            "--role",
            "staf",
            "--kecamatan",
            "pegantenan",
            "--password-stdin",
        ],
        input="lima-belas-abc\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode != 0 and "at least 16" in done.stderr


# --- 3. sign-out and revocation ------------------------------------------------------------------------


def test_logout_revokes_the_token_on_every_replica(a, b, staf):
    token = login(a, staf, PASSWORD).json()["access_token"]
    assert me(b, token).status_code == 200
    out = a.post("/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert out.status_code == 204
    for client in (a, b):
        refused = me(client, token)
        assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"
        assert inbox(client, token).status_code == 401
    assert a.post("/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert me(a, login(a, staf, PASSWORD).json()["access_token"]).status_code == 200  # a new sign-in works


def test_deactivating_a_user_ends_their_tokens_at_once_on_every_replica(a, b, strict, engine, staf):
    token = login(a, staf, PASSWORD).json()["access_token"]
    assert inbox(a, token).status_code == 200 and inbox(b, token).status_code == 200  # both replicas cached it
    assert set_active(engine, staf, False, UserChanges(cache_client(strict)))
    for client in (a, b):  # the cache holds for 300 s: only the change marker can make this refuse now
        refused = inbox(client, token)
        assert refused.status_code == 401 and refused.json()["code"] == "account_inactive"
    assert set_active(engine, staf, True, UserChanges(cache_client(strict)))
    assert inbox(a, token).status_code == 401  # reactivation does not revive the old token
    assert inbox(a, login(a, staf, PASSWORD).json()["access_token"]).status_code == 200


def test_the_cli_deactivation_ends_the_sessions(a, strict, staf):
    token = login(a, staf, PASSWORD).json()["access_token"]
    assert inbox(a, token).status_code == 200
    done = subprocess.run(  # noqa: PLW1510
        [sys.executable, "-m", "pengaduan", "users", "deactivate", staf],
        capture_output=True,
        text=True,
        env=env_for(strict),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert inbox(a, token).json()["code"] == "account_inactive"


def test_a_changed_role_or_kecamatan_refuses_the_old_token(a, strict, engine, staf):
    token = login(a, staf, PASSWORD).json()["access_token"]
    assert inbox(a, token).status_code == 200
    with engine.begin() as conn:  # moved to another kecamatan by an administrator
        conn.execute(update(users).where(users.c.username == staf).values(kecamatan="galis"))
    UserChanges(cache_client(strict)).changed(staf)
    refused = inbox(a, token)
    assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"
    fresh_token = login(a, staf, PASSWORD).json()["access_token"]
    assert me(a, fresh_token).json()["kecamatan"] == "galis"


def test_a_change_made_behind_the_systems_back_is_seen_when_the_cache_runs_out(settings, engine, staf):
    """A row changed by SQL sends no news; the short cache (PENGADUAN_AUTH_USER_CACHE_SECONDS) bounds how long
    a replica trusts what it read."""
    with replica(settings, auth_user_cache_seconds=0.0) as c:
        token = login(c, staf, PASSWORD).json()["access_token"]
        assert inbox(c, token).status_code == 200
        with engine.begin() as conn:
            conn.execute(update(users).where(users.c.username == staf).values(active=False))
        assert inbox(c, token).json()["code"] == "account_inactive"


def test_a_new_password_ends_the_old_sessions(a, strict, engine, staf):
    token = login(a, staf, PASSWORD).json()["access_token"]
    set_password(engine, staf, "kata-sandi-baru-yang-panjang", 12, UserChanges(cache_client(strict)))
    assert me(a, token).json()["code"] == "token_revoked"


def test_token_checks_refuse_when_redis_is_away(settings, staf):
    with replica(settings) as good:
        token = login(good, staf, PASSWORD).json()["access_token"]
    with replica(settings, cache_url="redis://127.0.0.1:1/0") as c:
        r = inbox(c, token)
        assert r.status_code == 503 and r.json()["code"] == "service_unavailable"


def test_revocations_live_only_as_long_as_the_token(a, strict, staf):
    token = login(a, staf, PASSWORD).json()["access_token"]
    a.post("/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
    client = redis.Redis.from_url(strict.effective_cache_url)
    keys = list(client.scan_iter("pengaduan:auth:revoked:*", count=1000))
    assert keys and all(0 < client.ttl(k) <= 8 * 3600 + 10 * 60 for k in keys)


def test_guesses_sent_at_once_do_not_slip_past_the_limit(settings, engine, staf):
    """Forty wrong passwords for one account sent together (a real server, its thread pool): attempts still
    running count against the limit, so no more than the limit's worth are ever judged."""
    import concurrent.futures

    import httpx
    import uvicorn

    from tests.support.servers_http import serve_in_thread

    app = workflow_app(workflow_bootstrap(settings.model_copy(update={"rate_limit_signin_account": "5/15minutes"})))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None)
    with serve_in_thread(config) as base:

        def guess(i: int) -> int:
            return httpx.post(
                f"{base}/v1/auth/token", data={"username": staf, "password": f"tebakan-{i}"}, timeout=60
            ).status_code

        with concurrent.futures.ThreadPoolExecutor(40) as pool:
            answers = list(pool.map(guess, range(40)))
    assert answers.count(401) <= 5 and answers.count(429) >= 35, answers
    assert set(answers) <= {401, 429}
