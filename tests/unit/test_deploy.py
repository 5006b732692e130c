"""The deployment files agree with the code: docker-compose.yml, Dockerfile, .dockerignore, deploy/nginx.conf.

No Docker engine is needed. The nginx routing is checked three ways:
  * a small evaluator over the parsed deploy/nginx.conf (exact and prefix locations, the implicit
    301 of a "/"-terminated prefix location, ``map $request_method``, ``proxy_pass`` URI replacement)
    is compared with ``shared.gateway.route_for`` and the gateway's own endpoints;
  * when an ``nginx`` binary is installed, ``nginx -t`` checks the syntax of a local copy;
  * and the same copy is started in front of stub upstreams, so real nginx confirms the evaluator.
"""
from __future__ import annotations

import fnmatch
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from hypothesis import given, settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import ValidationError
from starlette.routing import Mount

from shared import cli, gateway
from shared.config import DEV_SECRET, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
NGINX_FILE = ROOT / "deploy" / "nginx.conf"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
APP_IMAGE = "pengaduan:latest"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

# Which `pengaduan` subcommand each application service runs; a new service must be added here.
EXPECTED_COMMANDS = {
    "migrate": "migrate",
    "seed-demo": "seed-demo",
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


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict]:
    return compose["services"]


def app_services(services: dict[str, dict]) -> dict[str, dict]:
    return {name: s for name, s in services.items() if "build" in s or s.get("image") == APP_IMAGE}


