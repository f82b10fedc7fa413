"""The profile survey's services on the test database: invitations, links, drafts, submissions, import/export."""

from __future__ import annotations

import dataclasses
import threading
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from pvd_survey import db, mail, stats, survey
from pvd_survey.errors import DomainError
from pvd_survey.models import SurveyCount, SurveyDraft, SurveyInvitation, SurveyPool, SurveyResponse, utcnow
from pvd_survey.survey_questions import InvalidAnswers, baseline_period, start_period, validate_answers
from tests.conftest import TEST_BACKEND, file_bytes_from_another_process

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


def small_k(settings, k=2):
    """Settings whose release groups are small enough for a test of a few people."""
    return dataclasses.replace(settings, disclosure_k=k)


def count_rows(factory, model):
    with db.read_only(factory) as session:
        return session.scalar(select(func.count()).select_from(model))


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
    ("period", "bucket"),
    [("2020", "2020"), ("2021-S1", "2021-S1"), ("2021-S2", "2021-S2"), ("2022-S1", "2022"), ("2022-S2", None)],
)
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
def test_invalid_links_are_refused(factory, settings, token):
    with factory.begin() as session, pytest.raises(DomainError) as caught:
        survey.open_survey(session, token, settings)
    assert caught.value.code == "invalid_link"


def test_opening_records_first_time_only(factory, settings):
    token = invite_one(factory, settings)
    first = utcnow()
    with factory.begin() as session:
        opened = survey.open_survey(session, token, settings, now=first)
        assert opened.form == {} and not opened.submitted
    with factory.begin() as session:
        survey.open_survey(session, token, settings, now=first + timedelta(hours=1))
    with db.read_only(factory) as session:
        assert session.scalar(select(SurveyInvitation.opened_at)) == first


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
    with factory.begin() as session:
        assert survey.submit(session, token, GOOD, settings, today=TODAY) is True
        assert survey.submit(session, other, GOOD, settings, today=TODAY) is True  # completes a group of 2
    with factory.begin() as session:
        reopened = survey.open_survey(session, token, settings)
        assert reopened.submitted and not reopened.pending and reopened.form["gender"] == "femme"
        assert survey.submit(session, token, {**GOOD, "gender": "homme"}, settings, today=TODAY) is False
        assert survey.open_survey(session, token, settings).pending
        survey.submit(session, other, {**GOOD, "gender": "homme"}, settings, today=TODAY)
    assert count_responses(factory) == 2
    with db.read_only(factory) as session:
        figures = stats.survey_stats(session, stats.Filters(), k=2, today=TODAY)
        assert set(session.scalars(select(SurveyResponse.gender))) == {"homme"}
    assert figures.figures["gender"].cells["femme"].suppressed  # nobody: hidden like a small group
    assert figures.figures["gender"].cells["homme"].suppressed  # everybody: hidden too (nobody outside it)
    assert abs(figures.respondents - 2) <= 2


