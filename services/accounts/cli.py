"""Accounts' commands: ``pengaduan users add|list|contact|rank|deactivate|activate|set-password`` and the
organisation's, ``pengaduan org units|define-unit|retire-unit|appoint|relieve|delegate|delegations|end-delegation|log``
(run by the operator: recorded in the organisation's log as ``cli:<login name>``)."""

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
    u.add_argument(
        "--unit", help="the kasi's unit, by code or name: pemerintahan, 'Seksi Trantib', ... (pengaduan org units)"
    )
    u.add_argument("--nip", help="civil-servant number, 18 digits")
    u.add_argument("--pangkat", help="rank, e.g. Pembina")
    u.add_argument("--golongan", help="grade, e.g. IV/a")
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
    u = users_sub.add_parser(
        "rank", help="an official's NIP, pangkat and golongan (printed under a signature), NIK for BSrE signing"
    )
    u.add_argument("username")
    u.add_argument("--nip")
    u.add_argument("--pangkat")
    u.add_argument("--golongan")
    u.add_argument("--tte-nik", help="the NIK their BSrE signing certificate is registered under (16 digits)")
    u.set_defaults(fn=users)
    _org_commands(sub)


def _org_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("org", help="the kecamatan's organisation: units, Plh./Plt. delegations, its change log")
    org = p.add_subparsers(dest="action", required=True)
    o = org.add_parser("units", help="a kecamatan's units and their heads")
    o.add_argument("kecamatan")
    o.add_argument("--all", action="store_true", help="retired units too")
    o.set_defaults(fn=organisation)
    o = org.add_parser("define-unit", help="add a unit to a kecamatan, or rename one (its code stays)")
    o.add_argument("kecamatan")
    o.add_argument("code", help="lower case, e.g. perizinan")
    o.add_argument("--kind", required=True, choices=["seksi", "subbagian"])
    o.add_argument("--name", required=True, help="without the kind, e.g. 'Pelayanan Perizinan'")
    o.add_argument("--short-name", action="append", default=[], help="what people also write (repeatable)")
    o.set_defaults(fn=organisation)
    o = org.add_parser("retire-unit", help="a unit takes no more dispositions (refused while a Kasi heads it)")
    o.add_argument("kecamatan")
    o.add_argument("code")
    o.add_argument("--reason", required=True)
    o.set_defaults(fn=organisation)
    o = org.add_parser("appoint", help="make an official (a staf, or another unit's Kasi) the head of a unit")
    o.add_argument("kecamatan")
    o.add_argument("code", help="the unit")
    o.add_argument("username")
    o.set_defaults(fn=organisation)
    o = org.add_parser("relieve", help="end the post of a unit's head (they stay as staf)")
    o.add_argument("kecamatan")
    o.add_argument("code", help="the unit")
    o.add_argument("--reason", required=True)
    o.set_defaults(fn=organisation)
    o = org.add_parser("delegate", help="name a Plh. or Plt. for a role of a kecamatan, for a period")
    o.add_argument("--kecamatan", required=True)
    o.add_argument("--role", required=True, choices=["staf", "kasi", "sekcam", "camat"])
    o.add_argument("--unit", help="for --role kasi: the unit")
    o.add_argument("--delegate", required=True, help="username")
    o.add_argument("--kind", required=True, choices=["plh", "plt"])
    o.add_argument("--from", dest="starts_on", required=True, help="YYYY-MM-DD")
    o.add_argument("--to", dest="ends_on", required=True, help="YYYY-MM-DD (included)")
    o.add_argument("--reason", required=True)
    o.set_defaults(fn=organisation)
    o = org.add_parser("delegations", help="a kecamatan's delegations not yet over (--all: every one)")
    o.add_argument("--kecamatan")
    o.add_argument("--all", action="store_true")
    o.set_defaults(fn=organisation)
    o = org.add_parser("end-delegation", help="end a delegation early")
    o.add_argument("id")
    o.add_argument("--reason", required=True)
    o.set_defaults(fn=organisation)
    o = org.add_parser("log", help="the organisation's changes, latest first")
    o.add_argument("--kecamatan")
    o.set_defaults(fn=organisation)


