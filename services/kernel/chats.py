"""Chats that change under the bot: a group that moved to a new address (a Telegram group
upgraded to a supergroup), a staff chat the bot was removed from."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

import texts.staff_delivery as dlv
from domain.channels import Address, Channel
from domain.message import Message
from domain.states import MessageKind, OutboxStatus, Role
from services.kernel import outbox
from services.kernel.context import ServiceContext
from services.kernel.people import reach_one, station_by_staff_chat
from storage.models import Outbox, Station, StationRole, Unit

WAITING = (OutboxStatus.PENDING, OutboxStatus.SENDING)


async def moved(ctx: ServiceContext, old: Address, new: Address) -> int:
    """Follow a chat to its new address: the staff chat and unit chats bound to it, and every
    message still queued for it (a row being sent now goes back to the queue, due at once).
    Returns how many queued messages moved. Idempotent: the service message and the send
    error may both report the same move."""
    if old == new:
        return 0
    async with ctx.sessions.begin() as s:
        await s.execute(
            update(Station)
            .where(Station.staff_channel == old.channel.value, Station.staff_chat_id == old.id)
            .values(staff_channel=new.channel.value, staff_chat_id=new.id)
        )
        await s.execute(
            update(Unit)
            .where(Unit.chat_channel == old.channel.value, Unit.chat_id == old.id)
            .values(chat_channel=new.channel.value, chat_id=new.id)
        )
        result = await s.execute(
            update(Outbox)
            .where(
                Outbox.channel == old.channel.value,
                Outbox.chat_id == old.id,
                Outbox.status.in_(WAITING),
            )
            .values(
                channel=new.channel.value,
                chat_id=new.id,
                status=OutboxStatus.PENDING,
                lease_owner=None,
                lease_until=None,
                due_at=ctx.clock.now(),
            )
        )
        count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            s.info[outbox.DIRTY] = True
    return count


async def lost(ctx: ServiceContext, chat: Address) -> None:
    """The platform says the bot left or was removed from `chat`: if it is a station's staff
    chat, that station's admins are told (once; the same notice as when a card fails)."""
    async with ctx.sessions() as s:
        station = await station_by_staff_chat(s, chat)
        station_id = station.id if station is not None else None
    if station_id is not None:
        await tell_admins_staff_chat_lost(ctx, station_id, chat)


async def tell_admins_staff_chat_lost(
    ctx: ServiceContext, station_id: int, chat: Address, reason: str = ""
) -> None:
    """The bot can no longer write to the staff chat: each admin hears it in private, once."""
    async with ctx.sessions.begin() as s:
        station = await s.get(Station, station_id)
        if station is None:
            return
        admins: list[Address] = [Address(Channel(c), i) for c, i in sorted(ctx.admin_ids)]
        role_admins = await s.execute(
            select(StationRole.user_id).where(
                StationRole.station_id == station.id, StationRole.role == Role.ADMIN
            )
        )
        for uid in role_admins.scalars():
            where = await reach_one(s, uid)
            if where is not None and where not in admins:
                admins.append(where)
        note = Message(dlv.staff_chat_lost(station.name))
        for to in admins:
            await outbox.enqueue(
                s,
                key=f"staff_chat_lost:{station.id}:{chat.key}:{to.key}",
                to=to,
                message=note,
                kind=MessageKind.STAFF,
                due_at=ctx.clock.now(),
                station_id=station.id,
            )


async def resend_set_aside(
    s: AsyncSession, ctx: ServiceContext, station_id: int, old: Address, new: Address
) -> int:
    """The staff chat is bound again (after the bot was removed): the station's messages that
    were set aside as undeliverable to the old staff chat are sent to the new one."""
    result = await s.execute(
        update(Outbox)
        .where(
            Outbox.station_id == station_id,
            Outbox.channel == old.channel.value,
            Outbox.chat_id == old.id,
            Outbox.status == OutboxStatus.UNDELIVERABLE,
        )
        .values(
            channel=new.channel.value,
            chat_id=new.id,
            status=OutboxStatus.PENDING,
            due_at=ctx.clock.now(),
            lease_owner=None,
            lease_until=None,
        )
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        s.info[outbox.DIRTY] = True
    return count
