"""Recruitment pages through AppTest: job board and applying, the private link, a recruiter's postings and
pipeline, recruiter account requests, set-password links and access requests. Every page for every role
(menus, guards) is covered by tests/test_pages.py."""

from __future__ import annotations

import json
import secrets
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from pvd_survey import accounts, mail, recruitment
from pvd_survey.config import Settings
from pvd_survey.errors import MESSAGES, DomainError, RowError, french_message, row_message
from pvd_survey.models import ApplicationFile, JobApplication, JobPosting, User
from tests.conftest import STRONG_PASSWORD, TEST_BACKEND, file_bytes_from_another_process
from tests.conftest import open_page as page
from tests.factories import (
    PDF,
    PNG,
    World,
    application_input,
    focus_moves_to,
    make_world,
    posting_input,
    published,
    shown_form_errors,
    submit,
    texts,
)


def button(at: AppTest, key: str) -> AppTest:
    return at.button(key=key).click().run()


def outbox(factory: sessionmaker[Session], kind: str) -> list[mail.OutboxEntry]:
    with factory.begin() as session:
        return [m for m in mail.list_messages(session) if m.kind == kind]


def count(factory: sessionmaker[Session], model) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def world(app_env: str, factory: sessionmaker[Session], settings: Settings) -> World:
    with factory.begin() as session:
        accounts.create_first_admin(
            session, email="first@anct.gouv.fr", display_name="First", password=STRONG_PASSWORD, settings=settings
        )
        return make_world(session, settings)


# ---------------------------------------------------------------------------- the public side


def test_board_filters_come_from_and_go_to_the_url(world: World, factory) -> None:
    with factory.begin() as session:
        published(session, world.users["recruteur"], title="Chef de projet Montbard")
        published(session, world.users["recruteur_autre"], title="Cheffe de projet Revel")
    shared = page("pages/jobs.py", region="27", tri="deadline")
    assert not shared.exception
    assert shared.selectbox(key="jobs_region").value == "27"
    assert shared.selectbox(key="jobs_sort").value == "deadline"
    assert texts(shared.subheader) == ["1 offre"]
    shared.text_input(key="jobs_keyword").input("montbard").run()
    assert shared.query_params["q"] in (["montbard"], "montbard")
    assert shared.query_params["region"] in (["27"], "27")
    bad = page("pages/jobs.py", region="99")
    assert any("Filtre inconnu" in message for message in texts(bad.error))
    assert "Les filtres de l'adresse ont été ignorés." in texts(bad.caption)
    assert texts(bad.subheader) == ["2 offres"]


def test_board_filters_opens_a_posting_and_applies(world: World, factory, settings: Settings) -> None:
    with factory.begin() as session:
        own = published(session, world.users["recruteur"], title="Chef de projet Montbard")
        published(session, world.users["recruteur_autre"], title="Cheffe de projet Revel")
    at = page("pages/jobs.py")
    assert texts(at.title) == ["Offres d'emploi"] and not at.exception
    assert texts(at.subheader) == ["2 offres"]
    at.selectbox(key="jobs_region").set_value("27").run()
    assert texts(at.subheader) == ["1 offre"]
    at.text_input(key="jobs_keyword").input("revel").run()
    assert texts(at.subheader) == ["0 offre"]
    at.text_input(key="jobs_keyword").input("montbard").run()
    button(at, f"jobs_open_{own}")
    assert at.query_params[recruitment.POSTING_PARAMETER] in (str(own), [str(own)])
    assert "Chef de projet Montbard" in texts(at.header)
    # The upload zones say the services' limit (5 Mo, « 5 Mo au plus par fichier »), not the server's 10.
    assert [uploader.proto.max_upload_size_mb for uploader in at.get("file_uploader")] == [5, 5]

    at.text_input(key="jobs_name").input("Léa Martin")
    at.text_input(key="jobs_email").input("lea@example.fr")
    at.text_input(key="jobs_phone").input("06 12 34 56 78")
    at.file_uploader(key="jobs_cv").set_value(("cv.pdf", PDF, "application/pdf"))
    at.checkbox(key="jobs_consent").check()
    at = submit(at, "jobs_apply")
    assert not at.exception and not at.error, texts(at.error)
    [success] = texts(at.success)
    assert success.startswith("Candidature envoyée. Votre référence : PVD-")
    [message] = outbox(factory, "application_received")
    assert message.recipient == "lea@example.fr" and "/candidature?jeton=" in message.link
    # The confirmation replaces the form (its fields and the PDF are gone), with what happens next.
    assert not at.text_input and not at.get("file_uploader") and not at.checkbox
    assert "**lea@example.fr**" in " ".join(texts(at.markdown))
    assert "Chef de projet Montbard" not in texts(at.header)
    at = button(at, "jobs_back_after_applying")
    assert recruitment.POSTING_PARAMETER not in at.query_params and texts(at.subheader) == ["1 offre"]


