"""A local stand-in for BSrE's esign client service (development and tests only), so that letters can be signed
"through BSrE" on a machine with no BSrE credentials: ``server.BsreServer`` (an HTTP server in a thread, tests) and
:func:`main` (``pengaduan devbsre``). It speaks the request and answer shapes
:mod:`services.letters.adapters.bsre` is built from and signs for real (PAdES) with certificates of its own CA,
kept in a folder; the letters service must trust that CA's root (``GET /ca.crt``, or ``<folder>/ca.crt``) to
verify what it signed. Not for production."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_PORT = 8027


def main(argv: list[str] | None = None) -> int:
    """``pengaduan devbsre``: the fake BSrE until SIGTERM or SIGINT; 1 when the port is taken or the users file
    cannot be read."""
    from devtools.bsre.server import DEMO_USERS, DEV_PASSWORD, DEV_USERNAME, BsreServer, load_users

    parser = argparse.ArgumentParser(
        prog="pengaduan devbsre",
        description="A local stand-in for BSrE's esign client service (API v2), signing with its own development CA",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--folder",
        type=Path,
        help="its CA's folder (default: <PENGADUAN_DATA_DIR>/bsre, PENGADUAN_DATA_DIR defaulting to .data)",
    )
    parser.add_argument(
        "--users",
        type=Path,
        help="a JSON file of users: [{nik, name, passphrase, status?}] (default: <folder>/users.json if there, "
        "else one demo Camat)",
    )
    parser.add_argument("--username", default=DEV_USERNAME, help="the client id it accepts (HTTP Basic)")
    parser.add_argument(
        "--password",
        default=os.environ.get("PENGADUAN_DEVBSRE_PASSWORD", DEV_PASSWORD),
        help="the client secret it accepts (default: PENGADUAN_DEVBSRE_PASSWORD, else a development value)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s devbsre %(message)s")
    folder = args.folder or default_folder()
    users_file = args.users or (folder / "users.json")
    try:
        users = load_users(users_file) if users_file.exists() or args.users else dict(DEMO_USERS)
    except (OSError, ValueError) as exc:
        log.error("cannot read the users file: %s", exc)
        return 1
    server = BsreServer(folder, args.host, args.port, users=users, username=args.username, password=args.password)
    try:
        server.start()
    except OSError as exc:
        log.error("cannot start the fake BSrE: %s", exc)
        return 1
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    log.info("fake BSrE esign client service at %s (CA in %s, %d user(s))", server.url, folder, len(users))
    log.info("  PENGADUAN_BSRE_URL=%s  client id %s", server.url, args.username)
    log.info("  trust its root: %s/ca.crt (or %s)", server.url, folder / "ca.crt")
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


def default_folder() -> Path:
    """``<PENGADUAN_DATA_DIR>/bsre``, as the settings read the data folder."""
    from shared.config import Settings

    return (Path(Settings().data_dir) / "bsre").resolve()
