"""Survey figures for the dashboard, downloads and `python -m pvd_survey stats`: one computation,
read from the released totals (survey/totals.py), with disclosure control applied before anything leaves.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from pvd_survey import exports, survey, territory
from pvd_survey.clock import paris_today, utcnow
from pvd_survey.config import Settings
from pvd_survey.disclosure import DEFAULT_K, KEY_SPACE, ZERO, Cell, Tally, perturb, protect_table, publish_table
from pvd_survey.errors import DomainError
from pvd_survey.models import JobApplication, Registration, SurveyInvitation, SurveyReleaseLog
from pvd_survey.survey.totals import (
    ANSWERED_PREFIX,
    CELL_INDEX,
    CELLS,
    DEPARTMENT_AXIS,
    DEPARTMENT_INDEX,
    EMPLOYER_AXIS,
    EMPLOYER_INDEX,
    LINK_RESPONDENTS,
    RESPONDENTS,
    Totals,
)
from pvd_survey.survey_questions import (
    BASELINE_2022,
    DEPARTMENT,
    DIPLOMA,
    EMPLOYER,
    EXPERIENCE,
    GENDER,
    TRAINING_FIELD,
    baseline_period,
    option_label,
    period_options,
)

# Figures in display order: (code, label, multiple choice?)
FIGURES: tuple[tuple[str, str, bool], ...] = (
    ("start_period", "Période de prise de poste", False),
    ("employer", EMPLOYER.label, False),
    ("gender", GENDER.label, False),
    ("experience", EXPERIENCE.label, False),
    ("diploma", DIPLOMA.label, False),
    ("training_field", TRAINING_FIELD.label, True),
    ("region", "Région du poste", False),
    ("department", DEPARTMENT.label, False),
)
FIGURE_LABELS = {code: label for code, label, _ in FIGURES}


@dataclass(frozen=True)
class Filters:
    """Dashboard filters; None means 'all'."""

    region: str | None = None
    department: str | None = None
    employer: str | None = None
    start_period: str | None = None

    @property
    def active(self) -> bool:
        """True when at least one filter narrows the population."""
        return any((self.region, self.department, self.employer, self.start_period))

    def describe(self) -> str:
        """The filters in French, for captions and file headers."""
        parts = []
        if self.region:
            parts.append(f"région {territory.REGIONS[self.region]}")
        if self.department:
            parts.append(f"département {territory.department_label(self.department)}")
        if self.employer:
            parts.append(f"employeur {EMPLOYER.options[self.employer].lower()}")
        if self.start_period:
            parts.append(f"prise de poste {option_label('start_period', self.start_period)}")
        return ", ".join(parts) if parts else "tous les répondants"


def make_filters(
    region: str | None = None,
    department: str | None = None,
    employer: str | None = None,
    start_period: str | None = None,
    today: date | None = None,
) -> Filters:
    """Validate filter values typed in a URL or on the command line."""
    region = (region or "").strip() or None
    if region is not None and region not in territory.REGIONS:
        raise DomainError("unknown_filter", field="region", name="région", value=region)
    department_code = None
    if department:
        department_code = territory.normalise_department(department)
        if department_code is None:
            raise DomainError("unknown_filter", field="department", name="département", value=department)
        if region is not None and territory.region_of_department(department_code) != region:
            raise DomainError("filter_mismatch", field="department", department=department_code)
    employer = (employer or "").strip() or None
    if employer is not None and employer not in EMPLOYER.options:
        raise DomainError("unknown_filter", field="employer", name="employeur", value=employer)
    start_period = (start_period or "").strip() or None
    if start_period is not None and start_period not in period_options(today or paris_today()):
        raise DomainError("unknown_filter", field="start_period", name="période", value=start_period)
    return Filters(region, department_code, employer, start_period)


@dataclass(frozen=True)
class FigureStats:
    """One question's published figures."""

    code: str
    label: str
    multiple: bool
    answered: int | None
    cells: dict[str, Cell]