def test_the_board_shows_each_change_of_its_postings_at_the_next_view(world: World, factory, settings) -> None:
    recruiter = world.users["recruteur"]
    with factory.begin() as session:
        first = published(session, recruiter, title="Chef de projet Montbard")
    assert texts(page("pages/jobs.py").subheader) == ["1 offre"]
    with factory.begin() as session:
        published(session, world.users["recruteur_autre"], title="Cheffe de projet Revel")
    at = page("pages/jobs.py")
    assert texts(at.subheader) == ["2 offres"] and "**Cheffe de projet Revel**" in texts(at.markdown)
    with factory.begin() as session:
        recruitment.update_posting(session, recruiter, first, posting_input(title="Chef de projet Montbard et Semur"))
    assert "**Chef de projet Montbard et Semur**" in texts(page("pages/jobs.py").markdown)
    with factory.begin() as session:
        recruitment.close_posting(session, recruiter, first, settings)
    at = page("pages/jobs.py")
    assert texts(at.subheader) == ["1 offre"] and "**Chef de projet Montbard et Semur**" not in texts(at.markdown)


def test_posting_url_opened_directly(world: World, factory) -> None:
    with factory.begin() as session:
        own = published(session, world.users["recruteur"])
        draft = recruitment.create_posting(session, world.users["recruteur"], posting_input(title="Brouillon")).id
    at = page("pages/jobs.py", offre=str(own))
    assert not at.exception and "Chef de projet Petites villes de demain" in texts(at.header)
    for hidden in (str(draft), "abc", "999999"):
        at = page("pages/jobs.py", offre=hidden)
        assert texts(at.error) == [MESSAGES["posting_not_public"]]
        assert not at.header


def apply_through_page(at: AppTest, email: str, cv: tuple[str, bytes, str]) -> AppTest:
    at.text_input(key="jobs_name").input("Léa Martin")
    at.text_input(key="jobs_email").input(email)
    at.file_uploader(key="jobs_cv").set_value(cv)
    at.checkbox(key="jobs_consent").check()
    return submit(at, "jobs_apply")


def test_an_empty_application_says_every_missing_field_at_once_under_each(world: World, factory) -> None:
    with factory.begin() as session:
        own = published(session, world.users["recruteur"])
    at = page("pages/jobs.py", offre=str(own))
    at.text_input(key="jobs_phone").input("12")
    at = submit(at, "jobs_apply")
    summary, under = shown_form_errors(at, "jobs_apply")
    expected = {
        "full_name": ("Nom et prénom", MESSAGES["applicant_name_required"]),
        "email": ("Adresse e-mail", "L'adresse e-mail n'est pas valide"),
        "phone": ("Téléphone (facultatif)", MESSAGES["invalid_phone"]),
        "cv": ("CV (PDF, 5 Mo au plus)", MESSAGES["file_required"]),
        "consent_privacy": (
            "J'ai lu la notice de confidentialité et j'accepte ce traitement.",
            MESSAGES["consent_required"],
        ),
    }
    assert list(under) == list(expected)  # each under its field, in the form's order
    for field, (label, message) in expected.items():
        assert under[field][0] == label and under[field][1].startswith(message)
    assert [line.split(" : ")[0] for line in summary] == [f"**{label}**" for label, _ in expected.values()]
    assert focus_moves_to(at) == "jobs_apply"
    assert count(factory, JobApplication) == 0


def test_bad_upload_and_duplicate_are_refused_with_a_message(world: World, factory) -> None:
    with factory.begin() as session:
        own = published(session, world.users["recruteur"])
    at = apply_through_page(page("pages/jobs.py", offre=str(own)), "lea@example.fr", ("cv.pdf", PNG, "image/png"))
    cv = "CV (PDF, 5 Mo au plus)"
    assert shown_form_errors(at, "jobs_apply") == (
        [f"**{cv}** : {MESSAGES['file_not_pdf']}"],
        {"cv": (cv, MESSAGES["file_not_pdf"])},
    )
    assert count(factory, JobApplication) == count(factory, ApplicationFile) == 0

    at = apply_through_page(at, "lea@example.fr", ("cv.pdf", PDF, "application/pdf"))
    assert not at.error and count(factory, JobApplication) == 1
    at = apply_through_page(page("pages/jobs.py", offre=str(own)), "lea@example.fr", ("cv.pdf", PDF, "application/pdf"))
    duplicate = MESSAGES["already_applied"]
    assert shown_form_errors(at, "jobs_apply") == (
        [f"**Adresse e-mail** : {duplicate}"],
        {"email": ("Adresse e-mail", duplicate)},
    )
    at = button(at, "jobs_resend")
    assert len(outbox(factory, "application_link")) == 1
    assert count(factory, JobApplication) == 1


