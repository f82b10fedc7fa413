"""The recruitment journey in a real browser (Debian's Chromium against `streamlit run`): a recruiter publishes a
posting, a candidate finds it with a filter and applies with a PDF, the e-mail reaches a real SMTP server, the
recruiter moves the application through the pipeline, and the candidate sees the new status via the private link.
Then: « Publier » publishes the edit on screen and the next action is not lost; after applying, the confirmation
replaces the form at the top of the screen, on a phone and on a laptop.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pvd_survey import mail, recruitment
from pvd_survey.config import Settings
from pvd_survey.demo import sample_pdf
from pvd_survey.errors import MESSAGES
from tests.browser_support import (
    Pages,
    Seeded,
    alert,
    choose_in_selectbox,
    expect_page,
    nav_link,
    screenshot_on_failure,
    selectbox,
    sign_in,
    wait_for_run,
)
from tests.conftest import SmtpServer
from tests.factories import posting_input

# Run once, on SQLite (tests/conftest.py says why a browser journey may be): the postings, applications and pipeline
# run on PostgreSQL in tests/test_recruitment.py and tests/test_recruitment_pages.py.
pytestmark = [pytest.mark.browser, pytest.mark.database_independent]

CANDIDATE = "lea.martin@example.fr"
TITLE = "Cheffe de projet revitalisation du Montbardois"


def fill(page: Page, label: str, value: str) -> None:
    page.get_by_label(label, exact=True).fill(value)


def attach_cv(page: Page, name: str = "cv-lea.pdf") -> None:
    """Choose a PDF in the CV's own upload zone, found by its label (the letter has a zone too: under load the first
    zone of the page was once the letter's, and the form came back without a CV), and wait for it there."""
    zone = page.get_by_test_id("stFileUploader").filter(has_text="CV (PDF, 5 Mo au plus)")
    zone.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": name, "mimeType": "application/pdf", "buffer": sample_pdf("Léa Martin")}]
    )
    zone.get_by_test_id("stFileChip").filter(has_text=name).wait_for()


