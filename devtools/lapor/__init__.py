"""A local stand-in for SP4N-LAPOR!'s integration API (development and tests): ``server.LaporServer``;
``pengaduan devlapor`` runs it until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading

DEFAULT_PORT = 8790


def main(argv: list[str] | None = None) -> int:
    """``pengaduan devlapor``: the fake LAPOR! until a signal; 1 when the port is taken."""
    from devtools.lapor.server import DEV_TOKEN, LaporServer

    parser = argparse.ArgumentParser(
        prog="pengaduan devlapor",
        description="A local stand-in for SP4N-LAPOR!'s integration API, in the shapes services/lapor assumes. "
        "Dispose a report with POST /dev/lapor/disposisi; see what the bridge reported at GET /dev/lapor",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--token",
        default=os.environ.get("PENGADUAN_DEVLAPOR_TOKEN", DEV_TOKEN),
        help="the bearer token it accepts (PENGADUAN_LAPOR_TOKEN of the bridge; default: a development value)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s devlapor %(message)s")
    try:
        server = LaporServer(args.host, args.port, token=args.token).start()
    except OSError as exc:
        logging.getLogger(__name__).error("cannot listen on %s:%s: %s", args.host, args.port, exc)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    logging.getLogger(__name__).info("fake LAPOR! at %s (PENGADUAN_LAPOR_URL)", server.url)
    stop.wait()
    server.stop()
    return 0
