"""Accounts, organisations, passwords and login, on the test database (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from pvd_survey import accounts, db
from pvd_survey.errors import DomainError
from pvd_survey.models import OutboxMessage, utcnow
from tests.conftest import STRONG_PASSWORD


def make_organisation(session, name="Communauté de communes du Montbardois", department="21"):
    return accounts.create_organisation(session, name, "epci", department)


def make_user(session, settings, email="alice@example.fr", role="direction", password=STRONG_PASSWORD, **kw):
    return accounts.create_user(
        session,
        email=email,
        display_name=kw.pop("display_name", "Alice Martin"),
        role=role,
        settings=settings,
        password=password,
        **kw,
    )


@pytest.mark.database_independent
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Alice.Martin@Example.FR", "alice.martin@example.fr"),
        ("  claire@mairie-revel.fr ", "claire@mairie-revel.fr"),
        ("élodie@commune.fr", "élodie@commune.fr"),
    ],
)
def test_email_is_normalised(raw, expected):
    assert accounts.normalise_email(raw) == expected


@pytest.mark.database_independent
@pytest.mark.parametrize("raw", ["", "alice", "alice@", "@example.fr", "alice@@example.fr", "a b@example.fr"])
def test_invalid_email_is_refused(raw):
    with pytest.raises(DomainError) as caught:
        accounts.normalise_email(raw)
    assert caught.value.code == "invalid_email"


@pytest.mark.database_independent
@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("court", "password_too_short"),
        ("x" * 129, "password_too_long"),
        ("password1234", "password_common"),
        ("Motdepasse2024!", "password_common"),
        ("azertyuiop123", "password_common"),
        ("aaaaaaaaaaaaaaa", "password_common"),
        ("alice.martin-2024", "password_contains_email"),
        ("abcdefgh1234", "password_weak"),
    ],
)
def test_weak_passwords_are_refused(password, code):
    with pytest.raises(DomainError) as caught:
        accounts.check_password_policy(password, "alice.martin@example.fr")
    assert caught.value.code == code


@pytest.mark.database_independent
@pytest.mark.parametrize("password", [STRONG_PASSWORD, "Quimperlé, la ville basse en juin", "é" * 6 + "Zq9!vT" * 10])
def test_good_passwords_are_accepted(password):
    accounts.check_password_policy(password, "alice@example.fr")


def test_password_is_stored_as_argon2id(session, settings):
    user = make_user(session, settings)
    from pvd_survey.models import User

    stored = session.get(User, user.id).password_hash
    assert stored.startswith("$argon2id$")
    assert STRONG_PASSWORD not in stored


def test_create_user_writes_welcome_mail_in_same_transaction(factory, settings):
    with factory.begin() as session:
        make_user(session, settings)
    with factory() as session:
        messages = session.scalars(select(OutboxMessage)).all()
    assert [(m.recipient, m.kind, m.status) for m in messages] == [("alice@example.fr", "account_created", "pending")]
    assert "http://pvd.test" in messages[0].body


def test_rolled_back_user_creation_leaves_no_mail(factory, settings):
    with pytest.raises(RuntimeError), factory.begin() as session:
        make_user(session, settings)
        raise RuntimeError("the page crashed after the service call")
    with factory() as session:
        assert session.scalars(select(OutboxMessage)).all() == []
        assert accounts.list_users(session) == []


def test_duplicate_email_is_refused_case_insensitively(session, settings):
    make_user(session, settings, email="alice@example.fr")
    with pytest.raises(DomainError) as caught:
        make_user(session, settings, email="ALICE@example.fr")
    assert caught.value.code == "email_taken"
    assert len(accounts.list_users(session)) == 1


@pytest.mark.parametrize(
    ("role", "with_organisation", "code"),
    [
        ("recruteur", False, "organisation_required"),
        ("direction", True, "organisation_not_allowed"),
        ("admin", True, "organisation_not_allowed"),
        ("chef", False, "unknown_role"),
    ],
)
def test_role_and_organisation_must_match(session, settings, role, with_organisation, code):
    organisation = make_organisation(session)
    with pytest.raises(DomainError) as caught:
        make_user(session, settings, role=role, organisation_id=organisation.id if with_organisation else None)
    assert caught.value.code == code


def test_recruiter_is_bound_to_organisation(session, settings):
    organisation = make_organisation(session)
    user = make_user(session, settings, role="recruteur", organisation_id=organisation.id)
    assert user.organisation_name == "Communauté de communes du Montbardois"
    assert accounts.list_organisations(session)[0].recruiter_count == 1


@pytest.mark.parametrize(
    ("name", "kind", "department", "code"),
    [
        ("", "epci", "21", "organisation_name_required"),
        ("Commune de Revel", "syndicat", "31", "unknown_organisation_kind"),
        ("Commune de Revel", "commune", "20", "unknown_department"),
        ("Commune de Revel", "commune", "975", "unknown_department"),
    ],
)
def test_bad_organisations_are_refused(session, name, kind, department, code):
    with pytest.raises(DomainError) as caught:
        accounts.create_organisation(session, name, kind, department)
    assert caught.value.code == code
    assert accounts.list_organisations(session) == []


def test_organisation_department_is_normalised_and_unique(session):
    created = accounts.create_organisation(session, "Commune de  Calvi", "commune", " 2b ")
    assert (created.name, created.department) == ("Commune de Calvi", "2B")
    with pytest.raises(DomainError) as caught:
        accounts.create_organisation(session, "Commune de Calvi", "commune", "2B")
    assert caught.value.code == "organisation_exists"
    # Same name elsewhere is another organisation.
    accounts.create_organisation(session, "Commune de Calvi", "commune", "2A")
    assert len(accounts.list_organisations(session)) == 2


def test_find_organisation_by_id_or_name(session):
    organisation = make_organisation(session)
    assert accounts.find_organisation(session, str(organisation.id)).name == organisation.name
    assert accounts.find_organisation(session, "communauté de communes du montbardois").id == organisation.id
    with pytest.raises(DomainError) as caught:
        accounts.find_organisation(session, "Nulle part")
    assert caught.value.code == "unknown_organisation"


# ---------------------------------------------------------------------------- first administrator


def test_first_admin_only_once(factory, settings):
    with factory.begin() as session:
        assert accounts.needs_setup(session)
        admin = accounts.create_first_admin(
            session, email="admin@anct.gouv.fr", display_name="Admin", password=STRONG_PASSWORD, settings=settings
        )
        assert admin.role == "admin"
    with factory.begin() as session:
        assert not accounts.needs_setup(session)
        with pytest.raises(DomainError) as caught:
            accounts.create_first_admin(
                session,
                email="intrus@example.fr",
                display_name="Intrus",
                password=STRONG_PASSWORD,
                settings=settings,
            )
        assert caught.value.code == "setup_done"


def test_first_admin_concurrent_setups_create_exactly_one(factory, settings):
    import threading

    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            with factory.begin() as session:
                accounts.create_first_admin(
                    session,
                    email=f"admin{n}@anct.gouv.fr",
                    display_name=f"Admin {n}",
                    password=STRONG_PASSWORD,
                    settings=settings,
                )
            outcomes.append("created")
        except DomainError as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created"] + ["setup_done"] * 5
    with factory() as session:
        assert [u.role for u in accounts.list_users(session)] == ["admin"]


# ---------------------------------------------------------------------------- login


def test_login_succeeds_with_any_email_case(factory, settings):
    with factory.begin() as session:
        make_user(session, settings)
    outcome = accounts.authenticate(factory, "Alice@Example.fr", STRONG_PASSWORD, settings)
    assert outcome.error is None and outcome.user.email == "alice@example.fr"
    assert outcome.user.last_login_at is not None


@pytest.mark.parametrize(("email", "password"), [("alice@example.fr", "wrong password!!"), ("bob@example.fr", "x")])
def test_wrong_password_and_unknown_email_look_the_same(factory, settings, email, password):
    with factory.begin() as session:
        make_user(session, settings)
    outcome = accounts.authenticate(factory, email, password, settings)
    assert outcome.user is None and outcome.error.code == "bad_credentials"


def test_repeated_failures_lock_the_email_for_a_while(factory, settings):
    with factory.begin() as session:
        make_user(session, settings)
    now = utcnow()
    codes = []
    for _ in range(settings.login_max_failures):
        codes.append(accounts.authenticate(factory, "alice@example.fr", "wrong password!!", settings, now).error.code)
    assert codes == ["bad_credentials"] * (settings.login_max_failures - 1) + ["account_locked"]
    # Even the right password is refused while locked...
    outcome = accounts.authenticate(factory, "alice@example.fr", STRONG_PASSWORD, settings, now)
    assert outcome.error.code == "account_locked"
    # ...and accepted once the lock has expired.
    later = now + timedelta(minutes=settings.login_lock_minutes, seconds=1)
    outcome = accounts.authenticate(factory, "alice@example.fr", STRONG_PASSWORD, settings, later)
    assert outcome.error is None


def test_concurrent_failures_are_all_counted(factory, settings):
    import threading

    barrier = threading.Barrier(4)

    def fail() -> None:
        barrier.wait()
        accounts.authenticate(factory, "nobody@example.fr", "wrong password!!", settings)

    threads = [threading.Thread(target=fail) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    from pvd_survey.models import LoginThrottle

    with factory() as session:
        assert session.get(LoginThrottle, "nobody@example.fr").failures == 4


def test_disabled_account_cannot_log_in_and_its_sessions_end(factory, settings):
    with factory.begin() as session:
        admin = make_user(session, settings, email="admin@anct.gouv.fr", role="admin")
        alice = make_user(session, settings)
    with db.read_only(factory) as session:
        assert accounts.current_user(session, alice.id, alice.session_epoch) is not None
    with factory.begin() as session:
        accounts.set_active(session, alice.id, False, admin.id)
    with factory.begin() as session:
        assert accounts.current_user(session, alice.id, alice.session_epoch) is None
    outcome = accounts.authenticate(factory, "alice@example.fr", STRONG_PASSWORD, settings)
    assert outcome.error.code == "account_disabled"
    with factory.begin() as session:
        enabled = accounts.set_active(session, alice.id, True, admin.id)
    assert accounts.authenticate(factory, "alice@example.fr", STRONG_PASSWORD, settings).error is None
    with factory.begin() as session:
        # The old session stays closed; a new login gets the new epoch.
        assert accounts.current_user(session, alice.id, alice.session_epoch) is None
        assert accounts.current_user(session, alice.id, enabled.session_epoch) is not None


def test_admin_cannot_disable_self_or_last_admin(session, settings):
    admin = make_user(session, settings, email="admin@anct.gouv.fr", role="admin")
    other = make_user(session, settings, email="other@anct.gouv.fr", role="admin")
    with pytest.raises(DomainError) as caught:
        accounts.set_active(session, admin.id, False, admin.id)
    assert caught.value.code == "cannot_disable_self"
    accounts.set_active(session, other.id, False, admin.id)
    direction = make_user(session, settings, email="direction@anct.gouv.fr")
    with pytest.raises(DomainError) as caught:
        accounts.set_active(session, admin.id, False, direction.id)
    assert caught.value.code == "last_admin"


def test_set_password_ends_sessions_and_lifts_lock(factory, settings):
    with factory.begin() as session:
        alice = make_user(session, settings)
    for _ in range(settings.login_max_failures):
        accounts.authenticate(factory, "alice@example.fr", "wrong password!!", settings)
    new_password = "une autre phrase de passe solide"
    with factory.begin() as session:
        with pytest.raises(DomainError) as caught:
            accounts.set_password(session, alice.id, "password1234", settings)
        assert caught.value.code == "password_common"
        accounts.set_password(session, alice.id, new_password, settings)
    with factory.begin() as session:
        assert accounts.current_user(session, alice.id, alice.session_epoch) is None
    assert accounts.authenticate(factory, "alice@example.fr", STRONG_PASSWORD, settings).error.code == "bad_credentials"
    assert accounts.authenticate(factory, "alice@example.fr", new_password, settings).error is None


def test_change_own_password_needs_current_one(session, settings):
    alice = make_user(session, settings)
    with pytest.raises(DomainError) as caught:
        accounts.change_own_password(session, alice.id, "not my password", "une autre phrase solide", settings)
    assert caught.value.code == "current_password_wrong"
    updated = accounts.change_own_password(session, alice.id, STRONG_PASSWORD, "une autre phrase solide", settings)
    assert updated.session_epoch == alice.session_epoch + 1


# ---------------------------------------------------------------------------- single sign-on mapping


def test_sso_maps_verified_email_to_local_account(session, settings):
    make_user(session, settings, email="claire.durand@anct.gouv.fr", password=None)
    user = accounts.user_for_sso(session, "Claire.Durand@ANCT.gouv.fr", True)
    assert (user.email, user.role) == ("claire.durand@anct.gouv.fr", "direction")


@pytest.mark.parametrize(
    ("email", "verified", "code"),
    [
        ("inconnu@anct.gouv.fr", True, "sso_unknown"),
        (None, True, "sso_unknown"),
        ("claire.durand@anct.gouv.fr", False, "sso_unverified"),
    ],
)
def test_sso_refuses_unknown_or_unverified(session, settings, email, verified, code):
    make_user(session, settings, email="claire.durand@anct.gouv.fr", password=None)
    with pytest.raises(DomainError) as caught:
        accounts.user_for_sso(session, email, verified)
    assert caught.value.code == code


def test_account_without_password_cannot_log_in_with_one(factory, settings):
    with factory.begin() as session:
        make_user(session, settings, email="sso.only@anct.gouv.fr", password=None)
    outcome = accounts.authenticate(factory, "sso.only@anct.gouv.fr", "", settings)
    assert outcome.user is None and outcome.error.code == "field_required"  # (said under the field, nothing tried)
    outcome = accounts.authenticate(factory, "sso.only@anct.gouv.fr", "un mot de passe quelconque", settings)
    assert outcome.user is None and outcome.error.code == "bad_credentials"


# ---------------------------------------------------------------------------- privacy export (survey, issue 16)


def test_privacy_export_of_an_invitee_says_nothing_of_their_answers_and_erasure_takes_them_back(factory, settings):
    """An access request shows the invitation, never whether or what the person answered (an administrator reads
    it); erasing the person takes their answers back out of the figures with the next release."""
    import dataclasses

    from pvd_survey import mail, privacy, survey

    small = dataclasses.replace(settings, disclosure_k=2)
    answers = {
        "start_month": "2021-09",
        "employer": "epci",
        "gender": "femme",
        "experience": "5to20",
        "diploma": "bac4_5",
        "training_field": ["autre"],
        "department": "21",
    }
    with factory.begin() as session:
        admin = accounts.create_first_admin(
            session, email="ada@example.fr", display_name="Ada", password=STRONG_PASSWORD, settings=settings
        )
        survey.invite(session, survey.parse_invitation_list("lea@example.fr;21\nmarc@example.fr;25"), small)
        tokens = {
            m.recipient: m.link.split("jeton=")[1] for m in mail.list_messages(session) if m.kind == "survey_invitation"
        }
        before = privacy.export_person(session, admin, "Lea@example.fr")
    (record,) = before["invitation au questionnaire"]
    assert set(record) == {"email", "departement", "invite_le", "dernier_envoi_le"}
    with factory.begin() as session:
        survey.open_survey(session, tokens["lea@example.fr"], small)
        survey.save_draft(session, tokens["lea@example.fr"], {"gender": "femme"}, small)
        for token in tokens.values():
            survey.submit(session, token, answers, small)
        assert privacy.export_person(session, admin, "lea@example.fr") == before
        assert survey.release_due(session, small).applied == 2
        assert privacy.export_person(session, admin, "lea@example.fr") == before
        assert len(survey.counted_records(session, small)) == 2
        erased = privacy.erase_person(session, admin, "lea@example.fr", small)
        assert erased["invitation au questionnaire"] == 1
        assert privacy.export_person(session, admin, "lea@example.fr")["invitation au questionnaire"] == []
        survey.submit(session, tokens["marc@example.fr"], {**answers, "gender": "homme"}, small)
        assert survey.release_due(session, small, force=True).applied == 2
        assert [r.answers.gender for r in survey.counted_records(session, small)] == ["homme"]  # Léa's are gone
