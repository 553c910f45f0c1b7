"""Working-day rules around National Day 2026, make-up Saturdays and the year boundary."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from domain.workdays import HolidayFileError, WorkCalendar, load_holiday_file

CAL = WorkCalendar()


def test_national_day_2026_is_off_and_makeup_saturday_is_on() -> None:
    assert not CAL.is_workday(date(2026, 10, 1))
    assert not CAL.is_workday(date(2026, 10, 7))
    assert CAL.is_workday(date(2026, 10, 10))  # Saturday, 调休 working day
    assert not CAL.is_workday(date(2026, 9, 27))  # an ordinary Sunday


def test_three_working_days_across_national_day() -> None:
    # Assigned Wed 30 Sept: 1–7 Oct off; Thu 8, Fri 9 and the make-up Saturday 10 Oct count.
    d = CAL.add_workdays(date(2026, 9, 30), 3)
    assert d.due == date(2026, 10, 10) and d.certain
    # From Thu 8 Oct: Fri 9, Sat 10 (调休), then Sunday 11 is off, so Mon 12.
    assert CAL.add_workdays(date(2026, 10, 8), 3).due == date(2026, 10, 12)


def test_year_boundary_without_data_is_flagged_not_guessed() -> None:
    d = CAL.add_workdays(date(2026, 12, 30), 3)
    assert d.due == date(2027, 1, 4)  # Thu 31 Dec, then Mon 4 and ... counted Mon–Fri
    assert not d.certain and d.uncertain_years == frozenset({2027})


def test_station_file_covers_a_later_year(tmp_path: Path) -> None:
    path = tmp_path / "holidays.json"
    path.write_text(
        json.dumps({"2027": {"holidays": ["2027-01-01"], "workdays": ["2027-01-02"]}}),
        encoding="utf-8",
    )
    cal = WorkCalendar.from_file(path)
    assert not cal.is_workday(date(2027, 1, 1))
    assert cal.is_workday(date(2027, 1, 2))  # a Saturday made a working day
    d = cal.add_workdays(date(2026, 12, 31), 1)
    assert d.due == date(2027, 1, 2) and d.certain


def test_workdays_between_counts_both_ways() -> None:
    assert CAL.workdays_between(date(2026, 9, 30), date(2026, 10, 9)) == 2
    assert CAL.workdays_between(date(2026, 10, 9), date(2026, 9, 30)) == -2
    assert CAL.next_workday(date(2026, 10, 1)) == date(2026, 10, 8)


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe not utf8", b"[1, 2]", b'{"2027": {"holidays": ["2028-01-01"]}}', b'{"x": {}}'],
)
def test_bad_holiday_files_say_what_is_wrong(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "h.json"
    path.write_bytes(content)
    with pytest.raises(HolidayFileError) as err:
        load_holiday_file(path)
    assert "节假日文件" in str(err.value)


def _naive_between(cal: WorkCalendar, start: date, end: date) -> int:
    """The definition, a day at a time."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += cal.is_workday(day)
    return count


def test_cached_calendar_agrees_with_chinese_calendar_day_by_day() -> None:
    import chinese_calendar

    cal = WorkCalendar()
    day = date(2024, 1, 1)
    while day <= date(2026, 12, 31):
        assert cal.is_workday(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)
    assert not cal.covered(2099) and cal.is_workday(date(2099, 6, 1))  # a Monday, Mon–Fri rule


def test_workdays_between_across_years_matches_the_definition(tmp_path: Path) -> None:
    path = tmp_path / "holidays.json"
    path.write_text(
        json.dumps({"2027": {"holidays": ["2027-01-01"], "workdays": ["2027-01-02"]}}),
        encoding="utf-8",
    )
    cal = WorkCalendar.from_file(path)
    starts = [date(2024, 12, 30), date(2025, 6, 15), date(2026, 9, 30), date(2026, 12, 31)]
    ends = [date(2025, 1, 2), date(2026, 10, 9), date(2027, 1, 4), date(2028, 3, 1)]
    for a in starts:
        for b in ends:
            start, end = min(a, b), max(a, b)
            assert cal.workdays_between(start, end) == _naive_between(cal, start, end)
            assert cal.workdays_between(end, start) == -_naive_between(cal, start, end)
    for n in (0, 1, 3, 30, 400):
        due = cal.add_workdays(date(2025, 12, 20), n).due
        assert cal.workdays_between(date(2025, 12, 20), due) == n
