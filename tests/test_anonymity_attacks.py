"""The adversary's side: attacks on the published survey figures, played against the real services.

"Published" means everything the direction can read: `stats.survey_stats(...).to_json()` for any
filter combination (the dashboard, its CSV and `python -m pvd_survey stats` show the same figures).
Each attack reads those figures the way an adversary would:

1. differencing over time: snapshots before and after one answer, change or withdrawal;
2. differencing across filters: a region minus its other departments, the country minus the other
   regions, an employer minus its other start periods;
3. averaging: asking the same figure again, through every channel;
4. reconstruction: the adversary knows everybody's answers but the target's and reads every table
   that contains the target (hypothesis, with a control run on unperturbed counts that must succeed);
5. the May 2022 survey re-imported stays within the documented perturbation of its published shares.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import random
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cache

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from pvd_survey import db, demo, mail, stats, survey, territory
from pvd_survey.disclosure import KEY_SPACE, MAX_NOISE, ZERO, Cell, Tally, hidden_cells, noise, perturb, protect_table
from pvd_survey.errors import DomainError
from pvd_survey.models import (
    AppSetting,
    OutboxMessage,
    SurveyCount,
    SurveyDraft,
    SurveyInvitation,
    SurveyPool,
    SurveyRelease,
    SurveyResponse,
    utcnow,
)
from pvd_survey.survey import ALL
from pvd_survey.survey_questions import BASELINE_2022, DIPLOMA, EMPLOYER, EXPERIENCE, GENDER, Answers, start_period
from tests.conftest import PROJECT_ROOT

TODAY = date(2026, 11, 22)
K = 5
EMPLOYERS = tuple(EMPLOYER.options)
# The target's unknown answers: (question, options). The adversary knows the target answered each.
UNKNOWN = (
    ("employer", tuple(EMPLOYER.options)),
    ("gender", tuple(GENDER.options)),
    ("experience", tuple(EXPERIENCE.options)),
    ("diploma", tuple(DIPLOMA.options)),
)
DIMENSIONS = ("region", "department", "employer", "start_period")

FilterKey = tuple[str | None, str | None, str | None, str | None]  # region, department, employer, period
View = dict[FilterKey, dict]


# ---------------------------------------------------------------------------- helpers on the services


def answers(**values) -> Answers:
    base = dict(
        start_month=None, employer=None, gender=None, experience=None, diploma=None, training_field=(), department=None
    )
    return Answers(**{**base, **values})


def form(a: Answers) -> dict[str, object]:
    """The survey form for a set of answers (what a respondent submits)."""
    return a.as_form()


def token_from_outbox(session, email: str) -> str:
    [message] = [m for m in mail.list_messages(session) if m.recipient == email][:1]
    return message.link.split(f"{survey.TOKEN_PARAMETER}=")[1]


def invite(factory, settings, email: str) -> str:
    with factory.begin() as session:
        survey.invite(session, [survey.InvitationEntry(1, email, None)], settings)
        return token_from_outbox(session, email)


def submit(factory, settings, token: str, a: Answers) -> None:
    with factory.begin() as session:
        survey.submit(session, token, form(a), settings, today=TODAY)


def withdraw(factory, settings, token: str) -> None:
    with factory.begin() as session:
        survey.withdraw(session, token, settings)


def waiting(factory) -> int:
    with db.read_only(factory) as session:
        return survey.release_state(session, K).waiting


def reset_survey(factory) -> None:
    """Empty the survey's tables between hypothesis examples (the fixture only empties them per test)."""
    with factory.begin() as session:
        for model in (SurveyCount, SurveyResponse, SurveyPool, SurveyDraft, SurveyInvitation, OutboxMessage):
            session.execute(delete(model))
        session.execute(delete(AppSetting).where(AppSetting.key == survey.CLOSES_AT_KEY))
        session.execute(delete(SurveyRelease))
        session.add(SurveyRelease(id=1, groups=0, last_group_size=0))


def import_answers(factory, settings, rows: list[Answers]) -> None:
    with factory.begin() as session:
        survey.import_responses(session, rows, settings)


def figures_json(session, key: FilterKey, k: int = K, today: date | None = TODAY) -> dict:
    region, department, employer, period = key
    filters = stats.make_filters(region, department, employer, period, today=today)
    return stats.survey_stats(session, filters, k=k, today=today).to_json()


def _present(session, column) -> list[str]:
    values = session.scalars(select(column).distinct().where(column != ALL, column != ""))
    return sorted(set(values))


