"""axe-core (WCAG 2.1 A and AA rules) and no English on every page, for every role, in Debian's Chromium.

One browser page per role walks through the menu and the footer; the anonymous visitor also opens every other
page by its address: those reached by a personal link (survey, registration, application, password) and the
pages a role may not see (where the guard answers, the same markup on each: scanned once). A
page whose script reads no user beyond its guard (ROLE_INDEPENDENT, checked against the page files) draws the same
content for everyone, so it is scanned once, for the first role of ROLES that may see it; every other page is
scanned for every role that sees it. The data is the demo data (`seed-demo`) plus one registration and one password
link, seeded once for the module.

Violations are sorted by where their nodes are: inside markup that Streamlit draws itself (its menu, header,
toolbar: the app has no say over it) or in the app's own content. The test fails on the latter only; both
are printed (run with `-s`) and written to test-artifacts/accessibility-<database>-<role>.json.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select

from pvd_survey import access, accounts, dashboard, db, demo, mail, meetings, notifications
from pvd_survey.config import load_settings
from pvd_survey.models import Base, JobPosting, Meeting, OutboxMessage, utcnow
from tests.browser_support import (
    ARTIFACTS,
    ORGANISATION_NAME,
    Pages,
    create_people,
    expect_nav,
    expect_page,
    expected_heading,
    nav_link,
    open_dashboard_section,
    screenshot_on_failure,
    sign_in,
    wait_for_run,
)
from tests.conftest import PROJECT_ROOT, STRONG_PASSWORD, TEST_BACKEND, TEST_SECRET_KEY

# Run once, on SQLite: the markup axe-core scans is the same on either database (see conftest).
pytestmark = [pytest.mark.browser, pytest.mark.database_independent]

# The dashboard's self-refresh (every 4 s in the other browser tests) would keep its page running on a loaded
# machine, and axe must scan a page at rest: here it refreshes every 10 minutes.
APP_SERVER_ENV = {"PVD_DASHBOARD_REFRESH_SECONDS": "600"}
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
AXE = Axe()

# Parts of the page that Streamlit draws itself, whatever the app does (data-testid of their container).
STREAMLIT_OWNED = (
    "stSidebarNav",  # the menu of st.navigation
    "stSidebarHeader",
    "stSidebarCollapseButton",
    "stExpandSidebarButton",
    "stHeader",
    "stToolbar",
    "stDecoration",
    "stStatusWidget",
    "stMainMenu",
)
# Where each node of a violation sits: the Streamlit-owned container holding it, or null (the app's content).
# A target is a list of selectors when the node is in an iframe or a shadow root: the last one finds it there.
LOCATE_NODES = """([targets, owned]) => targets.map((target) => {
    let root = document;
    for (const selector of target.slice(0, -1)) {
        const host = root.querySelector(selector);
        if (!host) return "introuvable";
        root = host.contentDocument || host.shadowRoot || host;
    }
    const element = root.querySelector(target[target.length - 1]);
    if (!element) return "introuvable";
    for (const id of owned) {
        if (element.closest(`[data-testid="${id}"]`)) return id;
    }
    return null;
})"""

# English that Streamlit writes unless given French words (ui's widgets, ui.french_widgets): none may be seen, nor
# heard (aria-label, title, placeholder), in the app's content or in Streamlit's own markup. Whole words, case kept.
ENGLISH = (
    "Skip to main content",
    "Main menu",
    "Upload",
    "per file",
    "Drag and drop",
    "Browse files",
    "file upload",
    "Add files",
    "add icon",
    "Selected values",
    "Remove",
    "Clear all",
    "Clear value",
    "Clear entry",
    "Select all",
    "Open",
    "Close",
    "Choose an option",
    "Choose options",
    "Choose date",
    "No results",
    "Page not found",
    "dd",
    "yyyy",
    "day",
    "month",
    "year",
    "Show password",
    "Hide password",
    "Fullscreen",
    "Download as CSV",
    "Search",
    "Show/hide columns",
    "Increment",
    "Decrement",
    "Selected Date",
    "Selected Time",
    "Press Enter",
    "options available",
    "Running",
    "Deploy",
    "Previous",
    "Next",
    "App pages",
    "Sidebar",
    "sidebar",
    "Navigate to",
    "Link to heading",
    "Theme",
    "Stop script",
    "Scroll tabs",
    "Markdown content",
    "column",
)
# Every text node (visible or only read out) and every aria-label, title and placeholder of the document, apart
# from Material icons' ligatures (`upload` draws an icon, hidden from assistive technologies): those matching.
FIND_ENGLISH = """(sources) => {
    const patterns = sources.map((source) => new RegExp(`(^|[^\\p{L}])${source}($|[^\\p{L}])`, "u"));
    const found = [];
    const check = (where, text, element) => {
        if (!patterns.some((pattern) => pattern.test(text))) return;
        const owner = element.closest("[data-testid]");  // where on the page, to find it again
        found.push(`${where} (${owner ? owner.dataset.testid : "document"}): ${text.trim().slice(0, 120)}`);
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
        const parent = walker.currentNode.parentElement;
        if (parent && !parent.closest("script, style, noscript, [data-testid='stIconMaterial']")) {
            check("texte", walker.currentNode.nodeValue, parent);
        }
    }
    for (const name of ["aria-label", "title", "placeholder"]) {
        for (const element of document.querySelectorAll(`[${name}]`)) check(name, element.getAttribute(name), element);
    }
    return found;
}"""

# Pages scanned through a working personal link (the recruiter request form opens without one, so it is not here).
PERSONAL_LINK_PAGES = ("survey", "registration", "application", "set_password", "subscription")
ROLES = ["anonyme", "recruteur", "direction", "admin"]
# Pages whose script reads no user beyond its guard (test_role_independent_pages_read_no_user): the content is the
# same whoever is signed in (the sidebar's name and role are scanned on the role's other pages).
ROLE_INDEPENDENT = frozenset(
    {
        "meetings",
        "jobs",
        "dashboard",
        "invitations",
        "meetings_admin",
        "organisations",
        "legal_notice",
        "personal_data",
        "accessibility",
    }
)


def _access_role(role: str) -> str | None:
    return None if role == "anonyme" else role


def scanned_for(spec: access.PageSpec, role: str) -> bool:
    """Whether this role's scan covers this page: every page it may see, but a role-independent page only once."""
    if spec.key not in ROLE_INDEPENDENT:
        return True
    first = next(r for r in ROLES if access.can_view(spec.key, _access_role(r), setup_needed=False))
    return first == role


