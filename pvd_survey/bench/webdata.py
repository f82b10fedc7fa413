"""The data the web benchmark (bench/web.py) needs: the demo data, accounts, a meeting, survey links; and the
changes it makes between two dashboard refreshes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from pvd_survey import db
from pvd_survey.bench.common import BENCH_KEY, _no_secrets_file, bench_meeting
from pvd_survey.config import Settings

MEETING_TITLE = "Rencontre régionale (banc d'essai du navigateur)"
DIRECTION = "direction@bench.example.fr"
REGISTRATIONS_PER_CHANGE = 3
# What every answer released between two refreshes says (the browser's answers are the same).
ANSWERS: dict[str, object] = {
    "start_month": "2022-03",
    "employer": "commune",
    "gender": "femme",
    "experience": "1to5",
    "diploma": "bac4_5",
    "training_field": ["architecture"],
    "department": "21",
}


@dataclass
class WebData:
    """What the benchmark's browsers and its changes use."""

    factory: sessionmaker[Session]
    settings: Settings
    meeting_id: int
    direction_password: str
    links: list[str]  # path and query of the survey links the browsers answer, one each
    change_tokens: list[list[str]]  # the tokens of each change: k answers given at once
    meeting_title: str = MEETING_TITLE
    direction_email: str = DIRECTION
    taken: int = field(default=0)

    def meeting_url(self, base: str) -> str:
        from pvd_survey import meetings

        return f"{base}/{meetings.MEETING_PAGE_PATH}?{meetings.MEETING_PARAMETER}={self.meeting_id}"

    def take_link(self, base: str) -> str:
        """A survey link nobody answered yet, on this server."""
        self.taken += 1
        return base + self.links[self.taken - 1]


def seed_web_data(engine: Engine, url: str, submissions: int, changes: int) -> WebData:
    """The demo data (as `seed-demo` writes it), an administrator, a direction account, an open meeting, and
    survey invitations: `submissions` for the browsers, k for each of `changes`."""
    from pvd_survey import accounts, demo, mail, meetings, survey
    from pvd_survey.config import load_settings

    settings = load_settings({"PVD_DATABASE_URL": url, **BENCH_KEY}, _no_secrets_file())
    factory = db.make_session_factory(engine)
    password = secrets.token_urlsafe(16)
    k = settings.disclosure_k
    emails = [f"cp{number}@bench.example.fr" for number in range(submissions + changes * k)]
    with db.transaction(factory) as session:
        demo.seed(session, settings, password_factory=lambda: secrets.token_urlsafe(12))
        # An installed site: with no administrator, every page would ask for the first one.
        for email, role in (("admin@bench.example.fr", "admin"), (DIRECTION, "direction")):
            accounts.create_user(
                session, email=email, display_name=role.title(), role=role, settings=settings, password=password,
                notify=False,
            )  # fmt: skip
        # Every registration is confirmed: the same work each time.
        meeting_id = meetings.create_meeting(session, bench_meeting(MEETING_TITLE, capacity=100_000))
        entries = [survey.InvitationEntry(line, email, "21") for line, email in enumerate(emails, start=1)]
        survey.invite(session, entries, settings)
    with db.read_only(factory) as session:
        sent = {m.recipient: str(m.link) for m in mail.list_messages(session) if m.kind == "survey_invitation"}
    links = []
    for email in emails:
        link = urlsplit(sent[email])
        links.append(f"{link.path}?{link.query}")
    tokens = [parse_qs(urlsplit(sent[email]).query)["jeton"][0] for email in emails[submissions:]]
    return WebData(
        factory, settings, meeting_id, password, links[:submissions],
        [tokens[start : start + k] for start in range(0, len(tokens), k)],
    )  # fmt: skip


def release_a_group(data: WebData, change: int) -> None:
    """What moves the dashboard's figures: k answers through their links, released at once, and a few registrations
    to the meeting."""
    from pvd_survey import meetings, survey

    with db.transaction(data.factory) as session:
        for token in data.change_tokens[change]:
            survey.submit(session, token, ANSWERS, data.settings)
    with db.transaction(data.factory) as session:
        survey.release_due(session, data.settings, force=True)
        for number in range(REGISTRATIONS_PER_CHANGE):
            form = meetings.RegistrationForm(
                full_name="E F", email=f"change{change}.{number}@bench.example.fr", attendee_role="chef_de_projet",
                consent=True,
            )  # fmt: skip
            meetings.register(session, data.meeting_id, form, data.settings)
