"""When the 工作简报 is due: after each repeating 推进会, else every half month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from domain.periods import Period
from domain.recurrence import occurrences
from domain.states import MeetingKind
from domain.workdays import WorkCalendar
from services.kernel.context import ServiceContext
from storage.models import Meeting

DEFAULT_RULE = {"type": "semimonthly"}
DEFAULT_BRIEFING_TIME = time(9, 0)


@dataclass(frozen=True)
class BriefingSlot:
    """One scheduled briefing: when it is due, what it covers, and a key to send it once."""

    at: datetime
    period: Period
    key: str


async def latest_briefing_slot(
    ctx: ServiceContext,
    station_id: int,
    now: datetime,
    calendar: WorkCalendar | None = None,
) -> BriefingSlot | None:
    """The most recent briefing moment at or before `now`, for the scheduler.

    Briefings follow the station's repeating progress meeting (推进会, the first active one), else
    every half month (the 1st and 16th, moved to the next working day, 09:00). A half-monthly
    briefing covers the last complete half month; any other rhythm covers the time since the
    previous meeting. Insert it into the outbox under `key` and it goes out once.
    """
    calendar = calendar or WorkCalendar()
    async with ctx.sessions() as s:
        meeting = (
            await s.execute(
                select(Meeting)
                .where(
                    Meeting.station_id == station_id,
                    Meeting.kind == MeetingKind.PROGRESS,
                    Meeting.active,
                )
                .order_by(Meeting.id)
            )
        ).scalars()
        repeating = next(
            (m for m in meeting if m.recurrence and m.recurrence.get("type") != "once"), None
        )
    if repeating is not None:
        start, rule = repeating.starts_at, repeating.recurrence
    else:
        start = datetime.combine(date(2000, 1, 1), DEFAULT_BRIEFING_TIME, tzinfo=ctx.tz)
        rule = DEFAULT_RULE
    past: list[datetime] = []
    for when in occurrences(start, rule, ctx.tz, calendar, now - timedelta(days=100), 10_000):
        if when > now:
            break
        past.append(when)
    if not past:
        return None
    at = past[-1]
    day = at.astimezone(ctx.tz).date()
    if rule and rule.get("type") == "semimonthly":
        current = Period.half_month(day)
        period = current.previous()
        assert period is not None
    elif len(past) >= 2:
        period = Period.between(past[-2].astimezone(ctx.tz).date(), day)
    else:
        period = Period.between(day - timedelta(days=14), day)
    key = f"briefing:{station_id}:{at.astimezone(UTC):%Y%m%dT%H%M}"
    return BriefingSlot(at, period, key)
