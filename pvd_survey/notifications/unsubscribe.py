"""The links of the notification e-mails: what one is about, confirming a job alert, unsubscribing in one click.

A link used twice, expired or forged changes nothing and says so (`invalid_subscription_link`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pvd_survey import links
from pvd_survey.clock import paris_time, utcnow
from pvd_survey.config import Settings
from pvd_survey.errors import DomainError
from pvd_survey.models import JobAlert, UnsubscribeLink
from pvd_survey.notifications import alerts, staff
from pvd_survey.notifications.common import UNSUBSCRIBE_LINK_DAYS
from pvd_survey.vocabulary import NOTIFICATION_TOPIC_LABELS


@dataclass(frozen=True)
class LinkView:
    """What a personal link of these e-mails is for: `confirm` a job alert (already `done` or not) or `unsubscribe`
    from `subject` (French, e.g. « les alertes offres d'emploi en Bretagne »)."""

    action: str
    subject: str
    done: bool = False


def _subject(session: Session, link: UnsubscribeLink) -> str:
    if link.alert_id is not None:
        alert = session.get_one(JobAlert, link.alert_id)
        return f"les alertes offres d'emploi en {alerts.area_label(alert.region, alert.department)}"
    return f"les e-mails « {NOTIFICATION_TOPIC_LABELS[link.topic or '']} »"


def _link(session: Session, token: str | None, now: datetime, lock: bool = False) -> UnsubscribeLink | None:
    link = links.find_by_token(session, UnsubscribeLink, token, lock=lock)
    if link is None or link.created_at < now - timedelta(days=UNSUBSCRIBE_LINK_DAYS):
        return None  # an expired link is as if it did not exist (the purge deletes it)
    return link


def link_view(session: Session, token: str | None, now: datetime | None = None) -> LinkView:
    """What the link is for; `invalid_subscription_link` when it is for nothing (any more)."""
    now = now or utcnow()
    confirmation = alerts.confirmation_view(session, token, now)
    if confirmation is not None:
        return LinkView("confirm", f"les alertes offres d'emploi en {confirmation.area}", confirmation.confirmed)
    link = _link(session, token, now)
    if link is None:
        raise DomainError("invalid_subscription_link")
    return LinkView("unsubscribe", _subject(session, link))


def unsubscribe(session: Session, token: str | None, now: datetime | None = None) -> str:
    """Stop what an unsubscribe link is for, at once: an account's topic is turned off, a job alert is deleted with
    everything of it. Returns what stopped (French); `invalid_subscription_link`, changing nothing, for a link
    used already, expired or forged."""
    now = now or utcnow()
    link = _link(session, token, now, lock=True)
    if link is None:
        raise DomainError("invalid_subscription_link")
    subject = _subject(session, link)
    if link.alert_id is not None:
        alerts.delete_alerts(session, [link.alert_id])
    elif link.user_id is not None and link.topic is not None:
        staff.stop_topic(session, link.user_id, link.topic, now)
    return subject


def expired_links(session: Session, now: datetime, settings: Settings) -> list[tuple[str, str]]:
    """For the purge: unsubscribe links older than UNSUBSCRIBE_LINK_DAYS (later e-mails carry new ones)."""
    rows = session.execute(
        select(UnsubscribeLink.token_hash, UnsubscribeLink.created_at)
        .where(UnsubscribeLink.created_at < now - timedelta(days=UNSUBSCRIBE_LINK_DAYS))
        .order_by(UnsubscribeLink.created_at)
    ).all()
    return [
        (digest, f"lien de désabonnement d'un e-mail du {paris_time(created, '%d/%m/%Y')}") for digest, created in rows
    ]


def delete_links(session: Session, hashes: list[str]) -> None:
    """For the purge: delete these unsubscribe links."""
    for start in range(0, len(hashes), 500):
        session.execute(delete(UnsubscribeLink).where(UnsubscribeLink.token_hash.in_(hashes[start : start + 500])))
