"""The recruitment journey in a real browser (Debian's Chromium against `streamlit run`): a recruiter publishes a
posting, a candidate finds it with a filter and applies with a PDF, the e-mail reaches a real SMTP server, the
recruiter moves the application through the pipeline, and the candidate sees the new status via the private link.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from pvd_survey import mail, recruitment
from pvd_survey.config import Settings
from pvd_survey.demo import sample_pdf
from tests.browser_support import (
    Pages,
    Seeded,
    alert,
    choose_in_selectbox,
    expect_page,
    nav_link,
    screenshot_on_failure,
    sign_in,
    wait_for_run,
)
from tests.conftest import SmtpServer
from tests.factories import posting_input

pytestmark = pytest.mark.browser

CANDIDATE = "lea.martin@example.fr"
TITLE = "Cheffe de projet revitalisation du Montbardois"


def fill(page: Page, label: str, value: str) -> None:
    page.get_by_label(label, exact=True).fill(value)


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
    expect(alert(recruiter, "Success", "Brouillon créé : relisez-le puis publiez-le.")).to_be_visible()
    recruiter.get_by_role("button", name="Publier").click()
    expect(alert(recruiter, "Success", "Offre publiée sur la page « Offres d'emploi ».")).to_be_visible()

    # 2. A candidate finds it with a filter and applies with a PDF.
    candidate = pages.new()
    candidate.goto(app_url)
    expect_page(candidate, "Petites villes de demain")
    nav_link(candidate, "Offres d'emploi").click()
    expect_page(candidate, "Offres d'emploi")
    expect(candidate.get_by_role("heading", name="2 offre(s)")).to_be_visible()
    choose_in_selectbox(candidate, "Région", "Bourgogne-Franche-Comté")
    expect(candidate.get_by_role("heading", name="1 offre(s)")).to_be_visible()
    expect(candidate.get_by_text("Chargée de mission Revel")).to_have_count(0)
    candidate.get_by_role("button", name="Voir l'offre et postuler").click()
    expect(candidate.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(candidate.locator("strong", has_text="au cœur")).to_be_visible()  # Markdown rendered
    assert re.search(r"[?&]offre=\d+", candidate.url)
    wait_for_run(candidate)
    fill(candidate, "Nom et prénom", "Léa Martin")
    fill(candidate, "Adresse e-mail", CANDIDATE)
    fill(candidate, "Téléphone (facultatif)", "06 12 34 56 78")
    candidate.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(
        files=[{"name": "cv-lea.pdf", "mimeType": "application/pdf", "buffer": sample_pdf("Léa Martin")}]
    )
    expect(candidate.get_by_text("cv-lea.pdf")).to_be_visible()
    candidate.get_by_text("J'ai lu la notice de confidentialité et j'accepte ce traitement.").click()
    candidate.get_by_role("button", name="Envoyer ma candidature").click()
    success = candidate.get_by_test_id("stAlertContentSuccess").filter(has_text="Candidature envoyée.")
    expect(success).to_be_visible()

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
    expect(recruiter.get_by_role("button", name="Télécharger le CV (cv-lea.pdf)")).to_be_visible()
    for status in ("En cours d'examen", "Entretien"):
        choose_in_selectbox(recruiter, "Nouveau statut", status)
        recruiter.get_by_role("button", name="Enregistrer le statut").click()
        expect(alert(recruiter, "Success", f"Statut : {status}.")).to_be_visible()
        wait_for_run(recruiter)

    # 5. The candidate sees the new status through the private link.
    candidate.goto(link)
    expect_page(candidate, "Ma candidature")
    expect(candidate.get_by_test_id("stMetricValue")).to_have_text("Entretien")