@dataclass(frozen=True)
class SurveyStats:
    """Everything the dashboard shows for one filter combination, already protected."""

    filters: Filters
    k: int
    respondents: int | None  # None: hidden (fewer than k people, maybe none, match the filters)
    figures: dict[str, FigureStats] = field(default_factory=dict)

    @property
    def isolated(self) -> bool:
        """True when the filters match fewer than k people (maybe none): nothing may be shown."""
        return self.respondents is None

    def to_json(self) -> dict:
        """The documented JSON shape of `stats --format json`."""
        questions = {}
        for code, figure in self.figures.items():
            options = {}
            for option, cell in figure.cells.items():
                options[option] = (
                    {"count": None, "share": None, "suppressed": True}
                    if cell.suppressed
                    else {"count": cell.count, "share": cell.share}
                )
            questions[code] = {"answered": figure.answered, "options": options}
        result: dict = {"respondents": self.respondents, "questions": questions}
        if self.isolated:
            result["suppressed"] = True
        return result


def _figure_options(code: str, today: date) -> list[str]:
    if code == "start_period":
        return list(period_options(today))
    if code == "region":
        return list(territory.REGIONS)
    if code == "department":
        return list(territory.DEPARTMENTS)
    return list(
        {
            "employer": EMPLOYER,
            "gender": GENDER,
            "experience": EXPERIENCE,
            "diploma": DIPLOMA,
            "training_field": TRAINING_FIELD,
        }[code].options
    )


def survey_stats(
    session: Session, filters: Filters, k: int = DEFAULT_K, today: date | None = None, *, settings: Settings
) -> SurveyStats:
    """Every dashboard figure for one filter combination, small cells hidden and the others perturbed."""
    return stats_of_totals(survey.current_totals(session, settings), filters, k, today)


_ALL_CELLS = np.arange(len(CELLS))
_REGION_OF_DEPARTMENT = np.array(
    [territory.region_of_department(code) if code else "" for code in DEPARTMENT_AXIS], dtype=object
)


