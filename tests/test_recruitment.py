"""Recruitment services on the database under test: postings, job board, applications and uploads, the
candidate's private link, the recruiter's pipeline, access control, exports, recruiter accounts, purge,
access requests and the direction's figures."""

from __future__ import annotations

import csv
import io
import re
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from pvd_survey import accounts, cli, exports, privacy, recruitment
from pvd_survey.config import Settings
from pvd_survey.errors import MESSAGES, DomainError, ImportRejected
from pvd_survey.models import (
    ApplicationFile,
    JobApplication,
    JobPosting,
    OutboxMessage,
    PasswordToken,
    RecruiterRequest,
    User,
    utcnow,
)
from pvd_survey.recruitment import Upload
from tests.conftest import STRONG_PASSWORD
from tests.factories import PDF, PNG, World, application_input, make_world, posting_input, published, token_of


@pytest.fixture
def world(session: Session, settings: Settings) -> World:
    return make_world(session, settings)


def count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def outbox_of(session: Session, kind: str) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)))


@pytest.mark.database_independent
def test_every_recruitment_error_code_has_a_french_message() -> None:
    import re
    from pathlib import Path

    modules = sorted(Path(recruitment.__file__).parent.glob("*.py"))
    source = "".join(path.read_text() for path in modules) + Path(privacy.__file__).read_text()
    codes = set(re.findall(r'DomainError\(\s*"([a-z_]+)"', source))
    assert codes and codes <= set(MESSAGES)


# ---------------------------------------------------------------------------- postings and the job board


def test_posting_lifecycle_and_public_visibility(session: Session, world: World, settings: Settings) -> None:
    recruiter = world.users["recruteur"]
    draft = recruitment.create_posting(session, recruiter, posting_input())
    assert draft.status == "draft" and draft.region == "27" and draft.employer_kind == "epci"
    assert draft.missions == recruitment.MODEL_MISSIONS
    with pytest.raises(DomainError) as error:
        recruitment.get_public_posting(session, draft.id)
    assert error.value.code == "posting_not_public"
    assert recruitment.list_published(session, recruitment.BoardFilters()).count == 0

    recruitment.publish_posting(session, recruiter, draft.id)
    assert recruitment.get_public_posting(session, str(draft.id)).title == draft.title
    recruitment.update_posting(session, recruiter, draft.id, posting_input(title="Cheffe de projet PVD"))
    assert recruitment.get_public_posting(session, draft.id).title == "Cheffe de projet PVD"

    recruitment.close_posting(session, recruiter, draft.id, settings)
    with pytest.raises(DomainError) as error:
        recruitment.get_public_posting(session, draft.id)
    assert error.value.code == "posting_not_public"
    with pytest.raises(DomainError) as error:
        recruitment.update_posting(session, recruiter, draft.id, posting_input())
    assert error.value.code == "posting_not_editable"
    recruitment.mark_filled(session, recruiter, draft.id, settings)
    assert recruitment.get_own_posting(session, recruiter, draft.id).status == "filled"
    for bad in ("abc", "999999", None):
        with pytest.raises(DomainError) as error:
            recruitment.get_public_posting(session, bad)
        assert error.value.code == "posting_not_public"


@pytest.mark.parametrize(
    ("salary_min", "salary_max", "shown"),
    [(32000, 40000, "32 000 à 40 000 € bruts par an"), (None, 38000, "38 000 € bruts par an"), (None, None, "")],
)
def test_the_salary_is_shown_as_given_and_not_at_all_when_left_out(
    session: Session, world: World, salary_min: int | None, salary_max: int | None, shown: str
) -> None:
    posting_id = published(session, world.users["recruteur"], salary_min=salary_min, salary_max=salary_max)
    assert recruitment.get_public_posting(session, posting_id).salary_label == shown


def test_publishing_with_the_form_saves_it_first_with_the_same_checks(session: Session, world: World) -> None:
    recruiter = world.users["recruteur"]
    draft = recruitment.create_posting(session, recruiter, posting_input(title="v2"))
    with pytest.raises(DomainError) as error:
        recruitment.publish_posting(session, recruiter, draft.id, data=posting_input(title="  "))
    assert error.value.code == "posting_title_required"
    assert (recruitment.get_own_posting(session, recruiter, draft.id).status, draft.title) == ("draft", "v2")
    recruitment.publish_posting(
        session, recruiter, draft.id, data=posting_input(title="v3"), loaded_version=draft.updated_at
    )
    assert recruitment.get_public_posting(session, draft.id).title == "v3"