def test_private_link_shows_status_and_withdraws(world: World, factory, settings: Settings) -> None:
    with factory.begin() as session:
        own = published(session, world.users["recruteur"])
        receipt = recruitment.apply(session, own, application_input(), settings)
        application_id = session.scalar(select(JobApplication.id))
        recruitment.move_application(session, world.users["recruteur"], application_id, "entretien")
    at = page("pages/application.py", jeton=receipt.token)
    assert texts(at.title) == ["Ma candidature"] and not at.error
    assert [m.value for m in at.metric] == ["Entretien"]
    at.checkbox(key="application_confirm_withdraw").check().run()
    at = button(at, "application_withdraw")
    assert "Candidature retirée. Vos données personnelles ont été supprimées." in texts(at.success)
    assert count(factory, ApplicationFile) == 0
    with factory() as session:
        assert session.scalar(select(JobApplication.email)) is None
    at = page("pages/application.py", jeton="faux")
    assert texts(at.error) == [MESSAGES["invalid_application_link"]]


def test_completing_an_application_says_a_bad_phone_under_its_field(world: World, factory, settings: Settings) -> None:
    with factory.begin() as session:
        own = published(session, world.users["recruteur"])
        receipt = recruitment.apply(session, own, application_input(), settings)
    at = page("pages/application.py", jeton=receipt.token)
    at.text_input(key="application_phone").input("12")
    at = submit(at, "application_update")
    assert shown_form_errors(at, "application_update") == (
        [f"**Téléphone** : {MESSAGES['invalid_phone']}"],
        {"phone": ("Téléphone", MESSAGES["invalid_phone"])},
    )
    assert focus_moves_to(at) == "application_update"
    at.text_input(key="application_phone").input("06 12 34 56 78")
    at = submit(at, "application_update")
    assert texts(at.success) == ["Candidature mise à jour."] and focus_moves_to(at) == "pvd_flash_focused"
    with factory() as session:
        assert session.scalar(select(JobApplication.phone)) == "+33612345678"


# ---------------------------------------------------------------------------- the recruiter


def form_field(at: AppTest, kind: str, name: str):
    """A field of the posting form shown (its keys carry the posting's id and version: `postings_title_12_…`)."""
    [field] = [w for w in getattr(at, kind) if w.key and w.key.startswith(f"postings_{name}_")]
    return field


def public_title(factory, posting_id: int) -> str:
    with factory() as session:
        return recruitment.get_public_posting(session, posting_id).title


def test_recruiter_creates_publishes_and_closes_a_posting(world: World, factory) -> None:
    recruiter = world.users["recruteur"]
    at = page("pages/postings.py", recruiter)
    assert texts(at.title) == ["Mes offres"] and not at.error
    assert at.text_area(key="postings_missions_0").value == recruitment.MODEL_MISSIONS
    # Every problem at once (RGAA 11.10): under each field, listed at the top, the focus on the first.
    at.text_input(key="postings_title_0").input("")
    at.text_area(key="postings_missions_0").input("")
    at.date_input(key="postings_deadline_0").set_value(date.today() - timedelta(days=1))
    at = button(at, "postings_save")
    summary, under = shown_form_errors(at, "postings_form_0")
    assert under == {
        "title": ("Intitulé du poste", MESSAGES["posting_title_required"]),
        "communes": (
            "Communes Petites villes de demain concernées (une par ligne)",
            MESSAGES["posting_communes_required"],
        ),
        "deadline": ("Date limite de candidature", MESSAGES["posting_deadline_past"]),
        "missions": ("Missions (modèle de fiche de poste du programme)", MESSAGES["posting_missions_required"]),
    }
    assert summary == [f"**{label}** : {message}" for label, message in under.values()]
    assert focus_moves_to(at) == "postings_form_0"
    assert count(factory, JobPosting) == 0

    form_field(at, "text_input", "title").input("Chef de projet Petites villes de demain")
    at.text_area(key="postings_missions_0").input(recruitment.MODEL_MISSIONS)
    at.text_area(key="postings_communes_0").input("Montbard\nVenarey-les-Laumes")
    at = button(at, "postings_save")
    assert shown_form_errors(at, "postings_form_0") == (
        [f"**Date limite de candidature** : {MESSAGES['posting_deadline_past']}"],
        {"deadline": ("Date limite de candidature", MESSAGES["posting_deadline_past"])},
    )

    at.date_input(key="postings_deadline_0").set_value(date.today() + timedelta(days=20))
    at = button(at, "postings_save")
    assert not at.error and texts(at.success) == ["Brouillon créé : relisez-le puis publiez-le."]
    with factory() as session:
        posting_id = session.scalar(select(JobPosting.id))
    # The new draft is the one of the address, and stays chosen.
    assert at.query_params[recruitment.POSTING_PARAMETER] in (str(posting_id), [str(posting_id)])
    assert at.selectbox(key="postings_chosen").value == posting_id
    # « Publier » publishes what the form shows: the edit not saved yet goes on line with it.
    form_field(at, "text_input", "title").input("Cheffe de projet v3")
    at = button(at, "postings_publish")
    assert texts(at.success) == ["Offre enregistrée et publiée sur la page « Offres d'emploi »."]
    assert public_title(factory, posting_id) == "Cheffe de projet v3"
    with factory() as session:
        assert recruitment.get_public_posting(session, posting_id).communes == ["Montbard", "Venarey-les-Laumes"]
    # The next action is not lost: the same posting is still chosen and its form saves.
    assert at.selectbox(key="postings_chosen").value == posting_id
    assert "postings_publish" not in [b.key for b in at.button]  # published: nothing left to publish
    form_field(at, "text_input", "title").input("Cheffe de projet v4")
    at = button(at, "postings_save")
    assert texts(at.success) == ["Offre enregistrée."] and not at.error
    assert public_title(factory, posting_id) == "Cheffe de projet v4"
    assert form_field(at, "text_input", "title").value == "Cheffe de projet v4"
    at = button(at, "postings_close")
    assert texts(at.success) == ["Offre close ; 0 candidat(s) prévenu(s)."]
    assert at.selectbox(key="postings_chosen").value == posting_id
    assert not [w for w in at.text_input if w.key and w.key.startswith("postings_title_")]  # closed: no form

    # A reload (or a shared link) shows the same posting.
    again = page("pages/postings.py", recruiter, offre=str(posting_id))
    assert again.selectbox(key="postings_chosen").value == posting_id and not again.error


