"""The commands of the command line, one function each (`cmd_<name>(args, settings)` returns the exit code).

The services (SQLAlchemy, Alembic, the PDF and chart libraries...) are imported by the commands that use them,
so that `--help` and a mistyped argument answer at once.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import secrets
import signal
import stat
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from pvd_survey.clock import paris_today
from pvd_survey.config import Settings
from pvd_survey.errors import DomainError, french_message, row_message

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


# Encodings `import-survey --encoding` reads: each writes line ends and delimiters as ASCII does.
IMPORT_ENCODINGS = ("utf-8", "cp1252", "latin-1")


def _factory(settings: Settings) -> sessionmaker[Session]:
    from pvd_survey import db

    engine = db.engine_for(settings)
    db.check_schema(engine)  # only `migrate` changes the schema
    factory = db.make_session_factory(engine)
    from pvd_survey import survey  # (heavy imports wait for a command that needs them)

    with db.read_only(factory) as session:
        survey.check_key(session, settings)  # a lost or changed server key stops every command, in French
    with db.transaction(factory) as session:
        survey.remember_key(session, settings)
    return factory


def _read_password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if args.no_password:
        return None
    if not sys.stdin.isatty():
        raise DomainError("password_needs_terminal")
    first = getpass.getpass("Mot de passe : ")
    if first != getpass.getpass("Confirmez le mot de passe : "):
        raise DomainError("password_mismatch")
    return first


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Bring the database schema up to date."""
    from pvd_survey import db

    engine = db.engine_for(settings)
    db.create_sqlite_file(engine)  # before the first connection, which would make it readable by all
    before = db.current_revision(engine)
    after = db.migrate(engine, settings.secret_key)
    print(f"Schéma à jour (révision {after})." if before == after else f"Schéma migré de {before} à {after}.")
    return 0


def cmd_create_user(args: argparse.Namespace, settings: Settings) -> int:
    """Create an account."""
    from pvd_survey import accounts, db

    password = _read_password(args)
    with db.transaction(_factory(settings)) as session:
        organisation_id = None
        if args.organisation:
            organisation_id = accounts.find_organisation(session, args.organisation).id
        user = accounts.create_user(
            session,
            email=args.email,
            display_name=args.name or args.email.split("@")[0],
            role=args.role,
            settings=settings,
            organisation_id=organisation_id,
            password=password,
        )
    where = f", {user.organisation_name}" if user.organisation_name else ""
    print(f"Compte créé : {user.email} ({user.role_label}{where}).")
    return 0


def cmd_create_organisation(args: argparse.Namespace, settings: Settings) -> int:
    """Add an employer organisation."""
    from pvd_survey import accounts, db

    with db.transaction(_factory(settings)) as session:
        organisation = accounts.create_organisation(session, args.name, args.kind, args.department)
    print(f"Organisation créée : n° {organisation.id}, {organisation.label}.")
    return 0


def cmd_send_mail(args: argparse.Namespace, settings: Settings) -> int:
    """Deliver the outbox over SMTP, once or in a loop."""
    from pvd_survey import mail, schedule

    if settings.smtp is None:
        raise DomainError("smtp_not_configured")
    factory = _factory(settings)
    if not args.loop:
        due = schedule.run_due_work(factory, settings)
        if due.summary():
            print(due.summary())
        print(mail.deliver_due(factory, settings.smtp).summary())
        return 0
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    print(f"Envoi de la file toutes les {args.interval} s (Ctrl+C pour arrêter).", flush=True)
    mail.run_sender(
        factory, settings.smtp, stop, args.interval, before_pass=lambda: schedule.run_due_work(factory, settings)
    )
    return 0


