"""Every domain error lives in errors.py with a code, and every code raised has its French sentence."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pvd_survey import errors, survey, survey_questions
from pvd_survey.errors import MESSAGES, DomainError, ImportRejected, InvalidAnswers, RowError

pytestmark = pytest.mark.database_independent

PACKAGE = Path(errors.__file__).resolve().parent


def test_every_error_class_is_a_domain_error_defined_in_errors_py():
    subclass = re.compile(r"^class \w+\((\w+\.)?DomainError\)", re.M)
    defined = {path.name for path in PACKAGE.rglob("*.py") if subclass.search(path.read_text(encoding="utf-8"))}
    assert defined == {"errors.py"}
    assert issubclass(InvalidAnswers, DomainError) and issubclass(ImportRejected, DomainError)
    # The former homes still give the same classes.
    assert survey_questions.InvalidAnswers is InvalidAnswers
    assert survey.ImportRejected is ImportRejected and survey.RowError is RowError


def test_every_code_raised_has_a_french_message():
    source = "".join(path.read_text(encoding="utf-8") for path in PACKAGE.rglob("*.py") if path.name != "errors.py")
    codes = set(re.findall(r'DomainError\(\s*"([a-z_0-9]+)"', source))
    codes |= set(re.findall(r'RowError\(\s*\w+,\s*"([a-z_0-9]+)"', source))
    assert {"field_required", "row_bad_header", "row_column_count", "row_email_taken"} <= codes  # (both kinds found)
    assert codes - set(MESSAGES) == set()
    # A line's reason is always a code: never French text (an f-string or a sentence) built in a service.
    assert re.findall(r'RowError\(\s*\w+,\s*(?!\s|"[a-z_0-9]+"|error\.code\b)[^,)]+', source) == []


def test_row_message_gives_the_line_the_column_and_the_french_sentence():
    assert errors.row_message(RowError(4, "unknown_code", {"value": "mairie"}, "employer")) == (
        f"ligne 4 : employer : {MESSAGES['unknown_code'].format(value='mairie')}"
    )
    assert errors.row_message(RowError(1, "row_empty_file")) == f"ligne 1 : {MESSAGES['row_empty_file']}"


def test_import_rejected_counts_lines_not_problems():
    rejected = ImportRejected(
        [RowError(3, "answer_required", column="gender"), RowError(3, "bad_month", {"value": "x"}, "start_month")]
    )
    assert rejected.code == "import_rejected" and rejected.params == {"count": 1}


def test_field_checks_report_every_field_at_once_and_a_single_error_as_it_is():
    checks = errors.FieldChecks()
    with checks:
        raise DomainError("display_name_required", field="display_name")
    with checks:
        pass  # a field that passes
    with checks:
        raise DomainError("department_required", field="department")
    with checks:
        raise DomainError("unknown_department", field="department")  # the field's first problem is kept
    with pytest.raises(InvalidAnswers) as raised:
        checks.raise_errors()
    assert {field: error.code for field, error in raised.value.errors.items()} == {
        "display_name": "display_name_required",
        "department": "department_required",
    }

    one = errors.FieldChecks()
    with one:
        raise DomainError("file_required", field="cv")
    with pytest.raises(DomainError) as raised_one:
        one.raise_errors()
    assert raised_one.value.code == "file_required" and not isinstance(raised_one.value, InvalidAnswers)
    errors.FieldChecks().raise_errors()  # nothing found: nothing raised
    with pytest.raises(KeyError), errors.FieldChecks():
        raise KeyError("bug")  # not a rule of the domain: a bug, never kept as a form's error


def test_a_refused_forms_summary_lists_each_error_with_its_label_in_the_forms_order():
    labels = {"full_name": "Nom", "email": "Adresse e-mail", "consent": "J'accepte"}
    summary = errors.form_summary(
        {"consent": "Cochez la case.", "": "Rencontre complète.", "full_name": "Le nom."}, labels
    )
    assert summary.splitlines() == [
        "Le formulaire n'a pas été envoyé : 2 champ(s) à corriger.",
        "",
        "- Rencontre complète.",  # an error of no field first
        "- **Nom** : Le nom.",
        "- **J'accepte** : Cochez la case.",
    ]
    assert errors.form_summary({"": "Service indisponible."}, labels).startswith("Le formulaire n'a pas été envoyé.\n")
    assert errors.errors_by_field(DomainError("file_required", field="cv")).keys() == {"cv"}
    assert errors.errors_by_field(DomainError("database_busy")).keys() == {errors.GENERAL}
