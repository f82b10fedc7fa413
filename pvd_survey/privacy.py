"""Personal data: the retention purge and a person's access request (export, then erase).

Both are lists of steps, one per domain: another domain (e.g. meeting registrations) adds its own
`PurgeStep` to PURGE_STEPS and its own `DataSource` to DATA_SOURCES, and the command line, the admin
page and their tests pick it up. Every function takes a Session; callers commit.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from pvd_survey import db, mail, meetings, notifications, sessions, survey
from pvd_survey.accounts import UserInfo, normalise_email
from pvd_survey.clock import paris_time, utcnow
from pvd_survey.config import Settings
from pvd_survey.errors import DomainError
from pvd_survey.models import (
    ApplicationFile,
    JobApplication,
    JobPosting,
    LoginThrottle,
    OutboxMessage,
    PasswordToken,
    RecruiterRequest,
    SurveyInvitation,
    User,
)

APPLICATION_RETENTION = timedelta(days=91)  # 3 months after the posting is filled or closed
CONTACT_RETENTION = timedelta(days=730)  # 2 years after the last contact, with consent
# A count of failed sign-ins (per e-mail, known or not: a sprayed or mistyped address is a row too) is forgotten a
# day after its last failure, once no lock is in force.
THROTTLE_RETENTION = timedelta(days=1)
REQUEST_RETENTION = timedelta(days=91)


@dataclass(frozen=True)
class PurgeItem:
    """One thing deleted (or that would be)."""

    step: str
    description: str


@dataclass(frozen=True)
class PurgeStep:
    """One kind of personal data past its retention: `find` lists (id, description), `delete` removes ids.

    `find` gets the settings too, for retentions the operator configures (PVD_OUTBOX_RETENTION_DAYS).
    """

    name: str
    find: Callable[[Session, datetime, Settings], Sequence[tuple[int | str, str]]]
    remove: Callable[[Session, list], None]


# ---------------------------------------------------------------------------- recruitment steps


def _expired_applications(session: Session, now: datetime, settings: Settings) -> list[tuple[int, str]]:
    rows = session.execute(
        select(JobApplication.id, JobApplication.reference, JobPosting.id, JobPosting.status)
        .join(JobPosting, JobPosting.id == JobApplication.posting_id)
        .where(
            JobPosting.status.in_(("closed", "filled")),
            JobPosting.ended_at.is_not(None),
            or_(
                (JobApplication.consent_contact.is_(False)) & (JobPosting.ended_at < now - APPLICATION_RETENTION),
                (JobApplication.consent_contact.is_(True))
                & (JobPosting.ended_at < now - APPLICATION_RETENTION)
                & (JobApplication.last_contact_at < now - CONTACT_RETENTION),
            ),
        )
        .order_by(JobApplication.id)
    ).all()
    return [(row[0], f"candidature {row[1]} (offre n° {row[2]}, {row[3]})") for row in rows]


def _delete_applications(session: Session, ids: list[int]) -> None:
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        session.execute(delete(ApplicationFile).where(ApplicationFile.application_id.in_(chunk)))
        session.execute(delete(JobApplication).where(JobApplication.id.in_(chunk)))


def _stale_recruiter_requests(session: Session, now: datetime, settings: Settings) -> list[tuple[int, str]]:
    rows = session.execute(
        select(RecruiterRequest.id, RecruiterRequest.status, RecruiterRequest.created_at)
        .where(
            or_(
                (RecruiterRequest.status == "unconfirmed") & (RecruiterRequest.created_at < now - timedelta(days=7)),
                (RecruiterRequest.status.in_(("approved", "refused")))
                & (RecruiterRequest.decided_at < now - REQUEST_RETENTION),
            )
        )
        .order_by(RecruiterRequest.id)
    ).all()
    return [(row[0], f"demande de compte recruteur n° {row[0]} ({row[1]})") for row in rows]


def _delete_recruiter_requests(session: Session, ids: list[int]) -> None:
    session.execute(delete(RecruiterRequest).where(RecruiterRequest.id.in_(ids)))


def _dead_password_tokens(session: Session, now: datetime, settings: Settings) -> list[tuple[int, str]]:
    rows = session.scalars(
        select(PasswordToken.id).where(or_(PasswordToken.used_at.is_not(None), PasswordToken.expires_at < now))
    ).all()
    return [(token_id, f"lien de mot de passe n° {token_id} (utilisé ou expiré)") for token_id in rows]


def _delete_password_tokens(session: Session, ids: list[int]) -> None:
    session.execute(delete(PasswordToken).where(PasswordToken.id.in_(ids)))


def _stale_login_throttles(session: Session, now: datetime, settings: Settings) -> list[tuple[str, str]]:
    emails = session.scalars(
        select(LoginThrottle.email)
        .where(
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now),
            or_(LoginThrottle.last_failure_at.is_(None), LoginThrottle.last_failure_at < now - THROTTLE_RETENTION),
        )
        .order_by(LoginThrottle.email)
    ).all()
    return [(email, email) for email in emails]


def _delete_login_throttles(session: Session, emails: list[str]) -> None:
    for start in range(0, len(emails), 500):
        session.execute(delete(LoginThrottle).where(LoginThrottle.email.in_(emails[start : start + 500])))


# ---------------------------------------------------------------------------- outbox step


def _old_outbox_messages(session: Session, now: datetime, settings: Settings) -> list[tuple[int, str]]:
    # Delivered messages lost their content when delivered; this deletes the rest of the row, and the
    # messages that never went (pending, failed) with their content. A message a sender holds stays.
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.created_at)
        .where(
            OutboxMessage.created_at < now - timedelta(days=settings.outbox_retention_days),
            OutboxMessage.status != "sending",
        )
        .order_by(OutboxMessage.id)
    ).all()
    return [
        (row[0], f"message n° {row[0]} ({mail.STATUS_LABELS[row[1]].lower()}, écrit le {paris_time(row[2])})")
        for row in rows
    ]


def _delete_outbox_messages(session: Session, ids: list[int]) -> None:
    for start in range(0, len(ids), 500):
        session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.id.in_(ids[start : start + 500]), OutboxMessage.status != "sending"
            )
        )


def _expired_registrations(session: Session, now: datetime, settings: Settings) -> list[tuple[int, str]]:
    return meetings.expired_registrations(session, now)


def _expired_door_passes(session: Session, now: datetime, settings: Settings) -> list[tuple[int, str]]:
    return meetings.expired_door_passes(session, now)


PURGE_STEPS: list[PurgeStep] = [
    PurgeStep("candidatures", _expired_applications, _delete_applications),
    PurgeStep("demandes de compte recruteur", _stale_recruiter_requests, _delete_recruiter_requests),
    PurgeStep("liens de mot de passe", _dead_password_tokens, _delete_password_tokens),
    PurgeStep("inscriptions aux rencontres (anonymisées)", _expired_registrations, meetings.anonymise),
    PurgeStep("liens d'accueil des rencontres", _expired_door_passes, meetings.delete_door_passes),
    PurgeStep("messages de la file d'envoi", _old_outbox_messages, _delete_outbox_messages),
    PurgeStep("sessions de connexion terminées", sessions.expired, sessions.delete_expired),
    PurgeStep("échecs de connexion anciens", _stale_login_throttles, _delete_login_throttles),
    PurgeStep(
        "alertes offres d'emploi jamais confirmées",
        notifications.expired_unconfirmed_alerts,
        notifications.delete_alerts,
    ),
    PurgeStep("liens de désabonnement expirés", notifications.expired_unsubscribe_links, notifications.delete_links),
]


def purge(session: Session, settings: Settings, now: datetime | None = None, dry_run: bool = False) -> list[PurgeItem]:
    """Delete every piece of personal data past its retention (or only list it, with dry_run).

    The settings carry the retentions the operator configures (PVD_OUTBOX_RETENTION_DAYS).
    """
    now = now or utcnow()
    done: list[PurgeItem] = []
    for step in PURGE_STEPS:
        found = step.find(session, now, settings)
        if found and not dry_run:
            step.remove(session, [item_id for item_id, _ in found])
        done += [PurgeItem(step.name, description) for _, description in found]
    session.flush()
    return done


# ---------------------------------------------------------------------------- access requests


@dataclass(frozen=True)
class DataSource:
    """Where a domain keeps data about a person: `export` returns records, `erase` deletes them (count)."""

    name: str
    export: Callable[[Session, str], list[dict]]
    # Some domains e-mail others when erasing (a freed meeting place goes to the next in line).
    erase: Callable[[Session, str, Settings], int]


def _iso(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def _export_applications(session: Session, email: str) -> list[dict]:
    applications = session.execute(
        select(JobApplication, JobPosting.title)
        .join(JobPosting, JobPosting.id == JobApplication.posting_id)
        .where(JobApplication.email == email)
        .order_by(JobApplication.id)
    ).all()
    records = []
    for application, title in applications:
        files = session.scalars(select(ApplicationFile).where(ApplicationFile.application_id == application.id))
        records.append(
            {
                "reference": application.reference,
                "offre": title,
                "nom": application.full_name,
                "email": application.email,
                "telephone": application.phone,
                "lettre_texte": application.cover_letter_text,
                "statut": application.status,
                "motif_refus": application.rejection_reason,
                "notes_employeur": application.notes,
                "accepte_contact": application.consent_contact,
                "recue_le": _iso(application.created_at),
                "dernier_contact": _iso(application.last_contact_at),
                "fichiers": [
                    {
                        "type": f.kind,
                        "nom": f.display_name,
                        "taille": f.size,
                        "contenu_base64": base64.b64encode(f.content).decode("ascii"),
                    }
                    for f in files
                ],
            }
        )
    return records


def _erase_applications(session: Session, email: str, settings: Settings) -> int:
    ids = list(session.scalars(select(JobApplication.id).where(JobApplication.email == email)))
    _delete_applications(session, ids)
    return len(ids)


def _export_recruiter_requests(session: Session, email: str) -> list[dict]:
    rows = session.scalars(select(RecruiterRequest).where(RecruiterRequest.email == email))
    return [
        {
            "email": r.email,
            "nom": r.display_name,
            "organisation": r.organisation_name,
            "departement": r.department,
            "statut": r.status,
            "motif_refus": r.refusal_reason,
            "demande_le": _iso(r.created_at),
        }
        for r in rows
    ]


def _erase_recruiter_requests(session: Session, email: str, settings: Settings) -> int:
    return db.rowcount(session.execute(delete(RecruiterRequest).where(RecruiterRequest.email == email)))


def _export_survey_invitation(session: Session, email: str) -> list[dict]:
    # Only the invitation is stored against the e-mail, never whether or what the person answered (the answers
    # are found through the personal link only; erasing withdraws them, see survey).
    rows = session.scalars(select(SurveyInvitation).where(SurveyInvitation.email == email))
    return [
        {
            "email": i.email,
            "departement": i.department,
            "invite_le": _iso(i.created_at),
            "dernier_envoi_le": _iso(i.last_sent_at),
        }
        for i in rows
    ]


def _export_account(session: Session, email: str) -> list[dict]:
    rows = session.scalars(select(User).where(User.email == email))
    return [
        {"email": u.email, "nom": u.display_name, "role": u.role, "cree_le": _iso(u.created_at), "actif": u.is_active}
        for u in rows
    ]


def _keep_account(session: Session, email: str, settings: Settings) -> int:
    # Staff accounts are disabled on the accounts page, not erased here (they sign published work).
    return 0


DATA_SOURCES: list[DataSource] = [
    DataSource("candidatures", _export_applications, _erase_applications),
    DataSource("demandes de compte recruteur", _export_recruiter_requests, _erase_recruiter_requests),
    DataSource("invitation au questionnaire", _export_survey_invitation, survey.erase_invitation),
    DataSource("inscriptions aux rencontres", meetings.personal_data, meetings.erase),
    DataSource("accueil des rencontres", meetings.door_pass_personal_data, meetings.erase_door_passes),
    DataSource("alertes offres d'emploi", notifications.alert_personal_data, notifications.erase_alerts),
    DataSource("compte de l'application", _export_account, _keep_account),
]


def _require_admin(actor: UserInfo | None) -> None:
    if actor is None or actor.role != "admin":
        raise DomainError("forbidden")


def export_person(session: Session, actor: UserInfo | None, email: str) -> dict[str, list[dict]]:
    """Everything held about one e-mail address, by domain (admin only)."""
    _require_admin(actor)
    email = normalise_email(email)
    return {source.name: source.export(session, email) for source in DATA_SOURCES}


def erase_person(session: Session, actor: UserInfo | None, email: str, settings: Settings) -> dict[str, int]:
    """Erase what each domain holds about one e-mail address; returns what was deleted per domain (admin only)."""
    _require_admin(actor)
    email = normalise_email(email)
    erased = {source.name: source.erase(session, email, settings) for source in DATA_SOURCES}
    session.flush()
    return erased
