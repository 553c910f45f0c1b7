"""Reporting periods in station-local dates, and what staff type to name one (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

PeriodKind = Literal["week", "month", "half_month", "range", "all"]


@dataclass(frozen=True)
class Period:
    """[start, end) in station-local dates; both None means all time."""

    kind: PeriodKind
    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        if (self.start is None) != (self.end is None):
            raise ValueError("a period has both bounds or neither")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("period end must be after its start")

    @classmethod
    def all_time(cls) -> Period:
        return cls("all")

    @classmethod
    def this_week(cls, today: date) -> Period:
        monday = today - timedelta(days=today.weekday())
        return cls("week", monday, monday + timedelta(days=7))

    @classmethod
    def this_month(cls, today: date) -> Period:
        first = today.replace(day=1)
        return cls("month", first, _next_month(first))

    @classmethod
    def half_month(cls, today: date) -> Period:
        """The half month containing `today`: the 1st–15th or the 16th–end of month."""
        if today.day < 16:
            first = today.replace(day=1)
            return cls("half_month", first, first.replace(day=16))
        return cls("half_month", today.replace(day=16), _next_month(today.replace(day=1)))

    @classmethod
    def between(cls, start: date, end: date) -> Period:
        """[start, end): `end` is exclusive."""
        return cls("range", start, end)

    def previous(self) -> Period | None:
        """The period of the same kind just before this one (None for all time)."""
        if self.start is None or self.end is None:
            return None
        if self.kind == "month":
            return Period.this_month(self.start - timedelta(days=1))
        if self.kind == "half_month":
            return Period.half_month(self.start - timedelta(days=1))
        length = self.end - self.start
        return Period(self.kind, self.start - length, self.start)

    def bounds(self, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """The period as aware UTC instants (local midnights)."""
        if self.start is None or self.end is None:
            return None, None
        return _local_midnight(self.start, tz), _local_midnight(self.end, tz)

    def label(self) -> str:
        from texts.reports import period_label

        return period_label(self.kind, self.start, self.end)


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


_DATE = r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"


def _parse_date(text: str) -> date | None:
    m = re.fullmatch(_DATE, text)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def parse_period(raw: str, today: date, default: Period | None = None) -> Period | None:
    """What staff type after /stats: 本周, 本月, 上周, 上月, 半月, 全部, 2026-09, or two dates.

    Two typed dates are inclusive (people write 9月1日 至 9月30日); the Period's end is the day after.
    Returns None when the text is not a period (the caller shows the usage).
    """
    text = raw.strip()
    if not text:
        return default if default is not None else Period.this_month(today)
    words = {
        "本周": Period.this_week(today),
        "这周": Period.this_week(today),
        "上周": Period.this_week(today - timedelta(days=7)),
        "本月": Period.this_month(today),
        "这个月": Period.this_month(today),
        "上月": Period.this_month(today.replace(day=1) - timedelta(days=1)),
        "上个月": Period.this_month(today.replace(day=1) - timedelta(days=1)),
        "半月": Period.half_month(today),
        "本半月": Period.half_month(today),
        "全部": Period.all_time(),
        "所有": Period.all_time(),
        "累计": Period.all_time(),
    }
    if text in words:
        return words[text]
    if m := re.fullmatch(r"(\d{4})[-/.年](\d{1,2})月?", text):
        year, month = int(m.group(1)), int(m.group(2))
        return Period.this_month(date(year, month, 1)) if 1 <= month <= 12 else None
    parts = [p for p in re.split(r"\s*(?:至|到|~|～|—|\s)\s*", text) if p]
    if len(parts) == 2:
        start, last = _parse_date(parts[0]), _parse_date(parts[1])
        if start is not None and last is not None and start <= last:
            return Period.between(start, last + timedelta(days=1))
    return None
