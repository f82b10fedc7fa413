"""Meeting tickets: the code in the confirmation e-mail and on the private page, its QR code and its PDF."""

from __future__ import annotations

import base64
import hashlib
import io
import re

import pypdfium2
import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from pvd_survey import accounts, mail, meetings
from pvd_survey.meetings import tickets
from pvd_survey.models import OutboxMessage, Registration
from tests.conftest import STRONG_PASSWORD
from tests.conftest import open_page as page
from tests.factories import meeting_form, person, texts, token_of


def outbox(session, kind: str) -> list[OutboxMessage]:
    """Messages of one kind written to the outbox, oldest first."""
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)))


def attached(message: OutboxMessage) -> dict[str, bytes]:
    """A message's attachments by file name."""
    return {item["filename"]: base64.b64decode(item["content_base64"]) for item in message.attachments or []}


def decoded(image: Image.Image) -> list[str]:
    """What a camera reading this image would get (zxing-cpp, as the door page uses it)."""
    return [result.text for result in zxingcpp.read_barcodes(image)]


def pdf_page_image(pdf: bytes) -> Image.Image:
    """The PDF's only page as a printer would put it on paper (100 dpi)."""
    document = pypdfium2.PdfDocument(pdf)
    assert len(document) == 1
    return document[0].render(scale=100 / 72).to_pil()


@pytest.fixture
def meeting_id(session) -> int:
    """A meeting with 2 places."""
    return meetings.create_meeting(session, meeting_form())


def test_the_confirmation_carries_a_ticket_that_names_nobody(session, settings, meeting_id):
    meetings.register(session, meeting_id, person(1, full_name="Hélène Dupré"), settings)
    meetings.register(session, meeting_id, person(2), settings)
    meetings.register(session, meeting_id, person(3), settings)  # waiting: nothing to show at the door yet
    (confirmation, _) = outbox(session, "meeting_confirmed")
    files = attached(confirmation)
    assert list(files) == ["rencontre.ics", "billet.pdf", "billet-qr.png"]
    assert "Votre billet est joint" in confirmation.body
    (code,) = decoded(Image.open(io.BytesIO(files["billet-qr.png"])))
    assert re.fullmatch(rf"PVD-R{meeting_id}-[A-Z2-7]{{26}}", code)
    registration = session.scalar(select(Registration).where(Registration.email == "personne.1@mairie.fr"))
    for private in ("helene", "dupre", "personne", "mairie", registration.reference.lower(), token_of(confirmation)):
        assert private.lower() not in code.lower()
    # Only the code's SHA-256 is kept, like every personal link; the code is nowhere in the row.
    assert registration.ticket_hash == hashlib.sha256(code.encode()).hexdigest()
    assert code not in repr([getattr(registration, column.key) for column in Registration.__table__.columns])
    # The one-page PDF: who, what, when, where, and the same code, readable once printed.
    pdf = files["billet.pdf"]
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    for expected in ("Hélène Dupré", "Rencontre régionale", "Préfecture de région", registration.reference, code):
        assert expected in text
    assert decoded(pdf_page_image(pdf)) == [code]
    (waiting,) = outbox(session, "meeting_waiting")
    assert "billet" not in waiting.body.lower() and not waiting.attachments


def test_the_ticket_stays_the_same_in_every_later_e_mail(session, settings, meeting_id):
    """A printed ticket stays good: a re-sent confirmation or a promotion carries the code first made."""
    meetings.register(session, meeting_id, person(1), settings)
    meetings.register(session, meeting_id, person(2), settings)
    meetings.register(session, meeting_id, person(3), settings)
    first = attached(outbox(session, "meeting_confirmed")[0])["billet-qr.png"]
    meetings.register(session, meeting_id, person(1), settings)  # « I lost the e-mail »: sent again
    again = outbox(session, "meeting_confirmed")[-1]
    assert again.recipient == "personne.1@mairie.fr" and attached(again)["billet-qr.png"] == first
    # A cancellation offers the place to person 3, whose ticket comes with the confirmation once they accept.
    meetings.cancel_by_token(session, token_of(outbox(session, "meeting_confirmed")[1]), settings)
    meetings.accept_offer(session, token_of(outbox(session, "meeting_offered")[0]), settings)
    (promotion,) = outbox(session, "meeting_promoted")
    (code,) = decoded(Image.open(io.BytesIO(attached(promotion)["billet-qr.png"])))
    assert code == meetings.ticket_code(settings.secret_key, meeting_id, promotion_reference(session))