def published(factory, k: int = K, today: date = TODAY) -> View:
    """Every figure the direction can read: {filters: JSON} for the country, each region and department
    present, crossed with each employer and each start period present (None = all)."""
    with db.read_only(factory) as session:
        regions = _present(session, SurveyCount.region)
        departments = _present(session, SurveyCount.department)
        periods = _present(session, SurveyCount.start_period)
        places = [(None, None), *((r, None) for r in regions)]
        places += [(territory.region_of_department(d), d) for d in departments]
        view = {}
        for (region, department), employer, period in itertools.product(places, (None, *EMPLOYERS), (None, *periods)):
            key = (region, department, employer, period)
            view[key] = figures_json(session, key, k, today)
        return view


def canonical(key: FilterKey) -> tuple[str, str, str, str]:
    """The roll-up key of a filter tuple ('*' = all)."""
    return tuple(ALL if value is None else value for value in key)  # type: ignore[return-value]


def diff_views(before: View, after: View) -> list[str]:
    """Human-readable list of the published figures that differ (for assertion messages)."""
    changes = []
    for key in sorted(set(before) | set(after), key=str):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if old is None or new is None:
            changes.append(f"{key}: table {'added' if old is None else 'removed'}")
            continue
        if old["respondents"] != new["respondents"]:
            changes.append(f"{key}: respondents {old['respondents']} -> {new['respondents']}")
        for code, figure in new["questions"].items():
            for option, cell in figure["options"].items():
                before_cell = old["questions"].get(code, {}).get("options", {}).get(option)
                if before_cell != cell:
                    changes.append(f"{key} {code}/{option}: {before_cell} -> {cell}")
    return changes


# ---------------------------------------------------------------------------- a pure model of the published figures
#
# The same tables as stats.survey_stats, computed from the answers and their record keys without the
# database: which records count in which cell (survey._rollup_keys / _count_deltas), then the real
# disclosure functions. The test `test_pure_model_matches_the_database` keeps the two in step.


@dataclass(frozen=True)
class Record:
    """One counted response: answers and the random record key the database drew for it."""

    answers: Answers
    key: int = 0


@cache
def _dims(a: Answers) -> tuple[str, str, str, str]:
    return (a.region or "", a.department or "", a.employer or "", a.start_period or "")


@dataclass
class Table:
    """The true tallies behind one filter combination's published figures."""

    respondents: Tally
    counts: dict[str, dict[str, Tally]]
    answered: dict[str, Tally]

    def copy(self) -> Table:
        counts = defaultdict(dict, {code: dict(cells) for code, cells in self.counts.items()})
        return Table(self.respondents, counts, dict(self.answered))

    def add(self, a: Answers, tally: Tally) -> None:
        """Count one more record (what survey._count_deltas does to every cell of its key)."""
        self.respondents += tally
        cells = [*zip(DIMENSIONS, _dims(a), strict=True)]
        cells += [(code, getattr(a, code) or "") for code in ("gender", "experience", "diploma")]
        cells += [("training_field", option) for option in a.training_field]
        for code, value in cells:
            self.counts[code][value] = self.counts[code].get(value, ZERO) + tally
        if a.training_field:
            self.answered["training_field"] = self.answered.get("training_field", ZERO) + tally


def _matches(a: Answers, key: tuple[str, str, str, str]) -> bool:
    return all(wanted in (ALL, value) for wanted, value in zip(key, _dims(a), strict=True))


def table_of(records: Iterable[Record], key: tuple[str, str, str, str]) -> Table:
    """The true tallies of one filter combination (canonical key, '*' = all)."""
    table = Table(ZERO, defaultdict(dict), {})
    for record in records:
        if _matches(record.answers, key):
            table.add(record.answers, Tally(1, record.key))
    return table


@cache
def _options(code: str, today: date) -> tuple[str, ...]:
    return tuple(stats._figure_options(code, today))


def figure_tallies(
    table: Table, code: str, multiple: bool, today: date, every_option: bool = True
) -> tuple[dict[str, Tally], Tally]:
    """One figure's cells and base, exactly as survey_stats builds them (no answer is not a cell);
    every_option=False leaves out the options nobody chose (zero cells, for the adversary's checks)."""
    raw = table.counts.get(code, {})
    present = {option: tally for option, tally in raw.items() if option}
    if multiple:
        base = table.answered.get(code, ZERO)
    else:
        base = Tally(sum(t.count for t in present.values()), sum(t.key_sum for t in present.values()))
    if not every_option:
        return present, base
    options = {option: raw.get(option, ZERO) for option in _options(code, today)}
    options.update(present)  # answers outside today's known options come last, as in survey_stats
    return options, base


def _exact_protect(options: dict[str, Tally], base: Tally, k: int, additive: bool) -> tuple[int | None, dict]:
    """protect_table without the perturbation: only the suppression rule (the control of the attack)."""
    if 0 < base.count < k:
        return None, {option: Cell(None, None) for option in options}
    hidden = hidden_cells({option: tally.count for option, tally in options.items()}, k, additive)
    cells = {}
    for option, tally in options.items():
        share = round(100 * tally.count / base.count, 1) if base.count else 0.0
        cells[option] = Cell(None, None) if option in hidden else Cell(tally.count, share)
    return base.count, cells


