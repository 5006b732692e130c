"""Where the tests get PostgreSQL and Redis: configured URLs, else testcontainers when a Docker engine
answers, else the embedded servers from the pip wheels (so `make test` passes on a fresh machine).
``PENGADUAN_TEST_SERVERS=testcontainers`` insists on testcontainers (an engine that does not answer is an error,
never a quiet fall-back: `make test-testcontainers` runs the integration suite so, on podman's Docker-compatible
socket), ``=embedded`` never asks an engine. The images are ``PENGADUAN_TEST_POSTGRES_IMAGE`` and
``PENGADUAN_TEST_REDIS_IMAGE`` (default the official ones; deploy/ci/images.py builds stand-ins where no registry
can be reached).
RabbitMQ (the second broker, ADR 0006): ``PENGADUAN_TEST_RABBITMQ_URL``, else a private node of the system's
``rabbitmq-server`` package (.ci/run installs it); neither: ``RabbitMQUnavailable``, and its tests skip."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

POSTGRES_IMAGE = os.environ.get("PENGADUAN_TEST_POSTGRES_IMAGE", "postgres:16-alpine")
REDIS_IMAGE = os.environ.get("PENGADUAN_TEST_REDIS_IMAGE", "redis:7-alpine")


def _docker_answers() -> bool:
    choice = os.environ.get("PENGADUAN_TEST_SERVERS", "")
    if choice == "embedded":
        return False
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception as exc:  # no engine, no socket, no permission: use the embedded servers
        if choice == "testcontainers":
            raise RuntimeError(
                f"PENGADUAN_TEST_SERVERS=testcontainers, but no Docker engine answers at "
                f"{os.environ.get('DOCKER_HOST', 'the default socket')}: {exc}"
            ) from exc
        return False


def _configured(variable: str) -> str | None:
    """A configured server's URL; none when testcontainers is insisted on (a URL would quietly win over it)."""
    url = os.environ.get(variable)
    if url and os.environ.get("PENGADUAN_TEST_SERVERS") == "testcontainers":
        raise RuntimeError(f"PENGADUAN_TEST_SERVERS=testcontainers, but {variable} is set and would win: unset it")
    return url


@contextlib.contextmanager
def postgres_url(tmp: Path) -> Iterator[str]:
    url = _configured("PENGADUAN_TEST_DATABASE_URL")
    if url:
        yield url
        return
    if _docker_answers():
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer(POSTGRES_IMAGE, driver="psycopg") as pg:
            yield pg.get_connection_url()
        return
    from shared.embedded import start_postgres

    server = start_postgres(tmp / "postgres", database="pengaduan_test")
    try:
        yield server.url
    finally:
        server.stop()


@contextlib.contextmanager
def redis_url(tmp: Path) -> Iterator[str]:
    url = _configured("PENGADUAN_TEST_REDIS_URL")
    if url:
        yield url
        return
    if _docker_answers():
        from testcontainers.community.redis import RedisContainer

        with RedisContainer(REDIS_IMAGE) as r:
            yield f"redis://{r.get_container_host_ip()}:{r.get_exposed_port(6379)}/0"
        return
    from shared.embedded import start_redis

    server = start_redis(tmp / "redis")
    try:
        yield server.url
    finally:
        server.stop()


class RabbitMQUnavailable(RuntimeError):
    """No RabbitMQ for the tests: neither PENGADUAN_TEST_RABBITMQ_URL nor the rabbitmq-server package."""


NOT_INSTALLED = (
    "RabbitMQ tests NOT RUN: rabbitmq-server is not installed (apt-get install rabbitmq-server, as .ci/run "
    "does) and PENGADUAN_TEST_RABBITMQ_URL is not set"
)


@contextlib.contextmanager
def rabbitmq_url(tmp: Path) -> Iterator[str]:
    url = os.environ.get("PENGADUAN_TEST_RABBITMQ_URL")
    if url:
        yield url
        return
    from shared.embedded import rabbitmq_installed, start_rabbitmq

    if not rabbitmq_installed():
        raise RabbitMQUnavailable(NOT_INSTALLED)
    server = start_rabbitmq(tmp / "rabbitmq", name=f"pengaduan-test-{os.getpid()}")
    try:
        yield server.url
    finally:
        server.stop()
