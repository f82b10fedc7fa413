"""The e-mails of meetings: confirmation, waiting list, promotion, change, cancellation and reminders."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pvd_survey import db, mail
from pvd_survey.clock import paris_time, utcnow
from pvd_survey.config import Settings
from pvd_survey.meetings.common import (
    LATEST_LINK,
    _meeting,
    deadline_text,
    meeting_link,
    offer_link,
    private_link,
)
from pvd_survey.meetings.documents import calendar_file
from pvd_survey.meetings.tickets import ATTACHMENT_PDF, ATTACHMENT_PNG, ticket_attachments
from pvd_survey.models import Meeting, Registration


class MailedRegistration(Protocol):
    """What a status e-mail reads of a registration: a stored one, or the values of one not inserted yet."""

    @property
    def status(self) -> str: ...
    @property
    def email(self) -> str | None: ...
    @property
    def full_name(self) -> str: ...
    @property
    def reference(self) -> str: ...
    @property
    def offer_expires_at(self) -> datetime | None: ...


SIGNATURE = "L'équipe du programme Petites villes de demain (ANCT)"


def offer_rule(settings: Settings) -> str:
    """The rule of an offer's deadline, in one French sentence (e-mails, private page)."""
    return (
        f"Une place libérée est réservée {settings.waitlist_offer_hours} heures à la personne à qui elle est "
        "proposée, moins quand la rencontre est proche : jamais plus de la moitié du temps qui reste avant son début."
    )


def _when(meeting: Meeting) -> str:
    start = paris_time(meeting.starts_at, "%d/%m/%Y de %H:%M")
    return f"{start} à {paris_time(meeting.ends_at, '%H:%M')}"


def _where(meeting: Meeting) -> str:
    place = ", ".join(part for part in (meeting.venue, meeting.city) if part)
    if meeting.online_url:
        place = (place + " ou " if place else "") + f"en ligne : {meeting.online_url}"
    return place


def _send_status_mail(
    session: Session,
    meeting: Meeting,
    registration: Registration,
    token: str,
    settings: Settings,
    now: datetime,
    position: int | None = None,
    resent: bool = False,
    promoted: bool = False,
    calendar: bytes | None = None,
    changed: bool = False,
) -> None:
    mail.enqueue(
        session,
        **_status_mail(meeting, registration, token, settings, now, position, resent, promoted, calendar, changed),
    )


