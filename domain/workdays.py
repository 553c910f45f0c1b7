"""Chinese working days: public holidays and make-up working days (调休).

`chinese-calendar` knows the State Council's schedule up to the last year it shipped. Later years
come from a station-editable JSON file; a year neither covers is counted Monday to Friday and the
result says so, so callers can warn staff that the deadline may move. Never guess silently.

Holiday file format::

    {"2027": {"holidays": ["2027-01-01", "2027-02-16"], "workdays": ["2027-02-07"]}}
"""

from __future__ import annotations

import bisect
import functools
import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar


class HolidayFileError(ValueError):
    """The station's holiday file cannot be used; the message says how to fix it."""


@dataclass(frozen=True)
class YearOverride:
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()


def load_holiday_file(path: Path) -> dict[int, YearOverride]:
    """Parse the station's holiday file (missing file: no overrides)."""
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HolidayFileError(f"节假日文件 {path} 不是有效的 UTF-8 JSON：{exc}") from None
    if not isinstance(raw, dict):
        raise HolidayFileError(f"节假日文件 {path} 应为以年份为键的对象")
    out: dict[int, YearOverride] = {}
    for key, spec in raw.items():
        try:
            year = int(key)
            hol = frozenset(date.fromisoformat(d) for d in spec.get("holidays", []))
            work = frozenset(date.fromisoformat(d) for d in spec.get("workdays", []))
        except (ValueError, TypeError, AttributeError) as exc:
            raise HolidayFileError(f"节假日文件 {path} 中 {key!r} 格式错误：{exc}") from None
        if any(d.year != year for d in hol | work):
            raise HolidayFileError(f"节假日文件 {path} 中 {year} 年下有其他年份的日期")
        out[year] = YearOverride(hol, work)
    return out


@dataclass(frozen=True)
class Deadline:
    due: date
    # Years the count passed through that no data source covers (counted Mon–Fri).
    uncertain_years: frozenset[int] = frozenset()

    @property
    def certain(self) -> bool:
        return not self.uncertain_years


@functools.cache
def _official_year(year: int) -> tuple[bool, ...] | None:
    """chinese-calendar's working days of `year`, one flag a day; None when it does not cover it.

    `chinese_calendar.is_workday` scans its tables on every call (26 s for the million calls a
    tick made at 1M opinions); each year is asked once per process here.
    """
    day, flags = date(year, 1, 1), []
    try:
        while day.year == year:
            flags.append(bool(chinese_calendar.is_workday(day)))
            day += timedelta(days=1)
    except NotImplementedError:
        return None
    return tuple(flags)


@dataclass(frozen=True)
class _Year:
    first: int  # ordinal of 1 January
    flags: tuple[bool, ...]  # working day or not, per day of the year
    through: tuple[int, ...]  # working days from 1 January through that day
    covered: bool

    def index(self, day: date) -> int:
        return day.toordinal() - self.first


def _build_year(year: int, override: YearOverride | None) -> _Year:
    first = date(year, 1, 1)
    days = [
        first + timedelta(days=i)
        for i in range(date(year, 12, 31).toordinal() - first.toordinal() + 1)
    ]
    official = None if override is not None else _official_year(year)
    if official is not None:
        flags = official
    elif override is not None:
        flags = tuple(
            d in override.workdays or (d not in override.holidays and d.weekday() < 5) for d in days
        )
    else:
        flags = tuple(d.weekday() < 5 for d in days)
    through, count = [], 0
    for flag in flags:
        count += flag
        through.append(count)
    return _Year(
        first.toordinal(), flags, tuple(through), override is not None or official is not None
    )


@dataclass
class WorkCalendar:
    """Working days, computed once per year and then looked up: every question is O(1) per day
    (workdays_between is O(years) whatever the distance). `overrides` is fixed once built."""

    overrides: dict[int, YearOverride] = field(default_factory=dict)
    _years: dict[int, _Year] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_file(cls, path: Path | None) -> WorkCalendar:
        return cls(load_holiday_file(path) if path else {})

    def _year(self, year: int) -> _Year:
        found = self._years.get(year)
        if found is None:
            found = self._years[year] = _build_year(year, self.overrides.get(year))
        return found

    def covered(self, year: int) -> bool:
        return self._year(year).covered

    def is_workday(self, day: date) -> bool:
        y = self._year(day.year)
        return y.flags[day.toordinal() - y.first]

    def _through(self, day: date) -> tuple[_Year, int]:
        y = self._year(day.year)
        return y, y.through[day.toordinal() - y.first]

    def add_workdays(self, start: date, n: int) -> Deadline:
        """The n-th working day after `start` (start itself not counted)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        if n == 0:
            return Deadline(start)
        y, before = self._through(start)
        target = before + n  # working days counted from 1 January of start's year
        year = start.year
        while target > y.through[-1]:
            target -= y.through[-1]
            year += 1
            y = self._year(year)
        due = date.fromordinal(y.first + bisect.bisect_left(y.through, target))
        first = (start + timedelta(days=1)).year
        uncertain = frozenset(yr for yr in range(first, due.year + 1) if not self.covered(yr))
        return Deadline(due, uncertain)

    def sub_workdays(self, end: date, n: int) -> date:
        """The day n working days before `end` (so that workdays_between(result, end) == n)."""
        day = end
        counted = 0
        while counted < n:
            if self.is_workday(day):
                counted += 1
            day -= timedelta(days=1)
        return day if n == 0 else self._forward_to_workday(day)

    def _forward_to_workday(self, day: date) -> date:
        while not self.is_workday(day):
            day += timedelta(days=1)
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative when end is before start."""
        if end < start:
            return -self.workdays_between(end, start)
        first, before = self._through(start)
        _, upto = self._through(end)
        if start.year == end.year:
            return upto - before
        between = sum(self._year(y).through[-1] for y in range(start.year + 1, end.year))
        return first.through[-1] - before + between + upto

    def next_workday(self, day: date, *, include: bool = True) -> date:
        """`day` itself when it is a working day (include=True), else the next working day."""
        if include and self.is_workday(day):
            return day
        return self.add_workdays(day, 1).due
