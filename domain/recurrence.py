"""Meeting recurrence: parse what staff type (每半月, 每周三, 每月15日, 每2周 ...) and list occurrences.

Rules are plain dicts so they can live in a JSON column:
  {"type": "once"} | {"type": "days", "n": 3} | {"type": "weeks", "n": 2}
  {"type": "weekly", "weekday": 2} | {"type": "monthly", "day": 15} | {"type": "semimonthly"}
Semi-monthly meetings fall on the 1st and the 16th, moved to the next working day.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.workdays import WorkCalendar

WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
CN_NUM = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
}


class RecurrenceError(ValueError):
    """What staff typed is not a rule we understand; the message lists the accepted forms."""


HELP = "可写：一次、每N天、每N周、每周三、每月15日、每半月"


def _num(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text in CN_NUM:
        return CN_NUM[text]
    raise RecurrenceError(f"看不懂“{text}”。{HELP}")


def parse_rule(text: str) -> dict[str, Any]:
    t = re.sub(r"\s+", "", text)
    if t in ("", "一次", "单次", "不重复"):
        return {"type": "once"}
    if t in ("每半月", "半月", "每半个月"):
        return {"type": "semimonthly"}
    if m := re.fullmatch(r"每(?:个)?(?:星期|周|礼拜)([一二三四五六日天])", t):
        return {"type": "weekly", "weekday": WEEKDAYS[m.group(1)]}
    if m := re.fullmatch(r"每(?:个)?月(\d{1,2})(?:日|号)", t):
        day = int(m.group(1))
        if not 1 <= day <= 31:
            raise RecurrenceError(f"每月的日期应在 1 到 31 之间。{HELP}")
        return {"type": "monthly", "day": day}
    if m := re.fullmatch(r"每(\d+|[一二两三四五六七八九十])?天", t):
        return {"type": "days", "n": _num(m.group(1)) if m.group(1) else 1}
    if m := re.fullmatch(r"每(\d+|[一二两三四五六七八九十])?(?:个)?(?:周|星期|礼拜)", t):
        return {"type": "weeks", "n": _num(m.group(1)) if m.group(1) else 1}
    raise RecurrenceError(f"看不懂“{text}”。{HELP}")


def describe(rule: dict[str, Any] | None) -> str:
    if not rule or rule.get("type") == "once":
        return "一次"
    kind = rule["type"]
    if kind == "semimonthly":
        return "每半月（1日、16日，遇节假日顺延）"
    if kind == "weekly":
        return "每周" + "一二三四五六日"[int(rule["weekday"])]
    if kind == "monthly":
        return f"每月{rule['day']}日"
    if kind == "days":
        return f"每{rule['n']}天"
    return f"每{rule['n']}周"


def _month_day(year: int, month: int, day: int) -> date:
    while True:
        try:
            return date(year, month, day)
        except ValueError:
            day -= 1  # the 31st in a short month falls on its last day


def occurrences(
    start: datetime,
    rule: dict[str, Any] | None,
    tz: ZoneInfo,
    calendar: WorkCalendar,
    after: datetime,
    limit: int = 3,
) -> Iterator[datetime]:
    """Occurrences at or after `after` (aware datetimes), at most `limit` of them."""
    rule = rule or {"type": "once"}
    kind = rule.get("type", "once")
    if kind == "once":
        if start >= after:
            yield start
        return
    if kind in ("days", "weeks", "weekly"):
        yield from _every(start, rule, tz, after, limit)
        return
    yield from _by_month(start, rule, tz, calendar, after, limit)


def _every(
    start: datetime, rule: dict[str, Any], tz: ZoneInfo, after: datetime, limit: int
) -> Iterator[datetime]:
    """Every n days or weeks, or weekly on a weekday: jump close to `after`, then step."""
    kind = rule["type"]
    local = start.astimezone(tz)
    at_time: time = local.timetz().replace(tzinfo=None)
    step = (
        timedelta(days=int(rule["n"]) * (7 if kind == "weeks" else 1))
        if kind != "weekly"
        else timedelta(days=7)
    )
    day = local.date()
    if kind == "weekly":
        day += timedelta(days=(int(rule["weekday"]) - day.weekday()) % 7)
    after_day = after.astimezone(tz).date()
    if day < after_day:
        skip = (after_day - day).days // step.days
        day += step * skip
    found = 0
    while found < limit:
        when = datetime.combine(day, at_time, tzinfo=tz)
        if when >= after and when >= start:
            found += 1
            yield when
        day += step


def _by_month(
    start: datetime,
    rule: dict[str, Any],
    tz: ZoneInfo,
    calendar: WorkCalendar,
    after: datetime,
    limit: int,
) -> Iterator[datetime]:
    """Monthly and semi-monthly walk month by month from the start's month."""
    local = start.astimezone(tz)
    at_time: time = local.timetz().replace(tzinfo=None)
    year, month = local.year, local.month
    after_local = after.astimezone(tz)
    if (year, month) < (after_local.year, after_local.month - 1):
        year, month = after_local.year, max(after_local.month - 1, 1)
    found = 0
    for _ in range(240):
        if rule["type"] == "monthly":
            days = [_month_day(year, month, int(rule["day"]))]
        else:
            days = [
                calendar.next_workday(date(year, month, 1)),
                calendar.next_workday(date(year, month, 16)),
            ]
        for d in days:
            when = datetime.combine(d, at_time, tzinfo=tz)
            if when >= after and when >= start:
                found += 1
                yield when
                if found >= limit:
                    return
        month += 1
        if month == 13:
            year, month = year + 1, 1
