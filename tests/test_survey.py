"""The profile survey's services on the test database: invitations, links, drafts, submissions, releases on
the schedule, reminders, sealed rows (sizes, tampering, a lost key), import/export."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, text, update

from pvd_survey import db, links, mail, stats, survey
from pvd_survey.errors import DomainError, InvalidAnswers, french_message
from pvd_survey.models import (
    OutboxMessage,
    ServerKey,
    SurveyDraft,
    SurveyInvitation,
    SurveyPool,
    SurveyRelease,
    SurveyReleaseLog,
    SurveyResponse,
    utcnow,
)
from pvd_survey.survey import release as release_module
from pvd_survey.survey import totals as totals_store
from pvd_survey.survey.links import _refs
from pvd_survey.survey_questions import baseline_period, start_period, validate_answers
from tests.conftest import PROJECT_ROOT, TEST_BACKEND, file_bytes_from_another_process
from tests.factories import GOOD, invite_one, run_cli

TODAY = date(2026, 11, 22)
RESPONDENTS = totals_store.CELL_INDEX[(survey.RESPONDENTS, "")]
OTHER_KEY = "another-key-9876543210-zyxwvutsrqponmlkjihgfedcba"


def small_k(settings, k=2):
    """Settings whose release groups are small enough for a test of a few people."""
    return dataclasses.replace(settings, disclosure_k=k)


def count_rows(factory, model):
    with db.read_only(factory) as session:
        return session.scalar(select(func.count()).select_from(model))


def count_responses(factory):
    return count_rows(factory, SurveyResponse)


def answer(factory, settings, token, raw=GOOD, **kwargs):
    with db.transaction(factory) as session:
        return survey.submit(session, token, raw, settings, today=TODAY, **kwargs)


def release(factory, settings, now=None, force=False):
    """One pass of the background work's release (its own transaction)."""
    with db.transaction(factory) as session:
        return survey.release_due(session, settings, now=now, force=force)


def counted(factory, settings):
    with db.read_only(factory) as session:
        return survey.counted_records(session, settings)


def salt_of(factory, email):
    with db.read_only(factory) as session:
        return session.scalar(select(SurveyInvitation.respondent_salt).where(SurveyInvitation.email == email))


def published(factory, settings, k=2, **filters):
    with db.read_only(factory) as session:
        return stats.survey_stats(session, stats.Filters(**filters), k=k, today=TODAY, settings=settings).to_json()


def release_row(factory):
    with db.read_only(factory) as session:
        return session.execute(select(SurveyRelease.__table__)).all()


def flip_a_byte(sealed: bytes, position: int = 40) -> bytes:
    return sealed[:position] + bytes([sealed[position] ^ 0x01]) + sealed[position + 1 :]


# ---------------------------------------------------------------------------- answers


@pytest.mark.parametrize(
    ("month", "period"),
    [
        ("2020-11", "2020"),
        ("2021-01", "2021-S1"),
        ("2021-06", "2021-S1"),
        ("2021-07", "2021-S2"),
        ("2022-05", "2022-S1"),
        ("2026-12", "2026-S2"),
        (None, None),
    ],
)
@pytest.mark.database_independent
def test_start_period_is_derived_from_month(month, period):
    assert start_period(month) == period


@pytest.mark.parametrize(
    ("period", "bucket"),
    [("2020", "2020"), ("2021-S1", "2021-S1"), ("2021-S2", "2021-S2"), ("2022-S1", "2022"), ("2022-S2", None)],
)
@pytest.mark.database_independent
def test_only_the_first_half_of_2022_compares_with_the_may_2022_bucket(period, bucket):
    # The May 2022 survey's "2022" covers January to May 2022; later periods have no 2022 share.
    assert baseline_period(period) == bucket


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"gender": None}, "gender", "answer_required"),
        ({"training_field": []}, "training_field", "answer_required"),
        ({"employer": "prefecture"}, "employer", "unknown_code"),
        ({"training_field": ["urbanisme_amenagement", "astrologie"]}, "training_field", "unknown_code"),
        ({"training_field": ["nsp", "architecture"]}, "training_field", "no_answer_exclusive"),
        ({"start_month": "2027-01"}, "start_month", "month_in_future"),
        ({"start_month": "2019-12"}, "start_month", "month_too_early"),
        ({"start_month": "09/2021"}, "start_month", "bad_month"),
        ({"start_month": "2021-13"}, "start_month", "bad_month"),
        ({"department": "20"}, "department", "unknown_code"),
    ],
)
@pytest.mark.database_independent
def test_bad_answers_are_reported_at_their_question(change, field, code):
    with pytest.raises(InvalidAnswers) as caught:
        validate_answers({**GOOD, **change}, TODAY)
    assert {f: e.code for f, e in caught.value.errors.items()} == {field: code}


@pytest.mark.database_independent
def test_every_bad_answer_is_reported_at_once():
    with pytest.raises(InvalidAnswers) as caught:
        validate_answers({"start_month": "2030-01", "employer": "x"}, TODAY)
    assert set(caught.value.errors) == {
        "start_month",
        "employer",
        "gender",
        "experience",
        "diploma",
        "training_field",
        "department",
    }


@pytest.mark.database_independent
def test_declining_to_answer_is_stored_as_no_answer():
    answers = validate_answers(
        {**GOOD, "gender": "nsp", "start_month": "nsp", "training_field": ["nsp"], "department": " 2a "}, TODAY
    )
    assert (answers.gender, answers.start_month, answers.training_field, answers.department) == (None, None, (), "2A")
    assert answers.region == "94"


# ---------------------------------------------------------------------------- invitations


def test_bulk_invitation_from_pasted_csv(factory, settings):
    text = "email;departement\nAnne@Example.fr;21\nbruno@example.fr;\n\nanne@example.fr;21\n"
    with factory.begin() as session:
        batch = survey.invite(session, survey.parse_invitation_list(text), settings)
    assert batch.created == ["anne@example.fr", "bruno@example.fr"]
    with factory.begin() as session:
        again = survey.invite(session, survey.parse_invitation_list("bruno@example.fr\nclaire@example.fr"), settings)
        assert (again.created, again.already_invited) == (["claire@example.fr"], ["bruno@example.fr"])
        messages = mail.list_messages(session)
    assert sorted(m.recipient for m in messages) == ["anne@example.fr", "bruno@example.fr", "claire@example.fr"]
    tokens = [m.link.split("jeton=")[1] for m in messages]
    assert len(set(tokens)) == 3 and all(len(t) >= 43 for t in tokens)  # 32 random bytes
    assert all(m.link.startswith("http://pvd.test/questionnaire?jeton=") for m in messages)


def test_bad_invitation_list_creates_nothing(factory, settings):
    with pytest.raises(InvalidAnswers) as caught:
        survey.parse_invitation_list("anne@example.fr\npas-une-adresse\nbruno@example.fr,99\n")
    assert {e.code for e in caught.value.errors.values()} == {"invalid_email_line", "unknown_department_line"}
    with pytest.raises(DomainError) as caught:
        survey.parse_invitation_list("\n\n")
    assert caught.value.code == "no_invitees"
    with db.read_only(factory) as session:
        assert survey.list_invitations(session) == []