def test_a_stale_form_changes_nothing(session: Session, world: World, settings: Settings) -> None:
    recruiter = world.users["recruteur"]
    draft = recruitment.create_posting(session, recruiter, posting_input(title="v1"))
    loaded = draft.updated_at
    # A colleague saves the posting after the form was loaded.
    changed = recruitment.update_posting(
        session, recruiter, draft.id, posting_input(title="Titre du collègue"), now=utcnow() + timedelta(seconds=1)
    )
    attempts = {
        "update": lambda: recruitment.update_posting(
            session, recruiter, draft.id, posting_input(title="Mon titre"), loaded_version=loaded
        ),
        "publish_form": lambda: recruitment.publish_posting(
            session, recruiter, draft.id, data=posting_input(title="Mon titre"), loaded_version=loaded
        ),
        "publish": lambda: recruitment.publish_posting(session, recruiter, draft.id, loaded_version=loaded),
    }
    for name, attempt in attempts.items():
        with pytest.raises(DomainError) as error:
            attempt()
        assert error.value.code == "posting_changed_meanwhile", name
        posting = recruitment.get_own_posting(session, recruiter, draft.id)
        assert (posting.title, posting.status, posting.updated_at) == ("Titre du collègue", "draft", changed.updated_at)
    # Closed by a colleague: the form loaded while it was published is refused the same way.
    recruitment.publish_posting(session, recruiter, draft.id, loaded_version=changed.updated_at)
    published_version = recruitment.get_own_posting(session, recruiter, draft.id).updated_at
    recruitment.close_posting(session, recruiter, draft.id, settings, now=utcnow() + timedelta(seconds=2))
    with pytest.raises(DomainError) as error:
        recruitment.update_posting(
            session, recruiter, draft.id, posting_input(title="Mon titre"), loaded_version=published_version
        )
    assert error.value.code == "posting_changed_meanwhile"
    assert recruitment.get_own_posting(session, recruiter, draft.id).title == "Titre du collègue"
    assert "posting_changed_meanwhile" in MESSAGES


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"deadline": date.today() - timedelta(days=1)}, "posting_deadline_past"),
        ({"deadline": None}, "posting_deadline_required"),
        ({"title": "   "}, "posting_title_required"),
        ({"communes": [" ", ""]}, "posting_communes_required"),
        ({"contract": "stage"}, "posting_unknown_contract"),
        ({"working_time": "mi-temps"}, "posting_unknown_working_time"),
        ({"salary_min": 50000, "salary_max": 30000}, "posting_bad_salary"),
        ({"missions": ""}, "posting_missions_required"),
    ],
)
def test_bad_posting_is_refused_and_nothing_stored(session: Session, world: World, changes: dict, code: str) -> None:
    with pytest.raises(DomainError) as error:
        recruitment.create_posting(session, world.users["recruteur"], posting_input(**changes))
    assert error.value.code == code
    assert count(session, JobPosting) == 0


def test_job_board_filters_sort_and_count(session: Session, world: World) -> None:
    own, other = world.users["recruteur"], world.users["recruteur_autre"]
    a = published(session, own, title="Chef de projet revitalisation", deadline=date.today() + timedelta(days=40))
    b = published(
        session, own, title="Manager de centre-ville", contract="cdd", deadline=date.today() + timedelta(days=10)
    )
    c = published(session, other, title="Chargée de mission habitat", description="Pilotage de l'OPAH-RU 100%")
    recruitment.create_posting(session, own, posting_input(title="Brouillon secret"))

    def ids(**filters) -> list[int]:
        page = recruitment.list_published(session, recruitment.make_board_filters(**filters))
        assert page.count == len(page.postings)
        return [p.id for p in page.postings]

    assert ids() == [c, b, a]  # newest publication first
    assert ids(sort="deadline") == [b, c, a]
    assert ids(region="27") == [b, a]
    assert ids(department="31") == [c]
    assert ids(contract="cdd") == [b]
    assert ids(employer_kind="commune") == [c]
    assert ids(keyword="OPAH") == [c]
    assert ids(keyword="centre-VILLE") == [b]
    assert ids(keyword="100%") == [c]
    assert ids(keyword="_") == []
    for bad in ({"region": "99"}, {"department": "999"}, {"contract": "x"}, {"sort": "salaire"}):
        with pytest.raises(DomainError):
            recruitment.make_board_filters(**bad)
    with pytest.raises(DomainError) as error:
        recruitment.make_board_filters(region="27", department="31")
    assert error.value.code == "filter_mismatch"


@pytest.mark.database_independent
def test_markdown_description_is_sanitised() -> None:
    html = recruitment.render_markdown(
        "**gras** <script>alert(1)</script> [lien](javascript:alert(1)) <img src=x onerror=alert(1)> [ok](https://a.fr)"
    )
    assert "<strong>gras</strong>" in html and '<a href="https://a.fr" rel="noopener noreferrer nofollow">' in html
    assert "<script" not in html and 'href="javascript' not in html and "<img" not in html


def test_expired_postings_leave_the_board_and_close_once(session: Session, world: World, settings: Settings) -> None:
    recruiter = world.users["recruteur"]
    posting_id = published(session, recruiter, deadline=date.today() + timedelta(days=2))
    recruitment.apply(session, posting_id, application_input(), settings)
    later = utcnow() + timedelta(days=4)
    assert recruitment.list_published(session, recruitment.BoardFilters(), now=later).count == 0
    assert recruitment.expired_postings_exist(session, later)
    assert recruitment.close_expired_postings(session, settings, later) == [posting_id]
    assert recruitment.close_expired_postings(session, settings, later) == []
    assert recruitment.get_own_posting(session, recruiter, posting_id).status == "closed"
    assert [m.recipient for m in outbox_of(session, "posting_closed")] == ["lea.martin@example.fr"]
    assert not recruitment.expired_postings_exist(session, later)


def test_filled_posting_tells_waiting_candidates(session: Session, world: World, settings: Settings) -> None:
    recruiter = world.users["recruteur"]
    posting_id = published(session, recruiter)
    for email in ("a@example.fr", "b@example.fr"):
        recruitment.apply(session, posting_id, application_input(email), settings)
    assert recruitment.mark_filled(session, recruiter, posting_id, settings) == 2
    assert sorted(m.recipient for m in outbox_of(session, "posting_filled")) == ["a@example.fr", "b@example.fr"]


# ---------------------------------------------------------------------------- applying


