"""What a person types to have an account, checked without a database: the e-mail address and the password
policy (each error with its form's field)."""

from __future__ import annotations

import re
from functools import cache

from email_validator import EmailNotValidError, validate_email
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from pvd_survey.errors import DomainError, FieldChecks

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 128

# Common French choices that the (English-centred) zxcvbn list lacks.
_FRENCH_COMMON = {
    "motdepasse",
    "azerty",
    "azertyuiop",
    "soleil",
    "bonjour",
    "doudou",
    "chouchou",
    "loulou",
    "marseille",
    "nicolas",
    "camille",
    "julien",
    "jetaime",
    "coucou",
    "france",
    "liberte",
    "toulouse",
    "paris",
    "qsdfghjklm",
    "petitesvillesdedemain",
    "pvd",
    "anct",
}


def normalise_email(raw: str, field: str = "email") -> str:
    """Validate an e-mail address (syntax only, no DNS) and return its normalised form."""
    try:
        normalized = validate_email((raw or "").strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        detail = "vérifiez qu'elle est de la forme prenom.nom@exemple.fr."
        raise DomainError("invalid_email", field=field, detail=detail) from None
    # Local parts are case-sensitive in theory only: people type "Prenom.Nom@" and "prenom.nom@"
    # for the same mailbox, and two accounts for one person would be worse.
    return normalized.lower()


@cache
def _common_passwords() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"]) | _FRENCH_COMMON


def check_password_policy(password: str, email: str | None = None) -> None:
    """Refuse passwords that are too short, too long, common or easy to guess."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise DomainError("password_too_short", field="password", minimum=PASSWORD_MIN_LENGTH)
    if len(password) > PASSWORD_MAX_LENGTH:
        raise DomainError("password_too_long", field="password", maximum=PASSWORD_MAX_LENGTH)
    lowered = password.lower()
    # "Password2024!" is "password" with decorations: strip them before looking it up.
    core = re.sub(r"[\d\W_]+$", "", re.sub(r"^[\d\W_]+", "", lowered))
    common = _common_passwords()
    if lowered in common or core in common or len(set(lowered)) <= 2:
        raise DomainError("password_common", field="password")
    local_part = (email or "").split("@")[0].lower()
    if len(local_part) >= 4 and local_part in lowered:
        raise DomainError("password_contains_email", field="password")
    hints = [local_part, "petites villes de demain", "pvd", "anct", "chef de projet"]
    if zxcvbn(password[:100], user_inputs=[h for h in hints if h])["score"] < 3:
        raise DomainError("password_weak", field="password")


def check_new_password(checks: FieldChecks, password: str, confirmation: str | None, email: str | None = None) -> None:
    """A new password's checks, kept in `checks` (all of a form's errors at once): the policy under "password",
    then its confirmation typed again under "confirmation" (None: the form asks for none)."""
    with checks:
        check_password_policy(password, email)
    with checks:
        if confirmation is not None and confirmation != password:
            raise DomainError("password_mismatch", field="confirmation")