def publish(table: Table, k: int = K, today: date = TODAY, noisy: bool = True) -> dict:
    """The JSON survey_stats would publish for these tallies (noisy=False: true counts, suppression only)."""
    if 0 < table.respondents.count < k:
        hidden = {
            code: stats.FigureStats(code, label, multiple, None, {o: Cell(None, None) for o in _options(code, today)})
            for code, label, multiple in stats.FIGURES
        }
        return stats.SurveyStats(stats.Filters(), k, None, hidden).to_json()
    figures = {}
    for code, label, multiple in stats.FIGURES:
        options, base = figure_tallies(table, code, multiple, today)
        protect = protect_table if noisy else _exact_protect
        published_base, cells = protect(options, base, k, additive=not multiple)
        figures[code] = stats.FigureStats(code, label, multiple, published_base, cells)
    respondents = perturb(table.respondents, k) if noisy else table.respondents.count
    return stats.SurveyStats(stats.Filters(), k, respondents, figures).to_json()


def pure_view(records: list[Record], keys: Iterable[FilterKey], k: int = K, noisy: bool = True) -> View:
    return {key: publish(table_of(records, canonical(key)), k, noisy=noisy) for key in keys}


def records_in_database(factory) -> list[Record]:
    """The counted answers with their record keys (the test reads what the adversary never sees)."""
    with db.read_only(factory) as session:
        rows = session.scalars(select(SurveyResponse)).all()
        return [Record(survey._answers_of(row), row.record_key) for row in rows]


# ---------------------------------------------------------------------------- the adversary


@cache
def noise_support(count: int, k: int) -> frozenset[int]:
    """Every noise the documented table can add to a count (what the adversary knows of the method)."""
    return frozenset(noise(count, key, k) for key in range(KEY_SPACE))


def _exact_support(count: int, k: int) -> frozenset[int]:
    return frozenset({0})


Support = Callable[[int, int], frozenset[int]]


def figure_consistent(
    published_figure: dict, options: dict[str, Tally], base: Tally, multiple: bool, k: int, support: Support
) -> bool:
    """Can these true counts give this published figure? Hidden cells must be the ones the suppression
    rule hides for these counts; shown counts must differ from the true ones by a possible noise."""
    if 0 < base.count < k:
        return published_figure["answered"] is None
    answered = published_figure["answered"]
    if answered is None or answered - base.count not in support(base.count, k):
        return False
    hidden = hidden_cells({option: tally.count for option, tally in options.items() if tally.count}, k, not multiple)
    for option, cell in published_figure["options"].items():
        count = options.get(option, ZERO).count
        if option in hidden:
            if cell["count"] is not None:
                return False
        elif cell["count"] is None or cell["count"] - count not in support(count, k):
            return False
    return True


MULTIPLE = {code: multiple for code, _, multiple in stats.FIGURES}
TARGET_FIGURES = ("region", "department", "employer", "start_period", "training_field")


def table_consistent(published_table: dict, table: Table, k: int, support: Support, codes: Iterable[str]) -> bool:
    """The respondents figure and the given figures of one table are explained by these true counts."""
    respondents = table.respondents.count
    if 0 < respondents < k:
        return published_table["respondents"] is None
    if published_table["respondents"] is None or published_table["respondents"] - respondents not in support(
        respondents, k
    ):
        return False
    for code in codes:
        options, base = figure_tallies(table, code, MULTIPLE[code], TODAY, every_option=False)
        if not figure_consistent(published_table["questions"][code], options, base, MULTIPLE[code], k, support):
            return False
    return True


@dataclass(frozen=True)
class Attack:
    """What the adversary concludes about the target."""

    consistent: list[tuple[str, ...]]  # every (employer, gender, experience, diploma) the figures allow
    best_guess: tuple[str, ...]
    baseline_guess: tuple[str, ...]
    truth: tuple[str, ...]

    @property
    def exact(self) -> bool:
        """The figures leave one possible answer vector only, and it is the truth."""
        return self.consistent == [self.truth]

    @property
    def guessed(self) -> bool:
        return self.best_guess == self.truth

    @property
    def baseline(self) -> bool:
        return self.baseline_guess == self.truth


def target_tables(target: Answers) -> list[FilterKey]:
    """Every filter combination whose table may contain the target (the others do not depend on it)."""
    region, department, period = target.region, target.department, target.start_period
    places = [(None, None), (region, None), (region, department)]
    return [(r, d, e, p) for (r, d), e, p in itertools.product(places, (None, *EMPLOYERS), (None, period))]


def _with(target: Answers, employer: str, **values: str) -> Answers:
    return replace(target, employer=employer, **values)


