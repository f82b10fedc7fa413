"""Server-side sign-in sessions: a random id in an HttpOnly cookie, only its hash in the database.

A password (or single sign-on) check issues a one-time ticket; the web layer's session route exchanges it
for a brand-new session id (so an id is never reused across sign-ins) and sets the cookie. Every script run
resolves the cookie back to the account, ending sessions that sat idle too long, outlived their maximum
lifetime, or belong to an account whose epoch moved (disabled, password changed, "signed out everywhere").
Sessions live in the database, so several app servers on one PostgreSQL share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from pvd_survey import links
from pvd_survey.accounts import UserInfo, current_user
from pvd_survey.clock import paris_time, utcnow
from pvd_survey.config import Settings
from pvd_survey.errors import DomainError
from pvd_survey.models import SignInTicket, User, UserSession

SESSION_COOKIE = "pvd_session"
TICKET_SECONDS = 60
# last_seen_at is written at most once a minute per session: page views stay reads.
TOUCH_INTERVAL = timedelta(minutes=1)


def safe_next_path(path: str | None) -> str:
    """A local path to go back to after signing in ('/' if it could lead off the site)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path or any(c < " " for c in path):
        return "/"
    return path[:300]


def issue_ticket(session: Session, user: UserInfo, next_path: str | None, now: datetime | None = None) -> str:
    """A one-time ticket for this account, valid TICKET_SECONDS, that the session route turns into a cookie."""
    now = now or utcnow()
    raw = links.new_token()
    session.add(
        SignInTicket(
            ticket_hash=links.token_hash(raw),
            user_id=user.id,
            session_epoch=user.session_epoch,
            next_path=safe_next_path(next_path),
            expires_at=now + timedelta(seconds=TICKET_SECONDS),
        )
    )
    session.flush()
    return raw


@dataclass(frozen=True)
class NewSession:
    """A session just opened by redeeming a ticket: its raw id goes into the cookie, never to the database."""

    session_id: str
    next_path: str
    max_age_seconds: int


def redeem_ticket(
    session: Session,
    raw_ticket: str | None,
    settings: Settings,
    replaces: str | None = None,
    now: datetime | None = None,
) -> NewSession:
    """Exchange a valid, unused, unexpired ticket for a new session (ending the browser's previous one)."""
    now = now or utcnow()
    if not raw_ticket or len(raw_ticket) > 100:
        raise DomainError("ticket_invalid")
    # One DELETE claims the ticket: of two concurrent redemptions, one gets the row.
    ticket = session.execute(
        delete(SignInTicket)
        .where(SignInTicket.ticket_hash == links.token_hash(raw_ticket))
        .returning(SignInTicket.user_id, SignInTicket.session_epoch, SignInTicket.next_path, SignInTicket.expires_at)
    ).first()
    if ticket is None or ticket.expires_at <= now:
        raise DomainError("ticket_invalid")
    if current_user(session, ticket.user_id, ticket.session_epoch) is None:
        raise DomainError("ticket_invalid")
    if replaces:
        end(session, replaces)
    raw_id = links.new_token()  # 256 bits
    session.add(
        UserSession(
            id_hash=links.token_hash(raw_id),
            user_id=ticket.user_id,
            session_epoch=ticket.session_epoch,
            created_at=now,
            last_seen_at=now,
        )
    )
    session.flush()
    return NewSession(raw_id, ticket.next_path, settings.session_max_hours * 3600)


@dataclass(frozen=True)
class Resolved:
    """Who a session cookie belongs to, and whether its last-seen time is due for a write."""

    user: UserInfo | None
    needs_touch: bool = False


def resolve(session: Session, raw_id: str | None, settings: Settings, now: datetime | None = None) -> Resolved:
    """The account behind a session cookie, or no one if the session is unknown, expired or revoked."""
    if not raw_id or len(raw_id) > 100:
        return Resolved(None)
    now = now or utcnow()
    row = session.get(UserSession, links.token_hash(raw_id))
    if row is None or _expired(row, settings, now):
        return Resolved(None)
    user = current_user(session, row.user_id, row.session_epoch)
    return Resolved(user, user is not None and now - row.last_seen_at >= TOUCH_INTERVAL)


