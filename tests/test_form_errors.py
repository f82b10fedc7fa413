"""Every error of a refused form at once (RGAA 11.10), for the forms of accounts, organisations and invitations:
each under its field, all listed at the top, the focus on the first; after a success, on the confirmation.

Pages run through AppTest from the app's entry point, on the test database (SQLite, and PostgreSQL with
PVD_TEST_DATABASE=postgresql). Messages are compared with errors.MESSAGES, never retyped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from pvd_survey import accounts, db, mail, survey
from pvd_survey.accounts import OrganisationInfo, UserInfo
from pvd_survey.config import Settings
from pvd_survey.errors import MESSAGES, DomainError, french_message
from tests.conftest import STRONG_PASSWORD, open_page
from tests.factories import focus_moves_to, refused_messages, shown_form_errors, submit, texts

WEAK = "abcdefgh1234"
COMMON = "password1234"
OTHER_STRONG = "Quimperlé, la ville basse en juin"


@dataclass
class World:
    organisation: OrganisationInfo
    admin: UserInfo
    direction: UserInfo
    factory: sessionmaker[Session]
    settings: Settings


@pytest.fixture
def world(app_env: str, factory: sessionmaker[Session], settings: Settings) -> World:
    """An installed app: an administrator, a direction member, one organisation."""
    with factory.begin() as session:
        organisation = accounts.create_organisation(session, "Communauté de communes du Montbardois", "epci", "21")
        admin = accounts.create_first_admin(
            session, email="ada.admin@example.fr", display_name="Ada Admin", password=STRONG_PASSWORD, settings=settings
        )
        direction = accounts.create_user(
            session,
            email="dora.direction@example.fr",
            display_name="Dora Direction",
            role="direction",
            settings=settings,
            password=STRONG_PASSWORD,
            notify=False,
        )
    return World(organisation, admin, direction, factory, settings)


def message(code: str, **params: object) -> str:
    return french_message(DomainError(code, **params))


def invalid_email() -> str:
    return message("invalid_email", detail="vérifiez qu'elle est de la forme prenom.nom@exemple.fr.")


# ---------------------------------------------------------------------------- accounts


def test_login_says_both_missing_fields_at_once_under_each(world: World) -> None:
    at = open_page("pages/login.py")
    at = submit(at, "login_form")
    summary, under = shown_form_errors(at, "login_form")
    assert under == {
        "email": ("Adresse e-mail", invalid_email()),
        "password": ("Mot de passe", MESSAGES["field_required"]),
    }
    assert summary == [f"**Adresse e-mail** : {invalid_email()}", f"**Mot de passe** : {MESSAGES['field_required']}"]
    assert focus_moves_to(at) == "login_form"
    # A wrong password names no field (it would tell which of the two is wrong): listed at the top only.
    at.text_input(key="login_email").input("dora.direction@example.fr")
    at.text_input(key="login_password").input("pas le bon mot de passe")
    at = submit(at, "login_form")
    assert shown_form_errors(at, "login_form") == ([MESSAGES["bad_credentials"]], {})


def test_changing_ones_password_says_every_problem_at_once(world: World) -> None:
    at = open_page("pages/account.py", world.direction)
    at.text_input(key="account_current").input("pas le mien")
    at.text_input(key="account_new").input(WEAK)
    at.text_input(key="account_confirm").input(WEAK + "x")
    at = submit(at, "account_password_form")
    summary, under = shown_form_errors(at, "account_password_form")
    assert under == {
        "current_password": ("Mot de passe actuel", MESSAGES["current_password_wrong"]),
        "password": ("Nouveau mot de passe", MESSAGES["password_weak"]),
        "confirmation": ("Confirmez le nouveau mot de passe", MESSAGES["password_mismatch"]),
    }
    assert len(summary) == 3 and summary[0].startswith("**Mot de passe actuel** : ")
    assert focus_moves_to(at) == "account_password_form"
    assert accounts.authenticate(world.factory, world.direction.email, STRONG_PASSWORD, world.settings).user

    for key, value in (("account_current", STRONG_PASSWORD), ("account_new", OTHER_STRONG)):
        at.text_input(key=key).input(value)
    at.text_input(key="account_confirm").input(OTHER_STRONG)
    at = submit(at, "account_password_form")
    assert shown_form_errors(at, "account_password_form") == ([], {})
    assert texts(at.success) == ["Mot de passe changé. Vos autres sessions ouvertes sont fermées."]
    assert focus_moves_to(at) == "pvd_flash_focused"


def test_a_password_link_says_every_problem_at_once_and_keeps_working(world: World) -> None:
    with world.factory.begin() as session:
        link = accounts.issue_password_link(session, world.direction.id, world.settings)
    token = link.split("jeton=")[1]
    at = open_page("pages/set_password.py", jeton=token)
    at.text_input(key="set_password_password").input(COMMON)
    at.text_input(key="set_password_again").input(STRONG_PASSWORD)
    at = submit(at, "set_password_form")
    summary, under = shown_form_errors(at, "set_password_form")
    assert under == {
        "password": ("Mot de passe", MESSAGES["password_common"]),
        "confirmation": ("Confirmez le mot de passe", MESSAGES["password_mismatch"]),
    }
    assert summary == [
        f"**Mot de passe** : {MESSAGES['password_common']}",
        f"**Confirmez le mot de passe** : {MESSAGES['password_mismatch']}",
    ]
    assert focus_moves_to(at) == "set_password_form"

    at.text_input(key="set_password_password").input(OTHER_STRONG)
    at.text_input(key="set_password_again").input(OTHER_STRONG)
    at = submit(at, "set_password_form")
    assert texts(at.success) == ["Mot de passe enregistré. Vous pouvez vous connecter."]
    assert focus_moves_to(at) == "set_password_done"
    assert accounts.authenticate(world.factory, world.direction.email, OTHER_STRONG, world.settings).user


def test_the_set_up_form_says_every_problem_at_once(app_env: str, factory: sessionmaker[Session]) -> None:
    at = open_page("pages/setup.py")
    at.text_input(key="setup_code").input("AAAA-BBBB-CCCC")
    at.text_input(key="setup_email").input("ada.admin@")
    at.text_input(key="setup_password").input(STRONG_PASSWORD)
    at.text_input(key="setup_password_confirm").input(STRONG_PASSWORD + "x")
    at = submit(at, "setup_form")
    summary, under = shown_form_errors(at, "setup_form")
    assert under == {
        "setup_code": ("Code de création", MESSAGES["setup_code_invalid"]),
        "display_name": ("Nom et prénom", MESSAGES["display_name_required"]),
        "email": ("Adresse e-mail", invalid_email()),
        "confirmation": ("Confirmez le mot de passe", MESSAGES["password_mismatch"]),
    }
    assert [line.split(" : ")[0] for line in summary] == [
        "**Code de création**",
        "**Nom et prénom**",
        "**Adresse e-mail**",
        "**Confirmez le mot de passe**",
    ]
    assert focus_moves_to(at) == "setup_form"
    with factory.begin() as session:
        assert accounts.needs_setup(session)


def test_creating_an_account_says_every_problem_at_once(world: World) -> None:
    at = open_page("pages/admin_users.py", world.admin)
    at.text_input(key="admin_new_email").input("pas-une-adresse")
    at.selectbox(key="admin_new_role").set_value("recruteur")
    at.text_input(key="admin_new_password").input(COMMON)
    at = submit(at, "admin_create_user")
    summary, under = shown_form_errors(at, "admin_create_user")
    assert under == {
        "display_name": ("Nom et prénom", MESSAGES["display_name_required"]),
        "email": ("Adresse e-mail", invalid_email()),
        "organisation": ("Organisation (comptes recruteur uniquement)", MESSAGES["organisation_required"]),
        "password": (
            "Mot de passe initial (facultatif si la connexion ProConnect est configurée)",
            MESSAGES["password_common"],
        ),
    }
    assert len(summary) == 4 and focus_moves_to(at) == "admin_create_user"
    with db.read_only(world.factory) as session:
        assert len(accounts.list_users(session)) == 2 and mail.list_messages(session) == []

    at = open_page("pages/admin_users.py", world.admin, compte=str(world.direction.id))
    at.text_input(key="admin_set_password_value").input(WEAK)
    at = submit(at, "admin_set_password")
    assert shown_form_errors(at, "admin_set_password") == (
        [f"**Nouveau mot de passe** : {MESSAGES['password_weak']}"],
        {"password": ("Nouveau mot de passe", MESSAGES["password_weak"])},
    )
    assert focus_moves_to(at) == "admin_set_password"


def test_adding_an_organisation_says_every_problem_at_once_and_keeps_what_was_typed(world: World) -> None:
    at = open_page("pages/organisations.py", world.direction)
    at = submit(at, "organisation_form")
    summary, under = shown_form_errors(at, "organisation_form")
    assert under == {
        "name": ("Nom", MESSAGES["organisation_name_required"]),
        "department": ("Département", MESSAGES["department_required"]),
    }
    assert len(summary) == 2 and focus_moves_to(at) == "organisation_form"

    at.text_input(key="organisation_name").input("Mairie de Revel")
    at = submit(at, "organisation_form")
    assert list(shown_form_errors(at, "organisation_form")[1]) == ["department"]
    assert at.text_input(key="organisation_name").value == "Mairie de Revel"  # a refused form keeps it
    at.selectbox(key="organisation_department").set_value("31")
    at = submit(at, "organisation_form")
    assert texts(at.success) == ["Organisation « Mairie de Revel » ajoutée."]
    assert focus_moves_to(at) == "pvd_flash_focused"
    assert at.text_input(key="organisation_name").value == ""  # emptied once added


# ---------------------------------------------------------------------------- invitations


def test_a_bad_invitation_list_says_every_bad_line_under_the_list(world: World) -> None:
    at = open_page("pages/invitations.py", world.direction)
    at.text_area(key="invitations_text").input("anne@example.fr;21\npas-une-adresse\nbruno@example.fr;999\n")
    at = submit(at, "invitations_form")
    summary, under = shown_form_errors(at, "invitations_form")
    label, text = under["invitees"]
    assert list(under) == ["invitees"] and label == "Adresses e-mail"
    assert text.startswith("Rien n'a été envoyé : 2 ligne(s) à corriger.")
    assert "Ligne 2 : adresse e-mail invalide (pas-une-adresse)." in text
    assert "Ligne 3 : département inconnu (999)." in text
    assert summary == [f"**Adresses e-mail** : {text}"] and focus_moves_to(at) == "invitations_form"
    with db.read_only(world.factory) as session:
        assert survey.list_invitations(session) == []

    at.text_area(key="invitations_text").input("\n")
    at = submit(at, "invitations_form")
    assert shown_form_errors(at, "invitations_form")[1] == {"invitees": ("Adresses e-mail", MESSAGES["no_invitees"])}


def test_an_invitation_file_not_in_utf8_is_refused_under_the_file_field(world: World) -> None:
    at = open_page("pages/invitations.py", world.direction)
    # Saved as « CSV » by a French Excel: Windows-1252, where « é » is one byte that UTF-8 refuses.
    at.file_uploader(key="invitations_file").set_value(
        ("liste.csv", "anne@example.fr;21;Sévérac\n".encode("cp1252"), "text/csv")
    )
    at = submit(at, "invitations_form")
    summary, under = shown_form_errors(at, "invitations_form")
    assert list(under) == ["invitees_file"] and under["invitees_file"][1] == MESSAGES["file_not_utf8"]
    assert len(summary) == 1 and summary[0].endswith(MESSAGES["file_not_utf8"])
    with db.read_only(world.factory) as session:
        assert survey.list_invitations(session) == []


def test_the_closing_and_reminder_forms_say_their_error_under_the_date(world: World) -> None:
    at = open_page("pages/invitations.py", world.direction)
    at = next(b for b in at.button if b.form_id == "invitations_closing" and b.label == "Fixer la clôture").click()
    at = at.run()
    assert shown_form_errors(at, "invitations_closing")[1] == {
        "day": ("Date de clôture", MESSAGES["closing_day_required"])
    }
    assert focus_moves_to(at) == "invitations_closing"
    at.date_input(key="invitations_close_day").set_value(date.today() - timedelta(days=2))
    at = next(b for b in at.button if b.form_id == "invitations_closing" and b.label == "Fixer la clôture").click()
    at = at.run()
    assert refused_messages(at, "invitations_closing") == [MESSAGES["closing_in_past"]]
    with db.read_only(world.factory) as session:
        assert survey.closing_time(session) is None

    at = submit(at, "invitations_reminder")
    assert shown_form_errors(at, "invitations_reminder")[1] == {
        "day": ("Date de la relance", MESSAGES["reminder_day_required"])
    }
    assert focus_moves_to(at) == "invitations_reminder"
