"""Time in one place: every column stores naive UTC; people read and type French local time (Europe/Paris).

Light on purpose (the standard library only), so that the command line, the services and the pages share it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def utcnow() -> datetime:
    """Current time as naive UTC, the form every column stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def paris_time(moment: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """A stored UTC time as French local time text ('' for None)."""
    if moment is None:
        return ""
    return moment.replace(tzinfo=UTC).astimezone(PARIS).strftime(fmt)


def utc_from_paris(moment: datetime) -> datetime:
    """A naive French local time (as typed in a form) as the naive UTC every column stores."""
    return moment.replace(tzinfo=PARIS).astimezone(UTC).replace(tzinfo=None)


def from_paris_parts(day: date, hour: time) -> datetime:
    """A day and a time typed separately in French local time, as the naive UTC every column stores."""
    return utc_from_paris(datetime.combine(day, hour))


def paris_from_utc(moment: datetime) -> datetime:
    """A stored naive UTC time as naive French local time (to prefill a form)."""
    return moment.replace(tzinfo=UTC).astimezone(PARIS).replace(tzinfo=None)


def paris_today(now: datetime | None = None) -> date:
    """Today's date in France (deadlines are French calendar days); `now` is naive UTC."""
    return paris_from_utc(now or utcnow()).date()