@screenshot_on_failure
def test_recruitment_journey(
    request: pytest.FixtureRequest,
    pages: Pages,
    app_url: str,
    seeded: Seeded,
    factory: sessionmaker[Session],
    settings: Settings,
    smtp_server: SmtpServer,
) -> None:
    from pvd_survey import accounts

    # Another organisation's posting, in another region: the candidate's filter must leave it out.
    with factory.begin() as session:
        other = accounts.create_organisation(session, "Commune de Revel", "commune", "31")
        rose = accounts.create_user(
            session,
            email="rose@revel.fr",
            display_name="Rose",
            role="recruteur",
            settings=settings,
            organisation_id=other.id,
            notify=False,
        )
        draft = recruitment.create_posting(session, rose, posting_input(title="Chargée de mission Revel"))
        recruitment.publish_posting(session, rose, draft.id)

    # 1. The recruiter publishes a posting.
    recruiter = pages.new()
    sign_in(recruiter, app_url, "recruteur")
    nav_link(recruiter, "Mes offres").click()
    expect_page(recruiter, "Mes offres")
    fill(recruiter, "Intitulé du poste", TITLE)
    fill(recruiter, "Communes Petites villes de demain concernées (une par ligne)", "Montbard\nVenarey-les-Laumes")
    fill(recruiter, "Présentation du poste (Markdown)", "Un poste **au cœur** de la revitalisation.")
    recruiter.get_by_role("button", name="Créer le brouillon").click()
    alert(recruiter, "Success", "Brouillon créé : relisez-le puis publiez-le.").wait_for()
    recruiter.get_by_role("button", name="Publier").click()
    alert(recruiter, "Success", "Offre enregistrée et publiée sur la page « Offres d'emploi ».").wait_for()

    # 2. A candidate finds it with a filter and applies with a PDF.
    candidate = pages.new()
    candidate.goto(app_url)
    expect_page(candidate, "Petites villes de demain")
    nav_link(candidate, "Offres d'emploi").click()
    expect_page(candidate, "Offres d'emploi")
    candidate.get_by_role("heading", name="2 offres").wait_for()
    choose_in_selectbox(candidate, "Région", "Bourgogne-Franche-Comté")
    candidate.get_by_role("heading", name="1 offre").wait_for()
    expect(candidate.get_by_text("Chargée de mission Revel")).to_have_count(0)
    candidate.get_by_role("button", name="Voir l'offre et postuler").click()
    candidate.get_by_role("heading", name=TITLE).wait_for()
    candidate.locator("strong", has_text="au cœur").wait_for()  # Markdown rendered
    assert re.search(r"[?&]offre=\d+", candidate.url)
    wait_for_run(candidate)
    fill(candidate, "Nom et prénom", "Léa Martin")
    fill(candidate, "Adresse e-mail", CANDIDATE)
    fill(candidate, "Téléphone (facultatif)", "06 12 34 56 78")
    attach_cv(candidate)
    candidate.get_by_text("J'ai lu la notice de confidentialité et j'accepte ce traitement.").click()
    candidate.get_by_role("button", name="Envoyer ma candidature").click()
    success = candidate.get_by_test_id("stAlertContentSuccess").filter(has_text="Candidature envoyée.")
    success.wait_for()

    # 3. The e-mail reaches a real SMTP server, with the private link.
    report = mail.deliver_due(factory, smtp_server.settings())
    assert report.sent and not report.failed
    [message] = smtp_server.to(CANDIDATE)
    body = message.get_payload(decode=True).decode(message.get_content_charset() or "utf-8")
    link = re.search(r"http://\S+/candidature\?jeton=\S+", body).group(0)
    assert link.startswith(app_url)

    # 4. The recruiter moves the application through the pipeline.
    nav_link(recruiter, "Candidatures reçues").click()
    expect_page(recruiter, "Candidatures reçues")
    with recruiter.expect_download() as download:
        recruiter.get_by_role("button", name="Télécharger le CV (cv-lea.pdf)").click()
    assert download.value.suggested_filename == "cv-lea.pdf"
    served = recruiter.context.request.get(download.value.url).headers  # saved, never opened in the browser
    assert served["content-type"] == "application/pdf"
    assert served["content-disposition"].startswith("attachment;")
    for status in ("En cours d'examen", "Entretien"):
        choose_in_selectbox(recruiter, "Nouveau statut", status)
        recruiter.get_by_role("button", name="Enregistrer le statut").click()
        alert(recruiter, "Success", f"Statut : {status}.").wait_for()
        wait_for_run(recruiter)

    # 5. The candidate sees the new status through the private link.
    candidate.goto(link)
    expect_page(candidate, "Ma candidature")
    expect(candidate.get_by_test_id("stMetricValue")).to_have_text("Entretien")

    # 6. A refusal « Autre »: its detail, the exact message shown, « Annuler » sends nothing, « Confirmer l'envoi »
    # sends it.
    choose_in_selectbox(recruiter, "Nouveau statut", "Non retenue")
    choose_in_selectbox(recruiter, "Motif", "Autre")
    fill(recruiter, "Précisez le motif (une phrase d'au moins 15 caractères, reprise dans le message)", "Trop court")
    recruiter.get_by_role("button", name="Enregistrer le statut").click()
    alert(recruiter, "Error", MESSAGES["rejection_detail_too_short"].format(minimum=15)).wait_for()
    detail = "Le poste est supprimé du budget 2027."
    fill(recruiter, "Précisez le motif (une phrase d'au moins 15 caractères, reprise dans le message)", detail)
    recruiter.keyboard.press("Enter")
    wait_for_run(recruiter)
    recruiter.get_by_label("Message à la personne (modifiable ; vous le relirez avant l'envoi)").wait_for()
    recruiter.get_by_role("button", name="Enregistrer le statut").click()
    preview = recruiter.locator(".st-key-pipeline_preview")
    expect(preview).to_contain_text(f"À : {CANDIDATE}")
    expect(preview.get_by_test_id("stCode")).to_contain_text(detail)
    recruiter.get_by_role("button", name="Annuler").click()
    alert(recruiter, "Info", "Envoi annulé : rien n'a été envoyé ni changé.").wait_for()
    expect(preview).to_have_count(0)
    recruiter.get_by_role("button", name="Enregistrer le statut").click()
    expect(preview.get_by_test_id("stCode")).to_contain_text(detail)
    recruiter.get_by_role("button", name="Confirmer l'envoi").click()
    sent = alert(recruiter, "Success", "Statut : Non retenue. Le message a été envoyé.")
    expect(sent).to_be_in_viewport()
    with factory() as session:
        [refusal] = [m for m in mail.list_messages(session) if m.kind == "application_rejected"]
    assert refusal.recipient == CANDIDATE and f"\n{detail}\nNous ne pouvons donc pas" in refusal.body


def expect_title_field(page: Page, value: str) -> None:
    """Wait until the page shows one posting form, whose title field has this value (during a run, the previous
    form may still be shown next to the new one)."""
    page.wait_for_function(
        """(value) => {
            const fields = [...document.querySelectorAll("input[aria-label='Intitulé du poste']")];
            return fields.length === 1 && fields[0].value === value;
        }""",
        arg=value,
    )


def posting_title(factory: sessionmaker[Session], posting_id: int) -> tuple[str, str]:
    from pvd_survey.models import JobPosting

    with factory() as session:
        posting = session.get_one(JobPosting, posting_id)
        return posting.title, posting.status


