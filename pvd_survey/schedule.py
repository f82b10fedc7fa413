"""Work due at a moment rather than on a click: postings past their deadline, waiting-list offers past theirs
(the place goes to the next person waiting), meeting reminders, the survey's scheduled releases and reminder
rounds, the recruiters' daily summary and the job alerts.

The mail sender runs it before each delivery pass (`send-mail`, `send-mail --loop` and the app's
thread), each step in its own transaction; every step is idempotent and safe on several servers.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from pvd_survey import db, meetings, notifications, recruitment, survey
from pvd_survey.config import Settings


@dataclass(frozen=True)
class DueWork:
    """What one pass did."""

    closed_postings: int
    reminders: int
    expired_offers: int = 0
    survey_released: int = 0
    survey_reminders: int = 0
    application_digests: int = 0
    job_alerts: int = 0

    def summary(self) -> str:
        """One French line for the command line ('' when nothing was due)."""
        parts = []
        if self.closed_postings:
            parts.append(f"{self.closed_postings} offre(s) close(s) après leur date limite, candidats prévenus")
        if self.expired_offers:
            parts.append(f"{self.expired_offers} place(s) proposée(s) sans réponse à temps, passée(s) à la suite")
        if self.reminders:
            parts.append(f"{self.reminders} rappel(s) de rencontre")
        if self.survey_released:
            parts.append(f"questionnaire : {self.survey_released} changement(s) publié(s) dans les chiffres")
        if self.survey_reminders:
            parts.append(f"questionnaire : {self.survey_reminders} relance(s)")
        if self.application_digests:
            parts.append(f"{self.application_digests} récapitulatif(s) quotidien(s) de candidatures")
        if self.job_alerts:
            parts.append(f"{self.job_alerts} alerte(s) offres d'emploi")
        return " ; ".join(parts)


def run_due_work(factory: sessionmaker[Session], settings: Settings) -> DueWork:
    """Close postings past their deadline, pass on the meeting offers past theirs, write due reminders to the outbox,
    release the survey's waiting group, and, once a day (each claimed for the day, so one server does it), the
    recruiters' summary and the job alerts."""
    with db.transaction(factory) as session:
        closed = recruitment.close_expired_postings(session, settings)
    with db.transaction(factory) as session:
        expired_offers = meetings.expire_offers(session, settings)
    with db.transaction(factory) as session:
        reminders = meetings.send_due_reminders(session, settings)
    with db.transaction(factory) as session:
        released = survey.release_due(session, settings).applied
    with db.transaction(factory) as session:
        survey_reminders = survey.send_due_reminders(session, settings)
    with db.transaction(factory) as session:
        digests = notifications.send_application_digests(session, settings)
    with db.transaction(factory) as session:
        alerts = notifications.send_alerts(session, settings)
    return DueWork(len(closed), reminders, expired_offers, released, survey_reminders, digests, alerts)