def depends_on(service: dict) -> dict[str, str]:
    """``depends_on`` in either form, as {target: condition}."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {d: "service_started" for d in deps}
    return {d: (spec or {}).get("condition", "service_started") for d, spec in deps.items()}


def parsed_command(service: dict):
    return cli.build_parser().parse_args(service["command"])


def interpolate(value) -> str:
    """Compose ``${VAR:-default}`` / ``${VAR-default}`` / ``${VAR}`` with nothing set in the environment."""
    return re.sub(r"\$\{(\w+)(?::?-([^}]*))?\}", lambda m: m.group(2) or "", str(value))


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
        pytest.fail(f"{name}: `pengaduan {' '.join(command)}` is rejected by shared.cli ({exc.code})")
    assert args.command == EXPECTED_COMMANDS[name]


def test_apis_listen_on_all_interfaces_on_the_port_they_are_probed_on(services):
    for kind in cli.API_KINDS:
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
    assert set(kinds) == set(cli.WORKER_KINDS)
    for kind, name in kinds.items():
        assert name == f"worker-{kind}"
        assert parsed_command(services[name]).concurrency >= 1


def test_each_api_kind_has_a_service(services):
    kinds = {parsed_command(s).kind for s in app_services(services).values() if parsed_command(s).command == "api"}
    assert kinds == set(cli.API_KINDS)


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
                assert services[target].get("restart") == "no", f"{target} is one-shot: restart must be \"no\""


def test_depends_on_has_no_cycle(services):
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        assert state.get(name) != "visiting", f"depends_on cycle: {' -> '.join(path + [name])}"
        state[name] = "visiting"
        for target in depends_on(services[name]):
            visit(target, path + [name])
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
            assert deps == {"intake-api": "service_healthy", "workflow-api": "service_healthy",
                            "letters-api": "service_healthy", "dashboard-api": "service_healthy",
                            "web-api": "service_healthy"}
            continue
        assert deps.get("migrate") == "service_completed_successfully", name
        if name != "seed-demo":
            assert deps.get("postgres") == "service_healthy", name
            assert deps.get("redis") == "service_healthy", name


def test_one_shot_and_long_running_restart_policies(services):
    for name in ("migrate", "seed-demo"):
        assert services[name]["restart"] == "no"  # quoted in YAML: a bare `no` would be False
    for name, service in services.items():
        if name not in ("migrate", "seed-demo"):
            assert service.get("restart") == "unless-stopped", name


def test_backing_services(services, compose):
    pg = services["postgres"]
    assert pg["image"] == "postgres:16-alpine"
    assert "pg_isready" in pg["healthcheck"]["test"]
    redis = services["redis"]
    assert redis["image"] == "redis:7-alpine"
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert "ping" in redis["healthcheck"]["test"]
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name}: named volume {source} is not declared"
    assert services["mailpit"]["image"].startswith("axllent/mailpit")
    assert {"8025:8025", "1025:1025"} <= set(services["mailpit"]["ports"])


def _app_environment(services, name: str) -> dict[str, str]:
    return {k: interpolate(v) for k, v in (services[name].get("environment") or {}).items()}


def test_app_environment_builds_valid_settings(services, monkeypatch):
    for name in app_services(services):
        env = _app_environment(services, name)
        for key in [k for k in os.environ if k.startswith("PENGADUAN_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        s = Settings()
        assert s.environment == "development", name
        db = urlsplit(s.database_url)
        assert db.scheme == "postgresql+psycopg" and db.hostname == "postgres" and db.path == "/pengaduan", name
        assert (db.username, db.password) == (
            interpolate(services["postgres"]["environment"]["POSTGRES_USER"]),
            interpolate(services["postgres"]["environment"]["POSTGRES_PASSWORD"]),
        )
        assert urlsplit(s.redis_url).hostname == "redis", name


def test_production_refuses_the_default_secret(services, monkeypatch):
    """The compose default secret is the one shared.config refuses in production."""
    env = _app_environment(services, "intake-api")
    assert env["PENGADUAN_SECRET_KEY"] == DEV_SECRET
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PENGADUAN_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="PENGADUAN_SECRET_KEY"):
        Settings()


def test_gateway_points_at_the_api_services(services):
    env = _app_environment(services, "gateway")
    for kind in cli.API_KINDS:
        url = urlsplit(env[f"PENGADUAN_{kind.upper()}_URL"])
        assert url.hostname == f"{kind}-api"
        assert url.port == parsed_command(services[f"{kind}-api"]).port


def test_proxy_service(services):
    proxy = services["proxy"]
    assert proxy["image"].startswith("nginx:1.27")
    assert "8000:80" in proxy["ports"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in proxy["volumes"]}
    assert (ROOT / "deploy" / "nginx.conf").exists()
    assert mounts["./deploy/nginx.conf"] == "/etc/nginx/nginx.conf"
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
        assert m, f"nginx.conf: cannot tokenize at {text[pos:pos + 30]!r}"
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
        server = http.one("server")
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
        name, slash, rest = target[len("http://"):].partition("/")
        if name.startswith("$"):
            table = self.method_maps[name]
            name = table.get(method, table["default"])
        host, _ = self.upstreams[name]
        upstream_path = path if not slash else "/" + rest + path[len(uri):]
        return Outcome("proxy", host, upstream_path)


def service_of(kind: str) -> str:
    """The compose service behind a gateway service name."""
    return {"intake": "intake-api", "workflow": "workflow-api", "letters": "letters-api", "dashboard": "dashboard-api",
            "web": "web-api", "gateway": "gateway"}[kind]


def _gateway_own_paths() -> tuple[set[str], set[str]]:
    """(exact paths, mount prefixes) the gateway process answers itself, read from the real app."""
    app = gateway.create_gateway({"intake": "http://intake.invalid", "workflow": "http://workflow.invalid"})
    exact, mounts = set(), set()
    for r in app.routes:
        if isinstance(r, Mount):
            mounts.add(r.path)
        elif "{" not in r.path:
            exact.add(r.path)
    return exact, mounts


GATEWAY_EXACT, GATEWAY_MOUNTS = _gateway_own_paths()
PER_SERVICE_HEALTH = {f"/{kind}/healthz": kind for kind in gateway.SERVICES}


def expected(method: str, path: str) -> Outcome:
    """What the base URL should do: the gateway's route table, its own endpoints, per-service health."""
    if path in GATEWAY_EXACT or any(path == m or path.startswith(m + "/") for m in GATEWAY_MOUNTS):
        return Outcome("proxy", "gateway", path)
    if path in PER_SERVICE_HEALTH:
        return Outcome("proxy", service_of(PER_SERVICE_HEALTH[path]), "/healthz")
    if path == "/nginx-health":
        return Outcome("return", "200")
    service = gateway.route_for(method, path)
    if service is None:
        return Outcome("return", "404")
    return Outcome("proxy", service_of(service), path)


