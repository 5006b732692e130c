"""``pengaduan``: one console command for every process.

pengaduan run                                  everything, embedded PostgreSQL/Redis unless URLs set
pengaduan migrate                              apply database migrations
pengaduan seed-demo                            the 13 kecamatan of Pamekasan, 3 of Sumenep, and demo users
pengaduan users add USERNAME --role ROLE [--kecamatan K] [--kabupaten B] [--unit U] [--nip N]
                [--name "Full Name"] [--password-stdin]
pengaduan users list [--kecamatan K]           users (never their password hashes)
pengaduan api intake|workflow|letters|dashboard|web [--port N]   an HTTP API
pengaduan gateway [--port N]                   the one base URL in front of the APIs
pengaduan worker workflow|letters|notify [--concurrency N]
pengaduan relay                                intake outbox and event store -> queues
pengaduan projections run|status|rebuild NAME  read models fed from the event store (rebuilt without a gap);
                                               status lists the events each one set aside
pengaduan scheduler                            periodic jobs
pengaduan dead-letters list|replay [--id ID]   messages a worker could not handle
pengaduan users contact USERNAME [--email E] [--phone P] [--channel C] [--new-work|--no-new-work]
pengaduan templates list|show|set|reset        the messages notify sends (Bahasa Indonesia)
pengaduan deliveries list|resend|mark-sent     messages left failed or unknown, settled by a person
pengaduan devsinks                             local SMTP/SMS/WhatsApp sinks (development)
pengaduan devtsa [--port N] [--signing-dir D]  a local RFC 3161 timestamp authority (development)
pengaduan devbsre [--port N] [--folder D]  a local stand-in for BSrE's esign API (development)
pengaduan devlapor [--port N] [--token T]  a local stand-in for SP4N-LAPOR!'s integration API (development)
pengaduan lapor status|retry [--id ID]         the SP4N-LAPOR! bridge: what waits, what was refused; try again
pengaduan privacy new-key|rotate-keys|status|erase|retention|requests  the complainants' data keys; erase a closed
                            complaint's data; the retention job's round (--dry-run); the record of requests
pengaduan intake imap-poller                   inbound e-mail from an IMAP mailbox
pengaduan integrations                         which outside systems the settings connect, and where each
                                               credential comes from (never its value)
pengaduan backup DIR [--pg-bin D]              the database and the document store into a new folder under DIR
pengaduan backup-verify BACKUP                 a backup's checksums and documents against its manifest
pengaduan restore BACKUP [--advance-numbers N] into an EMPTY database and document store (docs/adr/0025)
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading


def _settings():
    from shared.config import Settings

    return Settings()


def cmd_migrate(_: argparse.Namespace) -> None:
    from shared.migrate import migrate

    migrate(_settings().database_url)
    print("migrations applied")


def cmd_seed_demo(args: argparse.Namespace) -> None:
    from shared.db import make_engine
    from shared.tenancy import demo_kecamatan, demo_second_kabupaten, upsert_kecamatan

    settings = _settings()
    if settings.environment == "production":
        sys.exit("refusing to seed demo data in production")
    engine = make_engine(settings, pool_size=1)
    pamekasan, sumenep = demo_kecamatan(), demo_second_kabupaten()
    items = pamekasan + sumenep  # two kabupaten in one deployment, as a province's would be (docs/capacity.md)
    upsert_kecamatan(engine, items)
    print(f"seeded {len(pamekasan)} kecamatan of Kabupaten Pamekasan and {len(sumenep)} of Kabupaten Sumenep")
    if args.kabupaten_settings:
        from shared.tenancy import PAMEKASAN_SETTINGS, SUMENEP_SETTINGS, configure_kabupaten

        configure_kabupaten(engine, "pamekasan", PAMEKASAN_SETTINGS)
        print("Kabupaten Pamekasan's office hours (07:00-15:00, Ramadan 1447 H) and time zone stored")
        configure_kabupaten(engine, "sumenep", SUMENEP_SETTINGS)
        print("Kabupaten Sumenep's time zone and classification codes stored")
    from services.accounts.demo import DEMO_PASSWORD, ensure_demo_users

    # staf.K, kasi.K, sekcam.K, camat.K of every kecamatan; kabupaten.pamekasan, kabupaten.sumenep (and their pdp.);
    # admin
    added = ensure_demo_users(engine, items)
    print(f"added {added} demo user(s) (existing ones kept), password {DEMO_PASSWORD!r}")


API_KEEPALIVE_SECONDS = 15  # seconds an API keeps an idle connection (uvicorn's own default is 5)


def cmd_api(args: argparse.Namespace) -> None:
    import uvicorn

    from pengaduan import registry
    from pengaduan.apps import factory_for

    api = registry.service(args.kind).api
    uvicorn.run(
        factory_for(args.kind),  # the declared factory, or the root's stated composition of it
        factory=True,
        host=args.host,
        port=args.port or api.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
        # idle connections kept longer than any client keeps them (the gateway 4 s, nginx 10 s): the client
        # always lets go first, so no request goes down a connection the service is closing (shared/gateway.py)
        timeout_keep_alive=API_KEEPALIVE_SECONDS,
        # X-Forwarded-For believed only from these (uvicorn takes the right-most untrusted address)
        forwarded_allow_ips=_settings().trusted_proxies,
    )


def cmd_gateway(args: argparse.Namespace) -> None:
    import uvicorn

    from pengaduan import registry
    from pengaduan.apps import gateway

    # PENGADUAN_<SERVICE>_URL, by default each API's own port on this machine
    backends = {
        s.name: os.environ.get(f"PENGADUAN_{s.name.upper()}_URL", f"http://127.0.0.1:{s.api.port}")
        for s in registry.services()
        if s.api
    }
    if os.environ.get("PENGADUAN_DEVSINKS_URL"):  # make run: the local sinks' page at /dev/outbox
        backends["devsinks"] = os.environ["PENGADUAN_DEVSINKS_URL"]
    uvicorn.run(
        gateway(backends),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=_settings().trusted_proxies,
        timeout_keep_alive=API_KEEPALIVE_SECONDS,
    )  # nginx in front keeps idle ones 10 s


def worker_argv(kind: str, concurrency: int) -> list[str]:
    """Celery's ``worker_main`` arguments for a worker of one kind (its queue): prefork, ``concurrency`` children.
    bench/hop.py starts its no-op worker with the same ones."""
    return [
        "worker",
        "-Q",
        kind,
        "-c",
        str(concurrency),
        "-n",
        f"{kind}@%h",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        os.environ.get("PENGADUAN_LOG_LEVEL", "INFO"),
    ]


def cmd_worker(args: argparse.Namespace) -> None:
    from shared.metrics import serve_worker_metrics

    serve_worker_metrics(args.kind)  # PENGADUAN_METRICS_PORT: first, before any metric exists (prefork)
    from pengaduan import registry
    from shared.celery_app import make_celery
    from shared.tasks import register_consumers

    app = make_celery(_settings(), args.kind)
    register_consumers(app, registry.by_queue(args.kind))  # checked against shared/contracts/routing.py
    app.worker_main(worker_argv(args.kind, args.concurrency))


def _run_until_signal(runners) -> None:
    from shared.metrics import serve_runner_metrics
    from shared.subscriptions import run_all

    serve_runner_metrics(", ".join(r.name for r in runners))  # on PENGADUAN_METRICS_PORT, if set
    threads = run_all(runners)
    stop = threading.Event()

    def handle(*_):
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    stop.wait()
    for r in runners:
        r.stop()
    for t in threads:
        t.join(timeout=10)


def _run_process(process: str) -> None:
    """A runner process: every service's runners of that process (``Service.runners``), until a signal."""
    from pengaduan import registry
    from shared.celery_app import make_celery
    from shared.db import make_engine
    from shared.service import RunContext

    settings = _settings()
    ctx = RunContext(settings, make_engine(settings), make_celery(settings, process), registry.consumers())
    _run_until_signal(registry.runners(process, ctx))