def test_token_is_stored_hashed(factory, settings):
    token = invite_one(factory, settings)
    with db.read_only(factory) as session:
        stored = session.scalar(select(SurveyInvitation.token_hash))
    assert token not in stored and len(stored) == 64


# ---------------------------------------------------------------------------- links, drafts and submissions


@pytest.mark.parametrize("token", [None, "", "abc", "x" * 500])
def test_invalid_links_are_refused(factory, settings, token):
    with factory.begin() as session, pytest.raises(DomainError) as caught:
        survey.open_survey(session, token, settings)
    assert caught.value.code == "invalid_link"


def _email_side(factory):
    """Every invitation row as stored (and, on PostgreSQL, the transaction that last wrote it)."""
    with db.read_only(factory) as session:
        rows = session.execute(select(SurveyInvitation.__table__).order_by(SurveyInvitation.id)).all()
        versions = (
            session.execute(text("SELECT id, xmin::text FROM survey_invitation ORDER BY id")).all()
            if TEST_BACKEND == "postgresql"
            else []
        )
    return rows, versions


def test_answer_events_write_nothing_on_the_email_side(factory, settings):
    # Before issue 16, opening recorded `opened_at` and submitting `submitted_at`: both are gone, and no
    # answer event writes (or locks) the invitation row at all (same values, same row version).
    settings = small_k(settings)
    token, other = invite_one(factory, settings), invite_one(factory, settings, "autre@example.fr")
    before = _email_side(factory)
    with db.transaction(factory) as session:
        opened = survey.open_survey(session, token, settings)
        assert opened.form == {} and not opened.submitted
    with db.transaction(factory) as session:
        survey.save_draft(session, token, {"employer": "epci"}, settings)
    answer(factory, settings, token)
    answer(factory, settings, token, {**GOOD, "gender": "homme"})
    answer(factory, settings, other)
    release(factory, settings, force=True)
    with db.transaction(factory) as session:
        survey.withdraw(session, token, settings)
    assert _email_side(factory) == before
    columns = {column.name for column in SurveyInvitation.__table__.columns}
    assert not columns & {"opened_at", "submitted_at"}


def test_draft_is_restored_when_the_link_is_opened_again(factory, settings):
    token = invite_one(factory, settings)
    with factory.begin() as session:
        raw = {"employer": "commune", "training_field": ["architecture"], "junk": "x"}
        survey.save_draft(session, token, raw, settings)
    with factory.begin() as session:
        opened = survey.open_survey(session, token, settings)
    assert opened.form == {"employer": "commune", "training_field": ["architecture"]}
    assert opened.has_draft and not opened.submitted
    # The draft is sealed: its answers are not readable in the database.
    with db.read_only(factory) as session:
        sealed = session.scalar(select(SurveyDraft.sealed))
    assert b"commune" not in sealed and b"architecture" not in sealed


def test_submit_then_resubmit_updates_the_same_response(factory, settings):
    settings = small_k(settings)
    token, other = invite_one(factory, settings), invite_one(factory, settings, "autre@example.fr")
    assert answer(factory, settings, token) is True
    assert answer(factory, settings, other) is True
    assert release(factory, settings, force=True).applied == 2
    with factory.begin() as session:
        reopened = survey.open_survey(session, token, settings)
        assert reopened.submitted and not reopened.pending and reopened.form["gender"] == "femme"
        assert survey.submit(session, token, {**GOOD, "gender": "homme"}, settings, today=TODAY) is False
        assert survey.open_survey(session, token, settings).pending
        survey.submit(session, other, {**GOOD, "gender": "homme"}, settings, today=TODAY)
    assert release(factory, settings, force=True).applied == 2
    assert count_responses(factory) == 2
    assert {record.answers.gender for record in counted(factory, settings)} == {"homme"}
    figures = published(factory, settings, k=2)
    assert figures["questions"]["gender"]["options"]["femme"]["suppressed"]  # nobody: hidden like a small group
    assert figures["questions"]["gender"]["options"]["homme"]["suppressed"]  # everybody: hidden too
    assert abs(figures["respondents"] - 2) <= 2


def test_invalid_submission_stores_nothing(factory, settings):
    token = invite_one(factory, settings)
    with factory.begin() as session, pytest.raises(InvalidAnswers):
        survey.submit(session, token, {**GOOD, "employer": None}, settings, today=TODAY)
    assert count_responses(factory) == 0 and count_rows(factory, SurveyPool) == 0