@dataclass
class Findings:
    """Violations seen on one role's pages, split between the app's content and Streamlit's own markup."""

    role: str
    app: list[dict] = field(default_factory=list)
    streamlit: list[dict] = field(default_factory=list)
    scanned: list[str] = field(default_factory=list)
    rules: set[str] = field(default_factory=set)  # every axe rule run (passed, failed, to review, not applicable)
    languages: dict[str, str] = field(default_factory=dict)  # page -> the lang attribute of its document
    english: list[str] = field(default_factory=list)  # page: where, the English text

    def scan(self, page: Page, label: str) -> None:
        """Run axe on the page as drawn now and file each violating node."""
        wait_for_run(page)
        # Streamlit changes pages without reloading the document: axe-core is injected once per document.
        if page.evaluate("typeof window.axe") == "undefined":
            page.evaluate(AXE.axe_script)
        response = page.evaluate("(options) => axe.run(document, options)", AXE_OPTIONS)
        assert response.get("testEngine", {}).get("version", "").startswith("4."), "axe-core did not run"
        self.scanned.append(label)
        for kind in ("passes", "violations", "incomplete", "inapplicable"):
            self.rules.update(rule["id"] for rule in response.get(kind, []))
        self.languages[label] = page.evaluate("document.documentElement.lang")
        self.english += [f"{label} {found}" for found in page.evaluate(FIND_ENGLISH, list(ENGLISH))]
        for violation in response["violations"]:
            targets = [node["target"] for node in violation["nodes"]]
            owners = page.evaluate(LOCATE_NODES, [targets, list(STREAMLIT_OWNED)])
            for node, owner in zip(violation["nodes"], owners, strict=True):
                entry = {
                    "page": label,
                    "rule": violation["id"],
                    "impact": violation["impact"],
                    "target": node["target"],
                    "html": node["html"][:300],
                    "summary": node.get("failureSummary", ""),
                }
                if owner is None or owner == "introuvable":
                    self.app.append(entry)
                else:
                    self.streamlit.append({**entry, "owner": owner})

    def report(self) -> str:
        """Counts per rule and page, then every node in the app's content."""
        lines = [
            f"axe-core, rôle {self.role}: {len(self.scanned)} écrans analysés, {len(self.rules)} règles, "
            f"langues des pages {sorted(set(self.languages.values()))}"
        ]
        for name, entries in (("contenu de l'application", self.app), ("balisage de Streamlit", self.streamlit)):
            by_rule = Counter(entry["rule"] for entry in entries)
            lines.append(f"  {name}: {len(entries)} nœud(s) " + json.dumps(dict(sorted(by_rule.items()))))
            for (page, rule), count in sorted(Counter((e["page"], e["rule"]) for e in entries).items()):
                lines.append(f"    {page}: {rule} × {count}")
        for entry in self.app:
            lines.append(f"  ! {entry['page']} {entry['rule']} {entry['target']} {entry['html'][:160]}")
        lines += [f"  anglais : {found}" for found in sorted(set(self.english))]
        # Streamlit's own: one example node per rule and container (the same markup repeats on every page).
        examples = {(entry["rule"], entry["owner"]): entry for entry in reversed(self.streamlit)}
        for (rule, owner), entry in sorted(examples.items()):
            lines.append(
                f"  streamlit {owner} {rule}: {entry['html'][:120]} ({entry['summary'].splitlines()[-1].strip()})"
            )
        return "\n".join(lines)

    def save(self) -> None:
        """Keep the findings as a test artefact."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"accessibility-{TEST_BACKEND}-{self.role}.json"
        path.write_text(
            json.dumps(
                {
                    "role": self.role,
                    "scanned": self.scanned,
                    "rules": sorted(self.rules),
                    "languages": self.languages,
                    "english": self.english,
                    "app": self.app,
                    "streamlit": self.streamlit,
                },
                ensure_ascii=False,
                indent=1,
            )
        )


# ---------------------------------------------------------------------------- data, seeded once


@dataclass(frozen=True)
class World:
    """What the anonymous visitor opens by address: personal links and a meeting's and a posting's pages."""

    links: dict[str, str]  # page key -> path and query of a working personal link
    meeting_id: int
    posting_id: int


def _empty(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture(scope="module")
def world(engine: Engine, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The demo data, the three accounts of the browser tests and one personal link of each kind."""
    settings = load_settings(
        {
            "PVD_DATABASE_URL": database_url,
            "PVD_ARGON2_PROFILE": "fast-tests",
            "PVD_BASE_URL": "http://pvd.test",
            "PVD_SECRET_KEY": TEST_SECRET_KEY,
        },
        secrets_path=tmp_path_factory.mktemp("settings") / "no-secrets.toml",
    )
    _empty(engine)
    factory = db.make_session_factory(engine)
    with factory.begin() as session:
        users = create_people(session, settings).users
        demo.seed(session, settings, lambda: STRONG_PASSWORD)
    with factory.begin() as session:
        meeting_id = session.scalar(
            select(Meeting.id).where(Meeting.starts_at > utcnow(), Meeting.confirmed_count < Meeting.capacity)
        )
        meetings.register(
            session,
            meeting_id,
            meetings.RegistrationForm(
                full_name="Léa Martin",
                email="lea.martin@montbard.fr",
                attendee_role="chef_de_projet",
                organisation="Commune de Montbard",
                department="21",
                consent=True,
            ),
            settings,
        )
        password_link = accounts.issue_password_link(session, users["recruteur"].id, settings)
        posting_id = session.scalar(select(JobPosting.id).where(JobPosting.status == "published"))
        links = {"set_password": password_link}
        # A job alert's confirmation link: its e-mail is never listed (mail.UNLISTED_KINDS), read from the outbox.
        notifications.subscribe(session, settings, "alerte@example.fr", "27")
        links["subscription"] = session.scalar(
            select(OutboxMessage.link).where(OutboxMessage.kind == notifications.KIND_ALERT_CONFIRM)
        )
        for message in mail.list_messages(session):
            for spec in access.PAGES:
                if message.link and message.link.startswith(f"http://pvd.test/{spec.url_path}?jeton="):
                    links.setdefault(spec.key, message.link)
    yield World({key: link.removeprefix("http://pvd.test/") for key, link in links.items()}, meeting_id, posting_id)
    _empty(engine)


