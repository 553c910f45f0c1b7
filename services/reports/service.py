"""/stats and /briefing for staff: the caller's station, checked once."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

import texts.reports as tr
from domain.channels import Address, Sender
from domain.message import FileRef, Message
from domain.periods import Period, parse_period
from domain.states import MessageKind
from domain.workdays import WorkCalendar
from services.kernel import outbox
from services.kernel.access import Need, actor
from services.kernel.context import ServiceContext
from services.kernel.people import station_by_staff_chat
from services.reports.briefing import briefing_inputs, finish_briefing
from services.reports.hotissues import hot_issues_text
from services.reports.stats import Report, Stats, collect_stats, local_today, render_chart
from services.reports.stats import stats_text as render_stats_text
from storage.models import Station

log = logging.getLogger(__name__)


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
    # Seconds the text waits for its chart (drawn in a worker thread, usually a few hundred ms);
    # None: the context's limits.chart_wait (CHART_WAIT_SECONDS; None there: always wait).
    chart_wait: float | None = None
    _later: set[asyncio.Task[None]] = field(default_factory=set, repr=False)

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
        to = chat or sender.private_chat
        text = render_stats_text(stats)
        # Hot issues after the transaction: clustering must not hold SQLite's write lock.
        hot = await hot_issues_text(self.ctx, station.id, period)
        if hot is not None:
            text = text + "\n\n" + hot
        return await self._with_chart(Message(text), stats, to)

    async def _with_chart(self, reply: Message, stats: Stats, to: Address) -> Report:
        """The text and the chart if it is drawn within `chart_wait`; else the text now and the
        chart through the outbox as soon as it is drawn."""
        drawing = asyncio.ensure_future(render_chart(stats))
        wait = self.chart_wait if self.chart_wait is not None else self.ctx.limits.chart_wait
        done, _ = await asyncio.wait({drawing}, timeout=wait)
        if drawing in done:
            return Report(reply, drawing.result())
        later = asyncio.ensure_future(self._send_chart_later(drawing, stats, to))
        self._later.add(later)
        later.add_done_callback(self._later.discard)
        return Report(reply)

    async def charts_followed(self) -> None:
        """Wait until the charts still being drawn have gone to the outbox (benchmarks)."""
        while self._later:
            await asyncio.gather(*self._later)

    async def _send_chart_later(
        self, drawing: asyncio.Future[bytes | None], stats: Stats, to: Address
    ) -> None:
        png = await drawing
        if png is None:
            return
        now = self.ctx.clock.now()
        async with self.ctx.sessions.begin() as s:
            await outbox.enqueue(
                s,
                key=f"chart:{stats.station_id}:{to.key}:{now.timestamp():.6f}",
                to=to,
                message=Message(file=FileRef("image", "chart.png"), data=png),
                kind=MessageKind.STAFF,
                due_at=now,
                station_id=stats.station_id,
            )
        log.info("the chart for %s followed its text", to.key)

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
            stats, source, before = await briefing_inputs(
                s, self.ctx, station, period, self.calendar
            )
        done = await finish_briefing(self.ctx, stats, source, before, draw=False)
        return await self._with_chart(Message(done.text), stats, chat or sender.private_chat)
