"""Operator command line: `python -m pvd_survey <command> --help`.

Exit codes: 0 done, 1 refused by a rule (message says why), 2 bad arguments or configuration,
3 database unreachable.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import logging
import os
import secrets
import signal
import stat
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn

from pvd_survey.clock import paris_today
from pvd_survey.config import ConfigError, Settings, load_settings
from pvd_survey.errors import DomainError, SchemaMismatch, french_message, row_message
from pvd_survey.survey_questions import CSV_COLUMNS
from pvd_survey.vocabulary import ORGANISATION_KINDS, ROLES

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

# Encodings `import-survey --encoding` reads: each writes line ends and delimiters as ASCII does.
IMPORT_ENCODINGS = ("utf-8", "cp1252", "latin-1")

# The services (SQLAlchemy, Alembic, the PDF and chart libraries...) are imported by the commands that use them,
# so that `--help` and a mistyped argument answer at once.


# argparse's own words (Python 3.11+), in French: usage, headings, the help option, argument errors.
ARGPARSE_FRENCH = {
    "usage: ": "utilisation : ",
    "positional arguments": "arguments",
    "options": "options",
    "show this help message and exit": "affiche cette aide et s'arrête",
    "the following arguments are required: %s": "arguments obligatoires manquants : %s",
    "argument %(argument_name)s: %(message)s": "argument %(argument_name)s : %(message)s",
    "invalid choice: %(value)r (choose from %(choices)s)": "choix invalide : %(value)r (choix possibles : %(choices)s)",
    "unrecognized arguments: %s": "arguments inconnus : %s",
    "expected one argument": "une valeur attendue",
    "expected at most one argument": "une valeur au plus attendue",
    "expected at least one argument": "au moins une valeur attendue",
    "expected %s argument": "%s valeur attendue",
    "expected %s arguments": "%s valeurs attendues",
    "not allowed with argument %s": "incompatible avec l'argument %s",
    "one of the arguments %s is required": "l'un des arguments %s est obligatoire",
    "ambiguous option: %(option)s could match %(matches)s": "option ambiguë : %(option)s peut désigner %(matches)s",
    "invalid %(type)s value: %(value)r": "valeur invalide : %(value)r",
    "ignored explicit argument %r": "valeur %r ignorée : cette option n'en prend pas",
    "unexpected option string: %s": "option inattendue : %s",
    "%(prog)s: error: %(message)s\n": "%(prog)s : erreur : %(message)s\n",
    "can't open '%(filename)s': %(error)s": "impossible d'ouvrir « %(filename)s » : %(error)s",
}


def _french(message: str) -> str:
    return ARGPARSE_FRENCH.get(message, message)


def _french_plural(singular: str, plural: str, count: int) -> str:
    return _french(singular if count == 1 else plural)


@contextlib.contextmanager
def _argparse_in_french() -> Iterator[None]:
    """argparse looks its words up through its module's `_` and `ngettext` when it uses them: French meanwhile."""
    saved = argparse._, argparse.ngettext  # type: ignore[attr-defined]
    argparse._, argparse.ngettext = _french, _french_plural  # type: ignore[attr-defined]
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved  # type: ignore[attr-defined]


class _FrenchParser(argparse.ArgumentParser):
    """An argument parser whose help, usage and errors are in French (argparse's own words included)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        with _argparse_in_french():  # the help option's text and the headings are written here
            super().__init__(*args, **kwargs)

    def parse_args(self, *args: Any, **kwargs: Any) -> Any:
        with _argparse_in_french():  # its own error (unknown arguments) is written here
            return super().parse_args(*args, **kwargs)

    def parse_known_args(self, *args: Any, **kwargs: Any) -> Any:
        with _argparse_in_french():
            return super().parse_known_args(*args, **kwargs)

    def format_usage(self) -> str:
        with _argparse_in_french():
            return super().format_usage()

    def format_help(self) -> str:
        with _argparse_in_french():
            return super().format_help()

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"Erreur dans les arguments : {message}\nAide : {self.prog} --help\n")


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
    """Write the steering committee's report (PDF) for a region and a month."""
    from pvd_survey import db, report

    request = report.ReportRequest(region=args.region, month=args.month)
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


def _positive_int_list(text: str) -> list[int]:
    try:
        values = [int(part.replace("_", "")) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"nombres entiers séparés par des virgules attendus, reçu {text!r}") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError("chaque nombre doit être strictement positif")
    return values


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"nombre attendu, reçu {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("doit être strictement positif")
    return value


