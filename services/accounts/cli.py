"""Accounts' commands: ``pengaduan users add|list|contact|deactivate|activate|set-password``."""

from __future__ import annotations

import argparse
import sys

from shared.contracts.accounts import ROLES


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("users", help="staff, kabupaten and admin accounts: add, list, deactivate, set-password")
    users_sub = p.add_subparsers(dest="action", required=True)
    u = users_sub.add_parser("add", help="add a user (asks for the password twice, or reads one line of stdin)")
    u.add_argument("username", help="lowercase, e.g. staf.pegantenan")
    u.add_argument("--role", required=True, choices=ROLES)
    u.add_argument("--kecamatan", help="slug; required for staf, kasi, sekcam, camat")
    u.add_argument("--kabupaten", help="slug; required for role kabupaten")
    u.add_argument("--unit", help="the kasi's section, e.g. pemerintahan, trantib, kesra, pmd, 'pelayanan umum'")
    u.add_argument("--nip", help="civil-servant number, 18 digits")
    u.add_argument("--name", help="full name (default: the username)")
    u.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    u.set_defaults(fn=users)
    u = users_sub.add_parser("contact", help="where notify reaches a user, and whether they want new-work messages")
    u.add_argument("username")
    u.add_argument("--email", help="'' to clear")
    u.add_argument("--phone", help="e.g. 0812..., stored as +62...; '' to clear")
    u.add_argument("--channel", choices=["email", "sms", "whatsapp"])
    u.add_argument("--new-work", dest="new_work", action="store_true", default=None)
    u.add_argument("--no-new-work", dest="new_work", action="store_false")
    u.set_defaults(fn=users)
    for action, text in (
        ("deactivate", "deactivate a user: sign-in refused and every token ended at once"),
        ("activate", "activate a deactivated user (old tokens stay ended)"),
    ):
        u = users_sub.add_parser(action, help=text)
        u.add_argument("username")
        u.set_defaults(fn=users)
    u = users_sub.add_parser("set-password", help="a new password (ends the user's sessions)")
    u.add_argument("username")
    u.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    u.set_defaults(fn=users)
    u = users_sub.add_parser("list", help="list users (no password hashes)")
    u.add_argument("--kecamatan", help="only this kecamatan's staff")
    u.set_defaults(fn=users)


def _read_new_password(from_stdin: bool) -> str:
    import getpass

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if password and password != getpass.getpass("Password (again): "):
            sys.exit("error: the passwords do not match")
    if not password:
        sys.exit("error: the password must not be empty")
    return password


def users(args: argparse.Namespace) -> None:
    from services.accounts.bootstrap import bootstrap
    from services.accounts.config import AccountsSettings
    from services.accounts.handlers import add_user, list_users, set_active, set_contact, set_password
    from shared.db import make_engine

    settings = AccountsSettings()
    accounts = bootstrap(settings, engine=make_engine(settings, pool_size=1))
    engine = accounts.engine
    if args.action in ("deactivate", "activate"):
        # deactivation ends every token of the user at once, on every replica (shared.auth.TokenGuard)
        if not set_active(engine, args.username, args.action == "activate", accounts.changes):
            sys.exit(f"error: unknown user {args.username!r}")
        print(f"user {args.username} {args.action}d")
        return
    if args.action == "set-password":
        try:
            set_password(
                engine,
                args.username,
                _read_new_password(args.password_stdin),
                settings.password_min_length,
                accounts.changes,
            )
        except ValueError as exc:
            sys.exit(f"error: {exc}")
        print(f"password of {args.username} changed; the user's sessions have ended")
        return
    if args.action == "contact":
        try:
            set_contact(
                engine, args.username, email=args.email, phone=args.phone, channel=args.channel, new_work=args.new_work
            )
        except ValueError as exc:
            sys.exit(f"error: {exc}")
        print(f"contact of {args.username} stored")
        return
    if args.action == "list":
        rows = list_users(engine, kecamatan=args.kecamatan)
        for u in rows:
            print(
                f"{u.username:<28} {u.role:<10} {u.kecamatan or u.kabupaten or '-':<12} {u.unit or '-':<16} "
                f"{'active' if u.active else 'inactive':<8} {u.full_name}"
            )
        print(f"{len(rows)} user(s)")
        return
    password = _read_new_password(args.password_stdin)
    try:
        add_user(
            engine,
            args.username,
            args.name or args.username,
            args.role,
            password,
            kecamatan=args.kecamatan,
            kabupaten=args.kabupaten,
            unit=args.unit,
            nip=args.nip,
            min_password_length=settings.password_min_length,
        )
    except ValueError as exc:
        sys.exit(f"error: {exc}")
    print(f"user {args.username.strip().lower()} added")
