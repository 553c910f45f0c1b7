"""/stats and /briefing for staff: the caller's station, checked once."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

import texts.reports as tr
from domain.channels import Address, Sender
from domain.message import Message
from domain.periods import Period, parse_period
from domain.workdays import WorkCalendar
from services.kernel.access import Need, actor
from services.kernel.context import ServiceContext
from services.kernel.people import station_by_staff_chat
from services.reports.briefing import finish_briefing
from services.reports.hotissues import hot_issues_text
from services.reports.stats import (
    Report,
    collect_stats,
    local_today,
    period_texts,
    render_chart,
    stats_text,
    theme_counts,
)
from storage.models import Station


async def staff_station(
    s: AsyncSession, ctx: ServiceContext, sender: Sender, chat: Address | None
) -> Station | None:
    """The station the caller is staff of (the staff group's station, else their own)."""
    who = await actor(s, ctx, sender)
    station = await station_by_staff_chat(s, chat) if chat is not None else None
    if station is None:
        station = await who.station()
    if not await who.allows(Need.STAFF, station_id=station.id):
        return None
    return station


@dataclass
class ReportsService:
    ctx: ServiceContext
    calendar: WorkCalendar = field(default_factory=WorkCalendar)

    async def stats(self, sender: Sender, raw: str, chat: Address | None = None) -> Report:
        """`/stats [本周|本月|全部|YYYY-MM-DD YYYY-MM-DD]` for staff; default 本月."""
        today = local_today(self.ctx)
        async with self.ctx.sessions.begin() as s:
            station = await staff_station(s, self.ctx, sender, chat)
            if station is None:
                return Report(Message(tr.only_staff()))
            period = parse_period(raw, today)
            if period is None:
                return Report(Message(tr.stats_usage()))
            stats = await collect_stats(s, self.ctx, station, period, self.calendar)
        text = stats_text(stats)
        hot = await hot_issues_text(self.ctx, station.id, period)
        if hot is not None:
            text = text + "\n\n" + hot
        return Report(Message(text), await render_chart(stats))

    async def briefing(self, sender: Sender, raw: str = "", chat: Address | None = None) -> Report:
        """`/briefing [period]` on demand; default: the current half month so far."""
        today = local_today(self.ctx)
        async with self.ctx.sessions.begin() as s:
            station = await staff_station(s, self.ctx, sender, chat)
            if station is None:
                return Report(Message(tr.only_staff()))
            period = parse_period(raw, today, Period.half_month(today))
            if period is None:
                return Report(Message(tr.stats_usage()))
            stats = await collect_stats(s, self.ctx, station, period, self.calendar)
            texts = await period_texts(s, station.id, period, self.ctx.tz)
            previous = period.previous()
            before = await theme_counts(s, station.id, previous, self.ctx.tz) if previous else {}
        done = await finish_briefing(self.ctx, stats, texts, before)
        return Report(Message(done.text), done.chart)