def test_double_click_stores_one_response(factory, settings):
    token = invite_one(factory, settings)
    barrier = threading.Barrier(8)
    outcomes = []

    def click():
        barrier.wait()
        with factory.begin() as session:
            outcomes.append(survey.submit(session, token, GOOD, settings, today=TODAY))

    threads = [threading.Thread(target=click) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The first click alone is told "first answer": SQLite's writers take turns; on PostgreSQL, where a
    # submission takes no lock on the invitation (issue 16), the click whose upsert inserted the row.
    assert sorted(outcomes) == [False] * 7 + [True]
    assert count_rows(factory, SurveyPool) == 1  # one waiting set of answers, not eight
    with db.read_only(factory) as session:
        assert survey.release_state(session, settings).waiting == 1


def test_revoked_and_replaced_links(factory, settings):
    token = invite_one(factory, settings)
    with factory.begin() as session:
        survey.save_draft(session, token, settings=settings, raw={"employer": "epci"})
        invitation_id = session.scalar(select(SurveyInvitation.id))
        survey.resend(session, invitation_id, settings)
    with factory.begin() as session:
        with pytest.raises(DomainError) as caught:
            survey.open_survey(session, token, settings)
        assert caught.value.code == "invalid_link"
        new_token = next(m for m in mail.list_messages(session) if m.subject.startswith("Rappel")).link.split("=")[1]
        assert survey.open_survey(session, new_token, settings).form == {"employer": "epci", "training_field": []}
        survey.revoke(session, invitation_id)
    with factory.begin() as session, pytest.raises(DomainError) as caught:
        survey.submit(session, new_token, GOOD, settings, today=TODAY)
    assert caught.value.code == "revoked_link"
    with factory.begin() as session, pytest.raises(DomainError) as caught:
        survey.resend(session, invitation_id, settings)
    assert caught.value.code == "invitation_revoked"


def test_closed_survey_refuses_links(factory, settings):
    token = invite_one(factory, settings)
    with factory.begin() as session:
        survey.set_closing_time(session, utcnow() + timedelta(days=1))
        assert survey.open_survey(session, token, settings).closes_at is not None
        survey.set_closing_time(session, utcnow() - timedelta(minutes=1))
    with factory.begin() as session, pytest.raises(DomainError) as caught:
        survey.submit(session, token, GOOD, settings, today=TODAY)
    assert caught.value.code == "survey_closed"
    assert count_responses(factory) == 0 and count_rows(factory, SurveyPool) == 0


# ---------------------------------------------------------------------------- import and export

HEADER = "start_month,employer,gender,experience,diploma,training_field,department\n"
GOOD_LINE = "2021-09,epci,femme,5to20,bac4_5,urbanisme_amenagement|architecture,21\n"


def test_import_rejects_the_whole_file_and_lists_every_bad_row(factory):
    text = HEADER + (
        "2021-09,epci,femme,5to20,bac4_5,urbanisme_amenagement|architecture,21\n"
        "2031-01,epci,femme,5to20,bac4_5,,21\n"
        "2021-09,mairie,femme,5to20,bac4_5,,21\n"
        "2021-09,epci,femme\n"
    )
    with pytest.raises(survey.ImportRejected) as caught:
        survey.read_responses_csv(text, TODAY)
    assert [(e.line, e.column, e.reason) for e in caught.value.errors] == [
        (3, "start_month", "month_in_future"),
        (4, "employer", "unknown_code"),
        (5, None, "row_column_count"),
    ]
    assert caught.value.errors[1].params == {"value": "mairie"}
    assert caught.value.code == "import_rejected" and caught.value.params == {"count": 3}
    assert count_responses(factory) == 0


@pytest.mark.database_independent
@pytest.mark.parametrize("header", ["", "email,gender\n", "start_month;employer\n"])
def test_import_rejects_a_wrong_header(header):
    with pytest.raises(survey.ImportRejected) as caught:
        survey.read_responses_csv(header, TODAY)
    assert [(e.line, e.reason) for e in caught.value.errors] == [(1, "row_bad_header" if header else "row_empty_file")]


@pytest.mark.database_independent
def test_import_names_the_line_where_a_row_starts_and_reads_a_file_as_a_stream():
    import io

    content = HEADER + '2021-09,epci,femme,5to20,bac4_5,"autre",21\n2021-09,"ep\nci",femme,5to20,bac4_5,,21\n'
    content += "\n2021-09,epci,femme,5to20,bac4_5,,99\n"
    with pytest.raises(survey.ImportRejected) as caught:
        survey.check_responses(survey.file_lines(io.BytesIO(content.encode())), TODAY)
    assert [(e.line, e.column, e.reason) for e in caught.value.errors] == [
        (3, "employer", "unknown_code"),  # the quoted cell with a line break starts on line 3...
        (6, "department", "unknown_code"),  # ...so the next row is on line 6, after a blank one
    ]
    checked = survey.check_responses(survey.file_lines(io.BytesIO(("\ufeff" + HEADER + GOOD_LINE * 3).encode())), TODAY)
    assert checked.rows == 3 and len(checked.codes) == 3 * 7  # a few bytes per row, whatever the file's size
    assert {checked.answers(row) for row in range(3)} == set(survey.read_responses_csv(HEADER + GOOD_LINE, TODAY))


@pytest.mark.database_independent
def test_counting_many_records_at_once_gives_the_totals_of_counting_them_one_by_one():
    answers = survey.read_responses_csv(
        HEADER + GOOD_LINE + "2020-11,,homme,,autre,,\n2022-01,commune,autre,gt20,bac2_3,autre|architecture,971\n"
        ",,,,,,\n2021-03,epci,,,,,2A\n",
        TODAY,
    )
    records = [
        (answer, key, linked)
        for answer, key, linked in zip(answers * 3, range(100, 112), [False, True] * 6, strict=True)
    ]
    one_by_one, at_once = totals_store.Totals.empty(), totals_store.Totals.empty()
    for record in records:
        one_by_one.add(*record)
    at_once.add_many(records)
    assert at_once.periods == one_by_one.periods
    assert (at_once.counts == one_by_one.counts).all() and (at_once.keys == one_by_one.keys).all()


def test_import_export_round_trip(factory, settings):
    text = HEADER + (
        "2021-09,epci,femme,5to20,bac4_5,urbanisme_amenagement|architecture,21\n"
        ",,,,,,\n"
        "2022-03,commune,,lt1,doctorat,autre,2A\n"
    )
    answers = survey.read_responses_csv("\ufeff" + text, TODAY)
    with factory.begin() as session:
        assert survey.import_responses(session, answers, small_k(settings)) == 2  # the blank line is skipped
    assert count_responses(factory) == 2 and count_rows(factory, SurveyPool) == 0  # k of them: counted at once
    assert not any(record.linked for record in counted(factory, settings))
    with db.read_only(factory) as session:
        exported = survey.export_responses_csv(session, settings)
    assert sorted(exported.splitlines()) == sorted(
        [
            HEADER.strip(),
            "2021-09,epci,femme,5to20,bac4_5,urbanisme_amenagement|architecture,21",
            "2022-03,commune,,lt1,doctorat,autre,2A",
        ]
    )


def test_an_import_smaller_than_k_waits_for_a_release(factory, settings):
    answers = survey.read_responses_csv(HEADER + "2021-09,epci,femme,5to20,bac4_5,autre,21\n", TODAY)
    settings = small_k(settings, 2)
    with factory.begin() as session:
        survey.import_responses(session, answers, settings)
    assert (count_responses(factory), count_rows(factory, SurveyPool)) == (0, 1)
    answer(factory, settings, invite_one(factory, settings))
    # Imported answers never complete a group around one answer through a link (they may be known).
    assert release(factory, settings, force=True).applied == 0
    answer(factory, settings, invite_one(factory, settings, "b@example.fr"))
    assert release(factory, settings, force=True).applied == 3
    assert sorted(record.linked for record in counted(factory, settings)) == [False, True, True]


def _totals(factory, settings):
    with db.read_only(factory) as session:
        return survey.current_totals(session, settings)


def test_recount_matches_incremental_counts(factory, settings):
    answers = survey.read_responses_csv(
        HEADER + "2021-09,epci,femme,5to20,bac4_5,urbanisme_amenagement|architecture,21\n"
        "2020-11,,homme,,autre,,\n2022-01,commune,autre,gt20,bac2_3,autre,971\n",
        TODAY,
    )
    settings = small_k(settings)
    token = invite_one(factory, settings)
    second = invite_one(factory, settings, "b@example.fr")
    with factory.begin() as session:
        survey.import_responses(session, answers, settings)
    answer(factory, settings, token)
    answer(factory, settings, second, {**GOOD, "department": "29"})
    release(factory, settings, force=True)
    answer(factory, settings, token, {**GOOD, "gender": "homme"})  # a change: old answers out, new ones in
    with db.transaction(factory) as session:
        survey.withdraw(session, second, settings)
    release(factory, settings, force=True)
    incremental = _totals(factory, settings)
    with db.transaction(factory) as session:
        assert survey.recount(session, settings) == 4
    totals_store.forget_cache()  # what another process reads
    rebuilt = _totals(factory, settings)
    assert rebuilt.periods == incremental.periods
    assert (rebuilt.counts == incremental.counts).all() and (rebuilt.keys == incremental.keys).all()
    assert rebuilt.keys.any()  # the cell keys are rebuilt too


def test_submission_time_is_not_exported(factory, settings):
    settings = small_k(settings)
    first, second = invite_one(factory, settings), invite_one(factory, settings, "b@example.fr")
    answer(factory, settings, first, now=datetime(2026, 11, 1))
    answer(factory, settings, second)
    release(factory, settings, force=True)
    with db.read_only(factory) as session:
        exported = survey.export_responses_csv(session, settings)
    assert exported.count("\n") == 3
    assert "2026-11-01" not in exported and "cp@example.fr" not in exported


# ---------------------------------------------------------------------------- release in groups, on the schedule

# A moment of the schedule (default: every 30 minutes on the clock, UTC) and times inside its window.
MOMENT = datetime(2026, 11, 23, 10, 30)


def test_answers_wait_until_k_then_are_released_together(factory, settings):
    settings = small_k(settings, 3)
    tokens = [invite_one(factory, settings, f"cp{n}@example.fr") for n in range(3)]
    for token in tokens[:2]:
        answer(factory, settings, token)
    assert release(factory, settings, now=MOMENT + timedelta(minutes=1)) == survey.ReleaseReport(0, 0)
    assert count_responses(factory) == 0
    with db.read_only(factory) as session:
        state = survey.release_state(session, settings, now=MOMENT)
    assert (state.waiting, state.released_at, state.groups) == (2, None, 0)
    # The k-th answer does not release anything by itself (issue 16): the next moment of the schedule does.
    answer(factory, settings, tokens[2], {**GOOD, "gender": "homme"})
    assert count_responses(factory) == 0 and count_rows(factory, SurveyPool) == 3
    # Nor does the next background pass in the same slot: this moment was looked at with 2 waiting.
    assert release(factory, settings, now=MOMENT + timedelta(minutes=2)).applied == 0
    assert release(factory, settings, now=MOMENT + timedelta(minutes=30)).applied == 3
    assert count_responses(factory) == 3 and count_rows(factory, SurveyPool) == 0
    with db.read_only(factory) as session:
        state = survey.release_state(session, settings, now=MOMENT + timedelta(minutes=32))
    assert (state.waiting, state.groups, state.released_at) == (0, 1, MOMENT + timedelta(minutes=30))
    assert state.next_moment == MOMENT + timedelta(minutes=60)
    figures = published(factory, settings, k=3)
    assert abs(figures["respondents"] - 3) <= 2 and figures["questions"]["gender"]["options"]["homme"]["suppressed"]


def test_no_submission_moves_the_figures_or_the_release_row_not_even_the_kth(factory, settings):
    settings = small_k(settings, 3)
    tokens = [invite_one(factory, settings, f"cp{n}@example.fr") for n in range(7)]
    for token in tokens[:3]:
        answer(factory, settings, token)
    release(factory, settings, now=MOMENT)
    figures, row = published(factory, settings, k=3), release_row(factory)
    assert row[0].groups == 1
    for number, token in enumerate(tokens[3:]):  # the third of them is the k-th waiting, the fourth one more
        answer(factory, settings, token, {**GOOD, "gender": "homme", "department": "29"})
        assert count_rows(factory, SurveyPool) == number + 1
        assert published(factory, settings, k=3) == figures and release_row(factory) == row, number
    answer(factory, settings, tokens[0], {**GOOD, "gender": "autre"})  # a change is no different
    with db.transaction(factory) as session:
        survey.withdraw(session, tokens[1], settings)  # nor a withdrawal
    assert published(factory, settings, k=3) == figures and release_row(factory) == row
    assert count_responses(factory) == 3


def test_release_due_releases_at_most_once_per_moment_and_only_with_k_waiting(factory, settings):
    settings = small_k(settings, 2)
    tokens = [invite_one(factory, settings, f"cp{n}@example.fr") for n in range(8)]
    answer(factory, settings, tokens[0])
    assert release(factory, settings, now=MOMENT).applied == 0  # one waits, k = 2
    answer(factory, settings, tokens[1])
    # Only the first pass after a moment may release: the second answer waits for the next moment.
    assert release(factory, settings, now=MOMENT + timedelta(minutes=29, seconds=59)).applied == 0
    assert release(factory, settings, now=MOMENT + timedelta(minutes=30)).applied == 2
    # Twice in the same moment: the second pass finds the moment already served.
    answer(factory, settings, tokens[2])
    answer(factory, settings, tokens[3])
    assert release(factory, settings, now=MOMENT + timedelta(minutes=59, seconds=59)).applied == 0
    assert release(factory, settings, now=MOMENT + timedelta(minutes=35)).applied == 0
    assert count_rows(factory, SurveyPool) == 2
    # The next moment releases them.
    assert release(factory, settings, now=MOMENT + timedelta(minutes=60)).applied == 2
    # `force` ignores the schedule (imports, operators), never k.
    answer(factory, settings, tokens[4])
    assert release(factory, settings, now=MOMENT + timedelta(minutes=61), force=True).applied == 0
    answer(factory, settings, tokens[5])
    assert release(factory, settings, now=MOMENT + timedelta(minutes=61), force=True).applied == 2
    with db.read_only(factory) as session:
        assert session.scalar(select(SurveyRelease.groups)) == 3
        logged = session.scalars(select(SurveyReleaseLog.released_at).order_by(SurveyReleaseLog.id)).all()
    assert logged == [MOMENT + timedelta(minutes=30), MOMENT + timedelta(minutes=60), MOMENT + timedelta(minutes=60)]
    assert count_responses(factory) == 6


@pytest.mark.parametrize("minutes", [20, 45])
def test_released_at_is_the_moment_of_the_schedule_not_the_time_of_the_call(factory, settings, minutes):
    settings = dataclasses.replace(small_k(settings), survey_release_minutes=minutes)
    for token in (invite_one(factory, settings, f"cp{n}@example.fr") for n in range(2)):
        answer(factory, settings, token)
    called = datetime(2026, 11, 23, 10, 47, 13, 123456)
    assert release(factory, settings, now=called).applied == 2
    expected = survey.release_moment(called, minutes)
    with db.read_only(factory) as session:
        released_at = session.scalar(select(SurveyRelease.released_at))
        logged = session.scalar(select(SurveyReleaseLog.released_at))
    assert released_at == logged == expected != called
    since_midnight = released_at - released_at.replace(hour=0, minute=0, second=0, microsecond=0)
    assert since_midnight.total_seconds() % (minutes * 60) == 0 and released_at <= called
    assert called - released_at < timedelta(minutes=minutes)


def test_two_servers_releasing_at_once_apply_the_group_once(factory, settings):
    settings = small_k(settings, 3)
    for token in [invite_one(factory, settings, f"cp{n}@example.fr") for n in range(4)]:
        answer(factory, settings, token)
    with db.transaction(factory) as session:
        session.execute(SurveyRelease.__table__.delete())  # a new database: the release row is written once too
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def server():
        barrier.wait()
        try:
            reports.append(release(factory, settings, now=MOMENT))
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=server) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(report.applied for report in reports) == [0, 4]
    assert count_responses(factory) == 4 and count_rows(factory, SurveyPool) == 0
    assert count_rows(factory, SurveyReleaseLog) == 1 and count_rows(factory, SurveyRelease) == 1
    with db.read_only(factory) as session:
        assert session.scalar(select(SurveyRelease.groups)) == 1
    assert abs(published(factory, settings, k=3)["respondents"] - 4) <= 2


