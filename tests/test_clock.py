"""The Paris-time helpers: stored naive UTC, French local time shown and typed, across the summer-time changes."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from pvd_survey import clock

pytestmark = pytest.mark.database_independent


def test_paris_time_in_winter_and_in_summer():
    assert clock.paris_time(datetime(2026, 1, 15, 12, 0)) == "15/01/2026 13:00"
    assert clock.paris_time(datetime(2026, 7, 15, 12, 0), "%H:%M") == "14:00"
    assert clock.paris_time(None) == ""


def test_typed_local_time_round_trips_to_utc():
    typed = datetime(2026, 3, 29, 9, 30)  # the first morning of summer time
    stored = clock.utc_from_paris(typed)
    assert stored == datetime(2026, 3, 29, 7, 30)
    assert clock.paris_from_utc(stored) == typed
    assert clock.from_paris_parts(date(2026, 3, 29), time(9, 30)) == stored
    assert clock.from_paris_parts(date(2026, 3, 28), time(9, 30)) == datetime(2026, 3, 28, 8, 30)


def test_paris_today_turns_at_french_midnight():
    assert clock.paris_today(datetime(2026, 12, 31, 22, 59)) == date(2026, 12, 31)
    assert clock.paris_today(datetime(2026, 12, 31, 23, 0)) == date(2027, 1, 1)
    assert clock.paris_today(datetime(2026, 6, 30, 22, 0)) == date(2026, 7, 1)


def test_utcnow_is_naive():
    assert clock.utcnow().tzinfo is None
