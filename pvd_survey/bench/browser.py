"""What the Chromium benchmarks (proxy, web) do in a page: launch arguments, waiting for a run, filling forms.

Async Playwright against `streamlit run`; the same selectors as tests/browser_support.py (whose helpers are sync and
belong to the tests).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from playwright.async_api import Browser, BrowserContext, Page

    Timed = Callable[[Awaitable[None]], Awaitable[object]]  # wraps a step of a visit (e.g. to take its server CPU)

# Debian's Chromium in its headless build (package chromium-headless-shell: the same engine, without the desktop
# browser's machinery; what Playwright itself runs headless). A page load costs it about 1 s of CPU on this machine,
# the full /usr/bin/chromium in headless mode about 2.2 s: the browser tests and benchmarks are mostly that.
CHROMIUM = "/usr/bin/chromium-headless-shell"
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


async def choose_in_multiselect(page: Page, label: str, option: str) -> None:
    """Tick one option of a multiselect, again (three times at most) while a redraw closes the list under the click."""
    widget = page.get_by_test_id("stMultiSelect").filter(has_text=label)
    for attempt in range(3):
        await wait_for_run(page)
        await widget.get_by_role("combobox").click()
        try:
            await page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
        except Exception:  # Playwright's timeout: the list closed before the click
            if attempt == 2:
                raise
        await page.keyboard.press("Escape")
        await wait_for_run(page)
        if await widget.get_by_text(option, exact=True).count():
            return


async def _sent(page: Page, button: str, answer: str) -> None:
    """Click the form's button, until the answer shows."""
    await page.get_by_role("button", name=button).click()
    await page.get_by_text(answer, exact=False).first.wait_for()


async def register_once(
    browser: Browser, url: str, title: str, name: str, email: str, timed: Timed | None = None
) -> None:
    """A new visitor (a new browser context) registers on the meeting's page at `url`, until it is confirmed;
    `timed`, if given, wraps the sending alone (the click until the confirmation)."""
    context = await new_context(browser)
    page = await context.new_page()
    await page.goto(url)
    await drawn(page, title)
    await choose_in_selectbox(page, "Vous êtes", "Chef de projet")
    await page.get_by_label("Prénom et nom").fill(name)
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_text("J'ai lu et j'accepte la notice ci-dessus").click()
    sending = _sent(page, "M'inscrire", "Inscription confirmée.")
    await (timed(sending) if timed else sending)
    await context.close()


async def submit_survey(browser: Browser, link: str, timed: Timed | None = None) -> None:
    """A new visitor opens a personal survey link, answers the seven questions and sends them, until thanked;
    `timed`, if given, wraps the sending alone."""
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
    await choose_in_multiselect(page, "Domaine(s)", "Architecture")
    await choose_in_selectbox(page, "Département du poste", "21 – Côte-d'Or")
    await page.get_by_text(re.compile(r"^Brouillon enregistré à")).wait_for()
    sending = _sent(page, "Envoyer mes réponses", "Merci ! Vos réponses sont enregistrées.")
    await (timed(sending) if timed else sending)
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
