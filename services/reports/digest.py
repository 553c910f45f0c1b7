"""The staff group's daily digest (folded noise, services.kernel.casecard): once a day at the
reminder time, what happened to the station's cases in the last day, one line per event."""

from __future__ import annotations

import weakref
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

import texts.casework as kt
from domain.message import Message
from domain.states import MessageKind
from services.kernel import outbox
from services.kernel.casecard import TIMELINE
from services.kernel.context import ServiceContext
from services.kernel.people import staff_chat
from services.kernel.policy import NOISE_FOLD
from services.kernel.settings import policy_for
from storage.models import Opinion, OpinionEvent, Outbox, Station, User

MAX_LINES = 40
# The (station, day) digests found empty, per database (its session factory): their window has
# passed, so they stay empty. Without it every tick after the reminder time searched the day's
# events again for every folded station (80 ms at 1M opinions on SQLite before migration 0010's
# ix_opinion_events_at; with it a range of the day's events, still a read per station and tick).
_EMPTY: weakref.WeakKeyDictionary[object, set[tuple[int, date]]] = weakref.WeakKeyDictionary()


async def plan_digests(ctx: ServiceContext, now: datetime, send_time: time) -> int:
    """Queue today's digest for each folded station once its moment has come (once a day)."""
    local = now.astimezone(ctx.tz)
    if local.time() < send_time:
        return 0
    slot = datetime.combine(local.date(), send_time, tzinfo=ctx.tz)
    added = 0
    empty = _EMPTY.setdefault(ctx.sessions, set())
    async with ctx.sessions.begin() as s:
        stations = (
            (await s.execute(select(Station).where(Station.staff_chat_id.is_not(None))))
            .scalars()
            .all()
        )
        for station in stations:
            chat = staff_chat(station)
            policy = await policy_for(s, ctx, station.id)
            if chat is None or policy.noise != NOISE_FOLD or (station.id, local.date()) in empty:
                continue
            key = f"digest:{station.id}:{local.date().isoformat()}"
            if (await s.execute(select(Outbox.id).where(Outbox.key == key))).first() is not None:
                continue
            rows = (
                await s.execute(
                    select(OpinionEvent, Opinion.ref_no, User)
                    .join(Opinion, Opinion.id == OpinionEvent.opinion_id)
                    .join(User, User.id == OpinionEvent.actor_id, isouter=True)
                    .where(
                        # `+ 0`: the station is a filter here, not the way in; SQLite would
                        # walk all its opinions instead of the day's events (ix_opinion_events_at).
                        Opinion.station_id + 0 == station.id,
                        OpinionEvent.action.in_(TIMELINE),
                        OpinionEvent.at >= slot - timedelta(days=1),
                        OpinionEvent.at < slot,
                    )
                    .order_by(OpinionEvent.id)
                )
            ).all()
            if not rows:
                empty.add((station.id, local.date()))
                continue
            lines = [
                kt.digest_line(ref, e.at.astimezone(ctx.tz), e.action, u.display_name if u else "")
                for e, ref, u in rows[:MAX_LINES]
            ]
            text = kt.digest(local.date(), lines)
            if await outbox.enqueue(
                s,
                key=key,
                to=chat,
                message=Message(text),
                kind=MessageKind.STAFF,
                due_at=slot,
                station_id=station.id,
            ):
                added += 1
    return added