# ---------------------------------------------------------------------------- the scans


def _footer_pages(role: str | None) -> list[access.PageSpec]:
    """Hidden pages this role opens without a personal link (the footer's)."""
    return [
        spec
        for spec in access.allowed_pages(role, setup_needed=False)
        if spec.hidden and spec.key not in PERSONAL_LINK_PAGES
    ]


def _scan_anonymous(page: Page, app_url: str, world: World, findings: Findings) -> None:
    """Every page: the anonymous visitor's from the menu and the footer, the others by their address (personal
    links, and the guard of the pages refused)."""
    # The app's root first, as visitors come (the home page has no other address: /home is a page not found).
    page.goto(app_url)
    expect_page(page, "Petites villes de demain")
    menu = access.visible_pages(None, setup_needed=False)
    footer = _footer_pages(None)
    refused_scanned = False
    for spec in access.PAGES:
        if spec.key == "setup":
            continue  # only before the first administrator exists
        if refused_scanned and not access.can_view(spec.key, None, setup_needed=False):
            # A refused page draws its guard's message alone, the same markup for every page: scanned once below.
            # (That each page's guard refuses the signed-out visitor is test_pages.test_page_guard_refuses's job.)
            continue
        if spec in menu:
            nav_link(page, spec.title).click()  # the document stays: no page load, axe-core injected once
        elif spec in footer:
            page.get_by_test_id("stPageLink").filter(has_text=spec.title).first.click()
        else:
            path = world.links[spec.key] if spec.key in PERSONAL_LINK_PAGES else spec.url_path
            page.goto(f"{app_url}/{path}")
        if access.can_view(spec.key, None, setup_needed=False):
            if spec.key not in PERSONAL_LINK_PAGES:
                expect_page(page, expected_heading(spec))
            else:
                page.get_by_role("heading", level=1).first.wait_for()
                wait_for_run(page)
                expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
            findings.scan(page, spec.url_path)
        else:
            expect(page.get_by_test_id("stAlertContentError")).to_have_count(1)
            findings.scan(page, f"{spec.url_path} (refusée)")
            refused_scanned = True
    for path in (f"rencontres?rencontre={world.meeting_id}", f"offres?offre={world.posting_id}"):
        page.goto(f"{app_url}/{path}")
        wait_for_run(page)
        expect(page.get_by_role("button", name="M'inscrire").or_(page.get_by_text("Postuler"))).not_to_have_count(0)
        findings.scan(page, path)