def test_posting_form_refuses_a_stale_save_and_publish(world: World, factory, settings: Settings) -> None:
    recruiter = world.users["recruteur"]
    with factory.begin() as session:
        draft = recruitment.create_posting(session, recruiter, posting_input(title="v1")).id
    at = page("pages/postings.py", recruiter, offre=str(draft))
    form_field(at, "text_input", "title").input("Mon titre")
    # Meanwhile a colleague edits the posting.
    with factory.begin() as session:
        recruitment.update_posting(session, recruiter, draft, posting_input(title="Titre du collègue"))
    for action in ("postings_save", "postings_publish"):
        at = button(at, action)
        [refused] = texts(at.error)  # at the top of the form: it concerns no one field
        assert refused == "Le formulaire n'a pas été envoyé.\n\n- " + MESSAGES["posting_changed_meanwhile"]
        with factory() as session:
            posting = recruitment.get_own_posting(session, recruiter, draft)
        assert (posting.title, posting.status) == ("Titre du collègue", "draft")
        assert form_field(at, "text_input", "title").value == "Mon titre"  # what was typed is still there
        assert any("Cette offre a changé depuis que vous avez ouvert" in text for text in texts(at.warning))
    at = button(at, "postings_reload")
    assert form_field(at, "text_input", "title").value == "Titre du collègue" and not at.warning

    # A colleague publishes then closes it: the form opened before says so, and changes nothing.
    with factory.begin() as session:
        recruitment.publish_posting(session, recruiter, draft)
        recruitment.close_posting(session, recruiter, draft, settings)
    form_field(at, "text_input", "title").input("Encore un titre")
    at = button(at, "postings_save")
    assert texts(at.error) == ["Le formulaire n'a pas été envoyé.\n\n- " + MESSAGES["posting_changed_meanwhile"]]
    assert title_and_status(factory, recruiter, draft) == ("Titre du collègue", "closed")
    at = button(at, "postings_reload")
    assert not [w for w in at.text_input if w.key and w.key.startswith("postings_title_")]  # closed: no form


def title_and_status(factory, recruiter, posting_id: int) -> tuple[str, str]:
    with factory() as session:
        posting = recruitment.get_own_posting(session, recruiter, posting_id)
    return posting.title, posting.status