def _region(text: str) -> str:
    from pvd_survey import territory

    code = text.strip()
    if code not in territory.REGIONS:
        known = ", ".join(f"{c} ({name})" for c, name in territory.REGIONS.items())
        raise argparse.ArgumentTypeError(f"région inconnue « {text} » ; codes INSEE possibles : {known}")
    return code


def _month(text: str) -> date:
    from pvd_survey import overview

    try:
        month = overview.parse_month(text)
    except DomainError as error:
        raise argparse.ArgumentTypeError(french_message(error)) from None
    if month > paris_today():
        raise argparse.ArgumentTypeError(french_message(DomainError("future_month", value=text)))
    return month


def _pdf_path(text: str) -> str:
    path = Path(text)
    if path.suffix.lower() != ".pdf":
        raise argparse.ArgumentTypeError(f"le fichier doit finir par .pdf, reçu « {text} »")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"le dossier « {path.parent} » n'existe pas")
    return text


# The same fault gives the same code whatever the command (README, "Command line").
EXIT_CODES = (
    (0, "fait"),
    (1, "refusé par une règle (rien n'a changé)"),
    (2, "arguments ou configuration invalides"),
    (3, "base de données injoignable"),
    (4, "base de données absente ou pas au schéma de ce code (lancez migrate, ou le code plus récent)"),
)


