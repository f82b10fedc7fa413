"""Streamlit's own words in French: the pages use ui's widgets, and the script that renames the rest may run.

What the person sees and hears is checked in Chromium on every page (test_browser_accessibility.py: no English
from ENGLISH, in text or in aria-label, title and placeholder); the survey's checkboxes in test_survey_pages.py.
"""

from __future__ import annotations

import re

import pytest

from pvd_survey import web
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.database_independent  # reads files and constants only

# Streamlit's widgets that speak English unless given French words: the pages call ui's versions instead.
ENGLISH_BY_DEFAULT = {
    "st.multiselect(": "ui.multiselect (no « Select all », a French prompt)",
    "st.file_uploader(": "ui.file_upload (the real limit, 5 Mo for a PDF)",
    ".date_input(": "ui.date_input (jj/mm/aaaa)",
}


@pytest.mark.parametrize("path", sorted((PROJECT_ROOT / "pages").glob("*.py")), ids=lambda path: path.name)
def test_pages_use_the_french_widgets(path) -> None:
    source = path.read_text(encoding="utf-8")
    for call, instead in ENGLISH_BY_DEFAULT.items():
        assert call not in source.replace("ui.date_input(", ""), f"{path.name}: {call} → {instead}"


def test_the_french_script_runs_under_the_content_security_policy() -> None:
    policy = web.SECURITY_HEADERS["content-security-policy"]
    assert web.script_hash(web.FRENCH_SCRIPT) in policy and "'unsafe-inline'" not in policy.split(";")[1]
    # st.html drops a block holding `<` before a letter or `/`: the script must have none.
    assert not re.search(r"<[A-Za-z/]", web.FRENCH_SCRIPT)
    entry = (PROJECT_ROOT / "main_page.py").read_text(encoding="utf-8")
    assert "ui.french_widgets()" in entry  # on every page, once per run


def _streamlit_like_app():
    """Streamlit's own behaviour for any address: its index page (the web layer's middleware around it)."""
    from pathlib import Path

    import streamlit
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    index = (Path(streamlit.__file__).parent / "static" / "index.html").read_text(encoding="utf-8")
    app = Starlette(routes=[Route("/{path:path}", lambda request: HTMLResponse(index))], middleware=web.middleware())
    return TestClient(app, base_url="http://pvd.test")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 200),
        ("/offres", 200),
        ("/tableau-de-bord-inconnu", 404),
        ("/offres/x", 404),
        ("/dashboard/", 200),
        ("/home", 404),  # the home page's address is the root (see the accessibility scan)
    ],
)
def test_an_unknown_address_is_a_french_page_not_found(path: str, status: int) -> None:
    response = _streamlit_like_app().get(path, headers={"accept": "text/html"})
    assert response.status_code == status
    assert '<html lang="fr">' in response.text
    if status == 404:
        assert "<h1>Page introuvable</h1>" in response.text and '<a href="/">Accueil</a>' in response.text
        assert response.headers["content-security-policy"] == web.CONTENT_SECURITY_POLICY
    else:
        assert "Page introuvable" not in response.text
