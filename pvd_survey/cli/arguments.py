"""The command line's parser: its commands and arguments, argparse's own words in French, the argument checks."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

from pvd_survey.cli import commands as handlers
from pvd_survey.cli.commands import IMPORT_ENCODINGS
from pvd_survey.clock import paris_today
from pvd_survey.errors import DomainError, french_message
from pvd_survey.survey_questions import CSV_COLUMNS
from pvd_survey.vocabulary import ORGANISATION_KINDS, ROLES

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
    sub.set_defaults(handler=handlers.cmd_migrate)

    sub = commands.add_parser("create-user", help="crée un compte (admin, direction ou recruteur)")
    sub.add_argument("--email", required=True, help="adresse e-mail du compte")
    sub.add_argument("--role", required=True, choices=ROLES, help="rôle du compte")
    sub.add_argument("--name", help="nom affiché (par défaut : début de l'adresse)")
    sub.add_argument("--organisation", help="organisation d'un recruteur : numéro ou nom exact")
    how = sub.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true", help="lit le mot de passe sur l'entrée standard")
    how.add_argument("--no-password", action="store_true", help="compte sans mot de passe (connexion ProConnect)")
    sub.set_defaults(handler=handlers.cmd_create_user)

    sub = commands.add_parser("create-organisation", help="ajoute une organisation employeuse")
    sub.add_argument("--name", required=True, help="nom de l'EPCI, de la commune ou de la structure")
    sub.add_argument("--kind", required=True, choices=ORGANISATION_KINDS, help="type d'organisation")
    sub.add_argument("--department", required=True, help="code INSEE du département (ex. 21, 2A, 971)")
    sub.set_defaults(handler=handlers.cmd_create_organisation)

    sub = commands.add_parser("send-mail", help="envoie les e-mails en attente par SMTP")
    sub.add_argument("--loop", action="store_true", help="continue jusqu'à Ctrl+C ou SIGTERM")
    sub.add_argument("--interval", type=_positive_float, default=10.0, help="secondes entre deux passages")
    sub.set_defaults(handler=handlers.cmd_send_mail)

    sub = commands.add_parser("import-survey", help="importe des réponses passées depuis un CSV (tout ou rien)")
    sub.add_argument("file", help="CSV UTF-8 : " + ",".join(CSV_COLUMNS))
    sub.add_argument(
        "--encoding",
        choices=IMPORT_ENCODINGS,
        default="utf-8",
        help="encodage du fichier (défaut : utf-8 ; cp1252 pour un CSV enregistré par un ancien Excel)",
    )
    sub.set_defaults(handler=handlers.cmd_import_survey)

    sub = commands.add_parser("export-survey", help="exporte les réponses anonymes au format d'import")
    sub.add_argument("file", help="fichier CSV à écrire (- pour la sortie standard)")
    sub.add_argument(
        "--excel",
        action="store_true",
        help="pour Excel en français (séparateur point-virgule) ; par défaut, pour les outils (virgule)",
    )
    sub.set_defaults(handler=handlers.cmd_export_survey)

    sub = commands.add_parser("stats", help="affiche les chiffres du tableau de bord (protégés)")
    sub.add_argument("--region", help="code INSEE de la région (ex. 27)")
    sub.add_argument("--department", help="code INSEE du département (ex. 21)")
    sub.add_argument("--employer", help="epci, commune ou autre")
    sub.add_argument("--start-period", help="2020, 2021-S1, 2021-S2, 2022-S1…")
    sub.add_argument("--format", choices=("json", "csv"), default="json", help="format de sortie")
    sub.set_defaults(handler=handlers.cmd_stats)

    sub = commands.add_parser("report", help="écrit le rapport au comité de pilotage (PDF, chiffres protégés)")
    sub.add_argument("--region", type=_region, help="code INSEE de la région (ex. 27) ; par défaut la France entière")
    sub.add_argument("--department", help="code INSEE du département (ex. 21), comme le filtre du tableau de bord")
    sub.add_argument("--employer", help="epci, commune ou autre, comme le filtre du tableau de bord")
    sub.add_argument("--start-period", help="2020, 2021-S1, 2021-S2, 2022-S1…, comme le filtre du tableau de bord")
    sub.add_argument("--month", type=_month, help="mois décrit, AAAA-MM (par défaut : les 30 derniers jours)")
    sub.add_argument("--out", type=_pdf_path, required=True, help="fichier PDF à écrire (ex. rapport.pdf)")
    sub.set_defaults(handler=handlers.cmd_report)

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
    sub.set_defaults(handler=handlers.cmd_bench)

    sub = commands.add_parser("seed-demo", help="ajoute des données de démonstration réalistes")
    sub.add_argument(
        "--force", action="store_true", help="ajoute les données même si la base contient des données réelles"
    )
    sub.set_defaults(handler=handlers.cmd_seed_demo)

    sub = commands.add_parser(
        "purge", help="supprime ou anonymise les données personnelles arrivées au bout de leur conservation"
    )
    sub.add_argument("--dry-run", action="store_true", help="affiche ce qui serait supprimé, sans rien effacer")
    sub.set_defaults(handler=handlers.cmd_purge)
    for command in commands.choices.values():
        for action in command._actions:
            if action.dest in METAVARS and action.metavar is None and not action.choices:
                action.metavar = METAVARS[action.dest]
    return parser