def cmd_relay(_: argparse.Namespace) -> None:
    _run_process("relay")


def cmd_projections(args: argparse.Namespace) -> None:  # noqa: RET503
    from pengaduan import registry

    if args.action == "run":
        return _run_process("projections")
    admins = [s.projections for s in registry.services() if s.projections]
    if args.action == "status":
        from pydantic import ValidationError

        refused = []
        for admin in admins:
            try:
                listed = admin.status(_settings())
            except ValidationError as exc:  # a service's own settings (e.g. the LAPOR! bridge half configured)
                refused += settings_errors(exc)
                continue
            for st in listed:
                _print_projection_status(st)
        if refused:  # the others are listed; what could not be read is said, as the process itself would say it
            sys.exit("error: settings refused:\n  " + "\n  ".join(refused))
        return None
    rebuildable = [a for a in admins if a.rebuild is not None]
    names = [n for admin in rebuildable for n in admin.names()]
    if not args.name:
        sys.exit(f"error: rebuild needs a NAME: {', '.join(names)}")
    # a short name ("complaints") or the full one; the service whose projection it is rebuilds it
    owner = next((a for a in rebuildable if any(args.name in (n, n.split(".", 1)[-1]) for n in a.names())), None)
    try:
        if owner is None or owner.rebuild is None:
            raise ValueError(f"unknown projection {args.name!r}; known: {', '.join(names)}")
        report = owner.rebuild(_settings(), args.name)
    except ValueError as exc:
        sys.exit(f"error: {exc}")
    print(" ".join(f"{k}={v}" for k, v in report.items()))


