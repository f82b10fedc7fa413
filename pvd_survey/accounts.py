"""Accounts, organisations, passwords, password links and login: the rules, usable without Streamlit.

Every function takes a Session and leaves the commit to the caller.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from pvd_survey import access, db, links, mail, territory
from pvd_survey.clock import paris_time, utcnow
from pvd_survey.config import Settings
from pvd_survey.credentials import PASSWORD_MAX_LENGTH as PASSWORD_MAX_LENGTH  # (the services' and pages' name)
from pvd_survey.credentials import PASSWORD_MIN_LENGTH as PASSWORD_MIN_LENGTH
from pvd_survey.credentials import check_new_password, normalise_email
from pvd_survey.credentials import check_password_policy as check_password_policy
from pvd_survey.db import dialect_insert
from pvd_survey.errors import DomainError, FieldChecks
from pvd_survey.models import (
    AppMarker,
    LoginThrottle,
    Organisation,
    PasswordToken,
    SignInTicket,
    User,
    UserSession,
)
from pvd_survey.vocabulary import ORGANISATION_KIND_LABELS as ORGANISATION_KIND_LABELS  # (the pages' name)
from pvd_survey.vocabulary import ORGANISATION_KINDS, ROLE_LABELS, ROLES

PASSWORD_LINK_DAYS = 7
_T = TypeVar("_T")


@dataclass(frozen=True)
class UserInfo:
    """What pages and the CLI need to know about an account (never the password hash)."""

    id: int
    email: str
    display_name: str
    role: str
    organisation_id: int | None
    organisation_name: str | None
    is_active: bool
    session_epoch: int
    has_password: bool
    created_at: datetime
    last_login_at: datetime | None

    @property
    def role_label(self) -> str:
        """French name of the role."""
        return ROLE_LABELS.get(self.role, self.role)


@dataclass(frozen=True)
class OrganisationInfo:
    """An employer organisation as shown in lists."""

    id: int
    name: str
    kind: str
    department: str
    recruiter_count: int

    @property
    def label(self) -> str:
        """Name with department, to tell homonyms apart."""
        return f"{self.name} ({self.department})"


@dataclass(frozen=True)
class LoginOutcome:
    """Result of a login attempt: the account signed in, or why not."""

    user: UserInfo | None
    error: DomainError | None


def _user_info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        organisation_id=user.organisation_id,
        organisation_name=user.organisation.name if user.organisation else None,
        is_active=user.is_active,
        session_epoch=user.session_epoch,
        has_password=user.password_hash is not None,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


# ---------------------------------------------------------------------------- password hashes


@cache
def password_hasher(profile: str = "production") -> PasswordHasher:
    """Argon2id hasher; the 'fast-tests' profile only exists so test suites run quickly."""
    if profile == "fast-tests":
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()


# Sign-ins at once in this process. Each argon2 check takes about half a second of CPU on several threads (its
# lanes): twenty sign-ins at once would take every core from the other requests, and their short writes would
# queue ahead of everyone's. Beyond this many they wait their turn, holding no connection and no lock.
ARGON2_AT_ONCE = max(1, (os.cpu_count() or 2) // 2)


def _lower_priority() -> None:
    """Let this thread (and the argon2 lane threads it starts) yield the CPU to the app's other work when short."""
    # Linux: the nice value belongs to each thread, and the threads it starts inherit it; elsewhere an ordinary thread.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


class SignInTurns:
    """A process's password sign-ins, `size` at a time, their argon2 work on low-priority threads.

    (Only sign-ins: other hashing runs inside its caller's transaction, which must not wait behind them.)
    """

    def __init__(self, size: int) -> None:
        self._turns = threading.BoundedSemaphore(size)
        self._checks = ThreadPoolExecutor(size, thread_name_prefix="pvd-argon2", initializer=_lower_priority)

    def __enter__(self) -> SignInTurns:
        self._turns.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._turns.release()

    def run(self, work: Callable[..., _T], *args: object) -> _T:
        """`work(*args)` on a low-priority thread (argon2), waited for."""
        return self._checks.submit(work, *args).result()


sign_in_turns = SignInTurns(ARGON2_AT_ONCE)


def hash_password(password: str, profile: str = "production") -> str:
    """Argon2id hash of a password."""
    return password_hasher(profile).hash(password)


@cache
def _dummy_hash(profile: str) -> str:
    return hash_password("not a real password, only for timing", profile)


