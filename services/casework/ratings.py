"""The resident's satisfaction rating (scope "r") and 未评价 after seven days."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

import texts.resident as rt
import texts.staff as st
from domain.channels import Sender
from domain.lifecycle import Action, IllegalTransition, Status
from domain.message import Message
from domain.states import PromptKind, RatingValue, TaskStatus
from services.casework.answers import RATINGS
from services.casework.revisit import REOPENED, SUPERVISED, settle
from services.kernel import audit, outbox
from services.kernel.access import Actor, Need, actor
from services.kernel.context import ServiceContext
from services.kernel.results import ActionResult, refused
from storage.models import Opinion, Rating, Task
from texts.common import NOT_ALLOWED

RATING_EXPIRES_AFTER = timedelta(days=7)


async def rating_press(
    ctx: ServiceContext, sender: Sender, action: str, args: tuple[int, ...]
) -> ActionResult:
    async with ctx.sessions.begin() as s:
        who = await actor(s, ctx, sender)
        if not shape_ok(action, args):
            return refused(st.card_gone())
        task = await s.get(Task, args[0])
        op = await s.get(Opinion, task.opinion_id) if task else None
        if task is None or op is None:
            return refused(st.card_gone())
        if not await who.allows(Need.RESIDENT, opinion=op):
            return refused(NOT_ALLOWED)
        existing = (
            await s.execute(
                select(Rating).where(Rating.task_id == task.id, Rating.user_id == who.id)
            )
        ).scalar_one_or_none()
        if existing is not None:
            label = rt.RATING_LABELS.get(existing.value, existing.value)
            return refused(rt.already_rated(label))
        return await _rate(ctx, who, op, task, RATINGS[args[1]])


async def _rate(
    ctx: ServiceContext, who: Actor, op: Opinion, task: Task, value: RatingValue
) -> ActionResult:
    s, now = who.s, ctx.clock.now()
    s.add(Rating(opinion_id=op.id, task_id=task.id, user_id=who.id, value=value, at=now))
    await s.flush()
    # The reminder for this closure is no longer owed.
    await outbox.drop(s, f"res:rate_reminder:{task.id}:u{who.id}")
    is_main = who.id == op.resident_id or op.resident_id is None
    settled = await settle(s, ctx, op, task, value, who.id, now, main=is_main)
    user = who.user
    user.pending_action = PromptKind.RATING_COMMENT
    user.pending_opinion_id = op.id
    user.pending_data = {"task": task.id}
    user.pending_since = now
    label = rt.RATING_LABELS[value]
    unsatisfied = value is RatingValue.UNSATISFIED
    edit = Message(rt.rated(op.ref_no, label, thanks=not unsatisfied))
    if settled.what == SUPERVISED:
        prompt = Message(rt.supervised_ask_comment(op.ref_no))
        return ActionResult(toast=label, edit=edit, prompt=prompt)
    if settled.what == REOPENED:
        prompt = Message(rt.unsatisfied_ask_comment(op.ref_no))
        return ActionResult(toast=label, edit=edit, prompt=prompt)
    return ActionResult(toast=label, edit=edit, prompt=Message(rt.ask_optional_comment()))


def shape_ok(action: str, args: tuple[int, ...]) -> bool:
    return action == "v" and len(args) == 2 and args[1] in RATINGS


async def expire_ratings(ctx: ServiceContext) -> int:
    """Closures nobody rated within 7 days are recorded as 未评价 (run on the clock tick)."""
    cutoff = ctx.clock.now() - RATING_EXPIRES_AFTER
    expired = 0
    async with ctx.sessions.begin() as s:
        rows = (
            await s.execute(
                select(Opinion, Task)
                .join(Task, Task.opinion_id == Opinion.id)
                .where(
                    Opinion.status == Status.CLOSED,
                    Task.status == TaskStatus.CLOSED,
                    Task.closed_at <= cutoff,
                )
            )
        ).all()
        for op, task in rows:
            try:
                await audit.transition(
                    s,
                    op,
                    Action.EXPIRE_RATING,
                    None,
                    ctx.clock.now(),
                    note=RatingValue.UNRATED,
                    satisfaction=RatingValue.UNRATED,
                )
            except IllegalTransition:
                continue
            s.add(
                Rating(
                    opinion_id=op.id,
                    task_id=task.id,
                    user_id=op.resident_id,
                    value=RatingValue.UNRATED,
                    at=ctx.clock.now(),
                )
            )
            expired += 1
    return expired