def _positions(totals: Totals, filters: Filters) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Department, employer and period positions selected by the filters."""
    if filters.department:
        places = np.array([DEPARTMENT_INDEX[filters.department]])
    elif filters.region:
        places = np.array([DEPARTMENT_INDEX[code] for code in territory.departments_of_region(filters.region)])
    else:
        places = np.arange(len(DEPARTMENT_AXIS))
    employers = np.array([EMPLOYER_INDEX[filters.employer]]) if filters.employer else np.arange(len(EMPLOYER_AXIS))
    if filters.start_period:
        period = totals.period_index(filters.start_period)
        periods = np.array([], dtype=int) if period is None else np.array([period])
    else:
        periods = np.arange(len(totals.periods))
    return places, employers, periods


def stats_of_totals(totals: Totals, filters: Filters, k: int = DEFAULT_K, today: date | None = None) -> SurveyStats:
    """The protected figures of one filter combination, from the released totals (pure)."""
    today = today or paris_today()
    places, employers, periods = _positions(totals, filters)
    block = np.ix_(places, employers, periods, _ALL_CELLS)
    counts, keys = totals.counts[block], totals.keys[block]
    at_key = counts.sum(axis=(0, 1, 2))
    key_at = keys.sum(axis=(0, 1, 2)) % KEY_SPACE

    def tally(cell: tuple[str, str]) -> Tally:
        number = CELL_INDEX[cell]
        return Tally(int(at_key[number]), int(key_at[number]))

    respondents = tally((RESPONDENTS, ""))
    if respondents.count < k:  # zero included: "nobody" must look like "too few"
        hidden = {
            code: FigureStats(code, label, multiple, None, {o: Cell(None, None) for o in _figure_options(code, today)})
            for code, label, multiple in FIGURES
        }
        return SurveyStats(filters, k, None, hidden)

    raw: dict[str, dict[str, Tally]] = defaultdict(dict)
    answered_multiple: dict[str, Tally] = {}
    for question, option in CELLS:
        if question in (RESPONDENTS, LINK_RESPONDENTS):
            continue
        if question.startswith(ANSWERED_PREFIX):
            answered_multiple[question.removeprefix(ANSWERED_PREFIX)] = tally((question, option))
        else:
            raw[question][option] = tally((question, option))

    # The dimension figures: respondents with one dimension left free (a filtered one shows its value only).
    respondent = CELL_INDEX[(RESPONDENTS, "")]
    people, people_keys = counts[..., respondent], keys[..., respondent]

    def along(axis: int, labels) -> dict[str, Tally]:
        others = tuple(a for a in range(3) if a != axis)
        sums, key_sums = people.sum(axis=others), people_keys.sum(axis=others) % KEY_SPACE
        return {
            labels[i]: Tally(int(sums[n]), int(key_sums[n])) for n, i in enumerate((places, employers, periods)[axis])
        }

    raw["employer"] = along(1, EMPLOYER_AXIS)
    raw["start_period"] = along(2, totals.periods)
    by_department = along(0, DEPARTMENT_AXIS)
    raw["department"] = by_department
    regions: dict[str, Tally] = defaultdict(lambda: ZERO)
    for code, value in by_department.items():
        regions[territory.region_of_department(code) if code else ""] += value
    raw["region"] = {region: Tally(value.count, value.key_sum % KEY_SPACE) for region, value in regions.items()}

    figures = {}
    for code, label, multiple in FIGURES:
        by_option = raw.get(code, {})
        options = {option: by_option.get(option, ZERO) for option in _figure_options(code, today)}
        for extra in by_option:  # answers outside today's known options (e.g. a future period imported)
            if extra and extra not in options and by_option[extra].count:
                options[extra] = by_option[extra]
        answered = answered_multiple.get(code, ZERO) if multiple else sum(options.values(), ZERO)
        base, protected = protect_table(options, answered, k, additive=not multiple)
        figures[code] = FigureStats(code, label, multiple, base, protected)
    return SurveyStats(filters, k, perturb(respondents, k), figures)


def stats_rows(stats: SurveyStats) -> list[dict[str, object]]:
    """Flat rows (one per figure and option) with labels and the 2022 comparison, for tables and CSV."""
    rows: list[dict[str, object]] = []
    for code, figure in stats.figures.items():
        baseline = BASELINE_2022.get(code, {})
        for option, cell in figure.cells.items():
            compared = baseline_period(option) if code == "start_period" else option
            reference = None if compared is None else baseline.get(compared)
            rows.append(
                {
                    "question": code,
                    "question_label": figure.label,
                    "option": option,
                    "option_label": option_label(code, option),
                    "answered": figure.answered,
                    "count": cell.count,
                    "share": cell.share,
                    "suppressed": cell.suppressed,
                    "share_2022": reference,
                    "difference_points": (
                        round(cell.share - reference, 1) if reference is not None and cell.share is not None else None
                    ),
                }
            )
    return rows


CSV_HEADER = (
    "question",
    "question_label",
    "option",
    "option_label",
    "answered",
    "count",
    "share",
    "suppressed",
    "share_2022",
    "difference_points",
)


def stats_csv(stats: SurveyStats, dialect: exports.CsvDialect = exports.TOOLS) -> str:
    """The protected figures as CSV, by the app's one export writer: exports.TOOLS (`,`, no BOM) for programs
    and the command line's output, exports.PEOPLE (`;`, BOM, decimal comma) for French Excel."""
    return exports.csv_text(CSV_HEADER, ([row[key] for key in CSV_HEADER] for row in stats_rows(stats)), dialect)


# ---------------------------------------------------------------------------- invitation funnel


@dataclass(frozen=True)
class FunnelRow:
    """One region: people invited (by the department given at invitation) and answers published through a
    link (by the department given in the answers); None when hidden."""

    region: str
    label: str
    invited: int | None
    answered: int | None


