#!/bin/sh
# As the official redis image: a fresh /data volume is handed to redis, which runs without root; with no
# configuration at all (testcontainers), it listens on every address without protected mode, as that image does.
set -eu
case "${1:-redis-server}" in -*) set -- redis-server "$@" ;; esac
if [ "$1" = "redis-server" ] && [ "$(id -u)" = 0 ]; then
    chown -R redis:redis /data
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
if [ "$1" = "redis-server" ] && [ "$#" = 1 ]; then
    set -- redis-server --protected-mode no
fi
exec "$@"
