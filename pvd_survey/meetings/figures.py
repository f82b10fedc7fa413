"""The direction's figures on meetings: fill rates, cancellations, attendance (protected like the survey's)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pvd_survey import disclosure, territory
from pvd_survey.clock import utcnow
from pvd_survey.meetings.catalogue import list_all
from pvd_survey.meetings.common import (
    ROLE_LABELS,
    MeetingInfo,
)
from pvd_survey.models import Registration

# ---------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class MeetingFigures:
    """One meeting's line in the direction's figures."""

    meeting: MeetingInfo
    cancellations: int
    present: int

    @property
    def fill_rate(self) -> float:
        """Confirmed places as a percentage of capacity."""
        return round(100 * self.meeting.confirmed / self.meeting.capacity, 1)


@dataclass(frozen=True)
class AttendanceRow:
    """Attendance of one group (a region or a role); None where the group is too small to show."""

    group: str
    confirmed: int | None
    present: int | None

    @property
    def rate(self) -> float | None:
        """Present as a percentage of confirmed."""
        if self.confirmed is None or self.present is None or not self.confirmed:
            return None
        return round(100 * self.present / self.confirmed, 1)


@dataclass(frozen=True)
class DashboardFigures:
    """Everything the dashboard shows about meetings."""

    meetings: list[MeetingFigures]
    by_region: list[AttendanceRow] = field(default_factory=list)
    by_role: list[AttendanceRow] = field(default_factory=list)


def _attendance(
    confirmed: dict[str, disclosure.Tally], present: dict[str, disclosure.Tally], labels: dict[str, str], k: int
) -> list[AttendanceRow]:
    # Groups of fewer than k people are hidden, with secondary suppression so that a hidden group
    # cannot be recovered from the total; a hidden group hides its present count too. Shown counts
    # are perturbed (cell keys, see disclosure.py); a present count under k is hidden on its own.
    published_confirmed = disclosure.publish_table(confirmed, k)
    rows = []
    for key in sorted(confirmed, key=lambda key: labels.get(key, key)):
        shown = published_confirmed[key]
        attended = None if shown is None else disclosure.perturb(present.get(key, disclosure.ZERO), k)
        rows.append(AttendanceRow(labels.get(key, key), shown, attended))
    return rows


def dashboard_figures(session: Session, k: int = disclosure.DEFAULT_K, now: datetime | None = None) -> DashboardFigures:
    """Fill rate, waiting list and cancellations per meeting; attendance of past meetings by region and role."""
    now = now or utcnow()
    meetings = list_all(session)
    rows = session.execute(
        select(
            Registration.meeting_id,
            Registration.status,
            Registration.attendee_role,
            Registration.checked_in_at.is_not(None),
            func.count(),
            func.sum(Registration.record_key),
        ).group_by(
            Registration.meeting_id,
            Registration.status,
            Registration.attendee_role,
            Registration.checked_in_at.is_not(None),
        )
    ).all()
    by_id = {meeting.id: meeting for meeting in meetings}
    cancellations: Counter = Counter()
    present: Counter = Counter()
    region_confirmed: dict[str, disclosure.Tally] = defaultdict(lambda: disclosure.ZERO)
    region_present: dict[str, disclosure.Tally] = defaultdict(lambda: disclosure.ZERO)
    role_confirmed: dict[str, disclosure.Tally] = defaultdict(lambda: disclosure.ZERO)
    role_present: dict[str, disclosure.Tally] = defaultdict(lambda: disclosure.ZERO)
    for meeting_id, status, role, checked_in, count, key_sum in rows:
        tally = disclosure.Tally(count, int(key_sum or 0))
        if status == "cancelled":
            cancellations[meeting_id] += count
            continue
        if status != "confirmed":
            continue
        meeting = by_id[meeting_id]
        if checked_in:
            present[meeting_id] += count
        if meeting.starts_at > now:  # attendance only means something once the meeting has begun
            continue
        region = meeting.region or "national"
        region_confirmed[region] += tally
        role_confirmed[role] += tally
        if checked_in:
            region_present[region] += tally
            role_present[role] += tally
    region_labels = {**territory.REGIONS, "national": "National"}
    return DashboardFigures(
        [MeetingFigures(meeting, cancellations[meeting.id], present[meeting.id]) for meeting in meetings],
        _attendance(region_confirmed, region_present, region_labels, k),
        _attendance(role_confirmed, role_present, ROLE_LABELS, k),
    )
