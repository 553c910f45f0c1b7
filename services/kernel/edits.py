"""Edits of messages sent earlier, through the outbox: a used keyboard removed, a card updated.

An edit row (kind "edit") is keyed `edit:<what>|<target key>`: the target is the outbox row of
the message to edit, whose platform message id is known once it was sent. The dispatcher
resolves it at send time (scheduler.edits); a channel that cannot edit drops the row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.channels import Address, Channel
from domain.message import Message, Rich
from domain.states import MessageKind
from services.kernel import outbox
from storage.models import Outbox

SEPARATOR = "|"


def target_of(key: str) -> str | None:
    """The edited message's outbox key, from an edit row's key."""
    _, sep, target = key.partition(SEPARATOR)
    return target if sep else None


async def edit_sent(
    s: AsyncSession, target_key: str, what: str, message: Message, now: datetime
) -> bool:
    """Queue an edit of the message queued under `target_key` (text and choices replaced)."""
    row = (await s.execute(select(Outbox).where(Outbox.key == target_key))).scalar_one_or_none()
    if row is None:
        return False
    return await outbox.enqueue(
        s,
        key=f"edit:{what}{SEPARATOR}{target_key}",
        to=Address(Channel(row.channel), row.chat_id),
        message=message,
        kind=MessageKind.EDIT,
        due_at=now,
        station_id=row.station_id,
        opinion_id=row.opinion_id,
    )


async def close_card(
    s: AsyncSession, target_key: str, what: str, suffix: Rich, now: datetime
) -> bool:
    """The message under `target_key` keeps its text plus `suffix` and loses its keyboard."""
    row = (
        await s.execute(select(Outbox.message).where(Outbox.key == target_key))
    ).scalar_one_or_none()
    if row is None:
        return False
    original = Message.from_json(row)
    return await edit_sent(s, target_key, what, Message(original.text + suffix), now)
