"""Notifications to accounts: recruiters about new applications, the direction about recruiter requests.

No candidate's name, address or document ever goes into these e-mails: the posting, the application's reference
and a link to the page where the person, signed in, reads the rest.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import and_, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pvd_survey import territory
from pvd_survey.accounts import UserInfo
from pvd_survey.clock import utcnow
from pvd_survey.config import Settings
from pvd_survey.errors import DomainError
from pvd_survey.models import (
    JobApplication,
    JobPosting,
    NotificationPreference,
    RecruiterRequest,
    UnsubscribeLink,
    User,
)
from pvd_survey.notifications.common import (
    KIND_APPLICATION_DIGEST,
    KIND_NEW_APPLICATION,
    KIND_RECRUITER_REQUEST,
    SETTLE,
    claim_day,
    enqueue_notification,
    mint_unsubscribe_link,
    page_url,
    pipeline_url,
)
from pvd_survey.vocabulary import NOTIFICATION_FREQUENCY_LABELS, ORGANISATION_KIND_LABELS

# Which topics each role chooses on « Mon compte », and the choices of each topic (the first is the default).
TOPICS_BY_ROLE = {"recruteur": ("new_application",), "direction": ("recruiter_request",)}
FREQUENCIES_BY_TOPIC = {"new_application": ("immediate", "daily", "none"), "recruiter_request": ("immediate", "none")}
DEFAULT_FREQUENCY = "immediate"
ROLE_OF_TOPIC = {topic: role for role, topics in TOPICS_BY_ROLE.items() for topic in topics}
FREQUENCY_LABELS = NOTIFICATION_FREQUENCY_LABELS


# ---------------------------------------------------------------------------- preferences


def preferences(session: Session, user: UserInfo) -> dict[str, str]:
    """The account's choice for each topic of its role (the default where it never chose)."""
    stored = dict(
        session.execute(
            select(NotificationPreference.topic, NotificationPreference.frequency).where(
                NotificationPreference.user_id == user.id
            )
        ).all()
    )
    return {topic: stored.get(topic, DEFAULT_FREQUENCY) for topic in TOPICS_BY_ROLE.get(user.role, ())}


def set_preference(
    session: Session, actor: UserInfo | None, topic: str, frequency: str, now: datetime | None = None
) -> None:
    """Choose how often one's own account gets the e-mails of a topic of its role."""
    if actor is None or topic not in TOPICS_BY_ROLE.get(actor.role, ()):
        raise DomainError("forbidden")
    if frequency not in FREQUENCIES_BY_TOPIC[topic]:
        raise DomainError("unknown_notification_frequency", field="frequency", value=frequency)
    _store_preference(session, actor.id, topic, frequency, now or utcnow())


def _store_preference(session: Session, user_id: int, topic: str, frequency: str, now: datetime) -> None:
    row = session.get(NotificationPreference, (user_id, topic), with_for_update=True)
    if row is not None:
        row.frequency, row.updated_at = frequency, now
    else:
        try:
            with session.begin_nested():
                session.add(NotificationPreference(user_id=user_id, topic=topic, frequency=frequency, updated_at=now))
                session.flush()
        except IntegrityError:  # the same account chose in another tab at the same moment: this choice wins
            row = session.get_one(NotificationPreference, (user_id, topic), with_for_update=True)
            row.frequency, row.updated_at = frequency, now
    if frequency == "none":  # the links of the e-mails already sent have nothing left to do
        session.execute(
            delete(UnsubscribeLink).where(UnsubscribeLink.user_id == user_id, UnsubscribeLink.topic == topic)
        )
    session.flush()


def stop_topic(session: Session, user_id: int, topic: str, now: datetime) -> None:
    """An unsubscribe link of an account was used: no more e-mails of that topic (and its links are deleted)."""
    _store_preference(session, user_id, topic, "none", now)


def _recipients(
    session: Session, topic: str, frequency: str, organisation_ids: list[int] | None = None
) -> list[tuple[int, str, int | None]]:
    """Active accounts of the topic's role whose choice for it is `frequency`: (id, e-mail, organisation)."""
    query = (
        select(User.id, User.email, User.organisation_id)
        .outerjoin(
            NotificationPreference,
            and_(NotificationPreference.user_id == User.id, NotificationPreference.topic == topic),
        )
        .where(
            User.role == ROLE_OF_TOPIC[topic],
            User.is_active.is_(True),
            func.coalesce(NotificationPreference.frequency, DEFAULT_FREQUENCY) == frequency,
        )
        .order_by(User.id)
    )
    if organisation_ids is not None:
        query = query.where(User.organisation_id.in_(organisation_ids))
    return [(row[0], row[1], row[2]) for row in session.execute(query)]


# ---------------------------------------------------------------------------- recruiters: new applications

_APPLICATIONS_WHY = (
    "Vous recevez cet e-mail parce que vous êtes recruteur ou recruteuse de cette organisation sur la plateforme "
    "Petites villes de demain."
)