def sample_paths() -> list[str]:
    paths = {"/", "/v1", "/v1/", "/v2/complaints", "/complaints", "/docs/", "/healthz/", "/intake/docs",
             "/v1/complaints/PGN-7KQ2-M9XD", "/v1/complaints/", "/v1/complaintsX", "/v1/track/PGN-7KQ2-M9XD",
             "/v1/channels/whatsapp/webhook", "/v1/tasks/42/assign", "/static-docs/swagger-ui.css", "/nginx-health",
             "/static/web.css", "/masuk", "/lacak", "/web", "/web/", "/dev/outbox", "/intake"}
    paths |= GATEWAY_EXACT | GATEWAY_MOUNTS | set(PER_SERVICE_HEALTH)
    for r in gateway.ROUTES:
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
    """Each ROUTES entry has its own location block that sends its methods to the same service."""
    by_uri = {(mod, uri): loc for mod, uri, loc in router.locations}
    for r in gateway.ROUTES:
        loc = by_uri.get(("=" if r.exact else "", r.prefix)) or by_uri.get(("^~", r.prefix))
        assert loc is not None, f"no nginx location for {r}"
        for method in r.methods or METHODS:
            outcome = router._handle(loc, r.prefix, r.prefix, method)
            assert outcome == Outcome("proxy", service_of(r.service), r.prefix), (r, method)


def test_nginx_serves_the_gateway_endpoints_and_limits_bodies(router):
    server = router.conf.one("http").one("server")
    assert server.one("listen").args == ["80"]
    assert server.one("client_max_body_size").args == ["1m"]
    headers = {d.args[0].lower(): d.args[1] for d in server.all("proxy_set_header")}
    assert headers["x-forwarded-for"] == "$proxy_add_x_forwarded_for"
    assert headers["x-request-id"].startswith("$")
    for path in sorted(GATEWAY_EXACT):
        assert router.route("GET", path) == Outcome("proxy", "gateway", path), path


@pytest.mark.parametrize("method,path", SAMPLES)
def test_nginx_routes_like_the_gateway(router, method, path):
    assert router.route(method, path) == expected(method, path)


_segment = st.sampled_from(["v1", "complaints", "track", "channels", "docs", "healthz", "static-docs",
                            "intake", "workflow", "openapi.json", "x", "PGN-7KQ2", ""])


@hypothesis_settings(max_examples=300, deadline=None)
@given(method=st.sampled_from(METHODS), segments=st.lists(_segment, min_size=1, max_size=4))
def test_nginx_routes_like_the_gateway_for_any_path(method, segments):
    path = "/" + "/".join(segments)
    assert _ROUTER.route(method, path) == expected(method, path)


# ---------------------------------------------------------------------------------------------------
# real nginx, when installed: syntax check and live routing through stub upstreams
# ---------------------------------------------------------------------------------------------------


def _nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)
    if not found:
        pytest.skip("no nginx binary on this machine (e.g. `apt-get install nginx-light`): "
                    "deploy/nginx.conf checked only by the Python evaluator")
    return found


def _nginx_version(binary: str) -> tuple[int, ...]:
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)
    m = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out.stderr + out.stdout)
    assert m, out.stderr
    return tuple(int(g) for g in m.groups())


