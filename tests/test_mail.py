"""The outbox delivered through a real SMTP server (aiosmtpd), on the test database."""

from __future__ import annotations

import dataclasses
import secrets
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import make_url

from pvd_survey import db, mail, privacy
from pvd_survey.errors import DomainError
from pvd_survey.models import OutboxMessage, utcnow
from tests.conftest import TEST_BACKEND, SmtpServer, file_bytes_from_another_process, free_port

ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"


def enqueue(factory, recipient="chef.projet@example.fr", **kw):
    with factory.begin() as session:
        return mail.enqueue(
            session,
            recipient=recipient,
            subject=kw.get("subject", "Votre invitation"),
            body=kw.get("body", "Bonjour,\nvoici votre lien."),
            kind="test",
            link=kw.get("link"),
            attachments=kw.get("attachments"),
        )


def status_of(factory, message_id):
    with db.read_only(factory) as session:
        message = session.get(OutboxMessage, message_id)
        session.expunge(message)
        return message


def content_of(factory, message_id) -> tuple[str, str | None, bool]:
    """The stored body, link and whether the attachments column is SQL NULL."""
    with db.read_only(factory) as session:
        row = session.execute(
            select(OutboxMessage.body, OutboxMessage.link, OutboxMessage.attachments.is_(None)).where(
                OutboxMessage.id == message_id
            )
        ).one()
        return row[0], row[1], bool(row[2])


def test_committed_message_is_delivered_once(factory, smtp_server):
    message_id = enqueue(factory, link="http://pvd.test/lien")
    report = mail.deliver_due(factory, smtp_server.settings())
    assert report.sent == [message_id]
    received = smtp_server.to("chef.projet@example.fr")
    assert len(received) == 1
    assert received[0]["Subject"] == "Votre invitation"
    assert received[0]["From"] == "Petites villes de demain <pvd@anct.gouv.fr>"
    assert received[0]["Message-ID"].endswith("@anct.gouv.fr>")
    assert "voici votre lien" in received[0].get_payload(decode=True).decode()
    assert status_of(factory, message_id).status == "sent"
    # A second pass finds nothing to send.
    assert mail.deliver_due(factory, smtp_server.settings()).sent == []
    assert len(smtp_server.messages) == 1


def test_french_text_and_attachments_survive(factory, smtp_server):
    ics = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
    enqueue(
        factory,
        subject="Rencontre régionale à Montbard",
        body="Élus, chefs de projet : à bientôt !",
        attachments=[("rencontre.ics", "text/calendar", ics)],
    )
    mail.deliver_due(factory, smtp_server.settings())
    [received] = smtp_server.messages
    assert str(received["Subject"]) == "Rencontre régionale à Montbard" or "Montbard" in str(received["Subject"])
    parts = list(received.walk())
    texts = [p.get_payload(decode=True).decode() for p in parts if p.get_content_type() == "text/plain"]
    assert "Élus, chefs de projet : à bientôt !" in texts[0]
    [attachment] = [p for p in parts if p.get_filename() == "rencontre.ics"]
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_payload(decode=True) == ics


def test_rolled_back_change_sends_nothing(factory, smtp_server):
    with pytest.raises(RuntimeError), factory.begin() as session:
        mail.enqueue(session, recipient="a@example.fr", subject="s", body="b", kind="test")
        raise RuntimeError("the change failed")
    assert mail.deliver_due(factory, smtp_server.settings()).sent == []
    assert smtp_server.messages == []


def test_server_down_then_back(factory):
    server = SmtpServer(free_port())  # not started: connection refused
    first, second = enqueue(factory), enqueue(factory, recipient="autre@example.fr")
    now = utcnow()
    report = mail.deliver_due(factory, server.settings(), now=now)
    assert report.retry_later == [first] and report.sent == []
    stored = status_of(factory, first)
    assert stored.status == "pending" and stored.attempts == 1
    # (counted from the failure, a moment after `now`: the pass's time runs on from the `now` it was given)
    assert timedelta(0) <= stored.next_attempt_at - (now + mail.backoff(1)) < timedelta(seconds=10)
    assert "ConnectionRefusedError" in stored.last_error
    assert status_of(factory, second).attempts == 0  # untouched: the pass stopped at the first failure
    # Before the backoff has passed, nothing is retried even though the server is back.
    server.start()
    try:
        assert mail.deliver_due(factory, server.settings(), now=now + timedelta(seconds=30)).sent == [second]
        report = mail.deliver_due(factory, server.settings(), now=now + timedelta(minutes=2))
        assert report.sent == [first]
        assert sorted(m["To"] for m in server.messages) == ["autre@example.fr", "chef.projet@example.fr"]
        assert status_of(factory, first).last_error is None
    finally:
        server.stop()