def test_invalid_submission_stores_nothing(factory, settings):
    token = invite_one(factory, settings)
    with factory.begin() as session, pytest.raises(InvalidAnswers):
        survey.submit(session, token, {**GOOD, "employer": None}, settings, today=TODAY)
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
            outcomes.append(survey.submit(session, token, GOOD, settings, today=TODAY))

    threads = [threading.Thread(target=click) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [False] * 7 + [True]
    assert count_rows(factory, SurveyPool) == 1  # one waiting set of answers, not eight
    with db.read_only(factory) as session:
        assert survey.release_state(session, settings.disclosure_k).waiting == 1


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


def test_import_export_round_trip(factory, settings):
    text = HEADER + (
        "2021-09,epci,femme,5to20,bac4_5,urbanisme_amenagement|architecture,21\n"
        ",,,,,,\n"
        "2022-03,commune,,lt1,doctorat,autre,2A\n"
    )
    answers = survey.read_responses_csv("\ufeff" + text, TODAY)
    with factory.begin() as session:
        assert survey.import_responses(session, answers, small_k(settings)) == 2  # the blank line is skipped
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
    second = invite_one(factory, settings, "b@example.fr")
    with factory.begin() as session:
        survey.import_responses(session, answers, small_k(settings))
        survey.submit(session, token, GOOD, small_k(settings), today=TODAY)
        survey.submit(session, second, GOOD, small_k(settings), today=TODAY)
    with factory.begin() as session:
        incremental = {tuple(r[:6]): tuple(r[6:]) for r in session.execute(select(SurveyCount.__table__)) if r[6]}
        survey.recount(session)
    with db.read_only(factory) as session:
        rebuilt = {tuple(r[:6]): tuple(r[6:]) for r in session.execute(select(SurveyCount.__table__))}
    assert rebuilt == incremental
    assert any(key_sum for _, key_sum in rebuilt.values())  # the cell keys are rebuilt too


def test_submission_time_is_not_exported(factory, settings):
    settings = small_k(settings)
    first, second = invite_one(factory, settings), invite_one(factory, settings, "b@example.fr")
    with factory.begin() as session:
        survey.submit(session, first, GOOD, settings, today=TODAY, now=datetime(2026, 11, 1))
        survey.submit(session, second, GOOD, settings, today=TODAY)
    with db.read_only(factory) as session:
        exported = survey.export_responses_csv(session)
    assert exported.count("\n") == 3
    assert "2026-11-01" not in exported and "cp@example.fr" not in exported


# ---------------------------------------------------------------------------- release in groups, withdrawal


def test_answers_wait_until_k_then_are_released_together(factory, settings):
    settings = small_k(settings, 3)
    tokens = [invite_one(factory, settings, f"cp{n}@example.fr") for n in range(3)]
    for token in tokens[:2]:
        with factory.begin() as session:
            survey.submit(session, token, GOOD, settings, today=TODAY)
    assert count_responses(factory) == 0 and count_rows(factory, SurveyCount) == 0
    with db.read_only(factory) as session:
        state = survey.release_state(session, 3)
    assert (state.waiting, state.released_at) == (2, None)
    with factory.begin() as session:
        survey.submit(session, tokens[2], {**GOOD, "gender": "homme"}, settings, today=TODAY)
    assert count_responses(factory) == 3 and count_rows(factory, SurveyPool) == 0
    with db.read_only(factory) as session:
        state = survey.release_state(session, 3)
        figures = stats.survey_stats(session, stats.Filters(), k=3, today=TODAY)
    assert (state.waiting, state.last_group_size) == (0, 3) and state.released_at is not None
    assert abs(figures.respondents - 3) <= 2 and figures.figures["gender"].cells["homme"].suppressed  # 1 < k


def test_withdrawal_leaves_the_figures_with_the_next_group(factory, settings):
    settings = small_k(settings)
    first, second, third = (invite_one(factory, settings, f"cp{n}@example.fr") for n in range(3))
    with factory.begin() as session:
        survey.submit(session, first, GOOD, settings, today=TODAY)
        survey.submit(session, second, GOOD, settings, today=TODAY)
    with factory.begin() as session:
        survey.withdraw(session, first, settings)
        opened = survey.open_survey(session, first, settings)
        assert not opened.submitted and opened.pending and opened.form == {}
        with pytest.raises(DomainError) as caught:
            survey.withdraw(session, first, settings)
        assert caught.value.code == "nothing_to_withdraw"
    assert count_responses(factory) == 2  # still counted until a group is complete
    with factory.begin() as session:
        survey.submit(session, third, GOOD, settings, today=TODAY)
    assert count_responses(factory) == 2  # one gone, one new
    with factory.begin() as session:
        assert survey.submit(session, first, GOOD, settings, today=TODAY) is True  # answering again
        survey.withdraw(session, first, settings)  # never counted: simply dropped
    assert count_rows(factory, SurveyPool) == 0


def test_resent_link_reaches_the_same_draft_and_answers(factory, settings):
    settings = small_k(settings)
    token, second, third = (invite_one(factory, settings, f"{n}@example.fr") for n in ("cp", "b", "c"))
    with factory.begin() as session:
        survey.submit(session, token, GOOD, settings, today=TODAY)
        survey.submit(session, second, GOOD, settings, today=TODAY)
        invitation_id = session.scalar(select(SurveyInvitation.id).where(SurveyInvitation.email == "cp@example.fr"))
        survey.resend(session, invitation_id, settings)
    with factory.begin() as session:
        new_token = next(m for m in mail.list_messages(session) if m.subject.startswith("Rappel")).link.split("=")[1]
        opened = survey.open_survey(session, new_token, settings)
        assert opened.submitted and opened.form["gender"] == "femme"
        assert survey.submit(session, new_token, {**GOOD, "gender": "homme"}, settings, today=TODAY) is False
        survey.submit(session, third, GOOD, settings, today=TODAY)
    with db.read_only(factory) as session:
        assert sorted(session.scalars(select(SurveyResponse.gender))) == ["femme", "femme", "homme"]


# ---------------------------------------------------------------------------- unlinkable at rest


ANSWER_SIDE = ("survey_response", "survey_draft", "survey_pool", "survey_count", "survey_release")


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
        survey.submit(session, first, GOOD, settings, today=TODAY)
        survey.submit(session, second, {**GOOD, "gender": "homme"}, settings, today=TODAY)  # released together
        survey.submit(session, waiting, GOOD, settings, today=TODAY)  # waits in the pool
    with db.read_only(factory) as session:
        tables = {table.name: session.execute(select(table)).all() for table in Base.metadata.sorted_tables}
    answer_side = _identifying_values(row for name in ANSWER_SIDE for row in tables[name] if name != "survey_release")
    e_mail_side = _identifying_values(tables["survey_invitation"] + tables["outbox_message"])
    assert answer_side and e_mail_side
    assert answer_side & e_mail_side == set()
    # No time at all on the answers' side (the release row says when figures moved, for everybody at once).
    assert not any(isinstance(value, datetime) for value in answer_side)
    # No foreign key crosses between the two sides.
    for name in ANSWER_SIDE:
        assert not Base.metadata.tables[name].foreign_keys
    assert not Base.metadata.tables["survey_invitation"].foreign_keys
    # Without the server key, the stored salts lead nowhere: neither plain nor wrongly keyed hashes match.
    refs = {row.respondent_ref for row in tables["survey_response"]} | {row.ref for row in tables["survey_draft"]}
    for invitation in tables["survey_invitation"]:
        salt = invitation.respondent_salt.encode()
        guesses = {hashlib.sha256(salt).hexdigest(), hmac.new(b"wrong-key", salt, hashlib.sha256).hexdigest()}
        assert not guesses & refs
    # Sealed rows do not show the answers they hold.
    assert all(b"commune" not in row.sealed for row in tables["survey_draft"])
    assert all(b"femme" not in row.sealed and b"epci" not in row.sealed for row in tables["survey_pool"])


def test_erasing_an_invitee_withdraws_their_draft_and_answers(factory, settings):
    settings = small_k(settings)
    erased, other, drafting = (invite_one(factory, settings, f"{n}@example.fr") for n in ("erased", "b", "c"))
    with factory.begin() as session:
        survey.submit(session, erased, GOOD, settings, today=TODAY)
        survey.submit(session, other, {**GOOD, "gender": "homme"}, settings, today=TODAY)
        survey.save_draft(session, drafting, {"employer": "epci"}, settings)
    with factory.begin() as session:
        assert survey.erase_invitation(session, "erased@example.fr", settings) == 1
        assert survey.erase_invitation(session, "c@example.fr", settings) == 1
    assert count_rows(factory, SurveyDraft) == 0 and count_rows(factory, SurveyPool) == 1  # a withdrawal waits
    with factory.begin() as session, pytest.raises(DomainError):
        survey.open_survey(session, erased, settings)
    with factory.begin() as session:
        survey.submit(session, other, GOOD, settings, today=TODAY)  # completes the group
        assert [r.gender for r in session.scalars(select(SurveyResponse))] == ["femme"]  # only the other person's


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


def test_concurrent_submissions_release_every_answer_once(factory, settings):
    """Twenty people answer at the same moment: every answer is counted once, in a group or still waiting."""
    settings = small_k(settings, 3)
    tokens = [invite_one(factory, settings, f"cp{n}@example.fr") for n in range(20)]
    barrier = threading.Barrier(len(tokens))
    errors = []

    def answer(token):
        barrier.wait()
        try:
            with db.transaction(factory) as session:
                survey.submit(session, token, GOOD, settings, today=TODAY)
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=answer, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    released, waiting = count_responses(factory), count_rows(factory, SurveyPool)
    assert released + waiting == 20 and waiting < 3
    with factory.begin() as session:
        incremental = {tuple(r[:6]): tuple(r[6:]) for r in session.execute(select(SurveyCount.__table__)) if r[6]}
        survey.recount(session)
        rebuilt = {tuple(r[:6]): tuple(r[6:]) for r in session.execute(select(SurveyCount.__table__))}
    assert rebuilt == incremental  # no group counted twice, none lost
    assert incremental[("*", "*", "*", "*", survey.RESPONDENTS, "")][0] == released
