"""The chef de projet profile survey: questions, answer codes, French labels, the May 2022 baseline,
and the validation of one set of answers. Pure Python, no database.

Copied from the programme's reference files so the app never reads ../shared at run time.
Codes are stored; labels are shown. "Je ne souhaite pas répondre" is stored as no answer (NULL).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from pvd_survey import french, territory
from pvd_survey.errors import DomainError, InvalidAnswers  # (InvalidAnswers is still importable from here)

NO_ANSWER = "nsp"
NO_ANSWER_LABEL = "Je ne souhaite pas répondre"
FIRST_START_MONTH = "2020-01"  # the programme started in late 2020


@dataclass(frozen=True)
class Question:
    """One question of the survey (or a figure derived from the answers)."""

    code: str
    label: str
    kind: str  # "month", "single" or "multiple"
    options: dict[str, str] = field(default_factory=dict)


START_MONTH = Question("start_month", "Date de prise de poste (mois et année)", "month")
EMPLOYER = Question(
    "employer",
    "Employeur",
    "single",
    {
        "epci": "Un EPCI (intercommunalité)",
        "commune": "Une commune",
        "autre": "Une autre structure (agence de développement, centre de gestion, PETR…)",
    },
)
GENDER = Question("gender", "Genre", "single", {"femme": "Femme", "homme": "Homme", "autre": "Autre"})
EXPERIENCE = Question(
    "experience",
    "Expérience professionnelle",
    "single",
    {
        "lt1": "Moins d'un an",
        "1to5": "Entre un et cinq ans",
        "5to20": "Entre cinq et vingt ans",
        "gt20": "Plus de vingt ans",
    },
)
DIPLOMA = Question(
    "diploma",
    "Diplôme le plus élevé",
    "single",
    {"bac2_3": "Bac+2 ou bac+3", "bac4_5": "Bac+4 ou bac+5", "doctorat": "Doctorat", "autre": "Autre diplôme"},
)
TRAINING_FIELD = Question(
    "training_field",
    "Domaine(s) principal(aux) de formation",
    "multiple",
    {
        "urbanisme_amenagement": "Urbanisme et aménagement",
        "sciences_sociales": "Sciences sociales",
        "developpement_territorial": "Développement territorial",
        "droit_gestion": "Droit et gestion",
        "architecture": "Architecture",
        "environnement_ecologie_agronomie": "Environnement, écologie, agronomie",
        "economie_finance_commerce": "Économie, finance et commerce",
        "autre": "Autre domaine",
    },
)
DEPARTMENT = Question(
    "department",
    "Département du poste",
    "single",
    {code: territory.department_label(code) for code in territory.DEPARTMENTS},
)

# What the respondent answers, in form order (also the CSV column order).
QUESTIONS: tuple[Question, ...] = (START_MONTH, EMPLOYER, GENDER, EXPERIENCE, DIPLOMA, TRAINING_FIELD, DEPARTMENT)
QUESTIONS_BY_CODE = {q.code: q for q in QUESTIONS}
CSV_COLUMNS = tuple(q.code for q in QUESTIONS)

# Questions whose options are counted in the pre-aggregated table (the others are its dimensions).
COUNTED_QUESTIONS: tuple[Question, ...] = (GENDER, EXPERIENCE, DIPLOMA, TRAINING_FIELD)

BASELINE_SOURCE = (
    "Enquête de la direction du programme Petites villes de demain auprès des chefs de projet en poste, "
    "mai 2022 (704 formulaires), « Point d'avancement du programme », mai 2022"
)
BASELINE_RESPONDENTS = 704
# Published shares, in percent of respondents. Training fields could be several (total 117 %).
BASELINE_2022: dict[str, dict[str, int]] = {
    "start_period": {"2020": 2, "2021-S1": 13, "2021-S2": 61, "2022": 24},
    "employer": {"epci": 61, "commune": 38, "autre": 1},
    "gender": {"femme": 70, "homme": 30},
    "experience": {"lt1": 17, "1to5": 20, "5to20": 46, "gt20": 17},
    "diploma": {"bac4_5": 88, "bac2_3": 7, "doctorat": 4, "autre": 1},
    "training_field": {
        "urbanisme_amenagement": 64,
        "sciences_sociales": 18,
        "developpement_territorial": 13,
        "droit_gestion": 7,
        "architecture": 7,
        "environnement_ecologie_agronomie": 4,
        "economie_finance_commerce": 4,
    },
}

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def start_period(start_month: str | None) -> str | None:
    """Period of a 'YYYY-MM' start month: '2020', then 'YYYY-S1' (Jan-Jun) or 'YYYY-S2' (Jul-Dec)."""
    if not start_month:
        return None
    year, month = int(start_month[:4]), int(start_month[5:7])
    if year < 2021:
        return str(year)
    return f"{year}-S{1 if month <= 6 else 2}"


def baseline_period(period: str) -> str | None:
    """The 2022 baseline bucket a live period compares with ('2022-S1' -> '2022'), None if there is none."""
    # The May 2022 survey's "2022" bucket covers January to May 2022: only the first half-year matches it.
    if period == "2022-S1":
        return "2022"
    return None if period.startswith("2022") else period


def period_options(today: date) -> dict[str, str]:
    """Every start period from 2020 to today's, with its French label."""
    periods = {"2020": "2020"}
    for year in range(2021, today.year + 1):
        periods[f"{year}-S1"] = f"1er semestre {year}"
        if year < today.year or today.month >= 7:
            periods[f"{year}-S2"] = f"2d semestre {year}"
    return periods


