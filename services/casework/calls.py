"""Phone 回访 (scope "cl"): cases of residents who don't chat (代录, unclaimed) are rated on the
phone; staff record the answer with one tap, and it counts in 满意率 like any rating.

A closure of such a case posts a call item to the staff group; `/calls` lists every case still
waiting for its call. `cl:p:<task>:<n>` is pressed on a call item, `cl:l:<task>:<n>` on the list.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import texts.casework as kt
import texts.resident as rt
import texts.staff as st
from domain.channels import Sender
from domain.lifecycle import Status
from domain.message import Action as Choice
from domain.message import Actions, Message, Rich
from domain.states import EventKind, RatingValue, TaskStatus
from services.casework.answers import RATINGS
from services.casework.revisit import NOTED, settle
from services.kernel import audit
from services.kernel.access import Need, actor
from services.kernel.context import ServiceContext
from services.kernel.notify import tell_staff
from services.kernel.results import ActionResult, refused
from storage.models import Opinion, Rating, Task
from texts.common import NOT_ALLOWED

ON_ITEM, ON_LIST = "p", "l"
LIST_MAX = 10


def rating_row(
    ctx: ServiceContext, task_id: int, where: str, ref: str | None = None
) -> tuple[Choice, ...]:
    sign = ctx.actions.encode
    head = f"{ref[-5:]} " if ref else ""
    return tuple(
        Choice(
            head + rt.RATING_LABELS[v] if n == 1 else rt.RATING_LABELS[v],
            sign("cl", where, task_id, n),
        )
        for n, v in RATINGS.items()
    )


async def post_call_item(
    s: AsyncSession, ctx: ServiceContext, op: Opinion, task: Task, now: datetime
) -> None:
    """At 办结 of a case nobody can be told in a chat: a call item for staff."""
    text = kt.call_item(
        op.ref_no, op.on_behalf_of or st.UNNAMED, op.contact, task.outcome or "", task.result or ""
    )
    actions: Actions = (rating_row(ctx, task.id, ON_ITEM),)
    await tell_staff(s, op.station_id, f"staff:call:{task.id}", Message(text, actions), now, op.id)


async def waiting(s: AsyncSession, station_id: int) -> list[tuple[Opinion, Task]]:
    """Closed cases without a resident in the bot and without a rating, oldest first."""
    rows = await s.execute(
        select(Opinion, Task)
        .join(Task, Task.opinion_id == Opinion.id)
        .where(
            Opinion.station_id == station_id,
            Opinion.resident_id.is_(None),
            Opinion.status == Status.CLOSED,
            Task.status == TaskStatus.CLOSED,
            Task.id.not_in(select(Rating.task_id)),
        )
        .order_by(Task.closed_at, Task.id)
    )
    return [(op, task) for op, task in rows.all()]


async def call_list(ctx: ServiceContext, sender: Sender) -> Message:
    async with ctx.sessions.begin() as s:
        who = await actor(s, ctx, sender)
        station = await who.station()
        if not await who.allows(Need.STAFF, station_id=station.id):
            return Message(st.only_staff())
        return await _render(s, ctx, station.id)


async def _render(s: AsyncSession, ctx: ServiceContext, station_id: int) -> Message:
    rows = await waiting(s, station_id)
    if not rows:
        return Message(kt.no_calls())
    lines: list[Rich] = [kt.calls_header(len(rows))]
    actions = []
    for op, task in rows[:LIST_MAX]:
        lines.append(
            kt.call_item(
                op.ref_no,
                op.on_behalf_of or st.UNNAMED,
                op.contact,
                task.outcome or "",
                task.result or "",
            )
        )
        actions.append(rating_row(ctx, task.id, ON_LIST, op.ref_no))
    return Message(Rich.join("\n\n", lines), tuple(actions))


async def call_press(
    ctx: ServiceContext, sender: Sender, action: str, args: tuple[int, ...]
) -> ActionResult:
    """Staff record the rating the resident gave on the phone."""
    if not shape_ok(action, args):
        return refused(st.card_gone())
    async with ctx.sessions.begin() as s:
        who = await actor(s, ctx, sender)
        task = await s.get(Task, args[0])
        op = await s.get(Opinion, task.opinion_id) if task else None
        if task is None or op is None:
            return refused(st.card_gone())
        if not await who.allows(Need.STAFF, station_id=op.station_id):
            return refused(NOT_ALLOWED)
        value = RATINGS[args[1]]
        label = rt.RATING_LABELS[value]
        given = (
            await s.execute(select(Rating.value).where(Rating.task_id == task.id).limit(1))
        ).scalar_one_or_none()
        if given is not None or op.resident_id is not None:
            return refused(kt.call_done(op.ref_no))
        now = ctx.clock.now()
        # The case moves first (a compare-and-set on its status): of two staff tapping at once,
        # one records the rating, the other is told it was done.
        settled = await settle(
            s, ctx, op, task, RatingValue(value), who.id, now, main=True, note=False
        )
        if settled.what == NOTED:
            return refused(kt.call_done(op.ref_no))
        s.add(
            Rating(
                opinion_id=op.id,
                task_id=task.id,
                user_id=None,
                recorded_by_id=who.id,
                value=value,
                at=now,
            )
        )
        audit.record(s, op, EventKind.PHONE_RATING, who.id, now, value)
        if action == ON_LIST:
            return ActionResult(toast=label, edit=await _render(s, ctx, op.station_id))
        return ActionResult(toast=label, edit=Message(kt.phone_rated(op.ref_no, label, who.name)))


def shape_ok(action: str, args: tuple[int, ...]) -> bool:
    return action in (ON_ITEM, ON_LIST) and len(args) == 2 and args[1] in RATINGS