def test_permanent_refusal_is_marked_failed_and_does_not_block_others(factory, smtp_server):
    smtp_server.refuse.add("inconnu@example.fr")
    bad, good = enqueue(factory, recipient="inconnu@example.fr"), enqueue(factory)
    report = mail.deliver_due(factory, smtp_server.settings())
    assert (report.failed, report.sent) == ([bad], [good])
    stored = status_of(factory, bad)
    assert stored.status == "failed" and "550" in stored.last_error
    # The admin can put it back after fixing the address or the server.
    with factory.begin() as session:
        mail.requeue_failed(session, bad)
    assert status_of(factory, bad).status == "pending"


def test_gives_up_after_max_attempts(factory):
    server = SmtpServer(free_port())
    message_id = enqueue(factory)
    moment = utcnow()
    for _ in range(mail.MAX_ATTEMPTS):
        mail.deliver_due(factory, server.settings(), now=moment)
        moment += timedelta(hours=2)
    stored = status_of(factory, message_id)
    assert (stored.status, stored.attempts) == ("failed", mail.MAX_ATTEMPTS)


def test_concurrent_senders_never_send_twice(factory, smtp_server):
    ids = [enqueue(factory, recipient=f"cp{n}@example.fr") for n in range(40)]
    barrier = threading.Barrier(4)
    reports = []

    def sender() -> None:
        barrier.wait()
        reports.append(mail.deliver_due(factory, smtp_server.settings()))

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = sorted(i for r in reports for i in r.sent)
    assert sent == ids
    recipients = [m["To"] for m in smtp_server.messages]
    assert sorted(recipients) == sorted(f"cp{n}@example.fr" for n in range(40))


def test_claim_of_a_crashed_sender_expires(factory, smtp_server):
    message_id = enqueue(factory)
    with factory.begin() as session:
        session.get(OutboxMessage, message_id).status = "sending"
        session.get(OutboxMessage, message_id).claimed_at = utcnow() - mail.CLAIM_TIMEOUT - timedelta(seconds=1)
    assert mail.deliver_due(factory, smtp_server.settings()).sent == [message_id]


def test_message_being_sent_by_another_sender_is_left_alone(factory, smtp_server):
    message_id = enqueue(factory)
    with factory.begin() as session:
        session.get(OutboxMessage, message_id).status = "sending"
        session.get(OutboxMessage, message_id).claimed_at = utcnow()
    assert mail.deliver_due(factory, smtp_server.settings()).sent == []
    assert smtp_server.messages == []


def test_background_sender_delivers_until_stopped(factory, smtp_server):
    stop = threading.Event()
    thread = threading.Thread(target=mail.run_sender, args=(factory, smtp_server.settings(), stop, 0.05))
    thread.start()
    try:
        enqueue(factory)
        for _ in range(100):
            if smtp_server.messages:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert len(smtp_server.messages) == 1


@pytest.fixture
def one_connection(database_url):
    """A session factory on this database whose pool holds one connection, and a 1 s wait for it."""
    engine = db.make_engine(database_url, pool_size=1, pool_timeout=1)
    yield db.make_session_factory(engine)
    engine.dispose()


def test_a_sender_waits_its_turn_for_a_connection_like_every_writer(factory, one_connection, smtp_server, arrivals):
    message_id = enqueue(factory)
    reports = []
    sender = threading.Thread(target=lambda: reports.append(mail.deliver_due(one_connection, smtp_server.settings())))
    with db.read_only(one_connection) as holder:  # the only connection, held by a page
        holder.execute(select(1))
        sender.start()
        assert arrivals.acquire(timeout=5)  # the sender is in line (db.FairSlots), not past it
        assert smtp_server.messages == []
    sender.join(timeout=10)
    assert [report.sent for report in reports] == [[message_id]]


def test_a_sender_that_gets_no_connection_says_database_busy_and_sends_nothing(factory, one_connection, smtp_server):
    message_id = enqueue(factory)
    with db.read_only(one_connection) as holder:
        holder.execute(select(1))
        with pytest.raises(DomainError) as caught:
            mail.deliver_due(one_connection, smtp_server.settings())
    assert caught.value.code == "database_busy"  # as for a page: no pool timeout trace
    assert status_of(factory, message_id).status == "pending" and smtp_server.messages == []
    assert mail.deliver_due(one_connection, smtp_server.settings()).sent == [message_id]