def _status_mail(
    meeting: Meeting,
    registration: MailedRegistration,
    token: str,
    settings: Settings,
    now: datetime,
    position: int | str | None = None,
    resent: bool = False,
    promoted: bool = False,
    calendar: bytes | None = None,
    changed: bool = False,
) -> dict:
    """The status e-mail of a registration, as `mail.enqueue` keywords (the registration need not be stored)."""
    link = private_link(settings, token)
    details = f"« {meeting.title} »\nLe {_when(meeting)} (heure de Paris)\nLieu : {_where(meeting)}\n"
    if registration.status == "offered":
        return _offer_mail(meeting, registration, token, settings, details, changed)
    attachments = None
    if registration.status == "confirmed":
        subject = (
            "Place libérée : vous êtes inscrit(e) à " if promoted else "Inscription confirmée : "
        ) + meeting.title
        lead = (
            "Une place s'est libérée : vous passez de la liste d'attente à la liste des inscrits."
            if promoted
            else "Votre inscription est confirmée."
        )
        calendar = calendar or calendar_file(meeting, registration.reference, link, now)
        attachments = [
            ("rencontre.ics", "text/calendar", calendar),
            *ticket_attachments(meeting, registration.full_name, registration.reference, settings),
        ]
        calendar_note = "Le fichier joint (rencontre.ics) ajoute la rencontre à votre agenda.\n\n"
    else:
        subject = f"Liste d'attente (position {position}) : {meeting.title}"
        lead = (
            f"La rencontre est complète : vous êtes sur la liste d'attente, en position {position}. "
            "Si une place se libère, elle vous est proposée par e-mail, à accepter avant une date limite."
        )
        calendar_note = ""
    ticket_note = (
        f"Votre billet est joint ({ATTACHMENT_PDF}, et son code QR seul : {ATTACHMENT_PNG}) : présentez-le à "
        "l'accueil, imprimé ou sur votre téléphone. Il reste valable si vous recevez un autre e-mail de cette "
        "rencontre.\n\n"
        if attachments
        else ""
    )
    if resent:
        lead = "Vous étiez déjà inscrit(e) : voici de nouveau votre confirmation.\n" + lead
    if changed:
        subject = f"Changement d'horaire ou de lieu : {meeting.title}"
        lead = "La date, l'horaire ou le lieu de la rencontre a changé : voici les nouvelles informations.\n" + lead
        if attachments:
            calendar_note = "Le fichier joint (rencontre.ics) met à jour la rencontre dans votre agenda.\n\n"
    kind = "meeting_changed" if changed else "meeting_promoted" if promoted else "meeting_" + registration.status
    return dict(
        recipient=registration.email or "",
        subject=subject,
        body=(
            f"Bonjour {registration.full_name},\n\n{lead}\n\n{details}Référence : {registration.reference}\n\n"
            f"{calendar_note}{ticket_note}"
            "Pour suivre ou annuler votre inscription (ce lien est personnel et remplace ceux des e-mails "
            f"précédents) :\n{link}\n\n"
            "L'équipe du programme Petites villes de demain (ANCT)"
        ),
        kind=kind,
        link=link,
        attachments=attachments,
    )


def _offer_mail(
    meeting: Meeting, registration: MailedRegistration, token: str, settings: Settings, details: str, changed: bool
) -> dict:
    """The offer of a freed place: its deadline, the rule that set it, the two answer links."""
    assert registration.offer_expires_at is not None
    deadline = deadline_text(registration.offer_expires_at)
    subject = f"Une place se libère : répondez avant le {deadline} : {meeting.title}"
    lead = (
        f"Une place s'est libérée et vous êtes la première personne de la liste d'attente : elle vous est réservée "
        f"jusqu'au {deadline} (heure de Paris). {offer_rule(settings)}\n\n"
        "Sans réponse de votre part d'ici là, la place est proposée à la personne suivante et vous quittez la liste "
        "d'attente (vous en serez prévenu(e) par e-mail)."
    )
    if changed:
        subject = f"Changement d'horaire ou de lieu : {meeting.title}"
        lead = "La date, l'horaire ou le lieu de la rencontre a changé : voici les nouvelles informations.\n" + lead
    return dict(
        recipient=registration.email or "",
        subject=subject,
        body=(
            f"Bonjour {registration.full_name},\n\n{lead}\n\n{details}Référence : {registration.reference}\n\n"
            f"J'accepte (la place est à moi, je reçois mon billet) :\n{offer_link(settings, token, 'accepter')}\n\n"
            f"Je ne peux plus venir (la place va à la personne suivante) :\n"
            f"{offer_link(settings, token, 'decliner')}\n\n"
            "Votre page d'inscription (ces liens sont personnels et remplacent ceux des e-mails précédents) :\n"
            f"{private_link(settings, token)}\n\n"
            f"{SIGNATURE}"
        ),
        kind="meeting_offered",
        link=private_link(settings, token),
        attachments=None,
    )


