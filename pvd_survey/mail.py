"""E-mail through a transactional outbox.

`enqueue()` writes the message in the caller's transaction: a rolled-back change sends nothing,
a committed one is delivered eventually. `deliver_due()` sends what is due over SMTP. Each message
is claimed by one conditional UPDATE just before it is sent, stamped with that moment, so two senders
(CLI loops, app threads on several servers) never send the same message twice, however long a pass
takes. A sender that dies after claiming leaves the message in 'sending'; it becomes claimable again
CLAIM_TIMEOUT after its claim (at-least-once in that rare crash, never twice in normal operation).

A message holds personal data (personal links with their tokens, .ics files) only until it has
served: the UPDATE that marks it sent or passed on by hand also erases its body, link, unsubscribe
address and attachments. Recipient, subject, kind, status and dates stay for the admin, until the
retention purge deletes the row (privacy.PURGE_STEPS).

A notification carries its one-click unsubscribe address (`unsubscribe_url`): it goes out as the
`List-Unsubscribe` header with `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), so
that a mail client's "unsubscribe" button works without opening a page.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import smtplib
import ssl
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, make_msgid, parseaddr

from sqlalchemy import and_, delete, func, null, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from pvd_survey import db
from pvd_survey.clock import utcnow
from pvd_survey.config import SmtpSettings
from pvd_survey.errors import DomainError
from pvd_survey.models import OutboxMessage
from pvd_survey.vocabulary import OUTBOX_STATUS_LABELS

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
CLAIM_TIMEOUT = timedelta(minutes=10)
STATUS_LABELS = OUTBOX_STATUS_LABELS
# Delivered statuses: the message has served, its content is erased in the same UPDATE.
DELIVERED_STATUSES = ("sent", "manual")
# The body column is NOT NULL: an empty text stands for "erased". null() is SQL NULL (not JSON 'null').
ERASED_CONTENT = {"body": "", "link": None, "unsubscribe_url": None, "attachments": null()}
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058: the List-Unsubscribe-Post header's only value


@dataclass(frozen=True)
class OutboxEntry:
    """A message as the admin sees it."""

    id: int
    recipient: str
    subject: str
    kind: str
    link: str | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    body: str

    @property
    def content_erased(self) -> bool:
        """Delivered (by SMTP or by hand): its body, link and attachments were erased at that moment."""
        return self.status in DELIVERED_STATUSES and self.body == "" and self.link is None


@dataclass
class DeliveryReport:
    """What one delivery pass did."""

    sent: list[int] = field(default_factory=list)
    retry_later: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    def summary(self) -> str:
        """One line for logs and the command line."""
        return f"{len(self.sent)} envoyé(s), {len(self.retry_later)} à réessayer, {len(self.failed)} en échec"


def enqueue(
    session: Session,
    *,
    recipient: str,
    subject: str,
    body: str,
    kind: str,
    link: str | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
    unsubscribe_url: str | None = None,
) -> int:
    """Write a message to the outbox in the caller's transaction; attachments are (filename, type, bytes).

    `unsubscribe_url`: a notification's one-click unsubscribe address (sent as the List-Unsubscribe header).
    """
    message = OutboxMessage(
        recipient=recipient,
        subject=subject,
        body=body,
        kind=kind,
        link=link,
        unsubscribe_url=unsubscribe_url,
        attachments=stored_attachments(attachments),
        status="pending",
        attempts=0,
        next_attempt_at=utcnow(),
    )
    session.add(message)
    session.flush()
    return message.id


def stored_attachments(attachments: list[tuple[str, str, bytes]] | None) -> list[dict[str, str]] | None:
    """Attachments as the outbox stores them (JSON), or None without any."""
    return [
        {"filename": name, "content_type": ctype, "content_base64": base64.b64encode(data).decode("ascii")}
        for name, ctype, data in attachments or []
    ] or None


def _entry(m: OutboxMessage) -> OutboxEntry:
    return OutboxEntry(
        m.id,
        m.recipient,
        m.subject,
        m.kind,
        m.link,
        m.status,
        m.attempts,
        m.next_attempt_at,
        m.last_error,
        m.created_at,
        m.sent_at,
        m.body,
    )


# Messages nobody lists nor keeps once sent: the survey's reminders, which go only to people who have not
# answered, so that listing them (or keeping their rows) would tell who has; and the job alerts with their
# confirmation, so that nothing of a subscription stays once its person unsubscribes (notifications.py).
UNLISTED_KINDS = ("survey_reminder", "job_alert_confirm", "job_alert")


def list_messages(session: Session, statuses: list[str] | None = None, limit: int = 500) -> list[OutboxEntry]:
    """Newest messages first, optionally only some statuses (never the unlisted kinds)."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.kind.not_in(UNLISTED_KINDS))
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    if statuses:
        query = query.where(OutboxMessage.status.in_(statuses))
    return [_entry(m) for m in session.scalars(query)]


