"""What the Chromium benchmarks (proxy, web) do in a page: launch arguments, waiting for a run, filling forms.

Async Playwright against `streamlit run`; the same selectors as tests/browser_support.py (whose helpers are sync and
belong to the tests).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-quic"]
TIMEOUT_MS = 120_000
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
SURVEY_TITLE = "Questionnaire : le profil des chefs de projet"


async def new_context(browser: Browser) -> BrowserContext:
    """A new visitor: no cookies, no cache."""
    context = await browser.new_context(locale="fr-FR")
    context.set_default_timeout(TIMEOUT_MS)
    return context


async def wait_for_run(page: Page) -> None:
    """Wait until the script run under way (if any) is over."""
    await page.locator(IDLE).wait_for()


async def drawn(page: Page, heading: str) -> None:
    """Wait until the page is drawn: its title (st.title) shows and no script run is under way."""
    await page.get_by_role("heading", level=1, name=heading).first.wait_for()
    await wait_for_run(page)


async def choose_in_selectbox(page: Page, label: str, option: str) -> None:
    """Pick an option of a Streamlit selectbox (typing filters the long lists), once the page's run is over: a run
    ending afterwards would redraw the list under the click."""
    await wait_for_run(page)
    box = page.get_by_test_id("stSelectbox").filter(has_text=label).get_by_role("combobox")
    await box.click()
    await box.fill(option)
    await page.get_by_role("option", name=option, exact=True).click()
    await wait_for_run(page)


async def choose_radio(page: Page, label: str, option: str) -> None:
    await page.get_by_test_id("stRadio").filter(has_text=label).get_by_text(option, exact=True).click()
    await wait_for_run(page)


async def tick(page: Page, label: str) -> None:
    """Tick a checkbox by its label."""
    await page.get_by_test_id("stCheckbox").filter(has_text=label).get_by_text(label, exact=True).click()
    await wait_for_run(page)


async def register_once(browser: Browser, url: str, title: str, name: str, email: str) -> None:
    """A new visitor (a new browser context) registers on the meeting's page at `url`, until it is confirmed."""
    context = await new_context(browser)
    page = await context.new_page()
    await page.goto(url)
    await drawn(page, title)
    await choose_in_selectbox(page, "Vous êtes", "Chef de projet")
    await page.get_by_label("Prénom et nom").fill(name)
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_text("J'ai lu et j'accepte la notice ci-dessus").click()
    await page.get_by_role("button", name="M'inscrire").click()
    await page.get_by_text("Inscription confirmée.", exact=False).first.wait_for()
    await context.close()


async def submit_survey(browser: Browser, link: str) -> None:
    """A new visitor opens a personal survey link, answers the seven questions and sends them, until thanked."""
    context = await new_context(browser)
    page = await context.new_page()
    await page.goto(link)
    await drawn(page, SURVEY_TITLE)
    await choose_in_selectbox(page, "Date de prise de poste", "mars 2022")
    for label, option in (
        ("Employeur", "Une commune"),
        ("Genre", "Homme"),
        ("Expérience professionnelle", "Entre un et cinq ans"),
        ("Diplôme le plus élevé", "Bac+4 ou bac+5"),
    ):
        await choose_radio(page, label, option)
    await tick(page, "Architecture")
    await choose_in_selectbox(page, "Département du poste", "21 – Côte-d'Or")
    await page.get_by_text(re.compile(r"^Brouillon enregistré à")).wait_for()
    await page.get_by_role("button", name="Envoyer mes réponses").click()
    await page.get_by_text("Merci ! Vos réponses sont enregistrées.", exact=False).first.wait_for()
    await context.close()


async def sign_in(browser: Browser, base: str, email: str, password: str) -> BrowserContext:
    """A browser context signed in with this account (the session cookie), its login page closed."""
    context = await new_context(browser)
    page = await context.new_page()
    await page.goto(f"{base}/login")
    await drawn(page, "Connexion")
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_label("Mot de passe", exact=True).fill(password)
    await page.get_by_role("button", name="Se connecter").click()
    await drawn(page, "Petites villes de demain")
    await page.close()
    return context
