"""Job alerts: anyone may be told by e-mail of new postings in a region (or one of its departments).

Double opt-in: subscribing writes the subscription and a confirmation e-mail with a personal link, nothing else;
an unconfirmed subscription is never used, and the purge deletes it after ALERT_CONFIRM_DAYS. Once confirmed, at
most one e-mail a day lists the postings published since the previous one (none when there are none). The alerts'
messages are never listed and are deleted once sent (mail.UNLISTED_KINDS), so they need SMTP: without it, nothing
is sent and the job board offers no subscription. Unsubscribing deletes the subscription row, its unsubscribe
links and its unsent messages: nothing of it is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pvd_survey import links, mail, territory
from pvd_survey.accounts import normalise_email
from pvd_survey.clock import utcnow
from pvd_survey.config import Settings
from pvd_survey.errors import DomainError
from pvd_survey.models import JobAlert, JobPosting, Organisation, OutboxMessage, UnsubscribeLink
from pvd_survey.notifications.common import (
    KIND_ALERT,
    KIND_ALERT_CONFIRM,
    SETTLE,
    SIGNATURE,
    TOKEN_PARAMETER,
    claim_day,
    enqueue_notification,
    link_page_url,
    mint_unsubscribe_link,
    new_token,
    page_url,
    posting_url,
)

ALERT_CONFIRM_DAYS = 7  # an unconfirmed subscription (and its link) lasts this long, then purge deletes it
# Per address at once, and one confirmation e-mail per area a day: a stranger cannot flood someone's mailbox.
MAX_UNCONFIRMED_ALERTS = 5
ALERT_MAX_POSTINGS = 30  # listed in one e-mail; the rest through the job board's link


@dataclass(frozen=True)
class Posting:
    """A published posting as an alert lists it."""

    id: int
    title: str
    organisation: str
    region: str
    department: str
    published_at: datetime
    deadline: date


def area_label(region: str, department: str) -> str:
    """Where an alert looks, in French: « Bourgogne-Franche-Comté » or « Bourgogne-Franche-Comté (21 – Côte-d'Or) »."""
    name = territory.REGIONS.get(region, region)
    return f"{name} ({territory.department_label(department)})" if department in territory.DEPARTMENTS else name


def _board_url(settings: Settings, region: str, department: str) -> str:
    return page_url(settings, "jobs", f"region={region}" + (f"&departement={department}" if department else ""))


def _validated_area(region: str | None, department: str | None) -> tuple[str, str]:
    if not region or region not in territory.REGIONS:
        raise DomainError("alert_region_required", field="region")
    department = department or ""
    if department and (not territory.is_department(department) or territory.region_of_department(department) != region):
        raise DomainError("filter_mismatch", field="department", department=department)
    return region, department


def subscribe(
    session: Session,
    settings: Settings,
    email: str,
    region: str | None,
    department: str | None = None,
    now: datetime | None = None,
) -> None:
    """Ask for alerts: a confirmation e-mail with a personal link, nothing else. What the person is shown is the same
    whatever happened (the address may already be subscribed): nobody learns from the form who subscribes."""
    now = now or utcnow()
    email = normalise_email(email)
    region, department = _validated_area(region, department)
    alert = session.scalar(
        select(JobAlert)
        .where(JobAlert.email == email, JobAlert.region == region, JobAlert.department == department)
        .with_for_update()
    )
    if alert is not None and alert.confirmed_at is not None:
        return  # already receiving them
    if alert is not None and alert.created_at > now - timedelta(days=1):
        return  # asked again within a day: the e-mail already sent still holds a working link (no flooding)
    token, digest = new_token()
    if alert is not None:  # asked again a day later, before confirming: a new link (the old one stops), a new week
        alert.token_hash, alert.created_at = digest, now
    else:
        waiting = session.scalar(
            select(func.count())
            .select_from(JobAlert)
            .where(
                JobAlert.email == email,
                JobAlert.confirmed_at.is_(None),
                JobAlert.created_at >= now - timedelta(days=ALERT_CONFIRM_DAYS),
            )
        )
        if (waiting or 0) >= MAX_UNCONFIRMED_ALERTS:
            return
        try:
            with session.begin_nested():
                session.add(
                    JobAlert(email=email, region=region, department=department, token_hash=digest, created_at=now)
                )
                session.flush()
        except IntegrityError:  # the same request sent twice at once: the other one's e-mail goes
            return
    link = link_page_url(settings, token)
    mail.enqueue(
        session,
        recipient=email,
        subject="Confirmez votre alerte offres d'emploi Petites villes de demain",
        body=(
            "Bonjour,\n\nQuelqu'un, sans doute vous, a demandé à recevoir par e-mail les nouvelles offres de chef "
            f"de projet Petites villes de demain en {area_label(region, department)}.\n\n"
            f"Pour confirmer, ouvrez ce lien dans les {ALERT_CONFIRM_DAYS} jours :\n{link}\n\n"
            "Sans confirmation, vous ne recevrez rien et votre adresse sera supprimée. Une fois l'alerte confirmée, "
            "vous recevrez au plus un e-mail par jour, seulement quand de nouvelles offres sont publiées ; chacun "
            f"permet de vous désabonner en un clic.\n\n{SIGNATURE}"
        ),
        kind=KIND_ALERT_CONFIRM,
        link=link,
    )
    session.flush()


def _alert_by_token(session: Session, token: str | None, now: datetime, lock: bool = False) -> JobAlert | None:
    alert = links.find_by_token(session, JobAlert, token, lock=lock)
    if alert is None:
        return None
    if alert.confirmed_at is None and alert.created_at < now - timedelta(days=ALERT_CONFIRM_DAYS):
        return None  # expired: as if it did not exist (the purge deletes it)
    return alert


@dataclass(frozen=True)
class Confirmation:
    """What a confirmation link is about."""

    area: str
    confirmed: bool


def confirmation_view(session: Session, token: str | None, now: datetime | None = None) -> Confirmation | None:
    """The subscription behind a confirmation link (None if the link is not one, or expired)."""
    alert = _alert_by_token(session, token, now or utcnow())
    if alert is None:
        return None
    return Confirmation(area_label(alert.region, alert.department), alert.confirmed_at is not None)


def confirm(session: Session, token: str | None, now: datetime | None = None) -> str:
    """Confirm a subscription (idempotent): alerts start with the postings published from now on; its area."""
    now = now or utcnow()
    alert = _alert_by_token(session, token, now, lock=True)
    if alert is None:
        raise DomainError("invalid_subscription_link")
    if alert.confirmed_at is None:
        alert.confirmed_at = alert.covered_until = now
        session.flush()
    return area_label(alert.region, alert.department)


def _published_since(session: Session, since: datetime, now: datetime) -> list[Posting]:
    rows = session.execute(
        select(
            JobPosting.id,
            JobPosting.title,
            Organisation.name,
            JobPosting.region,
            JobPosting.department,
            JobPosting.published_at,
            JobPosting.deadline,
        )
        .join(Organisation, Organisation.id == JobPosting.organisation_id)
        .where(JobPosting.status == "published", JobPosting.published_at > since, JobPosting.published_at <= now)
        .order_by(JobPosting.published_at, JobPosting.id)
    ).all()
    # (published_at is set on every published posting, and the WHERE compares it)
    return [
        Posting(i, title, name, region, dep, published or now, end)
        for i, title, name, region, dep, published, end in rows
    ]


def _alert_text(settings: Settings, alert: JobAlert, postings: list[Posting]) -> str:
    shown = postings[:ALERT_MAX_POSTINGS]
    lines = "\n".join(
        f"- {p.title}\n  {p.organisation} · {territory.department_label(p.department)} · candidatures jusqu'au "
        f"{p.deadline:%d/%m/%Y}\n  {posting_url(settings, p.id)}"
        for p in shown
    )
    more = len(postings) - len(shown)
    rest = f"\n\n… et {more} autre(s) sur le site." if more else ""
    return (
        "Bonjour,\n\nVoici les offres de chef de projet Petites villes de demain publiées en "
        f"{area_label(alert.region, alert.department)} depuis notre dernier e-mail :\n\n{lines}{rest}\n\n"
        f"Toutes les offres de ce territoire :\n{_board_url(settings, alert.region, alert.department)}"
    )


def send_alerts(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Once a day (claimed for the day), with SMTP: to each confirmed subscription, the postings of its area
    published since its previous alert (nothing when there are none); how many e-mails."""
    if settings.smtp is None:
        return 0  # unlisted messages: nobody could pass them on by hand
    now = now or utcnow()
    if claim_day(session, "job_alerts", now) is None:
        return 0
    alerts = session.scalars(
        select(JobAlert).where(JobAlert.confirmed_at.is_not(None)).order_by(JobAlert.id).with_for_update()
    ).all()
    if not alerts:
        return 0
    horizon = now - SETTLE  # postings stamped later may not be committed yet: they go the next day
    starts = {alert.id: alert.covered_until or alert.confirmed_at or now for alert in alerts}
    postings = _published_since(session, min(starts.values()), horizon)
    sent = 0
    for alert in alerts:
        fresh = [
            p
            for p in postings
            if p.region == alert.region
            and (not alert.department or p.department == alert.department)
            and p.published_at > starts[alert.id]
        ]
        alert.covered_until = max(starts[alert.id], horizon)
        if not fresh:
            continue
        token = mint_unsubscribe_link(session, now, alert_id=alert.id)
        area = area_label(alert.region, alert.department)
        enqueue_notification(
            session,
            settings,
            recipient=alert.email,
            subject=f"{len(fresh)} nouvelle(s) offre(s) de chef de projet PVD : {area}",
            body=_alert_text(settings, alert, fresh),
            kind=KIND_ALERT,
            link=_board_url(settings, alert.region, alert.department),
            unsubscribe_token=token,
            why=(
                "Vous recevez cet e-mail parce que vous avez demandé et confirmé cette alerte. Se désabonner "
                "supprime l'alerte et votre adresse."
            ),
            account=False,
        )
        sent += 1
    session.flush()
    return sent


# ---------------------------------------------------------------------------- ending a subscription


def _token_in(url: str | None) -> str | None:
    values = parse_qs(urlsplit(url or "").query).get(TOKEN_PARAMETER)
    return values[-1] if values else None


def delete_alerts(session: Session, ids: list[int]) -> None:
    """Delete subscriptions with their unsubscribe links and the messages of theirs not yet sent."""
    for alert_id in ids:
        alert = session.get(JobAlert, alert_id)
        if alert is None:
            continue
        ours = {alert.token_hash} | set(
            session.scalars(select(UnsubscribeLink.token_hash).where(UnsubscribeLink.alert_id == alert_id))
        )
        unsent = session.execute(
            select(OutboxMessage.id, OutboxMessage.link, OutboxMessage.unsubscribe_url).where(
                OutboxMessage.recipient == alert.email,
                OutboxMessage.kind.in_((KIND_ALERT, KIND_ALERT_CONFIRM)),
                OutboxMessage.status.in_(("pending", "failed")),
            )
        ).all()
        drop = [
            message_id
            for message_id, link, unsubscribe in unsent
            if links.token_hash(_token_in(unsubscribe) or _token_in(link) or "") in ours
        ]
        if drop:
            session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(drop)))
        session.execute(delete(UnsubscribeLink).where(UnsubscribeLink.alert_id == alert_id))
        session.execute(delete(JobAlert).where(JobAlert.id == alert_id))
    session.flush()


def expired_unconfirmed(session: Session, now: datetime, settings: Settings) -> list[tuple[int, str]]:
    """For the purge: subscriptions never confirmed within ALERT_CONFIRM_DAYS."""
    rows = session.scalars(
        select(JobAlert.id)
        .where(JobAlert.confirmed_at.is_(None), JobAlert.created_at < now - timedelta(days=ALERT_CONFIRM_DAYS))
        .order_by(JobAlert.id)
    ).all()
    return [(alert_id, f"alerte offres d'emploi n° {alert_id} (jamais confirmée)") for alert_id in rows]


def personal_data(session: Session, email: str) -> list[dict]:
    """For an access request: the person's subscriptions."""
    rows = session.scalars(select(JobAlert).where(JobAlert.email == email).order_by(JobAlert.id))
    return [
        {
            "email": a.email,
            "region": a.region,
            "departement": a.department or None,
            "demandee_le": a.created_at.isoformat(),
            "confirmee_le": a.confirmed_at.isoformat() if a.confirmed_at else None,
        }
        for a in rows
    ]


def erase(session: Session, email: str, settings: Settings) -> int:
    """For an access request: delete the person's subscriptions (and what goes with them); how many."""
    ids = list(session.scalars(select(JobAlert.id).where(JobAlert.email == email)))
    delete_alerts(session, ids)
    return len(ids)