def _print_projection_status(st: dict) -> None:
    """One projection's line (and, under it, each event it set aside: shared.projection_failures)."""
    line = f"{st['name']:<28} checkpoint {st['checkpoint']:>10}  head {st['head']:>10}  lag {st['lag']:>8}"
    if "failed" in st:
        line += f"  set aside {st['failed']:>4} (+{st['held']} held)"
    print(line)
    for f in st.get("failures", ()):
        print(
            f"  position {f['position']} event {f['event_id']} {f['event_type']} kecamatan {f['kecamatan']}"
            f" stream {f['stream_id']}: {f['error']} (attempts {f['attempts']}, first {f['first_failed_at']:%Y-%m-%d %H:%M:%S%z},"
            f" last {f['last_failed_at']:%Y-%m-%d %H:%M:%S%z}; {f['held']} later events held behind it)"
        )


def cmd_scheduler(_: argparse.Namespace) -> None:
    _run_process("scheduler")


def cmd_kecamatan(args: argparse.Namespace) -> None:
    import json

    from shared.db import make_engine
    from shared.tenancy import configure_kecamatan, kecamatan_table

    engine = make_engine(_settings(), pool_size=1)
    if args.action == "list":
        from sqlalchemy import select

        with engine.connect() as conn:
            for r in conn.execute(select(kecamatan_table).order_by(kecamatan_table.c.code)).mappings():
                print(
                    f"{r['slug']:<14} {r['code']:<10} {r['name']:<16} {r['kabupaten_name']:<22} {json.dumps(r['settings'])}"
                )
        return
    if not args.slug or not args.settings:
        sys.exit("error: configure needs SLUG and --settings FILE.json")
    try:
        with open(args.settings, encoding="utf-8") as f:
            configure_kecamatan(engine, args.slug, json.load(f))
    except (OSError, ValueError) as exc:
        sys.exit(f"error: {exc}")
    print(f"settings of {args.slug} stored; new complaints follow them, open ones keep their SOP version")


