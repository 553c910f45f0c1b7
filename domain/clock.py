"""One injectable clock: every 'now' in the code comes from here, so tests can move time."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class OffsetClock:
    """Wall time shifted by a fixed offset: lets an end-to-end test run the real process 'in' 2026."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


class ManualClock:
    """A clock tests set and advance by hand."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(UTC)


def clock_from_env() -> Clock:
    """`LIAISON_CLOCK_START` (ISO time) starts a shifted clock there; only tests and demos set it."""
    start = os.environ.get("LIAISON_CLOCK_START")
    if not start:
        return SystemClock()
    when = datetime.fromisoformat(start)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return OffsetClock(when - datetime.now(UTC))
