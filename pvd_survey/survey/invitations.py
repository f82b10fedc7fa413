"""Invitations (the e-mail side): who is invited, their links, resending, revoking, the closing date."""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pvd_survey import db, links, mail, territory
from pvd_survey.accounts import normalise_email
from pvd_survey.clock import from_paris_parts, paris_time, utcnow
from pvd_survey.config import Settings
from pvd_survey.errors import DomainError, InvalidAnswers
from pvd_survey.models import AppSetting, SurveyInvitation, SurveyReminder
from pvd_survey.survey.links import CLOSES_AT_KEY, survey_link
from pvd_survey.survey.respondent import has_answered

REMINDER_KIND = "survey_reminder"


def anonymity_notice(k: int) -> str:
    """What holds, in plain French: said in every invitation and on the survey page."""
    return (
        "Ni la direction du programme ni une copie de la base de données ne permettent de relier vos réponses "
        "à votre adresse. Seul le serveur de l'application, qui détient la clé, le peut, et uniquement pour vous "
        "laisser les modifier ou les retirer, et pour ne pas vous relancer si vous avez déjà répondu. La direction "
        f"ne voit que des chiffres d'ensemble : ils ne bougent que par groupes d'au moins {k} réponses, à heures "
        f"fixes, aucun chiffre ne porte sur moins de {k} personnes, et chaque chiffre est déplacé au hasard de 2 "
        "au plus."
    )


def _send_invitation(session: Session, settings: Settings, email: str, token: str, kind: str = "first") -> None:
    """Queue the invitation e-mail: `first`, `resend` (by the direction) or `reminder` (by the system)."""
    link = survey_link(settings, token)
    closes = closing_time(session)
    deadline = f"\nLe questionnaire est ouvert jusqu'au {paris_time(closes, '%d/%m/%Y à %H:%M')}.\n" if closes else ""
    replaces = "" if kind == "first" else "Ce lien remplace celui de nos messages précédents.\n"
    mail.enqueue(
        session,
        recipient=email,
        subject=("" if kind == "first" else "Rappel : ") + "Questionnaire sur le profil des chefs de projet PVD",
        body=(
            "Bonjour,\n\n"
            "La direction du programme Petites villes de demain (ANCT) vous invite à répondre à un court "
            "questionnaire sur votre profil de chef de projet (sept questions, deux minutes).\n\n"
            f"Votre lien personnel (ne le transmettez pas) :\n{link}\n{replaces}{deadline}\n"
            f"{anonymity_notice(settings.disclosure_k)} Ce message est effacé de nos serveurs dès son envoi.\n\n"
            "L'équipe du programme Petites villes de demain"
        ),
        kind=REMINDER_KIND if kind == "reminder" else "survey_invitation",
        link=link,
    )


# ---------------------------------------------------------------------------- invitations


@dataclass(frozen=True)
class InvitationEntry:
    """One line of a pasted list or CSV of invitees."""

    line: int
    email: str
    department: str | None


@dataclass(frozen=True)
class InvitationBatch:
    """What a bulk invitation did."""

    created: list[str]
    already_invited: list[str]


@dataclass(frozen=True)
class InvitationInfo:
    """An invitation as the direction sees it: never whether, when or what the person answered."""

    id: int
    email: str
    department: str | None
    status: str
    sent_count: int
    created_at: datetime
    last_sent_at: datetime