def test_admin_views_and_manual_delivery(factory):
    first, second = enqueue(factory, link="http://pvd.test/a"), enqueue(factory)
    with factory.begin() as session:
        mail.mark_delivered_by_hand(session, first)
        with pytest.raises(DomainError) as caught:
            mail.mark_delivered_by_hand(session, first)
        assert caught.value.code == "mail_not_pending"
        with pytest.raises(DomainError) as caught:
            mail.requeue_failed(session, second)
        assert caught.value.code == "mail_not_failed"
        with pytest.raises(DomainError) as caught:
            mail.requeue_failed(session, 999_999)
        assert caught.value.code == "mail_not_found"
    with db.read_only(factory) as session:
        assert mail.count_by_status(session) == {"pending": 1, "sending": 0, "sent": 0, "failed": 0, "manual": 1}
        assert [m.id for m in mail.list_messages(session, ["pending"])] == [second]


def test_sender_without_smtp_still_runs_the_scheduled_work_and_sends_nothing(factory):
    import threading

    with factory.begin() as session:
        mail.enqueue(session, recipient="cp@example.fr", subject="Bonjour", body="Texte", kind="test")
    passes = threading.Semaphore(0)
    stop = threading.Event()
    thread = threading.Thread(
        target=mail.run_sender, args=(factory, None, stop, 0.05), kwargs={"before_pass": passes.release}
    )
    thread.start()
    assert passes.acquire(timeout=5) and passes.acquire(timeout=5)  # it keeps running, pass after pass
    stop.set()
    thread.join(timeout=5)
    with factory.begin() as session:
        assert [m.status for m in mail.list_messages(session)] == ["pending"]


# ---------------------------------------------------------------------------- personal content erased once it served


def test_delivered_message_loses_its_content_and_the_admin_still_lists_it(factory, smtp_server):
    link = "http://pvd.test/inscription?jeton=abc123"
    message_id = enqueue(
        factory,
        recipient="personne@mairie.fr",
        subject="Inscription confirmée",
        body=f"Bonjour,\nvotre lien personnel : {link}",
        link=link,
        attachments=[("rencontre.ics", "text/calendar", ICS)],
    )
    assert content_of(factory, message_id)[1:] == (link, False)
    assert mail.deliver_due(factory, smtp_server.settings()).sent == [message_id]
    # The person received everything...
    [received] = smtp_server.to("personne@mairie.fr")
    parts = list(received.walk())
    [text] = [p.get_payload(decode=True).decode() for p in parts if p.get_content_type() == "text/plain"]
    assert link in text
    assert [p.get_payload(decode=True) for p in parts if p.get_filename() == "rencontre.ics"] == [ICS]
    # ...and the outbox keeps none of it.
    assert content_of(factory, message_id) == ("", None, True)
    stored = status_of(factory, message_id)
    assert (stored.recipient, stored.subject, stored.kind, stored.status, stored.attempts) == (
        "personne@mairie.fr",
        "Inscription confirmée",
        "test",
        "sent",
        1,
    )
    assert stored.created_at <= stored.sent_at
    with db.read_only(factory) as session:
        [entry] = mail.list_messages(session, ["sent"])
    assert (entry.id, entry.recipient, entry.subject, entry.status) == (
        message_id,
        "personne@mairie.fr",
        "Inscription confirmée",
        "sent",
    )
    assert entry.content_erased and entry.sent_at is not None


def test_marking_by_hand_erases_the_content_failed_and_pending_keep_theirs(factory, smtp_server):
    smtp_server.refuse.add("inconnu@example.fr")
    failed = enqueue(
        factory,
        recipient="inconnu@example.fr",
        body="lien A",
        link="http://pvd.test/a",
        attachments=[("a.ics", "text/calendar", ICS)],
    )
    assert mail.deliver_due(factory, smtp_server.settings()).failed == [failed]
    pending = enqueue(factory, body="lien B", link="http://pvd.test/b", attachments=[("b.ics", "text/calendar", ICS)])
    by_hand = enqueue(factory, body="lien C", link="http://pvd.test/c", attachments=[("c.ics", "text/calendar", ICS)])
    with factory.begin() as session:
        mail.mark_delivered_by_hand(session, by_hand)
    assert content_of(factory, by_hand) == ("", None, True)
    assert status_of(factory, by_hand).status == "manual" and status_of(factory, by_hand).sent_at is not None
    # A failed message may be requeued or passed on by hand, a pending one still has to go: both keep everything.
    assert content_of(factory, failed) == ("lien A", "http://pvd.test/a", False)
    assert content_of(factory, pending) == ("lien B", "http://pvd.test/b", False)
    with db.read_only(factory) as session:
        entries = {m.id: m for m in mail.list_messages(session)}
    assert entries[by_hand].content_erased and entries[by_hand].recipient == "chef.projet@example.fr"
    assert not entries[failed].content_erased and entries[failed].body == "lien A"
    assert not entries[pending].content_erased and entries[pending].link == "http://pvd.test/b"