def application_received(
    session: Session, settings: Settings, posting_id: int, reference: str, now: datetime | None = None
) -> int:
    """A new application: an e-mail to each recruiter of the organisation who wants one at once; how many."""
    now = now or utcnow()
    posting = session.get_one(JobPosting, posting_id)
    recipients = _recipients(session, "new_application", "immediate", [posting.organisation_id])
    link = pipeline_url(settings, posting.id)
    for user_id, email, _ in recipients:
        token = mint_unsubscribe_link(session, now, user_id=user_id, topic="new_application")
        enqueue_notification(
            session,
            settings,
            recipient=email,
            subject=f"Nouvelle candidature : {posting.title}",
            body=(
                f"Bonjour,\n\nUne nouvelle candidature (référence {reference}) est arrivée pour votre offre "
                f"« {posting.title} ».\n\nPour la lire, connectez-vous à la plateforme :\n{link}\n\n"
                "Par discrétion, cet e-mail ne contient ni le nom de la personne ni ses documents."
            ),
            kind=KIND_NEW_APPLICATION,
            link=link,
            unsubscribe_token=token,
            why=_APPLICATIONS_WHY + " Vous pouvez aussi choisir un récapitulatif par jour.",
            account=True,
        )
    session.flush()
    return len(recipients)


def send_application_digests(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Once a day (claimed for the day): to each recruiter who chose the daily summary, the applications that arrived
    since the previous one, by posting (nothing when none arrived); how many e-mails."""
    now = now or utcnow()
    since = claim_day(session, "application_digest", now)
    if since is None:
        return 0
    recipients = _recipients(session, "new_application", "daily")
    organisations = sorted({organisation for _, _, organisation in recipients if organisation is not None})
    if not organisations:
        return 0
    rows = session.execute(
        select(JobPosting.organisation_id, JobPosting.id, JobPosting.title, func.count(JobApplication.id))
        .join(JobApplication, JobApplication.posting_id == JobPosting.id)
        .where(
            JobPosting.organisation_id.in_(organisations),
            JobApplication.created_at > since,
            JobApplication.created_at <= now - SETTLE,  # what claim_day recorded as covered
            JobApplication.status != "retiree",
        )
        .group_by(JobPosting.organisation_id, JobPosting.id, JobPosting.title)
        .order_by(JobPosting.id)
    ).all()
    by_organisation: dict[int, list[tuple[int, str, int]]] = defaultdict(list)
    for organisation_id, posting_id, title, count in rows:
        by_organisation[organisation_id].append((posting_id, title, int(count)))
    sent = 0
    for user_id, email, organisation in recipients:
        postings = by_organisation.get(organisation or 0)
        if not postings:
            continue
        total = sum(count for _, _, count in postings)
        lines = "\n".join(
            f"- « {title} » : {count} nouvelle(s) candidature(s)\n  {pipeline_url(settings, posting_id)}"
            for posting_id, title, count in postings
        )
        token = mint_unsubscribe_link(session, now, user_id=user_id, topic="new_application")
        enqueue_notification(
            session,
            settings,
            recipient=email,
            subject=f"Candidatures du jour : {total} nouvelle(s)",
            body=(
                "Bonjour,\n\nDepuis le dernier récapitulatif, de nouvelles candidatures sont arrivées pour vos offres :"
                f"\n\n{lines}\n\nPour les lire, connectez-vous à la plateforme."
            ),
            kind=KIND_APPLICATION_DIGEST,
            link=page_url(settings, "pipeline"),
            unsubscribe_token=token,
            why=_APPLICATIONS_WHY + " Vous avez choisi un récapitulatif par jour.",
            account=True,
        )
        sent += 1
    session.flush()
    return sent


# ---------------------------------------------------------------------------- the direction: recruiter requests


def recruiter_request_waiting(
    session: Session, settings: Settings, request_id: int, now: datetime | None = None
) -> int:
    """A recruiter request was confirmed and waits for a decision: an e-mail to each member of the direction who
    wants one; how many."""
    now = now or utcnow()
    request = session.get_one(RecruiterRequest, request_id)
    recipients = _recipients(session, "recruiter_request", "immediate")
    link = page_url(settings, "recruiter_requests")
    place = territory.department_label(request.department) if territory.is_department(request.department) else ""
    for user_id, email, _ in recipients:
        token = mint_unsubscribe_link(session, now, user_id=user_id, topic="recruiter_request")
        enqueue_notification(
            session,
            settings,
            recipient=email,
            subject="Une demande de compte recruteur attend votre décision",
            body=(
                "Bonjour,\n\nUne demande de compte recruteur, confirmée par son auteur, attend votre décision : "
                f"{request.organisation_name} ({ORGANISATION_KIND_LABELS[request.organisation_kind]}, {place}).\n\n"
                f"Pour l'accepter ou la refuser, connectez-vous à la plateforme :\n{link}"
            ),
            kind=KIND_RECRUITER_REQUEST,
            link=link,
            unsubscribe_token=token,
            why="Vous recevez cet e-mail parce que vous faites partie de la direction du programme.",
            account=True,
        )
    session.flush()
    return len(recipients)
