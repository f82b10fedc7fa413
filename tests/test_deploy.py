"""The deployment of deploy/: Debian's nginx, run from deploy/nginx-pvd.conf itself (ports and paths replaced), in
front of two app processes on PostgreSQL, and Chromium going through it: sign-in, a meeting registration, a survey
answer through its invitation link, a CSV download. Every request of one browser must reach one process (nginx's
access log names the route and the process of each request), and both processes must get browsers.

nginx runs as an ordinary process (`nginx -c FILE -p DIR`, everything it writes in a temporary folder), started by
the proxy benchmark's helper (pvd_survey/bench/proxy.py), which renders the site file for both. The
browser journey runs on PostgreSQL only, production's database (several app processes share one database); the
environment file example is checked once, on SQLite.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import shlex
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page

from pvd_survey import access, config, mail, meetings, survey
from pvd_survey.bench.proxy import running_nginx
from pvd_survey.models import SurveyPool
from tests.browser_support import (
    SUBMITTED,
    AppServer,
    Pages,
    alert,
    choose_in_selectbox,
    choose_radio,
    expect_page,
    running_servers,
    sign_in,
)
from tests.conftest import PROJECT_ROOT, TEST_BACKEND
from tests.factories import meeting_form

pytestmark = pytest.mark.browser

DEPLOY = PROJECT_ROOT / "deploy"
SITE = DEPLOY / "nginx-pvd.conf"
ROUTE_COOKIE = "pvd_route"
LOG_LINE = re.compile(
    r'"(?P<method>\S+) (?P<uri>\S+)" (?P<status>\d+) \d+ route=(?P<route>\S+) upstream=(?P<upstream>\S+)'
)


# ---------------------------------------------------------------------------- the environment file


def _example_keys() -> tuple[dict[str, str], set[str]]:
    """The example's set values, and every key it names (set or commented out)."""
    values, named = {}, set()
    for line in (DEPLOY / "pvd.env.example").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^(#?)(PVD_[A-Z0-9_]+)=(.*)$", line)
        if match:
            named.add(match[2])
            if not match[1]:
                values[match[2]] = shlex.split(match[3])[0] if match[3] else ""
    return values, named


@pytest.mark.database_independent
def test_the_environment_file_example_names_every_key_and_its_values_are_accepted(tmp_path: Path) -> None:
    values, named = _example_keys()
    assert named == set(config.KNOWN_KEYS)  # a new setting shows up in the example, a removed one leaves it
    # Filled in as the operator would (the key is theirs to make), the values load without a problem.
    settings = config.load_settings(
        {**values, "PVD_SECRET_KEY": "k" * config.SECRET_KEY_MIN_LENGTH}, tmp_path / "secrets.toml"
    )
    assert settings.mail_thread is False and settings.smtp is not None


# ---------------------------------------------------------------------------- nginx from deploy/


@dataclass(frozen=True)
class Proxy:
    """nginx in front of the app processes."""

    url: str
    access_log: Path
    servers: dict[str, AppServer]  # by upstream address, as the access log names them (127.0.0.1:PORT)

    def requests(self) -> list[re.Match]:
        """The access log's lines, parsed."""
        return [m for m in map(LOG_LINE.search, self.access_log.read_text().splitlines()) if m]

    def wait_for(self, predicate, what: str) -> list[re.Match]:
        """The log once it holds a line matching `predicate` (nginx writes a line after its response is sent)."""
        deadline = time.monotonic() + 10
        while True:
            lines = self.requests()
            if any(predicate(line) for line in lines):
                return lines
            assert time.monotonic() < deadline, f"no line for {what} in nginx's access log:\n" + "\n".join(
                line[0] for line in lines[-20:]
            )
            time.sleep(0.05)


@contextlib.contextmanager
def running_proxy(work: Path, servers: list[AppServer]) -> Iterator[Proxy]:
    """nginx from deploy/nginx-pvd.conf in front of these app processes (rendered as the benchmark renders it)."""
    by_upstream = {server.url.removeprefix("http://"): server for server in servers}
    with running_nginx(work, list(by_upstream)) as url:
        yield Proxy(url, work / "access.log", by_upstream)


def route_of(page: Page) -> str:
    """The route cookie nginx gave this browser."""
    [route] = [c["value"] for c in page.context.cookies() if c["name"] == ROUTE_COOKIE]
    return route


def upstream_of(proxy: Proxy, route: str) -> str:
    """The app process nginx sends this route to (from the access log)."""
    lines = proxy.wait_for(lambda line: line["route"] == route, f"route {route}")
    return next(line["upstream"] for line in lines if line["route"] == route)


def visitor(pages: Pages, proxy: Proxy, upstream: str | None = None) -> Page:
    """A new browser; nginx draws its route on its first request, drawn again until it is `upstream`'s (if given)."""
    page = pages.new()
    for _ in range(40):  # each draw is a fair coin between the two processes
        assert page.context.request.get(f"{proxy.url}/_stcore/health").ok  # shares the browser's cookies
        if upstream is None or upstream_of(proxy, route_of(page)) == upstream:
            return page
        page.context.clear_cookies()
    raise AssertionError(f"nginx never routed a new browser to {upstream}")


# ---------------------------------------------------------------------------- the journey (PostgreSQL)


if TEST_BACKEND == "postgresql":

    @pytest.fixture(scope="module")
    def proxy(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
        """Two app processes on the test database, and nginx in front of them."""
        work = tmp_path_factory.mktemp("deploy")
        with running_servers(database_url, work, 2) as servers, running_proxy(work, servers) as proxy:
            yield proxy

    def test_a_browser_journey_through_nginx_keeps_each_browser_on_one_process(
        pages: Pages, proxy: Proxy, seeded, factory, settings, tmp_path: Path
    ) -> None:
        with factory.begin() as session:
            meeting_id = meetings.create_meeting(session, meeting_form(capacity=10))
            survey.invite(session, survey.parse_invitation_list("lea.martin@montbard.fr;21"), settings)
            [link] = [m.link for m in mail.list_messages(session) if m.kind == "survey_invitation"]
            token = link.split("jeton=")[1]
            # Most answers were given earlier (the draft is kept on the server); the browser gives the last one.
            survey.save_draft(
                session,
                token,
                {
                    "start_month": "2022-03",
                    "employer": "commune",
                    "experience": "1to5",
                    "diploma": "bac4_5",
                    "training_field": ["architecture"],
                    "department": "21",
                },
                settings,
            )

        # The direction signs in, on whichever process nginx draws; the registrant is on the other one.
        direction = visitor(pages, proxy)
        [cookie] = [c for c in direction.context.cookies() if c["name"] == ROUTE_COOKIE]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
        assert not cookie["secure"] and cookie["expires"] == -1  # plain http here; a browser session's cookie
        first = upstream_of(proxy, route_of(direction))
        [second] = set(proxy.servers) - {first}
        registrant = visitor(pages, proxy, upstream=second)
        respondent = visitor(pages, proxy)
        sign_in(direction, proxy.url, "direction")

        registrant.goto(f"{proxy.url}/{meetings.MEETING_PAGE_PATH}?{meetings.MEETING_PARAMETER}={meeting_id}")
        expect_page(registrant, meeting_form().title)
        registrant.get_by_label("Prénom et nom").fill("Personne 1")
        registrant.get_by_label("Adresse e-mail").fill("personne.1@mairie.fr")
        choose_in_selectbox(registrant, "Vous êtes", "Chef de projet")
        registrant.get_by_text("J'ai lu et j'accepte la notice ci-dessus").click()
        registrant.get_by_role("button", name="M'inscrire").click()
        registrant.get_by_text("Inscription confirmée.", exact=False).wait_for()

        # The personal link: nginx passes the redirect that takes the token out of the address, and its cookie.
        respondent.goto(proxy.url + link.removeprefix(settings.base_url))
        expect_page(respondent, "Questionnaire : le profil des chefs de projet")
        assert respondent.url == f"{proxy.url}/questionnaire"
        choose_radio(respondent, "Genre", "Homme")
        respondent.get_by_role("button", name="Envoyer mes réponses").click()
        alert(respondent, "Success", SUBMITTED).wait_for()

        # The list of registrants: a file made by the direction's process and served from its memory (/media/).
        direction.goto(f"{proxy.url}/{access.PAGES_BY_KEY['meetings_admin'].url_path}?rencontre={meeting_id}")
        expect_page(direction, "Organiser les rencontres")
        with direction.expect_download() as download:
            direction.get_by_role("button", name="Liste (CSV)").click()
        text = download.value.path().read_text(encoding="utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
        assert [row["E-mail"] for row in rows] == ["personne.1@mairie.fr"]
        media = download.value.url.removeprefix(proxy.url)
        assert media.startswith("/media/")
        # Without the route, the other process would not have it: that is why a browser keeps its process.
        with pytest.raises(urllib.error.HTTPError) as elsewhere:
            urllib.request.urlopen(proxy.servers[second].url + media, timeout=5)
        assert elsewhere.value.code == 404

        # An upload above the services' 5 MB but within Streamlit's 10 MB passes nginx (the app answers it in French).
        direction.goto(f"{proxy.url}/{access.PAGES_BY_KEY['invitations'].url_path}")
        expect_page(direction, "Invitations au questionnaire")
        big = tmp_path / "adresses.csv"
        big.write_bytes(b"prenom.nom@mairie.fr;21\n" * (6_500_000 // 24))
        direction.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(big)
        direction.get_by_text("adresses.csv").wait_for()
        direction_route = route_of(direction)
        upload = proxy.wait_for(
            lambda line: line["route"] == direction_route and line["uri"].startswith("/_stcore/upload_file/"),
            "the upload",
        )
        statuses = [line["status"] for line in upload if line["uri"].startswith("/_stcore/upload_file/")]
        assert len(statuses) == 1 and statuses[0].startswith("2"), statuses

        with factory() as session:
            assert session.query(SurveyPool).count() == 1  # the answer waits for its release, as it should

        # Closing the browsers closes their WebSockets, which nginx logs then (101: switched to WebSocket).
        browsers = {"direction": direction, "registrant": registrant, "respondent": respondent}
        routes = {name: route_of(page) for name, page in browsers.items()}
        for page in browsers.values():
            page.context.close()
        for name, route in routes.items():
            lines = proxy.wait_for(
                lambda line, route=route: line["route"] == route and line["uri"] == "/_stcore/stream",
                f"the WebSocket of the {name}",
            )
        upstreams: dict[str, set[str]] = defaultdict(set)
        counts: dict[str, int] = defaultdict(int)
        static = [line for line in lines if line["uri"].startswith("/static/")]
        for line in lines:
            if line in static:
                continue
            upstreams[line["route"]].add(line["upstream"])
            counts[line["route"]] += 1
            assert line["status"] != "502", line[0]
        for name, route in routes.items():
            assert len(upstreams[route]) == 1, f"the {name}'s requests went to {upstreams[route]}"
            assert counts[route] > 3  # the page, its health and host checks, the WebSocket…
        # Streamlit's JavaScript, CSS and fonts come from nginx itself, never from an app process.
        assert len(static) > 20 and {line["upstream"] for line in static} == {"-"}
        assert {line["status"] for line in static} <= {"200", "304"}
        with urllib.request.urlopen(proxy.url + static[0]["uri"], timeout=5) as response:
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert upstreams[routes["direction"]] == {first} and upstreams[routes["registrant"]] == {second}
        streams = [line for line in lines if line["uri"] == "/_stcore/stream" and line["route"] in routes.values()]
        assert {line["status"] for line in streams} == {"101"}

    def test_nginx_refuses_a_body_over_streamlits_upload_limit(proxy: Proxy) -> None:
        """More than Streamlit accepts (10 MB a file) stops at nginx, before reaching an app process."""
        request = urllib.request.Request(
            f"{proxy.url}/_stcore/upload_file/session/file", data=b"0" * (12 * 1024 * 1024), method="PUT"
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 413 and b"413 Request Entity Too Large" in refused.value.read()


# ---------------------------------------------------------------------------- the service units


@pytest.mark.database_independent
def test_the_service_units_pass_systemds_own_check_with_this_machines_paths(tmp_path: Path) -> None:
    """deploy/'s units, their install paths replaced by this checkout's and this interpreter's, pass `systemd-analyze
    verify` without a word (an unknown key, a command that is not there, a bad section all fail it); the app unit
    listens on 127.0.0.1 only, at the instance's port."""
    import subprocess
    import sys

    interpreter_dir = str(Path(sys.executable).parent)
    (tmp_path / "pvd.env").write_text("PVD_DATABASE_URL=sqlite:////var/lib/pvd/pvd.sqlite3\n", encoding="utf-8")
    for unit in ("pvd@.service", "pvd-mail.service"):
        text = (DEPLOY / unit).read_text(encoding="utf-8")
        for installed, here in (
            ("/opt/pvd/.venv/bin", interpreter_dir),
            ("/opt/pvd", str(PROJECT_ROOT)),
            ("/etc/pvd/pvd.env", str(tmp_path / "pvd.env")),
            ("User=pvd", "User=root"),
            ("Group=pvd", "Group=root"),
        ):
            assert installed in text, f"{unit} no longer holds {installed!r}: update this test"
            text = text.replace(installed, here)
        (tmp_path / unit).write_text(text, encoding="utf-8")
    app_unit = (DEPLOY / "pvd@.service").read_text(encoding="utf-8")
    assert "--server.address 127.0.0.1 --server.port %i" in app_unit
    checked = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "pvd@8501.service"), str(tmp_path / "pvd-mail.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    said = [line for line in (checked.stdout + checked.stderr).splitlines() if "pvd" in line]
    assert said == [], said
    # The check is not blind: a misspelled key fails it.
    broken = (tmp_path / "pvd-mail.service").read_text(encoding="utf-8").replace("ExecStart=", "ExecStrat=")
    (tmp_path / "broken.service").write_text(broken, encoding="utf-8")
    refused = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "broken.service")], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode != 0 and "ExecStrat" in refused.stdout + refused.stderr
