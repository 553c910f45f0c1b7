"""The 工作简报 on the clock: each station's scheduled briefing, posted once per slot."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from domain.message import FileRef, Message
from domain.states import MessageKind
from domain.workdays import WorkCalendar
from services.kernel import outbox
from services.kernel.context import ServiceContext
from services.kernel.people import staff_chat
from storage.models import Outbox, Station


async def plan_briefings(ctx: ServiceContext, calendar: WorkCalendar, now: datetime) -> int:
    """Post each station's scheduled briefing (text, then its chart) once per slot.

    Only a slot from the last day is posted: a bot started months after install does not
    post an old briefing nobody asked for.
    """
    from services.reports.briefing import build_briefing
    from services.reports.schedule import latest_briefing_slot

    async with ctx.sessions() as s:
        stations = (
            (await s.execute(select(Station).where(Station.staff_chat_id.is_not(None))))
            .scalars()
            .all()
        )
    added = 0
    for station in stations:
        slot = await latest_briefing_slot(ctx, station.id, now, calendar)
        if slot is None or now - slot.at > timedelta(days=1):
            continue
        async with ctx.sessions() as s:
            done = (
                await s.execute(select(Outbox.id).where(Outbox.key == slot.key))
            ).scalar_one_or_none()
        if done is not None:
            continue
        briefing = await build_briefing(ctx, station.id, slot.period, calendar)
        chat = staff_chat(station)
        assert chat is not None
        async with ctx.sessions.begin() as s:
            if await outbox.enqueue(
                s,
                key=slot.key,
                to=chat,
                message=Message(briefing.text),
                kind=MessageKind.BRIEFING,
                due_at=slot.at,
                station_id=station.id,
            ):
                added += 1
                if briefing.chart is not None:
                    chart = Message(file=FileRef("image", "chart.png"), data=briefing.chart)
                    await outbox.enqueue(
                        s,
                        key=slot.key + ":chart",
                        to=chat,
                        message=chart,
                        kind=MessageKind.BRIEFING,
                        due_at=slot.at + timedelta(seconds=1),
                        station_id=station.id,
                    )
    return added
