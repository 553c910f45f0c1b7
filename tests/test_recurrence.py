"""Meeting recurrence rules: parsing what staff type and listing occurrences."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from domain.recurrence import RecurrenceError, describe, occurrences, parse_rule
from domain.workdays import WorkCalendar

TZ = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("一次", {"type": "once"}),
        ("每半月", {"type": "semimonthly"}),
        ("每周三", {"type": "weekly", "weekday": 2}),
        ("每星期日", {"type": "weekly", "weekday": 6}),
        ("每月15日", {"type": "monthly", "day": 15}),
        ("每月1号", {"type": "monthly", "day": 1}),
        ("每3天", {"type": "days", "n": 3}),
        ("每天", {"type": "days", "n": 1}),
        ("每两周", {"type": "weeks", "n": 2}),
        ("每2周", {"type": "weeks", "n": 2}),
    ],
)
def test_parse(text: str, rule: dict[str, object]) -> None:
    assert parse_rule(text) == rule
    assert describe(rule)


@pytest.mark.parametrize("bad", ["每月32日", "随便", "每周八", "<b>每周</b>"])
def test_parse_errors_list_accepted_forms(bad: str) -> None:
    with pytest.raises(RecurrenceError) as err:
        parse_rule(bad)
    assert "每半月" in str(err.value)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


def test_semimonthly_moves_to_next_working_day_around_national_day() -> None:
    got = list(
        occurrences(at(2026, 9, 1, 15), {"type": "semimonthly"}, TZ, CAL, at(2026, 9, 20), limit=4)
    )
    # 1 Oct is National Day: moved to Thu 8 Oct; 16 Oct is a Friday; 1 Nov is a Sunday → Mon 2 Nov.
    assert got == [
        at(2026, 10, 8, 15),
        at(2026, 10, 16, 15),
        at(2026, 11, 2, 15),
        at(2026, 11, 16, 15),
    ]


def test_weekly_and_every_n_days() -> None:
    weekly = list(
        occurrences(
            at(2026, 11, 2, 9), {"type": "weekly", "weekday": 2}, TZ, CAL, at(2026, 11, 5), 2
        )
    )
    assert weekly == [at(2026, 11, 11, 9), at(2026, 11, 18, 9)]
    every3 = list(
        occurrences(at(2026, 11, 1, 9), {"type": "days", "n": 3}, TZ, CAL, at(2026, 11, 5), 2)
    )
    assert every3 == [at(2026, 11, 7, 9), at(2026, 11, 10, 9)]


def test_monthly_day_31_in_short_months_and_once() -> None:
    got = list(
        occurrences(at(2026, 1, 31, 9), {"type": "monthly", "day": 31}, TZ, CAL, at(2026, 2, 1), 2)
    )
    assert got == [at(2026, 2, 28, 9), at(2026, 3, 31, 9)]
    assert list(occurrences(at(2026, 1, 1, 9), None, TZ, CAL, at(2026, 2, 1))) == []
    assert list(occurrences(at(2026, 3, 1, 9), None, TZ, CAL, at(2026, 2, 1))) == [
        at(2026, 3, 1, 9)
    ]
