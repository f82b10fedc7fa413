"""Every page's address opened among the first requests of a freshly started server shows the app's own menu
(Chromium).

What is guarded (streamlit_app.py): Streamlit decides once per process, when the first session is created, whether
the app uses its older "pages/ directory" mode, and runs in that mode every script run that starts before the first
`st.navigation` call of the process. In that mode an address naming a file of pages/ (`/dashboard`, `/login`...)
draws that file alone under a menu of file names in English; other addresses fall back to the entry script. So the
failure belongs to the first sessions of a process, whichever page they open: each fresh server here receives a few
pages at once as its very first requests (checked: without the fix, every such page of a group opened together
showed the wrong menu), the addresses naming a file of pages/ first in each group, each page in a tab of its own
(its own session) in one browser context per server. Three servers instead of one per page.

Its own module so that pytest-xdist (one browser module per worker) runs it beside the other browser tests.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from pvd_survey import access
from tests.browser_support import Pages, expect_nav, running_servers, screenshot_on_failure, wait_for_run
from tests.conftest import PROJECT_ROOT

# Run once, on SQLite: Streamlit's first-run navigation, whatever the database (see conftest).
pytestmark = [pytest.mark.browser, pytest.mark.database_independent]

DEEP_LINK_PAGES = [spec for spec in access.PAGES if spec.key not in ("home", "setup")]
PAGES_PER_SERVER = 9  # opened together, all within the first script runs of their server
SERVERS_AT_ONCE = 3


def _names_a_page_file(spec: access.PageSpec) -> bool:
    """The address is also the name of a file of pages/ (the old mode would draw that file alone)."""
    return (PROJECT_ROOT / "pages" / f"{spec.url_path}.py").exists()


def _groups() -> list[list[access.PageSpec]]:
    """The pages dealt to the servers, those naming a file of pages/ first, so each leads a group."""
    ordered = sorted(DEEP_LINK_PAGES, key=lambda spec: not _names_a_page_file(spec))
    count = -(-len(ordered) // PAGES_PER_SERVER)
    return [ordered[index::count] for index in range(count)]


def test_every_deep_link_page_is_in_a_group_and_some_name_a_page_file() -> None:
    groups = _groups()
    assert sorted(spec.key for group in groups for spec in group) == sorted(spec.key for spec in DEEP_LINK_PAGES)
    assert all(len(group) <= PAGES_PER_SERVER for group in groups)
    assert sum(_names_a_page_file(group[0]) for group in groups) >= 2  # the test's positive control is exercised


@screenshot_on_failure
def test_every_page_opened_first_on_a_freshly_started_server_shows_the_apps_menu(
    request: pytest.FixtureRequest, pages: Pages, seeded, database_url: str, tmp_path
) -> None:
    groups = _groups()
    for start in range(0, len(groups), SERVERS_AT_ONCE):
        batch = groups[start : start + SERVERS_AT_ONCE]
        with running_servers(database_url, tmp_path, len(batch)) as servers:
            opened = []
            # Every page of a group is requested before any is waited for: all are among the first sessions. Each
            # tab is a session of its own; the tabs of one server share a context (its cache: the static files are
            # fetched and compiled once per server, not once per page).
            for group, server in zip(batch, servers, strict=True):
                first = pages.new()
                tabs = [first, *(first.context.new_page() for _ in group[1:])]
                for spec, page in zip(group, tabs, strict=True):
                    page.goto(f"{server.url}/{spec.url_path}", wait_until="commit")
                    opened.append((spec, page))
            for spec, page in opened:
                wait_for_run(page)
                expect_nav(page, None)  # the app's French menu, not Streamlit's list of files
                body = page.get_by_test_id("stSidebar").inner_text()
                assert "streamlit app" not in body and "admin outbox" not in body, spec.url_path
                expect(page.get_by_test_id("stException")).to_have_count(0)
            for context in {id(page.context): page.context for _, page in opened}.values():
                context.close()
                pages.contexts.remove(context)