@pytest.mark.parametrize("wanted", ["foreign", "abc", "999999", "１"])
def test_postings_bad_or_foreign_id_in_the_address(world: World, factory, wanted: str) -> None:
    with factory.begin() as session:
        other = published(session, world.users["recruteur_autre"], title="Poste secret de Revel")
        published(session, world.users["recruteur"], title="Poste du Montbardois")
    at = page("pages/postings.py", world.users["recruteur"], offre=str(other) if wanted == "foreign" else wanted)
    assert not at.exception
    assert texts(at.error) == [MESSAGES["unknown_posting"]]
    assert at.selectbox(key="postings_chosen").value is None
    shown = " ".join(str(e.value) for e in [*at.markdown, *at.caption, *at.subheader, *at.text_input] if e.value)
    assert "Revel" not in shown and "Revel" not in str(at.selectbox(key="postings_chosen").options)
    assert not [w for w in at.text_input if w.key and w.key.startswith("postings_title_")]


def test_pipeline_refusal_with_reason_and_probing_another_organisation(
    world: World, factory, settings: Settings
) -> None:
    recruiter = world.users["recruteur"]
    with factory.begin() as session:
        own = published(session, recruiter)
        other = published(session, world.users["recruteur_autre"], title="Poste de Revel")
        recruitment.apply(session, own, application_input(), settings)
        recruitment.apply(session, other, application_input("secret@revel.fr"), settings)
        application_id = session.scalar(select(JobApplication.id).where(JobApplication.posting_id == own))
        foreign_application = session.scalar(select(JobApplication.id).where(JobApplication.posting_id == other))
    at = page("pages/pipeline.py", recruiter)
    assert texts(at.title) == ["Candidatures reçues"] and not at.error
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Exporter (CSV)" in labels and "Télécharger le CV (cv-lea.pdf)" in labels

    # A status that e-mails nobody is saved at once, without a message to read first.
    at.selectbox(key=f"pipeline_status_{application_id}").set_value("examen").run()
    at = button(at, f"pipeline_save_{application_id}")
    assert texts(at.success) == ["Statut : En cours d'examen."] and not at.code
    with factory() as session:
        assert session.get(JobApplication, application_id).status == "examen"
    assert outbox(factory, "application_rejected") == []

    at.selectbox(key=f"pipeline_status_{application_id}").set_value("non_retenue").run()
    at = button(at, f"pipeline_save_{application_id}")
    assert texts(at.error) == [MESSAGES["rejection_reason_required"]]
    at.selectbox(key=f"pipeline_reason_{application_id}").set_value("pourvu").run()
    [message] = [t for t in at.text_area if t.key.startswith(f"pipeline_message_{application_id}")]
    assert "Le poste a été pourvu." in message.value
    message.input(message.value + "\nBien cordialement.").run()
    at = button(at, f"pipeline_save_{application_id}")
    # The exact message is shown first; nothing is sent or changed before « Confirmer l'envoi ».
    assert not at.error and outbox(factory, "application_rejected") == []
    [shown] = [c.value for c in at.code]
    assert shown.endswith("Bien cordialement.")
    at = button(at, f"pipeline_confirm_{application_id}")
    assert texts(at.success) == ["Statut : Non retenue. Le message a été envoyé."]
    [sent] = outbox(factory, "application_rejected")
    assert sent.body == shown and sent.recipient == "lea.martin@example.fr"
    # The same application is still shown (its label changed with its status).
    assert at.selectbox(key="pipeline_application").value == application_id

    # Another organisation's ids in the address: nothing of them is shown, and the page says so.
    at = page("pages/pipeline.py", recruiter, offre=str(other))
    assert texts(at.error) == [MESSAGES["unknown_posting"]]
    shown_text = " ".join(str(e.value) for e in [*at.markdown, *at.caption, *at.subheader] if e.value)
    assert "secret@revel.fr" not in shown_text and "Poste de Revel" not in str(
        at.selectbox(key="pipeline_posting").options
    )
    at = page("pages/pipeline.py", recruiter, offre=str(own), candidature=str(foreign_application))
    assert texts(at.error) == [MESSAGES["unknown_application"]]
    shown_text = " ".join(str(e.value) for e in [*at.markdown, *at.caption, *at.subheader] if e.value)
    assert "secret@revel.fr" not in shown_text
    assert not [b for b in at.get("download_button") if b.proto.label.startswith("Télécharger")]
    # Only the recruiter's own application is offered (labels carry a random reference, so compare ids).
    chooser = at.selectbox(key="pipeline_application")
    assert len(chooser.options) == 1 and chooser.value in (None, application_id)