def test_concurrent_submissions_are_each_released_once(factory, settings):
    """Twenty people answer at the same moment: all wait, then one release counts each of them once."""
    settings = small_k(settings, 3)
    tokens = [invite_one(factory, settings, f"cp{n}@example.fr") for n in range(20)]
    barrier = threading.Barrier(len(tokens))
    errors = []

    def respond(token):
        barrier.wait()
        try:
            answer(factory, settings, token)
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=respond, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert (count_responses(factory), count_rows(factory, SurveyPool)) == (0, 20)
    assert release(factory, settings, now=MOMENT).applied == 20
    incremental = _totals(factory, settings)
    with db.transaction(factory) as session:
        assert survey.recount(session, settings) == 20  # no answer counted twice, none lost
    assert (_totals(factory, settings).counts == incremental.counts).all()


def test_withdrawal_leaves_the_figures_with_the_next_group(factory, settings):
    settings = small_k(settings)
    first, second, third = (invite_one(factory, settings, f"cp{n}@example.fr") for n in range(3))
    answer(factory, settings, first)
    answer(factory, settings, second)
    release(factory, settings, force=True)
    with factory.begin() as session:
        survey.withdraw(session, first, settings)
        opened = survey.open_survey(session, first, settings)
        assert not opened.submitted and opened.pending and opened.form == {}
        with pytest.raises(DomainError) as caught:
            survey.withdraw(session, first, settings)
        assert caught.value.code == "nothing_to_withdraw"
    assert release(factory, settings, force=True).applied == 0  # one change waits: still counted
    assert count_responses(factory) == 2
    answer(factory, settings, third)
    assert release(factory, settings, force=True).applied == 2
    assert count_responses(factory) == 2  # one gone, one new
    with db.read_only(factory) as session:
        first_ref = _refs(settings, salt_of(factory, "cp0@example.fr")).response
        assert session.scalar(select(func.count()).where(SurveyResponse.respondent_ref == first_ref)) == 0
    with factory.begin() as session:
        assert survey.submit(session, first, GOOD, settings, today=TODAY) is True  # answering again
        survey.withdraw(session, first, settings)  # never counted: simply dropped
    assert count_rows(factory, SurveyPool) == 0