def _send_offer_expired_mail(
    session: Session,
    meeting: Meeting,
    registration: Registration,
    settings: Settings,
    passed_on: bool,
    now: datetime,
) -> None:
    """Tell a person their offer ran out unanswered: they are off the waiting list; where the place went (to the
    next person waiting, or back to the free places) and, before the start, that they may register again."""
    assert registration.offer_expires_at is not None
    went = "La place a été proposée à la personne suivante." if passed_on else "La place est de nouveau libre."
    again = (
        f"Vous pouvez vous inscrire de nouveau, s'il reste de la place : {meeting_link(settings, meeting.id)}\n\n"
        if now < meeting.starts_at
        else ""  # the meeting is under way: nothing to register for
    )
    mail.enqueue(
        session,
        recipient=registration.email or "",
        subject=f"Place proposée non confirmée à temps : {meeting.title}",
        body=(
            f"Bonjour {registration.full_name},\n\n"
            f"La place qui vous était proposée à « {meeting.title} » du {_when(meeting)} devait être acceptée avant "
            f"le {deadline_text(registration.offer_expires_at)} (heure de Paris). Sans réponse à temps, vous ne "
            f"figurez plus sur la liste d'attente (référence {registration.reference}). "
            + (went if now < meeting.starts_at else "")
            + f"\n\n{again}{SIGNATURE}"
        ),
        kind="meeting_offer_expired",
        link=meeting_link(settings, meeting.id),
    )


def _send_cancellation_mail(session: Session, registration: Registration, settings: Settings) -> None:
    meeting = _meeting(session, registration.meeting_id)
    by_direction = registration.cancelled_by == "direction"
    mail.enqueue(
        session,
        recipient=registration.email or "",
        subject=f"Inscription annulée : {meeting.title}",
        body=(
            f"Bonjour {registration.full_name},\n\n"
            + (
                "La direction du programme a annulé votre inscription"
                if by_direction
                else "Vous avez décliné la place proposée : votre inscription est annulée"
                if registration.offer_outcome == "declined"
                else "Votre inscription est annulée"
            )
            + f" à « {meeting.title} » du {_when(meeting)} (référence {registration.reference}).\n\n"
            f"Vous pouvez vous inscrire de nouveau, s'il reste de la place : {meeting_link(settings, meeting.id)}\n\n"
            "L'équipe du programme Petites villes de demain (ANCT)"
        ),
        kind="meeting_cancelled",
        link=meeting_link(settings, meeting.id),
    )


def send_due_reminders(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """E-mail a reminder, once, to confirmed people of meetings starting within the reminder delay."""
    now = now or utcnow()
    if settings.meeting_reminder_days <= 0:
        return 0
    horizon = now + timedelta(days=settings.meeting_reminder_days)
    due = session.execute(
        select(Registration.id, Meeting.id)
        .join(Meeting, Meeting.id == Registration.meeting_id)
        .where(
            Registration.status == "confirmed",
            Registration.reminded_at.is_(None),
            Registration.email.is_not(None),
            Meeting.starts_at > now,
            Meeting.starts_at <= horizon,
        )
    ).all()
    sent = 0
    for registration_id, meeting_id in due:
        # Claimed by a conditional UPDATE: two senders never remind the same person twice.
        claimed = db.rowcount(
            session.execute(
                update(Registration)
                .where(Registration.id == registration_id, Registration.reminded_at.is_(None))
                .values(reminded_at=now)
            )
        )
        if claimed != 1:
            continue
        registration = session.get_one(Registration, registration_id)
        meeting = _meeting(session, meeting_id)
        mail.enqueue(
            session,
            recipient=registration.email or "",
            subject=f"Rappel : {meeting.title}, le {paris_time(meeting.starts_at, '%d/%m/%Y')}",
            body=(
                f"Bonjour {registration.full_name},\n\n"
                f"Rappel : vous êtes inscrit(e) à « {meeting.title} ».\n"
                f"Le {_when(meeting)} (heure de Paris)\nLieu : {_where(meeting)}\n"
                f"Référence : {registration.reference}\n\n"
                f"Si vous ne pouvez plus venir, annulez avec {LATEST_LINK} : "
                "votre place ira à la première personne de la liste d'attente.\n\n"
                "L'équipe du programme Petites villes de demain (ANCT)"
            ),
            kind="meeting_reminder",
            link=meeting_link(settings, meeting.id),
        )
        sent += 1
    return sent