def cmd_privacy(args: argparse.Namespace) -> None:
    """The key-encryption keys of the complainants' data keys (shared/privacy.py, docs/adr/0017)."""
    import json

    from shared import privacy

    if args.action == "new-key":  # no database, no settings: prints a keys file to keep as a secret
        current = {}
        if args.keys_file:
            try:
                with open(args.keys_file, encoding="utf-8") as f:
                    current = json.load(f)
            except (OSError, ValueError) as exc:
                sys.exit(f"error: {args.keys_file}: {exc}")
        from datetime import UTC, datetime

        args.id = args.id or datetime.now(UTC).strftime("%Y%m%d")
        made = privacy.KeyEncryptionKeys.generate(args.id)
        if current:
            keys = current.get("keys") if isinstance(current, dict) else None
            if not isinstance(keys, dict) or "current" not in current:
                sys.exit(f"error: {args.keys_file}: not a privacy keys file")
            if args.id in keys:
                sys.exit(f"error: {args.keys_file} already has a key {args.id!r}")
            # added, not yet current: roll the file out to every process first, then --make-current (docs/adr/0017)
            made = {
                "current": args.id if args.make_current else current["current"],
                "keys": {**keys, **made["keys"]},
            }
        print(json.dumps(made, indent=2))
        return
    from sqlalchemy import func, select

    from shared.db import make_engine

    settings = _settings()
    if args.action == "erase":
        _erase(settings, args)
        return
    if args.action in ("retention", "requests"):
        _retention_or_requests(settings, args)
        return
    engine = make_engine(settings, pool_size=1)
    keys = privacy.data_keys_for(settings)
    if args.action == "rotate-keys":
        done = keys.rotate_all(engine)  # a batch per transaction: writers wait for one batch at most
        with engine.connect() as conn:
            left = conn.execute(
                select(func.count()).where(
                    privacy.data_keys.c.wrapped.is_not(None), privacy.data_keys.c.kek_id != keys.keks.current
                )
            ).scalar_one()
        print(f"{done} data key(s) rewrapped with key-encryption key {keys.keks.current!r}; {left} left under others")
        if left:  # locked by a writer meanwhile: run it again before retiring an old key
            sys.exit(1)
        return
    t = privacy.data_keys
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.kek_id, func.count(), func.count(t.c.erased_at)).group_by(t.c.kek_id).order_by(t.c.kek_id)
        ).all()
    print(f"current key-encryption key: {keys.keks.current}")
    for kek_id, count, erased in rows:
        print(f"  {kek_id or '(erased)':<24} {count if kek_id else erased} data key(s)")


def _retention_or_requests(settings, args: argparse.Namespace) -> None:
    """``retention [--dry-run]``: one round of the retention job now (the scheduler runs it hourly), or how many
    complaints it would erase; ``requests``: the latest requests about personal data and their outcomes."""
    from datetime import UTC, datetime

    from services.workflow import handlers
    from services.workflow.bootstrap import bootstrap

    wf = bootstrap(settings)
    if args.action == "requests":
        with wf.uow() as uow:
            rows = uow.requests.list(kecamatan=None, kind=None, limit=args.limit)
        for r in rows:
            print(
                f"{r['received_at']:%Y-%m-%d %H:%M} {r['kind']:<10} {r['outcome']:<8} {r['kecamatan']:<16} "
                f"{r['complaint_id']} {r['requested_by']}: {r['reason']}"
            )
        return
    for k in wf.directory.active():
        print(f"{k.kabupaten_name} / {k.name}: personal data kept {handlers.retention_years(k)} year(s) after closing")
    report = handlers.erase_past_retention(wf, datetime.now(UTC), limit=args.limit, dry_run=args.dry_run)
    if args.dry_run:
        print(f"{report.due} complaint(s) past their retention period would be erased (limit {args.limit})")
        return
    print(f"{len(report.erased)} complaint(s) erased, {len(report.failed)} left for the next round")
    if report.failed:
        sys.exit(1)


def _erase(settings, args: argparse.Namespace) -> None:
    """``pengaduan privacy erase COMPLAINT --reason ...``: a closed complaint's personal data erased (by its id or
    its tracking code), as POST /v1/privacy/erasures does, recorded as done by ``cli:<login name>``."""
    import getpass
    import uuid
    from datetime import UTC, datetime

    from sqlalchemy import select

    from services.workflow import handlers
    from services.workflow.adapters.tables import complaints
    from services.workflow.bootstrap import bootstrap
    from services.workflow.domain import model
    from shared.contracts.tracking import normalize_tracking_code

    if not args.complaint or not args.reason:
        sys.exit("error: erase needs COMPLAINT (its id or tracking code) and --reason")
    wf = bootstrap(settings)
    try:
        complaint_id = uuid.UUID(args.complaint)
    except ValueError:
        with wf.engine.connect() as conn:
            found = conn.execute(
                select(complaints.c.complaint_id).where(
                    complaints.c.tracking_code == normalize_tracking_code(args.complaint)
                )
            ).scalar()
        if found is None:
            sys.exit(f"error: no complaint {args.complaint}")
        complaint_id = found
    try:
        request_id = handlers.erase_personal_data(
            wf, complaint_id, by=f"cli:{getpass.getuser()}", reason=args.reason, at=datetime.now(UTC)
        )
    except handlers.UnknownComplaint:
        sys.exit(f"error: no complaint {args.complaint}")
    except model.DomainError as exc:
        sys.exit(f"error: {exc.message}")
    print(f"personal data of complaint {complaint_id} erased (request {request_id}); the services remove their copies")