def attack(view: View, others: list[Answers], target: Answers, k: int = K, support: Support = noise_support) -> Attack:
    """Everyone-but-one reconstruction: the adversary knows every other record and the target's
    department, start period and training fields; it tests each possible (employer, gender,
    experience, diploma) of the target against every published table that may contain the target."""
    keys = target_tables(target)
    known = [Record(a) for a in others]
    others_tables = {key: table_of(known, canonical(key)) for key in keys}

    def hypothesised(key: FilterKey, employer: str, **values: str) -> Table:
        table = others_tables[key].copy()
        if key[2] in (None, employer):
            table.add(_with(target, employer, **values), Tally(1, 0))
        return table

    # The consistency of a whole answer vector factorises: the tables' membership depends on the
    # employer only, and each question's figure on the employer and that question's answer.
    employers_ok = {
        e: all(table_consistent(view[key], hypothesised(key, e), k, support, TARGET_FIGURES) for key in keys)
        for e in EMPLOYERS
    }
    answer_ok = {
        (e, code, option): all(
            table_consistent(view[key], hypothesised(key, e, **{code: option}), k, support, (code,)) for key in keys
        )
        for e in EMPLOYERS
        for code, options in UNKNOWN[1:]
        for option in options
    }
    consistent = [
        (e, g, x, d)
        for e in EMPLOYERS
        if employers_ok[e]
        for g, x, d in itertools.product(*(options for _, options in UNKNOWN[1:]))
        if answer_ok[(e, "gender", g)] and answer_ok[(e, "experience", x)] and answer_ok[(e, "diploma", d)]
    ]

    # Best guess: per question, among the options some consistent vector has, the largest residual
    # (published minus everybody else's true count) summed over the tables that surely hold the target.
    national = view[(None, None, None, None)]
    sure = [key for key in keys if key[2] is None]
    guess = []
    for position, (code, options) in enumerate(UNKNOWN):
        candidates = {vector[position] for vector in consistent} or set(options)

        def residual(option: str, code: str = code) -> float:
            total = 0
            for key in sure:
                cell = view[key]["questions"][code]["options"][option]
                if cell["count"] is not None:
                    total += cell["count"] - others_tables[key].counts.get(code, {}).get(option, ZERO).count
            return total

        def share(option: str, code: str = code) -> float:
            return national["questions"][code]["options"][option]["share"] or 0.0

        guess.append(max(options, key=lambda o: (o in candidates, residual(o), share(o))))
    baseline = tuple(
        max(options, key=lambda o, code=code: national["questions"][code]["options"][o]["share"] or 0.0)
        for code, options in UNKNOWN
    )
    truth = tuple(getattr(target, code) for code, _ in UNKNOWN)
    return Attack(consistent, tuple(guess), baseline, truth)


# ---------------------------------------------------------------------------- random small data sets

# A few departments in three regions: Bourgogne-Franche-Comté (21, 25, 39), Bretagne (29, 35),
# Auvergne-Rhône-Alpes (01).
DEPARTMENTS = ("21", "25", "39", "29", "35", "01")
MONTHS = ("2020-11", "2021-03", "2021-09", "2022-02")
FIELDS = ("urbanisme_amenagement", "sciences_sociales", "developpement_territorial", "architecture")
# Answers drawn with the May 2022 shares (a rare option is what a real survey has).
WEIGHTS = {code: (tuple(BASELINE_2022[code]), tuple(BASELINE_2022[code].values())) for code in ("employer", "diploma")}
WEIGHTS["gender"] = (("femme", "homme", "autre"), (69, 30, 1))
WEIGHTS["experience"] = (tuple(BASELINE_2022["experience"]), tuple(BASELINE_2022["experience"].values()))


def random_person(rng, departments: tuple[str, ...] = DEPARTMENTS, months: tuple[str, ...] = MONTHS) -> Answers:
    chosen = {code: rng.choices(options, weights)[0] for code, (options, weights) in WEIGHTS.items()}
    fields = rng.sample(FIELDS, rng.randint(1, 2))
    return answers(
        department=rng.choice(departments),
        start_month=rng.choice(months),
        training_field=tuple(f for f in FIELDS if f in fields),
        **chosen,
    )


def random_data(seed: int, size: int) -> list[Record]:
    rng = random.Random(seed)
    return [Record(random_person(rng), rng.randrange(KEY_SPACE)) for _ in range(size)]


def run_attack(records: list[Record], target: int, noisy: bool = True) -> Attack:
    """Publish the target's tables from these records (pure model) and attack them."""
    people = [record.answers for record in records]
    view = pure_view(records, [*target_tables(people[target])], noisy=noisy)
    result = attack(
        view, people[:target] + people[target + 1 :], people[target], support=noise_support if noisy else _exact_support
    )
    assert result.truth in result.consistent, "the adversary's model must never rule out the truth"
    return result