@screenshot_on_failure
def test_publish_puts_the_edit_on_screen_on_line_and_the_next_action_is_not_lost(
    request: pytest.FixtureRequest, pages: Pages, app_url: str, seeded: Seeded, factory: sessionmaker[Session]
) -> None:
    with factory.begin() as session:
        draft = recruitment.create_posting(session, seeded.users["recruteur"], posting_input(title="Version 2")).id
    recruiter = pages.new()
    sign_in(recruiter, app_url, "recruteur")
    recruiter.goto(f"{app_url}/mes-offres?offre={draft}")  # a shared link opens that posting
    expect_page(recruiter, "Mes offres")
    expect(selectbox(recruiter, "Offre")).to_have_value(f"n° {draft} · Version 2 (Brouillon)")
    expect_title_field(recruiter, "Version 2")
    title = recruiter.get_by_label("Intitulé du poste", exact=True)
    title.fill("Version 3")
    recruiter.get_by_role("button", name="Publier").click()
    alert(recruiter, "Success", "Offre enregistrée et publiée sur la page « Offres d'emploi ».").wait_for()
    assert posting_title(factory, draft) == ("Version 3", "published")
    # The public page shows the edit.
    candidate = pages.new()
    candidate.goto(f"{app_url}/offres?offre={draft}")
    expect_page(candidate, "Offres d'emploi")
    candidate.get_by_role("heading", name="Version 3").wait_for()

    # The next action after « Publier » is not lost: the selector's label changed, the choice did not.
    wait_for_run(recruiter)
    expect(selectbox(recruiter, "Offre")).to_have_value(f"n° {draft} · Version 3 (Publiée)")
    expect_title_field(recruiter, "Version 3")  # the form reloaded with the version published
    title.fill("Version 4")
    recruiter.get_by_role("button", name="Enregistrer").click()
    saved = alert(recruiter, "Success", "Offre enregistrée.")
    saved.wait_for()
    expect(saved).to_be_in_viewport()  # next to the action, not at the top of the page
    assert posting_title(factory, draft) == ("Version 4", "published")
    recruiter.get_by_role("heading", name="Modifier l'offre").wait_for()
    assert re.search(rf"[?&]offre={draft}\b", recruiter.url)
    recruiter.reload()  # a reload shows the same posting
    expect_page(recruiter, "Mes offres")
    expect(selectbox(recruiter, "Offre")).to_have_value(f"n° {draft} · Version 4 (Publiée)")
    expect_title_field(recruiter, "Version 4")

    # Another posting chosen goes to the address; the back button shows the previous one again.
    with factory.begin() as session:
        other = recruitment.create_posting(session, seeded.users["recruteur"], posting_input(title="Autre offre")).id
    recruiter.reload()
    expect_page(recruiter, "Mes offres")
    choose_in_selectbox(recruiter, "Offre", f"n° {other} · Autre offre (Brouillon)")
    expect(recruiter).to_have_url(re.compile(rf"[?&]offre={other}$"))
    expect_title_field(recruiter, "Autre offre")
    recruiter.go_back()
    expect(recruiter).to_have_url(re.compile(rf"[?&]offre={draft}$"))
    expect(selectbox(recruiter, "Offre")).to_have_value(f"n° {draft} · Version 4 (Publiée)")
    expect_title_field(recruiter, "Version 4")


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1366, 768)], ids=["phone", "laptop"])
@screenshot_on_failure
def test_after_applying_the_confirmation_replaces_the_form_in_view(
    request: pytest.FixtureRequest,
    pages: Pages,
    app_url: str,
    seeded: Seeded,
    factory: sessionmaker[Session],
    width: int,
    height: int,
) -> None:
    from pvd_survey.models import JobApplication

    with factory.begin() as session:
        draft = recruitment.create_posting(
            session, seeded.users["recruteur"], posting_input(title=TITLE, description="Un long texte.\n\n" * 40)
        )
        recruitment.publish_posting(session, seeded.users["recruteur"], draft.id)
    candidate = pages.new()
    candidate.set_viewport_size({"width": width, "height": height})
    console: list[str] = []
    candidate.on("console", lambda message: console.append(message.text))
    candidate.goto(f"{app_url}/offres?offre={draft.id}")
    expect_page(candidate, "Offres d'emploi")
    fill(candidate, "Nom et prénom", "Léa Martin")
    fill(candidate, "Adresse e-mail", CANDIDATE)
    attach_cv(candidate)
    candidate.get_by_text("J'ai lu la notice de confidentialité et j'accepte ce traitement.").click()
    send = candidate.get_by_role("button", name="Envoyer ma candidature")
    send.scroll_into_view_if_needed()
    assert candidate.evaluate("document.querySelector('[data-testid=stMain]').scrollTop") > height  # far down
    send.click()
    confirmation = candidate.locator(".st-key-jobs_confirmation")
    confirmation.wait_for()
    wait_for_run(candidate)
    with factory() as session:
        reference = session.scalar(select(JobApplication.reference))
    expect(confirmation).to_contain_text(f"Candidature envoyée. Votre référence : {reference}.")
    expect(confirmation).to_contain_text("La suite")
    expect(confirmation).to_contain_text(CANDIDATE)
    # The keyboard focus is on it too (RGAA 7.1, 11.10): a screen reader reads it at once.
    candidate.wait_for_function("() => document.activeElement.closest('.st-key-jobs_confirmation') !== null")
    # At the top of the screen, whole; the form and its PDF are gone.
    box = confirmation.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height, box
    assert box["y"] < height / 3, box
    expect(candidate.get_by_role("button", name="Envoyer ma candidature")).to_have_count(0)
    expect(candidate.get_by_test_id("stFileUploader")).to_have_count(0)
    expect(candidate.get_by_text("cv-lea.pdf")).to_have_count(0)
    assert not [text for text in console if "Content Security Policy" in text]  # the scroll script was allowed
