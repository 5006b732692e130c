"""Notify's commands: ``pengaduan templates ...`` (the messages it sends) and ``pengaduan deliveries ...``
(messages left failed or unknown, settled by a person)."""

from __future__ import annotations

import argparse
import os
import sys


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("templates", help="the messages notify sends: list, show, set, reset")
    p.add_argument("action", choices=["list", "show", "set", "reset"])
    p.add_argument("--kecamatan", help="slug; without it (and --kabupaten): every kecamatan of this deployment (*)")
    p.add_argument(
        "--kabupaten",
        help="slug: every kecamatan of this kabupaten (a deployment may serve several); list/show: what a kecamatan "
        "of it sends (with --kecamatan: that kecamatan's kabupaten is found by itself)",
    )
    p.add_argument("--kind", help="acknowledgment, documents_requested, referred, response_letter, ...")
    p.add_argument("--channel", choices=["email", "sms", "whatsapp"])
    p.add_argument("--file", help="set: a file holding the template body")
    p.add_argument("--subject", help="set, e-mail: the subject template")
    p.set_defaults(fn=templates)

    p = sub.add_parser("deliveries", help="messages notify could not settle: list, resend, mark-sent")
    p.add_argument("action", choices=["list", "resend", "mark-sent"])
    p.add_argument("id", nargs="?", help="resend / mark-sent: the message id")
    p.add_argument("--state", choices=["pending", "sending", "sent", "delivered", "failed", "unknown"])
    p.add_argument("--complaint", help="only this complaint's messages (its id)")
    p.set_defaults(fn=deliveries)


def templates(args: argparse.Namespace) -> None:
    from functools import partial

    from services.notify.adapters.postgres import PostgresUnitOfWork
    from services.notify.domain.templates import EVERY_KECAMATAN, TemplateInvalid, kabupaten_scope
    from services.notify.handlers.templates_admin import list_templates, reset_template, set_template
    from shared.config import Settings
    from shared.db import make_engine

    engine = make_engine(Settings(), pool_size=1)
    uow = partial(PostgresUnitOfWork, engine)
    if args.kecamatan and args.kabupaten:
        sys.exit("error: give --kecamatan or --kabupaten, not both")
    if args.action in ("list", "show"):
        kabupaten = args.kabupaten
        if args.kecamatan:
            from shared.tenancy import KecamatanDirectory

            found = KecamatanDirectory(engine).on_record(args.kecamatan)
            if found is None:
                sys.exit(f"error: unknown kecamatan {args.kecamatan!r}")
            kabupaten = found.kabupaten_slug
        for t in list_templates(uow, args.kecamatan, kabupaten):
            if args.action == "show" and (t["kind"], t["channel"]) != (args.kind, args.channel):
                continue
            if args.action == "list":
                print(f"{t['kind']:<20} {t['channel']:<9} {t['source']:<12} {', '.join(t['variables'])}")
            else:
                print(f"# {t['kind']} / {t['channel']} ({t['source']}); variables: {', '.join(t['variables'])}")
                if t["subject"]:
                    print(f"Subject: {t['subject']}")
                print(t["body"])
        return
    if not (args.kind and args.channel):
        sys.exit("error: give --kind and --channel")
    scope = args.kecamatan or (kabupaten_scope(args.kabupaten) if args.kabupaten else EVERY_KECAMATAN)
    if args.action == "reset":
        print(
            "back to the default"
            if reset_template(uow, scope, args.kind, args.channel)
            else "it was the default already"
        )
        return
    if not args.file:
        sys.exit("error: set needs --file (the template body, Jinja2: {{ kode }}, {{ nama }}, ...)")
    with open(args.file, encoding="utf-8") as f:
        body = f.read()
    try:
        warnings = set_template(
            uow, scope, args.kind, args.channel, body, args.subject, updated_by=os.environ.get("USER")
        )
    except TemplateInvalid as exc:
        sys.exit(f"error: {exc}")
    for w in warnings:
        print(f"warning: {w}")
    print(f"template {args.kind}/{args.channel} stored for {scope}")


def deliveries(args: argparse.Namespace) -> None:
    import uuid

    from services.notify.bootstrap import bootstrap
    from services.notify.handlers.deliveries_admin import list_deliveries, mark_sent, resend

    notify = bootstrap(pool_size=1, with_channels=False)
    if args.action == "list":
        complaint = uuid.UUID(args.complaint) if args.complaint else None
        rows = list_deliveries(notify, state=args.state, complaint_id=complaint)
        for r in rows:
            print(
                f"{r['id']}  {r['state']:<9} {r['kind']:<20} {r['channel']:<8} {r['recipient']:<22} "
                f"attempts {r['attempts']}  {r['updated_at']:%Y-%m-%d %H:%M}  {r['error'] or ''}"
            )
        print(f"{len(rows)} message(s)")
        return
    if not args.id:
        sys.exit("error: give the message id (see `pengaduan deliveries list`)")
    done = resend(notify, uuid.UUID(args.id)) if args.action == "resend" else mark_sent(notify, uuid.UUID(args.id))
    if not done:
        sys.exit("error: no such message in a state that allows it (resend: failed or unknown; mark-sent: unknown)")
    print("sent again" if args.action == "resend" else "recorded as sent")
