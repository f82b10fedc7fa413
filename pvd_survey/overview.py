"""The territorial view of the programme: figures by department and region for the map, and the overview
(key figures with their change over a month, beside the programme's published reference figures).

Every count that describes people is protected like the survey's figures (see disclosure.py): survey
respondents come from the protected survey figures (the sealed totals, never rows), meeting participants
are hidden below k with secondary suppression and perturbed with their record keys. Postings are not
people and are shown as they are, as elsewhere on the dashboard.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pvd_survey import disclosure, french, stats, territory
from pvd_survey.clock import utcnow
from pvd_survey.config import Settings
from pvd_survey.disclosure import DEFAULT_K, ZERO, Tally
from pvd_survey.errors import DomainError
from pvd_survey.models import JobPosting, Meeting, Registration, SurveyReleaseLog

MEASURES: dict[str, str] = {
    "postings_open": "Offres ouvertes",
    "vacant": "Postes vacants",
    "days_to_fill": "Délai médian de recrutement (jours)",
    "respondents": "Répondants au questionnaire",
    "registered": "Inscrits aux rencontres",
    "present": "Présents aux rencontres",
}
# Measures that count people: protected (hidden below k, perturbed).
PEOPLE_MEASURES = frozenset({"respondents", "registered", "present"})
LEVELS = {"department": "Département", "region": "Région"}

# The programme's published figures (copied from the ANCT's progress report, so nothing is read at run time).
REFERENCE_FIGURES: tuple[tuple[str, str], ...] = (
    ("Communes du programme", "1 646"),
    ("Postes de chef de projet (juin 2025)", "871"),
    ("Postes occupés (juin 2025)", "environ 90 %"),
)
REFERENCE_SOURCE = (
    "ANCT, « Petites villes de demain : le point d'avancement du programme », données au 30 juin 2025 "
    "(871 postes de chef de projet dont 90 % d'occupation de poste ; 1 646 communes)."
)

_FRENCH_MONTHS = (
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split()  # noqa: SIM905
)


# ---------------------------------------------------------------------------- the map


@dataclass(frozen=True)
class MapCell:
    """One department or region on the map: its value, or None (hidden when `hidden`, else no data)."""

    code: str
    label: str
    value: float | None
    hidden: bool = False


@dataclass(frozen=True)
class MapData:
    """One measure at one level (department or region), every territory present."""

    measure: str
    level: str
    cells: dict[str, MapCell]

    @property
    def label(self) -> str:
        """The measure in French."""
        return MEASURES[self.measure]


def _codes(level: str) -> dict[str, str]:
    if level == "department":
        return {code: name for code, (name, _) in territory.DEPARTMENTS.items()}
    return dict(territory.REGIONS)


def _place(level: str, department: str | None, region: str | None = None) -> str:
    """The map key of a row: its department, or its region ('' when unknown)."""
    if level == "department":
        return department or ""
    if region:
        return region
    return territory.region_of_department(department) if department in territory.DEPARTMENTS else ""


def _posting_counts(session: Session, level: str, statuses: tuple[str, ...]) -> dict[str, float]:
    rows = session.execute(
        select(JobPosting.department, JobPosting.region, func.count())
        .where(JobPosting.status.in_(statuses))
        .group_by(JobPosting.department, JobPosting.region)
    )
    counts: dict[str, float] = defaultdict(float)
    for department, region, count in rows:
        counts[_place(level, department, region)] += count
    return counts


def _days_to_fill(session: Session, level: str) -> dict[str, float]:
    rows = session.execute(
        select(JobPosting.department, JobPosting.region, JobPosting.published_at, JobPosting.ended_at).where(
            JobPosting.status == "filled", JobPosting.published_at.is_not(None), JobPosting.ended_at.is_not(None)
        )
    )
    days: dict[str, list[float]] = defaultdict(list)
    for department, region, published, ended in rows:
        if published is None or ended is None:  # excluded by the query
            raise ValueError("a filled posting without its publication and end dates cannot be timed")
        days[_place(level, department, region)].append((ended - published).total_seconds() / 86400)
    return {place: round(statistics.median(values), 1) for place, values in days.items()}


def _participants(session: Session, level: str, present: bool, k: int) -> dict[str, int | None]:
    """Confirmed (or present) meeting participants by place, protected like the attendance figures."""
    query = select(Registration.department, func.count(), func.sum(Registration.record_key)).where(
        Registration.status == "confirmed"
    )
    if present:
        query = query.where(Registration.checked_in_at.is_not(None))
    tallies: dict[str, Tally] = defaultdict(lambda: ZERO)
    for department, count, key_sum in session.execute(query.group_by(Registration.department)):
        tallies[_place(level, department)] += Tally(count, int(key_sum or 0))
    # Every place is a cell (zeros included, so a hidden one does not mean "someone"), and so are
    # people without a department: the secondary suppression must count them among the hidden.
    table = {code: tallies.get(code, ZERO) for code in _codes(level)}
    table[""] = tallies.get("", ZERO)
    return disclosure.publish_table(table, k)


def map_data(
    session: Session,
    measure: str,
    level: str = "department",
    k: int = DEFAULT_K,
    survey_filters: stats.Filters | None = None,
    *,
    settings: Settings,
) -> MapData:
    """One measure for every department (or region); counts of people protected, hidden ones None."""
    if measure not in MEASURES:
        raise DomainError("unknown_filter", field="measure", name="mesure", value=measure)
    if level not in LEVELS:
        raise DomainError("unknown_filter", field="level", name="niveau", value=level)
    names = _codes(level)
    if measure in PEOPLE_MEASURES:
        if measure == "respondents":
            # The survey's own protected figure by department / region (the same values as its chart);
            # only the filters that are not places apply, so the map always covers the whole country.
            wanted = survey_filters or stats.Filters()
            figures = stats.survey_stats(
                session,
                stats.Filters(employer=wanted.employer, start_period=wanted.start_period),
                k=k,
                settings=settings,
            )
            published = {code: cell.count for code, cell in figures.figures[level].cells.items()}
        else:
            published = _participants(session, level, measure == "present", k)
        cells = {
            code: MapCell(code, name, published.get(code), published.get(code) is None) for code, name in names.items()
        }
        return MapData(measure, level, cells)
    if measure == "days_to_fill":
        values = _days_to_fill(session, level)
        cells = {code: MapCell(code, name, values.get(code)) for code, name in names.items()}
    else:
        statuses = ("published",) if measure == "postings_open" else ("published", "closed")
        values = _posting_counts(session, level, statuses)
        cells = {code: MapCell(code, name, values.get(code, 0)) for code, name in names.items()}
    return MapData(measure, level, cells)


# ---------------------------------------------------------------------------- the overview


@dataclass(frozen=True)
class Period:
    """The month the overview describes (`start` to `end`) and the month before it (`previous` to `start`)."""

    previous: datetime
    start: datetime
    end: datetime
    label: str


def parse_month(text: str) -> date:
    """A month typed as YYYY-MM (on the command line), as its first day."""
    try:
        year, month = (int(part) for part in text.strip().split("-"))
        if len(text.strip()) != 7:
            raise ValueError
        return date(year, month, 1)
    except ValueError:
        raise DomainError("bad_month", value=text) from None


def period(month: date | None = None, now: datetime | None = None) -> Period:
    """A calendar month (and the one before it), or without one the last 30 days (and the 30 before)."""
    now = now or utcnow()
    if month is None:
        return Period(now - timedelta(days=60), now - timedelta(days=30), now, "sur les 30 derniers jours")
    start = datetime(month.year, month.month, 1)
    end = datetime(month.year + month.month // 12, month.month % 12 + 1, 1)
    previous = datetime(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)
    return Period(previous, start, min(end, now), f"en {_FRENCH_MONTHS[month.month - 1]} {month.year}")


def clicked_territory(event: object) -> tuple[str, str | None] | None:
    """(region, department or None) of a click on the map's tiles ("carte" selection), or None if none is valid."""
    selection = (event.get("selection") or {}) if isinstance(event, dict) else {}
    points = selection.get("carte") or []
    point = points[0] if isinstance(points, list) and points and isinstance(points[0], dict) else {}
    department, region = point.get("department"), point.get("region")
    if department in territory.DEPARTMENTS:
        return territory.region_of_department(department), department
    return (region, None) if region in territory.REGIONS else None