def test_apply_stores_the_application_and_mails_a_private_link(
    session: Session, world: World, settings: Settings
) -> None:
    posting_id = published(session, world.users["recruteur"])
    receipt = recruitment.apply(
        session,
        posting_id,
        application_input("Lea.Martin@Example.FR", letter=Upload("lettre.pdf", PDF), letter_text="Motivée."),
        settings,
    )
    assert receipt.reference.startswith("PVD-") and receipt.email == "lea.martin@example.fr"
    application = session.scalar(select(JobApplication))
    assert application.email == "lea.martin@example.fr" and application.phone == "+33612345678"
    assert application.token_hash != receipt.token and len(application.token_hash) == 64
    files = session.scalars(select(ApplicationFile).order_by(ApplicationFile.kind)).all()
    assert [(f.kind, f.display_name, f.content) for f in files] == [
        ("cv", "cv-lea.pdf", PDF),
        ("letter", "lettre.pdf", PDF),
    ]
    assert all(len(f.storage_name) == 36 and f.storage_name != f.display_name for f in files)
    [message] = outbox_of(session, "application_received")
    assert message.recipient == "lea.martin@example.fr" and receipt.reference in message.body
    assert message.link == f"http://pvd.test/candidature?jeton={receipt.token}"
    view = recruitment.candidate_view(session, receipt.token)
    assert view.status == "recue" and view.posting_title == "Chef de projet Petites villes de demain"


@pytest.mark.parametrize(
    ("upload", "code"),
    [
        (Upload("photo.pdf", PNG), "file_not_pdf"),
        (Upload("vide.pdf", b""), "file_empty"),
        (Upload("gros.pdf", b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024 + 1 - 9)), "file_too_large"),
        (Upload("casse.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\n%%EOF"), "file_broken_pdf"),
        (Upload("../../etc/cv.pdf", PDF), "file_bad_name"),
        (Upload("..\\cv.pdf", PDF), "file_bad_name"),
        (None, "file_required"),
    ],
    ids=["png-renamed", "empty", "5MB+1", "broken", "dotdot", "backslash", "missing"],
)
def test_bad_upload_is_refused_and_nothing_stored(
    session: Session, world: World, settings: Settings, upload: Upload | None, code: str
) -> None:
    posting_id = published(session, world.users["recruteur"])
    if code == "file_too_large":
        assert len(upload.data) == 5 * 1024 * 1024 + 1
    with pytest.raises(DomainError) as error:
        recruitment.apply(session, posting_id, application_input(cv=upload), settings)
    assert error.value.code == code and error.value.field == "cv"
    assert count(session, JobApplication) == count(session, ApplicationFile) == count(session, OutboxMessage) == 0


@pytest.mark.database_independent
def test_exactly_5_mb_pdf_is_accepted() -> None:
    data = PDF + b"%" + b"0" * (recruitment.PDF_MAX_BYTES - len(PDF) - 1)
    assert len(data) == recruitment.PDF_MAX_BYTES
    assert recruitment.check_pdf(Upload("cv.pdf", data), "cv").data == data


@pytest.mark.database_independent
def test_display_name_is_sanitised() -> None:
    assert recruitment.safe_display_name("CV <b>Léa</b>\x00\n.pdf") == "CV _b_Léa_b_.pdf"
    assert recruitment.safe_display_name("") == "document.pdf"


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"email": "pas-une-adresse"}, "invalid_email", "email"),
        ({"email": "lea@@example.fr"}, "invalid_email", "email"),
        ({"phone": "12"}, "invalid_phone", "phone"),
        ({"phone": "06 12 34"}, "invalid_phone", "phone"),
        ({"phone": "+33 1 23"}, "invalid_phone", "phone"),
        ({"phone": "bonjour"}, "invalid_phone", "phone"),
        ({"full_name": "  "}, "applicant_name_required", "full_name"),
        ({"consent_privacy": False}, "consent_required", "consent_privacy"),
    ],
)
def test_bad_application_is_refused_and_nothing_stored(
    session: Session, world: World, settings: Settings, changes: dict, code: str, field: str
) -> None:
    posting_id = published(session, world.users["recruteur"])
    data = application_input(**changes) if "email" not in changes else application_input(changes.pop("email"))
    with pytest.raises(DomainError) as error:
        recruitment.apply(session, posting_id, data, settings)
    assert (error.value.code, error.value.field) == (code, field)
    assert count(session, JobApplication) == count(session, ApplicationFile) == count(session, OutboxMessage) == 0


@pytest.mark.database_independent
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("+32 470 12 34 56", "+32470123456"),
        ("+590 590 27 12 34", "+590590271234"),
        ("", None),
    ],
)
def test_phone_numbers_are_normalised(raw: str, expected: str | None) -> None:
    assert recruitment.normalise_phone(raw) == expected


def test_applying_to_a_closed_or_draft_posting_is_refused(session: Session, world: World, settings: Settings) -> None:
    recruiter = world.users["recruteur"]
    draft = recruitment.create_posting(session, recruiter, posting_input()).id
    closed = published(session, recruiter)
    recruitment.close_posting(session, recruiter, closed, settings)
    for posting_id in (draft, closed, 424242):
        with pytest.raises(DomainError) as error:
            recruitment.apply(session, posting_id, application_input(), settings)
        assert error.value.code == "posting_not_public"
    assert count(session, JobApplication) == 0


def test_duplicate_application_is_refused_and_a_new_link_can_be_sent(
    session: Session, world: World, settings: Settings
) -> None:
    posting_id = published(session, world.users["recruteur"])
    other_posting = published(session, world.users["recruteur_autre"])
    first = recruitment.apply(session, posting_id, application_input(), settings)
    with pytest.raises(DomainError) as error:
        recruitment.apply(session, posting_id, application_input("LEA.MARTIN@example.fr"), settings)
    assert error.value.code == "already_applied"
    recruitment.apply(session, other_posting, application_input(), settings)  # several postings: fine
    assert count(session, JobApplication) == 2

    recruitment.resend_application_link(session, posting_id, "lea.martin@example.fr", settings)
    [again] = outbox_of(session, "application_link")
    with pytest.raises(DomainError) as error:
        recruitment.candidate_view(session, first.token)  # the old link stops working
    assert error.value.code == "invalid_application_link"
    assert recruitment.candidate_view(session, token_of(again)).reference == first.reference
    recruitment.resend_application_link(session, posting_id, "inconnu@example.fr", settings)
    assert len(outbox_of(session, "application_link")) == 1


