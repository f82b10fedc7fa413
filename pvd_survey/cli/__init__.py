"""Operator command line: `python -m pvd_survey <command> --help`.

Exit codes: 0 done, 1 refused by a rule (message says why), 2 bad arguments or configuration,
3 database unreachable.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from pvd_survey.cli.arguments import EXIT_CODES, build_parser
from pvd_survey.config import ConfigError, Settings, load_settings
from pvd_survey.errors import DomainError, InvalidAnswers, SchemaMismatch, french_message

__all__ = ["EXIT_CODES", "build_parser", "main"]


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
    except InvalidAnswers as error:  # several fields wrong at once (a form's checks): each on its line
        print("Refusé :\n" + "\n".join(f"- {french_message(one)}" for one in error.errors.values()), file=sys.stderr)
        return 1
    except DomainError as error:
        print(f"Refusé : {french_message(error)}", file=sys.stderr)
        return 1
    except OperationalError as error:
        print(f"Base de données injoignable : {str(error.orig).strip()}", file=sys.stderr)
        return 3