@dataclass(frozen=True)
class KeyFigure:
    """One figure of the overview: its value and the value a month earlier (None: hidden or unknown)."""

    label: str
    value: float | None
    previous: float | None = None
    unit: str = ""
    hidden: bool = False  # True when the value is protected (fewer than k people)
    note: str = ""

    @property
    def change(self) -> float | None:
        """Value minus the month-earlier value, when both are known."""
        if self.value is None or self.previous is None:
            return None
        return round(self.value - self.previous, 1)

    @property
    def lower_is_better(self) -> bool:
        """True for figures whose fall is good news (fewer vacant posts, a shorter delay to fill)."""
        return self.label.startswith(("Délai", "Postes vacants"))

    def text(self) -> str:
        """The value as shown ('masqué' when protected, '—' when there is nothing to measure)."""
        if self.value is None:
            return "masqué" if self.hidden else "—"
        return f"{french.number(self.value)} {self.unit}".strip()

    def change_text(self) -> str:
        """The change as shown, signed ('' when unknown)."""
        change = self.change
        if change is None:
            return ""
        return french.signed(change) + (f" {self.unit}" if self.unit else "")


ALL_ANSWERS = "Réponses au questionnaire publiées"
NEW_ANSWERS = "Nouvelles réponses publiées"


def apparent_contradictions(figures: list[KeyFigure], k: int = DEFAULT_K) -> list[str]:
    """A short explanation for each pair of key figures that looks contradictory side by side."""
    every = next((figure for figure in figures if figure.label == ALL_ANSWERS), None)
    new = next((figure for figure in figures if figure.label.startswith(NEW_ANSWERS)), None)
    if every is None or new is None or every.value is None:
        return []
    notes = []
    if new.value is None:
        notes.append(
            f"« {ALL_ANSWERS} » compte toutes les réponses publiées depuis l'ouverture du questionnaire ; « "
            f"{NEW_ANSWERS} » seulement celles de la période, masquées quand elles sont moins de {k} : le total "
            "peut s'afficher quand les nouvelles réponses sont masquées."
        )
    elif new.value > every.value:
        notes.append(
            f"« {new.label} » compte la France entière, « {ALL_ANSWERS} » le territoire choisi seulement : "
            "les premières peuvent dépasser le second."
        )
    return notes