def test_pipeline_refusal_other_needs_a_detail_and_cancel_changes_nothing(
    world: World, factory, settings: Settings
) -> None:
    recruiter = world.users["recruteur"]
    with factory.begin() as session:
        own = published(session, recruiter)
        recruitment.apply(session, own, application_input(), settings)
        recruitment.apply(session, own, application_input("paul@example.fr", full_name="Paul Durand"), settings)
        second = session.scalar(select(JobApplication.id).where(JobApplication.email == "paul@example.fr"))
    # A shared link opens that application.
    at = page("pages/pipeline.py", recruiter, offre=str(own), candidature=str(second))
    assert at.selectbox(key="pipeline_application").value == second and not at.error
    at.selectbox(key=f"pipeline_status_{second}").set_value("non_retenue").run()
    at.selectbox(key=f"pipeline_reason_{second}").set_value("autre").run()
    assert not [t for t in at.text_area if t.key.startswith(f"pipeline_message_{second}")]  # no detail, no message
    at = button(at, f"pipeline_save_{second}")
    assert texts(at.error) == [french_message(DomainError("rejection_detail_too_short", minimum=15))]
    at.text_input(key=f"pipeline_other_{second}").input("Trop court.").run()
    at = button(at, f"pipeline_save_{second}")
    assert texts(at.error) == [french_message(DomainError("rejection_detail_too_short", minimum=15))]
    at.text_input(key=f"pipeline_other_{second}").input("Le poste est supprimé du budget 2027.").run()
    at = button(at, f"pipeline_save_{second}")
    [shown] = [c.value for c in at.code]
    assert "(Communauté de communes du Montbardois).\nLe poste est supprimé du budget 2027.\nNous ne pouvons" in shown
    at = button(at, f"pipeline_cancel_{second}")
    assert not at.code and outbox(factory, "application_rejected") == []
    with factory() as session:
        assert session.get(JobApplication, second).status == "recue"
    assert at.selectbox(key=f"pipeline_status_{second}").value == "non_retenue"  # what was chosen is kept


# ---------------------------------------------------------------------------- accounts


def test_an_empty_recruiter_request_says_every_missing_field_at_once_under_each(world: World, factory) -> None:
    at = page("pages/recruiter_signup.py")
    at.text_input(key="signup_email").input("pas-une-adresse")
    at = submit(at, "signup_form")
    summary, under = shown_form_errors(at, "signup_form")
    assert list(under) == ["display_name", "email", "organisation_name", "department"]
    assert under["display_name"] == ("Nom et prénom", MESSAGES["display_name_required"])
    assert under["organisation_name"] == ("Organisation (EPCI ou commune)", MESSAGES["organisation_name_required"])
    assert under["department"] == ("Département", MESSAGES["department_required"])
    assert under["email"][1].startswith("L'adresse e-mail n'est pas valide")
    assert len(summary) == 4 and summary[0] == f"**Nom et prénom** : {MESSAGES['display_name_required']}"
    assert focus_moves_to(at) == "signup_form"
    assert not outbox(factory, "recruiter_request_confirm")


def test_recruiter_request_confirmed_approved_then_password_chosen(world: World, factory) -> None:
    at = page("pages/recruiter_signup.py")
    assert texts(at.title) == ["Demande de compte recruteur"]
    at.text_input(key="signup_name").input("Nina Nouveau")
    at.text_input(key="signup_email").input("nina@mamers.fr")
    at.text_input(key="signup_organisation").input("Commune de Mamers")
    at.selectbox(key="signup_kind").set_value("commune")
    at.selectbox(key="signup_department").set_value("72")
    at = submit(at, "signup_form")
    assert not at.error, texts(at.error)
    assert texts(at.success) == [
        "Demande enregistrée. Confirmez votre adresse avec le lien que nous venons de vous envoyer."
    ]
    assert focus_moves_to(at) == "pvd_flash_focused"
    [confirm] = outbox(factory, "recruiter_request_confirm")
    at = page("pages/recruiter_signup.py", jeton=confirm.link.split("jeton=")[1])
    assert texts(at.success)[0].startswith("Adresse confirmée.")

    at = page("pages/recruiter_requests.py", world.users["direction"])
    with factory() as session:
        [request] = recruitment.list_recruiter_requests(session, world.users["direction"])
    at = button(at, f"requests_approve_{request.id}")
    assert not at.error
    [welcome] = outbox(factory, "recruiter_welcome")
    at = page("pages/set_password.py", jeton=welcome.link.split("jeton=")[1])
    at.text_input(key="set_password_password").input(STRONG_PASSWORD)
    at.text_input(key="set_password_again").input(STRONG_PASSWORD)
    at = submit(at, "set_password_form")
    assert texts(at.success) == ["Mot de passe enregistré. Vous pouvez vous connecter."]
    with factory() as session:
        nina = session.scalar(select(User).where(User.email == "nina@mamers.fr"))
        assert nina.role == "recruteur" and nina.password_hash is not None
    at = page("pages/set_password.py", jeton=welcome.link.split("jeton=")[1])
    assert texts(at.error) == [MESSAGES["invalid_password_link"]]


