"""Survey figures: counts and shares, filters, the 2022 comparison, and disclosure control."""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from pvd_survey import db, demo, exports, stats, survey
from pvd_survey.config import load_settings
from pvd_survey.disclosure import MAX_NOISE, Tally, hidden_cells, protect_table
from pvd_survey.errors import DomainError
from pvd_survey.models import SurveyPool, SurveyRelease, SurveyReleaseLog, SurveyResponse
from pvd_survey.survey_questions import BASELINE_2022, Answers
from tests.conftest import TEST_SECRET_KEY
from tests.factories import GOOD, invite_one, meeting_form, person

TODAY = date(2026, 11, 22)
# Loading test data counts it at once (an import of at least k = 1); the figures are then read with the k under
# test, with the same server key.
with tempfile.TemporaryDirectory() as _empty_folder:  # no secrets file: these values and the defaults only
    RELEASE_AT_ONCE = dataclasses.replace(
        load_settings({"PVD_SECRET_KEY": TEST_SECRET_KEY}, secrets_path=Path(_empty_folder) / "no-secrets.toml"),
        disclosure_k=1,
    )


def near(published: int | None, true: int) -> bool:
    """A published count is the true one moved by the documented perturbation at most."""
    return published is not None and abs(published - true) <= MAX_NOISE


def answers(**values) -> Answers:
    base = dict(
        start_month=None, employer=None, gender=None, experience=None, diploma=None, training_field=(), department=None
    )
    return Answers(**{**base, **values})


def load(factory, rows: list[Answers]) -> None:
    with factory.begin() as session:
        for model in (SurveyResponse, SurveyPool, SurveyRelease, SurveyReleaseLog):
            session.execute(delete(model))
        survey.import_responses(session, rows, RELEASE_AT_ONCE)


def figures(factory, k=5, **filters):
    with db.read_only(factory) as session:
        return stats.survey_stats(
            session, stats.make_filters(**filters, today=TODAY), k=k, today=TODAY, settings=RELEASE_AT_ONCE
        )


# ---------------------------------------------------------------------------- the suppression rule


@pytest.mark.parametrize(
    ("counts", "hidden"),
    [
        ({"a": 10, "b": 20}, set()),
        ({"a": 10, "b": 0, "c": 20}, {"b"}),  # zero is hidden too (it hides nobody, so nothing more is)
        ({"a": 3, "b": 10, "c": 20}, {"a", "b"}),  # one hidden cell would follow from the total
        ({"a": 2, "b": 2, "c": 20, "d": 30}, {"a", "b", "c"}),  # 2+2 < 5: still a small group
        ({"a": 4, "b": 3, "c": 20}, {"a", "b"}),
        ({"a": 1, "b": 0, "c": 9, "d": 12}, {"a", "b", "c"}),  # one person in the hidden cells
    ],
)
@pytest.mark.database_independent
def test_primary_and_secondary_suppression(counts, hidden):
    assert hidden_cells(counts, k=5) == hidden


@pytest.mark.database_independent
def test_multi_choice_tables_only_hide_small_cells():
    assert hidden_cells({"a": 3, "b": 10, "c": 20}, k=5, additive=False) == {"a"}


@pytest.mark.database_independent
def test_small_base_hides_the_whole_table():
    base, cells = protect_table({"a": Tally(3, 10), "b": Tally(1, 7)}, Tally(4, 17), k=5)
    assert base is None and all(cell.suppressed for cell in cells.values())


@pytest.mark.database_independent
@given(st.dictionaries(st.sampled_from("abcdefgh"), st.integers(0, 40), min_size=1), st.integers(2, 10))
def test_suppressed_tables_never_leak(counts, k):
    tallies = {key: Tally(count, 37 * count) for key, count in counts.items()}
    base, cells = protect_table(tallies, Tally(sum(counts.values()), 1), k)
    shown = {key: cell.count for key, cell in cells.items() if not cell.suppressed}
    assert all(count >= 1 for count in shown.values())  # never an empty-looking figure
    assert all(near(count, counts[key]) for key, count in shown.items())
    if base is None:
        return
    holding = [counts[key] for key, cell in cells.items() if cell.suppressed and counts[key]]
    # Subtracting the shown cells from the total gives only the sum of the hidden ones, never one of them,
    # and that sum is not a small group either.
    if holding and shown:
        assert len(holding) != 1 and sum(holding) >= k
    # No shown cell leaves fewer than k of the table's people outside it.
    assert all(sum(counts.values()) - counts[key] >= k for key in shown)


# ---------------------------------------------------------------------------- figures from the database