def promotion_reference(session) -> str:
    """The reference of person 3 (promoted)."""
    return session.scalar(select(Registration.reference).where(Registration.email == "personne.3@mairie.fr"))


def test_the_ticket_reaches_the_inbox_as_a_pdf_and_an_image(factory, settings, smtp_server):
    with factory.begin() as session:
        meeting_id = meetings.create_meeting(session, meeting_form())
        meetings.register(session, meeting_id, person(1), settings)
    assert len(mail.deliver_due(factory, smtp_server.settings()).sent) == 1
    (message,) = smtp_server.to("personne.1@mairie.fr")
    parts = {part.get_filename(): part for part in message.walk() if part.get_filename()}
    assert parts["billet.pdf"].get_content_type() == "application/pdf"
    assert parts["billet-qr.png"].get_content_type() == "image/png"
    image = Image.open(io.BytesIO(parts["billet-qr.png"].get_payload(decode=True)))
    assert decoded(image)[0].startswith(f"PVD-R{meeting_id}-")


@pytest.mark.database_independent
@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("PVD-R12-ABCDEFGHIJKLMNOPQRSTUVWXYZ", "PVD-R12-ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        ("  pvd-r12-abcdefghijklmnopqrstuvwxyz\n", "PVD-R12-ABCDEFGHIJKLMNOPQRSTUVWXYZ"),  # caps lock, a newline
        # A scanner set up for QWERTY on a French AZERTY keyboard: « - » comes as « ) », digits unshifted…
        ("PVD)R&é)QBCDEFGHIJKL?NOPARSTUVZXYW", "PVD-R12-ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        # The previous ticket still in the field (a phone that had not cleared it yet): the last one counts.
        ("PVD-R7-ZZZZZZZZZZZZZZZZZZZZZZZZZZPVD-R12-ABCDEFGHIJKLMNOPQRSTUVWXYZ", "PVD-R12-ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        ("PVD)R&é)QBCDEFGHIJKL?NOPARSTUVZXYWPVD)R&é)QBCDEFGHIJKL?NOPARSTUVZXYW", "PVD-R12-ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        ("PVD-R12-ABCDEFGHIJKLMNOPQRSTUVWXY", None),  # one character short (a torn ticket)
        ("PVD-R12-ABCDEPVD-R12-ABCDEFGHIJKLMNOPQRSTUVWXYZ", None),  # a torn code before: said, not guessed
        (
            "PVD-R7-ZZZZZZZZZZZZZZZZZZZZZZZZZZ" * 8 + "PVD-R12-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "PVD-R12-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        ),
        ("PVD-R0-ABCDEFGHIJKLMNOPQRSTUVWXYZ", None),
        ("https://example.org/?q=PVD-R12", None),  # another QR code
        ("3017620422003", None),  # a product barcode
        ("P" * 5000, None),
        ("", None),
    ],
)
def test_read_code_forgives_the_scanner_and_refuses_the_rest(typed, read):
    assert tickets.read_code(typed) == read


def test_the_private_page_shows_the_ticket_once_the_place_is_confirmed(app_env, factory, settings):
    with factory.begin() as session:
        accounts.create_first_admin(
            session, email="ada.admin@example.fr", display_name="Ada", password=STRONG_PASSWORD, settings=settings
        )
        meeting_id = meetings.create_meeting(session, meeting_form(capacity=1))
        meetings.register(session, meeting_id, person(1), settings)
        meetings.register(session, meeting_id, person(2), settings)
        confirmed = token_of(outbox(session, "meeting_confirmed")[0])
        waiting = token_of(outbox(session, "meeting_waiting")[0])
        reference = session.scalar(select(Registration.reference).where(Registration.email == "personne.1@mairie.fr"))
    at = page("pages/registration.py", jeton=confirmed)
    assert not at.exception
    code = meetings.ticket_code(settings.secret_key, meeting_id, reference)
    (image,) = at.get("image")
    assert image.proto.imgs[0].caption == code and image.proto.imgs[0].url.endswith(".png")  # sharp, not JPEG
    download = at.get("download_button")[0]
    assert "Télécharger le billet" in download.proto.label
    at = page("pages/registration.py", jeton=waiting)
    assert not at.get("image") and not at.get("download_button")
    assert any("position 1" in text for text in texts(at.warning))