def organisation(args: argparse.Namespace) -> None:
    import getpass
    import uuid
    from datetime import UTC, date, datetime

    from services.accounts import handlers
    from services.accounts.bootstrap import bootstrap
    from services.accounts.config import AccountsSettings
    from services.accounts.domain.organisation import DelegationRequest, OrganisationRefused, Person, UnitChange
    from shared.db import make_engine

    settings = AccountsSettings()
    accounts = bootstrap(settings, engine=make_engine(settings, pool_size=1))
    engine = accounts.engine
    actor = f"cli:{getpass.getuser()}"
    operator = Person(actor, "admin", None, None, True)

    def today_in(slug: str) -> date:
        kecamatan = accounts.directory.get(slug)
        if kecamatan is None:
            sys.exit(f"error: unknown kecamatan {slug!r}")
        return datetime.now(UTC).astimezone(kecamatan.time_zone).date()

    try:
        if args.action == "units":
            today_in(args.kecamatan)
            for e in handlers.list_units(engine, args.kecamatan, active_only=not args.all):
                head = f"{e.head_name} ({e.head_username})" if e.head_username else "- no head -"
                retired = "" if e.active else "  [retired]"
                print(f"{e.code:<16} {e.unit.title:<48} {head}{retired}")
        elif args.action == "define-unit":
            today_in(args.kecamatan)
            change = UnitChange(args.code, args.kind, args.name, tuple(args.short_name))
            unit = handlers.define_unit(engine, actor, args.kecamatan, change)
            print(f"unit {unit.code} ({unit.title}) defined in {args.kecamatan}")
        elif args.action == "retire-unit":
            handlers.retire_unit(engine, actor, args.kecamatan, args.code, args.reason)
            print(f"unit {args.code} of {args.kecamatan} retired")
        elif args.action == "appoint":
            entry = handlers.appoint_head(engine, actor, args.kecamatan, args.code, args.username, accounts.changes)
            print(f"{entry.head_name} ({entry.head_username}) heads {entry.unit.title} of {args.kecamatan}")
        elif args.action == "relieve":
            entry = handlers.relieve_head(engine, actor, args.kecamatan, args.code, args.reason, accounts.changes)
            head = f"{entry.head_name} ({entry.head_username})" if entry.head_username else "no one"
            print(f"{entry.unit.title} of {args.kecamatan} now headed by {head}")
        elif args.action == "delegate":
            try:
                starts_on, ends_on = date.fromisoformat(args.starts_on), date.fromisoformat(args.ends_on)
            except ValueError:
                sys.exit("error: --from and --to are dates YYYY-MM-DD")
            request = DelegationRequest(
                args.role, args.kecamatan, args.delegate, args.kind, starts_on, ends_on, args.reason, args.unit
            )
            made = handlers.grant_delegation(engine, operator, request, today_in(args.kecamatan))
            print(f"{made.label} {made.role} of {made.kecamatan}: {made.delegate}, {made.starts_on} to {made.ends_on}")
            print(f"id {made.id}")
        elif args.action == "delegations":
            from zoneinfo import ZoneInfo

            from shared.tenancy import DEFAULT_TIME_ZONE

            anywhere = datetime.now(UTC).astimezone(ZoneInfo(DEFAULT_TIME_ZONE)).date()  # WIB: the earliest zone
            since = None if args.all else today_in(args.kecamatan) if args.kecamatan else anywhere
            for d in handlers.list_delegations(engine, args.kecamatan, since=since):
                ended = f"  ended {d.ended_at:%Y-%m-%d %H:%M}" if d.ended_at else ""
                unit = f" ({d.unit})" if d.unit else ""
                print(
                    f"{d.id}  {d.kecamatan:<14} {d.label} {d.role}{unit} {d.delegate:<24} {d.starts_on}..{d.ends_on}{ended}"
                )
        elif args.action == "end-delegation":
            try:
                delegation_id = uuid.UUID(args.id)
            except ValueError:
                sys.exit(f"error: {args.id!r} is not a delegation id")
            found = handlers.get_delegation(engine, delegation_id)
            if found is None:
                sys.exit(f"error: no delegation {args.id}")
            ended = handlers.end_delegation(engine, operator, delegation_id, today_in(found.kecamatan), args.reason)
            print(f"delegation {ended.id} ended")
        elif args.action == "log":
            for e in handlers.organisation_log(engine, args.kecamatan):
                print(
                    f"{e['recorded_at']:%Y-%m-%d %H:%M} {e['kecamatan'] or '-':<14} {e['type']:<18} {e['actor']:<20} {e['data']}"
                )
    except OrganisationRefused as exc:
        sys.exit(f"error: {exc.message} ({exc.code})")


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
    from services.accounts.handlers import add_user, list_users, set_active, set_contact, set_password, set_rank
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
    if args.action == "rank":
        import getpass

        try:
            set_rank(
                engine,
                f"cli:{getpass.getuser()}",
                args.username,
                nip=args.nip,
                pangkat=args.pangkat,
                golongan=args.golongan,
                tte_nik=args.tte_nik,
            )
        except ValueError as exc:
            sys.exit(f"error: {exc}")
        print(f"rank of {args.username} stored")
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
            pangkat=args.pangkat,
            golongan=args.golongan,
        )
    except ValueError as exc:
        sys.exit(f"error: {exc}")
    print(f"user {args.username.strip().lower()} added")