def test_purge_deletes_outbox_messages_past_the_retention_except_one_being_sent(factory, settings, smtp_server):
    assert settings.outbox_retention_days == 30
    smtp_server.refuse.add("inconnu@example.fr")
    sent, failed = enqueue(factory), enqueue(factory, recipient="inconnu@example.fr")
    mail.deliver_due(factory, smtp_server.settings())
    pending, sending, recent = enqueue(factory), enqueue(factory), enqueue(factory)
    now = utcnow()
    with factory.begin() as session:
        for message_id in (sent, failed, pending, sending):
            session.get(OutboxMessage, message_id).created_at = now - timedelta(days=30, minutes=1)
        session.get(OutboxMessage, sending).status = "sending"  # a sender holds it
        session.get(OutboxMessage, recent).created_at = now - timedelta(days=29, hours=23)

    def outbox_ids() -> set[int]:
        with db.read_only(factory) as session:
            return set(session.scalars(select(OutboxMessage.id)))

    def purged(retention: int, dry_run: bool = False) -> list[str]:
        with factory.begin() as session:
            found = privacy.purge(
                session, dataclasses.replace(settings, outbox_retention_days=retention), now=now, dry_run=dry_run
            )
        return [item.description for item in found if item.step == "messages de la file d'envoi"]

    dry = purged(30, dry_run=True)
    assert [line.split(" (")[0] for line in dry] == [f"message n° {i}" for i in (sent, failed, pending)]
    assert "(envoyé, écrit le " in dry[0] and "(échec définitif, " in dry[1] and "(en attente, " in dry[2]
    assert not any("@" in line for line in dry)  # the purge's output names no one
    assert outbox_ids() == {sent, failed, pending, sending, recent}
    assert purged(30) == dry
    assert outbox_ids() == {sending, recent}
    assert purged(30) == []
    # A shorter retention takes the recent one too.
    assert [line.split(" (")[0] for line in purged(7)] == [f"message n° {recent}"]
    assert outbox_ids() == {sending}


if TEST_BACKEND == "sqlite":

    def sqlite_files(database_url: str) -> tuple[Path, Path]:
        path = Path(make_url(database_url).database)
        return path, path.with_name(path.name + "-wal")

    def raw_bytes(path: Path) -> bytes:
        return file_bytes_from_another_process(path)

    def test_delivered_content_leaves_the_sqlite_file_and_its_wal(factory, smtp_server, database_url):
        token = secrets.token_hex(24).encode()
        database, wal = sqlite_files(database_url)
        link = f"http://pvd.test/questionnaire?jeton={token.decode()}"
        # A long body spills into overflow pages, which the erasure frees (secure_delete zeroes them too).
        body = f"Votre lien : {link}\n" + "Les petites villes de demain.\n" * 400 + f"Jeton : {token.decode()}"
        message_id = enqueue(factory, body=body, link=link)
        assert token in raw_bytes(database) + raw_bytes(wal)  # it is there, so the test can fail
        assert mail.deliver_due(factory, smtp_server.settings()).sent == [message_id]
        assert token.decode() in smtp_server.messages[0].get_payload(decode=True).decode()
        assert token not in raw_bytes(database), "the erased body or link lingers in the database file"
        assert token not in raw_bytes(wal), "the erased body or link lingers in the WAL"

    def test_content_marked_by_hand_leaves_the_sqlite_file_and_its_wal(factory, engine, database_url):
        token = secrets.token_hex(24).encode()
        database, wal = sqlite_files(database_url)
        message_id = enqueue(
            factory, body=f"Jeton : {token.decode()}", link=f"http://pvd.test/a?jeton={token.decode()}"
        )
        assert token in raw_bytes(database) + raw_bytes(wal)
        with factory.begin() as session:
            mail.mark_delivered_by_hand(session, message_id)
        db.scrub_sqlite_wal(engine)  # what the "Messages" page does after the commit
        assert token not in raw_bytes(database) and token not in raw_bytes(wal)

    def test_control_without_secure_delete_the_same_check_finds_the_erased_content(factory, smtp_server, database_url):
        """Builds where secure_delete defaults to OFF keep the erased bytes in the file: the check sees them."""
        careless = db.make_engine(database_url)

        @event.listens_for(careless, "connect")
        def _secure_delete_off(dbapi_connection, _record):  # runs after make_engine's own pragmas
            dbapi_connection.execute("PRAGMA secure_delete=OFF")

        try:
            careless_factory = db.make_session_factory(careless)
            token = secrets.token_hex(24).encode()
            database, wal = sqlite_files(database_url)
            body = "Les petites villes de demain.\n" * 400 + f"Jeton : {token.decode()}"  # freed overflow pages
            message_id = enqueue(careless_factory, body=body, link="http://pvd.test/a")
            assert mail.deliver_due(careless_factory, smtp_server.settings()).sent == [message_id]
            assert content_of(careless_factory, message_id) == ("", None, True)
            assert token in raw_bytes(database) + raw_bytes(wal)
        finally:
            careless.dispose()