def count_by_status(session: Session) -> dict[str, int]:
    """Number of messages per status (every status present, zero included)."""
    counts = dict(
        session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.kind.not_in(UNLISTED_KINDS))
            .group_by(OutboxMessage.status)
        ).all()
    )
    return {status: counts.get(status, 0) for status in STATUS_LABELS}


def requeue_failed(session: Session, message_id: int) -> None:
    """Put a failed message back in the queue (e.g. after fixing the SMTP settings)."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=utcnow(), last_error=None)
    )
    if db.rowcount(result) != 1:
        raise DomainError("mail_not_failed" if session.get(OutboxMessage, message_id) else "mail_not_found")


def mark_delivered_by_hand(session: Session, message_id: int) -> None:
    """Record that an admin passed a pending message on by other means (no SMTP configured); erase its content.

    On SQLite, the caller runs db.scrub_sqlite_wal() after the commit so the content leaves the WAL too.
    """
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == "pending")
        .values(status="manual", sent_at=utcnow(), **ERASED_CONTENT)
    )
    if db.rowcount(result) != 1:
        raise DomainError("mail_not_pending" if session.get(OutboxMessage, message_id) else "mail_not_found")


# ---------------------------------------------------------------------------- delivery


def _claimable(now: datetime):
    return or_(
        and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == "sending", OutboxMessage.claimed_at < now - CLAIM_TIMEOUT),
    )


class _OutboxPolicy(EmailPolicy):
    """The standard policy, except that List-Unsubscribe stays on one line.

    Its value is one URL with no space to fold at: past 78 characters, the standard policy would rewrite it as
    RFC 2047 encoded words, which no mail program reads as an address. One line is allowed up to 998 characters.
    """

    def _one_line(self, name: str, value: str) -> str | None:
        line = f"{name}: {value}"
        if name.lower() == "list-unsubscribe" and line.isascii() and len(line) <= 998:
            return line + self.linesep
        return None

    def fold(self, name: str, value: str) -> str:
        return self._one_line(name, value) or super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        line = self._one_line(name, value)
        return line.encode("ascii") if line else super().fold_binary(name, value)


_POLICY = _OutboxPolicy()


def _build_email(message: OutboxMessage, smtp: SmtpSettings) -> EmailMessage:
    email = EmailMessage(policy=_POLICY)
    email["From"] = smtp.sender
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = format_datetime(datetime.now().astimezone())
    email["Message-ID"] = make_msgid(
        idstring=f"outbox-{message.id}", domain=parseaddr(smtp.sender)[1].split("@")[-1] or None
    )
    email["X-PVD-Outbox-Id"] = str(message.id)
    if message.unsubscribe_url:
        email["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        email["List-Unsubscribe-Post"] = ONE_CLICK
    email.set_content(message.body)
    for attachment in message.attachments or []:
        maintype, _, subtype = attachment["content_type"].partition("/")
        email.add_attachment(
            base64.b64decode(attachment["content_base64"]),
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment["filename"],
        )
    return email


def _connect(smtp: SmtpSettings) -> smtplib.SMTP:
    if smtp.security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            smtp.host, smtp.port, timeout=smtp.timeout_seconds, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
        if smtp.security == "starttls":
            client.starttls(context=ssl.create_default_context())
    if smtp.username:
        client.login(smtp.username, smtp.password or "")
    return client


def _is_permanent(error: Exception) -> bool:
    """5xx answers about this message are final; everything else (network, 4xx, auth) may pass later."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPAuthenticationError | smtplib.SMTPSenderRefused):
        return False  # a configuration problem, not this message's fault
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code >= 500
    return False


def backoff(attempts: int) -> timedelta:
    """Wait before the next try: 1, 2, 4, ... minutes, at most one hour."""
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def _claim(factory: sessionmaker[Session], message_id: int, token: str, now: datetime) -> OutboxMessage | None:
    with db.transaction(factory) as session:
        claimed = db.rowcount(
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id, _claimable(now))
                .values(status="sending", claim_token=token, claimed_at=now)
            )
        )
        if claimed != 1:
            return None
        message = session.get(OutboxMessage, message_id)
        session.expunge(message)
        return message