def cmd_kabupaten(args: argparse.Namespace) -> None:
    import json

    from sqlalchemy import select

    from shared.db import make_engine
    from shared.tenancy import configure_kabupaten, kabupaten_table

    engine = make_engine(_settings(), pool_size=1)
    if args.action == "list":
        with engine.connect() as conn:
            for r in conn.execute(select(kabupaten_table).order_by(kabupaten_table.c.slug)).mappings():
                print(f"{r['slug']:<14} {r['name']:<28} {json.dumps(r['settings'])}")
        return
    if not args.slug or not args.settings:
        sys.exit("error: configure needs SLUG and --settings FILE.json")
    try:
        with open(args.settings, encoding="utf-8") as f:
            configure_kabupaten(engine, args.slug, json.load(f))
    except (OSError, ValueError) as exc:
        sys.exit(f"error: {exc}")
    print(f"settings of {args.slug} stored; new deadlines follow them")


def cmd_dead_letters(args: argparse.Namespace) -> None:
    from sqlalchemy import func, select, update

    from pengaduan import registry
    from shared.celery_app import make_celery
    from shared.db import make_engine

    settings = _settings()
    engine = make_engine(settings, pool_size=1)
    celery = make_celery(settings, "dead-letters")
    waiting = replayed = 0
    with engine.begin() as conn:
        for table in registry.dead_letter_tables().values():  # each service keeps its own
            query = select(table).where(table.c.replayed_at.is_(None)).order_by(table.c.failed_at)
            if args.id:
                query = query.where(table.c.id == args.id)
            if args.action == "list":
                for r in conn.execute(query).mappings():
                    print(f"{r['id']}  {r['failed_at']:%Y-%m-%d %H:%M:%S}  {r['task']}  {r['error'][:120]}")
                    waiting += 1
                continue
            for r in conn.execute(query.with_for_update()).mappings():
                celery.send_task(r["task"], args=[r["payload"]], queue=r["queue"], argsrepr="(<hidden>)")
                conn.execute(update(table).where(table.c.id == r["id"]).values(replayed_at=func.now()))
                replayed += 1
    print(f"{waiting} dead letter(s) waiting" if args.action == "list" else f"replayed {replayed} dead letter(s)")


def cmd_devsinks(args: argparse.Namespace) -> None:
    from devtools.sinks import main as devsinks_main

    sys.exit(devsinks_main(args.rest))


def cmd_devtsa(args: argparse.Namespace) -> None:
    from devtools.tsa import main as devtsa_main

    sys.exit(devtsa_main(args.rest))


def cmd_devbsre(args: argparse.Namespace) -> None:
    from devtools.bsre import main as devbsre_main

    sys.exit(devbsre_main(args.rest))


def cmd_devlapor(args: argparse.Namespace) -> None:
    from devtools.lapor import main as devlapor_main

    sys.exit(devlapor_main(args.rest))


def cmd_backup(args: argparse.Namespace) -> None:
    from pengaduan import backup

    try:
        if args.command == "backup":
            folder = backup.backup(_settings(), args.dir, pg_bin=args.pg_bin)
            print(backup.summary(backup.read_manifest(folder), folder))
        elif args.command == "backup-verify":
            print(backup.summary(backup.verify(args.backup), args.backup) + "\nverified: every checksum matches")
        else:
            print(
                backup.restore_summary(
                    backup.restore(_settings(), args.backup, pg_bin=args.pg_bin, advance_numbers=args.advance_numbers)
                )
            )
    except backup.BackupError as exc:
        sys.exit(f"error: {exc}")


def cmd_run(args: argparse.Namespace) -> None:
    from pengaduan.supervisor import run_everything

    run_everything(port=args.port, data_dir=args.data_dir)