def _chart_labels(page: Page) -> list[list[str]]:
    """Each chart's role and accessible name, on this screen."""
    charts = page.get_by_test_id("stVegaLiteChart")
    charts.first.wait_for()
    return charts.evaluate_all(
        "(charts) => charts.map((chart) => [chart.getAttribute('role'), chart.getAttribute('aria-label') || ''])"
    )


# Vega's SVG groups of chart text drawn on the white background (tile labels sit on their tile's colour instead).
CHART_TEXT = ", ".join(
    f"[data-testid=stVegaLiteChart] g.role-{role} text"
    for role in ("axis-label", "axis-title", "legend-label", "legend-title", "title-text", "title-subtitle")
)


def _contrast_on_white(fill: str) -> float:
    """WCAG contrast on white of an SVG fill as Chromium reports it (`rgb(r, g, b)` or `#rrggbb`)."""
    if fill.startswith("#"):
        channels = [int(fill[index : index + 2], 16) for index in (1, 3, 5)]
    else:
        channels = [int(part) for part in re.findall(r"\d+", fill)[:3]]
    linear = [c / 255 / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in channels]
    return 1.05 / (0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2] + 0.05)


def _expect_readable_chart_text(page: Page) -> set[str]:
    """The chart text on screen (axes, legends, titles) at 4.5:1 on white at least, as drawn, after Streamlit's
    theme (axe does not check text inside SVG); returns the fills seen."""
    fills = set(page.locator(CHART_TEXT).evaluate_all("(texts) => texts.map((t) => getComputedStyle(t).fill)"))
    assert all(_contrast_on_white(fill) >= 4.5 for fill in fills), fills
    return fills


def _scan_dashboard_sections(page: Page, findings: Findings) -> None:
    """The dashboard's sections, each one click away (only the chosen one is drawn): each scanned, each at
    most three screens long at 1366×768 (on the demo data), and every chart of the dashboard carries its French
    description as its accessible name (on Vega's graphics-document)."""
    viewport = page.viewport_size
    page.set_viewport_size({"width": 1366, "height": 768})
    heights = {}
    labels, fills = [], set()
    for section in dashboard.SECTIONS:  # (the summary first: already open)
        open_dashboard_section(page, section)
        if section != dashboard.SUMMARY:
            findings.scan(page, f"dashboard?section={section}")
        labels += _chart_labels(page)
        fills |= _expect_readable_chart_text(page)
        heights[section] = page.get_by_test_id("stMain").evaluate("(main) => main.scrollHeight")
    open_dashboard_section(page, dashboard.SUMMARY)
    if viewport:
        page.set_viewport_size(viewport)
    assert max(heights.values()) <= 3 * 768, heights
    assert fills, "no chart text found"
    short = "; ".join(f"{role} {label[:40]}" for role, label in labels)
    assert len(labels) >= 10, short
    for role, label in labels:
        assert role == "graphics-document", short
        assert label.startswith(("Graphique", "Barres", "Courbes", "Histogramme", "Carte")), short


