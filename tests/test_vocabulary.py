"""One home per vocabulary: every code has a French label, and the migrated database refuses any other code."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import CheckConstraint, inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pvd_survey import accounts, mail, meetings, vocabulary
from pvd_survey.models import (
    ApplicationFile,
    Base,
    JobApplication,
    JobPosting,
    Meeting,
    NotificationPreference,
    NotificationRun,
    Organisation,
    OutboxMessage,
    RecruiterRequest,
    Registration,
    SurveyInvitation,
    UnsubscribeLink,
    User,
)

# Every column that stores a code, with its vocabulary.
COLUMNS: dict[tuple[str, str], tuple[str, ...]] = {
    ("app_user", "role"): vocabulary.ROLES,
    ("organisation", "kind"): vocabulary.ORGANISATION_KINDS,
    ("outbox_message", "status"): vocabulary.OUTBOX_STATUSES,
    ("survey_invitation", "status"): vocabulary.INVITATION_STATUSES,
    ("meeting", "kind"): vocabulary.MEETING_KINDS,
    ("registration", "attendee_role"): vocabulary.ATTENDEE_ROLES,
    ("registration", "status"): vocabulary.REGISTRATION_STATUSES,
    ("registration", "cancelled_by"): vocabulary.CANCELLERS,
    ("registration", "offer_outcome"): vocabulary.OFFER_OUTCOMES,
    ("job_posting", "status"): vocabulary.POSTING_STATUSES,
    ("job_posting", "contract"): vocabulary.CONTRACTS,
    ("job_posting", "working_time"): vocabulary.WORKING_TIMES,
    ("job_posting", "employer_kind"): vocabulary.ORGANISATION_KINDS,
    ("job_application", "status"): vocabulary.APPLICATION_STATUSES,
    ("job_application", "rejection_reason"): vocabulary.REJECTION_REASONS,
    ("application_file", "kind"): vocabulary.APPLICATION_FILE_KINDS,
    ("recruiter_request", "status"): vocabulary.RECRUITER_REQUEST_STATUSES,
    ("recruiter_request", "organisation_kind"): vocabulary.ORGANISATION_KINDS,
    ("notification_preference", "topic"): vocabulary.NOTIFICATION_TOPICS,
    ("notification_preference", "frequency"): vocabulary.NOTIFICATION_FREQUENCIES,
    ("unsubscribe_link", "topic"): vocabulary.NOTIFICATION_TOPICS,
    ("notification_run", "job"): vocabulary.NOTIFICATION_RUNS,
}


# ---------------------------------------------------------------------------- codes and labels


@pytest.mark.database_independent
@pytest.mark.parametrize("name", sorted(vocabulary.VOCABULARIES))
def test_every_code_has_a_french_label_and_every_label_a_code(name):
    codes, labels = vocabulary.VOCABULARIES[name]
    assert len(set(codes)) == len(codes), f"{name}: a code appears twice"
    assert list(labels) == list(codes), f"{name}: codes without a label, or labels without a code (or out of order)"
    assert all(isinstance(label, str) and label.strip() for label in labels.values())


@pytest.mark.database_independent
def test_every_tuple_and_label_dict_of_the_module_is_a_listed_vocabulary():
    listed = {id(part) for pair in vocabulary.VOCABULARIES.values() for part in pair}
    public = {name: value for name, value in vars(vocabulary).items() if name.isupper() and name != "VOCABULARIES"}
    assert {name for name, value in public.items() if id(value) not in listed} == set()


@pytest.mark.database_independent
def test_services_use_the_vocabulary_labels_not_copies():
    assert accounts.ROLE_LABELS is vocabulary.ROLE_LABELS
    assert accounts.ORGANISATION_KIND_LABELS is vocabulary.ORGANISATION_KIND_LABELS
    assert mail.STATUS_LABELS is vocabulary.OUTBOX_STATUS_LABELS
    assert meetings.KIND_LABELS is vocabulary.MEETING_KIND_LABELS
    assert meetings.ROLE_LABELS is vocabulary.ATTENDEE_ROLE_LABELS
    assert meetings.STATUS_LABELS is vocabulary.REGISTRATION_STATUS_LABELS


# ---------------------------------------------------------------------------- the database's CHECK constraints

_IN = re.compile(r"^(?:(\w+) IS NULL OR )?(\w+) IN \(([^)]*)\)$")


def _model_code_checks() -> dict[tuple[str, str], tuple[str, ...]]:
    """The models' CHECK constraints of the form `column IN (...)`, by (table, column)."""
    found = {}
    for table in Base.metadata.sorted_tables:
        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint):
                match = _IN.match(str(constraint.sqltext))
                if match:
                    codes = tuple(code.strip().strip("'") for code in match.group(3).split(","))
                    found[(table.name, match.group(2))] = codes
    return found


