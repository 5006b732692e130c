"""A local RFC 3161 timestamp authority (development and tests only), so that letters are signed PAdES B-T/B-LTA
on a machine with no real TSA: ``server.TsaServer`` (an HTTP server in a thread, tests) and :func:`main`
(``pengaduan devtsa``, started by ``make run``). Its certificate is issued by the development CA in the signing
folder, whose root the letters service trusts for timestamps outside production. Not for production."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """``pengaduan devtsa``: the local TSA until SIGTERM or SIGINT; 1 when the port is taken."""
    from devtools.tsa.server import TsaServer

    parser = argparse.ArgumentParser(
        prog="pengaduan devtsa",
        description="A local RFC 3161 timestamp authority whose certificate the development CA issues",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8026)
    parser.add_argument(
        "--signing-dir",
        type=Path,
        help="the development CA's folder (default: PENGADUAN_SIGNING_DIR, else <PENGADUAN_DATA_DIR>/signing)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s devtsa %(message)s")
    folder = args.signing_dir or _default_signing_dir()
    server = TsaServer(folder, args.host, args.port)
    try:
        server.start()
    except OSError as exc:
        log.error("cannot start the local TSA: %s", exc)
        return 1
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    log.info("RFC 3161 timestamps at %s (certificate from the development CA in %s)", server.url, folder)
    log.info("  PENGADUAN_TSA_URL=%s", server.url)
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


def _default_signing_dir() -> Path:
    from services.letters.config import LettersSettings

    return LettersSettings().signing_path