def _verify(password_hash: str | None, password: str, profile: str) -> bool:
    try:
        # Unknown e-mails verify against a dummy hash so timing does not reveal which accounts exist.
        return password_hasher(profile).verify(password_hash or _dummy_hash(profile), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


# ---------------------------------------------------------------------------- organisations


def create_organisation(session: Session, name: str, kind: str, department: str) -> OrganisationInfo:
    """Add an employer organisation (EPCI, commune or other) in a department; every field's problem at once."""
    checks = FieldChecks()
    name = " ".join((name or "").split())
    with checks:
        if not name:
            raise DomainError("organisation_name_required", field="name")
    with checks:
        if kind not in ORGANISATION_KINDS:
            choices = ", ".join(ORGANISATION_KINDS)
            raise DomainError("unknown_organisation_kind", field="kind", kind=kind, choices=choices)
    code = None
    with checks:
        if not (department or "").strip():
            raise DomainError("department_required", field="department")
        code = territory.normalise_department(department)
        if code is None:
            raise DomainError("unknown_department", field="department", department=department)
    checks.raise_errors()
    organisation = Organisation(name=name, kind=kind, department=code)
    try:
        with session.begin_nested():
            session.add(organisation)
            session.flush()
    except IntegrityError:
        raise DomainError("organisation_exists", field="name", name=name) from None
    return OrganisationInfo(organisation.id, organisation.name, organisation.kind, organisation.department, 0)


def list_organisations(session: Session) -> list[OrganisationInfo]:
    """All organisations by name, with their number of recruiter accounts."""
    rows = session.execute(
        select(Organisation, func.count(User.id))
        .outerjoin(User, User.organisation_id == Organisation.id)
        .group_by(Organisation.id)
        .order_by(Organisation.name, Organisation.department)
    ).all()
    return [OrganisationInfo(o.id, o.name, o.kind, o.department, count) for o, count in rows]


def find_organisation(session: Session, reference: str) -> OrganisationInfo:
    """An organisation by id or exact name (as typed on the command line)."""
    reference = (reference or "").strip()
    query = select(Organisation)
    if reference.isdigit():
        matches = session.scalars(query.where(Organisation.id == int(reference))).all()
    else:
        matches = session.scalars(query.where(func.lower(Organisation.name) == reference.lower())).all()
    if not matches:
        raise DomainError("unknown_organisation", field="organisation", organisation=reference)
    if len(matches) > 1:
        raise DomainError("ambiguous_organisation", field="organisation", organisation=reference)
    o = matches[0]
    return OrganisationInfo(o.id, o.name, o.kind, o.department, len(o.users))


# ---------------------------------------------------------------------------- accounts


def check_account(
    checks: FieldChecks,
    session: Session,
    email: str,
    display_name: str,
    role: str,
    organisation_id: int | None,
    password: str | None,
    confirmation: str | None = None,
) -> tuple[str, str]:
    """A new account's fields checked, each problem kept in `checks` by field; the e-mail and name as stored."""
    typed_email = (email or "").strip().lower()
    with checks:
        typed_email = normalise_email(email)
    display_name = " ".join((display_name or "").split())
    with checks:
        if not display_name:
            raise DomainError("display_name_required", field="display_name")
    with checks:
        if role not in ROLES:
            raise DomainError("unknown_role", field="role", role=role, choices=", ".join(ROLES))
    with checks:
        if role == "recruteur" and organisation_id is None:
            raise DomainError("organisation_required", field="organisation")
        if role != "recruteur" and organisation_id is not None:
            raise DomainError("organisation_not_allowed", field="organisation")
        if organisation_id is not None and session.get(Organisation, organisation_id) is None:
            raise DomainError("unknown_organisation", field="organisation", organisation=organisation_id)
    if password is not None:
        check_new_password(checks, password, confirmation, typed_email)
    return typed_email, display_name


def create_user(
    session: Session,
    *,
    email: str,
    display_name: str,
    role: str,
    settings: Settings,
    organisation_id: int | None = None,
    password: str | None = None,
    notify: bool = True,
    confirmation: str | None = None,
) -> UserInfo:
    """Create an account; the welcome e-mail goes to the outbox in the same transaction. Every field's problem is
    reported at once; `confirmation`: the password typed again, when the form asks for it."""
    checks = FieldChecks()
    email, display_name = check_account(
        checks, session, email, display_name, role, organisation_id, password, confirmation
    )
    checks.raise_errors()
    user = User(
        email=email,
        display_name=display_name,
        role=role,
        organisation_id=organisation_id,
        password_hash=hash_password(password, settings.argon2_profile) if password is not None else None,
    )
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:
        raise DomainError("email_taken", field="email", email=email) from None
    if notify:
        how = (
            "Connectez-vous avec votre adresse e-mail et le mot de passe convenu avec l'administrateur."
            if password
            else "Connectez-vous avec le bouton ProConnect, ou demandez un mot de passe à l'administrateur."
        )
        mail.enqueue(
            session,
            recipient=email,
            subject="Votre compte Petites villes de demain",
            body=(
                f"Bonjour {display_name},\n\n"
                f"Un compte « {ROLE_LABELS[role]} » vient d'être créé pour vous sur l'application "
                f"Petites villes de demain.\n{how}\n\nAdresse de l'application : {settings.base_url}\n\n"
                "L'équipe du programme Petites villes de demain (ANCT)"
            ),
            kind="account_created",
            link=settings.base_url,
        )
    session.refresh(user)
    return _user_info(user)


def needs_setup(session: Session) -> bool:
    """True while the installation has no administrator yet (first start)."""
    if session.get(AppMarker, "first_admin") is not None:
        return False
    return session.scalar(select(func.count()).select_from(User).where(User.role == "admin")) == 0


_SETUP_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read from a log, typed by hand


def first_admin_code(settings: Settings) -> str:
    """The code the set-up page asks for (e.g. `K7QF-2M9X-HT4P`, about 59 bits): printed in the server's log while no
    administrator exists, so that whoever reaches a new installation first cannot take it. Derived from the server
    key, so every process of an installation prints the same one."""
    digest = hmac.new(settings.secret_key.encode("utf-8"), b"pvd/first-admin-setup-code", hashlib.sha256).digest()
    letters = "".join(_SETUP_CODE_ALPHABET[byte % len(_SETUP_CODE_ALPHABET)] for byte in digest[:12])
    return "-".join(letters[start : start + 4] for start in (0, 4, 8))


def set_up(
    session: Session,
    *,
    code: str,
    email: str,
    display_name: str,
    password: str,
    settings: Settings,
    confirmation: str | None = None,
) -> UserInfo:
    """The set-up page: the first administrator, only with the code of the server's log; the code's problem and
    the other fields' are reported at once."""
    if not needs_setup(session):
        raise DomainError("setup_done")
    checks = FieldChecks()
    with checks:
        typed = re.sub(r"[\s-]", "", code or "").upper().encode()
        if not hmac.compare_digest(typed, first_admin_code(settings).replace("-", "").encode()):
            raise DomainError("setup_code_invalid", field="setup_code")
    check_account(checks, session, email, display_name, "admin", None, password, confirmation)
    checks.raise_errors()
    return create_first_admin(session, email=email, display_name=display_name, password=password, settings=settings)


def create_first_admin(
    session: Session, *, email: str, display_name: str, password: str, settings: Settings
) -> UserInfo:
    """Create the very first administrator; a second attempt (even concurrent) is refused."""
    if not needs_setup(session):
        raise DomainError("setup_done")
    user = create_user(
        session,
        email=email,
        display_name=display_name,
        role="admin",
        settings=settings,
        password=password,
        notify=False,
    )
    try:
        # The marker's primary key lets exactly one of two simultaneous set-ups commit.
        with session.begin_nested():
            session.add(AppMarker(key="first_admin"))
            session.flush()
    except IntegrityError:
        raise DomainError("setup_done") from None
    return user


def list_users(session: Session) -> list[UserInfo]:
    """Every account, admins first, then by e-mail."""
    users = session.scalars(select(User).order_by(User.role, User.email)).all()
    return [_user_info(u) for u in users]


def get_user(session: Session, user_id: int) -> UserInfo:
    """One account by id."""
    user = session.get(User, user_id)
    if user is None:
        raise DomainError("unknown_user")
    return _user_info(user)


def current_user(session: Session, user_id: int, session_epoch: int) -> UserInfo | None:
    """The account behind an open session, or None if it was disabled or its password changed since."""
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.session_epoch != session_epoch:
        return None
    return _user_info(user)


def _locked(until: datetime) -> DomainError:
    return DomainError("account_locked", until=paris_time(until, "%H:%M"))


@dataclass(frozen=True)
class _LoginTurn:
    """One login attempt that took its turn: counted as a failure until its password proves right."""

    email: str
    password_hash: str | None  # the account's hash when the turn was taken (None: unknown e-mail or SSO only)
    locked_until: datetime | None  # set when this turn was the last one before the lock
    refused: DomainError | None = None  # no turn left: the e-mail is locked


def _take_login_turn(session: Session, email: str, settings: Settings, now: datetime) -> _LoginTurn:
    """Reserve one of the e-mail's allowed attempts, or say it is locked (before any password is checked).

    The throttle row is locked (insert-if-missing first), so of any number of concurrent attempts on every server,
    at most `login_max_failures` get a turn per lock window; each turn counts as a failure at once and a success
    wipes the count. The last turn sets the lock, so attempts that come after it wait out the window whatever
    their password.
    """
    session.execute(dialect_insert(session, LoginThrottle).values(email=email, failures=0).on_conflict_do_nothing())
    throttle = session.get_one(LoginThrottle, email, with_for_update=True, populate_existing=True)
    if throttle.locked_until is not None and throttle.locked_until <= now:
        throttle.failures, throttle.locked_until = 0, None
    if throttle.locked_until is None and throttle.failures >= settings.login_max_failures:
        # Failures counted under a higher limit than today's: they lock the e-mail now.
        throttle.locked_until = now + timedelta(minutes=settings.login_lock_minutes)
    if throttle.locked_until is not None:
        session.flush()
        return _LoginTurn(email, None, throttle.locked_until, _locked(throttle.locked_until))
    throttle.failures += 1
    throttle.last_failure_at = now
    if throttle.failures >= settings.login_max_failures:
        throttle.locked_until = now + timedelta(minutes=settings.login_lock_minutes)
    session.flush()
    password_hash = session.scalar(select(User.password_hash).where(User.email == email))
    return _LoginTurn(email, password_hash, throttle.locked_until)


def _succeed_login(session: Session, turn: _LoginTurn, new_hash: str | None, now: datetime) -> LoginOutcome:
    """Record a proven password: the failure count is wiped and the account signed in, if it still may."""
    user = session.scalar(select(User).where(User.email == turn.email).with_for_update())
    if user is None or user.password_hash is None or user.password_hash != turn.password_hash:
        # The password was changed while the old one was being checked: what was proven is no longer it.
        return LoginOutcome(None, DomainError("bad_credentials"))
    if not user.is_active:
        return LoginOutcome(None, DomainError("account_disabled"))
    session.execute(delete(LoginThrottle).where(LoginThrottle.email == turn.email))
    user.last_login_at = now
    if new_hash is not None:
        user.password_hash = new_hash
    session.flush()
    return LoginOutcome(_user_info(user), None)


def authenticate(
    factory: sessionmaker[Session], email: str, password: str, settings: Settings, now: datetime | None = None
) -> LoginOutcome:
    """Check a password login in two short transactions of its own, argon2 outside both; failures lock the e-mail.

    The one service that owns its transactions: argon2 takes about half a second and must never hold a
    connection, a row lock or SQLite's write lock meanwhile. First a turn is reserved (refused when the e-mail
    is locked), then the password is checked with no transaction open, then a success is recorded; a process
    runs `ARGON2_AT_ONCE` sign-ins at a time (`sign_in_turns`).
    """
    now = now or utcnow()
    checks = FieldChecks()  # both fields' problems at once, before any attempt is counted
    with checks:
        email = normalise_email(email)
    with checks:
        if not password:
            raise DomainError("field_required", field="password")
    try:
        checks.raise_errors()
    except DomainError as error:
        return LoginOutcome(None, error)
    with sign_in_turns:
        with db.transaction(factory) as session:
            turn = _take_login_turn(session, email, settings, now)
        if turn.refused is not None:
            return LoginOutcome(None, turn.refused)
        verified = sign_in_turns.run(_verify, turn.password_hash, password or "", settings.argon2_profile)
        if not verified:
            # Already counted when the turn was taken: nothing left to write.
            refusal = _locked(turn.locked_until) if turn.locked_until is not None else DomainError("bad_credentials")
            return LoginOutcome(None, refusal)
        if turn.password_hash is None:  # _verify() accepts no unknown e-mail or account without a password
            raise RuntimeError("a password verified without an account or its stored hash")
        new_hash = None
        if password_hasher(settings.argon2_profile).check_needs_rehash(turn.password_hash):
            new_hash = sign_in_turns.run(hash_password, password, settings.argon2_profile)
        with db.transaction(factory) as session:
            return _succeed_login(session, turn, new_hash, now)


def user_for_sso(session: Session, email: str | None, email_verified: bool | None) -> UserInfo:
    """Map an identity verified by the OIDC provider to an active local account."""
    shown = email or "(aucune)"
    if not email:
        raise DomainError("sso_unknown", email=shown)
    if email_verified is False:
        raise DomainError("sso_unverified", email=shown)
    try:
        normalised = normalise_email(email)
    except DomainError:
        raise DomainError("sso_unknown", email=shown) from None
    user = session.scalar(select(User).where(User.email == normalised))
    if user is None:
        raise DomainError("sso_unknown", email=normalised)
    if not user.is_active:
        raise DomainError("account_disabled")
    user.last_login_at = utcnow()
    session.flush()
    return _user_info(user)


def _active_admin_count(session: Session) -> int:
    return session.execute(
        select(func.count()).select_from(User).where(User.role == "admin", User.is_active.is_(True))
    ).scalar_one()


def _drop_sessions(session: Session, user_id: int) -> None:
    # The epoch bump already ends them; deleting the rows keeps the table to live sessions.
    session.execute(delete(UserSession).where(UserSession.user_id == user_id))
    session.execute(delete(SignInTicket).where(SignInTicket.user_id == user_id))


def set_active(session: Session, user_id: int, active: bool, actor_id: int) -> UserInfo:
    """Disable (ending its open sessions) or re-enable an account."""
    user = session.get(User, user_id, with_for_update=True)
    if user is None:
        raise DomainError("unknown_user")
    if not active:
        if user.id == actor_id:
            raise DomainError("cannot_disable_self")
        if user.role == "admin" and user.is_active and _active_admin_count(session) <= 1:
            raise DomainError("last_admin")
    if user.is_active != active:
        session.execute(
            update(User).where(User.id == user_id).values(is_active=active, session_epoch=User.session_epoch + 1)
        )
        _drop_sessions(session, user_id)
        session.refresh(user)
    return _user_info(user)


def set_password(
    session: Session, user_id: int, password: str, settings: Settings, confirmation: str | None = None
) -> UserInfo:
    """Give an account a new password (`confirmation`: typed again, when the form asks for it); its open sessions
    end and its login lock is lifted."""
    user = session.get(User, user_id)
    if user is None:
        raise DomainError("unknown_user")
    checks = FieldChecks()
    check_new_password(checks, password, confirmation, user.email)
    checks.raise_errors()
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(password_hash=hash_password(password, settings.argon2_profile), session_epoch=User.session_epoch + 1)
    )
    _drop_sessions(session, user_id)
    throttle = session.get(LoginThrottle, user.email)
    if throttle is not None:
        session.delete(throttle)
    session.refresh(user)
    return _user_info(user)


