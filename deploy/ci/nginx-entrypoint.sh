#!/bin/sh
# Runs deploy/nginx.conf (mounted at /etc/nginx/nginx.conf) on Debian's nginx with two adaptations, each written
# to a copy, never to the mounted file:
#  * the resolver: deploy/nginx.conf names Docker's embedded DNS (127.0.0.11); podman's network answers on the
#    address /etc/resolv.conf gives, so that address is used instead;
#  * `server <name>:8000 resolve` needs nginx >= 1.27.3 (the production image is 1.28; bookworm has 1.22): an older
#    nginx resolves the upstream names when it starts (the APIs are healthy before the proxy starts).
set -eu
if [ "${1:-}" = "nginx" ]; then
    conf=/tmp/nginx.conf
    cp /etc/nginx/nginx.conf "$conf"
    dns="$(awk '/^nameserver/ { print $2; exit }' /etc/resolv.conf)"
    if [ -n "$dns" ]; then
        sed -i "s/resolver 127\.0\.0\.11 /resolver $dns /" "$conf"
    fi
    version="$(nginx -v 2>&1 | sed 's|.*nginx/||')"
    if [ "$(printf '%s\n1.27.3\n' "$version" | sort -V | head -n1)" != "1.27.3" ]; then
        sed -i 's/\(server [a-z-]*:8000\) resolve;/\1;/' "$conf"
    fi
    shift
    exec nginx -c "$conf" "$@"
fi
exec "$@"
