"""SQLAlchemy 2.0 typed models. The schema itself only changes through Alembic migrations in `db/`.

Rules that must hold under concurrency are database constraints here (unique e-mails, one
first-admin marker, role/organisation consistency); services turn IntegrityError into domain errors.
Times are stored as naive UTC (`clock.utcnow()`), shown in Europe/Paris by the pages (clock.py).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# The time helpers live in clock.py; the pages that import them from here keep working.
from pvd_survey.clock import paris_from_utc as paris_from_utc
from pvd_survey.clock import paris_time as paris_time
from pvd_survey.clock import utc_from_paris as utc_from_paris
from pvd_survey.clock import utcnow
from pvd_survey.disclosure import new_record_key

# The code tuples live in vocabulary.py, beside their labels; these names stay importable from here.
from pvd_survey.vocabulary import (
    APPLICATION_FILE_KINDS,
    APPLICATION_STATUSES,
    ATTENDEE_ROLES,
    CANCELLERS,
    CONTRACTS,
    INVITATION_STATUSES,
    MEETING_KINDS,
    NOTIFICATION_FREQUENCIES,
    NOTIFICATION_RUNS,
    NOTIFICATION_TOPICS,
    OFFER_OUTCOMES,
    ORGANISATION_KINDS,
    OUTBOX_STATUSES,
    POSTING_STATUSES,
    RECRUITER_REQUEST_STATUSES,
    REGISTRATION_STATUSES,
    REJECTION_REASONS,
    ROLES,
    WORKING_TIMES,
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints predictably."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Organisation(Base):
    """An employer of chefs de projet: an EPCI, a commune or another structure, in a department."""

    __tablename__ = "organisation"
    __table_args__ = (
        UniqueConstraint("name", "department", name="uq_organisation_name_department"),
        CheckConstraint(_in("kind", ORGANISATION_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    department: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="organisation")


class User(Base):
    """A person with an account: admin, programme direction or recruiter (bound to one organisation)."""

    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint(
            "(role = 'recruteur' AND organisation_id IS NOT NULL) OR (role <> 'recruteur' AND organisation_id IS NULL)",
            name="recruiter_organisation",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    # Null for accounts that only sign in through single sign-on.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Bumped when the account is disabled or its password changes: open sessions holding an
    # older value stop working at their next interaction.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)

    organisation: Mapped[Organisation | None] = relationship(back_populates="users")


class UserSession(Base):
    """A signed-in browser: only the SHA-256 of its random id (held in an HttpOnly cookie) is stored.

    Kept in the database so that every app server on one PostgreSQL recognises it.
    """

    __tablename__ = "user_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    # The account's epoch when the session began: disabling the account or changing its password ends it.
    session_epoch: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime)


class SignInTicket(Base):
    """A one-time ticket (hashed, valid seconds) that the session route exchanges for the session cookie."""

    __tablename__ = "sign_in_ticket"

    ticket_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    session_epoch: Mapped[int] = mapped_column(Integer)
    next_path: Mapped[str] = mapped_column(String(300))
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class LoginThrottle(Base):
    """Consecutive failed logins per e-mail (known or not), shared by every app server."""

    __tablename__ = "login_throttle"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime)


class AppMarker(Base):
    """One-time facts about the installation (e.g. 'first_admin'); the primary key makes them happen once."""

    __tablename__ = "app_marker"

    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class OutboxMessage(Base):
    """An e-mail written in the same transaction as the change it announces, delivered later."""

    __tablename__ = "outbox_message"
    __table_args__ = (CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # The main link of the message (invitation, private link...), shown to the admin when no SMTP is set.
    link: Mapped[str | None] = mapped_column(String(1000))
    # What the message is about, e.g. "account_created"; useful to filter and to test.
    kind: Mapped[str] = mapped_column(String(50))
    # The one-click unsubscribe address of a notification (List-Unsubscribe header, RFC 8058), erased once sent.
    unsubscribe_url: Mapped[str | None] = mapped_column(String(1000))
    # [{"filename": ..., "content_type": ..., "content_base64": ...}]
    attachments: Mapped[list | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    claim_token: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)


class AppSetting(Base):
    """Settings changed in the app by the direction (e.g. the survey closing date), as text."""

    __tablename__ = "app_setting"

    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class SurveyResponse(Base):
    """One chef de projet's counted answers, sealed, on the answers' side of the survey.

    Nothing here leads to an invitation or an e-mail, and nothing is readable without the server key:
    the id is random, there is no time, the answers (with the record key of the cell-key method and
    whether they came through a link) are sealed at a fixed size, and a row is only written when a
    group of at least k answers is released, in shuffled order (see survey/release.py).
    `respondent_ref` is a keyed hash that only the person's link (with the server key) can compute.
    """

    __tablename__ = "survey_response"
    __table_args__ = (
        # Imported answers have no reference: a partial index, so that the planner never takes the
        # million NULLs of an import for matches of one reference.
        Index(
            "uq_survey_response_respondent_ref",
            "respondent_ref",
            unique=True,
            sqlite_where=text("respondent_ref IS NOT NULL"),
            postgresql_where=text("respondent_ref IS NOT NULL"),
        ),
        # SQLite stores the rows in the order of this random key, not in the order they were written.
        {"sqlite_with_rowid": False},
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # None for imported answers (they have no link).
    respondent_ref: Mapped[str | None] = mapped_column(String(64))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class SurveyDraft(Base):
    """A half-filled form, sealed (encrypted with the server key), found only through the person's link."""

    __tablename__ = "survey_draft"
    __table_args__ = ({"sqlite_with_rowid": False},)

    ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class SurveyPool(Base):
    """Submitted, changed or withdrawn answers waiting to be released with at least k others, sealed."""

    __tablename__ = "survey_pool"
    __table_args__ = ({"sqlite_with_rowid": False},)

    # A keyed hash of the person's link (one waiting change per person), or random for imported answers.
    ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class SurveyRelease(Base):
    """The one row that serialises releases and holds the sealed totals of the counted answers."""

    __tablename__ = "survey_release"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The moment of the schedule at which the figures last moved (never the moment of a submission).
    released_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The last moment of the schedule a background pass looked at (released or not): later passes in the
    # same slot release nothing, so that no answer arriving after the moment decides when the figures move.
    looked_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_group_size: Mapped[int] = mapped_column(Integer, default=0)
    groups: Mapped[int] = mapped_column(Integer, default=0)
    # survey/totals.py: every count the figures need, sealed; a new random version at each release.
    totals: Mapped[bytes | None] = mapped_column(LargeBinary)
    totals_version: Mapped[str | None] = mapped_column(String(16))


