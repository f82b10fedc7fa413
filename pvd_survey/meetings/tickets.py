"""Tickets: the code a registration shows at the door, its QR code and its one-page PDF.

A ticket's code is `PVD-R<meeting id>-<26 upper-case base32 characters>`: the app's name and the meeting, then
128 bits made from the server key and the registration's reference (`links.keyed_token`). Nothing else is in it:
no name, no e-mail, no private link. The database keeps only the code's SHA-256 (`registration.ticket_hash`),
like every personal link; the code is made again whenever it is shown (an e-mail, the private page), so a
re-sent confirmation or a changed meeting carries the same ticket, and a printed one stays good. Only
characters of the QR code's alphanumeric mode are used: the code fits a version 2 QR code, easy to read from a
crumpled sheet or a dim phone.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import segno
from sqlalchemy.orm import Session

from pvd_survey import links
from pvd_survey.clock import paris_time
from pvd_survey.config import Settings
from pvd_survey.errors import DomainError
from pvd_survey.models import Meeting, Registration

TICKET_PURPOSE = "billet"
_FONTS = Path(__file__).resolve().parent.parent / "fonts"
_CODE = re.compile(r"PVD-R([1-9][0-9]{0,8})-([A-Z2-7]{26})")
# Codes back to back: a scanner types into whatever the field holds, and a phone's field may still hold the
# previous ticket when the next one is scanned (seen in Chromium when the live counts redraw at that moment).
_CODES = re.compile(rf"(?:{_CODE.pattern})+")
# A USB or Bluetooth scanner types as a keyboard. Set up for QWERTY on a French (AZERTY) computer, it types
# « PVD)R&é)… » for « PVD-R12-… »: the keys it presses, read back as the QWERTY characters it meant.
_AZERTY_AS_QWERTY = str.maketrans("&é\"'(-è_çà)QAZW?", "1234567890-AQWZM")
ATTACHMENT_PDF = "billet.pdf"
ATTACHMENT_PNG = "billet-qr.png"


class TicketMeeting(Protocol):
    """What a ticket shows of a meeting (a stored Meeting or the MeetingInfo of a page)."""

    @property
    def id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ends_at(self) -> datetime: ...
    @property
    def venue(self) -> str: ...
    @property
    def city(self) -> str: ...
    @property
    def online_url(self) -> str | None: ...


@dataclass(frozen=True)
class Ticket:
    """A person's ticket as their private page shows it."""

    code: str
    full_name: str
    reference: str
    qr_png: bytes
    pdf: bytes


def ticket_code(secret_key: str, meeting_id: int, reference: str) -> str:
    """The ticket's code of a registration: the same every time it is made, by nobody without the server key."""
    return f"PVD-R{meeting_id}-" + links.keyed_token(secret_key, TICKET_PURPOSE, f"{meeting_id}/{reference}")


def ticket_hash(secret_key: str, meeting_id: int, reference: str) -> str:
    """What the database keeps of a ticket: its code's SHA-256."""
    return links.token_hash(ticket_code(secret_key, meeting_id, reference))


def read_code(typed: str) -> str | None:
    """The ticket code in what a scanner typed or a camera read (spaces, case, an AZERTY layout and the previous
    ticket still in the field forgiven)."""
    text = "".join(typed.split()).upper()
    if len(text) > 10 * links.MAX_TOKEN_LENGTH:  # a few tickets back to back, not a pasted page
        return None
    for candidate in (text, "".join(typed.split()).translate(_AZERTY_AS_QWERTY).upper()):
        if _CODES.fullmatch(candidate):
            return [match.group(0) for match in _CODE.finditer(candidate)][-1]  # the ticket just scanned
    return None


def meeting_of(code: str) -> int:
    """The meeting a well-formed code names."""
    match = _CODE.fullmatch(code)
    assert match is not None
    return int(match.group(1))


def looks_like_ticket(typed: str) -> bool:
    """True if the text starts like one of our tickets (then a bad one is « damaged », not « foreign »)."""
    text = "".join(typed.split()).upper()
    return text.startswith("PVD-R") or text.translate(_AZERTY_AS_QWERTY).startswith("PVD-R")


def _qr(code: str) -> segno.QRCode:
    # Level Q: a quarter of the symbol may be lost (a crease, a glare) and it still reads.
    return segno.make_qr(code, error="q")