def _expired(row: UserSession, settings: Settings, now: datetime) -> bool:
    return now - row.last_seen_at > timedelta(
        minutes=settings.session_idle_minutes
    ) or now - row.created_at > timedelta(hours=settings.session_max_hours)


def touch(session: Session, raw_id: str, now: datetime | None = None) -> None:
    """Record activity on a session (postpones its idle timeout)."""
    session.execute(
        update(UserSession).where(UserSession.id_hash == links.token_hash(raw_id)).values(last_seen_at=now or utcnow())
    )


def carry_on(session: Session, raw_id: str | None, user: UserInfo, now: datetime | None = None) -> None:
    """Keep this browser signed in after its own password change ended every session of the account."""
    if not raw_id or len(raw_id) > 100:
        return
    now = now or utcnow()
    session.merge(
        UserSession(
            id_hash=links.token_hash(raw_id),
            user_id=user.id,
            session_epoch=user.session_epoch,
            created_at=now,
            last_seen_at=now,
        )
    )
    session.flush()


def end(session: Session, raw_id: str | None) -> None:
    """Sign this browser out: its session stops existing on the server."""
    if raw_id and len(raw_id) <= 100:
        session.execute(delete(UserSession).where(UserSession.id_hash == links.token_hash(raw_id)))


def end_all(session: Session, user_id: int) -> None:
    """End every session of an account, on every server ("Se déconnecter de partout", account disabled...)."""
    session.execute(update(User).where(User.id == user_id).values(session_epoch=User.session_epoch + 1))
    session.execute(delete(UserSession).where(UserSession.user_id == user_id))
    session.execute(delete(SignInTicket).where(SignInTicket.user_id == user_id))


def count_open(session: Session, user_id: int, settings: Settings, now: datetime | None = None) -> int:
    """How many sessions of this account are still valid (shown on "Mon compte")."""
    now = now or utcnow()
    # One count: the account's current epoch, and the SQL form of `_expired` (not idle too long, not too old).
    query = (
        select(func.count())
        .select_from(UserSession)
        .join(User, User.id == UserSession.user_id)
        .where(
            UserSession.user_id == user_id,
            UserSession.session_epoch == User.session_epoch,
            UserSession.last_seen_at >= now - timedelta(minutes=settings.session_idle_minutes),
            UserSession.created_at >= now - timedelta(hours=settings.session_max_hours),
        )
    )
    return session.execute(query).scalar_one()


def expired(session: Session, now: datetime, settings: Settings) -> list[tuple[str, str]]:
    """Sessions that can no longer be used (idle, too old, or of an older account epoch), for `purge`."""
    rows = session.execute(
        select(UserSession.id_hash, UserSession.created_at, User.email)
        .join(User, User.id == UserSession.user_id)
        .where(
            or_(
                UserSession.last_seen_at < now - timedelta(minutes=settings.session_idle_minutes),
                UserSession.created_at < now - timedelta(hours=settings.session_max_hours),
                UserSession.session_epoch != User.session_epoch,
            )
        )
        .order_by(UserSession.created_at)
    ).all()
    return [(row.id_hash, f"session de {row.email} ouverte le {paris_time(row.created_at)}") for row in rows]


def delete_expired(session: Session, id_hashes: list[str], now: datetime | None = None) -> None:
    """Delete these sessions, and every ticket past its few seconds of validity."""
    for start in range(0, len(id_hashes), 500):
        session.execute(delete(UserSession).where(UserSession.id_hash.in_(id_hashes[start : start + 500])))
    session.execute(delete(SignInTicket).where(SignInTicket.expires_at < (now or utcnow())))