def parse_invitation_list(text: str) -> list[InvitationEntry]:
    """Read pasted e-mails or a CSV (e-mail[, department]); raise InvalidAnswers-like errors per line."""
    entries: list[InvitationEntry] = []
    errors: dict[str, DomainError] = {}
    seen: set[str] = set()
    rows = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";" if ";" in text else ",")
    for number, row in enumerate(rows, start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if number == 1 and cells[0].lower() in ("email", "e-mail", "courriel", "adresse"):
            continue  # header row
        raw_email, raw_department = cells[0], (cells[1] if len(cells) > 1 else "")
        try:
            email = normalise_email(raw_email)
        except DomainError:
            errors[f"ligne {number}"] = DomainError(
                "invalid_email_line", field="invitees", line=number, value=raw_email
            )
            continue
        department = None
        if raw_department:
            department = territory.normalise_department(raw_department)
            if department is None:
                errors[f"ligne {number}"] = DomainError(
                    "unknown_department_line", field="invitees", line=number, value=raw_department
                )
                continue
        if email in seen:
            continue
        seen.add(email)
        entries.append(InvitationEntry(number, email, department))
    if errors:
        raise InvalidAnswers(errors)
    if not entries:
        raise DomainError("no_invitees", field="invitees")
    return entries


def invite(session: Session, entries: list[InvitationEntry], settings: Settings) -> InvitationBatch:
    """Create one invitation per new e-mail and queue its e-mail; already invited e-mails are reported."""
    emails = [entry.email for entry in entries]
    existing = set(session.scalars(select(SurveyInvitation.email).where(SurveyInvitation.email.in_(emails))))
    created: list[str] = []
    for entry in entries:
        if entry.email in existing:
            continue
        token = links.new_token()
        try:
            with session.begin_nested():
                session.add(
                    SurveyInvitation(
                        email=entry.email,
                        department=entry.department,
                        token_hash=links.token_hash(token),
                        respondent_salt=secrets.token_hex(32),
                    )
                )
                session.flush()
        except IntegrityError:
            existing.add(entry.email)  # invited a moment ago by someone else
            continue
        _send_invitation(session, settings, entry.email, token)
        created.append(entry.email)
    return InvitationBatch(created, sorted(existing))


def _invitation(session: Session, invitation_id: int) -> SurveyInvitation:
    invitation = session.get(SurveyInvitation, invitation_id, with_for_update=True)
    if invitation is None:
        raise DomainError("unknown_invitation")
    return invitation


def revoke(session: Session, invitation_id: int) -> None:
    """Make an invitation's link unusable (a submitted response is kept)."""
    _invitation(session, invitation_id).status = "revoked"


def reactivate(session: Session, invitation_id: int, settings: Settings) -> None:
    """Undo a revocation: a fresh link is sent (the old one stays dead)."""
    invitation = _invitation(session, invitation_id)
    if invitation.status != "revoked":
        raise DomainError("invitation_not_revoked")
    invitation.status = "active"
    resend(session, invitation_id, settings)


def resend(session: Session, invitation_id: int, settings: Settings) -> None:
    """Send the invitation again with a new link; the previous link stops working, the draft and answers stay."""
    invitation = _invitation(session, invitation_id)
    if invitation.status == "revoked":
        raise DomainError("invitation_revoked")
    token = links.new_token()
    invitation.token_hash = links.token_hash(token)
    invitation.sent_count += 1
    invitation.last_sent_at = utcnow()
    _send_invitation(session, settings, invitation.email, token, kind="resend")


def list_invitations(session: Session) -> list[InvitationInfo]:
    """Every invitation, newest first."""
    rows = session.scalars(select(SurveyInvitation).order_by(SurveyInvitation.id.desc()))
    return [
        InvitationInfo(
            i.id,
            i.email,
            i.department,
            i.status,
            i.sent_count,
            i.created_at,
            i.last_sent_at,
        )
        for i in rows
    ]


# ---------------------------------------------------------------------------- closing date


def closing_time(session: Session) -> datetime | None:
    """When the survey closes (UTC), if a date was set."""
    setting = session.get(AppSetting, CLOSES_AT_KEY)
    return datetime.fromisoformat(setting.value) if setting and setting.value else None


def set_closing_time(session: Session, closes_at: datetime | None) -> None:
    """Set (or remove, with None) the moment the survey stops accepting answers."""
    setting = session.get(AppSetting, CLOSES_AT_KEY)
    value = closes_at.isoformat() if closes_at else None
    if setting is None:
        session.add(AppSetting(key=CLOSES_AT_KEY, value=value))
    else:
        setting.value = value
    session.flush()


def close_on(session: Session, day: date | None, hour: time, now: datetime | None = None) -> datetime:
    """The closing date form: the survey closes on this day at this time (Paris), which must be to come; returns
    the moment (UTC). The errors name the form's field, "day"."""
    if day is None:
        raise DomainError("closing_day_required", field="day")
    moment = from_paris_parts(day, hour)
    if moment <= (now or utcnow()):
        raise DomainError("closing_in_past", field="day")
    set_closing_time(session, moment)
    return moment


def is_closed(session: Session, now: datetime | None = None) -> bool:
    """True once the closing time has passed."""
    closes = closing_time(session)
    return closes is not None and (now or utcnow()) >= closes


# ---------------------------------------------------------------------------- reminders
#
# Reminders are the system's, on dates the direction chooses: the direction never learns who was
# reminded (the invitation's sending count and date stay as the direction left them, and reminder
# e-mails are neither listed on the Messages page nor kept once sent). Whether a person answered is
# read through the keyed lookup, by the server, at the moment of the round only.


@dataclass(frozen=True)
class ReminderInfo:
    """A reminder round: when it is due, and when it was done."""

    id: int
    due_at: datetime
    done_at: datetime | None


def list_reminders(session: Session) -> list[ReminderInfo]:
    """Every reminder round, by date."""
    rows = session.scalars(select(SurveyReminder).order_by(SurveyReminder.due_at))
    return [ReminderInfo(r.id, r.due_at, r.done_at) for r in rows]


def schedule_reminder(session: Session, due_at: datetime, now: datetime | None = None) -> None:
    """Add a reminder round (UTC); refused in the past or twice at the same moment (errors of the form's "day")."""
    if due_at <= (now or utcnow()):
        raise DomainError("reminder_in_past", field="day")
    if session.scalar(select(SurveyReminder.id).where(SurveyReminder.due_at == due_at)) is not None:
        raise DomainError("reminder_exists", field="day", when=paris_time(due_at, "%d/%m/%Y à %H:%M"))
    session.add(SurveyReminder(due_at=due_at))
    session.flush()


def schedule_reminder_on(session: Session, day: date | None, hour: time, now: datetime | None = None) -> datetime:
    """The reminder form: a round on this day at this time (Paris); returns the moment (UTC)."""
    if day is None:
        raise DomainError("reminder_day_required", field="day")
    moment = from_paris_parts(day, hour)
    schedule_reminder(session, moment, now)
    return moment


def cancel_reminder(session: Session, reminder_id: int) -> None:
    """Remove a round that has not been done."""
    deleted = db.rowcount(
        session.execute(
            delete(SurveyReminder).where(SurveyReminder.id == reminder_id, SurveyReminder.done_at.is_(None))
        )
    )
    if deleted != 1:
        raise DomainError("unknown_reminder")


def send_due_reminders(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Do the rounds that are due: a new link to each active invitee who has not answered. Needs SMTP.

    Without SMTP the rounds wait: a reminder passed on by hand would show an administrator who has not
    answered. Each round is claimed by one conditional UPDATE, so two servers never both do it.
    """
    if settings.smtp is None:
        return 0
    now = now or utcnow()
    due = session.scalars(
        select(SurveyReminder).where(SurveyReminder.due_at <= now, SurveyReminder.done_at.is_(None))
    ).all()
    reminded = 0
    for round_ in due:
        claimed = db.rowcount(
            session.execute(
                update(SurveyReminder)
                .where(SurveyReminder.id == round_.id, SurveyReminder.done_at.is_(None))
                .values(done_at=now)
            )
        )
        if claimed != 1 or is_closed(session, now):
            continue
        invitations = session.scalars(
            select(SurveyInvitation).where(
                SurveyInvitation.status == "active", SurveyInvitation.created_at <= round_.due_at
            )
        ).all()
        for invitation in invitations:
            if has_answered(session, settings, invitation.respondent_salt):
                continue
            token = links.new_token()
            invitation.token_hash = links.token_hash(token)
            _send_invitation(session, settings, invitation.email, token, kind="reminder")
            reminded += 1
    session.flush()
    return reminded