# The placeholders of the usage lines, in French (argparse would write the option's name in capitals).
METAVARS = {
    "department": "DÉPARTEMENT",
    "email": "ADRESSE",
    "employer": "EMPLOYEUR",
    "file": "FICHIER",
    "import_mb": "MO",
    "interval": "SECONDES",
    "jobs": "NOMBRES",
    "month": "AAAA-MM",
    "name": "NOM",
    "organisation": "ORGANISATION",
    "out": "FICHIER.pdf",
    "region": "RÉGION",
    "sizes": "NOMBRES",
    "start_period": "PÉRIODE",
    "workdir": "DOSSIER",
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the README test that lists every command)."""
    parser = _FrenchParser(
        prog="python -m pvd_survey",
        description="Commandes d'exploitation de l'application PVD.",
        epilog="codes de sortie :\n" + "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="commande", parser_class=_FrenchParser)

    sub = commands.add_parser("migrate", help="met le schéma de la base à jour (idempotent)")
    sub.set_defaults(handler=cmd_migrate)

    sub = commands.add_parser("create-user", help="crée un compte (admin, direction ou recruteur)")
    sub.add_argument("--email", required=True, help="adresse e-mail du compte")
    sub.add_argument("--role", required=True, choices=ROLES, help="rôle du compte")
    sub.add_argument("--name", help="nom affiché (par défaut : début de l'adresse)")
    sub.add_argument("--organisation", help="organisation d'un recruteur : numéro ou nom exact")
    how = sub.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true", help="lit le mot de passe sur l'entrée standard")
    how.add_argument("--no-password", action="store_true", help="compte sans mot de passe (connexion ProConnect)")
    sub.set_defaults(handler=cmd_create_user)

    sub = commands.add_parser("create-organisation", help="ajoute une organisation employeuse")
    sub.add_argument("--name", required=True, help="nom de l'EPCI, de la commune ou de la structure")
    sub.add_argument("--kind", required=True, choices=ORGANISATION_KINDS, help="type d'organisation")
    sub.add_argument("--department", required=True, help="code INSEE du département (ex. 21, 2A, 971)")
    sub.set_defaults(handler=cmd_create_organisation)

    sub = commands.add_parser("send-mail", help="envoie les e-mails en attente par SMTP")
    sub.add_argument("--loop", action="store_true", help="continue jusqu'à Ctrl+C ou SIGTERM")
    sub.add_argument("--interval", type=_positive_float, default=10.0, help="secondes entre deux passages")
    sub.set_defaults(handler=cmd_send_mail)

    sub = commands.add_parser("import-survey", help="importe des réponses passées depuis un CSV (tout ou rien)")
    sub.add_argument("file", help="CSV UTF-8 : " + ",".join(CSV_COLUMNS))
    sub.add_argument(
        "--encoding",
        choices=IMPORT_ENCODINGS,
        default="utf-8",
        help="encodage du fichier (défaut : utf-8 ; cp1252 pour un CSV enregistré par un ancien Excel)",
    )
    sub.set_defaults(handler=cmd_import_survey)

    sub = commands.add_parser("export-survey", help="exporte les réponses anonymes au format d'import")
    sub.add_argument("file", help="fichier CSV à écrire (- pour la sortie standard)")
    sub.add_argument(
        "--excel",
        action="store_true",
        help="pour Excel en français (séparateur point-virgule) ; par défaut, pour les outils (virgule)",
    )
    sub.set_defaults(handler=cmd_export_survey)

    sub = commands.add_parser("stats", help="affiche les chiffres du tableau de bord (protégés)")
    sub.add_argument("--region", help="code INSEE de la région (ex. 27)")
    sub.add_argument("--department", help="code INSEE du département (ex. 21)")
    sub.add_argument("--employer", help="epci, commune ou autre")
    sub.add_argument("--start-period", help="2020, 2021-S1, 2021-S2, 2022-S1…")
    sub.add_argument("--format", choices=("json", "csv"), default="json", help="format de sortie")
    sub.set_defaults(handler=cmd_stats)

    sub = commands.add_parser("report", help="écrit le rapport au comité de pilotage (PDF, chiffres protégés)")
    sub.add_argument("--region", type=_region, help="code INSEE de la région (ex. 27) ; par défaut la France entière")
    sub.add_argument("--month", type=_month, help="mois décrit, AAAA-MM (par défaut : les 30 derniers jours)")
    sub.add_argument("--out", type=_pdf_path, required=True, help="fichier PDF à écrire (ex. rapport.pdf)")
    sub.set_defaults(handler=cmd_report)

    sub = commands.add_parser("bench", help="mesure les performances sur des données générées")
    sub.add_argument(
        "--sizes",
        type=_positive_int_list,
        default=[10_000, 1_000_000],
        help="nombres de réponses, séparés par des virgules (défaut : 10000,1000000)",
    )
    sub.add_argument("--workdir", default=None, help="dossier des bases temporaires (défaut : un dossier temporaire)")
    sub.add_argument(
        "--section",
        choices=("all", "survey", "report", "jobs", "meetings", "door", "import", "signin", "proxy", "web"),
        default="all",
        help=(
            "questionnaire, rapport PDF, offres d'emploi, rencontres, accueil (billets scannés), import-survey, "
            "inscriptions pendant des connexions, ou tout ; proxy (à part : inscriptions par minute à travers "
            "nginx avec un et deux processus, sur PostgreSQL, avec Chromium) ; web (à part : CPU du serveur par "
            "page vue et par action, pages simultanées et mémoire par tableau de bord ouvert, avec Chromium)"
        ),
    )
    sub.add_argument(
        "--postgresql",
        metavar="URL_ADMIN",
        help="mesure aussi chaque partie sur PostgreSQL, dans des bases jetables créées par cette URL d'administration",
    )
    sub.add_argument(
        "--jobs",
        type=_positive_int_list,
        default=[5_000, 200_000],
        help="offres et candidatures du banc d'essai des offres d'emploi (défaut : 5000,200000)",
    )
    sub.add_argument(
        "--import-mb",
        type=_positive_float,
        default=50.0,
        help="taille en Mo du fichier généré pour le banc d'essai d'import-survey (défaut : 50)",
    )
    sub.set_defaults(handler=cmd_bench)

    sub = commands.add_parser("seed-demo", help="ajoute des données de démonstration réalistes")
    sub.add_argument(
        "--force", action="store_true", help="ajoute les données même si la base contient des données réelles"
    )
    sub.set_defaults(handler=cmd_seed_demo)

    sub = commands.add_parser(
        "purge", help="supprime ou anonymise les données personnelles arrivées au bout de leur conservation"
    )
    sub.add_argument("--dry-run", action="store_true", help="affiche ce qui serait supprimé, sans rien effacer")
    sub.set_defaults(handler=cmd_purge)
    for command in commands.choices.values():
        for action in command._actions:
            if action.dest in METAVARS and action.metavar is None and not action.choices:
                action.metavar = METAVARS[action.dest]
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code."""
    args = build_parser().parse_args(argv)
    from sqlalchemy.exc import OperationalError

    handler: Callable[[argparse.Namespace, Settings], int] = args.handler
    try:
        settings = load_settings()
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return 2
    try:
        return handler(args, settings)
    except SchemaMismatch as error:
        print(french_message(error), file=sys.stderr)
        return 4
    except DomainError as error:
        print(f"Refusé : {french_message(error)}", file=sys.stderr)
        return 1
    except OperationalError as error:
        print(f"Base de données injoignable : {str(error.orig).strip()}", file=sys.stderr)
        return 3