def test_simultaneous_duplicate_applications_store_one(factory: sessionmaker[Session], settings: Settings) -> None:
    with factory.begin() as session:
        world = make_world(session, settings)
        posting_id = published(session, world.users["recruteur"])
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def attempt() -> None:
        barrier.wait()
        try:
            with factory.begin() as session:
                recruitment.apply(session, posting_id, application_input(), settings)
            outcomes.append("ok")
        except DomainError as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already_applied"] * 3 + ["ok"]
    with factory() as session:
        assert count(session, JobApplication) == 1 and count(session, ApplicationFile) == 1


def test_candidate_updates_then_withdraws_and_personal_data_is_gone(
    session: Session, world: World, settings: Settings
) -> None:
    posting_id = published(session, world.users["recruteur"])
    receipt = recruitment.apply(session, posting_id, application_input(letter_text="Bonjour"), settings)
    recruitment.update_by_token(session, receipt.token, phone="+32 470 12 34 56", letter=Upload("l.pdf", PDF))
    view = recruitment.candidate_view(session, receipt.token)
    assert view.phone == "+32470123456" and [kind for kind, _ in view.files] == ["cv", "letter"]
    with pytest.raises(DomainError) as error:
        recruitment.update_by_token(session, receipt.token, cv=Upload("x.pdf", PNG))
    assert error.value.code == "file_not_pdf"

    recruitment.withdraw(session, receipt.token)
    application = session.scalar(select(JobApplication))
    assert (application.email, application.full_name, application.phone, application.cover_letter_text) == (
        None,
        None,
        None,
        None,
    )
    assert count(session, ApplicationFile) == 0
    view = recruitment.candidate_view(session, receipt.token)
    assert view.withdrawn and view.files == []
    with pytest.raises(DomainError) as error:
        recruitment.withdraw(session, receipt.token)
    assert error.value.code == "application_withdrawn"
    for bad in (None, "", "x" * 300, receipt.token + "x"):
        with pytest.raises(DomainError) as error:
            recruitment.candidate_view(session, bad)
        assert error.value.code == "invalid_application_link"


# ---------------------------------------------------------------------------- the recruiter's pipeline


def test_pipeline_moves_notes_and_refusal_with_reason(session: Session, world: World, settings: Settings) -> None:
    recruiter = world.users["recruteur"]
    posting_id = published(session, recruiter)
    receipt = recruitment.apply(session, posting_id, application_input(), settings)
    [row] = recruitment.list_applications(session, recruiter, posting_id)
    assert row.files == {"cv": "cv-lea.pdf"} and row.status == "recue"
    assert recruitment.application_file(session, recruiter, row.id) == ("cv-lea.pdf", PDF)

    for status in ("examen", "entretien"):
        recruitment.move_application(session, recruiter, row.id, status)
        assert recruitment.candidate_view(session, receipt.token).status == status
    recruitment.set_notes(session, recruiter, row.id, "Très bon entretien.")
    with pytest.raises(DomainError) as error:
        recruitment.move_application(session, recruiter, row.id, "non_retenue")
    assert error.value.code == "rejection_reason_required"
    with pytest.raises(DomainError) as error:
        recruitment.move_application(session, recruiter, row.id, "non_retenue", reason="profil", message=" ")
    assert error.value.code == "rejection_message_required"
    with pytest.raises(DomainError) as error:
        recruitment.candidate_mail(session, recruiter, row.id, "non_retenue", reason="profil", message=" ")
    assert error.value.code == "rejection_message_required"
    with pytest.raises(DomainError) as error:
        recruitment.move_application(session, recruiter, row.id, "embauchee")
    assert error.value.code == "unknown_application_status"
    assert outbox_of(session, "application_rejected") == []

    # « Autre » needs a real detail: never « …(CC du Montbardois).\n\nNous ne pouvons donc pas… ».
    for detail in ("", "   ", "Trop court.   "):
        with pytest.raises(DomainError) as error:
            recruitment.candidate_mail(session, recruiter, row.id, "non_retenue", reason="autre", detail=detail)
        assert error.value.code == "rejection_detail_too_short"
        assert error.value.params == {"minimum": recruitment.REJECTION_DETAIL_MIN}
    detail = "Le poste est supprimé du budget."
    proposed = recruitment.candidate_mail(session, recruiter, row.id, "non_retenue", reason="autre", detail=detail)
    assert proposed is not None and proposed.recipient == "lea.martin@example.fr"
    assert f"(Communauté de communes du Montbardois).\n{detail}\nNous ne pouvons donc pas" in proposed.body
    assert recruitment.candidate_mail(session, recruiter, row.id, "entretien") is None  # no e-mail, no preview
    # The message goes out only once confirmed, and only as it was shown.
    edited = dict(reason="autre", detail=detail, message=proposed.body + " Édité")
    with pytest.raises(DomainError) as error:
        recruitment.move_application(session, recruiter, row.id, "non_retenue", **edited)
    assert error.value.code == "candidate_message_unconfirmed"
    with pytest.raises(DomainError) as error:
        recruitment.move_application(session, recruiter, row.id, "non_retenue", **edited, confirmed=proposed)
    assert error.value.code == "candidate_message_changed"
    assert outbox_of(session, "application_rejected") == []
    assert recruitment.list_applications(session, recruiter, posting_id)[0].status == "entretien"
    shown = recruitment.candidate_mail(session, recruiter, row.id, "non_retenue", **edited)
    recruitment.move_application(session, recruiter, row.id, "non_retenue", **edited, confirmed=shown)
    [message] = outbox_of(session, "application_rejected")
    assert (message.recipient, message.subject, message.body) == (shown.recipient, shown.subject, shown.body)
    assert message.body.endswith("Édité")
    [row] = recruitment.list_applications(session, recruiter, posting_id)
    assert (row.status, row.rejection_reason, row.notes) == ("non_retenue", "autre", "Très bon entretien.")
    assert recruitment.pipeline_counts(session, recruiter, posting_id)["non_retenue"] == 1
    # The candidate never sees the organisation's notes.
    assert "Très bon entretien." not in repr(recruitment.candidate_view(session, receipt.token))