class ServerKey(Base):
    """The fingerprint of the server key (PVD_SECRET_KEY) this database is opened with: a keyed hash, never the key.

    Recorded at the first start that opened the database without error; a start with another key is then refused
    (every personal link and sealed answer depends on the key), even before any survey answer exists.
    """

    __tablename__ = "server_key"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(DateTime)


class SurveyReleaseLog(Base):
    """One line per release: when (the schedule's moment) and how many new respondents it brought (activity)."""

    __tablename__ = "survey_release_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    released_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    changes: Mapped[int] = mapped_column(Integer)
    new_respondents: Mapped[int] = mapped_column(Integer)
    # Sum of the new respondents' record keys modulo 256: the weekly activity is perturbed like every count.
    new_key_sum: Mapped[int] = mapped_column(Integer)


class SurveyReminder(Base):
    """A reminder round chosen by the direction: at `due_at` the system reminds whoever has not answered."""

    __tablename__ = "survey_reminder"

    id: Mapped[int] = mapped_column(primary_key=True)
    due_at: Mapped[datetime] = mapped_column(DateTime, unique=True)
    done_at: Mapped[datetime | None] = mapped_column(DateTime)


class SurveyInvitation(Base):
    """A personal invitation, on the e-mail's side: its link's token (hashed) and its use, never any answer."""

    __tablename__ = "survey_invitation"
    __table_args__ = (CheckConstraint(_in("status", INVITATION_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # Department given when inviting (optional), for the funnel by region; never the answers'.
    department: Mapped[str | None] = mapped_column(String(3))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Random, kept for the life of the invitation: with the server key (not in the database), it gives
    # the keyed hashes that find this person's draft, waiting change and answers, so that a resent
    # link reaches them too. Without the key, nothing stored leads from here to the answers.
    respondent_salt: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="active")
    sent_count: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_sent_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    record_key: Mapped[int] = mapped_column(Integer, default=new_record_key)


class Meeting(Base):
    """A meeting with limited places; `confirmed_count` is the seat counter every registration updates.

    The counter, guarded by the CHECK below, is what makes overselling impossible: a seat is taken by
    one conditional UPDATE (`confirmed_count < capacity`), atomic on SQLite and PostgreSQL alike, and
    `arrivals` numbers the attempts in the order they took the meeting row's lock (the waiting list order).
    """

    __tablename__ = "meeting"
    __table_args__ = (
        CheckConstraint(_in("kind", MEETING_KINDS), name="kind"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("confirmed_count >= 0 AND confirmed_count <= capacity", name="seats_within_capacity"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("registration_closes_at <= starts_at", name="closes_before_start"),
        CheckConstraint("registration_opens_at < registration_closes_at", name="opens_before_closing"),
        Index("ix_meeting_upcoming", "starts_at", "region"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    region: Mapped[str | None] = mapped_column(String(2))  # None: national (e.g. a webinar)
    city: Mapped[str] = mapped_column(String(120), default="")
    venue: Mapped[str] = mapped_column(String(300), default="")
    online_url: Mapped[str | None] = mapped_column(String(500))
    starts_at: Mapped[datetime] = mapped_column(DateTime)
    ends_at: Mapped[datetime] = mapped_column(DateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    confirmed_count: Mapped[int] = mapped_column(Integer, default=0)
    arrivals: Mapped[int] = mapped_column(Integer, default=0)
    # The arrival number of the last attempt that got a place: tells an attempt, from the one UPDATE
    # that numbers it and takes a seat if one is free, whether it got the place.
    last_seat_arrival: Mapped[int] = mapped_column(Integer, default=0)
    # Incremented when the time or the place changes: the SEQUENCE of the calendar files sent.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    registration_opens_at: Mapped[datetime] = mapped_column(DateTime)
    registration_closes_at: Mapped[datetime] = mapped_column(DateTime)
    # Attendee roles admitted, codes from ATTENDEE_ROLES joined with "|".
    audiences: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Set by the services when the direction edits the meeting (not by seat-counter updates).
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# A registration is 'offered' exactly while its offer runs: a deadline, no outcome yet.
OFFER_RUNNING = (
    "(status = 'offered' AND offer_expires_at IS NOT NULL AND offered_at IS NOT NULL AND offer_outcome IS NULL) "
    "OR (status <> 'offered' AND (offer_expires_at IS NULL OR offer_outcome IS NOT NULL))"
)


class Registration(Base):
    """One person's registration to one meeting (one per e-mail per meeting), with its private link."""

    __tablename__ = "registration"
    __table_args__ = (
        UniqueConstraint("meeting_id", "email", name="one_per_email"),
        UniqueConstraint("meeting_id", "arrival", name="one_per_arrival"),
        CheckConstraint(_in("status", REGISTRATION_STATUSES), name="status"),
        CheckConstraint(_in("attendee_role", ATTENDEE_ROLES), name="attendee_role"),
        CheckConstraint(f"cancelled_by IS NULL OR {_in('cancelled_by', CANCELLERS)}", name="cancelled_by"),
        CheckConstraint(f"offer_outcome IS NULL OR {_in('offer_outcome', OFFER_OUTCOMES)}", name="offer_outcome"),
        # An offer runs until a deadline and has no outcome yet; an ended offer keeps its deadline beside its outcome.
        CheckConstraint(OFFER_RUNNING, name="offer_running"),
        CheckConstraint("offer_outcome IS NULL OR offer_expires_at IS NOT NULL", name="offer_outcome_has_deadline"),
        # The waiting list and the confirmed list of a meeting, in arrival order.
        Index("ix_registration_queue", "meeting_id", "status", "arrival"),
        # The offers the background pass finds past their deadline.
        Index("ix_registration_offer_deadline", "status", "offer_expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    # Position in the order of arrival (from meeting.arrivals); a new registration after a
    # cancellation takes a new number, at the end of the queue.
    arrival: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    # None once anonymised (a year after the meeting): only the figures' fields remain.
    email: Mapped[str | None] = mapped_column(String(320))
    full_name: Mapped[str] = mapped_column(String(200))
    attendee_role: Mapped[str] = mapped_column(String(20))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    department: Mapped[str | None] = mapped_column(String(3))
    needs: Mapped[str] = mapped_column(Text, default="")
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # SHA-256 of the ticket's code (meetings/tickets.py: made again from the server key and the reference,
    # never stored); None once anonymised.
    ticket_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    consented_at: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Cancelled by the person, or by the direction on their behalf.
    cancelled_by: Mapped[str | None] = mapped_column(String(20))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime)
    # A waiting-list offer (meetings/offers.py): when the freed place was offered, until when it is held, and how
    # the offer ended (OFFER_OUTCOMES); all None for a registration never offered a place.
    offered_at: Mapped[datetime | None] = mapped_column(DateTime)
    offer_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    offer_outcome: Mapped[str | None] = mapped_column(String(20))
    # When the attendance certificate was e-mailed (once: claimed by a conditional UPDATE, meetings/certificates.py).
    certificate_sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    anonymised_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The cell-key method's random record key (disclosure.py), for the attendance figures.
    record_key: Mapped[int] = mapped_column(Integer, default=new_record_key)


class DoorPass(Base):
    """A person the direction names « accueil » for one meeting: their personal link opens its door page."""

    __tablename__ = "door_pass"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


# ---------------------------------------------------------------------------- recruitment


class JobPosting(Base):
    """A chef de projet post published by an organisation; place and employer type are copied for the filters."""

    __tablename__ = "job_posting"
    __table_args__ = (
        CheckConstraint(_in("status", POSTING_STATUSES), name="status"),
        CheckConstraint(_in("contract", CONTRACTS), name="contract"),
        CheckConstraint(_in("working_time", WORKING_TIMES), name="working_time"),
        CheckConstraint(_in("employer_kind", ORGANISATION_KINDS), name="employer_kind"),
        # The job board: published postings of a region or department, newest first or by deadline.
        Index("ix_job_posting_board_region", "status", "region", "published_at"),
        Index("ix_job_posting_board_department", "status", "department", "published_at"),
        Index("ix_job_posting_status_deadline", "status", "deadline"),
        Index("ix_job_posting_organisation", "organisation_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    title: Mapped[str] = mapped_column(String(200))
    employer_kind: Mapped[str] = mapped_column(String(20))
    department: Mapped[str] = mapped_column(String(3))
    region: Mapped[str] = mapped_column(String(2))
    # PVD communes covered, one per line.
    communes: Mapped[str] = mapped_column(Text)
    contract: Mapped[str] = mapped_column(String(20))
    working_time: Mapped[str] = mapped_column(String(100))  # a code of WORKING_TIMES
    salary_min: Mapped[int | None] = mapped_column(Integer)
    salary_max: Mapped[int | None] = mapped_column(Integer)
    start_date: Mapped[date | None] = mapped_column(Date)
    deadline: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text)  # Markdown, sanitised when shown
    missions: Mapped[str] = mapped_column(Text)
    anah_opah_ru: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)  # closed or filled


class JobApplication(Base):
    """A candidate's application; personal fields are emptied when the candidate withdraws it."""

    __tablename__ = "job_application"
    __table_args__ = (
        # One application per e-mail per posting, even for two simultaneous submissions.
        UniqueConstraint("posting_id", "email", name="uq_job_application_posting_email"),
        CheckConstraint(_in("status", APPLICATION_STATUSES), name="status"),
        CheckConstraint(f"rejection_reason IS NULL OR {_in('rejection_reason', REJECTION_REASONS)}", name="reason"),
        Index("ix_job_application_pipeline", "posting_id", "status", "created_at"),
        Index("ix_job_application_email", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("job_posting.id"))
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    full_name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(30))
    cover_letter_text: Mapped[str | None] = mapped_column(Text)
    consent_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="recue")
    rejection_reason: Mapped[str | None] = mapped_column(String(20))
    notes: Mapped[str | None] = mapped_column(Text)  # seen by the organisation only
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # The last message to or from the candidate (retention of those who agreed to be contacted again).
    last_contact_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # The cell-key method's random record key (disclosure.py), for the applications by region.
    record_key: Mapped[int] = mapped_column(Integer, default=new_record_key)


class ApplicationFile(Base):
    """An uploaded PDF, kept in the database (shared by every app server), never reachable by URL."""

    __tablename__ = "application_file"
    __table_args__ = (
        UniqueConstraint("application_id", "kind", name="uq_application_file_application_kind"),
        CheckConstraint(_in("kind", APPLICATION_FILE_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("job_application.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    storage_name: Mapped[str] = mapped_column(String(36), unique=True)  # a uuid made by the server
    display_name: Mapped[str] = mapped_column(String(120))  # sanitised, for display only
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RecruiterRequest(Base):
    """Someone asking for a recruiter account: confirmed by e-mail, then approved or refused by the direction."""

    __tablename__ = "recruiter_request"
    __table_args__ = (
        CheckConstraint(_in("status", RECRUITER_REQUEST_STATUSES), name="status"),
        CheckConstraint(_in("organisation_kind", ORGANISATION_KINDS), name="organisation_kind"),
        Index("ix_recruiter_request_status", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    display_name: Mapped[str] = mapped_column(String(200))
    organisation_name: Mapped[str] = mapped_column(String(200))
    organisation_kind: Mapped[str] = mapped_column(String(20))
    department: Mapped[str] = mapped_column(String(3))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="unconfirmed")
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)


class PasswordToken(Base):
    """A one-time link to choose a password (hashed token, expiry)."""

    __tablename__ = "password_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# ---------------------------------------------------------------------------- notifications


class NotificationPreference(Base):
    """How often an account wants an e-mail about one topic; no row means the default (at once)."""

    __tablename__ = "notification_preference"
    __table_args__ = (
        CheckConstraint(_in("topic", NOTIFICATION_TOPICS), name="topic"),
        CheckConstraint(_in("frequency", NOTIFICATION_FREQUENCIES), name="frequency"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(30), primary_key=True)
    frequency: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class JobAlert(Base):
    """Someone's subscription to the new postings of a region (or of one of its departments), by e-mail.

    Double opt-in: nothing is sent before `confirmed_at`, and an unconfirmed row is deleted by the purge after a
    week. Unsubscribing deletes the row, and its unsubscribe links with it: nothing is kept.
    """

    __tablename__ = "job_alert"
    __table_args__ = (
        UniqueConstraint("email", "region", "department", name="uq_job_alert_email_region_department"),
        Index("ix_job_alert_confirmed", "confirmed_at", "region"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    region: Mapped[str] = mapped_column(String(2))
    department: Mapped[str] = mapped_column(String(3), default="")  # '' for the whole region
    # The confirmation link's token (hashed, like every personal link).
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Postings published up to this moment were already sent (or there were none): the next alert lists later ones.
    covered_until: Mapped[datetime | None] = mapped_column(DateTime)


class UnsubscribeLink(Base):
    """The one-click unsubscribe link of one e-mail (only its token's hash): an account's topic, or a job alert."""

    __tablename__ = "unsubscribe_link"
    __table_args__ = (
        CheckConstraint(f"topic IS NULL OR {_in('topic', NOTIFICATION_TOPICS)}", name="topic"),
        CheckConstraint(
            "(user_id IS NOT NULL AND topic IS NOT NULL AND alert_id IS NULL) "
            "OR (user_id IS NULL AND topic IS NULL AND alert_id IS NOT NULL)",
            name="one_target",
        ),
    )

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str | None] = mapped_column(String(30))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("job_alert.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class NotificationRun(Base):
    """One row per daily sending: the Paris day it last ran, claimed by one conditional UPDATE (so, once a day)."""

    __tablename__ = "notification_run"
    __table_args__ = (CheckConstraint(_in("job", NOTIFICATION_RUNS), name="job"),)

    job: Mapped[str] = mapped_column(String(30), primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    # The moment that run covered up to: the next one covers what came after.
    covered_until: Mapped[datetime] = mapped_column(DateTime)