def _posting_scope(query, region: str | None, department: str | None):
    if department:
        return query.where(JobPosting.department == department)
    if region:
        return query.where(JobPosting.region == region)
    return query


def _median_days(session: Session, region: str | None, department: str | None, until: datetime) -> float | None:
    query = select(JobPosting.published_at, JobPosting.ended_at).where(
        JobPosting.status == "filled", JobPosting.published_at.is_not(None), JobPosting.ended_at < until
    )
    days = [(e - p).total_seconds() / 86400 for p, e in session.execute(_posting_scope(query, region, department))]
    return round(statistics.median(days), 1) if days else None


def _vacant_at(session: Session, region: str | None, department: str | None, moment: datetime) -> int:
    # Published by then and not yet filled then (closed unfilled postings stay vacant posts).
    filled_before = (JobPosting.status == "filled") & (JobPosting.ended_at < moment)
    query = select(func.count()).where(JobPosting.published_at < moment, ~filled_before)
    return int(session.scalar(_posting_scope(query, region, department)) or 0)


def _between(column, start: datetime, end: datetime):
    return (column >= start) & (column < end)


def _attendance(session: Session, region: str | None, until: datetime, k: int) -> float | None:
    rows = session.execute(
        select(Registration.checked_in_at.is_not(None), func.count(), func.sum(Registration.record_key))
        .join(Meeting, Meeting.id == Registration.meeting_id)
        .where(Registration.status == "confirmed", Meeting.starts_at < until, *_meeting_scope(region))
        .group_by(Registration.checked_in_at.is_not(None))
    ).all()
    confirmed, present = ZERO, ZERO
    for checked_in, count, key_sum in rows:
        confirmed += Tally(count, int(key_sum or 0))
        if checked_in:
            present += Tally(count, int(key_sum or 0))
    # Both counts protected as on the attendance charts; the rate is made of the published counts.
    shown_confirmed = disclosure.perturb(confirmed, k)
    shown_present = disclosure.perturb(present, k)
    if shown_confirmed is None or shown_present is None:
        return None
    return round(min(100.0, 100 * shown_present / shown_confirmed), 1)