def test_counts_shares_and_comparison_with_2022(factory):
    rows = [
        answers(
            gender="femme",
            employer="epci",
            department="21",
            start_month="2021-09",
            training_field=("urbanisme_amenagement", "architecture"),
        )
    ] * 14 + [
        answers(
            gender="homme",
            employer="commune",
            department="29",
            start_month="2022-03",
            training_field=("urbanisme_amenagement",),
        )
    ] * 6
    load(factory, rows)
    result = figures(factory)
    assert near(result.respondents, 20)
    gender = result.figures["gender"]
    femme = gender.cells["femme"]
    assert near(gender.answered, 20) and near(femme.count, 14)
    # Shares are computed from the published counts.
    assert femme.share == round(100 * femme.count / gender.answered, 1)
    training = result.figures["training_field"]
    urbanisme, architecture = training.cells["urbanisme_amenagement"], training.cells["architecture"]
    assert urbanisme.suppressed  # all 20: "everyone answered this" is hidden (fewer than k outside it)
    assert near(architecture.count, 14) and architecture.share == round(100 * architecture.count / training.answered, 1)
    assert near(result.figures["region"].cells["27"].count, 14)  # Bourgogne-Franche-Comté
    assert near(result.figures["start_period"].cells["2022-S1"].count, 6)
    rows_by_key = {(r["question"], r["option"]): r for r in stats.stats_rows(result)}
    assert rows_by_key[("gender", "femme")]["share_2022"] == 70
    assert rows_by_key[("gender", "femme")]["difference_points"] == round(femme.share - 70, 1)
    assert rows_by_key[("start_period", "2022-S1")]["share_2022"] == 24  # the May 2022 bucket
    commune = result.figures["employer"].cells["commune"]
    assert rows_by_key[("employer", "commune")]["difference_points"] == round(commune.share - 38, 1)


def test_filters_and_isolating_filters(factory):
    rows = [answers(gender="femme", employer="epci", department="21")] * 8 + [
        answers(gender="homme", employer="commune", department="29")
    ] * 3
    load(factory, rows)
    narrowed = figures(factory, region="27")
    assert near(narrowed.respondents, 8)
    assert narrowed.figures["gender"].cells["femme"].suppressed  # all 8 of the region: nobody outside it
    isolated = figures(factory, department="29")
    assert isolated.isolated and isolated.to_json()["suppressed"] is True
    assert all(c.suppressed for f in isolated.figures.values() for c in f.cells.values())
    whole = figures(factory)
    assert whole.figures["gender"].cells["homme"].suppressed  # 3 < 5
    assert whole.figures["gender"].cells["femme"].suppressed  # else 11 - 8 = 3
    assert whole.to_json()["questions"]["gender"]["options"]["homme"] == {
        "count": None,
        "share": None,
        "suppressed": True,
    }
    assert figures(factory, employer="commune", start_period="2021-S2").isolated  # nobody looks like too few


@pytest.mark.parametrize(
    ("filters", "code"),
    [
        ({"region": "99"}, "unknown_filter"),
        ({"department": "20"}, "unknown_filter"),
        ({"employer": "mairie"}, "unknown_filter"),
        ({"start_period": "2019"}, "unknown_filter"),
        ({"region": "53", "department": "21"}, "filter_mismatch"),
    ],
)
@pytest.mark.database_independent
def test_bad_filters_are_refused(filters, code):
    with pytest.raises(DomainError) as caught:
        stats.make_filters(**filters, today=TODAY)
    assert caught.value.code == code


def test_csv_for_french_excel_and_for_tools(factory):
    import csv
    import io

    load(factory, [answers(gender="femme")] * 6 + [answers(gender="homme")] * 5)
    result = figures(factory)
    text = stats.stats_csv(result, exports.PEOPLE)
    assert text.startswith("\ufeffquestion;question_label;option;option_label;answered;count;share")
    rows = {(r["question"], r["option"]): r for r in csv.DictReader(io.StringIO(text[1:], newline=""), delimiter=";")}
    femme = rows[("gender", "femme")]
    # The same figures as on screen: perturbed count, share of the published base, the 2022 comparison.
    assert (femme["option_label"], femme["suppressed"], femme["share_2022"]) == ("Femme", "non", "70")
    cell = result.figures["gender"].cells["femme"]
    decimal = femme["share"].replace(",", ".")  # French Excel's decimal comma
    assert (int(femme["count"]), float(decimal)) == (cell.count, cell.share) and near(cell.count, 6)
    assert float(femme["difference_points"].replace(",", ".")) == round(cell.share - 70, 1)
    # For tools: `,`, no BOM, decimal point, the same values.
    tools = {(r["question"], r["option"]): r for r in csv.DictReader(io.StringIO(stats.stats_csv(result), newline=""))}
    numbers = ("share", "share_2022", "difference_points")
    assert tools[("gender", "femme")] == {k: v.replace(",", ".") if k in numbers else v for k, v in femme.items()}