# ---------------------------------------------------------------------------- access control


@dataclass(frozen=True)
class Ids:
    draft: int
    posting: int
    application: int
    request: int


def _seed_for_access(session: Session, world: World, settings: Settings) -> Ids:
    owner = world.users["recruteur"]
    draft = recruitment.create_posting(session, owner, posting_input()).id
    posting = published(session, owner)
    recruitment.apply(session, posting, application_input(), settings)
    application = session.scalar(select(JobApplication.id))
    token = recruitment.request_recruiter_account(
        session,
        settings,
        email="nouveau@mairie.fr",
        display_name="Nina Nouveau",
        organisation_name="Commune de Mamers",
        organisation_kind="commune",
        department="72",
    )
    recruitment.confirm_recruiter_request(session, token, settings)
    return Ids(draft, posting, application, session.scalar(select(RecruiterRequest.id)))


RECRUITER_ACTIONS = {
    "create_posting": lambda s, a, i, cfg: recruitment.create_posting(s, a, posting_input()),
    "list_own_postings": lambda s, a, i, cfg: recruitment.list_own_postings(s, a),
    "get_posting": lambda s, a, i, cfg: recruitment.get_own_posting(s, a, i.posting),
    "update_posting": lambda s, a, i, cfg: recruitment.update_posting(s, a, i.posting, posting_input(title="X")),
    "publish": lambda s, a, i, cfg: recruitment.publish_posting(s, a, i.draft),
    "close": lambda s, a, i, cfg: recruitment.close_posting(s, a, i.posting, cfg),
    "mark_filled": lambda s, a, i, cfg: recruitment.mark_filled(s, a, i.posting, cfg),
    "list_applications": lambda s, a, i, cfg: recruitment.list_applications(s, a, i.posting),
    "pipeline_counts": lambda s, a, i, cfg: recruitment.pipeline_counts(s, a, i.posting),
    "download_cv": lambda s, a, i, cfg: recruitment.application_file(s, a, i.application),
    "move_application": lambda s, a, i, cfg: recruitment.move_application(s, a, i.application, "examen"),
    "get_application": lambda s, a, i, cfg: recruitment.get_application(s, a, i.application),
    "candidate_mail": lambda s, a, i, cfg: recruitment.candidate_mail(
        s, a, i.application, "non_retenue", reason="profil"
    ),
    "set_notes": lambda s, a, i, cfg: recruitment.set_notes(s, a, i.application, "note"),
    "export_csv": lambda s, a, i, cfg: recruitment.export_applications(s, a, i.posting, "csv"),
    "export_xlsx": lambda s, a, i, cfg: recruitment.export_applications(s, a, i.posting, "xlsx"),
}
DIRECTION_ACTIONS = {
    "list_recruiter_requests": lambda s, a, i, cfg: recruitment.list_recruiter_requests(s, a),
    "approve_request": lambda s, a, i, cfg: recruitment.approve_recruiter_request(s, a, i.request, cfg),
    "refuse_request": lambda s, a, i, cfg: recruitment.refuse_recruiter_request(s, a, i.request, "Hors programme"),
    "bulk_recruiters": lambda s, a, i, cfg: recruitment.bulk_create_recruiters(
        s, a, "email,nom,organisation,type,departement\nx@y.fr,X Y,Commune de Mamers,commune,72\n", cfg
    ),
}
ADMIN_ACTIONS = {
    "export_person": lambda s, a, i, cfg: privacy.export_person(s, a, "lea.martin@example.fr"),
    "erase_person": lambda s, a, i, cfg: privacy.erase_person(s, a, "lea.martin@example.fr", cfg),
}
# Who acts: the posting's own recruiter, a recruiter of another organisation, the direction, an admin, nobody.
ACTORS = ("recruteur", "recruteur_autre", "direction", "admin", None)


def _expected(action: str, actor: str | None) -> str | None:
    """None when allowed, else the error code."""
    if action in RECRUITER_ACTIONS:
        if actor == "recruteur":
            return None
        if actor == "recruteur_autre":
            # Another organisation's ids answer like ids that do not exist; its own lists are simply empty.
            if action in ("create_posting", "list_own_postings"):
                return None
            return (
                "unknown_application"
                if action in ("download_cv", "move_application", "set_notes", "get_application", "candidate_mail")
                else ("unknown_posting")
            )
        return "forbidden"
    if action in DIRECTION_ACTIONS:
        return None if actor in ("direction", "admin") else "forbidden"
    return None if actor == "admin" else "forbidden"


ALL_ACTIONS = {**RECRUITER_ACTIONS, **DIRECTION_ACTIONS, **ADMIN_ACTIONS}


