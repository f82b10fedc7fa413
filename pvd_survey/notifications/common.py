"""What every notification shares: personal links (tokens hashed), unsubscribe links, addresses, the daily claim."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pvd_survey import access, db, links, mail
from pvd_survey.clock import paris_from_utc
from pvd_survey.config import Settings
from pvd_survey.models import NotificationRun, UnsubscribeLink

TOKEN_PARAMETER = links.TOKEN_PARAMETER
POSTING_PARAMETER = "offre"  # the job board's and the pipeline's posting (recruitment.POSTING_PARAMETER)
# The web layer's one-click route (RFC 8058): POST unsubscribes at once, GET leads to LINK_PAGE.
UNSUBSCRIBE_ROUTE = "/_pvd/desabonnement"
LINK_PAGE = "subscription"  # the page behind every link of these e-mails: confirm an alert, unsubscribe
# The daily digest and the job alerts go once the day has reached this hour in Paris (at the first scheduled pass
# after it: a server down at 8 sends them when it comes back, the same day).
DAILY_HOUR = 8
# A daily run covers what was stamped up to this long before it: a posting or an application is stamped before its
# transaction commits, so a run that started meanwhile would not see it, and the next run would start after it.
# Far longer than any unit of work (they wait seconds at most for a connection); what it leaves goes the next day.
SETTLE = timedelta(minutes=10)
# An unsubscribe link works this long after its e-mail (every later e-mail brings a new one); then purge deletes it.
UNSUBSCRIBE_LINK_DAYS = 90
SIGNATURE = "L'équipe du programme Petites villes de demain (ANCT)"

# The outbox's kinds of message (the alerts' two are in mail.UNLISTED_KINDS: never listed, deleted once sent).
KIND_NEW_APPLICATION = "new_application"
KIND_APPLICATION_DIGEST = "application_digest"
KIND_RECRUITER_REQUEST = "recruiter_request_waiting"
KIND_ALERT_CONFIRM = "job_alert_confirm"
KIND_ALERT = "job_alert"


def new_token() -> tuple[str, str]:
    """A new personal link's token (links.py: 256 random bits) and the hash that is stored of it."""
    token = links.new_token()
    return token, links.token_hash(token)


def page_url(settings: Settings, page_key: str, query: str = "") -> str:
    """The public address of a page of the app, with an optional query (`a=1&b=2`)."""
    return f"{settings.base_url}/{access.PAGES_BY_KEY[page_key].url_path}" + (f"?{query}" if query else "")


def link_page_url(settings: Settings, token: str) -> str:
    """The personal link written in an e-mail's text: the page that confirms or unsubscribes, in one click."""
    return links.personal_link(settings.base_url, access.PAGES_BY_KEY[LINK_PAGE].url_path, token)


def one_click_url(settings: Settings, token: str) -> str:
    """The List-Unsubscribe address: a mail client POSTs to it (RFC 8058), a browser GET leads to the page."""
    return f"{settings.base_url}{UNSUBSCRIBE_ROUTE}?{urlencode({TOKEN_PARAMETER: token})}"


def pipeline_url(settings: Settings, posting_id: int) -> str:
    """The recruiter's pipeline, open on one posting (sign-in required)."""
    return page_url(settings, "pipeline", f"{POSTING_PARAMETER}={posting_id}")


def posting_url(settings: Settings, posting_id: int) -> str:
    """A posting's public page on the job board."""
    return page_url(settings, "jobs", f"{POSTING_PARAMETER}={posting_id}")


def mint_unsubscribe_link(
    session: Session,
    now: datetime,
    *,
    user_id: int | None = None,
    topic: str | None = None,
    alert_id: int | None = None,
) -> str:
    """A new unsubscribe link for one e-mail (an account's topic, or a job alert); returns its token."""
    token, digest = new_token()
    session.add(UnsubscribeLink(token_hash=digest, user_id=user_id, topic=topic, alert_id=alert_id, created_at=now))
    return token


def enqueue_notification(
    session: Session,
    settings: Settings,
    *,
    recipient: str,
    subject: str,
    body: str,
    kind: str,
    link: str,
    unsubscribe_token: str,
    why: str,
    account: bool,
) -> None:
    """Queue a notification: its text ends with why it was sent and the one-click unsubscribe link, which also goes
    as the List-Unsubscribe header."""
    footer = f"\n\n-- \n{why}\nPour ne plus les recevoir, en un clic : {link_page_url(settings, unsubscribe_token)}" + (
        f"\nVos préférences d'e-mails, sur « Mon compte » : {page_url(settings, 'account')}" if account else ""
    )
    mail.enqueue(
        session,
        recipient=recipient,
        subject=subject,
        body=f"{body}\n\n{SIGNATURE}{footer}",
        kind=kind,
        link=link,
        unsubscribe_url=one_click_url(settings, unsubscribe_token),
    )


def claim_day(session: Session, job: str, now: datetime) -> datetime | None:
    """Claim today's run of a daily sending; returns the moment the previous run covered up to (a day ago for the
    very first), or None when it is not due: before DAILY_HOUR in Paris, or done today already, here or on another
    server. One conditional UPDATE claims it (the first time, one INSERT), in the caller's transaction: of two
    servers at the same moment, one sends and the other finds it done."""
    local = paris_from_utc(now)
    if local.hour < DAILY_HOUR:
        return None
    today = local.date()
    last = session.execute(
        select(NotificationRun.day, NotificationRun.covered_until).where(NotificationRun.job == job)
    ).one_or_none()
    if last is not None and last.day >= today:
        return None  # done today (the usual case, every few seconds): no write
    if last is None:
        try:
            with session.begin_nested():
                session.add(NotificationRun(job=job, day=today, covered_until=now - SETTLE))
                session.flush()
        except IntegrityError:  # another server made the first claim meanwhile
            return None
        return now - SETTLE - timedelta(days=1)
    claimed = db.rowcount(
        session.execute(
            update(NotificationRun)
            .where(NotificationRun.job == job, NotificationRun.day < today)
            .values(day=today, covered_until=now - SETTLE)
        )
    )
    return last.covered_until if claimed == 1 else None