def test_resent_link_reaches_the_same_draft_and_answers(factory, settings):
    settings = small_k(settings)
    token, second, third = (invite_one(factory, settings, f"{n}@example.fr") for n in ("cp", "b", "c"))
    answer(factory, settings, token)
    answer(factory, settings, second)
    release(factory, settings, force=True)
    with factory.begin() as session:
        invitation_id = session.scalar(select(SurveyInvitation.id).where(SurveyInvitation.email == "cp@example.fr"))
        survey.resend(session, invitation_id, settings)
    with factory.begin() as session:
        new_token = next(m for m in mail.list_messages(session) if m.subject.startswith("Rappel")).link.split("=")[1]
        opened = survey.open_survey(session, new_token, settings)
        assert opened.submitted and opened.form["gender"] == "femme"
        assert survey.submit(session, new_token, {**GOOD, "gender": "homme"}, settings, today=TODAY) is False
        survey.submit(session, third, GOOD, settings, today=TODAY)
    release(factory, settings, force=True)
    assert sorted(record.answers.gender for record in counted(factory, settings)) == ["femme", "femme", "homme"]


def _wait_for_a_transaction_blocked_by_the_release(factory, arrivals) -> None:
    """Until another transaction waits for a lock held by the paused release (fail after 20 s).

    SQLite: this process's writers queue on its write lock (db.FifoLock), which tells `arrivals` as each one starts
    waiting. PostgreSQL: the wait happens inside the database server, another process, and only shows in its
    activity view, read until it does.
    """
    if TEST_BACKEND != "postgresql":
        assert arrivals.acquire(timeout=20), "the withdrawal never waited for the release"
        return
    deadline = time.monotonic() + 20
    while True:
        with db.read_only(factory) as session:
            waiting = session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            )
        if waiting:
            return
        assert time.monotonic() < deadline, "the withdrawal never waited for the release"
        time.sleep(0.005)  # polls the server (another process): orders nothing


def test_a_withdrawal_racing_the_release_of_the_first_answers_leaves_nothing_counted(
    factory, settings, monkeypatch, arrivals
):
    """The person's first answers are being released while they withdraw: after the next release, nothing of
    theirs is counted (the withdrawal waits for the release, then queues the removal of what it counted)."""
    settings = small_k(settings)
    leaving, *others = (invite_one(factory, settings, f"cp{n}@example.fr") for n in range(4))
    answer(factory, settings, leaving)
    answer(factory, settings, others[0])
    applied, go_on = threading.Event(), threading.Event()
    original = release_module._apply

    def paused_apply(*args, **kwargs):
        result = original(*args, **kwargs)
        applied.set()  # the group is written, the transaction still open
        assert go_on.wait(30)
        return result

    monkeypatch.setattr(release_module, "_apply", paused_apply)
    errors = []

    def run(work):
        try:
            work()
        except Exception as error:  # collected and asserted below
            errors.append(error)

    def withdraw():
        with db.transaction(factory) as session:
            survey.withdraw(session, leaving, settings)

    releasing = threading.Thread(target=run, args=(lambda: release(factory, settings, now=MOMENT),))
    withdrawing = threading.Thread(target=run, args=(withdraw,))
    releasing.start()
    assert applied.wait(30)
    withdrawing.start()
    _wait_for_a_transaction_blocked_by_the_release(factory, arrivals)
    go_on.set()
    releasing.join()
    withdrawing.join()
    monkeypatch.setattr(release_module, "_apply", original)
    assert errors == []
    leaving_ref = _refs(settings, salt_of(factory, "cp0@example.fr")).response
    with db.read_only(factory) as session:
        assert session.scalar(select(func.count()).where(SurveyResponse.respondent_ref == leaving_ref)) == 1
        opened = survey.open_survey(session, leaving, settings)
    assert not opened.submitted and opened.pending  # the withdrawal waits for the next release
    answer(factory, settings, others[1])
    assert release(factory, settings, now=MOMENT + timedelta(minutes=30)).applied == 2
    with db.read_only(factory) as session:
        assert session.scalar(select(func.count()).where(SurveyResponse.respondent_ref == leaving_ref)) == 0
        assert not survey.open_survey(session, leaving, settings).submitted
    assert count_responses(factory) == 2 and count_rows(factory, SurveyPool) == 0
    assert abs(published(factory, settings)["respondents"] - 2) <= 2


# ---------------------------------------------------------------------------- unlinkable at rest


ANSWER_SIDE = ("survey_response", "survey_draft", "survey_pool", "survey_release", "survey_release_log")


def _identifying_values(rows) -> set:
    """Values that could serve as a join key: long strings and bytes, and times."""
    found = set()
    for row in rows:
        for value in row:
            if isinstance(value, datetime) or (isinstance(value, str | bytes) and len(value) >= 16):
                found.add(value)
    return found


