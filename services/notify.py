"""Who must hear about a case, and queuing the messages (always through the outbox)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services import outbox
from services.types import Reply
from storage.models import CoSigner, Opinion, Station, Task, Unit, User


async def resident_chat_ids(s: AsyncSession, op: Opinion) -> list[tuple[int, int]]:
    """(user id, Telegram chat id) of the resident and every co-signer of a merged duplicate."""
    ids: list[int] = []
    if op.resident_id is not None:
        ids.append(op.resident_id)
    ids += list(
        (await s.execute(select(CoSigner.user_id).where(CoSigner.opinion_id == op.id))).scalars()
    )
    if not ids:
        return []
    rows = (await s.execute(select(User.id, User.tg_id).where(User.id.in_(ids)))).all()
    order = {uid: i for i, uid in enumerate(ids)}
    return sorted(((uid, tg) for uid, tg in rows), key=lambda r: order[r[0]])


async def tell_residents(
    s: AsyncSession, op: Opinion, key: str, reply: Reply, now: datetime
) -> None:
    for uid, tg in await resident_chat_ids(s, op):
        await outbox.enqueue(
            s,
            key=f"{key}:u{uid}",
            chat_id=tg,
            text=reply.text,
            markup=reply.markup(),
            kind="resident",
            due_at=now,
            station_id=op.station_id,
            opinion_id=op.id,
        )


async def tell_staff(
    s: AsyncSession, station_id: int, key: str, reply: Reply, now: datetime, opinion_id: int | None
) -> bool:
    station = await s.get(Station, station_id)
    if station is None or station.staff_chat_id is None:
        return False
    await outbox.enqueue(
        s,
        key=key,
        chat_id=station.staff_chat_id,
        text=reply.text,
        markup=reply.markup(),
        kind="staff",
        due_at=now,
        station_id=station_id,
        opinion_id=opinion_id,
    )
    return True


async def assignee_chat(s: AsyncSession, task: Task) -> int | None:
    """Where a task's messages go: the representative's private chat or the unit's bound chat."""
    if task.assignee_user_id is not None:
        user = await s.get(User, task.assignee_user_id)
        return user.tg_id if user else None
    if task.assignee_unit_id is not None:
        unit = await s.get(Unit, task.assignee_unit_id)
        return unit.chat_id if unit else None
    return None


async def tell_assignee(s: AsyncSession, task: Task, key: str, reply: Reply, now: datetime) -> bool:
    chat = await assignee_chat(s, task)
    if chat is None:
        return False
    markup: dict[str, Any] | None = reply.markup()
    await outbox.enqueue(
        s,
        key=key,
        chat_id=chat,
        text=reply.text,
        markup=markup,
        kind="assignee",
        due_at=now,
        station_id=task.station_id,
        opinion_id=task.opinion_id,
    )
    return True
