"""Numbered replies: on channels without buttons, "回复 2" means the second choice of the
question last delivered to that chat.

The question is stored when it is delivered (not when it is queued): a newer question replaces
it only once the person can see the newer one. A reply written before the current question was
delivered answers an older question and is never taken for the current one.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.channels import Address
from domain.message import Message
from services.kernel.context import ServiceContext
from storage.models import ChatQuestion
from storage.upsert import insert_for

MAX_CHOICE_DIGITS = 3


def choice_number(text: str) -> int | None:
    """ "1", "１", " 1 " → 1; anything else (words, "0", "1.5") → None."""
    norm = unicodedata.normalize("NFKC", text).strip()
    if not norm or len(norm) > MAX_CHOICE_DIGITS or not (norm.isascii() and norm.isdigit()):
        return None
    number = int(norm)
    return number if number > 0 else None


async def remember(
    ctx: ServiceContext, chat: Address, message: Message, message_id: str | None, at: datetime
) -> None:
    """Record `message`'s choices as the chat's current question (call once it is delivered).

    A message without choices leaves the current question as it is.
    """
    if not message.actions:
        return
    async with ctx.sessions.begin() as s:
        await record(s, chat, message, message_id, at)


async def record(
    s: AsyncSession, chat: Address, message: Message, message_id: str | None, at: datetime
) -> None:
    """:func:`remember` inside the caller's transaction."""
    payloads = [a.payload for a in message.choices()]
    if not payloads:
        return
    values = {
        "channel": chat.channel.value,
        "chat_id": chat.id,
        "payloads": payloads,
        "message_id": message_id,
        "delivered_at": at,
    }
    stmt = insert_for(s, ChatQuestion).values(**values)
    await s.execute(
        stmt.on_conflict_do_update(
            index_elements=["channel", "chat_id"],
            set_={k: stmt.excluded[k] for k in ("payloads", "message_id", "delivered_at")},
            # Two deliveries racing: the later delivery wins, never the later writer.
            where=ChatQuestion.delivered_at <= stmt.excluded.delivered_at,
        )
    )


@dataclass(frozen=True)
class Choice:
    payload: str


@dataclass(frozen=True)
class Outdated:
    """The reply was written before the current question reached the chat."""


@dataclass(frozen=True)
class NoSuchChoice:
    """No question in this chat, or fewer choices than the number."""


Resolved = Choice | Outdated | NoSuchChoice


async def resolve(
    s: AsyncSession, chat: Address, number: int, written_at: datetime | None
) -> Resolved:
    row = (
        await s.execute(
            select(ChatQuestion.payloads, ChatQuestion.delivered_at).where(
                ChatQuestion.channel == chat.channel.value, ChatQuestion.chat_id == chat.id
            )
        )
    ).first()
    if row is None:
        return NoSuchChoice()
    payloads, delivered_at = row
    if written_at is not None and written_at < delivered_at:
        return Outdated()
    if not 1 <= number <= len(payloads):
        return NoSuchChoice()
    return Choice(payloads[number - 1])