def test_nothing_stored_ties_an_invitation_to_its_answers(factory, settings):
    import hashlib
    import hmac

    from pvd_survey.models import Base

    settings = small_k(settings)
    drafting, first, second, waiting = (invite_one(factory, settings, f"{n}@example.fr") for n in "abcd")
    with factory.begin() as session:
        survey.save_draft(session, drafting, {"employer": "commune"}, settings)
    answer(factory, settings, first)
    answer(factory, settings, second, {**GOOD, "gender": "homme"})
    release(factory, settings, force=True)  # released together
    answer(factory, settings, waiting)  # waits in the pool
    with db.read_only(factory) as session:
        tables = {table.name: session.execute(select(table)).all() for table in Base.metadata.sorted_tables}
    # The release row and log say when the figures moved (a moment of the schedule, for everybody at once).
    rows_side = ("survey_response", "survey_draft", "survey_pool")
    answer_side = _identifying_values(row for name in rows_side for row in tables[name])
    e_mail_side = _identifying_values(tables["survey_invitation"] + tables["outbox_message"])
    assert answer_side and e_mail_side
    assert answer_side & e_mail_side == set()
    # No time at all on the answers' rows.
    assert not any(isinstance(value, datetime) for value in answer_side)
    # No foreign key crosses between the two sides.
    for name in ANSWER_SIDE:
        assert not Base.metadata.tables[name].foreign_keys
    assert not Base.metadata.tables["survey_invitation"].foreign_keys
    # Without the server key, the stored salts lead nowhere: neither plain nor wrongly keyed hashes match.
    refs = (
        {row.respondent_ref for row in tables["survey_response"]}
        | {row.ref for row in tables["survey_draft"]}
        | {row.ref for row in tables["survey_pool"]}
    )
    for invitation in tables["survey_invitation"]:
        salt = invitation.respondent_salt.encode()
        guesses = {hashlib.sha256(salt).hexdigest(), hmac.new(b"wrong-key", salt, hashlib.sha256).hexdigest()}
        assert not guesses & refs
    # Sealed rows do not show the answers they hold, nor does the sealed totals blob.
    assert all(b"commune" not in row.sealed for row in tables["survey_draft"])
    sealed = [row.sealed for name in ("survey_pool", "survey_response") for row in tables[name]]
    sealed.append(tables["survey_release"][0].totals)
    for value in sealed:
        assert b"femme" not in value and b"epci" not in value and b"2021-09" not in value and b'"21"' not in value


def test_erasing_an_invitee_withdraws_their_draft_and_answers(factory, settings):
    settings = small_k(settings)
    erased, other, drafting = (invite_one(factory, settings, f"{n}@example.fr") for n in ("erased", "b", "c"))
    answer(factory, settings, erased)
    answer(factory, settings, other, {**GOOD, "gender": "homme"})
    release(factory, settings, force=True)
    with factory.begin() as session:
        survey.save_draft(session, drafting, {"employer": "epci"}, settings)
    with factory.begin() as session:
        assert survey.erase_invitation(session, "erased@example.fr", settings) == 1
        assert survey.erase_invitation(session, "c@example.fr", settings) == 1
    assert count_rows(factory, SurveyDraft) == 0 and count_rows(factory, SurveyPool) == 1  # a withdrawal waits
    with factory.begin() as session, pytest.raises(DomainError):
        survey.open_survey(session, erased, settings)
    answer(factory, settings, other)  # with the withdrawal, a group of two
    assert release(factory, settings, force=True).applied == 2
    assert [record.answers.gender for record in counted(factory, settings)] == ["femme"]  # only the other's


if TEST_BACKEND == "sqlite":

    def test_survey_token_is_absent_from_the_sqlite_file_and_wal_after_delivery(factory, settings, smtp_server):
        """The whole journey (invitation, delivery, draft, answers): no byte of the link's token stays stored."""
        from pathlib import Path

        from sqlalchemy.engine import make_url

        token = invite_one(factory, settings).encode()
        database = Path(make_url(settings.database_url).database)
        wal = database.with_name(database.name + "-wal")

        def stored() -> bytes:
            return file_bytes_from_another_process(database) + file_bytes_from_another_process(wal)

        assert token in stored()  # in the outbox until delivery, so the check can fail
        assert len(mail.deliver_due(factory, smtp_server.settings()).sent) == 1
        with factory.begin() as session:
            survey.save_draft(session, token.decode(), {"employer": "epci"}, settings)
            survey.submit(session, token.decode(), GOOD, settings, today=TODAY)
        assert token not in stored()


# ---------------------------------------------------------------------------- sealed sizes

SPARSE = {**GOOD, "start_month": "nsp", "employer": "nsp", "gender": "nsp", "experience": "nsp", "diploma": "nsp"}
ANSWER_SHAPES = [
    GOOD,
    {**SPARSE, "training_field": ["nsp"], "department": "nsp"},  # no training field, no answer anywhere
    {
        **GOOD,
        "training_field": [
            "urbanisme_amenagement",
            "sciences_sociales",
            "developpement_territorial",
            "droit_gestion",
            "architecture",
            "environnement_ecologie_agronomie",
            "economie_finance_commerce",
            "autre",
        ],
        "department": "971",
        "start_month": "2026-11",
    },
    {**GOOD, "gender": "autre", "department": "2A", "training_field": ["autre"]},
]


def test_sealed_rows_have_one_size_per_kind_whatever_the_answers(factory, settings):
    settings = small_k(settings)
    tokens = [invite_one(factory, settings, f"cp{n}@example.fr") for n in range(len(ANSWER_SHAPES) + 1)]
    drafts = [{}, {"employer": "commune"}, {**ANSWER_SHAPES[2], "junk": "x" * 5000}, ANSWER_SHAPES[1]]
    for token, raw in zip(tokens, drafts, strict=False):
        with db.transaction(factory) as session:
            survey.save_draft(session, token, raw, settings)
    for token, raw in zip(tokens, ANSWER_SHAPES, strict=False):
        answer(factory, settings, token, raw)
    with db.transaction(factory) as session:
        survey.save_draft(session, tokens[-1], drafts[2], settings)

    def sizes(column):
        with db.read_only(factory) as session:
            return {len(value) for value in session.scalars(select(column))}

    assert len(sizes(SurveyDraft.sealed)) == 1
    pool_sizes = sizes(SurveyPool.sealed)
    assert len(pool_sizes) == 1 and count_rows(factory, SurveyPool) == len(ANSWER_SHAPES)
    release(factory, settings, force=True)
    # A withdrawal waits in a pool row of the same size as answers.
    with db.transaction(factory) as session:
        survey.withdraw(session, tokens[1], settings)
    assert sizes(SurveyPool.sealed) == pool_sizes
    response_sizes = sizes(SurveyResponse.sealed)
    assert len(response_sizes) == 1 and count_responses(factory) == len(ANSWER_SHAPES)
    # Imported answers are sealed at the same size as those given through a link.
    answers = [validate_answers(raw, TODAY, required=False) for raw in ANSWER_SHAPES]
    with db.transaction(factory) as session:
        survey.import_responses(session, answers, settings)
    assert sizes(SurveyResponse.sealed) == response_sizes


# ---------------------------------------------------------------------------- tampered rows and a lost key