@pytest.mark.parametrize("actor", ACTORS, ids=lambda a: a or "anonyme")
@pytest.mark.parametrize("action", list(ALL_ACTIONS))
def test_access_table(session: Session, world: World, settings: Settings, action: str, actor: str | None) -> None:
    ids = _seed_for_access(session, world, settings)
    user = world.users[actor] if actor else None
    expected = _expected(action, actor)
    before = {model: count(session, model) for model in (JobPosting, JobApplication, ApplicationFile, User)}
    if expected is None:
        result = ALL_ACTIONS[action](session, user, ids, settings)
        if actor == "recruteur_autre" and action == "list_own_postings":
            assert result == []
        return
    with pytest.raises(DomainError) as error:
        ALL_ACTIONS[action](session, user, ids, settings)
    assert error.value.code == expected
    after = {model: count(session, model) for model in before}
    assert after == before
    owner = world.users["recruteur"]
    assert recruitment.get_own_posting(session, owner, ids.posting).title == posting_input().title
    assert recruitment.list_applications(session, owner, ids.posting)[0].status == "recue"


def test_probing_ids_never_returns_another_organisations_data(
    session: Session, world: World, settings: Settings
) -> None:
    ids = _seed_for_access(session, world, settings)
    intruder = world.users["recruteur_autre"]
    answers = set()
    for guess in range(1, ids.application + ids.posting + 20):
        for call in (
            lambda g: recruitment.get_own_posting(session, intruder, g),
            lambda g: recruitment.list_applications(session, intruder, g),
            lambda g: recruitment.application_file(session, intruder, g),
        ):
            with pytest.raises(DomainError) as error:
                call(guess)
            answers.add(error.value.code)
    assert answers == {"unknown_posting", "unknown_application"}


# ---------------------------------------------------------------------------- exports


TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=0, max_size=30)
PREFIXED = st.builds(lambda p, t: p + t, st.sampled_from(exports.FORMULA_TRIGGERS), TEXT)


def test_exports_neutralise_formulas_in_every_text_field(session: Session, world: World, settings: Settings) -> None:
    owner = world.users["recruteur"]
    posting_id = published(session, owner, title='=HYPERLINK("http://x")')
    recruitment.apply(session, posting_id, application_input(letter=Upload("l.pdf", PDF)), settings)
    application = session.scalar(select(JobApplication))
    files = session.scalars(select(ApplicationFile).order_by(ApplicationFile.kind)).all()

    @hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(values=st.lists(st.one_of(PREFIXED, TEXT), min_size=8, max_size=8))
    def check(values: list[str]) -> None:
        nested = session.begin_nested()
        try:
            # Every text field of the export, as typed by someone (stored as is, bypassing the form's checks).
            (
                application.reference,
                application.full_name,
                application.email,
                application.phone,
                application.cover_letter_text,
                application.notes,
                files[0].display_name,
                files[1].display_name,
            ) = [v[:20] for v in values[:1]] + values[1:]
            session.flush()
            csv_bytes = recruitment.export_applications(session, owner, posting_id, "csv")
            xlsx_bytes = recruitment.export_applications(session, owner, posting_id, "xlsx")
        finally:
            nested.rollback()
        rows = list(csv.reader(io.StringIO(csv_bytes.decode("utf-8-sig"), newline=""), delimiter=";"))
        cells = [cell for row in rows for cell in row]
        sheet = load_workbook(io.BytesIO(xlsx_bytes)).active
        xlsx_cells = [cell for row in sheet.iter_rows(values_only=True) for cell in row if isinstance(cell, str)]
        # Whichever separator a reader cuts at, in either file, no piece of a cell starts a formula...
        for exported in ([*cells, csv_bytes.decode("utf-8-sig")], xlsx_cells):  # the cells, and the file as it is
            pieces = [
                piece.strip().strip('"').strip()
                for v in exported
                for line in v.splitlines()
                for piece in re.split("[;,]", line)
            ]
            assert [piece for piece in pieces if piece.startswith(exports.FORMULA_TRIGGERS)] == []
        # ...and each field reads as typed (the guards are invisible), the phone apart (written as a phone).
        for typed in [values[0][:20], *values[1:3], *values[4:]]:
            shown = exports.displayed(exports.clean_text(typed))
            assert shown in [exports.displayed(cell) for cell in cells]
            assert not shown or shown in [exports.displayed(cell) for cell in xlsx_cells]

    check()


# ---------------------------------------------------------------------------- recruiter accounts


def test_recruiter_request_confirm_approve_and_set_password(session: Session, world: World, settings: Settings) -> None:
    token = recruitment.request_recruiter_account(
        session,
        settings,
        email="Nina@Mairie-Mamers.fr",
        display_name="Nina Nouveau",
        organisation_name="Commune de Mamers",
        organisation_kind="commune",
        department="72",
    )
    [confirm] = outbox_of(session, "recruiter_request_confirm")
    assert confirm.link == f"http://pvd.test/demande-recruteur?jeton={token}"
    direction = world.users["direction"]
    assert recruitment.list_recruiter_requests(session, direction) == []  # not confirmed yet: invisible
    with pytest.raises(DomainError) as error:
        recruitment.request_recruiter_account(
            session,
            settings,
            email="nina@mairie-mamers.fr",
            display_name="N",
            organisation_name="X",
            organisation_kind="commune",
            department="72",
        )
    assert error.value.code == "recruiter_request_exists"
    # Until approved, nothing can be done: no account exists, so no login.
    assert session.scalar(select(User).where(User.email == "nina@mairie-mamers.fr")) is None

    assert recruitment.confirm_recruiter_request(session, token, settings) == "pending"
    assert recruitment.confirm_recruiter_request(session, token, settings) == "pending"
    [request] = recruitment.list_recruiter_requests(session, direction)
    user = recruitment.approve_recruiter_request(session, direction, request.id, settings)
    assert user.role == "recruteur" and user.organisation_name == "Commune de Mamers" and not user.has_password
    with pytest.raises(DomainError) as error:
        recruitment.approve_recruiter_request(session, direction, request.id, settings)
    assert error.value.code == "unknown_recruiter_request"

    [welcome] = outbox_of(session, "recruiter_welcome")
    link_token = token_of(welcome)
    assert welcome.link.startswith("http://pvd.test/mot-de-passe?jeton=")
    assert session.scalar(select(PasswordToken.token_hash)) != link_token
    assert accounts.password_link_user(session, link_token).email == "nina@mairie-mamers.fr"
    with pytest.raises(DomainError) as error:
        accounts.set_password_by_link(session, link_token, "azerty", settings)
    assert error.value.code == "password_too_short"
    accounts.set_password_by_link(session, link_token, STRONG_PASSWORD, settings)
    nina = session.scalar(select(User).where(User.email == "nina@mairie-mamers.fr"))
    assert accounts.password_hasher(settings.argon2_profile).verify(nina.password_hash, STRONG_PASSWORD)
    with pytest.raises(DomainError) as error:
        accounts.set_password_by_link(session, link_token, STRONG_PASSWORD, settings)
    assert error.value.code == "invalid_password_link"