def summary(results: list[Attack]) -> str:
    n = len(results)
    exact = sum(r.exact for r in results)
    guessed = 100 * sum(r.guessed for r in results) / n
    baseline = 100 * sum(r.baseline for r in results) / n
    return (
        f"exact recovery {exact}/{n}, best-guess full-vector success {guessed:.1f} %, "
        f"guessing from published shares {baseline:.1f} %"
    )


# ---------------------------------------------------------------------------- differencing across filters

OTHER_DEPARTMENTS = ("25", "39", "29", "35")  # the target is alone in 21 (region 27, with 25 and 39)
TARGET_DEPARTMENT = "21"


def lone_target_data(seed: int) -> tuple[list[Answers], Answers]:
    """8 to 12 people in each other department, and the target alone in 21 and alone among the communes
    that started in 2020 (the others' communes started later)."""
    rng = random.Random(seed)
    others = []
    for department in OTHER_DEPARTMENTS:
        for _ in range(rng.randint(8, 12)):
            person = random_person(rng, (department,))
            if person.employer == "commune" and person.start_period == "2020":
                person = replace(person, start_month=rng.choice(MONTHS[1:]))
            others.append(person)
    target = replace(random_person(rng, (TARGET_DEPARTMENT,)), employer="commune", start_month="2020-11")
    return others, target


def true_range(figure: dict, option: str, k: int = K) -> tuple[float, float]:
    """What a published cell says about its true count, knowing only the method."""
    if figure["answered"] is None:
        return 0, k - 1  # the whole figure is hidden: its base is small
    count = figure["options"][option]["count"]
    if count is None:
        return 1, float("inf")  # hidden: 1 to k-1, or more when hidden to protect another cell (never 0)
    if count == 0:
        return 0, 0  # zero stays zero, and k or more never comes out below k
    possible = [
        c for c in range(count - MAX_NOISE, count + MAX_NOISE + 1) if c >= k and count - c in noise_support(c, k)
    ]
    return min(possible), max(possible)


def possible_answers(plus: list[dict], minus: list[dict], code: str) -> set[str]:
    """The target's possible answers when the adversary adds the `plus` tables and subtracts the `minus`
    ones (what is left is the target alone): the residual of its option must allow 1, the others 0."""
    options = tuple(plus[0]["questions"][code]["options"])
    ranges = {}
    for option in options:
        low = sum(true_range(t["questions"][code], option)[0] for t in plus)
        high = sum(true_range(t["questions"][code], option)[1] for t in plus)
        low -= sum(true_range(t["questions"][code], option)[1] for t in minus)
        high -= sum(true_range(t["questions"][code], option)[0] for t in minus)
        ranges[option] = (low, high)
    return {
        option
        for option in options
        if ranges[option][0] <= 1 <= ranges[option][1]
        and all(ranges[other][0] <= 0 <= ranges[other][1] for other in options if other != option)
    }


def differencing_attacks(
    view: Callable[[FilterKey], dict], periods: Iterable[str]
) -> dict[str, tuple[list, list, tuple]]:
    """(a) region minus its other departments, (b) the country minus the other region and departments,
    (c) the communes minus the communes of the other start periods: each leaves the target alone."""
    region = territory.region_of_department(TARGET_DEPARTMENT)
    near = [view((region, d, None, None)) for d in OTHER_DEPARTMENTS if territory.region_of_department(d) == region]
    far = sorted({territory.region_of_department(d) for d in OTHER_DEPARTMENTS} - {region})
    questions = tuple(code for code, _ in UNKNOWN)
    return {
        "region minus its other departments": ([view((region, None, None, None))], near, questions),
        "country minus the other regions and departments": (
            [view((None, None, None, None))],
            near + [view((r, None, None, None)) for r in far],
            questions,
        ),
        "employer minus its other periods": (
            [view((None, None, "commune", None))],
            [view((None, None, "commune", p)) for p in periods if p != "2020"],
            questions[1:],  # the employer is the filter itself
        ),
    }


def certain_answers(view: Callable[[FilterKey], dict], target: Answers) -> list[str]:
    """Every (attack, question) where differencing leaves a single possible answer."""
    periods = sorted({start_period(month) for month in MONTHS})
    found = []
    for name, (plus, minus, questions) in differencing_attacks(view, periods).items():
        for code in questions:
            possible = possible_answers(plus, minus, code)
            assert getattr(target, code) in possible, (name, code, possible)  # the attack's own soundness
            if len(possible) == 1:
                found.append(f"{name}: {code} = {possible.pop()}")
    return found


# ============================================================================ 1. differencing over time

# 2k answers through invitations: two groups released, every figure of the country published.
SEED_GROUP = [
    answers(
        start_month=("2021-09", "2022-02")[n % 2],
        employer=("epci", "commune")[n % 3 == 0],
        gender="femme",
        experience=("lt1", "1to5", "5to20", "gt20")[n % 4],
        diploma="bac4_5",
        training_field=("urbanisme_amenagement",),
        department=("21", "29")[n % 2],
    )
    for n in range(2 * K)
]