def _meeting_scope(region: str | None) -> tuple:
    return (Meeting.region == region,) if region else ()


def overview(
    session: Session,
    k: int = DEFAULT_K,
    filters: stats.Filters | None = None,
    month: date | None = None,
    now: datetime | None = None,
    *,
    settings: Settings,
) -> tuple[Period, list[KeyFigure]]:
    """The key figures of the programme for a month (or the last 30 days) with their change, protected."""
    filters = filters or stats.Filters()
    region = filters.region or (territory.region_of_department(filters.department) if filters.department else None)
    department = filters.department
    span = period(month, now)

    def postings_between(column, start: datetime, end: datetime, *conditions) -> int:
        query = select(func.count()).where(_between(column, start, end), *conditions)
        return int(session.scalar(_posting_scope(query, region, department)) or 0)

    filled = JobPosting.status == "filled"
    figures = [
        KeyFigure(
            "Offres publiées",
            postings_between(JobPosting.published_at, span.start, span.end),
            postings_between(JobPosting.published_at, span.previous, span.start),
        ),
        KeyFigure(
            "Offres pourvues",
            postings_between(JobPosting.ended_at, span.start, span.end, filled),
            postings_between(JobPosting.ended_at, span.previous, span.start, filled),
        ),
        KeyFigure(
            "Délai médian publication → pourvu",
            _median_days(session, region, department, span.end),
            _median_days(session, region, department, span.start),
            unit="j",
        ),
        KeyFigure(
            "Postes vacants",
            _vacant_at(session, region, department, span.end),
            _vacant_at(session, region, department, span.start),
        ),
    ]

    # Survey: the published respondents (protected), and the answers received through links in each month
    # (read on the invitation side, which carries no answer; protected like the weekly activity).
    survey_figures = stats.survey_stats(
        session, stats.Filters(region=filters.region, department=department), k=k, settings=settings
    )
    figures.append(
        KeyFigure(
            ALL_ANSWERS,
            survey_figures.respondents,
            hidden=survey_figures.isolated,
            note=f"toutes périodes, publiées par groupes d'au moins {k} réponses",
        )
    )

    def answers(start: datetime, end: datetime) -> int | None:
        # New respondents by the moment their group was released (nothing records when anyone answered),
        # nationally: a release's place in the country is not kept. Protected like the weekly activity.
        count, key_sum = session.execute(
            select(func.sum(SurveyReleaseLog.new_respondents), func.sum(SurveyReleaseLog.new_key_sum)).where(
                _between(SurveyReleaseLog.released_at, start, end)
            )
        ).one()
        return disclosure.perturb(Tally(int(count or 0), int(key_sum or 0)), k)

    received = answers(span.start, span.end)
    national = "" if not (region or department) else " (France entière)"
    figures.append(
        KeyFigure(
            NEW_ANSWERS + national,
            received,
            answers(span.previous, span.start),
            hidden=received is None,
            note=span.label,
        )
    )

    def upcoming(moment: datetime) -> tuple[int, int, int]:
        row = session.execute(
            select(func.count(), func.sum(Meeting.capacity), func.sum(Meeting.confirmed_count)).where(
                Meeting.starts_at >= moment, *_meeting_scope(region)
            )
        ).one()
        return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)

    meetings_now, capacity, confirmed = upcoming(span.end)
    figures.append(KeyFigure("Rencontres à venir", meetings_now, upcoming(span.start)[0]))
    figures.append(
        KeyFigure(
            "Remplissage des rencontres à venir",
            round(100 * confirmed / capacity, 1) if capacity else None,
            unit="%",
            note="places confirmées / places offertes",
        )
    )
    attendance = _attendance(session, region, span.end, k)
    figures.append(
        KeyFigure(
            "Taux de présence aux rencontres passées",
            attendance,
            _attendance(session, region, span.start, k),
            unit="%",
            hidden=attendance is None,
            note="présents / confirmés",
        )
    )
    return span, figures