def invitation_funnel(session: Session, settings: Settings, k: int = DEFAULT_K) -> list[FunnelRow]:
    """Invited and answered by region, each column protected; whether one person answered is never read."""
    invited: dict[str, Tally] = defaultdict(lambda: ZERO)
    rows = session.execute(
        select(SurveyInvitation.department, func.count(), func.sum(SurveyInvitation.record_key))
        .where(SurveyInvitation.status == "active")
        .group_by(SurveyInvitation.department)
    ).all()
    for department, count, key_sum in rows:
        invited[territory.region_of_department(department) if department else ""] += Tally(count, int(key_sum or 0))
    totals = survey.current_totals(session, settings)
    linked = CELL_INDEX[(LINK_RESPONDENTS, "")]
    by_department_count = totals.counts[..., linked].sum(axis=(1, 2))
    by_department_key = totals.keys[..., linked].sum(axis=(1, 2))
    answered: dict[str, Tally] = defaultdict(lambda: ZERO)
    for position, region in enumerate(_REGION_OF_DEPARTMENT):
        answered[region] += Tally(int(by_department_count[position]), int(by_department_key[position]))
    regions = sorted(
        {r for r, t in invited.items() if t.count} | {r for r, t in answered.items() if t.count},
        key=lambda r: (r == "", r),
    )
    published_invited = publish_table({region: invited.get(region, ZERO) for region in regions}, k)
    published_answered = publish_table({region: answered.get(region, ZERO) for region in regions}, k)
    return [
        FunnelRow(
            region,
            territory.REGIONS.get(region, "Région non renseignée"),
            published_invited[region],
            published_answered[region],
        )
        for region in regions
    ]


# ---------------------------------------------------------------------------- activity over time

ACTIVITY_KINDS = {
    "survey": "Réponses au questionnaire",
    "applications": "Candidatures",
    "registrations": "Inscriptions aux rencontres",
}


@dataclass(frozen=True)
class ActivityWeek:
    """One week (from Monday) of one kind of activity; count None when hidden (1 to k-1)."""

    week: date
    kind: str
    count: int | None


def activity_by_week(
    session: Session, k: int = DEFAULT_K, weeks: int = 12, today: date | None = None
) -> list[ActivityWeek]:
    """Survey responses, applications and meeting registrations per week, nationally, for the last weeks."""
    # The weeks are cut on the stored UTC times (`since`, `moment.date()`), so "today" is UTC's too.
    today = today or utcnow().date()
    first = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    since = datetime.combine(first, datetime.min.time())
    sources = {
        # New respondents through a link, by the week their group was released (the answers carry no time,
        # and nothing records when anyone answered); imported answers are not activity.
        "survey": select(
            SurveyReleaseLog.released_at, SurveyReleaseLog.new_respondents, SurveyReleaseLog.new_key_sum
        ).where(SurveyReleaseLog.released_at >= since),
        "applications": select(JobApplication.created_at, literal(1), JobApplication.record_key).where(
            JobApplication.created_at >= since
        ),
        "registrations": select(Registration.created_at, literal(1), Registration.record_key).where(
            Registration.created_at >= since
        ),
    }
    starts = [first + timedelta(days=7 * n) for n in range(weeks)]
    rows = []
    for kind, query in sources.items():
        tallies = dict.fromkeys(starts, ZERO)
        for moment, count, record_key in session.execute(query):
            monday = moment.date() - timedelta(days=moment.weekday())
            if monday in tallies:  # (a clock set a little ahead could date something next week)
                tallies[monday] += Tally(count, record_key)
        # Each week stands alone (no total shown), so only the small weeks themselves are hidden.
        published = publish_table({week.isoformat(): tally for week, tally in tallies.items()}, k, additive=False)
        rows += [ActivityWeek(week, kind, published[week.isoformat()]) for week in starts]
    return rows