@pytest.mark.database_independent
def test_every_code_column_has_a_check_in_the_models_with_its_vocabulary():
    assert _model_code_checks() == COLUMNS


def test_the_migrated_database_has_every_check_of_the_models(engine):
    inspector = inspect(engine)
    for table in Base.metadata.sorted_tables:
        expected = {c.name for c in table.constraints if isinstance(c, CheckConstraint)}
        assert {c["name"] for c in inspector.get_check_constraints(table.name)} == expected, table.name


def _builders(session: Session) -> dict[str, Callable[[str, str], object]]:
    """For each table with a code column: a valid new row with `column` set to `code`."""
    now = datetime(2026, 12, 7, 10, 0)
    organisation = Organisation(name="Commune de Montbard", kind="commune", department="21")
    meeting = Meeting(
        title="Rencontre",
        kind="atelier",
        region="27",
        city="Dijon",
        starts_at=now + timedelta(days=30),
        ends_at=now + timedelta(days=30, hours=2),
        capacity=10,
        registration_opens_at=now,
        registration_closes_at=now + timedelta(days=29),
        audiences="elu",
    )
    session.add_all([organisation, meeting])
    session.flush()

    def posting(**values: object) -> JobPosting:
        row = {
            "organisation_id": organisation.id,
            "title": "Chef de projet",
            "employer_kind": "commune",
            "department": "21",
            "region": "27",
            "communes": "Montbard",
            "contract": "projet",
            "working_time": "complet",
            "deadline": now.date(),
            "description": "",
            "missions": "",
        }
        return JobPosting(**{**row, **values})

    posting_for_children = posting()
    session.add(posting_for_children)
    session.flush()
    serial = iter(range(1_000_000))

    def application(**values: object) -> JobApplication:
        number = next(serial)
        row = {"posting_id": posting_for_children.id, "reference": f"C{number}", "token_hash": f"c{number}"}
        return JobApplication(**{**row, **values})

    application_for_files = application()
    session.add(application_for_files)
    session.flush()

    def registration(**values: object) -> Registration:
        number = next(serial)
        row = {
            "meeting_id": meeting.id,
            "arrival": number,
            "status": "waiting",
            "email": f"r{number}@example.fr",
            "full_name": "R",
            "attendee_role": "elu",
            "reference": f"R{number}",
            "consented_at": now,
        }
        if values.get("status") == "offered" or values.get("offer_outcome") is not None:
            row |= {"offered_at": now, "offer_expires_at": now}  # an offer has a deadline (ck_registration_offer_*)
        return Registration(**{**row, **values})

    def unique(prefix: str) -> str:
        return f"{prefix}{next(serial)}"

    def account() -> int:
        user = User(email=f"{unique('n')}@example.fr", display_name="N", role="direction")
        session.add(user)
        session.flush()
        return user.id

    return {
        "app_user": lambda column, code: User(
            email=f"{unique('u')}@example.fr",
            display_name="U",
            role=code,
            organisation_id=organisation.id if code == "recruteur" else None,
        ),
        "organisation": lambda column, code: Organisation(name=unique("O"), kind=code, department="21"),
        "outbox_message": lambda column, code: OutboxMessage(
            recipient="x@example.fr", subject="s", body="b", kind="test", status=code
        ),
        "survey_invitation": lambda column, code: SurveyInvitation(
            email=f"{unique('i')}@example.fr", token_hash=unique("t"), respondent_salt="s", status=code
        ),
        "meeting": lambda column, code: Meeting(
            **{c.name: getattr(meeting, c.name) for c in Meeting.__table__.columns if c.name != "id"} | {"kind": code}
        ),
        "registration": lambda column, code: registration(**{column: code}),
        "job_posting": lambda column, code: posting(**{column: code}),
        "job_application": lambda column, code: application(**{column: code}),
        "application_file": lambda column, code: ApplicationFile(
            application_id=application_for_files.id,
            kind=code,
            storage_name=unique("f"),
            display_name="cv.pdf",
            size=1,
            content=b"%",
        ),
        "recruiter_request": lambda column, code: RecruiterRequest(
            **{
                "email": "r@example.fr",
                "display_name": "R",
                "organisation_name": "O",
                "organisation_kind": "commune",
                "department": "21",
                "token_hash": unique("q"),
                column: code,
            }
        ),
        "notification_preference": lambda column, code: NotificationPreference(
            **{"user_id": account(), "topic": "new_application", "frequency": "daily", column: code}
        ),
        "unsubscribe_link": lambda column, code: UnsubscribeLink(
            token_hash=unique("u"), user_id=account(), topic=code, created_at=now
        ),
        "notification_run": lambda column, code: NotificationRun(job=code, day=now.date(), covered_until=now),
    }