def seed_group(factory, settings) -> list[str]:
    tokens = [invite(factory, settings, f"cp{n}@example.fr") for n in range(len(SEED_GROUP))]
    for token, a in zip(tokens, SEED_GROUP, strict=True):
        submit(factory, settings, token, a)
    assert waiting(factory) == 0
    return tokens


def as_man(a: Answers) -> Answers:
    return replace(a, gender="homme", experience="gt20")


@pytest.mark.parametrize("scenario", ["new answer", "changed answer", "withdrawal", "all three"])
def test_one_answer_change_or_withdrawal_moves_no_published_figure(factory, settings, scenario):
    tokens = seed_group(factory, settings)
    newcomer = invite(factory, settings, "nouveau@example.fr")
    before = published(factory)
    assert before[(None, None, None, None)]["respondents"] is not None and len(before) > 50
    steps = []
    if scenario in ("new answer", "all three"):
        steps.append(lambda: submit(factory, settings, newcomer, as_man(SEED_GROUP[0])))
    if scenario in ("changed answer", "all three"):
        steps.append(lambda: submit(factory, settings, tokens[0], as_man(SEED_GROUP[0])))
    if scenario in ("withdrawal", "all three"):
        steps.append(lambda: withdraw(factory, settings, tokens[1]))
    # Then other people change their answers, one by one, until k changes wait.
    for n in range(2, 2 + K - len(steps)):
        steps.append(lambda n=n: submit(factory, settings, tokens[n], as_man(SEED_GROUP[n])))
    for number, step in enumerate(steps[:-1], start=1):
        step()
        assert waiting(factory) == number
        assert not diff_views(before, published(factory)), f"after {number} waiting change(s)"
    steps[-1]()  # the k-th change completes a group: everything waiting is applied at once
    assert waiting(factory) == 0
    changes = diff_views(before, published(factory))
    assert any(change.startswith(str((None, None, None, None))) for change in changes), changes


def test_closing_the_survey_does_not_release_a_small_group(factory, settings):
    tokens = seed_group(factory, settings)
    newcomer = invite(factory, settings, "nouveau@example.fr")
    before = published(factory)
    submit(factory, settings, newcomer, as_man(SEED_GROUP[0]))
    submit(factory, settings, tokens[0], as_man(SEED_GROUP[0]))
    withdraw(factory, settings, tokens[1])
    with factory.begin() as session:
        survey.set_closing_time(session, utcnow() - timedelta(minutes=1))
    with factory.begin() as session:
        assert survey.release_if_ready(session, settings) == 0
    with pytest.raises(DomainError) as caught:
        submit(factory, settings, tokens[2], as_man(SEED_GROUP[2]))
    assert caught.value.code == "survey_closed"
    with db.read_only(factory) as session:
        state = survey.release_state(session, K)
    assert (state.waiting, state.k) == (3, K)
    assert not diff_views(before, published(factory))


# ============================================================================ 2. differencing across filters


@pytest.mark.parametrize("seed", range(5))
def test_differencing_across_filters_on_the_database(factory, settings, seed):
    """One person alone in a department (and alone among the communes that started in 2020): the
    region, the country and the employer minus everything else around never pin down their answers."""
    others, target = lone_target_data(seed)
    import_answers(factory, settings, [*others, target])
    with db.read_only(factory) as session:

        @cache
        def view(key: FilterKey) -> dict:
            return figures_json(session, key)

        assert view((territory.region_of_department(TARGET_DEPARTMENT), TARGET_DEPARTMENT, None, None)).get(
            "suppressed"
        )
        certain = certain_answers(view, target)
    assert not certain, f"differencing gives the lone person's answers with certainty: {certain}"


DIFFERENCING_TRIALS = 100


def test_differencing_across_filters_on_random_data_sets():
    """The same attacks on many random data sets (pure model of the figures, see below)."""
    outcomes: list[tuple[int, list[str]]] = []

    @hypothesis_settings(max_examples=DIFFERENCING_TRIALS, derandomize=True, deadline=None, database=None)
    @given(seed=st.integers(0, 2**32 - 1), keys=st.integers(0, 2**32 - 1))
    def trial(seed, keys):
        others, target = lone_target_data(seed)
        rng = random.Random(keys)
        records = [Record(a, rng.randrange(KEY_SPACE)) for a in [*others, target]]
        outcomes.append((seed, certain_answers(cache(lambda key: publish(table_of(records, canonical(key)))), target)))

    trial()
    certain = [(seed, found) for seed, found in outcomes if found]
    print(f"differencing across filters: certainty in {len(certain)}/{len(outcomes)} data sets")
    assert not certain, "differencing gives the lone person's answers with certainty: " + "; ".join(
        f"lone_target_data({seed}): {', '.join(found)}" for seed, found in certain[:5]
    )


