"""Personal links: the one place that mints, hashes, looks up and builds them, and owns the `jeton` name.

A personal link (a survey invitation, a meeting registration, a job application, a recruiter request, a
password link) carries a random token in its `?jeton=` parameter; the database keeps only the token's SHA-256,
so a copy of the database opens nothing. Sign-in tickets and session ids are minted and hashed the same way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlencode

from sqlalchemy import select

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

TOKEN_PARAMETER = "jeton"  # the personal links' parameter (survey, application, registration, password...)
# Longer than any token this module mints: a longer one is refused before any hashing or reading.
MAX_TOKEN_LENGTH = 200

_Row = TypeVar("_Row")


def new_token() -> str:
    """A random link token: 32 bytes (256 bits), URL-safe."""
    return secrets.token_urlsafe(32)


def keyed_token(secret_key: str, purpose: str, subject: str) -> str:
    """A token made from the server key (128 bits, upper-case base32): the same every time, for nobody without the key.

    For a code that must be shown again and again (a meeting ticket) while the database keeps only its hash.
    """
    digest = hmac.new(secret_key.encode("utf-8"), f"pvd/{purpose}/{subject}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:16]).decode("ascii").rstrip("=")


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a token: what the database stores instead of it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def find_by_token(
    session: Session, model: type[_Row], token: str | None, *, column: str = "token_hash", lock: bool = False
) -> _Row | None:
    """The row of `model` whose hashed-token `column` matches `token` (locked FOR UPDATE if asked), else None.

    An empty or overlong token finds nothing, without a query.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    query = select(model).where(getattr(model, column) == token_hash(token))
    return session.scalar(query.with_for_update() if lock else query)


def personal_link(base_url: str, url_path: str, token: str, **params: str | int) -> str:
    """The address of a personal link: `{base_url}/{url_path}?jeton={token}`, then any other parameters."""
    return f"{base_url}/{url_path}?{urlencode({TOKEN_PARAMETER: token, **params})}"


def link_cookie_name(url_path: str) -> str:
    """The cookie that holds a personal link's token for one page (e.g. `pvd_jeton_questionnaire`)."""
    return f"pvd_{TOKEN_PARAMETER}_" + url_path.replace("-", "_")
