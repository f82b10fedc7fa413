"""The survey's personal link and the server key: the keyed references of a respondent's rows, sealing.

Tokens are minted, hashed and built into links by pvd_survey.links, as for every personal link.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pvd_survey import access, links
from pvd_survey.config import Settings
from pvd_survey.errors import DomainError

SURVEY_PAGE_PATH = access.PAGES_BY_KEY["survey"].url_path
# The app setting holding the survey's closing date (read when answering, set and reminded about by invitations).
CLOSES_AT_KEY = "survey_closes_at"


def survey_link(settings: Settings, token: str) -> str:
    """The personal link an invitee receives."""
    return links.personal_link(settings.base_url, SURVEY_PAGE_PATH, token)


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


# Sealed values have a fixed size per kind, so that the database shows nothing of what they hold: JSON
# padded with spaces (which JSON ignores, so values sealed before padding still open).
SEALED_SIZES = {"draft": 2048, "pool": 1024, "response": 512}


def _seal(settings: Settings, payload: dict, ref: str, size: int = 0) -> bytes:
    """Encrypt a draft, a waiting change or counted answers, bound to its row's key (moved elsewhere, it won't open).

    The plain text is padded to `size` bytes (or to a multiple of 512 when longer).
    """
    data = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    target = max(size, -(-len(data) // 512) * 512)
    return _encrypt(settings, data.ljust(target, b" "), ref.encode("ascii"))


def _unseal(settings: Settings, sealed: bytes, ref: str) -> dict:
    return json.loads(_decrypt(settings, sealed, ref.encode("ascii")))


def seal_bytes(settings: Settings, data: bytes, purpose: str) -> bytes:
    """Encrypt a binary value (its length first, padded with zeros to the next multiple of 64 KiB)."""
    padded = len(data).to_bytes(8, "big") + data
    target = -(-len(padded) // 65536) * 65536
    return _encrypt(settings, padded.ljust(target, b"\0"), purpose.encode("ascii"))


def unseal_bytes(settings: Settings, sealed: bytes, purpose: str) -> bytes:
    """Open `seal_bytes`' output; a wrong key or a changed byte raises DomainError('survey_key_mismatch')."""
    data = _decrypt(settings, sealed, purpose.encode("ascii"))
    return data[8 : 8 + int.from_bytes(data[:8], "big")]


@functools.lru_cache(maxsize=4)
def _sealing_cipher(secret_key: str) -> AESGCM:
    # Derived once per server key: a large import seals a row per answer (the HMAC and setup cost as much as it).
    return AESGCM(hmac.new(secret_key.encode("utf-8"), b"pvd-survey/seal", hashlib.sha256).digest())


def _encrypt(settings: Settings, data: bytes, bound_to: bytes) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + _sealing_cipher(settings.secret_key).encrypt(nonce, data, bound_to)


def _decrypt(settings: Settings, sealed: bytes, bound_to: bytes) -> bytes:
    try:
        return _sealing_cipher(settings.secret_key).decrypt(bytes(sealed[:12]), bytes(sealed[12:]), bound_to)
    except (InvalidTag, ValueError) as error:
        raise DomainError("survey_key_mismatch") from error