def test_the_database_refuses_a_code_outside_each_vocabulary(session: Session):
    build = _builders(session)
    for (table, column), codes in COLUMNS.items():
        for code in codes:  # every known code is accepted
            with session.begin_nested():
                session.add(build[table](column, code))
                session.flush()
        with pytest.raises(IntegrityError), session.begin_nested():
            session.add(build[table](column, "inconnu"))
            session.flush()


def _written_message_kinds() -> set[str]:
    """Every kind the services pass to mail.enqueue (or enqueue_notification): literals, both sides of a
    conditional, KIND_* constants; the meetings' `"meeting_" + status` is checked apart."""
    import ast
    from pathlib import Path

    import pvd_survey

    constants: dict[str, str] = {}
    kinds: set[str] = set()
    trees = [ast.parse(path.read_text(encoding="utf-8")) for path in Path(pvd_survey.__file__).parent.rglob("*.py")]
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name) and "KIND" in target.id:
                        constants[target.id] = node.value.value

    def values(node: ast.expr) -> list[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.IfExp):
            return values(node.body) + values(node.orelse)
        if isinstance(node, ast.Name) and node.id in constants:
            return [constants[node.id]]
        return []  # computed: checked apart

    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and [ast.unparse(target) for target in node.targets] == ["kind"]:
                kinds.update(values(node.value))  # a kind chosen before the call (the meetings' messages)
            if isinstance(node, (ast.Call, ast.Dict)):
                pairs = (
                    [(k.arg, k.value) for k in node.keywords]
                    if isinstance(node, ast.Call)
                    else [
                        (k.value if isinstance(k, ast.Constant) else None, v)
                        for k, v in zip(node.keys, node.values, strict=True)
                    ]
                )
                called = ast.unparse(node.func) if isinstance(node, ast.Call) else ""
                if called.endswith(("enqueue", "enqueue_notification")) or called == "dict":
                    kinds.update(value for name, expr in pairs if name == "kind" for value in values(expr))
    return kinds


@pytest.mark.database_independent
def test_every_message_kind_the_services_write_has_a_french_label():
    written = _written_message_kinds() | {"meeting_" + status for status in vocabulary.REGISTRATION_STATUSES}
    assert len(written) > 15  # the scan finds the services' calls
    assert written - set(vocabulary.MESSAGE_KINDS) == set()