def qr_png(code: str, scale: int = 8, qr: segno.QRCode | None = None) -> bytes:
    """The code as a standard QR code (not Micro QR), PNG, with its quiet zone."""
    out = io.BytesIO()
    (qr or _qr(code)).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def _place(meeting: TicketMeeting) -> str:
    parts = [part for part in (meeting.venue, meeting.city) if part]
    if meeting.online_url:
        parts.append("en ligne")
    return ", ".join(parts) or "à préciser"


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def ticket_pdf(
    meeting: TicketMeeting, full_name: str, reference: str, code: str, qr: segno.QRCode | None = None
) -> bytes:
    """The one-page ticket: name, meeting, date, place, reference and the QR code (drawn as vectors)."""
    from fpdf import FPDF  # imported here: fpdf (and numpy) would cost every server start and command 0.4 s

    texts = (meeting.title, meeting.venue, meeting.city, full_name)
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(f"Billet - {meeting.title}")
    pdf.set_author("Programme Petites villes de demain (ANCT)")
    if all(_latin1(text) for text in texts):
        font = "helvetica"  # a core font: a few milliseconds instead of tens with an embedded one
    else:  # a name or a place beyond Latin-1 (Łukasz, Œuvre…): DejaVu has its letters
        font = "DejaVu"
        pdf.add_font(font, "", str(_FONTS / "DejaVuSans.ttf"))
        pdf.add_font(font, "B", str(_FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()
    when = f"{paris_time(meeting.starts_at, '%d/%m/%Y, de %H:%M')} à {paris_time(meeting.ends_at, '%H:%M')}"
    lines = (
        (10, "", 6, "Petites villes de demain - ANCT"),
        (20, "B", 12, "Billet d'entrée"),
        (14, "B", 0, None),  # the title, on as many lines as it needs
        (12, "", 7, f"Le {when} (heure de Paris)"),
        (12, "", 10, f"Lieu : {_place(meeting)}"),
        (12, "B", 7, full_name),
        (12, "", 7, f"Référence {reference}"),
    )
    for size, style, height, line in lines:
        pdf.set_font(font, style, size)
        if line is None:
            pdf.multi_cell(0, 7, meeting.title, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        else:  # one line each (cell: no line breaking to compute), cut at the page's width
            pdf.cell(0, height, line[:90], new_x="LMARGIN", new_y="NEXT")
    qr = qr or _qr(code)
    side = 80.0
    module = side / (len(qr.matrix) + 8)  # with the quiet zone of 4 modules on each side
    left, top = (210 - side) / 2, pdf.get_y() + 6
    pdf.set_fill_color(0, 0, 0)
    for row_number, row in enumerate(qr.matrix):
        column = 0
        while column < len(row):  # one rectangle per run of dark modules
            if not row[column]:
                column += 1
                continue
            end = column
            while end < len(row) and row[end]:
                end += 1
            x, y = left + (column + 4) * module, top + (row_number + 4) * module
            pdf.rect(x, y, (end - column) * module, module, style="F")
            column = end
    pdf.set_y(top + side + 2)
    pdf.set_font(font, "", 9)
    pdf.cell(0, 5, code, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font(font, "", 11)
    for line in (
        "Présentez ce billet à l'accueil, imprimé ou sur votre téléphone.",
        "Il est personnel : il ne contient ni votre nom ni votre adresse, seulement un code",
        "que l'accueil lit pour vous enregistrer.",
    ):
        pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def ticket_attachments(
    meeting: TicketMeeting, full_name: str, reference: str, settings: Settings
) -> list[tuple[str, str, bytes]]:
    """The ticket as e-mail attachments: the PDF, and the QR code alone (a phone shows it at once)."""
    code = ticket_code(settings.secret_key, meeting.id, reference)
    qr = _qr(code)
    return [
        (ATTACHMENT_PDF, "application/pdf", ticket_pdf(meeting, full_name, reference, code, qr)),
        (ATTACHMENT_PNG, "image/png", qr_png(code, qr=qr)),
    ]


def ticket_of(session: Session, registration: Registration, settings: Settings) -> Ticket | None:
    """A confirmed registration's ticket (None for a waiting or cancelled one: it admits nobody)."""
    if registration.status != "confirmed":
        return None
    meeting = session.get_one(Meeting, registration.meeting_id)
    code = ticket_code(settings.secret_key, meeting.id, registration.reference)
    qr = _qr(code)
    pdf = ticket_pdf(meeting, registration.full_name, registration.reference, code, qr)
    return Ticket(code, registration.full_name, registration.reference, qr_png(code, qr=qr), pdf)


def ticket_by_link(session: Session, token: str | None, settings: Settings) -> Ticket | None:
    """The ticket the private link's person shows at the door (None until their place is confirmed)."""
    registration = links.find_by_token(session, Registration, (token or "").strip())
    if registration is None:
        raise DomainError("invalid_registration_link")
    return ticket_of(session, registration, settings)
