"""Personal links and the server key: token hashes, the keyed references of a respondent's rows, sealing."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pvd_survey import access
from pvd_survey.config import Settings
from pvd_survey.errors import DomainError

SURVEY_PAGE_PATH = access.PAGES_BY_KEY["survey"].url_path
TOKEN_PARAMETER = "jeton"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A random link token: 32 bytes (256 bits), URL-safe."""
    return secrets.token_urlsafe(32)


def survey_link(settings: Settings, token: str) -> str:
    """The personal link an invitee receives."""
    return f"{settings.base_url}/{SURVEY_PAGE_PATH}?{TOKEN_PARAMETER}={token}"


@dataclass(frozen=True)
class _Refs:
    """The keyed hashes that find one person's rows on the answers side."""

    draft: str
    pool: str
    response: str


def _purpose_key(settings: Settings, purpose: str) -> bytes:
    return hmac.new(settings.secret_key.encode("utf-8"), f"pvd-survey/{purpose}".encode(), hashlib.sha256).digest()


def _refs(settings: Settings, salt: str) -> _Refs:
    def keyed(purpose: str) -> str:
        return hmac.new(_purpose_key(settings, purpose), salt.encode("ascii"), hashlib.sha256).hexdigest()

    return _Refs(keyed("draft"), keyed("pool"), keyed("response"))


def _seal(settings: Settings, payload: dict, ref: str) -> bytes:
    """Encrypt a draft or a waiting change, bound to its row's key (a sealed value moved elsewhere won't open)."""
    nonce = secrets.token_bytes(12)
    data = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return nonce + AESGCM(_purpose_key(settings, "seal")).encrypt(nonce, data, ref.encode("ascii"))


def _unseal(settings: Settings, sealed: bytes, ref: str) -> dict:
    try:
        data = AESGCM(_purpose_key(settings, "seal")).decrypt(sealed[:12], sealed[12:], ref.encode("ascii"))
    except InvalidTag as error:
        raise DomainError("survey_key_mismatch") from error
    return json.loads(data)
