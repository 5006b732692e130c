"""Issue #12, item 1 (invariant 11): every process refuses to start on an unknown environment or, outside
development and test, on a known or weak secret; the message names the setting and never shows the secret.
Each case runs the real command, as an operator or a container would."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys

import pytest

from shared.config import DEV_SECRET, Settings, check_secret_strength
from shared.privacy import KeyEncryptionKeys
from tests.support.processes import env_for

COMMANDS = [
    ["api", "intake"],
    ["api", "workflow"],
    ["api", "letters"],
    ["api", "dashboard"],
    ["api", "web"],
    ["gateway"],
    ["worker", "workflow"],
    ["worker", "letters"],
    ["worker", "notify"],
    ["relay"],
    ["projections", "run"],
    ["scheduler"],
    ["migrate"],
    ["seed-demo"],
    ["run"],
    ["devsinks"],
    ["devtsa"],
    ["devbsre"],
    ["intake", "imap-poller"],
    ["users", "list"],
    ["dead-letters", "list"],
]


def start(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: PLW1510
        [sys.executable, "-m", "pengaduan", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))  # noqa: PLW0108
@pytest.mark.parametrize("environment", ["prod", "Production", "staging", ""])
def test_an_unknown_environment_is_refused_by_every_process(settings, args, environment):
    done = start(args, env_for(settings, PENGADUAN_ENVIRONMENT=environment))
    assert done.returncode != 0
    assert "refusing to start" in done.stderr and "PENGADUAN_ENVIRONMENT" in done.stderr, done.stderr


WEAK = {
    "the development value": DEV_SECRET,
    "short": "k8#Qz!2v",
    "a word": "pengaduan-pamekasan-secret-key-2026-final",
    "regular": "a" * 64,
    "a repeated pattern": "0123456789abcdef" * 2,
    "the alphabet": "abcdefghijklmnopqrstuvwxyz012345",
}


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))  # noqa: PLW0108
def test_production_refuses_the_development_secret_in_every_process(settings, args):
    done = start(args, env_for(settings, PENGADUAN_ENVIRONMENT="production", PENGADUAN_SECRET_KEY=DEV_SECRET))
    assert done.returncode != 0 and "PENGADUAN_SECRET_KEY" in done.stderr and DEV_SECRET not in done.stderr


@pytest.mark.parametrize("kind", sorted(WEAK))
def test_production_refuses_weak_secrets_and_never_prints_them(settings, kind):
    done = start(
        ["api", "intake"], env_for(settings, PENGADUAN_ENVIRONMENT="production", PENGADUAN_SECRET_KEY=WEAK[kind])
    )
    assert done.returncode != 0 and "PENGADUAN_SECRET_KEY" in done.stderr
    assert WEAK[kind] not in done.stderr + done.stdout


def test_generated_secrets_pass():
    for _ in range(50):
        assert check_secret_strength(secrets.token_urlsafe(32)) is None
        assert check_secret_strength(secrets.token_hex(32)) is None


def test_production_starts_with_a_strong_secret_from_a_secrets_folder(settings, tmp_path):
    """Docker and Kubernetes mount secrets as files: /run/secrets/pengaduan_secret_key sets the secret."""
    (tmp_path / "pengaduan_secret_key").write_text(secrets.token_urlsafe(48))
    (tmp_path / "pengaduan_privacy_keys").write_text(json.dumps(KeyEncryptionKeys.generate("k1")))
    env = env_for(settings, PENGADUAN_ENVIRONMENT="production", PENGADUAN_SECRETS_DIR=str(tmp_path))
    env.pop("PENGADUAN_SECRET_KEY", None)
    done = start(["users", "list"], env)
    assert done.returncode == 0, done.stderr
    assert "user(s)" in done.stdout


def test_the_environment_wins_over_the_secrets_folder(tmp_path, monkeypatch):
    (tmp_path / "pengaduan_secret_key").write_text("from-the-file-" + secrets.token_urlsafe(40))
    monkeypatch.setenv("PENGADUAN_SECRETS_DIR", str(tmp_path))
    monkeypatch.delenv("PENGADUAN_SECRET_KEY", raising=False)
    assert Settings().secret_key.startswith("from-the-file-")
    monkeypatch.setenv("PENGADUAN_SECRET_KEY", "from-the-environment")
    assert Settings().secret_key == "from-the-environment"


def test_demo_seeding_is_refused_in_production(settings):
    done = start(
        ["seed-demo"],
        env_for(
            settings,
            PENGADUAN_ENVIRONMENT="production",
            PENGADUAN_SECRET_KEY=secrets.token_urlsafe(48),
            PENGADUAN_PRIVACY_KEYS=json.dumps(KeyEncryptionKeys.generate("k1")),
        ),
    )
    assert done.returncode != 0 and "refusing to seed demo data in production" in done.stderr


def test_production_refuses_to_start_without_the_privacy_keys(settings):
    """No default key an attacker could know wraps the complainants' data keys (docs/adr/0017)."""
    done = start(
        ["api", "workflow"],
        env_for(settings, PENGADUAN_ENVIRONMENT="production", PENGADUAN_SECRET_KEY=secrets.token_urlsafe(48)),
    )
    assert done.returncode != 0 and "PENGADUAN_PRIVACY_KEYS" in done.stderr, done.stderr


def test_a_refused_secret_is_not_shown_even_outside_the_command(monkeypatch):
    """Settings built directly (an app factory under uvicorn, a script): the error carries no input values."""
    from pydantic import ValidationError

    monkeypatch.setenv("PENGADUAN_ENVIRONMENT", "production")
    monkeypatch.setenv("PENGADUAN_SECRET_KEY", "Xy7#qP2!mZ9rT4vK")
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert "Xy7#qP2!mZ9rT4vK" not in str(refused.value) and "PENGADUAN_SECRET_KEY" in str(refused.value)