def cmd_seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Fill the database with realistic demonstration data (safe to run twice)."""
    from pvd_survey import db, demo

    with db.transaction(_factory(settings)) as session:
        real = demo.real_data(session)
        if real and not args.force:
            # Demo answers would join the protected figures and demo e-mails the outbox of a real installation.
            print(
                "Refusé : cette base contient déjà des données réelles (" + ", ".join(real) + "). Les données de "
                "démonstration s'y mêleraient aux vraies. Utilisez une base vide, ou --force si c'est voulu.",
                file=sys.stderr,
            )
            return 1
        created = demo.seed(session, settings, password_factory=lambda: secrets.token_urlsafe(12))
    for line in created:
        print(line)
    print("Données de démonstration en place." if created else "Données de démonstration déjà présentes.")
    return 0


def _open_import_file(name: str) -> BinaryIO:
    """The file to import, opened for reading; a path that is no readable file is a bad argument (DomainError)."""
    try:
        # Without O_NONBLOCK, opening a FIFO (or a symlink to one) would wait for a writer, forever.
        nonblocking = getattr(os, "O_NONBLOCK", 0)
        descriptor = os.open(name, os.O_RDONLY | nonblocking)
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):  # a directory, a pipe, a device...
            os.close(descriptor)
            raise DomainError("import_file_not_file", path=name)
        if nonblocking:
            os.set_blocking(descriptor, True)
        stream = os.fdopen(descriptor, "rb")
    except FileNotFoundError:
        raise DomainError("import_file_missing", path=name) from None
    except IsADirectoryError:
        raise DomainError("import_file_not_file", path=name) from None
    except OSError as error:
        raise DomainError("import_file_unreadable", path=name, detail=error.strerror or type(error).__name__) from None
    return stream


def cmd_import_survey(args: argparse.Namespace, settings: Settings) -> int:
    """Load past responses from a CSV file: all rows or none.

    Two passes: the file is read and checked as a stream first (no database lock meanwhile), then its rows
    are inserted in batches in one transaction, so any error leaves the database as it was.
    """
    from pvd_survey import db, survey

    try:
        with _open_import_file(args.file) as stream:
            checked = survey.check_responses(survey.file_lines(stream, args.encoding), paris_today())
    except survey.ImportRejected as rejected:
        print(f"Refusé : {french_message(rejected)}", file=sys.stderr)
        for error in rejected.errors:
            print(f"  {row_message(error)}", file=sys.stderr)
        bad_lines = int(str(rejected.params["count"]))
        if bad_lines > len({error.line for error in rejected.errors}):
            print(f"  {french_message(DomainError('import_more_errors', count=bad_lines))}", file=sys.stderr)
        return 1
    except OSError as error:  # (the disk or the network share failed while reading)
        detail = error.strerror or type(error).__name__
        print(french_message(DomainError("import_file_unreadable", path=args.file, detail=detail)), file=sys.stderr)
        return 2
    except DomainError as error:
        print(french_message(error), file=sys.stderr)
        return 2
    with db.transaction(_factory(settings)) as session:
        count = survey.import_checked(session, checked, settings)
        waiting = survey.release_state(session, settings).waiting
    print(f"{count} réponse(s) importée(s).")
    if waiting:
        print(
            f"{waiting} réponse(s) en attente : les chiffres sont publiés par groupes d'au moins "
            f"{settings.disclosure_k} réponses."
        )
    return 0


def cmd_export_survey(args: argparse.Namespace, settings: Settings) -> int:
    """Write every response in the import format (raw anonymous answers)."""
    from pvd_survey import db, exports, survey

    dialect = exports.PEOPLE if args.excel else exports.TOOLS
    with db.read_only(_factory(settings)) as session:
        text = survey.export_responses_csv(session, settings, dialect)
    if args.file == "-":
        sys.stdout.write(text)
    else:
        Path(args.file).write_text(text, encoding="utf-8")
        print(f"{text.count(chr(10)) - 1} réponse(s) exportée(s) dans {args.file}.")
    return 0


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    """Print the dashboard's figures for the given filters."""
    from pvd_survey import db, stats

    filters = stats.make_filters(args.region, args.department, args.employer, args.start_period)
    with db.read_only(_factory(settings)) as session:
        figures = stats.survey_stats(session, filters, k=settings.disclosure_k, settings=settings)
    if args.format == "json":
        print(json.dumps(figures.to_json(), ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(stats.stats_csv(figures))  # exports.TOOLS: `,`, no BOM, what programs parse
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    """Write the steering committee's report (PDF) for the dashboard's filters and a month."""
    from pvd_survey import db, report, stats

    filters = stats.make_filters(args.region, args.department, args.employer, args.start_period)
    request = report.ReportRequest.of(filters, args.month)
    with db.read_only(_factory(settings)) as session:
        pdf = report.build_report(session, request, k=settings.disclosure_k, settings=settings)
    # Written whole or not at all: a half-written report must never be mistaken for one.
    target = Path(args.out)
    partial = target.with_name(f".{target.name}.partiel")
    partial.write_bytes(pdf)
    partial.replace(target)
    print(f"Rapport écrit dans {target} ({len(pdf) // 1024} Ko).")
    return 0


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    """Measure the dashboard figures and survey submissions at scale (prints JSON lines)."""
    from pvd_survey import bench

    # Every section on SQLite, then (with --postgresql) in a scratch PostgreSQL database: one line each.
    kinds = ["sqlite"] + (["postgresql"] if args.postgresql else [])

    def show(result: dict) -> None:
        print(json.dumps(result, ensure_ascii=False), flush=True)

    if args.section in ("all", "survey"):
        for size in args.sizes:
            for kind in kinds:
                show(bench.survey_benchmark(size, args.workdir, kind, args.postgresql))
    if args.section in ("all", "meetings"):
        for kind in kinds:
            show(bench.meetings_benchmark(kind, args.workdir, args.postgresql))
    if args.section in ("all", "door"):
        for kind in kinds:
            show(bench.door_benchmark(kind, args.workdir, args.postgresql))
    if args.section in ("all", "report"):
        for size in args.sizes:
            for kind in kinds:
                show(bench.report_benchmark(size, args.workdir, kind, args.postgresql))
    if args.section in ("all", "import"):
        for kind in kinds:
            show(bench.import_benchmark(args.import_mb, args.workdir, kind, args.postgresql))
    if args.section in ("jobs", "all"):
        postings, applications = args.jobs
        for kind in kinds:
            show(bench.jobs_benchmark(postings, applications, args.workdir, kind, args.postgresql))
    if args.section in ("all", "signin"):
        for kind in kinds:
            show(bench.signin_benchmark(kind, args.workdir, args.postgresql))
    if args.section == "proxy":  # only on request: it needs nginx and Chromium, and several processes PostgreSQL
        if not args.postgresql:
            print("La partie proxy se mesure sur PostgreSQL : indiquez --postgresql URL_ADMIN.", file=sys.stderr)
            return 2
        show(bench.proxy_benchmark(args.postgresql, args.workdir))
    if args.section == "web":  # only on request: it drives Chromium against a real server for about 5 minutes
        for kind in kinds:
            show(bench.web_benchmark(kind, args.workdir, args.postgresql))
    return 0


# ---------------------------------------------------------------------------- recruitment


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    """Delete personal data past its retention (or list it with --dry-run)."""
    from pvd_survey import db, privacy, schedule

    factory = _factory(settings)
    if args.dry_run:
        # A simulation changes nothing at all (not even closing postings past their deadline).
        with db.read_only(factory) as session:
            items = privacy.purge(session, settings, dry_run=True)
    else:
        due = schedule.run_due_work(factory, settings)
        if due.summary():
            print(due.summary())
        with db.transaction(factory) as session:
            items = privacy.purge(session, settings)
        if items:
            db.scrub_sqlite_wal(factory.kw["bind"])  # the deleted data must not stay in SQLite's WAL
    verb = "serait supprimé (simulation, rien n'est effacé)" if args.dry_run else "supprimé"
    for item in items:
        print(f"{item.step} : {item.description} : {verb}")
    print(
        f"{len(items)} élément(s) {'à supprimer (simulation)' if args.dry_run else 'supprimé(s)'}."
        if items
        else "Rien à supprimer."
    )
    return 0