def test_a_tampered_waiting_row_is_refused_and_never_counted(factory, settings, caplog):
    settings = small_k(settings, 3)
    tokens = [invite_one(factory, settings, f"cp{n}@example.fr") for n in range(4)]
    for token in tokens[:3]:
        answer(factory, settings, token)
    answer(factory, settings, tokens[3], {**GOOD, "gender": "homme", "department": "29"})
    tampered_ref = _refs(settings, salt_of(factory, "cp3@example.fr")).pool
    with db.transaction(factory) as session:
        sealed = session.scalar(select(SurveyPool.sealed).where(SurveyPool.ref == tampered_ref))
        session.execute(update(SurveyPool).where(SurveyPool.ref == tampered_ref).values(sealed=flip_a_byte(sealed)))
    report = release(factory, settings, force=True)
    assert report == survey.ReleaseReport(applied=3, refused=1)
    assert "could not be opened" in caplog.text
    records = counted(factory, settings)
    assert [record.answers.gender for record in records] == ["femme"] * 3
    figures = published(factory, settings, k=3)
    assert abs(figures["respondents"] - 3) <= 2
    assert figures["questions"]["department"]["options"]["29"]["suppressed"]
    with db.read_only(factory) as session:
        totals = survey.current_totals(session, settings)
    assert int(totals.counts[..., RESPONDENTS].sum()) == 3  # the tampered answers are in no count


def test_a_tampered_counted_row_is_refused_and_its_owner_change_waits(factory, settings):
    settings = small_k(settings, 3)
    tokens = [invite_one(factory, settings, f"cp{n}@example.fr") for n in range(6)]
    for token in tokens[:3]:
        answer(factory, settings, token)
    release(factory, settings, force=True)
    answer(factory, settings, tokens[0], {**GOOD, "gender": "homme"})  # its owner changes them, then the row is hit
    tampered_ref = _refs(settings, salt_of(factory, "cp0@example.fr")).response
    with db.transaction(factory) as session:
        row_id, sealed = session.execute(
            select(SurveyResponse.id, SurveyResponse.sealed).where(SurveyResponse.respondent_ref == tampered_ref)
        ).one()
        session.execute(update(SurveyResponse).where(SurveyResponse.id == row_id).values(sealed=flip_a_byte(sealed)))
    with db.read_only(factory) as session, pytest.raises(DomainError) as caught:
        survey.open_survey(session, tokens[0], settings)
    assert caught.value.code == "survey_key_mismatch"  # said to its owner, never read as garbage
    for token in tokens[3:]:
        answer(factory, settings, token, {**GOOD, "department": "29"})
    report = release(factory, settings, force=True)
    assert report == survey.ReleaseReport(applied=3, refused=1)
    assert count_rows(factory, SurveyPool) == 1  # the change whose old answers cannot be taken out waits
    with db.read_only(factory) as session:
        assert session.scalar(select(SurveyPool.ref)) == _refs(settings, salt_of(factory, "cp0@example.fr")).pool
        totals = survey.current_totals(session, settings)
    assert int(totals.counts[..., RESPONDENTS].sum()) == 6  # 3 before (counted when valid), 3 new
    assert int(totals.counts[..., totals_store.CELL_INDEX[("gender", "homme")]].sum()) == 0
    # The repair tool counts the valid rows only.
    with db.transaction(factory) as session:
        assert survey.recount(session, settings) == 5


def _seal_k_answers(factory, settings):
    settings = small_k(settings)
    for token in (invite_one(factory, settings, f"cp{n}@example.fr") for n in range(2)):
        answer(factory, settings, token)
    release(factory, settings, force=True)


def test_a_tampered_totals_blob_stops_the_app_with_the_french_message(factory, settings):
    _seal_k_answers(factory, settings)
    with db.transaction(factory) as session:
        sealed = session.scalar(select(SurveyRelease.totals))
        session.execute(update(SurveyRelease).values(totals=flip_a_byte(sealed, 1000)))
    totals_store.forget_cache()  # a process starting now
    with db.read_only(factory) as session, pytest.raises(DomainError) as caught:
        survey.check_key(session, settings)
    assert caught.value.code == "survey_key_lost"
    assert french_message(caught.value).startswith("La clé du serveur (PVD_SECRET_KEY) n'est pas celle")


def test_a_database_opened_with_another_key_says_the_key_is_lost(factory, settings):
    _seal_k_answers(factory, settings)
    with db.read_only(factory) as session:
        survey.check_key(session, settings)  # the right key opens it
        with pytest.raises(DomainError) as caught:
            survey.check_key(session, dataclasses.replace(settings, secret_key=OTHER_KEY))
    assert caught.value.code == "survey_key_lost"


def test_another_key_is_refused_even_before_any_answer_and_the_key_itself_is_not_stored(factory, settings):
    """Invitations sent, nobody answered yet: a start with a new key would break every link already sent."""
    token = invite_one(factory, settings, "cp@example.fr")
    first = run_cli(settings.database_url, "stats", "--format", "json")  # a first start records the fingerprint
    assert first.returncode == 0, first.stderr
    with db.read_only(factory) as session:
        [recorded] = session.scalars(select(ServerKey.fingerprint)).all()
    assert settings.secret_key not in recorded and len(recorded) == 64
    changed = run_cli(settings.database_url, "stats", "--format", "json", PVD_SECRET_KEY=OTHER_KEY)
    assert changed.returncode == 1 and changed.stdout == ""
    assert french_message(DomainError("survey_key_lost")) in changed.stderr and "Traceback" not in changed.stderr
    with db.read_only(factory) as session:
        assert session.scalars(select(ServerKey.fingerprint)).all() == [recorded]  # not overwritten by the new key
        assert survey.open_survey(session, token, settings).submitted is False  # the original key still works