def test_password_link_expires(session: Session, world: World, settings: Settings) -> None:
    link = accounts.issue_password_link(session, world.users["recruteur"].id, settings)
    token = link.split("jeton=")[1]
    with pytest.raises(DomainError) as error:
        accounts.password_link_user(session, token, now=utcnow() + timedelta(days=8))
    assert error.value.code == "invalid_password_link"


def test_refused_request_is_told_why(session: Session, world: World, settings: Settings) -> None:
    token = recruitment.request_recruiter_account(
        session,
        settings,
        email="x@example.fr",
        display_name="X",
        organisation_name="Y",
        organisation_kind="autre",
        department="2A",
    )
    recruitment.confirm_recruiter_request(session, token, settings)
    [request] = recruitment.list_recruiter_requests(session, world.users["admin"])
    with pytest.raises(DomainError) as error:
        recruitment.refuse_recruiter_request(session, world.users["admin"], request.id, " ")
    assert error.value.code == "refusal_reason_required"
    recruitment.refuse_recruiter_request(session, world.users["admin"], request.id, "Structure hors programme.")
    [message] = outbox_of(session, "recruiter_refused")
    assert "Structure hors programme." in message.body
    assert session.scalar(select(User).where(User.email == "x@example.fr")) is None


def test_bulk_recruiters_all_or_nothing_with_line_numbers(session: Session, world: World, settings: Settings) -> None:
    bad = (
        "email,nom,organisation,type,departement\n"
        "ok@mamers.fr,Olga K,Commune de Mamers,commune,72\n"
        "pas-une-adresse,A,B,commune,72\n"
        "remi@montbardois.fr,Rémi,CC,epci,21\n"
        "z@z.fr,Z,Z,syndicat,999\n"
    )
    with pytest.raises(ImportRejected) as rejected:
        recruitment.bulk_create_recruiters(session, world.users["direction"], bad, settings)
    assert [(e.line, e.reason, e.column) for e in rejected.value.errors] == [
        (3, "row_invalid_email", "email"),
        (4, "row_email_taken", "email"),
        (5, "row_unknown_choice", "type"),
        (5, "row_unknown_department", "departement"),
    ]
    assert rejected.value.params == {"count": 3}
    assert rejected.value.errors[0].params == {"value": "pas-une-adresse"}
    assert session.scalar(select(User).where(User.email == "ok@mamers.fr")) is None
    good = (
        "email;nom;organisation;type;departement\n"
        "ok@mamers.fr;Olga K;Commune de Mamers;commune;72\n"
        "p@montbardois.fr;Paul P;communauté de communes du montbardois;epci;21\n"
    )
    created = recruitment.bulk_create_recruiters(session, world.users["direction"], good, settings)
    assert created == ["ok@mamers.fr", "p@montbardois.fr"]
    paul = session.scalar(select(User).where(User.email == "p@montbardois.fr"))
    assert paul.organisation_id == world.own.id  # existing organisation reused
    assert len(outbox_of(session, "recruiter_welcome")) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [(1, "row_empty_file", None)]),
        ("email,nom,organisation\n", [(1, "row_bad_header", None)]),
        ("email,nom,organisation,type,departement\n", [(2, "row_no_rows", None)]),
        ("email,nom,organisation,type,departement\na@b.fr,A\n", [(2, "row_column_count", None)]),
        (
            "email,nom,organisation,type,departement\na@b.fr,A,B,commune,72\na@b.fr,,,commune,72\n",
            [
                (3, "row_email_repeated", "email"),
                (3, "row_value_required", "nom"),
                (3, "row_value_required", "organisation"),
            ],
        ),
    ],
)
def test_bulk_recruiters_line_errors_are_codes(
    session: Session, world: World, settings: Settings, text: str, expected: list
) -> None:
    with pytest.raises(ImportRejected) as rejected:
        recruitment.bulk_create_recruiters(session, world.users["direction"], text, settings)
    assert [(e.line, e.reason, e.column) for e in rejected.value.errors] == expected
    assert all(e.reason in MESSAGES for e in rejected.value.errors)


# ---------------------------------------------------------------------------- purge and access requests