# ---------------------------------------------------------------------------- property: random data and filters


QUESTION_VALUES = {
    "employer": [None, "epci", "commune", "autre"],
    "gender": [None, "femme", "homme", "autre"],
    "experience": [None, "lt1", "1to5", "5to20", "gt20"],
    "diploma": [None, "bac2_3", "bac4_5", "doctorat", "autre"],
    "department": [None, "21", "25", "29", "35", "971"],
    "start_month": [None, "2020-11", "2021-03", "2021-09", "2022-02"],
}
answer_strategy = st.builds(
    answers,
    **{name: st.sampled_from(values) for name, values in QUESTION_VALUES.items()},
    training_field=st.sets(st.sampled_from(["urbanisme_amenagement", "architecture", "autre"])).map(
        lambda s: tuple(sorted(s))
    ),
)
filter_strategy = st.fixed_dictionaries(
    {},
    optional={
        "region": st.sampled_from(["27", "53", "01"]),
        "employer": st.sampled_from(["epci", "commune", "autre"]),
        "start_period": st.sampled_from(["2020", "2021-S1", "2021-S2", "2022-S1"]),
    },
)


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(answer_strategy, max_size=60), filters=filter_strategy, k=st.integers(3, 6))
def test_random_data_and_filters_never_disclose_small_cells(factory, rows, filters, k):
    load(factory, rows)
    result = figures(factory, k=k, **filters)
    matching = [r for r in rows if _matches(r, filters)]
    if result.isolated:
        assert len(matching) < k  # zero included
        return
    assert near(result.respondents, len(matching))
    for code, figure in result.figures.items():
        truth = _true_counts(matching, code)
        shown = {o: c.count for o, c in figure.cells.items() if not c.suppressed}
        assert all(count >= 1 for count in shown.values()), (code, shown)
        # Shown figures are the true ones moved by the perturbation at most (and never an empty cell).
        assert all(near(count, truth.get(o, 0)) and truth.get(o, 0) >= k for o, count in shown.items())
        hidden = [o for o, c in figure.cells.items() if c.suppressed]
        if figure.answered is not None and not figure.multiple:
            holding = [truth[o] for o in hidden if truth.get(o)]
            if holding and shown:
                assert len(holding) != 1 and sum(holding) >= k, code


def _matches(row: Answers, filters: dict) -> bool:
    from pvd_survey import territory

    if "region" in filters and (
        row.department is None or territory.region_of_department(row.department) != filters["region"]
    ):
        return False
    if "employer" in filters and row.employer != filters["employer"]:
        return False
    return "start_period" not in filters or row.start_period == filters["start_period"]


def _true_counts(rows: list[Answers], code: str) -> Counter:
    if code == "training_field":
        return Counter(field for row in rows for field in row.training_field)
    return Counter(getattr(row, code) for row in rows if getattr(row, code) is not None)


# ---------------------------------------------------------------------------- the published 2022 survey


def test_imported_2022_file_reproduces_the_published_percentages(factory):
    rows = survey.read_responses_csv(demo.baseline_like_csv(), TODAY)
    assert len(rows) == 704
    load(factory, rows)
    result = figures(factory)
    published = json.loads(json.dumps(BASELINE_2022))
    computed = result.to_json()["questions"]
    for question, shares in published.items():
        for option, share in shares.items():
            if question == "start_period":
                option = "2022-S1" if option == "2022" else option
            # Published shares are whole percentages; counts and base move by 2 at most out of 704.
            assert abs(computed[question]["options"][option]["share"] - share) <= 0.5 + 100 * 4 / 700, (
                question,
                option,
            )
    assert near(result.respondents, 704)


def test_a_filtered_dimension_shows_only_its_filtered_value(factory):
    load(factory, [answers(start_month="2021-03", employer="epci")] * 6 + [answers(start_month="2021-09")] * 7)
    result = figures(factory, start_period="2021-S1")
    assert near(result.respondents, 6)
    # The filtered value holds everybody (the respondents figure says how many); no other value is shown.
    assert all(cell.suppressed for cell in result.figures["start_period"].cells.values())
    assert all(cell.suppressed for cell in figures(factory, employer="epci").figures["employer"].cells.values())


