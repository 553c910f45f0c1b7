"""The staff group's noise (CaseworkPolicy.noise): every event as its own message, or folded.

Folded (the default, what a busy station chooses): 签收, 进展, 办结, 评价 and the resident's
comment post nothing new; the case's card in the staff group (its latest triage card, edited
into the 交办 record) is edited in place to show the case's timeline, and one digest a day
(services.reports.digest) lists what happened. What needs staff action is never folded: new,
bounced, reopened and 督办 cards, extension requests, call items, overdue reports.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

import texts.casework as kt
import texts.staff as st
from domain.channels import Channel
from domain.lifecycle import OPEN_FOR_TRIAGE
from domain.message import Message, Rich
from domain.states import OutboxStatus
from services.kernel import edits
from services.kernel.context import ServiceContext
from services.kernel.notify import tell_staff
from services.kernel.policy import NOISE_EVERY
from services.kernel.settings import policy_for
from storage.models import Opinion, OpinionEvent, Outbox, Rating, Task, Unit, User

CARD_KEYS = ("staff:new:", "staff:bounce:", "staff:reopen:", "staff:supervise:")
TIMELINE = (
    "acknowledge",
    "progress",
    "extend",
    "extension_approved",
    "extension_denied",
    "close",
    "rate",
    "rate_unsatisfied",
    "supervise",
    "phone_rating",
)


async def staff_event(
    s: AsyncSession, ctx: ServiceContext, op: Opinion, key: str, note: Message, now: datetime
) -> None:
    """Tell the staff group about an event of `op`, as the station's noise setting says."""
    policy = await policy_for(s, ctx, op.station_id)
    # A case back with staff (reopened, 督办) has an action card waiting: never fold into it.
    waiting = op.status in OPEN_FOR_TRIAGE
    target = None if policy.noise == NOISE_EVERY or waiting else await card_key(s, op.id)
    if target is not None and not editable(await _card_channel(s, target)):
        target = None
    if target is None:
        await tell_staff(s, op.station_id, key, note, now, op.id)
        return
    await s.flush()  # the event being told is part of the timeline
    text = await card_text(s, ctx, op)
    # Only the newest state of the card matters: earlier edits not yet sent are dropped.
    await s.execute(
        update(Outbox)
        .where(
            Outbox.key.like(f"edit:card:%{edits.SEPARATOR}{target}"),
            Outbox.status == OutboxStatus.PENDING,
        )
        .values(status=OutboxStatus.DROPPED, last_error="superseded by a newer card")
    )
    await edits.edit_sent(s, target, f"card:{key}", Message(text), now)


# Channels whose adapter edits sent messages (OutboundChannel.edit); elsewhere every event is
# a message of its own, as folding would hide it.
EDITABLE = frozenset({Channel.TELEGRAM.value})


def editable(channel: str | None) -> bool:
    return channel in EDITABLE


async def _card_channel(s: AsyncSession, target: str) -> str | None:
    found = await s.execute(select(Outbox.channel).where(Outbox.key == target))
    return found.scalar_one_or_none()


async def card_key(s: AsyncSession, opinion_id: int) -> str | None:
    """The outbox key of the case's latest card in the staff group."""
    found = await s.execute(
        select(Outbox.key)
        .where(
            Outbox.opinion_id == opinion_id,
            or_(*(Outbox.key.startswith(prefix) for prefix in CARD_KEYS)),
        )
        .order_by(Outbox.id.desc())
        .limit(1)
    )
    return found.scalar_one_or_none()


async def card_text(s: AsyncSession, ctx: ServiceContext, op: Opinion) -> Rich:
    """The 交办 record of the case's latest task, and its timeline since."""
    task = (
        await s.execute(
            select(Task).where(Task.opinion_id == op.id).order_by(Task.id.desc()).limit(1)
        )
    ).scalar_one()
    unit = await s.get(Unit, task.assignee_unit_id) if task.assignee_unit_id else None
    rep = await s.get(User, task.assignee_user_id) if task.assignee_user_id else None
    by = await s.get(User, task.assigned_by_id) if task.assigned_by_id else None
    name = unit.name if unit else (rep.display_name if rep else "—")
    head = st.assigned_card(
        op.ref_no,
        ctx.theme_label(op.theme),
        op.text,
        name,
        task.due_date,
        task.working_days,
        by.display_name if by else "—",
    )
    events = (
        await s.execute(
            select(OpinionEvent, User)
            .join(User, User.id == OpinionEvent.actor_id, isouter=True)
            .where(
                OpinionEvent.opinion_id == op.id,
                OpinionEvent.at >= task.assigned_at,
                OpinionEvent.action.in_(TIMELINE),
            )
            .order_by(OpinionEvent.id)
        )
    ).all()
    lines = [
        kt.timeline_line(e.at.astimezone(ctx.tz), e.action, u.display_name if u else "", e.note)
        for e, u in events
    ]
    comments = await s.execute(
        select(Rating.comment).where(Rating.task_id == task.id, Rating.comment.is_not(None))
    )
    lines += [kt.timeline_comment(c) for c in comments.scalars() if c]
    if not lines:
        return head
    return head + "\n\n" + Rich.join("\n", lines)