def test_purge_respects_retention_and_consent(session: Session, world: World, settings: Settings) -> None:
    recruiter = world.users["recruteur"]
    posting_id = published(session, recruiter)
    recruitment.apply(session, posting_id, application_input("a@example.fr"), settings)
    recruitment.apply(session, posting_id, application_input("b@example.fr", consent_contact=True), settings)
    open_posting = published(session, recruiter)
    recruitment.apply(session, open_posting, application_input("c@example.fr"), settings)
    recruitment.mark_filled(session, recruiter, posting_id, settings)

    assert [
        i.description
        for i in privacy.purge(session, settings, utcnow() + timedelta(days=60))
        if i.step == "candidatures"
    ] == []
    in_4_months = utcnow() + timedelta(days=120)
    dry = [i for i in privacy.purge(session, settings, in_4_months, dry_run=True) if i.step == "candidatures"]
    assert len(dry) == 1 and count(session, JobApplication) == 3
    done = [i for i in privacy.purge(session, settings, in_4_months) if i.step == "candidatures"]
    assert len(done) == 1
    remaining = set(session.scalars(select(JobApplication.email)))
    assert remaining == {"b@example.fr", "c@example.fr"}
    assert count(session, ApplicationFile) == 2
    later = [i for i in privacy.purge(session, settings, utcnow() + timedelta(days=800)) if i.step == "candidatures"]
    assert len(later) == 1 and set(session.scalars(select(JobApplication.email))) == {"c@example.fr"}


def test_purge_cli_dry_run_then_real(
    factory: sessionmaker[Session], settings: Settings, database_url: str, monkeypatch, capsys
) -> None:
    with factory.begin() as session:
        world = make_world(session, settings)
        posting_id = published(session, world.users["recruteur"])
        recruitment.apply(session, posting_id, application_input(), settings)
        recruitment.close_posting(session, world.users["recruteur"], posting_id, settings)
        session.execute(JobPosting.__table__.update().values(ended_at=datetime(2020, 1, 1), deadline=date(2020, 1, 1)))
    monkeypatch.setenv("PVD_DATABASE_URL", database_url)
    assert cli.main(["purge", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "candidature PVD-" in out and "simulation" in out
    with factory() as session:
        assert count(session, JobApplication) == 1
    assert cli.main(["purge"]) == 0
    assert "candidature PVD-" in capsys.readouterr().out
    with factory() as session:
        assert count(session, JobApplication) == 0
    assert cli.main(["purge"]) == 0
    assert "Rien à supprimer" in capsys.readouterr().out


def test_access_request_exports_then_erases_everything(session: Session, world: World, settings: Settings) -> None:
    posting_id = published(session, world.users["recruteur"])
    recruitment.apply(session, posting_id, application_input(letter_text="Ma lettre"), settings)
    recruitment.request_recruiter_account(
        session,
        settings,
        email="lea.martin@example.fr",
        display_name="Léa",
        organisation_name="Commune",
        organisation_kind="commune",
        department="21",
    )
    admin = world.users["admin"]
    data = privacy.export_person(session, admin, "Lea.Martin@example.fr")
    assert data["candidatures"][0]["lettre_texte"] == "Ma lettre"
    assert data["candidatures"][0]["fichiers"][0]["taille"] == len(PDF)
    assert data["demandes de compte recruteur"][0]["nom"] == "Léa"
    erased = privacy.erase_person(session, admin, "lea.martin@example.fr", settings)
    assert erased["candidatures"] == 1 and erased["demandes de compte recruteur"] == 1
    assert count(session, JobApplication) == count(session, ApplicationFile) == 0
    assert all(not records for records in privacy.export_person(session, admin, "lea.martin@example.fr").values())


# ---------------------------------------------------------------------------- figures


def test_recruitment_figures_protect_small_counts(session: Session, world: World, settings: Settings) -> None:
    own, other = world.users["recruteur"], world.users["recruteur_autre"]
    big = published(session, own)
    for n in range(7):
        recruitment.apply(session, big, application_input(f"p{n}@example.fr"), settings)
    small = published(session, other)
    recruitment.apply(session, small, application_input("seul@example.fr"), settings)
    recruitment.create_posting(session, own, posting_input())
    recruitment.mark_filled(session, own, big, settings)
    figures = recruitment.recruitment_figures(session, k=5)
    states = {(region, state): n for region, state, n in figures.postings_by_region_state}
    assert states == {
        ("Bourgogne-Franche-Comté", "Brouillon"): 1,
        ("Bourgogne-Franche-Comté", "Pourvue"): 1,
        ("Occitanie", "Publiée"): 1,
    }
    by_region = {region: applications for region, _, applications in figures.applications_by_region}
    # Occitanie has a single application: hidden, and so is the other cell (no recovery from a total).
    assert by_region == {"Bourgogne-Franche-Comté": None, "Occitanie": None}
    assert dict(figures.applications_per_posting) == {"0": 0, "1 à 4": 1, "5 à 9": 1, "10 à 19": 0, "20 et plus": 0}
    assert figures.filled_count == 1 and figures.median_days_to_fill is not None
    assert figures.vacant_by_department == [("31 – Haute-Garonne", 1)]


def test_applying_after_the_deadline_is_refused_even_before_the_posting_is_closed(
    session: Session, world: World, settings: Settings
) -> None:
    posting_id = published(session, world.users["recruteur"], deadline=date.today() + timedelta(days=1))
    with pytest.raises(DomainError) as error:
        recruitment.apply(session, posting_id, application_input(), settings, now=utcnow() + timedelta(days=3))
    assert error.value.code == "posting_not_public"
    assert count(session, JobApplication) == count(session, ApplicationFile) == count(session, OutboxMessage) == 0


def test_recruitment_chart_builders(session: Session, world: World, settings: Settings) -> None:
    from pvd_survey import charts

    posting_id = published(session, world.users["recruteur"])
    recruitment.apply(session, posting_id, application_input(), settings)
    frames = charts.recruitment_frames(recruitment.recruitment_figures(session))
    assert list(frames["applications"]["Candidatures"]) == ["masqué"]
    for chart in (
        charts.postings_state_chart(frames["states"]),
        charts.applications_per_posting_chart(frames["per_posting"]),
        charts.vacant_chart(frames["vacant"]),
    ):
        spec = chart.to_dict()
        assert spec["mark"]["type"] == "bar" and spec["title"]