def change_own_password(
    session: Session,
    user_id: int,
    current_password: str,
    new_password: str,
    settings: Settings,
    confirmation: str | None = None,
) -> UserInfo:
    """A signed-in person replaces their password after proving they know the current one (every field's problem
    reported at once)."""
    user = session.get(User, user_id)
    if user is None:
        raise DomainError("unknown_user")
    checks = FieldChecks()
    with checks:
        if user.password_hash is not None and not _verify(
            user.password_hash, current_password, settings.argon2_profile
        ):
            raise DomainError("current_password_wrong", field="current_password")
    check_new_password(checks, new_password, confirmation, user.email)
    checks.raise_errors()
    return set_password(session, user_id, new_password, settings)


# ---------------------------------------------------------------------------- one-time links to choose a password


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
    return links.personal_link(settings.base_url, access.PAGES_BY_KEY["set_password"].url_path, token)


def _password_token(session: Session, token: str | None, now: datetime, lock: bool = False) -> PasswordToken:
    stored = links.find_by_token(session, PasswordToken, token, lock=lock)
    if stored is None or stored.used_at is not None or stored.expires_at <= now:
        raise DomainError("invalid_password_link")
    return stored


def password_link_user(session: Session, token: str | None, now: datetime | None = None) -> UserInfo:
    """The account a set-password link is for (refused when used, expired or unknown)."""
    return get_user(session, _password_token(session, token, now or utcnow()).user_id)


def set_password_by_link(
    session: Session,
    token: str | None,
    password: str,
    settings: Settings,
    now: datetime | None = None,
    confirmation: str | None = None,
) -> UserInfo:
    """Choose a password through a one-time link (`confirmation`: typed again); the link then stops working."""
    now = now or utcnow()
    stored = _password_token(session, token, now, lock=True)
    user = set_password(session, stored.user_id, password, settings, confirmation)
    stored.used_at = now
    session.flush()
    return user