def build_parser() -> argparse.ArgumentParser:
    from pengaduan import registry

    parser = argparse.ArgumentParser(
        prog="pengaduan", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="start the whole system on this machine")
    p.add_argument("--port", type=int, default=int(os.environ.get("PENGADUAN_PORT", "8000")))
    p.add_argument("--data-dir", default=os.environ.get("PENGADUAN_DATA_DIR", ".data"))
    p.set_defaults(fn=cmd_run)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(fn=cmd_migrate)
    p = sub.add_parser("seed-demo", help="seed the demo kecamatan, their organisation and users (never in production)")
    p.add_argument(
        "--kabupaten-settings",
        action="store_true",
        help="also the kabupaten's office hours, time zones and numbering (make run; the tests keep the defaults)",
    )
    p.set_defaults(fn=cmd_seed_demo)

    p = sub.add_parser("api", help="run an HTTP API")
    p.add_argument("kind", choices=registry.api_kinds())
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, help="default: 8001 for intake, 8002 for workflow (where the gateway looks)")
    p.add_argument("--workers", type=int, default=1)
    p.set_defaults(fn=cmd_api)

    p = sub.add_parser("gateway", help="the one base URL in front of every API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=int(os.environ.get("PENGADUAN_PORT", "8000")))
    p.set_defaults(fn=cmd_gateway)

    p = sub.add_parser("worker", help="run a Celery worker of one kind")
    p.add_argument("kind", choices=registry.worker_kinds())
    p.add_argument("--concurrency", type=int, default=2)
    p.set_defaults(fn=cmd_worker)

    sub.add_parser("relay", help="publish the intake outbox and the event store to the queues").set_defaults(
        fn=cmd_relay
    )

    p = sub.add_parser(
        "projections",
        help="read models fed from the event store: run them, rebuild one, their lag and set-aside events",
    )
    p.add_argument("action", choices=["run", "rebuild", "status"])
    p.add_argument("name", nargs="?", help="rebuild: the projection (e.g. complaints)")
    p.set_defaults(fn=cmd_projections)

    sub.add_parser("scheduler", help="periodic jobs (one active instance)").set_defaults(fn=cmd_scheduler)

    p = sub.add_parser("kecamatan", help="the kecamatan served: list them, configure one (its SK)")
    p.add_argument("action", choices=["list", "configure"])
    p.add_argument("slug", nargs="?")
    p.add_argument(
        "--settings",
        help="a JSON file: sop_overrides, office_hours, extra_holidays, working_days, sign_atas_nama, unit_pengolah, "
        "signature_service",
    )
    p.set_defaults(fn=cmd_kecamatan)

    p = sub.add_parser(
        "kabupaten", help="the kabupaten: list them, configure one (time zone, office hours, its decrees' days)"
    )
    p.add_argument("action", choices=["list", "configure"])
    p.add_argument("slug", nargs="?")
    p.add_argument("--settings", help="a JSON file: time_zone, office_hours, extra_holidays, working_days")
    p.set_defaults(fn=cmd_kabupaten)

    p = sub.add_parser("dead-letters", help="messages a worker could not handle: list them, replay them")
    p.add_argument("action", choices=["list", "replay"])
    p.add_argument("--id", help="replay only this one")
    p.set_defaults(fn=cmd_dead_letters)

    p = sub.add_parser(
        "devsinks", help="local SMTP, SMS and WhatsApp sinks that show what would be sent", add_help=False
    )
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_devsinks)

    p = sub.add_parser(
        "privacy", help="the complainants' data keys, erasure, retention and the record of requests (UU 27/2022 PDP)"
    )
    p.add_argument("action", choices=["new-key", "rotate-keys", "status", "erase", "retention", "requests"])
    p.add_argument("--dry-run", action="store_true", help="retention: only count what would be erased")
    p.add_argument("--limit", type=int, default=200, help="retention: at most this many; requests: the latest N")
    p.add_argument("complaint", nargs="?", help="erase: the complaint's id or tracking code")
    p.add_argument("--reason", help="erase: why (the complainant's request and its reference, ...)")
    p.add_argument("--id", default=None, help="new-key: the new key's id (default: today, YYYYMMDD)")
    p.add_argument("--keys-file", help="new-key: the current keys file, to add the new key to (printed, not written)")
    p.add_argument(
        "--make-current",
        action="store_true",
        help="new-key with --keys-file: make the added key the current one (only once every process has the file)",
    )
    p.set_defaults(fn=cmd_privacy)

    p = sub.add_parser(
        "devtsa", help="a local RFC 3161 timestamp authority, its certificate from the development CA", add_help=False
    )
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_devtsa)

    p = sub.add_parser(
        "devbsre",
        help="a local stand-in for BSrE's esign client service (API v2), signing with its own development CA",
        add_help=False,
    )
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_devbsre)

    p = sub.add_parser(
        "devlapor",
        help="a local stand-in for SP4N-LAPOR!'s integration API (the shapes services/lapor assumes)",
        add_help=False,
    )
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_devlapor)

    p = sub.add_parser(
        "integrations",
        help="which outside systems (SMTP, SMS, WhatsApp, the webhooks, the TSA, BSrE, SP4N-LAPOR!) this process's "
        "settings connect, and where each credential comes from (never its value); exit 1 if a service refuses them",
    )
    p.set_defaults(fn=cmd_integrations)
    p = sub.add_parser("backup", help="back up the database and the document store into a new folder (ADR 0025)")
    p.add_argument("dir", help="where the backup's folder is made")
    p.add_argument("--pg-bin", help="the folder of pg_dump/pg_restore (default: PATH, then the embedded wheel)")
    p.set_defaults(fn=cmd_backup)
    p = sub.add_parser("backup-verify", help="check a backup's checksums and documents against its manifest")
    p.add_argument("backup", help="the backup's folder")
    p.set_defaults(fn=cmd_backup)
    p = sub.add_parser("restore", help="restore a backup into an EMPTY database and document store (ADR 0025)")
    p.add_argument("backup", help="the backup's folder")
    p.add_argument("--pg-bin", help="the folder of pg_dump/pg_restore (default: PATH, then the embedded wheel)")
    p.add_argument(
        "--advance-numbers",
        type=int,
        default=0,
        metavar="N",
        help="move every register and letter counter forward by N (those not started in the backup too): numbers "
        "were given out after the backup",
    )
    p.set_defaults(fn=cmd_backup)

    for service in registry.services():  # each service's own commands (templates, deliveries, intake ...)
        if service.cli:
            service.cli(sub)
    return parser