class _SlowThenRefusingServer:
    """A real SMTP server (aiosmtpd) whose answers the test sets: accept, refuse MAIL FROM (5xx or 4xx), or hold
    one DATA until told to go on; each message it accepts moves the test's clock 4 minutes on (a slow server)."""

    def __init__(self, clock: list) -> None:
        from aiosmtpd.controller import Controller

        self.clock = clock
        self.mail_answer = "250 OK"
        self.received: list[str] = []
        self.hold_subject: str | None = None
        self.held = threading.Event()
        self.go_on = threading.Event()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if not self.mail_answer.startswith("250"):
            return self.mail_answer
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        import asyncio
        from email import message_from_bytes

        subject = message_from_bytes(envelope.content)["Subject"]
        if subject == self.hold_subject:
            self.hold_subject = None
            self.clock[0] += timedelta(minutes=4)
            self.held.set()
            # Waits in a worker thread: the server keeps answering the other sender meanwhile.
            await asyncio.get_running_loop().run_in_executor(None, self.go_on.wait, 30)
        self.received.append(subject)
        self.clock[0] += timedelta(minutes=4)
        return "250 Message accepted for delivery"

    def settings(self):
        return SmtpServer(self.port).settings()


def test_a_message_is_delivered_once_by_two_senders_through_a_long_pass_refusals_and_recovery(factory, monkeypatch):
    """A pass outlasting CLAIM_TIMEOUT: the message being sent must not look claimable to the other sender.

    Sender A delivers m1 and m2 (the server is slow: 4 minutes each on the test's clock), then the server holds m3.
    Meanwhile the server refuses MAIL FROM with a 5xx, then a 4xx, to sender B's passes, then recovers and lets A
    finish. Before claims were stamped per message, m3's claim carried the pass's start (12 minutes earlier), B took
    it, and it went out twice.
    """
    clock = [utcnow()]
    monkeypatch.setattr(mail, "utcnow", lambda: clock[0])
    ids = [enqueue(factory, recipient=f"cp{n}@example.fr", subject=f"m{n}") for n in range(1, 6)]
    server = _SlowThenRefusingServer(clock)
    server.hold_subject = "m3"
    server.controller.start()
    try:
        reports: list[mail.DeliveryReport] = []
        sender_a = threading.Thread(target=lambda: reports.append(mail.deliver_due(factory, server.settings())))
        sender_a.start()
        assert server.held.wait(30)  # A is sending m3, claimed after m1 and m2 (8 minutes into its pass)
        assert clock[0] - mail.CLAIM_TIMEOUT > min(status_of(factory, i).created_at for i in ids)
        server.mail_answer = "550 5.7.1 Relais refusé"
        refused = mail.deliver_due(factory, server.settings())  # sender B, while A still sends m3
        server.mail_answer = "451 4.3.0 Réessayez plus tard"
        clock[0] += timedelta(minutes=2)
        retried = mail.deliver_due(factory, server.settings())
        server.mail_answer = "250 OK"  # the server recovers
        server.go_on.set()
        sender_a.join(timeout=30)
        assert not sender_a.is_alive()
        for _ in range(4):  # both senders go on until nothing is left
            clock[0] += timedelta(minutes=5)
            reports.append(mail.deliver_due(factory, server.settings()))
    finally:
        server.go_on.set()
        server.controller.stop()
    assert refused.sent == [] and len(refused.retry_later) == 1  # B was refused (5xx at MAIL FROM: not m's fault)...
    assert retried.sent == [] and len(retried.retry_later) == 1  # ...then asked to come back later (4xx)
    assert sorted(server.received) == ["m1", "m2", "m3", "m4", "m5"]  # every message exactly once
    assert [status_of(factory, i).status for i in ids] == ["sent"] * 5
    assert ids[2] not in refused.retry_later  # B never touched m3, which A was sending
