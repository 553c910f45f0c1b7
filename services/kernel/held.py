"""Messages held for a person the channel cannot reach until they write again (WeChat: the
48-hour customer-service window has closed and no template could carry it).

The dispatcher marks such outbox rows `held` (scheduler.delivery.Held). The next time the person
writes, `take` turns every held row of their chat into one summary ("您有 2 条新进展：…"), which
the adapter gives with its answer; the rows are marked sent with it. Nothing is dropped: until
then staff see the person in /unreached (未送达).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

import texts.resident as rt
import texts.staff as st
import texts.staff_delivery as dlv
from domain.channels import Address, Sender
from domain.message import Message, Rich
from domain.states import MessageKind, OutboxStatus
from services.kernel import outbox
from services.kernel.access import Need, actor
from services.kernel.context import ServiceContext
from storage.models import UNREACHED_OUTBOX, Identity, Outbox, User

NOTIFIED = "notified; "  # prefix of last_error when a pointer (template) reached the person
SUMMARY_ID = "summary"


async def pending(s: AsyncSession, chat: Address) -> int:
    """How many messages are held for `chat`."""
    found = await s.execute(
        select(func.count(Outbox.id)).where(
            Outbox.channel == chat.channel.value,
            Outbox.chat_id == chat.id,
            Outbox.status == OutboxStatus.HELD,
        )
    )
    return int(found.scalar_one())


async def take(s: AsyncSession, chat: Address, now: datetime) -> Message | None:
    """The held messages of `chat` as one summary (None: nothing held); marks them sent.

    Atomic (UPDATE … RETURNING on `held` rows): of two racing callers only one gets each row.
    """
    rows = (
        await s.execute(
            update(Outbox)
            .where(
                Outbox.channel == chat.channel.value,
                Outbox.chat_id == chat.id,
                Outbox.status == OutboxStatus.HELD,
            )
            .values(
                status=OutboxStatus.SENT, sent_at=now, sent_message_id=SUMMARY_ID, last_error=None
            )
            .returning(Outbox.id, Outbox.created_at, Outbox.message)
        )
    ).all()
    if not rows:
        return None
    ordered = sorted(rows, key=lambda r: (r.created_at, r.id))
    return summary([Message.from_json(r.message) for r in ordered])


def summary(messages: list[Message]) -> Message:
    """One message: the count, each message's words, and the choices of the latest question
    (a number always answers the last question asked)."""
    parts: list[Rich | str] = [rt.held_header(len(messages))]
    parts += [m.text for m in messages if m.text]
    actions = next((m.actions for m in reversed(messages) if m.actions), ())
    return Message(Rich.join("\n\n", parts), actions)


@dataclass(frozen=True)
class Unreached:
    name: str
    channel: str
    held: int
    notified: bool
    since: datetime


async def unreached(ctx: ServiceContext, sender: Sender) -> Message:
    """Staff: the people messages are held for, or who could not be reached at all."""
    async with ctx.sessions.begin() as s:
        who = await actor(s, ctx, sender)
        station = await who.station()
        if not await who.allows(Need.STAFF, station_id=station.id):
            return Message(st.only_staff())
        rows = (
            await s.execute(
                select(
                    Outbox.channel,
                    Outbox.chat_id,
                    Outbox.status,
                    func.count(Outbox.id),
                    func.min(Outbox.created_at),
                    func.max(Outbox.last_error),
                )
                # The partial index's condition, literally (SQLite proves it only so).
                .where(Outbox.station_id == station.id, text(UNREACHED_OUTBOX))
                .group_by(Outbox.channel, Outbox.chat_id, Outbox.status)
                .order_by(func.min(Outbox.created_at))
            )
        ).all()
        names = await _names(s, [(r[0], r[1]) for r in rows])
    if not rows:
        return Message(dlv.unreached_none())
    lines = [dlv.unreached_header(len(rows))]
    for channel, chat_id, status, count, since, error in rows:
        name = names.get((channel, chat_id), f"{channel}:{chat_id}")
        when = since.astimezone(ctx.tz)
        if status == OutboxStatus.HELD:
            notified = bool(error and error.startswith(NOTIFIED))
            lines.append(dlv.unreached_held(name, _channel_label(channel), count, when, notified))
        else:
            lines.append(dlv.unreached_gone(name, _channel_label(channel), count, when))
    return Message(Rich.join("\n", lines))


def _channel_label(channel: str) -> str:
    return dlv.CHANNEL_LABELS.get(channel, channel)


async def _names(s: AsyncSession, chats: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    if not chats:
        return {}
    found = await s.execute(
        select(Identity.channel, Identity.external_id, User)
        .join(User, User.id == Identity.user_id)
        .where(Identity.external_id.in_(sorted({c for _, c in chats})))
    )
    return {(ch, ext): user.display_name for ch, ext, user in found.all()}


async def release(ctx: ServiceContext, chat: Address, key: str) -> bool:
    """The person just wrote: what was held for them goes out now, summed up, by the outbox."""
    async with ctx.sessions.begin() as s:
        return await release_in(s, chat, key, ctx.clock.now())


async def release_in(s: AsyncSession, chat: Address, key: str, now: datetime) -> bool:
    """:func:`release` inside the caller's transaction."""
    message = await take(s, chat, now)
    if message is None:
        return False
    await outbox.enqueue(
        s,
        key=f"held:{chat.key}:{key}"[:200],
        to=chat,
        message=message,
        kind=MessageKind.RESIDENT,
        due_at=now,
    )
    return True
