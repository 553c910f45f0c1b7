"""Who must hear about a case, and queuing the messages (always through the outbox)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.channels import Address, Channel
from domain.message import Message
from domain.states import MessageKind
from services.kernel import outbox
from services.kernel.people import reach, reach_one, staff_chat
from storage.models import CoSigner, Opinion, Station, Task, Unit


async def resident_ids(s: AsyncSession, op: Opinion) -> list[int]:
    """The resident and every co-signer of a merged duplicate, in that order."""
    ids: list[int] = []
    if op.resident_id is not None:
        ids.append(op.resident_id)
    cosigners = await s.execute(select(CoSigner.user_id).where(CoSigner.opinion_id == op.id))
    ids += [uid for uid in cosigners.scalars() if uid not in ids]
    return ids


async def resident_chats(s: AsyncSession, op: Opinion) -> list[tuple[int, Address]]:
    """(user id, where to reach them) for the resident and every co-signer."""
    ids = await resident_ids(s, op)
    where = await reach(s, ids)
    return [(uid, where[uid]) for uid in ids if uid in where]


async def tell_residents(
    s: AsyncSession,
    op: Opinion,
    key: str,
    message: Message,
    now: datetime,
    kind: MessageKind = MessageKind.RESIDENT,
) -> None:
    for uid, chat in await resident_chats(s, op):
        await outbox.enqueue(
            s,
            key=f"{key}:u{uid}",
            to=chat,
            message=message,
            kind=kind,
            due_at=now,
            station_id=op.station_id,
            opinion_id=op.id,
        )


async def tell_staff(
    s: AsyncSession,
    station_id: int,
    key: str,
    message: Message,
    now: datetime,
    opinion_id: int | None,
    kind: MessageKind = MessageKind.STAFF,
) -> bool:
    station = await s.get(Station, station_id)
    chat = staff_chat(station) if station is not None else None
    if chat is None:
        return False
    await outbox.enqueue(
        s,
        key=key,
        to=chat,
        message=message,
        kind=kind,
        due_at=now,
        station_id=station_id,
        opinion_id=opinion_id,
    )
    return True


def unit_chat(unit: Unit | None) -> Address | None:
    if unit is None or unit.chat_id is None or unit.chat_channel is None:
        return None
    return Address(Channel(unit.chat_channel), unit.chat_id)


async def assignee_chat(s: AsyncSession, task: Task) -> Address | None:
    """Where a task's messages go: the representative's private chat or the unit's bound chat."""
    if task.assignee_user_id is not None:
        return await reach_one(s, task.assignee_user_id)
    if task.assignee_unit_id is not None:
        return unit_chat(await s.get(Unit, task.assignee_unit_id))
    return None


async def tell_assignee(
    s: AsyncSession, task: Task, key: str, message: Message, now: datetime
) -> bool:
    chat = await assignee_chat(s, task)
    if chat is None:
        return False
    await outbox.enqueue(
        s,
        key=key,
        to=chat,
        message=message,
        kind=MessageKind.ASSIGNEE,
        due_at=now,
        station_id=task.station_id,
        opinion_id=task.opinion_id,
    )
    return True