def test_the_command_line_stops_in_french_when_the_key_is_lost(factory, settings):
    _seal_k_answers(factory, settings)
    environment = {
        **os.environ,
        "PVD_DATABASE_URL": settings.database_url,
        "PVD_SECRET_KEY": OTHER_KEY,
        "PVD_ARGON2_PROFILE": "fast-tests",
    }
    result = subprocess.run(
        [sys.executable, "-m", "pvd_survey", "stats", "--format", "json"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=environment,
        timeout=120,
    )
    assert result.returncode != 0 and result.stdout == ""
    assert french_message(DomainError("survey_key_lost")) in result.stderr
    assert "Traceback" not in result.stderr


def test_the_ready_route_says_503_with_the_message_when_the_key_is_lost(factory, settings, app_env, monkeypatch):
    from pvd_survey import web
    from tests.conftest import web_client

    _seal_k_answers(factory, settings)
    monkeypatch.setenv("PVD_SECRET_KEY", OTHER_KEY)
    try:
        response = web_client().get(web.READY_ROUTE)
        assert response.status_code == 503
        assert response.json() == {"status": "indisponible", "raison": "survey_key_lost"}  # the details: in the log
        monkeypatch.setenv("PVD_SECRET_KEY", settings.secret_key)
        assert web_client().get(web.READY_ROUTE).status_code == 200  # the original key back, after a restart
    finally:
        web.forget_database()


# ---------------------------------------------------------------------------- reminder rounds


def test_reminder_rounds_are_refused_in_the_past_and_twice(factory):
    now = utcnow()
    with factory.begin() as session:
        with pytest.raises(DomainError) as caught:
            survey.schedule_reminder(session, now - timedelta(minutes=1), now=now)
        assert caught.value.code == "reminder_in_past"
        survey.schedule_reminder(session, now + timedelta(days=2), now=now)
        with pytest.raises(DomainError) as caught:
            survey.schedule_reminder(session, now + timedelta(days=2), now=now)
        assert caught.value.code == "reminder_exists"
        assert [r.done_at for r in survey.list_reminders(session)] == [None]


def _reminder_cast(factory, settings):
    """Four invitees: one counted, one waiting, one who has not answered, one revoked; their tokens."""
    settings = small_k(settings)
    tokens = {name: invite_one(factory, settings, f"{name}@example.fr") for name in ("counted", "helper", "silent")}
    tokens["waiting"] = invite_one(factory, settings, "waiting@example.fr")
    tokens["revoked"] = invite_one(factory, settings, "revoked@example.fr")
    answer(factory, settings, tokens["counted"])
    answer(factory, settings, tokens["helper"])
    release(factory, settings, force=True)
    answer(factory, settings, tokens["waiting"])
    with db.transaction(factory) as session:
        survey.revoke(
            session,
            session.scalar(select(SurveyInvitation.id).where(SurveyInvitation.email == "revoked@example.fr")),
        )
    return tokens


def _invitations_as_the_direction_sees_them(factory):
    with db.read_only(factory) as session:
        return {i.email: (i.status, i.sent_count, i.last_sent_at) for i in survey.list_invitations(session)}


def _reminders_in_outbox(factory):
    with db.read_only(factory) as session:
        return session.execute(
            select(OutboxMessage.recipient, OutboxMessage.link).where(OutboxMessage.kind == survey.REMINDER_KIND)
        ).all()


def test_a_due_round_reminds_only_who_has_not_answered_and_leaves_no_trace(factory, settings, smtp_server):
    with_smtp = dataclasses.replace(settings, smtp=smtp_server.settings())
    tokens = _reminder_cast(factory, with_smtp)
    now = utcnow()
    with db.transaction(factory) as session:
        survey.schedule_reminder(session, now + timedelta(hours=1), now=now)
    seen_before = _invitations_as_the_direction_sees_them(factory)
    with db.read_only(factory) as session:
        listed_before, by_status_before = mail.list_messages(session), mail.count_by_status(session)
    with db.transaction(factory) as session:
        assert survey.send_due_reminders(session, with_smtp, now=now + timedelta(minutes=59)) == 0  # not yet due
    with db.transaction(factory) as session:
        assert survey.send_due_reminders(session, with_smtp, now=now + timedelta(hours=1)) == 1
    [(recipient, link)] = _reminders_in_outbox(factory)
    assert recipient == "silent@example.fr"
    new_token = link.split(f"{links.TOKEN_PARAMETER}=")[1]
    with db.read_only(factory) as session:
        assert survey.open_survey(session, new_token, with_smtp).form == {}  # the new link works
        with pytest.raises(DomainError) as caught:
            survey.open_survey(session, tokens["silent"], with_smtp)
        assert caught.value.code == "invalid_link"  # the old one says invalid
        for name in ("counted", "waiting", "helper"):
            assert survey.open_survey(session, tokens[name], with_smtp).submitted  # their links unchanged
        # The direction sees nothing of the round: no count, no date, no message.
        assert mail.list_messages(session) == listed_before
        assert mail.count_by_status(session) == by_status_before
        assert [r.done_at for r in survey.list_reminders(session)] == [now + timedelta(hours=1)]
    assert _invitations_as_the_direction_sees_them(factory) == seen_before
    # A second pass (another server, or the next tick) does the round no more.
    with db.transaction(factory) as session:
        assert survey.send_due_reminders(session, with_smtp, now=now + timedelta(hours=2)) == 0
    assert len(_reminders_in_outbox(factory)) == 1
    # Once sent, the reminder's outbox row is gone.
    mail.deliver_due(factory, smtp_server.settings())
    assert _reminders_in_outbox(factory) == []
    [received] = [m for m in smtp_server.to("silent@example.fr") if m["Subject"].startswith("Rappel")]
    assert new_token in received.get_payload(decode=True).decode("utf-8")
    assert not [
        m
        for name in ("counted", "waiting", "revoked")
        for m in smtp_server.to(f"{name}@example.fr")
        if m["Subject"].startswith("Rappel")
    ]


def test_two_passes_at_once_do_a_round_once(factory, settings, smtp_server):
    with_smtp = dataclasses.replace(settings, smtp=smtp_server.settings())
    for n in range(3):
        invite_one(factory, with_smtp, f"cp{n}@example.fr")
    now = utcnow()
    with db.transaction(factory) as session:
        survey.schedule_reminder(session, now + timedelta(hours=1), now=now)
    barrier = threading.Barrier(2)
    sent, errors = [], []

    def server():
        barrier.wait()
        try:
            with db.transaction(factory) as session:
                sent.append(survey.send_due_reminders(session, with_smtp, now=now + timedelta(hours=1)))
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=server) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and sorted(sent) == [0, 3]
    assert sorted(recipient for recipient, _ in _reminders_in_outbox(factory)) == [
        f"cp{n}@example.fr" for n in range(3)
    ]


def test_without_smtp_no_reminder_is_sent_and_the_round_waits(factory, settings):
    tokens = _reminder_cast(factory, settings)
    assert settings.smtp is None
    now = utcnow()
    with db.transaction(factory) as session:
        survey.schedule_reminder(session, now + timedelta(hours=1), now=now)
    with db.transaction(factory) as session:
        assert survey.send_due_reminders(session, settings, now=now + timedelta(hours=2)) == 0
    assert _reminders_in_outbox(factory) == []
    with db.read_only(factory) as session:
        assert [r.done_at for r in survey.list_reminders(session)] == [None]
        assert survey.open_survey(session, tokens["silent"], settings).form == {}  # the link still works


@pytest.mark.parametrize("damage", ["emptied", "removed with its version", "release row deleted"])
def test_totals_emptied_or_removed_by_hand_are_refused_not_read_as_no_answers(factory, settings, damage):
    """Counted answers whose totals were emptied or removed by hand must not read as "no answer yet": the figures
    would show nothing, and the next release would build its totals from zero (a change subtracting from an
    empty cell). The app stops with the French message, as for a tampered blob."""
    _seal_k_answers(factory, settings)
    with db.transaction(factory) as session:
        if damage == "emptied":
            session.execute(update(SurveyRelease).values(totals=b""))
        elif damage == "removed with its version":
            session.execute(update(SurveyRelease).values(totals=None, totals_version=None))
        else:
            session.execute(delete(SurveyRelease))
    totals_store.forget_cache()
    with db.read_only(factory) as session, pytest.raises(DomainError) as caught:
        survey.check_key(session, settings)
    assert caught.value.code == "survey_key_lost"
