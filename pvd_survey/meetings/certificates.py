"""Attendance certificates: a one-page PDF for each person marked present, e-mailed once, downloadable.

The direction sends them after the meeting, one person at a time (so that the page can show its progress and a
pass cut short leaves nothing half done). Each is claimed by one conditional UPDATE (`… WHERE
certificate_sent_at IS NULL`) in the transaction that writes its e-mail to the outbox: two passes at once, or a
second click, never send a certificate twice. Only a confirmed person marked present gets one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pvd_survey import links, mail
from pvd_survey.clock import paris_time, utcnow
from pvd_survey.config import Settings
from pvd_survey.db import rowcount
from pvd_survey.errors import DomainError
from pvd_survey.meetings.common import LATEST_LINK, _meeting
from pvd_survey.meetings.tickets import TicketMeeting, _latin1, _place
from pvd_survey.models import Registration

_FONTS = Path(__file__).resolve().parent.parent / "fonts"
ATTACHMENT = "attestation-de-presence.pdf"


@dataclass(frozen=True)
class CertificateCounts:
    """A meeting's certificates: people marked present, and how many of them were sent theirs."""

    present: int
    sent: int

    @property
    def to_send(self) -> int:
        """Present people still without their certificate."""
        return self.present - self.sent


def _duration(meeting: TicketMeeting) -> str:
    minutes = int((meeting.ends_at - meeting.starts_at).total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d}" if rest else f"{hours} h"


def certificate_pdf(meeting: TicketMeeting, full_name: str, reference: str, issued: datetime) -> bytes:
    """The one-page certificate: who attended which meeting, when, for how long, issued by the programme."""
    from fpdf import FPDF  # imported here: fpdf (and numpy) would cost every server start and command 0.4 s

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(f"Attestation de présence - {meeting.title}")
    pdf.set_author("Programme Petites villes de demain (ANCT)")
    if all(_latin1(text) for text in (meeting.title, meeting.venue, meeting.city, full_name)):
        font = "helvetica"
    else:
        font = "DejaVu"
        pdf.add_font(font, "", str(_FONTS / "DejaVuSans.ttf"))
        pdf.add_font(font, "B", str(_FONTS / "DejaVuSans-Bold.ttf"))
    pdf.add_page()
    pdf.set_font(font, "", 10)
    pdf.cell(0, 6, "Agence nationale de la cohésion des territoires - Programme Petites villes de demain")
    pdf.ln(20)
    pdf.set_font(font, "B", 20)
    pdf.cell(0, 10, "Attestation de présence", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(12)
    pdf.set_font(font, "", 12)
    when = paris_time(meeting.starts_at, "%d/%m/%Y, de %H:%M")
    pdf.multi_cell(
        0,
        7,
        "Le programme Petites villes de demain de l'Agence nationale de la cohésion des territoires atteste que\n\n"
        f"{full_name}\n\n"
        f"a participé à la rencontre « {meeting.title} », le {when} à {paris_time(meeting.ends_at, '%H:%M')} "
        f"(heure de Paris), soit une durée de {_duration(meeting)}, lieu : {_place(meeting)}.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(10)
    pdf.cell(0, 7, f"Fait le {paris_time(issued, '%d/%m/%Y')}, pour servir et valoir ce que de droit.")
    pdf.ln(7)
    pdf.cell(0, 7, "La direction du programme Petites villes de demain")
    pdf.ln(20)
    pdf.set_font(font, "", 9)
    pdf.cell(0, 5, f"Référence d'inscription : {reference}")
    return bytes(pdf.output())


def _present(meeting_id: int):
    return (
        Registration.meeting_id == meeting_id,
        Registration.status == "confirmed",
        Registration.checked_in_at.is_not(None),
        Registration.email.is_not(None),  # (not anonymised)
    )


def certificate_counts(session: Session, meeting_id: int) -> CertificateCounts:
    """People marked present at a meeting, and how many were sent their certificate."""
    present, sent = session.execute(
        select(func.count(), func.count(Registration.certificate_sent_at)).where(*_present(meeting_id))
    ).one()
    return CertificateCounts(present or 0, sent or 0)


def certificates_to_send(session: Session, meeting_id: int, now: datetime | None = None) -> list[int]:
    """The present people still without their certificate (meeting_not_over before the meeting's end)."""
    meeting = _meeting(session, meeting_id)
    if (now or utcnow()) < meeting.ends_at:
        raise DomainError("meeting_not_over")
    query = select(Registration.id).where(*_present(meeting_id), Registration.certificate_sent_at.is_(None))
    return list(session.scalars(query.order_by(Registration.id)))


def send_certificate(
    session: Session, meeting_id: int, registration_id: int, settings: Settings, now: datetime | None = None
) -> bool:
    """E-mail one present person their certificate, unless it was sent already; True if this call sent it."""
    now = now or utcnow()
    meeting = _meeting(session, meeting_id)
    if now < meeting.ends_at:
        raise DomainError("meeting_not_over")
    claimed = rowcount(
        session.execute(
            update(Registration)
            .where(
                Registration.id == registration_id, *_present(meeting_id), Registration.certificate_sent_at.is_(None)
            )
            .values(certificate_sent_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    if claimed != 1:
        return False  # sent by another pass a moment ago, or not (or no longer) a present person
    registration = session.get_one(Registration, registration_id)
    pdf = certificate_pdf(meeting, registration.full_name, registration.reference, now)
    mail.enqueue(
        session,
        recipient=registration.email or "",
        subject=f"Attestation de présence : {meeting.title}",
        body=(
            f"Bonjour {registration.full_name},\n\n"
            f"Merci d'avoir participé à « {meeting.title} » le {paris_time(meeting.starts_at, '%d/%m/%Y')}. "
            f"Votre attestation de présence est jointe ({ATTACHMENT}) ; elle se télécharge aussi depuis "
            f"{LATEST_LINK}.\n\n"
            "L'équipe du programme Petites villes de demain (ANCT)"
        ),
        kind="meeting_certificate",
        attachments=[(ATTACHMENT, "application/pdf", pdf)],
    )
    return True


def certificate_by_link(session: Session, token: str | None, now: datetime | None = None) -> bytes | None:
    """The private link's person's certificate, once the meeting is over and if they were marked present."""
    registration = links.find_by_token(session, Registration, (token or "").strip())
    if registration is None:
        raise DomainError("invalid_registration_link")
    meeting = _meeting(session, registration.meeting_id)
    if registration.status != "confirmed" or registration.checked_in_at is None or (now or utcnow()) < meeting.ends_at:
        return None
    return certificate_pdf(meeting, registration.full_name, registration.reference, meeting.ends_at)
