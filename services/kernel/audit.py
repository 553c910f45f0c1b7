"""One state transition that also records its event, and the events that move no status.

Every transition goes through domain.lifecycle and a compare-and-set on the opinion's status, so
two staff pressing 交办 at once leave one assignment; the loser is told who did it
(`last_action_by`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

import texts.staff as st
from domain.lifecycle import Action, IllegalTransition, Status, next_status
from domain.message import Rich
from domain.states import EventKind
from storage.models import Opinion, OpinionEvent, User


async def transition(
    s: AsyncSession,
    op: Opinion,
    action: Action,
    actor_id: int | None,
    now: datetime,
    note: str | None = None,
    **values: Any,
) -> Status:
    """Move `op` by `action` if nobody moved it first, and record it; else IllegalTransition."""
    current = Status(op.status)
    target = next_status(action, current)
    result = await s.execute(
        update(Opinion)
        .where(Opinion.id == op.id, Opinion.status == current)
        .values(status=target, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        await s.refresh(op)
        raise IllegalTransition(action, Status(op.status))
    s.add(
        OpinionEvent(
            opinion_id=op.id,
            actor_id=actor_id,
            action=action,
            from_status=current,
            to_status=target,
            note=note,
            at=now,
        )
    )
    await s.refresh(op)
    return target


def record(
    s: AsyncSession,
    op: Opinion,
    kind: EventKind | Action,
    actor_id: int | None,
    now: datetime,
    note: str | None = None,
    *,
    keep_status: bool = True,
) -> None:
    """An event that moves no status (a detail, a retheme, an extension decision)."""
    status = op.status if keep_status else None
    s.add(
        OpinionEvent(
            opinion_id=op.id,
            actor_id=actor_id,
            action=kind,
            from_status=status,
            to_status=status,
            note=note,
            at=now,
        )
    )


async def last_action_by(s: AsyncSession, op: Opinion, tz: Any) -> Rich:
    """ "LL-… 已是“已交办”状态，由 小张 于 … 处理": what a refused action is told."""
    row = (
        await s.execute(
            select(OpinionEvent, User)
            .join(User, User.id == OpinionEvent.actor_id, isouter=True)
            .where(OpinionEvent.opinion_id == op.id, OpinionEvent.to_status == op.status)
            .order_by(OpinionEvent.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return st.already_handled(op.ref_no, op.status, None, None)
    event, user = row
    return st.already_handled(
        op.ref_no, op.status, user.display_name if user else None, event.at.astimezone(tz)
    )


async def count_events(s: AsyncSession, opinion_id: int, kind: str) -> int:
    rows = await s.execute(
        select(OpinionEvent.id).where(
            OpinionEvent.opinion_id == opinion_id, OpinionEvent.action == kind
        )
    )
    return len(rows.all())
