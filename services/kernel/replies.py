"""Answers given once, for channels whose platform re-delivers a message it got no answer to
(WeChat pushes again when the answer is late) and whose late answers go by another road.

An answer is given either directly (in the response to the platform) or later, through the
outbox. The road it took is recorded in `inbound_messages` (unique per chat and message), so a
re-delivery answered directly never doubles an answer already sent later, across instances.
`settle` does it all in one transaction: the road, the answers for the outbox, the question the
direct answer asks, and what was held for the person (services.kernel.held).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.channels import Address
from domain.message import Message
from domain.states import MessageKind
from services.kernel import held, outbox, questions
from services.kernel.context import ServiceContext
from storage.models import InboundMessage
from storage.upsert import insert_for

DIRECT = "answer_direct"
LATE = "answer_late"


def _key(message_id: str) -> str:
    return f"answer:{message_id}"[:128]


async def claim(ctx: ServiceContext, chat: Address, message_id: str, how: str) -> bool:
    """Whether the answer to `message_id` may go by road `how` (DIRECT or LATE).

    The first claim wins. A DIRECT answer may be repeated (the platform re-delivers only when the
    earlier direct answer did not reach it); nothing follows a LATE one.
    """
    async with ctx.sessions.begin() as s:
        return await claim_in(s, chat, message_id, how, ctx.clock.now())


async def claim_in(
    s: AsyncSession, chat: Address, message_id: str, how: str, now: datetime
) -> bool:
    """:func:`claim` inside the caller's transaction."""
    key = _key(message_id)
    result = await s.execute(
        insert_for(s, InboundMessage)
        .values(
            channel=chat.channel.value,
            chat_id=chat.id,
            message_id=key,
            kind=how,
            reply=None,
            at=now,
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
        await queue_in(s, chat, key, messages, now, first=first)


async def queue_in(
    s: AsyncSession,
    chat: Address,
    key: str,
    messages: list[Message],
    now: datetime,
    *,
    first: int = 0,
) -> None:
    """:func:`send_later` inside the caller's transaction."""
    for n, message in enumerate(messages, start=first):
        await outbox.enqueue(
            s,
            key=f"reply:{chat.key}:{key}"[:190] + f":{n}",
            to=chat,
            message=message,
            kind=MessageKind.RESIDENT,
            due_at=now,
        )


async def settle(
    ctx: ServiceContext,
    chat: Address,
    key: str,
    answer: list[Message],
    *,
    how: str,
    direct: Message | None = None,
    release: bool = False,
) -> bool:
    """One transaction for an answered message: take road `how`; on success queue what the
    direct answer (`direct`, which must be `answer[0]`, or None: everything by the outbox) does
    not carry and record its question; with `release`, what was held for the person goes out
    too. Returns whether the road was ours (False: say nothing)."""
    now = ctx.clock.now()
    async with ctx.sessions.begin() as s:
        if release:
            await held.release_in(s, chat, key, now)
        if not answer or not await claim_in(s, chat, key, how, now):
            return False
        if direct is None:
            await queue_in(s, chat, key, answer, now)
            return True
        await queue_in(s, chat, key, answer[1:], now, first=1)
        await questions.record(s, chat, direct, None, now)
    return True


async def reroute_late(ctx: ServiceContext, chat: Address, message_id: str) -> None:
    """The direct answer did not reach the platform in time: it goes later, and a re-delivery
    of the message gets no second one."""
    async with ctx.sessions.begin() as s:
        await s.execute(
            update(InboundMessage)
            .where(
                InboundMessage.channel == chat.channel.value,
                InboundMessage.chat_id == chat.id,
                InboundMessage.message_id == _key(message_id),
            )
            .values(kind=LATE)
        )
