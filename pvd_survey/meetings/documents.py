"""A meeting's documents: the .ics file, the direction's lists, their export rows and the sign-in sheet PDF."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import Session

from pvd_survey.clock import paris_from_utc, paris_time
from pvd_survey.meetings.common import (
    ROLE_LABELS,
    STATUS_LABELS,
    AttendeeInfo,
    Roster,
    _fold,
    deadline_text,
    get_meeting,
)
from pvd_survey.models import Meeting, Registration
from pvd_survey.vocabulary import OFFER_OUTCOME_LABELS

_FONTS = Path(__file__).resolve().parent.parent / "fonts"


def calendar_file(meeting: Meeting, reference: str, link: str | None, now: datetime) -> bytes:
    """An iCalendar (.ics) file with the meeting as one event (a later SEQUENCE replaces the earlier one)."""
    calendar = Calendar()
    calendar.add("prodid", "-//ANCT//Petites villes de demain//FR")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"rencontre-{meeting.id}-{reference}@petitesvillesdedemain.anct.gouv.fr")
    event.add("dtstamp", now.replace(tzinfo=UTC))
    event.add("sequence", meeting.revision or 0)
    event.add("dtstart", meeting.starts_at.replace(tzinfo=UTC))
    event.add("dtend", meeting.ends_at.replace(tzinfo=UTC))
    event.add("summary", meeting.title)
    place = ", ".join(part for part in (meeting.venue, meeting.city) if part) or (meeting.online_url or "")
    event.add("location", place)
    description = meeting.description
    if meeting.online_url:
        description += f"\n\nEn ligne : {meeting.online_url}"
        event.add("url", meeting.online_url)
    if link:
        description += f"\n\nVotre inscription (référence {reference}) : {link}"
    event.add("description", description.strip())
    calendar.add_component(event)
    return calendar.to_ical()


# ---------------------------------------------------------------------------- the direction's lists


def _attendee(registration: Registration, position: int | None) -> AttendeeInfo:
    return AttendeeInfo(
        registration.id,
        registration.reference,
        registration.status,
        position,
        registration.full_name,
        registration.email or "",
        registration.attendee_role,
        registration.organisation,
        registration.department,
        registration.needs,
        registration.created_at,
        registration.cancelled_at,
        registration.checked_in_at,
        offer_state(registration),
    )


def offer_state(registration: Registration) -> str:
    """A waiting-list offer's state as the direction reads it (« Place proposée jusqu'au … »), "" if never offered."""
    if registration.offer_expires_at is None:
        return ""
    if registration.status == "offered":
        return f"Place proposée jusqu'au {deadline_text(registration.offer_expires_at)}"
    return OFFER_OUTCOME_LABELS.get(registration.offer_outcome or "", "")


def roster(session: Session, meeting_id: int) -> Roster:
    """A meeting's lists: confirmed (by name), waiting (places offered first, then in order, with positions),
    cancelled."""
    meeting = get_meeting(session, meeting_id)
    registrations = list(
        session.scalars(
            select(Registration)
            .where(Registration.meeting_id == meeting_id, Registration.anonymised_at.is_(None))
            .order_by(Registration.arrival)
        )
    )
    waiting = [r for r in registrations if r.status == "waiting"]
    return Roster(
        meeting,
        sorted(
            (_attendee(r, None) for r in registrations if r.status == "confirmed"),
            key=lambda a: _fold(a.full_name),
        ),
        # Places offered first (held for them, no position), then the waiting list in order.
        [_attendee(r, None) for r in registrations if r.status == "offered"]
        + [_attendee(r, index) for index, r in enumerate(waiting, start=1)],
        [_attendee(r, None) for r in registrations if r.status == "cancelled"],
    )


EXPORT_COLUMNS = (
    "Référence",
    "Statut",
    "Position d'attente",
    "Nom",
    "E-mail",
    "Profil",
    "Organisation ou commune",
    "Département",
    "Besoins (accessibilité, repas)",
    "Inscrit le",
    "Annulé le",
    "Présent",
    "Offre de place libérée",
)


def export_rows(lists: Roster) -> list[list[object]]:
    """The rows of a meeting's export (confirmed, then waiting in order, then cancelled), typed for exports.table:
    text stays text (a department "01" too), times are French local times, presence a boolean."""
    return [
        [
            person.reference,
            STATUS_LABELS[person.status],
            person.position,
            person.full_name,
            person.email,
            ROLE_LABELS[person.attendee_role],
            person.organisation,
            person.department or "",
            person.needs,
            paris_from_utc(person.registered_at),  # real date cells in XLSX, jj/mm/aaaa hh:mm in the CSV
            paris_from_utc(person.cancelled_at) if person.cancelled_at else None,
            person.checked_in_at is not None if person.status == "confirmed" else None,  # oui / non
            person.offer,
        ]
        for person in lists.confirmed + lists.waiting + lists.cancelled
    ]


def sign_in_sheet_pdf(lists: Roster) -> bytes:
    """The printable sign-in sheet ("feuille d'émargement"): one line per confirmed participant."""
    from fpdf import FPDF  # imported here: fpdf (and numpy) would cost every server start and command 0.4 s

    meeting = lists.meeting
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(f"Feuille d'émargement - {meeting.title}")
    pdf.set_author("Programme Petites villes de demain (ANCT)")
    pdf.add_font("DejaVu", "", str(_FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(_FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 14)
    pdf.multi_cell(0, 7, "Feuille d'émargement", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "B", 11)
    pdf.multi_cell(0, 6, meeting.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    when = f"{paris_time(meeting.starts_at, '%d/%m/%Y, %H:%M')} - {paris_time(meeting.ends_at, '%H:%M')}"
    pdf.multi_cell(0, 5, f"{when}    {meeting.place_label}", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 5, f"{len(lists.confirmed)} participant(s) confirmé(s)", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    with pdf.table(
        col_widths=(8, 52, 30, 50, 50),
        line_height=9,
        text_align=("RIGHT", "LEFT", "LEFT", "LEFT", "LEFT"),
        repeat_headings=1,
    ) as table:
        table.row(["N°", "Nom", "Profil", "Organisation ou commune", "Signature"])
        for number, person in enumerate(lists.confirmed, start=1):
            table.row([str(number), person.full_name, ROLE_LABELS[person.attendee_role], person.organisation, ""])
    return bytes(pdf.output())
