"""The profile survey's services on the test database: invitations, links, drafts, submissions, import/export."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from pvd_survey import db, mail, stats, survey
from pvd_survey.errors import DomainError
from pvd_survey.models import SurveyCount, SurveyInvitation, SurveyResponse, utcnow
from pvd_survey.survey_questions import InvalidAnswers, start_period, validate_answers

TODAY = date(2026, 11, 22)
GOOD = {
    "start_month": "2021-09",
    "employer": "epci",
    "gender": "femme",
    "experience": "5to20",
    "diploma": "bac4_5",
    "training_field": ["urbanisme_amenagement", "sciences_sociales"],
    "department": "21",
}


def token_from_outbox(session, email):
    [message] = [m for m in mail.list_messages(session) if m.recipient == email][:1]
    return message.link.split(f"{survey.TOKEN_PARAMETER}=")[1]


def invite_one(factory, settings, email="cp@example.fr", department=None):
    with factory.begin() as session:
        survey.invite(session, [survey.InvitationEntry(1, email, department)], settings)
        return token_from_outbox(session, email)


def count_responses(factory):
    with db.read_only(factory) as session:
        return session.scalar(select(func.count()).select_from(SurveyResponse))


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
def test_start_period_is_derived_from_month(month, period):
    assert start_period(month) == period


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
def test_bad_answers_are_reported_at_their_question(change, field, code):
    with pytest.raises(InvalidAnswers) as caught:
        validate_answers({**GOOD, **change}, TODAY)
    assert {f: e.code for f, e in caught.value.errors.items()} == {field: code}


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
def test_invalid_links_are_refused(factory, token):
    with factory.begin() as session, pytest.raises(DomainError) as caught:
        survey.open_survey(session, token)
    assert caught.value.code == "invalid_link"


def test_opening_records_first_time_only(factory, settings):
    token = invite_one(factory, settings)
    first = utcnow()
    with factory.begin() as session:
        opened = survey.open_survey(session, token, now=first)
        assert opened.form == {} and not opened.submitted
    with factory.begin() as session:
        survey.open_survey(session, token, now=first + timedelta(hours=1))
    with db.read_only(factory) as session:
        assert session.scalar(select(SurveyInvitation.opened_at)) == first


def test_draft_is_restored_when_the_link_is_opened_again(factory, settings):
    token = invite_one(factory, settings)
    with factory.begin() as session:
        survey.save_draft(session, token, {"employer": "commune", "training_field": ["architecture"], "junk": "x"})
    with factory.begin() as session:
        opened = survey.open_survey(session, token)
    assert opened.form == {"employer": "commune", "training_field": ["architecture"]}
    assert opened.draft_saved_at is not None


def test_submit_then_resubmit_updates_the_same_response(factory, settings):
    token = invite_one(factory, settings)
    with factory.begin() as session:
        assert survey.submit(session, token, GOOD, today=TODAY) is True
    with factory.begin() as session:
        reopened = survey.open_survey(session, token)
        assert reopened.submitted and reopened.form["gender"] == "femme"
        assert survey.submit(session, token, {**GOOD, "gender": "homme"}, today=TODAY) is False
    assert count_responses(factory) == 1
    with db.read_only(factory) as session:
        figures = stats.survey_stats(session, stats.Filters(), k=1, today=TODAY)
        assert session.scalar(select(SurveyResponse.gender)) == "homme"
    assert figures.respondents == 1
    assert figures.figures["gender"].cells["homme"].count == 1
    assert figures.figures["gender"].cells["femme"].count == 0


def test_invalid_submission_stores_nothing(factory, settings):
    token = invite_one(factory, settings)
    with factory.begin() as session, pytest.raises(InvalidAnswers):
        survey.submit(session, token, {**GOOD, "employer": None}, today=TODAY)
    assert count_responses(factory) == 0
    with db.read_only(factory) as session:
        assert session.scalar(select(func.count()).select_from(SurveyCount)) == 0


def test_double_click_stores_one_response(factory, settings):
    token = invite_one(factory, settings)
    barrier = threading.Barrier(8)
    outcomes = []

    def click():
        barrier.wait()
        with factory.begin() as session:
            outcomes.append(survey.submit(session, token, GOOD, today=TODAY))

    threads = [threading.Thread(target=click) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [False] * 7 + [True]
    assert count_responses(factory) == 1
    with db.read_only(factory) as session:
        assert stats.survey_stats(session, stats.Filters(), k=1, today=TODAY).respondents == 1


def test_revoked_and_replaced_links(factory, settings):
    token = invite_one(factory, settings)
    with factory.begin() as session:
        survey.save_draft(session, token, {"employer": "epci"})
        invitation_id = session.scalar(select(SurveyInvitation.id))
        survey.resend(session, invitation_id, settings)
    with factory.begin() as session:
        with pytest.raises(DomainError) as caught:
            survey.open_survey(session, token)
        assert caught.value.code == "invalid_link"
        new_token = next(m for m in mail.list_messages(session) if m.subject.startswith("Rappel")).link.split("=")[1]
        assert survey.open_survey(session, new_token).form == {"employer": "epci", "training_field": []}
        survey.revoke(session, invitation_id)
    with factory.begin() as session, pytest.raises(DomainError) as caught:
        survey.submit(session, new_token, GOOD, today=TODAY)
    assert caught.value.code == "revoked_link"
    with factory.begin() as session, pytest.raises(DomainError) as caught:
        survey.resend(session, invitation_id, settings)
    assert caught.value.code == "invitation_revoked"


def test_closed_survey_refuses_links(factory, settings):
    token = invite_one(factory, settings)
    with factory.begin() as session:
        survey.set_closing_time(session, utcnow() + timedelta(days=1))
        assert survey.open_survey(session, token).closes_at is not None
        survey.set_closing_time(session, utcnow() - timedelta(minutes=1))
    with factory.begin() as session, pytest.raises(DomainError) as caught:
        survey.submit(session, token, GOOD, today=TODAY)
    assert caught.value.code == "survey_closed"
    assert count_responses(factory) == 0


# ---------------------------------------------------------------------------- import and export

HEADER = "start_month,employer,gender,experience,diploma,training_field,department\n"


def test_import_rejects_the_whole_file_and_lists_every_bad_row(factory):
    text = HEADER + (
        "2021-09,epci,femme,5to20,bac4_5,urbanisme_amenagement|architecture,21\n"
        "2031-01,epci,femme,5to20,bac4_5,,21\n"
        "2021-09,mairie,femme,5to20,bac4_5,,21\n"
        "2021-09,epci,femme\n"
    )
    with pytest.raises(survey.ImportRejected) as caught:
        survey.read_responses_csv(text, TODAY)
    assert [e.line for e in caught.value.errors] == [3, 4, 5]
    assert "futur" in caught.value.errors[0].reason and "mairie" in caught.value.errors[1].reason
    assert count_responses(factory) == 0


@pytest.mark.parametrize("header", ["", "email,gender\n", "start_month;employer\n"])
def test_import_rejects_a_wrong_header(header):
    with pytest.raises(survey.ImportRejected) as caught:
        survey.read_responses_csv(header, TODAY)
    assert caught.value.errors[0].line == 1


def test_import_export_round_trip(factory):
    text = HEADER + (
        "2021-09,epci,femme,5to20,bac4_5,urbanisme_amenagement|architecture,21\n"
        ",,,,,,\n"
        "2022-03,commune,,lt1,doctorat,autre,2A\n"
    )
    answers = survey.read_responses_csv("\ufeff" + text, TODAY)
    with factory.begin() as session:
        assert survey.import_responses(session, answers) == 2  # the blank line is skipped
    with db.read_only(factory) as session:
        exported = survey.export_responses_csv(session)
    assert sorted(exported.splitlines()) == sorted(
        [
            HEADER.strip(),
            "2021-09,epci,femme,5to20,bac4_5,urbanisme_amenagement|architecture,21",
            "2022-03,commune,,lt1,doctorat,autre,2A",
        ]
    )


def test_recount_matches_incremental_counts(factory, settings):
    answers = survey.read_responses_csv(
        HEADER + "2021-09,epci,femme,5to20,bac4_5,urbanisme_amenagement|architecture,21\n"
        "2020-11,,homme,,autre,,\n2022-01,commune,autre,gt20,bac2_3,autre,971\n",
        TODAY,
    )
    token = invite_one(factory, settings)
    with factory.begin() as session:
        survey.import_responses(session, answers)
        survey.submit(session, token, GOOD, today=TODAY)
    with factory.begin() as session:
        incremental = {tuple(r[:6]): r[6] for r in session.execute(select(SurveyCount.__table__)) if r[6]}
        survey.recount(session)
    with db.read_only(factory) as session:
        rebuilt = {tuple(r[:6]): r[6] for r in session.execute(select(SurveyCount.__table__))}
    assert rebuilt == incremental


def test_submission_time_is_not_exported(factory, settings):
    token = invite_one(factory, settings)
    with factory.begin() as session:
        survey.submit(session, token, GOOD, today=TODAY, now=datetime(2026, 11, 1, 10, 0))
    with db.read_only(factory) as session:
        exported = survey.export_responses_csv(session)
    assert "2026-11-01" not in exported and "cp@example.fr" not in exported