def local_copy(binary: str, tmp: Path, listen_port: int, upstream_ports: dict[str, int], text: str | None = None) -> Path:
    """deploy/nginx.conf runnable here: upstream hosts -> 127.0.0.1 stubs, state files under tmp.

    ``server ... resolve`` needs nginx >= 1.27.3 (the image is nginx:1.27-alpine); an older local nginx
    gets the copy without the ``resolve`` parameter, the only change to what is checked (besides where
    files go, and ``user root`` when the tests run as root so the workers can buffer large bodies in tmp).
    """
    text = NGINX_FILE.read_text() if text is None else text
    text = re.sub(r"(?m)^(\s*)listen 80;", rf"\1listen 127.0.0.1:{listen_port};", text)
    for host, port in upstream_ports.items():
        text, n = re.subn(rf"server {re.escape(host)}:8000\b", f"server 127.0.0.1:{port}", text)
        assert n == 1, host
    if _nginx_version(binary) < (1, 27, 3):
        text = re.sub(r"(server 127\.0\.0\.1:\d+) resolve;", r"\1;", text)
    if not Path("/etc/nginx/mime.types").exists():
        text = text.replace("include /etc/nginx/mime.types;", "types { application/json json; }")
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
        body = json.dumps({"service": self.server.service_name, "path": self.path,
                           "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
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
    conf = local_copy(binary, tmp_path, _free_port(), {"intake-api": 1, "workflow-api": 2, "letters-api": 4, "dashboard-api": 5,
                                                         "web-api": 6, "gateway": 3})
    result = subprocess.run([binary, "-t", "-q", "-e", "stderr", "-p", str(tmp_path), "-c", str(conf)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


@contextmanager
def _running_nginx(tmp: Path, text: str | None = None):
    """Real nginx on a free port with deploy/nginx.conf (or ``text``), in front of stub upstreams."""
    binary = _nginx_binary()
    stubs = {}
    for host in ("intake-api", "workflow-api", "letters-api", "dashboard-api", "web-api", "gateway"):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
        server.service_name = host
        threading.Thread(target=server.serve_forever, daemon=True).start()
        stubs[host] = server
    port = _free_port()
    conf = local_copy(binary, tmp, port, {h: s.server_address[1] for h, s in stubs.items()}, text)
    log = open(tmp / "error.log", "w")
    proc = subprocess.Popen([binary, "-e", "stderr", "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None, (tmp / "error.log").read_text()
                assert time.monotonic() < deadline, "nginx did not start listening"
                time.sleep(0.05)
        yield port
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


@pytest.fixture(scope="module")
def live_nginx(tmp_path_factory):
    with _running_nginx(tmp_path_factory.mktemp("nginx")) as port:
        yield port


def _request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
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
    with _running_nginx(tmp_path, text) as port:
        for path in ("/open311", "/open311/requests", "/open311x"):
            status, headers, body = _request(port, "GET", path)
            assert _observed("GET", status, headers, body) == variant.route("GET", path), path
        status, headers, _ = _request(port, "GET", "/open311")
        assert urlsplit(headers["location"]).path == "/open311/"


def test_live_nginx_forwards_request_ids_and_client_address(live_nginx):
    status, headers, body = _request(live_nginx, "POST", "/v1/complaints", body=b"{}",
                                     headers={"X-Request-Id": "req-123", "Content-Type": "application/json"})
    got = json.loads(body)
    assert status == 200 and got["service"] == "intake-api"
    assert got["headers"]["x-request-id"] == "req-123" and headers["x-request-id"] == "req-123"
    assert got["headers"]["x-forwarded-for"] == "127.0.0.1"
    _, headers, body = _request(live_nginx, "GET", "/v1/complaints")
    minted = json.loads(body)["headers"]["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", minted) and headers["x-request-id"] == minted


def test_live_nginx_refuses_bodies_over_1m_as_json(live_nginx):
    status, _, body = _request(live_nginx, "POST", "/v1/complaints", body=b"x" * (1024 * 1024 + 1),
                               headers={"Content-Type": "application/json"})
    assert status == 413
    assert json.loads(body)["code"] == "payload_too_large"
    # the web app's forms carry scans and photos (as /v1/staff/complaints): 26m there
    status, _, body = _request(live_nginx, "POST", "/lapor", body=b"x" * (2 * 1024 * 1024),
                               headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert status == 200 and json.loads(body)["service"] == "web-api"


def test_live_nginx_limits_anonymous_uploads_per_client_but_not_reading_the_form(live_nginx):
    """Last of the live tests: it uses up this client's allowance for a minute."""
    for _ in range(15):  # reading the form is never limited
        assert _request(live_nginx, "GET", "/pengaduan/baru")[0] == 200
    statuses = [_request(live_nginx, "POST", "/pengaduan/baru", body=b"x=1",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})[0] for _ in range(15)]
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
    assert names[0] == "FROM" and froms[0].startswith("python:3.11")
    assert all(f.split()[0] == froms[0].split()[0] for f in froms), "build and runtime stages share one base"
    assert "HEALTHCHECK" not in names, "healthchecks belong to compose: workers have nothing to probe"

    final = ins[max(i for i, (n, _) in enumerate(ins) if n == "FROM"):]
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
            if not any(fnmatch.fnmatch(rel, pattern) and rel.count("/") == pattern.count("/")
                       for pattern in package_data.get(name, [])):
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
    for path in (".venv", ".data", ".git", "test-artifacts", ".pytest_cache", ".hypothesis",
                 "shared/__pycache__/cli.cpython-311.pyc"):
        assert _ignored(path, patterns), f".dockerignore lets {path} into the build context"
    for path in ["pyproject.toml", "README.md"] + [f"{p}/__init__.py" for p in _packages()] + [
        "migrations/alembic.ini", "migrations/versions/0001_foundation.py",
        "services/web/templates/base.html", "services/web/static/web.css",
    ]:
        assert not _ignored(path, patterns), f".dockerignore drops {path}, which the image needs"
