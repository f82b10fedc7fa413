"""Recruitment: one-time links to choose a password."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from pvd_survey import accounts, links
from pvd_survey.accounts import UserInfo
from pvd_survey.clock import utcnow
from pvd_survey.config import Settings
from pvd_survey.errors import DomainError
from pvd_survey.models import PasswordToken
from pvd_survey.recruitment.common import PASSWORD_LINK_DAYS, _page_link


def issue_password_link(session: Session, user_id: int, settings: Settings, now: datetime | None = None) -> str:
    """A one-time link (7 days) to choose a password; only its SHA-256 is stored."""
    now = now or utcnow()
    token = links.new_token()
    session.add(
        PasswordToken(
            user_id=user_id,
            token_hash=links.token_hash(token),
            expires_at=now + timedelta(days=PASSWORD_LINK_DAYS),
            created_at=now,
        )
    )
    session.flush()
    return _page_link(settings, "set_password", token)


def _password_token(session: Session, token: str | None, now: datetime, lock: bool = False) -> PasswordToken:
    stored = links.find_by_token(session, PasswordToken, token, lock=lock)
    if stored is None or stored.used_at is not None or stored.expires_at <= now:
        raise DomainError("invalid_password_link")
    return stored


def password_link_user(session: Session, token: str | None, now: datetime | None = None) -> UserInfo:
    """The account a set-password link is for (refused when used, expired or unknown)."""
    return accounts.get_user(session, _password_token(session, token, now or utcnow()).user_id)


def set_password_by_link(
    session: Session, token: str | None, password: str, settings: Settings, now: datetime | None = None
) -> UserInfo:
    """Choose a password through a one-time link; the link then stops working."""
    now = now or utcnow()
    stored = _password_token(session, token, now, lock=True)
    user = accounts.set_password(session, stored.user_id, password, settings)
    stored.used_at = now
    session.flush()
    return user
