"""Builders and small helpers shared by the test modules: valid forms, seeded accounts, loaded survey data, the
command line run in this process, and readers of AppTest pages.

A test module imports what it shares from here (or from conftest.py), never from another test module: importing
a test module runs its module-level code and ties two test files together.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import os
import re
import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from unittest import mock

from sqlalchemy import update
from sqlalchemy.orm import Session

from pvd_survey import accounts, cli, db, links, mail, recruitment, survey
from pvd_survey.accounts import OrganisationInfo, UserInfo
from pvd_survey.config import Settings
from pvd_survey.demo import sample_pdf
from pvd_survey.meetings import MeetingForm, RegistrationForm
from pvd_survey.models import OutboxMessage, User, utcnow
from pvd_survey.recruitment import ApplicationInput, PostingInput, Upload
from pvd_survey.survey_questions import Answers
from tests.conftest import PROJECT_ROOT, STRONG_PASSWORD

# ---------------------------------------------------------------------------- e-mailed personal links


def token_of(message: OutboxMessage) -> str:
    """The private-link token an e-mail carries."""
    return message.link.split("jeton=")[1]


def token_from_outbox(session: Session, email: str) -> str:
    """The survey token of the first message written to this address."""
    [message] = [m for m in mail.list_messages(session) if m.recipient == email][:1]
    return message.link.split(f"{links.TOKEN_PARAMETER}=")[1]


# ---------------------------------------------------------------------------- recruitment

PDF = sample_pdf("Léa Martin", "Cheffe de projet")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def posting_input(**changes) -> PostingInput:
    """A valid posting form (deadline in a month)."""
    values = dict(
        title="Chef de projet Petites villes de demain",
        communes=["Montbard", "Venarey-les-Laumes"],
        contract="projet",
        working_time="complet",
        deadline=date.today() + timedelta(days=30),
        description="Rejoignez **notre** équipe pour revitaliser le centre-bourg.",
        salary_min=32000,
        salary_max=40000,
    )
    values.update(changes)
    return PostingInput(**values)


def application_input(email: str = "lea.martin@example.fr", **changes) -> ApplicationInput:
    """A valid application form with a PDF CV."""
    values = dict(
        full_name="Léa Martin",
        email=email,
        phone="06 12 34 56 78",
        cv=Upload("cv-lea.pdf", PDF),
        consent_privacy=True,
    )
    values.update(changes)
    return ApplicationInput(**values)


@dataclass
class World:
    """Two organisations (Côte-d'Or EPCI, Haute-Garonne commune) with one recruiter each, plus direction and admin."""

    own: OrganisationInfo
    other: OrganisationInfo
    users: dict[str, UserInfo]


@functools.cache
def _strong_password_hash(profile: str) -> str:
    return accounts.hash_password(STRONG_PASSWORD, profile)


def make_world(session: Session, settings: Settings) -> World:
    """Organisations and accounts, created through the services, each with STRONG_PASSWORD.

    The password is stored as its hash rather than passed to `create_user`: the policy's strength estimate (zxcvbn,
    13 ms an account) took 6.5 s of the SQLite run's non-browser tests (py-spy); the policy has its own tests.
    """
    own = accounts.create_organisation(session, "Communauté de communes du Montbardois", "epci", "21")
    other = accounts.create_organisation(session, "Commune de Revel", "commune", "31")
    people = {
        "admin": ("ada@anct.gouv.fr", "admin", None),
        "direction": ("dora@anct.gouv.fr", "direction", None),
        "recruteur": ("remi@montbardois.fr", "recruteur", own.id),
        "recruteur_autre": ("rose@revel.fr", "recruteur", other.id),
    }
    users = {
        key: accounts.create_user(
            session,
            email=email,
            display_name=email.split("@")[0].title(),
            role=role,
            settings=settings,
            organisation_id=organisation,
            notify=False,
        )
        for key, (email, role, organisation) in people.items()
    }
    session.execute(
        update(User)
        .where(User.id.in_([user.id for user in users.values()]))
        .values(password_hash=_strong_password_hash(settings.argon2_profile))
    )
    return World(own, other, users)


def published(session: Session, actor: UserInfo, **changes) -> int:
    """A posting created and published by `actor`; its id."""
    posting = recruitment.create_posting(session, actor, posting_input(**changes))
    recruitment.publish_posting(session, actor, posting.id)
    return posting.id


# ---------------------------------------------------------------------------- meetings


def meeting_form(**overrides) -> MeetingForm:
    """A valid meeting in ten days, registrations open now."""
    now = utcnow()
    values = {
        "title": "Rencontre régionale des chefs de projet de Bourgogne-Franche-Comté",
        "kind": "rencontre_regionale",
        "region": "27",
        "city": "Dijon",
        "venue": "Préfecture de région, salle Vauban",
        "online_url": None,
        "starts_at": now + timedelta(days=10),
        "ends_at": now + timedelta(days=10, hours=7),
        "capacity": 2,
        "registration_opens_at": now - timedelta(days=1),
        "registration_closes_at": now + timedelta(days=8),
        "audiences": ("chef_de_projet", "elu", "partenaire"),
        "description": "Journée d'échanges sur la revitalisation des centres-bourgs.",
    }
    values.update(overrides)
    return MeetingForm(**values)


def person(number: int, **overrides) -> RegistrationForm:
    """A valid registration for person number N."""
    values = {
        "full_name": f"Personne {number}",
        "email": f"personne.{number}@mairie.fr",
        "attendee_role": "chef_de_projet",
        "organisation": "Commune de Semur-en-Auxois",
        "department": "21",
        "needs": "",
        "consent": True,
    }
    values.update(overrides)
    return RegistrationForm(**values)


# ---------------------------------------------------------------------------- the survey

# A valid set of answers, as the survey form submits them.
GOOD = {
    "start_month": "2021-09",
    "employer": "epci",
    "gender": "femme",
    "experience": "5to20",
    "diploma": "bac4_5",
    "training_field": ["urbanisme_amenagement", "sciences_sociales"],
    "department": "21",
}


def invite_one(factory, settings, email="cp@example.fr", department=None):
    """One person invited to the survey (in its own transaction); the token of their link."""
    with factory.begin() as session:
        survey.invite(session, [survey.InvitationEntry(1, email, department)], settings)
        return token_from_outbox(session, email)


def department_answers(department: str, **values) -> Answers:
    """Answers of a chef de projet working in `department`."""
    base = dict(start_month="2021-09", employer="epci", gender=None, experience=None, diploma=None, training_field=())
    return Answers(**{**base, **values, "department": department})


def load_survey(session: Session, settings: Settings, counts: dict[str, int]) -> None:
    """`counts[d]` answers from department d, imported and released at once (figures are then read with k = 5)."""
    release_at_once = dataclasses.replace(settings, disclosure_k=1)  # a group of one
    rows = [department_answers(department) for department, count in counts.items() for _ in range(count)]
    survey.import_responses(session, rows, release_at_once)


# ---------------------------------------------------------------------------- the command line, in this process


def cli_environment(database_url: str, env: dict[str, str]) -> dict[str, str]:
    """The environment of a command run by the tests: this database, fast hashing, no SMTP unless `env` sets it."""
    environment = {
        **os.environ,
        "PVD_DATABASE_URL": database_url,
        "PVD_ARGON2_PROFILE": "fast-tests",
        "PVD_BASE_URL": "http://pvd.test",
        **env,
    }
    for key in ("PVD_SMTP_HOST", "PVD_MAIL_FROM"):
        if key not in env:
            environment.pop(key, None)
    return environment


@dataclass
class Run:
    """How a command ended, as a shell sees it."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(database_url: str, *args: str, stdin: str = "", **env: str) -> Run:
    """`python -m pvd_survey ARGS` run in this process: its environment, folder, input, output and exit code.

    Like the interpreter, an exception that escapes the command prints its traceback and exits with 1. The
    engines the command opens are closed at the end, as the process exit would.
    """
    stdout, stderr = io.StringIO(), io.StringIO()
    engines = []
    make_engine = db.make_engine

    def tracked_engine(*engine_args, **engine_kwargs):
        engine = make_engine(*engine_args, **engine_kwargs)
        engines.append(engine)
        return engine

    with (
        mock.patch.dict(os.environ, cli_environment(database_url, env), clear=True),
        mock.patch.object(db, "make_engine", tracked_engine),
        mock.patch.object(sys, "stdin", io.StringIO(stdin)),
        contextlib.chdir(PROJECT_ROOT),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        try:
            code = cli.main(list(args))
        except SystemExit as exited:  # argparse: --help, bad arguments
            code = exited.code if isinstance(exited.code, int) else 0 if exited.code is None else 1
        except Exception:
            traceback.print_exc()
            code = 1
        finally:
            for engine in engines:
                engine.dispose()
    return Run(code, stdout.getvalue(), stderr.getvalue())


# ---------------------------------------------------------------------------- reading AppTest pages


def texts(elements: Iterable[Any]) -> list[str]:
    """Values of an element list (at.error, at.success, at.title, ...)."""
    return [element.value for element in elements]


def submit(at, form: str):
    """Click the submit button of a st.form and run."""
    buttons = [button for button in at.button if button.form_id == form]
    assert len(buttons) == 1, f"expected one submit button in form {form!r}, found {len(buttons)}"
    return buttons[0].click().run()


def shown_form_errors(at, form_key: str) -> tuple[list[str], dict[str, tuple[str, str]]]:
    """What a form shows after a refused submission (ui.form_errors, ui.field_error): the lines listed at its top,
    and each field's error with the label of the widget drawn just above it ({field: (label, message)})."""
    summary: list[str] = []
    under: dict[str, tuple[str, str]] = {}

    def walk(node) -> None:
        children = list(getattr(node, "children", {}).values())
        for index, child in enumerate(children):
            key = getattr(child, "key", None) or ""
            if key == f"pvd_summary_{form_key}":
                summary.extend(line.removeprefix("- ") for line in child.children[0].value.splitlines()[2:])
            elif key.startswith(f"pvd_error_{form_key}__"):
                above = children[index - 1] if index else None
                label = getattr(above, "label", None) or ""
                if not label and above is not None:  # a group of checkboxes (ui.checkbox_group): its first line
                    label = next(iter(above.children.values())).value
                under[key.removeprefix(f"pvd_error_{form_key}__")] = (label, child.children[0].value)
            else:
                walk(child)

    walk(at._tree)
    return summary, under


def refused_messages(at, form_key: str) -> list[str]:
    """The messages a refused form lists at its top, without their fields' labels (in the form's order)."""
    return [re.sub(r"^\*\*[^*]+\*\* : ", "", line) for line in shown_form_errors(at, form_key)[0]]


def focus_moves_to(at) -> str | None:
    """Where this run sends the keyboard focus: a form's first error (the form's key), a confirmation (its
    container's key, ui.focus_on), or None."""
    for element in at.get("html"):
        found = re.search(r'id="pvd-focus" data-form="([^"]*)".*data-target="([^"]*)"', element.proto.body)
        if found:
            return found.group(1) or found.group(2)
    return None


def installed_direction(session: Session, settings: Settings) -> UserInfo:
    """An installed app: the first administrator (Ada) and a direction member (Dora), who is returned."""
    accounts.create_first_admin(
        session, email="ada.admin@example.fr", display_name="Ada", password=STRONG_PASSWORD, settings=settings
    )
    return accounts.create_user(
        session,
        email="dora@anct.gouv.fr",
        display_name="Dora",
        role="direction",
        settings=settings,
        password=STRONG_PASSWORD,
        notify=False,
    )
