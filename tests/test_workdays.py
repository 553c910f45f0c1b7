"""Working-day rules around National Day 2026, make-up Saturdays and the year boundary."""

from __future__ import annotations

import json
from datetime import date
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