def test_a_recruiter_file_not_in_utf8_is_refused_under_the_file_field(world: World, factory) -> None:
    at = page("pages/recruiter_requests.py", world.users["admin"])
    content = "email,nom,organisation,type,departement\nlea@ville.fr,Léa,Mairie,commune,21\n".encode("cp1252")
    at.file_uploader(key="requests_bulk_file").set_value(("comptes.csv", content, "text/csv"))
    at = submit(at, "requests_bulk")
    summary, under = shown_form_errors(at, "requests_bulk")
    assert list(under) == ["file"] and under["file"][1] == MESSAGES["file_not_utf8"]
    assert len(summary) == 1 and summary[0].endswith(MESSAGES["file_not_utf8"])
    with factory() as session:
        assert session.scalar(select(User).where(User.email == "lea@ville.fr")) is None


def test_bulk_recruiters_lists_bad_lines(world: World, factory) -> None:
    at = page("pages/recruiter_requests.py", world.users["admin"])
    at.text_area(key="requests_bulk_text").input("email,nom,organisation,type,departement\nx,X,Y,epci,21\n")
    at = submit(at, "requests_bulk")
    # The bad lines, all of them, under the field that held the file and listed at the top, the focus on them.
    summary, under = shown_form_errors(at, "requests_bulk")
    bad_line = row_message(RowError(2, "row_invalid_email", {"value": "x"}, "email"))
    expected = french_message(DomainError("import_rejected_lines", count=1, lines=bad_line))
    assert under == {"text": ("ou contenu du fichier", expected)}
    assert summary == [f"**ou contenu du fichier** : {expected}"] and focus_moves_to(at) == "requests_bulk"
    at.text_area(key="requests_bulk_text").input(
        "email,nom,organisation,type,departement\nx@y.fr,X Y,Commune de Mamers,commune,72\n"
    )
    at = submit(at, "requests_bulk")
    assert texts(at.success) == ["1 compte recruteur créé."]
    assert shown_form_errors(at, "requests_bulk") == ([], {}) and focus_moves_to(at) == "pvd_flash_focused"


def test_admin_exports_and_erases_a_persons_data(world: World, factory, settings: Settings) -> None:
    with factory.begin() as session:
        own = published(session, world.users["recruteur"])
        recruitment.apply(session, own, application_input(), settings)
    at = page("pages/privacy.py", world.users["admin"])
    at.text_input(key="privacy_email").input("lea.martin@example.fr")
    at = submit(at, "privacy_search")
    assert "- candidatures : 1" in texts(at.markdown)
    assert [b.proto.label for b in at.get("download_button")] == ["Télécharger les données (JSON)"]
    at.checkbox(key="privacy_confirm").check().run()
    at = button(at, "privacy_erase")
    assert texts(at.success)[0].startswith("Données effacées (candidatures : 1")
    assert count(factory, JobApplication) == 0


def test_a_bad_address_in_the_privacy_search_is_said_under_the_field(world: World) -> None:
    at = page("pages/privacy.py", world.users["admin"])
    at.text_input(key="privacy_email").input("lea.martin@")
    at = submit(at, "privacy_search")
    summary, under = shown_form_errors(at, "privacy_search")
    assert list(under) == ["email"] and under["email"][0] == "Adresse e-mail de la personne"
    assert under["email"][1].startswith("L'adresse e-mail n'est pas valide") and len(summary) == 1
    assert focus_moves_to(at) == "privacy_search" and not at.get("download_button")


def test_dashboard_shows_recruitment_figures_with_small_counts_hidden(
    world: World, factory, settings: Settings
) -> None:
    at = page("pages/dashboard.py", world.users["direction"], section="recrutement")
    assert not at.exception and "Aucune offre d'emploi pour l'instant." in texts(at.info)
    with factory.begin() as session:
        own = published(session, world.users["recruteur"])
        recruitment.apply(session, own, application_input(), settings)
        published(session, world.users["recruteur_autre"])
    at = page("pages/dashboard.py", world.users["direction"], section="recrutement")
    assert not at.exception
    assert "Recrutement des chefs de projet" in texts(at.header)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Offres"] == "2" and metrics["Postes vacants"] == "2"
    titles = [json.dumps(json.loads(chart.proto.spec), ensure_ascii=False) for chart in at.get("vega_lite_chart")]
    assert any("Offres par région et par état" in spec for spec in titles)
    assert any("Postes vacants par département" in spec for spec in titles)
    [table] = [frame.value for frame in at.dataframe if {"Région", "Candidatures"} <= set(frame.value.columns)]
    # One application in Bourgogne-Franche-Comté, none in Occitanie: both hidden (an empty cell looks like a small one).
    assert dict(zip(table["Région"], table["Candidatures"], strict=True)) == {
        "Bourgogne-Franche-Comté": "masqué",
        "Occitanie": "masqué",
    }


