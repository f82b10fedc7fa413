"""Every page's address opened first on a freshly started server shows the app's own menu (Chromium).

Its own module so that pytest-xdist (one module per worker) can run it beside the other browser tests: it starts
one server per page.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from pvd_survey import access
from tests.browser_support import Pages, expect_nav, running_servers, screenshot_on_failure, wait_for_run

# Run once, on SQLite: Streamlit's first-run navigation, whatever the database (see conftest).
pytestmark = [pytest.mark.browser, pytest.mark.database_independent]

DEEP_LINK_PAGES = [spec for spec in access.PAGES if spec.key not in ("home", "setup")]


@screenshot_on_failure
def test_every_page_opened_first_on_a_freshly_started_server_shows_the_apps_menu(
    request: pytest.FixtureRequest, pages: Pages, seeded, database_url: str, tmp_path
) -> None:
    # One fresh server per page, a few started together: each page's address is the first request of its server.
    batch = 3
    for start in range(0, len(DEEP_LINK_PAGES), batch):
        specs = DEEP_LINK_PAGES[start : start + batch]
        with running_servers(database_url, tmp_path, len(specs)) as servers:
            opened = []
            for spec, server in zip(specs, servers, strict=True):
                page = pages.new()
                page.goto(f"{server.url}/{spec.url_path}", wait_until="commit")
                opened.append((spec, page))
            for spec, page in opened:
                wait_for_run(page)
                expect_nav(page, None)  # the app's French menu, not Streamlit's list of files
                body = page.get_by_test_id("stSidebar").inner_text()
                assert "streamlit app" not in body and "admin outbox" not in body, spec.url_path
                expect(page.get_by_test_id("stException")).to_have_count(0)
                page.context.close()
                pages.contexts.remove(page.context)
