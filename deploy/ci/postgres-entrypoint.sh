#!/bin/sh
# The official postgres image's start-up, the parts docker-compose.yml and testcontainers rely on: a first start
# creates the cluster with POSTGRES_USER / POSTGRES_PASSWORD(_FILE) / POSTGRES_DB, password (SCRAM) auth for
# every other host; then PostgreSQL runs as the postgres user, listening on every address.
set -eu
case "${1:-postgres}" in -*) set -- postgres "$@" ;; esac
if [ "$1" != "postgres" ]; then exec "$@"; fi

if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    POSTGRES_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"
    export POSTGRES_PASSWORD
fi
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
export POSTGRES_USER POSTGRES_DB

if [ "$(id -u)" = 0 ]; then
    # a fresh volume belongs to root: hand it to postgres, then drop root for good
    mkdir -p "$PGDATA" /var/run/postgresql
    chown -R postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE must be set" >&2
        exit 1
    fi
    # made aside and moved into place when complete: a start cut off half-way begins again from nothing
    fresh="$PGDATA/.init"
    rm -rf "$fresh"
    pwfile="$(mktemp)"
    printf '%s' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb -D "$fresh" --username="$POSTGRES_USER" --pwfile="$pwfile" --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >> "$fresh/pg_hba.conf"
    if [ "$POSTGRES_DB" != "postgres" ]; then
        # the temporary server listens on no TCP port and on a socket of its own, so no health check (pg_isready
        # on the usual socket) and no client sees it before the database exists
        socket="$(mktemp -d)"
        pg_ctl -D "$fresh" -o "-c listen_addresses='' -k $socket" -w start >/dev/null
        printf 'CREATE DATABASE :"db";\n' | psql -v ON_ERROR_STOP=1 -v db="$POSTGRES_DB" --host "$socket" \
            --username "$POSTGRES_USER" --dbname postgres --quiet
        pg_ctl -D "$fresh" -m fast -w stop >/dev/null
        rmdir "$socket"
    fi
    find "$fresh" -mindepth 1 -maxdepth 1 -exec mv {} "$PGDATA"/ \;
    rmdir "$fresh"
    echo "PostgreSQL init process complete; ready for start up."
fi
shift
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