def cmd_integrations(args: argparse.Namespace) -> None:
    from pengaduan.integrations import render, report

    lines, ok = report(settings_errors)
    print(render(lines))
    if not ok:
        sys.exit(1)


def refuse_unsafe_settings() -> None:
    """Invariant 11: every process refuses to start on settings it must not run with (an unknown
    environment, a known or weak secret outside development), with a message that names the setting."""
    from pydantic import ValidationError

    from shared.config import Settings

    try:
        Settings()
    except ValidationError as exc:
        sys.exit("pengaduan: refusing to start:\n  " + "\n  ".join(settings_errors(exc)))


def settings_errors(exc) -> list[str]:
    """What a person reads of settings that failed validation (a pydantic ``ValidationError``): each setting by its
    variable and what is wrong with it, no value shown but the environment's (others may be secrets)."""
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if field == "environment":
            lines.append(f"PENGADUAN_{field.upper()}: {message} (got {error.get('input')!r})")
        elif field:
            lines.append(f"PENGADUAN_{field.upper()}: {message}")
        else:
            lines.append(message)
    return lines


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] not in (["-h"], ["--help"], []):
        refuse_unsafe_settings()
    if argv[:1] == ["devsinks"]:  # its own options (argparse's REMAINDER does not pass leading ones on)
        from devtools.sinks import main as devsinks_main
        from shared.logging import setup_logging

        setup_logging("devsinks")
        sys.exit(devsinks_main(argv[1:]))
    if argv[:1] == ["devtsa"]:  # likewise
        from devtools.tsa import main as devtsa_main
        from shared.logging import setup_logging

        setup_logging("devtsa")
        sys.exit(devtsa_main(argv[1:]))
    if argv[:1] == ["devbsre"]:  # likewise
        from devtools.bsre import main as devbsre_main
        from shared.logging import setup_logging

        setup_logging("devbsre")
        sys.exit(devbsre_main(argv[1:]))
    if argv[:1] == ["devlapor"]:  # likewise
        from devtools.lapor import main as devlapor_main
        from shared.logging import setup_logging

        setup_logging("devlapor")
        sys.exit(devlapor_main(argv[1:]))
    args = build_parser().parse_args(argv)
    from shared.logging import setup_logging

    setup_logging(args.command if args.command != "worker" else f"worker-{args.kind}")
    args.fn(args)


if __name__ == "__main__":
    main()