def refresh_fragments(at: AppTest, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """What the browser does every `dashboard_refresh_seconds`: rerun the page's fragments, not the page.

    AppTest has no public way to do it: its runner is handed the ids of the fragments the last run registered,
    as the browser's automatic rerun sends them. Only the fragments' elements are then in `at`.
    """
    from functools import partial

    from streamlit.runtime.scriptrunner import RerunData
    from streamlit.testing.v1 import local_script_runner

    fragment_ids = list(at._fragment_storage._fragments)
    assert fragment_ids, "the page registered no fragment"
    with monkeypatch.context() as patch:
        patch.setattr(
            local_script_runner, "RerunData", partial(RerunData, fragment_id_queue=fragment_ids, is_auto_rerun=True)
        )
        return at.run()


def test_a_dashboard_refresh_redraws_the_page_only_when_a_shown_figure_moved(
    world: World, factory, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page("pages/dashboard.py", world.users["direction"])
    assert next(m.value for m in at.metric if m.label == "Offres publiées") == "0"
    # Nothing moved: the refresh reads the figures again and draws only its own line, not the page's charts.
    at = refresh_fragments(at, monkeypatch)
    assert not at.exception
    assert not at.title and not at.metric and not at.get("vega_lite_chart")
    assert any(caption.startswith("Chiffres vérifiés à") for caption in texts(at.caption))
    # A posting is published: the next refresh redraws the whole page with it, the summary's key figures included.
    with factory.begin() as session:
        published(session, world.users["recruteur"])
    at = refresh_fragments(at, monkeypatch)
    assert not at.exception
    assert [title.value for title in at.title] == ["Tableau de bord"]
    assert next(m.value for m in at.metric if m.label == "Offres publiées") == "1"
    # And the refresh after that finds nothing new again.
    at = refresh_fragments(at, monkeypatch)
    assert not at.title and not at.metric
    # The recruitment section: its own figures are watched (a second posting redraws it), not the summary's alone.
    at.run().segmented_control(key="dashboard_section").set_value("recrutement").run()
    assert "Recrutement des chefs de projet" in texts(at.header)
    assert {m.label: m.value for m in at.metric}["Offres"] == "1"
    at = refresh_fragments(at, monkeypatch)
    assert not at.title and not at.metric
    with factory.begin() as session:
        published(session, world.users["recruteur_autre"])
    at = refresh_fragments(at, monkeypatch)
    assert {m.label: m.value for m in at.metric}["Offres"] == "2"
    assert "Offres publiées" not in {m.label for m in at.metric}  # only the chosen section is drawn


def test_a_paused_dashboard_has_no_automatic_refresh(world: World) -> None:
    at = page("pages/dashboard.py", world.users["direction"])
    [live] = [caption for caption in texts(at.caption) if caption.startswith("Chiffres vérifiés à")]
    assert live.endswith("actualisés automatiquement toutes les 10 s.")
    at.toggle(key="dashboard_paused").set_value(True).run()
    assert not at.exception
    [paused] = [caption for caption in texts(at.caption) if caption.startswith("Chiffres vérifiés à")]
    assert "automatiquement" not in paused


if TEST_BACKEND == "sqlite":

    def stored_bytes(database_url: str) -> bytes:
        """The SQLite database file and its WAL, as a copy of them would hold them."""
        path = Path(make_url(database_url).database)
        return file_bytes_from_another_process(path) + file_bytes_from_another_process(
            path.with_name(path.name + "-wal")
        )

    @pytest.mark.parametrize("erased_by", ["candidate", "admin"])
    def test_erased_application_data_leaves_the_sqlite_file_and_its_wal(
        world: World, factory, settings: Settings, database_url: str, erased_by: str
    ) -> None:
        phone = "0612" + "".join(secrets.choice("0123456789") for _ in range(6))  # (a range in service)
        stored_phone = "+33" + phone[1:]
        with factory.begin() as session:
            own = published(session, world.users["recruteur"])
            receipt = recruitment.apply(session, own, application_input(phone=phone), settings)
        assert stored_phone.encode() in stored_bytes(database_url)  # it is there, so the test can fail
        if erased_by == "candidate":
            at = page("pages/application.py", jeton=receipt.token)
            at.checkbox(key="application_confirm_withdraw").check().run()
            at = button(at, "application_withdraw")
        else:
            at = page("pages/privacy.py", world.users["admin"])
            at.text_input(key="privacy_email").input("lea.martin@example.fr")
            at = submit(at, "privacy_search")
            at.checkbox(key="privacy_confirm").check().run()
            at = button(at, "privacy_erase")
        assert texts(at.success) and not at.error
        assert stored_phone.encode() not in stored_bytes(database_url), "the erased phone lingers on disk"
