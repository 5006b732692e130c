# One image for every process: the command picks the role (see docker-compose.yml), e.g.
#   docker run --rm pengaduan:latest migrate
#   docker run --rm pengaduan:latest api intake --host 0.0.0.0 --port 8000
#   docker run --rm pengaduan:latest worker letters --concurrency 4
# No HEALTHCHECK here: only the HTTP processes have something to probe, so compose defines the
# healthchecks per service (a worker or the relay would always look "unhealthy" otherwise).

# The base image is a build argument: pin it further (a patch release, a digest) or point it at a mirror with
#   docker build --build-arg BASE_IMAGE=python:3.11.14-slim-bookworm .
ARG BASE_IMAGE=python:3.11-slim-bookworm

# ---- build: a virtualenv with the locked dependencies, then the project itself --------------------------
FROM ${BASE_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first, exactly as requirements.lock pins them (every file's hash checked; `make lock` writes
# it from pyproject.toml): this layer is rebuilt only when the lock changes, not on every source edit.
# Runtime dependencies only (no test or embedded extras).
COPY pyproject.toml requirements.lock ./
RUN pip install --upgrade pip \
    && pip install --require-hashes --no-deps -r requirements.lock

# Then the source, installed as a regular (non-editable) package; its dependencies are already there.
COPY pengaduan ./pengaduan
COPY shared ./shared
COPY services ./services
# development stand-ins for the providers (`pengaduan devsinks`); no production process imports them
COPY devtools ./devtools
COPY migrations ./migrations
# README.m[d]: copied when it exists (the glob may match nothing because pyproject.toml always matches).
COPY pyproject.toml README.m[d] ./
RUN pip install --no-deps . \
    && pengaduan --help > /dev/null

# ---- runtime: the same base, the virtualenv, nothing else -----------------------------------------
FROM ${BASE_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 pengaduan \
    && useradd --system --uid 10001 --gid pengaduan --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin pengaduan
COPY --from=build /opt/venv /opt/venv
WORKDIR /app

# Numeric, so orchestrators that check runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["pengaduan"]
CMD ["--help"]