MONTH_NAMES = french.MONTHS


def month_options(today: date | None = None) -> dict[str, str]:
    """Start months a respondent may choose, newest first: '2021-09' -> 'septembre 2021'."""
    today = today or date.today()
    months = {}
    for year in range(today.year, 2019, -1):
        for month in range(12, 0, -1):
            if (year, month) <= (today.year, today.month):
                months[f"{year:04d}-{month:02d}"] = f"{MONTH_NAMES[month - 1]} {year}"
    return months


def option_label(question_code: str, option: str) -> str:
    """French label of an answer code (periods and regions included)."""
    if question_code == "start_period":
        if option == "2020":
            return "2020"
        year, half = option.split("-S") if "-S" in option else (option, "")
        return f"{'1er' if half == '1' else '2d'} semestre {year}" if half else option
    if question_code == "region":
        return territory.REGIONS.get(option, option)
    question = QUESTIONS_BY_CODE.get(question_code)
    return question.options.get(option, option) if question else option


@dataclass(frozen=True)
class Answers:
    """One validated set of answers; None (or an empty tuple) means no answer."""

    start_month: str | None
    employer: str | None
    gender: str | None
    experience: str | None
    diploma: str | None
    training_field: tuple[str, ...]
    department: str | None

    @property
    def start_period(self) -> str | None:
        """The derived start period."""
        return start_period(self.start_month)

    @property
    def region(self) -> str | None:
        """Region of the post's department."""
        return territory.region_of_department(self.department) if self.department else None

    def as_form(self) -> dict[str, object]:
        """The answers as form values (no answer shown as 'Je ne souhaite pas répondre')."""
        values: dict[str, object] = {q.code: getattr(self, q.code) or NO_ANSWER for q in QUESTIONS}
        values["training_field"] = list(self.training_field) or [NO_ANSWER]
        return values


def multiple_items(value: object) -> Iterable[object]:
    """The items of a multiple answer as given (a list from a form or a draft); none for a missing value."""
    if not value:
        return ()
    if not isinstance(value, Iterable):
        raise TypeError(f"a multiple answer is a list, not a {type(value).__name__}")
    return value


def _month_error(value: str, today: date) -> DomainError | None:
    match = _MONTH.match(value)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        return DomainError("bad_month", value=value)
    if value < FIRST_START_MONTH:
        return DomainError("month_too_early", value=value)
    if value > f"{today.year:04d}-{today.month:02d}":
        return DomainError("month_in_future", value=value)
    return None


def validate_answers(raw: dict[str, object], today: date, required: bool = True) -> Answers:
    """Check every answer; raise InvalidAnswers listing each bad one. `required`: a form must answer all."""
    errors: dict[str, DomainError] = {}
    clean: dict[str, str | None] = {}
    clean_multiple: dict[str, tuple[str, ...]] = {}
    for question in QUESTIONS:
        value = raw.get(question.code)
        if question.kind == "multiple":
            given = [value] if isinstance(value, str) else list(multiple_items(value))
            values = [str(v).strip() for v in given if str(v).strip()]
            if not values:
                if required:
                    errors[question.code] = DomainError("answer_required", field=question.code)
                clean_multiple[question.code] = ()
            elif NO_ANSWER in values:
                if len(values) > 1:
                    errors[question.code] = DomainError("no_answer_exclusive", field=question.code)
                clean_multiple[question.code] = ()
            else:
                unknown = [v for v in values if v not in question.options]
                if unknown:
                    errors[question.code] = DomainError("unknown_code", field=question.code, value=unknown[0])
                # Keep the options' order, once each, whatever the order of the input.
                clean_multiple[question.code] = tuple(code for code in question.options if code in values)
            continue
        text = "" if value is None else str(value).strip()
        if not text:
            if required:
                errors[question.code] = DomainError("answer_required", field=question.code)
            clean[question.code] = None
        elif text == NO_ANSWER:
            clean[question.code] = None
        elif question.kind == "month":
            error = _month_error(text, today)
            if error is not None:
                errors[question.code] = error
            clean[question.code] = text
        elif question.code == "department":
            code = territory.normalise_department(text)
            if code is None:
                errors[question.code] = DomainError("unknown_code", field=question.code, value=text)
            clean[question.code] = code
        else:
            if text not in question.options:
                errors[question.code] = DomainError("unknown_code", field=question.code, value=text)
            clean[question.code] = text
    if errors:
        for code, error in errors.items():
            error.field = code
        raise InvalidAnswers(errors)
    return Answers(
        start_month=clean["start_month"],
        employer=clean["employer"],
        gender=clean["gender"],
        experience=clean["experience"],
        diploma=clean["diploma"],
        training_field=clean_multiple["training_field"],
        department=clean["department"],
    )