def _scan_signed_in(page: Page, app_url: str, role: str, findings: Findings) -> None:
    """Every page of the role's menu (each opens from the sidebar with its title and no error, the person still
    signed in), then the footer's pages, in one signed-in session."""
    sign_in(page, app_url, role)
    for spec in access.visible_pages(role, setup_needed=False):
        nav_link(page, spec.title).click()
        expect(nav_link(page, spec.title)).to_have_attribute("aria-current", "page")
        heading = ORGANISATION_NAME if spec.key == "my_organisation" else expected_heading(spec)
        expect_page(page, heading)
        expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
        if scanned_for(spec, role):
            findings.scan(page, spec.url_path)
        if spec.key == "dashboard" and scanned_for(spec, role):
            _scan_dashboard_sections(page, findings)
    for spec in _footer_pages(role):
        # The footer's pages are the anonymous visitor's (scanned there); each role still follows the footer's links.
        page.get_by_test_id("stPageLink").filter(has_text=spec.title).first.click()
        expect_page(page, expected_heading(spec))
        if scanned_for(spec, role):
            findings.scan(page, spec.url_path)
    expect_nav(page, role)  # still signed in: every page above was seen as this role


@pytest.mark.timeout(420)
@pytest.mark.parametrize("role", ROLES)
@screenshot_on_failure
def test_no_accessibility_violation_in_the_app_content(
    request: pytest.FixtureRequest, pages: Pages, app_url: str, world: World, role: str
) -> None:
    findings = Findings(role)
    page = pages.new()
    try:
        if role == "anonyme":
            _scan_anonymous(page, app_url, world, findings)
        else:
            _scan_signed_in(page, app_url, role, findings)
    finally:
        print(findings.report())
        findings.save()
    assert findings.scanned
    english = [label for label, language in findings.languages.items() if language != "fr"]
    assert not english, f"pages not declared French (ui.footer): {english}"
    assert not findings.app, findings.report()
    assert not findings.english, "\n".join(sorted(set(findings.english)))


def test_role_independent_pages_read_no_user() -> None:
    """What lets ROLE_INDEPENDENT pages be scanned for one role: their script never looks at who is signed in."""
    for key in ROLE_INDEPENDENT:
        source = (PROJECT_ROOT / access.PAGES_BY_KEY[key].path).read_text()
        assert f'\nui.guard("{key}")\n' in source, key  # the guard's answer (the user) is not kept
        assert not re.search(r"\buser\b|current_user|\.role\b", source), key


def test_every_page_is_scanned_for_some_role() -> None:
    for spec in access.PAGES:
        if spec.key != "setup":  # only before the first administrator exists
            assert any(scanned_for(spec, role) for role in ROLES), spec.key


@screenshot_on_failure
def test_public_home_leads_to_the_next_meeting_and_the_latest_posting(
    request: pytest.FixtureRequest, pages: Pages, app_url: str, world: World
) -> None:
    page = pages.new()
    page.goto(app_url)
    expect_page(page, "Petites villes de demain")
    main = page.get_by_test_id("stMain")
    # The demo's next meeting with places left; the full workshop before it and the past meeting are not listed.
    expect(main.get_by_role("link", name="Atelier friches et foncier")).to_have_count(0)
    expect(main.get_by_role("link", name="Rencontre régionale Normandie")).to_have_count(0)
    main.get_by_role("link", name="Webinaire : monter une OPAH-RU").click()
    expect_page(page, "Webinaire : monter une OPAH-RU")
    expect(page).to_have_url(re.compile(r"/rencontres\?rencontre=\d+$"))
    page.get_by_role("button", name="M'inscrire").wait_for()

    nav_link(page, "Accueil").click()
    expect_page(page, "Petites villes de demain")
    expect(main.get_by_role("link", name="Chef de projet Petites villes de demain")).to_have_count(1)  # not the draft
    main.get_by_role("link", name="Chef de projet centre-bourg").click()
    page.get_by_role("heading", level=2, name="Chef de projet centre-bourg").wait_for()
    expect(page).to_have_url(re.compile(r"/offres\?offre=\d+$"))
    page.get_by_role("button", name="Envoyer ma candidature").wait_for()
