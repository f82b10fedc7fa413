"""What is on, for the public home page: the next meetings one can still join and the latest postings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pvd_survey import meetings, recruitment
from pvd_survey.clock import utcnow
from pvd_survey.meetings import MeetingInfo
from pvd_survey.models import Meeting
from pvd_survey.recruitment import PostingInfo

HOME_MEETINGS = 3
HOME_POSTINGS = 3


@dataclass(frozen=True)
class WhatsOn:
    """The home page's news: meetings with places left, soonest first, and postings, newest first."""

    meetings: list[MeetingInfo]
    postings: list[PostingInfo]


def next_meetings(session: Session, now: datetime | None = None, limit: int = HOME_MEETINGS) -> list[MeetingInfo]:
    """The soonest meetings that still take registrations and have a free place (registration may open later)."""
    now = now or utcnow()
    # A full meeting only offers its waiting list, and a past or closed one nothing: the public list
    # ("Rencontres") shows those; the home page points to what a visitor can still join.
    ids = session.scalars(
        select(Meeting.id)
        .where(
            Meeting.starts_at > now,
            Meeting.registration_closes_at > now,
            Meeting.confirmed_count < Meeting.capacity,
        )
        .order_by(Meeting.starts_at, Meeting.id)
        .limit(limit)
    ).all()
    return [meetings.get_meeting(session, meeting_id) for meeting_id in ids]


def latest_postings(session: Session, now: datetime | None = None, limit: int = HOME_POSTINGS) -> list[PostingInfo]:
    """The most recently published postings still open to applications (as on the job board)."""
    return recruitment.list_published(session, recruitment.BoardFilters(), now=now, limit=limit).postings


def whats_on(session: Session, now: datetime | None = None) -> WhatsOn:
    """Everything the public home page lists."""
    now = now or utcnow()
    return WhatsOn(next_meetings(session, now), latest_postings(session, now))
