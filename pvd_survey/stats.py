"""Survey figures for the dashboard, downloads and `python -m pvd_survey stats`: one computation,
read from the pre-aggregated counts, with disclosure control applied before anything leaves.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from pvd_survey import territory
from pvd_survey.disclosure import DEFAULT_K, ZERO, Cell, Tally, perturb, protect_table, publish_table
from pvd_survey.errors import DomainError
from pvd_survey.models import JobApplication, Registration, SurveyCount, SurveyInvitation
from pvd_survey.survey import ALL, ANSWERED_PREFIX, RESPONDENTS
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
    if start_period is not None and start_period not in period_options(today or date.today()):
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


def _key(filters: Filters) -> tuple[str, str, str, str]:
    """The roll-up key that holds the figures of these filters ('*' = all)."""
    region = filters.region or (territory.region_of_department(filters.department) if filters.department else ALL)
    return region, filters.department or ALL, filters.employer or ALL, filters.start_period or ALL


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


def survey_stats(session: Session, filters: Filters, k: int = DEFAULT_K, today: date | None = None) -> SurveyStats:
    """Every dashboard figure for one filter combination, small cells hidden and the others perturbed."""
    today = today or date.today()
    region, department, employer, period = _key(filters)
    c = SurveyCount
    at_key = (c.region == region, c.department == department, c.employer == employer, c.start_period == period)
    counts: dict[str, dict[str, Tally]] = defaultdict(dict)
    answered_multiple: dict[str, Tally] = {}
    respondents = ZERO
    # Every counted question at this key: a primary-key range, a few dozen rows.
    rows = session.execute(select(c.question, c.option, c.count, c.key_sum).where(*at_key))
    for question, option, total, key_sum in rows:
        if question == RESPONDENTS:
            respondents = Tally(total, key_sum)
        elif question.startswith(ANSWERED_PREFIX):
            answered_multiple[question.removeprefix(ANSWERED_PREFIX)] = Tally(total, key_sum)
        else:
            counts[question][option] = Tally(total, key_sum)

    def free_or(column, value: str):
        return column != ALL if value == ALL else column == value

    # The dimension figures: respondents at this key with one dimension left free.
    free_place = (
        (c.region == region, c.department != ALL)
        if department == ALL and region != ALL
        else (c.region != ALL, c.department != ALL)
        if department == ALL
        else (c.region == region, c.department == department)
    )
    dimension_queries = {
        # A dimension that is filtered shows only the filtered value.
        "employer": (
            c.region == region,
            c.department == department,
            free_or(c.employer, employer),
            c.start_period == period,
        ),
        "start_period": (
            c.region == region,
            c.department == department,
            c.employer == employer,
            free_or(c.start_period, period),
        ),
        "department": (*free_place, c.employer == employer, c.start_period == period),
        "region": (
            (c.region != ALL, c.department == ALL)
            if region == ALL
            else (c.region == region, c.department == department)
        )
        + (c.employer == employer, c.start_period == period),
    }
    for code, conditions in dimension_queries.items():
        column = {
            "employer": c.employer,
            "start_period": c.start_period,
            "department": c.department,
            "region": c.region,
        }[code]
        query = select(column, c.count, c.key_sum).where(c.question == RESPONDENTS, *conditions)
        for value, total, key_sum in session.execute(query):
            counts[code][value] = counts[code].get(value, ZERO) + Tally(total, key_sum)

    if respondents.count < k:  # zero included: "nobody" must look like "too few"
        hidden = {
            code: FigureStats(code, label, multiple, None, {o: Cell(None, None) for o in _figure_options(code, today)})
            for code, label, multiple in FIGURES
        }
        return SurveyStats(filters, k, None, hidden)

    figures = {}
    for code, label, multiple in FIGURES:
        raw = counts.get(code, {})
        options = {option: raw.get(option, ZERO) for option in _figure_options(code, today)}
        for extra in raw:  # answers outside today's known options (e.g. a future period imported)
            if extra and extra not in options:
                options[extra] = raw[extra]
        answered = answered_multiple.get(code, ZERO) if multiple else sum(options.values(), ZERO)
        base, protected = protect_table(options, answered, k, additive=not multiple)
        figures[code] = FigureStats(code, label, multiple, base, protected)
    return SurveyStats(filters, k, perturb(respondents, k), figures)


def stats_rows(stats: SurveyStats) -> list[dict[str, object]]:
    """Flat rows (one per figure and option) with labels and the 2022 comparison, for tables and CSV."""
    rows = []
    for code, figure in stats.figures.items():
        baseline = BASELINE_2022.get(code, {})
        for option, cell in figure.cells.items():
            reference = baseline.get(baseline_period(option) if code == "start_period" else option)
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


def stats_csv(stats: SurveyStats, bom: bool = False) -> str:
    """The protected figures as CSV (UTF-8; with a BOM so that French Excel opens it right)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_HEADER, lineterminator="\n")
    writer.writeheader()
    for row in stats_rows(stats):
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
    return ("\ufeff" if bom else "") + buffer.getvalue()