# ============================================================================ 3. averaging


def averaging_data(factory, settings) -> list[Answers]:
    rows = [record.answers for record in random_data(seed=3, size=60)]
    import_answers(factory, settings, rows)
    return rows


def test_asking_the_same_figure_again_gives_exactly_the_same_values(factory, settings):
    rows = averaging_data(factory, settings)
    national = (None, None, None, None)
    for key, times in ((national, 100), (("27", None, "epci", None), 30)):
        with db.read_only(factory) as session:
            first = figures_json(session, key)
        for _ in range(times - 1):
            with db.read_only(factory) as session:  # a fresh session (and transaction) each time
                assert figures_json(session, key) == first
        if key == national:
            # The figures are perturbed (else this would prove nothing): some differ from the true counts
            # (with ~20 cells of 7 or more people, all unperturbed has a probability below 1e-6).
            assert first != publish(table_of([Record(a) for a in rows], canonical(key)), noisy=False)


def stats_command(database_url: str, *args: str) -> subprocess.Popen:
    """`python -m pvd_survey stats --format json` in its own process, as an operator runs it."""
    environment = {**os.environ, "PVD_DATABASE_URL": database_url, "PVD_DISCLOSURE_K": str(K)}
    return subprocess.Popen(
        [sys.executable, "-m", "pvd_survey", "stats", "--format", "json", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
        env=environment,
    )


def test_dashboard_csv_json_and_command_line_give_the_same_counts(factory, settings, database_url):
    averaging_data(factory, settings)
    command = stats_command(database_url, "--region", "27", "--employer", "epci")  # one process: ~3 s
    for key in (("27", None, "epci", None), (None, None, None, None)):
        with db.read_only(factory) as session:
            # The command line lists the periods up to today's: so does this side.
            figures = stats.survey_stats(session, stats.make_filters(*key), k=K)
        document = figures.to_json()
        if key[0] == "27":
            out, err = command.communicate(timeout=60)
            assert command.returncode == 0, err
            assert json.loads(out) == document
            assert document["respondents"] is not None
        rows = list(csv.DictReader(io.StringIO(stats.stats_csv(figures, bom=True).lstrip("\ufeff"))))
        assert len(rows) == sum(len(q["options"]) for q in document["questions"].values())
        for row in rows:
            figure = document["questions"][row["question"]]
            cell = figure["options"][row["option"]]
            assert row["count"] == ("" if cell["count"] is None else str(cell["count"])), row
            assert row["answered"] == ("" if figure["answered"] is None else str(figure["answered"])), row
            assert row["suppressed"] == str(cell["count"] is None), row


# ============================================================================ 4. reconstruction


def test_pure_model_matches_the_database(factory, settings):
    """The pure model used by the attacks publishes exactly what survey_stats publishes, on every filter
    combination, for imported answers with gaps, invitation answers, changes and a withdrawal."""
    rows = [record.answers for record in random_data(seed=11, size=30)]
    rows += [answers(), answers(gender="femme", department="2A"), answers(employer="autre", start_month="2020-02")]
    import_answers(factory, settings, rows)
    tokens = [invite(factory, settings, f"cp{n}@example.fr") for n in range(6)]
    for token, a in zip(tokens, rows, strict=False):
        submit(factory, settings, token, a)
    for token, a in zip(tokens[:3], rows[10:], strict=False):
        submit(factory, settings, token, as_man(a))  # changes (the sixth answer still waits)
    withdraw(factory, settings, tokens[3])  # the fifth change: a group is released
    assert waiting(factory) == 0
    view = published(factory)
    records = records_in_database(factory)
    assert len(records) == len(rows) + 5
    assert pure_view(records, view) == view


RECONSTRUCTION_TRIALS = 150
# How much better than guessing from the published shares the best guess may do: three standard
# errors of the difference of two success rates measured on RECONSTRUCTION_TRIALS trials (rates near
# 10 %: 3 * sqrt(2 * 0.1 * 0.9 / 150) = 10 points). The noise (+-2 around the true count, variance
# 0.8) is meant to make a single person's contribution (0 or 1) indistinguishable.
GUESS_TOLERANCE = 10.0


def test_reconstruction_attack_on_random_data_sets():
    """Everyone but the target is known; every table that may contain the target is read."""
    results: list[Attack] = []
    examples: list[tuple[int, int, int]] = []

    @hypothesis_settings(max_examples=RECONSTRUCTION_TRIALS, derandomize=True, deadline=None, database=None)
    @given(seed=st.integers(0, 2**32 - 1), size=st.integers(5, 40), target=st.integers(0, 39))
    def trial(seed, size, target):
        results.append(run_attack(random_data(seed, size), target % size))
        examples.append((seed, size, target % size))

    trial()
    print(f"reconstruction: {summary(results)}")
    exact = [example for example, result in zip(examples, results, strict=True) if result.exact]
    guessed = 100 * sum(r.guessed for r in results) / len(results)
    baseline = 100 * sum(r.baseline for r in results) / len(results)
    problems = []
    if exact:
        problems.append(
            f"the figures give the target's whole answer vector in {len(exact)}/{len(results)} trials, "
            f"e.g. run_attack(random_data(seed, size), target) for (seed, size, target) in {exact[:3]}"
        )
    if guessed > baseline + GUESS_TOLERANCE:
        problems.append(f"the best guess beats guessing from the shares by more than {GUESS_TOLERANCE} points")
    assert not problems, f"{summary(results)}: " + "; ".join(problems)


def test_control_the_same_attack_recovers_the_target_from_unperturbed_counts():
    """Against true counts (suppression only), the harness does find the target: it can fail."""
    results: list[Attack] = []

    @hypothesis_settings(max_examples=40, derandomize=True, deadline=None, database=None)
    @given(seed=st.integers(0, 2**32 - 1), size=st.integers(20, 40), target=st.integers(0, 39))
    def trial(seed, size, target):
        results.append(run_attack(random_data(seed, size), target % size, noisy=False))

    trial()
    print(f"reconstruction without noise (control): {summary(results)}")
    assert sum(r.exact for r in results) >= 2 * len(results) / 3


class _AnswerOrder:
    """Stands in for the release's shuffle so that a run is repeatable: changes in the order of their
    answers (identical answers are interchangeable), each drawing the next seeded record key."""

    @staticmethod
    def shuffle(changes: list[dict]) -> None:
        changes.sort(key=lambda change: json.dumps(change["answers"], sort_keys=True))


def test_reconstruction_attack_end_to_end_on_the_database(factory, settings, monkeypatch):
    """Answers imported with survey.import_responses, figures read with survey_stats, then attacked."""
    results: list[Attack] = []
    monkeypatch.setattr(survey, "_SHUFFLE", _AnswerOrder())

    @hypothesis_settings(max_examples=8, derandomize=True, deadline=None, database=None)
    @given(seed=st.integers(0, 2**32 - 1), size=st.integers(5, 40), target=st.integers(0, 39))
    def trial(seed, size, target):
        reset_survey(factory)
        rng = random.Random(seed)
        monkeypatch.setattr(survey, "new_record_key", lambda: rng.randrange(KEY_SPACE))
        people = [record.answers for record in random_data(seed, size)]
        import_answers(factory, settings, people)
        target %= size
        keys = target_tables(people[target])
        with db.read_only(factory) as session:
            view = {key: figures_json(session, key) for key in keys}
        assert pure_view(records_in_database(factory), keys) == view
        result = attack(view, people[:target] + people[target + 1 :], people[target])
        assert result.truth in result.consistent
        results.append(result)

    trial()
    print(f"reconstruction on the database: {summary(results)}")
    assert not any(result.exact for result in results), summary(results)


# ============================================================================ 5. the May 2022 survey


def test_imported_2022_file_gives_the_published_shares_within_the_perturbation_bound(factory, settings):
    rows = survey.read_responses_csv(demo.baseline_like_csv(), TODAY)
    assert len(rows) == 704
    import_answers(factory, settings, rows)
    with db.read_only(factory) as session:
        result = figures_json(session, (None, None, None, None))
    assert abs(result["respondents"] - 704) <= MAX_NOISE
    for question, shares in BASELINE_2022.items():
        figure = result["questions"][question]
        if question == "training_field":
            values = [option for row in rows for option in row.training_field]
            base = sum(1 for row in rows if row.training_field)
        else:
            values = [getattr(row, question) for row in rows if getattr(row, question)]
            base = len(values)
        counts = Counter(values)
        assert abs(figure["answered"] - base) <= MAX_NOISE, question
        for option, share in shares.items():
            live = "2022-S1" if (question, option) == ("start_period", "2022") else option
            cell = figure["options"][live]
            true = counts[live]
            assert abs(cell["count"] - true) <= MAX_NOISE, (question, option)
            # The published count moves by at most MAX_NOISE, so does the base; the share is then
            # rounded to one decimal (0.05), and the 2022 share was rounded to a whole percent (0.5).
            moved = max(
                abs(100 * (true + a) / (base + b) - 100 * true / base)
                for a in range(-MAX_NOISE, MAX_NOISE + 1)
                for b in range(-MAX_NOISE, MAX_NOISE + 1)
            )
            bound = moved + 0.05 + 0.5
            assert bound < 1.2
            assert abs(cell["share"] - share) <= bound + 1e-9, (question, option, cell, share, bound)
