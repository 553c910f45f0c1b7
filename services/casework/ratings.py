"""The resident's satisfaction rating (scope "r") and 未评价 after seven days."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

import texts.casework_resident as rk
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
from storage.models import Opinion, Rating, Task, UTCDateTime
from storage.upsert import insert_for
from texts.common import NOT_ALLOWED

RATING_EXPIRES_AFTER = timedelta(days=7)
# Opinion.status == closed, written as the partial index ix_opinions_closed states it (SQLite
# uses a partial index only for a query that repeats its condition).
WAITING_FOR_RATING = text("opinions.status = 'closed'")


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
        if not await _rateable(s, op, task):
            return refused(rt.not_rateable(op.ref_no))
        value = RATINGS[args[1]]
        if not await _insert_rating(s, op.id, task.id, who.id, value, ctx.clock.now()):
            # Rated before, or by a concurrent press of the same card that committed first.
            existing = (
                await s.execute(
                    select(Rating.value).where(Rating.task_id == task.id, Rating.user_id == who.id)
                )
            ).scalar_one()
            return refused(rt.already_rated(rt.RATING_LABELS.get(existing, existing)))
        return await _rate(ctx, who, op, task, value)


async def _insert_rating(
    s: AsyncSession, opinion_id: int, task_id: int, user_id: int | None, value: str, at: Any
) -> bool:
    """INSERT … ON CONFLICT (task_id, user_id) DO NOTHING; True when this call added the row.

    Two presses at once, or a press racing the 未评价 expiry, leave one rating and no error: on
    PostgreSQL the second INSERT waits for the first transaction and then does nothing.
    """
    stmt = (
        insert_for(s, Rating)
        .values(opinion_id=opinion_id, task_id=task_id, user_id=user_id, value=value, at=at)
        .on_conflict_do_nothing(index_elements=["task_id", "user_id"])
        .returning(Rating.id)
    )
    return (await s.execute(stmt)).scalar_one_or_none() is not None


async def _rate(
    ctx: ServiceContext, who: Actor, op: Opinion, task: Task, value: RatingValue
) -> ActionResult:
    s, now = who.s, ctx.clock.now()
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
        prompt = Message(rk.supervised_ask_comment(op.ref_no))
        return ActionResult(toast=label, edit=edit, prompt=prompt)
    if settled.what == REOPENED:
        prompt = Message(rt.unsatisfied_ask_comment(op.ref_no))
        return ActionResult(toast=label, edit=edit, prompt=prompt)
    return ActionResult(toast=label, edit=edit, prompt=Message(rt.ask_optional_comment()))


async def _rateable(s: AsyncSession, op: Opinion, task: Task) -> bool:
    """Only a closed task that is the case's latest, on a case that is closed (or rated)."""
    if task.status != TaskStatus.CLOSED or op.status not in (Status.CLOSED, Status.RATED):
        return False
    latest = (
        await s.execute(select(func.max(Task.id)).where(Task.opinion_id == op.id))
    ).scalar_one()
    return bool(latest == task.id)


def shape_ok(action: str, args: tuple[int, ...]) -> bool:
    return action == "v" and len(args) == 2 and args[1] in RATINGS


def _expired_statement() -> Any:
    """Closed opinions whose last task closed before :cutoff; built once (the tick runs it)."""
    later = aliased(Task)
    # The opinion's last task: after 不满意 → reopened → closed again, the one owed a rating.
    latest = (
        select(func.max(later.id))
        .where(later.opinion_id == Opinion.id)
        .correlate(Opinion)
        .scalar_subquery()
    )
    return (
        select(Opinion, Task)
        .join(Task, Task.id == latest)
        .where(
            WAITING_FOR_RATING,
            Task.status == TaskStatus.CLOSED,
            Task.closed_at <= bindparam("cutoff", type_=UTCDateTime()),
        )
        .limit(EXPIRE_BATCH)
    )


EXPIRE_BATCH = 50  # opinions per transaction: the chat gets the connection in between
_EXPIRED = _expired_statement()


async def expire_ratings(ctx: ServiceContext) -> int:
    """Closures nobody rated within 7 days are recorded as 未评价 (run on the clock tick).

    Only the opinion's latest task counts (an earlier closure was rated, or it would not have
    been reopened), and the insert is idempotent, so neither a reopened case nor a resident
    pressing a rating at the same moment can make the tick fail.
    """
    cutoff = ctx.clock.now() - RATING_EXPIRES_AFTER
    expired = 0
    while True:
        done, seen = await _expire_batch(ctx, cutoff)
        expired += done
        if seen < EXPIRE_BATCH:
            return expired
        await asyncio.sleep(0)


async def _expire_batch(ctx: ServiceContext, cutoff: datetime) -> tuple[int, int]:
    """One batch; returns (expired, rows looked at)."""
    expired = 0
    async with ctx.sessions.begin() as s:
        rows = (await s.execute(_EXPIRED, {"cutoff": cutoff})).all()
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
            now = ctx.clock.now()
            await _insert_rating(s, op.id, task.id, op.resident_id, RatingValue.UNRATED, now)
            expired += 1
    return expired, len(rows)