def _finish(factory: sessionmaker[Session], message_id: int, token: str, **values: object) -> None:
    with db.transaction(factory) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.claim_token == token)
            .values(claim_token=None, **values)
        )


def _forget(factory: sessionmaker[Session], message_id: int, token: str) -> None:
    """Delete a sent message of an unlisted kind: no row is left to say it was sent, or to whom."""
    with db.transaction(factory) as session:
        session.execute(delete(OutboxMessage).where(OutboxMessage.id == message_id, OutboxMessage.claim_token == token))


def deliver_due(
    factory: sessionmaker[Session], smtp: SmtpSettings, now: datetime | None = None, limit: int = 100
) -> DeliveryReport:
    """Send the messages that are due; each is claimed atomically first, so concurrent senders never overlap.

    A sent message loses its body, link and attachments in the UPDATE that marks it sent.
    """
    started = utcnow()
    now = now or started
    report = DeliveryReport()
    with db.read_only(factory) as session:
        due_ids = session.scalars(
            select(OutboxMessage.id).where(_claimable(now)).order_by(OutboxMessage.id).limit(limit)
        ).all()
    if not due_ids:
        return report
    token = uuid.uuid4().hex
    client: smtplib.SMTP | None = None
    try:
        for message_id in due_ids:
            # Stamped with the moment of this claim, not the pass's start: a pass may outlast CLAIM_TIMEOUT (a slow
            # server, many messages), and a claim stamped at its start would look expired to another sender while
            # this one is still sending the message. (`now` may be given ahead of the clock: kept as the origin.)
            moment = now + (utcnow() - started)
            message = _claim(factory, message_id, token, moment)
            if message is None:
                continue  # another sender took it
            try:
                if client is None:
                    client = _connect(smtp)
                client.send_message(_build_email(message, smtp))
            except (OSError, smtplib.SMTPException) as error:
                attempts = message.attempts + 1
                text = f"{type(error).__name__}: {error}"[:1000]
                if _is_permanent(error) or attempts >= MAX_ATTEMPTS:
                    _finish(factory, message_id, token, status="failed", attempts=attempts, last_error=text)
                    report.failed.append(message_id)
                else:
                    _finish(
                        factory,
                        message_id,
                        token,
                        status="pending",
                        attempts=attempts,
                        last_error=text,
                        next_attempt_at=moment + backoff(attempts),
                    )
                    report.retry_later.append(message_id)
                if not _is_permanent(error):
                    break  # the server is unreachable or refusing: leave the rest for the next pass
                continue
            if message.kind in UNLISTED_KINDS:
                _forget(factory, message_id, token)
                report.sent.append(message_id)
                continue
            _finish(
                factory,
                message_id,
                token,
                status="sent",
                attempts=message.attempts + 1,
                sent_at=utcnow(),
                last_error=None,
                **ERASED_CONTENT,
            )
            report.sent.append(message_id)
    finally:
        if client is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                client.quit()
        if report.sent:
            db.scrub_sqlite_wal(factory.kw["bind"])  # the erased content must not stay in SQLite's WAL
    return report


def run_sender(
    factory: sessionmaker[Session],
    smtp: SmtpSettings | None,
    stop: threading.Event,
    interval_seconds: float = 10.0,
    before_pass: Callable[[], object] | None = None,
) -> None:
    """Deliver the outbox every few seconds until `stop` is set (CLI --loop and the app's thread).

    `before_pass` writes scheduled messages (e.g. meeting reminders) to the outbox before each delivery.
    Without SMTP, only that part runs: the messages wait in the outbox, where admins see them.
    """
    while not stop.is_set():
        try:
            if before_pass is not None:
                before_pass()
            if smtp is None:
                stop.wait(interval_seconds)
                continue
            report = deliver_due(factory, smtp)
            if report.sent or report.retry_later or report.failed:
                log.info("outbox: %s", report.summary())
        except Exception as error:  # a database hiccup must not stop the sender for good
            if db.is_unreachable(error) or (isinstance(error, DomainError) and error.code == "database_unreachable"):
                db.note_unreachable(error)  # one line a minute for the whole process, not a traceback a pass
            else:
                log.exception("outbox delivery pass failed; retrying at the next interval")
        stop.wait(interval_seconds)