def test_activity_by_week_counts_each_kind_and_hides_small_weeks(factory, settings):
    from datetime import datetime, timedelta

    from pvd_survey import meetings

    today = date.today()
    monday = today - timedelta(days=today.weekday())
    this_week = datetime.combine(monday, datetime.min.time()) + timedelta(hours=10)
    # Answers are dated by the moment their group was released (nothing records when anyone answered).
    for moment, count in ((this_week - timedelta(days=7), 2), (this_week, 5)):
        releasing = dataclasses.replace(settings, disclosure_k=count)
        for number in range(count):
            token = invite_one(factory, settings, f"{moment.date()}-{number}@example.fr")
            with db.transaction(factory) as session:
                survey.submit(session, token, GOOD, settings, today=today, now=moment)
        with db.transaction(factory) as session:
            assert survey.release_due(session, releasing, now=moment).applied == count
    with db.transaction(factory) as session:
        survey.import_responses(session, [answers()], RELEASE_AT_ONCE)  # imported: not activity
        meeting_id = meetings.create_meeting(session, meeting_form(capacity=50))
        for number in range(6):
            meetings.register(session, meeting_id, person(number), settings)
    with db.read_only(factory) as session:
        rows = stats.activity_by_week(session, k=5, weeks=3, today=today)
    table = {(row.week, row.kind): row.count for row in rows}
    assert [row.week for row in rows[:3]] == [monday - timedelta(days=14), monday - timedelta(days=7), monday]
    assert near(table[(monday, "survey")], 5)  # the imported answer is not activity
    assert table[(monday - timedelta(days=7), "survey")] is None  # 2 answers: hidden
    assert table[(monday - timedelta(days=14), "survey")] is None  # nobody: hidden like too few
    assert near(table[(monday, "registrations")], 6)
    assert table[(monday, "applications")] is None


def test_a_change_or_a_withdrawal_is_not_new_activity(factory, settings):
    from datetime import datetime, timedelta

    today = date.today()
    moment = datetime.combine(today - timedelta(days=today.weekday()), datetime.min.time())
    settings = dataclasses.replace(settings, disclosure_k=5)
    tokens = [invite_one(factory, settings, f"cp{n}@example.fr") for n in range(5)]
    for token in tokens:
        with db.transaction(factory) as session:
            survey.submit(session, token, GOOD, settings, today=today)
    with db.transaction(factory) as session:
        survey.release_due(session, settings, now=moment)
    for token in tokens[:4]:
        with db.transaction(factory) as session:
            survey.submit(session, token, {**GOOD, "gender": "homme"}, settings, today=today)
    with db.transaction(factory) as session:
        survey.withdraw(session, tokens[4], settings)
    with db.transaction(factory) as session:
        assert survey.release_due(session, settings, now=moment + timedelta(hours=1)).applied == 5
    with db.read_only(factory) as session:
        assert session.scalars(select(SurveyReleaseLog.new_respondents).order_by(SurveyReleaseLog.id)).all() == [5, 0]


# ---------------------------------------------------------------------------- the invitation funnel


def test_funnel_counts_invitations_by_their_department_and_answers_by_theirs(factory, settings):
    settings = dataclasses.replace(settings, disclosure_k=5)
    # Invited in Brittany, they answer for a post in Burgundy; invited in Burgundy, they answer for Brittany.
    crossed = [(invite_one(factory, settings, f"bzh{n}@example.fr", "29"), "21") for n in range(6)]
    crossed += [(invite_one(factory, settings, f"bfc{n}@example.fr", "21"), "29") for n in range(6)]
    for n in range(5):
        invite_one(factory, settings, f"none{n}@example.fr")
    for token, department in crossed:
        with db.transaction(factory) as session:
            survey.submit(session, token, {**GOOD, "department": department}, settings, today=TODAY)
    with db.read_only(factory) as session:
        waiting = {row.region: row.answered for row in stats.invitation_funnel(session, settings, k=5)}
    assert waiting and all(value is None for value in waiting.values())  # nothing published before a release
    with db.transaction(factory) as session:
        assert survey.release_due(session, settings, force=True).applied == 12
        survey.import_responses(session, [answers(department="35")] * 5, settings)  # imported: no link
    with db.read_only(factory) as session:
        rows = {row.region: row for row in stats.invitation_funnel(session, settings, k=5)}
    assert set(rows) == {"53", "27", ""} and rows[""].label == "Région non renseignée"
    assert near(rows["53"].invited, 6) and near(rows["53"].answered, 6)  # the 5 imported answers are not in it
    assert near(rows["27"].invited, 6) and near(rows["27"].answered, 6)
    assert near(rows[""].invited, 5) and rows[""].answered is None  # nobody: hidden like too few


# ---------------------------------------------------------------------------- the released totals, recounted by hand


