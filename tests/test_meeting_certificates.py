"""Attendance certificates: only people marked present, each once (even sent twice at once), by e-mail and link."""

from __future__ import annotations

import base64
import io
import threading
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update

from pvd_survey import db, mail, meetings
from pvd_survey.errors import DomainError
from pvd_survey.models import Meeting, OutboxMessage, Registration, utcnow
from tests.conftest import open_page as page
from tests.factories import installed_direction, meeting_form, person, texts, token_of


def certificates(session) -> list[OutboxMessage]:
    """Certificate e-mails in the outbox, oldest first."""
    query = select(OutboxMessage).where(OutboxMessage.kind == "meeting_certificate").order_by(OutboxMessage.id)
    return list(session.scalars(query))


def held_meeting(session, settings, people: int, present: int) -> int:
    """A meeting of `people` confirmed people (and one waiting), the first `present` of them marked present."""
    meeting_id = meetings.create_meeting(session, meeting_form(capacity=people))
    for number in range(1, people + 2):
        meetings.register(session, meeting_id, person(number), settings)
    ids = session.scalars(select(Registration.id).order_by(Registration.arrival)).all()
    for registration_id in ids[:present]:
        meetings.check_in_by_hand(session, meeting_id, registration_id)
    return meeting_id


def test_only_people_marked_present_get_a_certificate_once_after_the_meeting(session, settings):
    meeting_id = held_meeting(session, settings, people=3, present=2)
    ends = session.get_one(Meeting, meeting_id).ends_at
    with pytest.raises(DomainError) as raised:
        meetings.certificates_to_send(session, meeting_id, now=ends - timedelta(minutes=1))
    assert raised.value.code == "meeting_not_over"
    after = ends + timedelta(hours=1)
    due = meetings.certificates_to_send(session, meeting_id, now=after)
    assert len(due) == 2
    assert [meetings.send_certificate(session, meeting_id, i, settings, now=after) for i in due] == [True, True]
    assert [meetings.send_certificate(session, meeting_id, i, settings, now=after) for i in due] == [False, False]
    assert meetings.certificates_to_send(session, meeting_id, now=after) == []
    assert meetings.certificate_counts(session, meeting_id) == meetings.CertificateCounts(present=2, sent=2)
    sent = certificates(session)
    assert [message.recipient for message in sent] == ["personne.1@mairie.fr", "personne.2@mairie.fr"]
    (attachment,) = sent[0].attachments
    assert attachment["filename"] == "attestation-de-presence.pdf"
    text = PdfReader(io.BytesIO(base64.b64decode(attachment["content_base64"]))).pages[0].extract_text()
    for expected in ("Attestation de présence", "Personne 1", "Rencontre régionale", "durée de 7 h", "Petites villes"):
        assert expected in text
    # Someone not marked present (or on the waiting list) is never sent one, even asked by id.
    absent = session.scalar(select(Registration.id).where(Registration.email == "personne.3@mairie.fr"))
    assert not meetings.send_certificate(session, meeting_id, absent, settings, now=after)
    assert len(certificates(session)) == 2


def test_two_passes_at_once_send_each_certificate_once(factory, settings):
    with db.transaction(factory) as session:
        meeting_id = held_meeting(session, settings, people=20, present=20)
        after = session.get_one(Meeting, meeting_id).ends_at + timedelta(hours=1)
        due = meetings.certificates_to_send(session, meeting_id, now=after)
    start = threading.Barrier(2)
    sent: list[bool] = []

    def sender() -> None:
        start.wait()
        for registration_id in due:
            with db.transaction(factory) as session:
                sent.append(meetings.send_certificate(session, meeting_id, registration_id, settings, now=after))

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sent.count(True) == 20 and sent.count(False) == 20
    with db.read_only(factory) as session:
        assert sorted(m.recipient for m in certificates(session)) == sorted(
            f"personne.{n}@mairie.fr" for n in range(1, 21)
        )


def test_the_certificate_reaches_the_inbox(factory, settings, smtp_server):
    with db.transaction(factory) as session:
        meeting_id = held_meeting(session, settings, people=1, present=1)
        after = session.get_one(Meeting, meeting_id).ends_at + timedelta(hours=1)
        (registration_id,) = meetings.certificates_to_send(session, meeting_id, now=after)
        meetings.send_certificate(session, meeting_id, registration_id, settings, now=after)
    mail.deliver_due(factory, smtp_server.settings())
    received = [m for m in smtp_server.to("personne.1@mairie.fr") if "Attestation" in str(m["Subject"])]
    (message,) = received
    (part,) = [p for p in message.walk() if p.get_filename() == "attestation-de-presence.pdf"]
    assert part.get_payload(decode=True).startswith(b"%PDF")


def test_the_direction_sends_them_with_progress_and_people_download_theirs(app_env, factory, settings):
    with db.transaction(factory) as session:
        direction = installed_direction(session, settings)
        meeting_id = held_meeting(session, settings, people=2, present=1)
        # The meeting took place yesterday.
        now = utcnow()
        session.execute(
            update(Meeting)
            .where(Meeting.id == meeting_id)
            .values(
                registration_opens_at=now - timedelta(days=10),
                registration_closes_at=now - timedelta(days=2),
                starts_at=now - timedelta(days=1, hours=7),
                ends_at=now - timedelta(days=1),
            )
        )
        tokens = {m.recipient: token_of(m) for m in session.scalars(select(OutboxMessage)) if m.link}
    at = page("pages/meetings_admin.py", direction, rencontre=str(meeting_id))
    assert not at.exception
    at.button(key="meetings_admin_certificates").click().run()
    assert any("1 attestation(s) de présence envoyée(s)." in text for text in texts(at.success))
    assert not [b for b in at.button if b.key == "meetings_admin_certificates"]  # nothing left to send
    present = page("pages/registration.py", jeton=tokens["personne.1@mairie.fr"])
    labels = [button.proto.label for button in present.get("download_button")]
    assert "Télécharger mon attestation de présence (PDF)" in labels
    absent = page("pages/registration.py", jeton=tokens["personne.2@mairie.fr"])
    assert "Télécharger mon attestation de présence (PDF)" not in [b.proto.label for b in absent.get("download_button")]