# ---------------------------------------------------------------------------- invitation funnel


@dataclass(frozen=True)
class FunnelRow:
    """Invitations of one region: invited, opened, submitted (None when hidden)."""

    region: str
    label: str
    invited: int | None
    opened: int | None
    submitted: int | None


def invitation_funnel(session: Session, k: int = DEFAULT_K) -> list[FunnelRow]:
    """Invited / opened / submitted by region (region of the department given at invitation), protected."""
    invitation = SurveyInvitation

    def stage(moment=None):
        """Count and key sum of the invitations that reached a stage."""
        if moment is None:
            return func.count(), func.sum(invitation.record_key)
        reached = moment.is_not(None)
        return func.count(moment), func.sum(case((reached, invitation.record_key), else_=0))

    rows = session.execute(
        select(invitation.department, *stage(), *stage(invitation.opened_at), *stage(invitation.submitted_at))
        .where(invitation.status == "active")
        .group_by(invitation.department)
    ).all()
    names = ("invited", "opened", "submitted")
    stages: dict[str, dict[str, Tally]] = {name: defaultdict(lambda: ZERO) for name in names}
    for department, *figures in rows:
        region = territory.region_of_department(department) if department else ""
        for number, name in enumerate(names):
            stages[name][region] += Tally(figures[2 * number], int(figures[2 * number + 1] or 0))
    regions = sorted({r for stage in stages.values() for r in stage}, key=lambda r: (r == "", r))
    published = {
        name: publish_table({region: by_region.get(region, ZERO) for region in regions}, k)
        for name, by_region in stages.items()
    }
    return [
        FunnelRow(
            region,
            territory.REGIONS.get(region, "Région non renseignée"),
            published["invited"][region],
            published["opened"][region],
            published["submitted"][region],
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
    today = today or date.today()
    first = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    since = datetime.combine(first, datetime.min.time())
    sources = {
        # Read on the invitation's side (the answers carry no time); imported answers are not activity.
        "survey": select(SurveyInvitation.submitted_at, SurveyInvitation.record_key).where(
            SurveyInvitation.submitted_at >= since
        ),
        "applications": select(JobApplication.created_at, JobApplication.record_key).where(
            JobApplication.created_at >= since
        ),
        "registrations": select(Registration.created_at, Registration.record_key).where(
            Registration.created_at >= since
        ),
    }
    starts = [first + timedelta(days=7 * n) for n in range(weeks)]
    rows = []
    for kind, query in sources.items():
        tallies = dict.fromkeys(starts, ZERO)
        for moment, record_key in session.execute(query):
            monday = moment.date() - timedelta(days=moment.weekday())
            if monday in tallies:  # (a clock set a little ahead could date something next week)
                tallies[monday] += Tally(1, record_key)
        # Each week stands alone (no total shown), so only the small weeks themselves are hidden.
        published = publish_table({week.isoformat(): tally for week, tally in tallies.items()}, k, additive=False)
        rows += [ActivityWeek(week, kind, published[week.isoformat()]) for week in starts]
    return rows
