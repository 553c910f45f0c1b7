"""Answers given once, for channels whose platform re-delivers a message it got no answer to
(WeChat pushes again when the answer is late) and whose late answers go by another road.

An answer is given either directly (in the response to the platform) or later, through the
outbox. `claim` records which road took it, in `inbound_messages` (unique per chat and message),
so a re-delivery answered directly never doubles an answer already sent later, across instances.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from domain.channels import Address
from domain.message import Message
from domain.states import MessageKind
from services.kernel import outbox
from services.kernel.context import ServiceContext
from storage.models import InboundMessage
from storage.upsert import insert_for

DIRECT = "answer_direct"
LATE = "answer_late"


async def claim(ctx: ServiceContext, chat: Address, message_id: str, how: str) -> bool:
    """Whether the answer to `message_id` may go by road `how` (DIRECT or LATE).

    The first claim wins. A DIRECT answer may be repeated (the platform re-delivers only when the
    earlier direct answer did not reach it); nothing follows a LATE one.
    """
    key = f"answer:{message_id}"[:128]
    async with ctx.sessions.begin() as s:
        result = await s.execute(
            insert_for(s, InboundMessage)
            .values(
                channel=chat.channel.value,
                chat_id=chat.id,
                message_id=key,
                kind=how,
                reply=None,
                at=ctx.clock.now(),
            )
            .on_conflict_do_nothing(index_elements=["channel", "chat_id", "message_id"])
        )
        if getattr(result, "rowcount", 0):
            return True
        first = (
            await s.execute(
                select(InboundMessage.kind).where(
                    InboundMessage.channel == chat.channel.value,
                    InboundMessage.chat_id == chat.id,
                    InboundMessage.message_id == key,
                )
            )
        ).scalar_one()
    return how == DIRECT and first == DIRECT


async def send_later(
    ctx: ServiceContext,
    chat: Address,
    key: str,
    messages: list[Message],
    now: datetime,
    *,
    first: int = 0,
) -> None:
    """Queue answers for the outbox, in order. Each is keyed by its place in the whole answer
    (`first`: the place of `messages[0]`), so a second call adds only what is missing."""
    if not messages:
        return
    async with ctx.sessions.begin() as s:
        for n, message in enumerate(messages, start=first):
            await outbox.enqueue(
                s,
                key=f"reply:{chat.key}:{key}:{n}"[:200],
                to=chat,
                message=message,
                kind=MessageKind.RESIDENT,
                due_at=now,
            )


async def reroute_late(ctx: ServiceContext, chat: Address, message_id: str) -> None:
    """The direct answer did not reach the platform in time: it goes later, and a re-delivery
    of the message gets no second one."""
    key = f"answer:{message_id}"[:128]
    async with ctx.sessions.begin() as s:
        await s.execute(
            update(InboundMessage)
            .where(
                InboundMessage.channel == chat.channel.value,
                InboundMessage.chat_id == chat.id,
                InboundMessage.message_id == key,
            )
            .values(kind=LATE)
        )