def _recount(records: list, filters: stats.Filters, k: int, today: date) -> stats.SurveyStats:
    """The figures the plain way: filter the records, add up counts and keys per option, then protect."""
    from pvd_survey import territory
    from pvd_survey.disclosure import KEY_SPACE, perturb

    def matches(record) -> bool:
        a = record.answers
        if filters.department and a.department != filters.department:
            return False
        if filters.region and (a.department is None or territory.region_of_department(a.department) != filters.region):
            return False
        if filters.employer and a.employer != filters.employer:
            return False
        return not filters.start_period or a.start_period == filters.start_period

    chosen = [record for record in records if matches(record)]

    def tally(selected) -> Tally:
        selected = list(selected)
        return Tally(len(selected), sum(r.record_key for r in selected) % KEY_SPACE)

    everybody = tally(chosen)
    if everybody.count < k:
        return stats.stats_of_totals(survey.Totals.empty(), filters, k, today)  # everything hidden, same shape
    figures = {}
    for code, label, multiple in stats.FIGURES:
        options = stats._figure_options(code, today)

        def value(record, code=code):
            a = record.answers
            if code == "region":
                return territory.region_of_department(a.department) if a.department else None
            return getattr(a, code)

        if multiple:
            by_option = {o: tally(r for r in chosen if o in r.answers.training_field) for o in options}
            answered = tally(r for r in chosen if r.answers.training_field)
        else:
            extra = sorted({value(r) for r in chosen if value(r) and value(r) not in options})
            by_option = {o: tally(r for r in chosen if value(r) == o) for o in [*options, *extra]}
            answered = tally(r for r in chosen if value(r) is not None)
        base, cells = protect_table(by_option, answered, k, additive=not multiple)
        figures[code] = stats.FigureStats(code, label, multiple, base, cells)
    return stats.SurveyStats(filters, k, perturb(everybody, k), figures)


record_strategy = st.builds(
    lambda answer, key, linked: survey.CountedRecord(answer, key, linked),
    answer_strategy,
    st.integers(0, 255),
    st.booleans(),
)
all_filters = st.fixed_dictionaries(
    {},
    optional={
        "region": st.sampled_from(["27", "53", "01"]),
        "employer": st.sampled_from(["epci", "commune", "autre"]),
        "start_period": st.sampled_from(["2020", "2021-S1", "2021-S2", "2022-S1"]),
    },
) | st.sampled_from([{"department": "21"}, {"department": "29", "employer": "epci"}])


# Pure (no database): the released totals against a plain recount of the counted records.
@pytest.mark.database_independent
@hypothesis_settings(max_examples=150, deadline=None)
@given(records=st.lists(record_strategy, max_size=80), filters=all_filters, k=st.integers(1, 6))
def test_figures_from_the_totals_equal_a_plain_recount_of_the_records(records, filters, k):
    totals = survey.Totals.empty()
    for record in records:
        totals.add(record.answers, record.record_key, record.linked)
    chosen = stats.Filters(**filters)
    assert stats.stats_of_totals(totals, chosen, k, TODAY) == _recount(records, chosen, k, TODAY)
    # Taking records out again (changes, withdrawals) leaves what the others alone give.
    for record in records[::2]:
        totals.add(record.answers, record.record_key, record.linked, sign=-1)
    assert stats.stats_of_totals(totals, chosen, k, TODAY) == _recount(records[1::2], chosen, k, TODAY)
    # The sealed form carries the same figures.
    reopened = survey.Totals.from_bytes(totals.to_bytes())
    assert stats.stats_of_totals(reopened, chosen, k, TODAY) == stats.stats_of_totals(totals, chosen, k, TODAY)


# ---------------------------------------------------------------------------- the perturbation table


@pytest.mark.database_independent
@pytest.mark.parametrize("k", [3, 5, 10])
def test_perturbation_has_zero_mean_bounded_noise_and_hides_small_and_empty_cells(k):
    from pvd_survey.disclosure import KEY_SPACE, noise, perturb

    for count in range(k, k + 60):
        noises = [noise(count, key) for key in range(KEY_SPACE)]
        assert sum(noises) == 0, count  # exactly zero mean over the uniform cell keys
        assert {abs(n) for n in noises} == {0, 1, MAX_NOISE}  # every shown count may move, by 2 at most
        variance = sum(n * n for n in noises) / KEY_SPACE
        assert round(variance, 2) == 0.80
    assert all(perturb(Tally(c, 3), k) is None for c in range(k))  # zero included
    # The same cell (count and key) always gives the same value.
    assert len({perturb(Tally(k + 20, 1234), k) for _ in range(100)}) == 1
