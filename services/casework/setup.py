"""Set-up: staff, representatives, working groups and departments, and their chats."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

import texts.assignee as at
import texts.staff as st
import texts.staff_setup as sst
from domain.channels import Address, Sender
from domain.message import Message, Rich
from domain.states import InviteRole, Role, UnitKind
from services.kernel.access import Need, actor
from services.kernel.chats import resend_set_aside
from services.kernel.context import ServiceContext
from services.kernel.people import default_station, find_identity, staff_chat, station_by_code
from services.kernel.replan import replan_unit
from storage.models import Invite, StationRole, Unit, UnitMember, User
from texts.common import NOT_ALLOWED

INVITE_TTL = timedelta(days=7)


async def set_role(s: AsyncSession, station_id: int, user_id: int, role: Role) -> None:
    row = (
        await s.execute(
            select(StationRole).where(
                StationRole.station_id == station_id, StationRole.user_id == user_id
            )
        )
    ).scalar_one_or_none()
    if row is None:
        s.add(StationRole(station_id=station_id, user_id=user_id, role=role))
    elif row.role != Role.STAFF or role == Role.STAFF:
        row.role = role


async def unit_by_name(s: AsyncSession, station_id: int, name: str) -> Unit | None:
    return (
        await s.execute(
            select(Unit).where(
                Unit.station_id == station_id, Unit.name == name.strip(), Unit.active
            )
        )
    ).scalar_one_or_none()


async def bind_staff_chat(
    ctx: ServiceContext, sender: Sender, chat: Address, code: str | None
) -> Message:
    """An admin makes this group the station's staff chat (where new opinions appear)."""
    async with ctx.sessions.begin() as s:
        who = await actor(s, ctx, sender)
        if code:
            station = await station_by_code(s, code)
            if station is None:
                # Whether a code exists is for admins to know, not for anyone in any group.
                if await who.is_admin_anywhere():
                    return Message(sst.station_unknown(code[:40]))
                return Message(Rich.plain_text(NOT_ALLOWED + sst.bind_only_admin()))
        else:
            station = await who.station() if who.user.station_id else await default_station(s, ctx)
        if not await who.allows(Need.ADMIN, station_id=station.id):
            return Message(Rich.plain_text(NOT_ALLOWED + sst.bind_only_admin()))
        before = staff_chat(station)
        station.staff_channel = chat.channel.value
        station.staff_chat_id = chat.id
        if before is not None:
            await resend_set_aside(s, ctx, station.id, before, chat)
        return Message(sst.staff_bound(station.name))


async def add_staff(
    ctx: ServiceContext, sender: Sender, target_id: str | None, target_name: str | None
) -> Message:
    """Admin grants the staff role to a person who has talked to the bot; the target is named
    by their id on the admin's own channel, or by username."""
    async with ctx.sessions.begin() as s:
        who = await actor(s, ctx, sender)
        station = await who.station()
        if not await who.allows(Need.ADMIN, station_id=station.id):
            return Message(sst.only_admin())
        target = None
        if target_id is not None:
            identity = await find_identity(s, sender.channel, target_id)
            target = await s.get(User, identity.user_id) if identity else None
        elif target_name:
            name = target_name.lstrip("@")
            target = (await s.execute(select(User).where(User.username == name))).scalars().first()
        if target is None:
            return Message(sst.user_unknown())
        await set_role(s, station.id, target.id, Role.STAFF)
        return Message(sst.staff_added(target.display_name))


async def create_invite(
    ctx: ServiceContext, sender: Sender, unit_name: str | None, note: str | None
) -> Message:
    """Staff create a one-time code: for a representative, or for a member of a unit."""
    async with ctx.sessions.begin() as s:
        who = await actor(s, ctx, sender)
        station = await who.station()
        if not await who.allows(Need.STAFF, station_id=station.id):
            return Message(st.only_staff())
        unit = None
        if unit_name:
            unit = await unit_by_name(s, station.id, unit_name)
            if unit is None:
                return Message(sst.unit_unknown(unit_name[:40]))
        code = secrets.token_hex(4).upper()
        now = ctx.clock.now()
        s.add(
            Invite(
                station_id=station.id,
                code=code,
                role=InviteRole.MEMBER if unit else InviteRole.REPRESENTATIVE,
                unit_id=unit.id if unit else None,
                note=note,
                created_by_id=who.id,
                expires_at=now + INVITE_TTL,
                created_at=now,
            )
        )
        return Message(sst.invite_created(code, unit.name if unit else None, INVITE_TTL.days))


async def join(ctx: ServiceContext, sender: Sender, code: str) -> Message:
    """`/join CODE`: a representative (or unit member) redeems a one-time invite."""
    async with ctx.sessions.begin() as s:
        who = await actor(s, ctx, sender)
        now = ctx.clock.now()
        invite = (
            await s.execute(select(Invite).where(Invite.code == code.strip().upper()))
        ).scalar_one_or_none()
        if invite is None or invite.expires_at < now:
            return Message(at.invite_invalid())
        if invite.used_by_id is not None:
            if invite.used_by_id == who.id:
                return Message(at.joined(invite.unit_id is not None, None))
            return Message(at.invite_invalid())
        done = await s.execute(
            update(Invite)
            .where(Invite.id == invite.id, Invite.used_by_id.is_(None))
            .values(used_by_id=who.id, used_at=now)
        )
        if not getattr(done, "rowcount", 0):
            return Message(at.invite_invalid())
        who.user.station_id = invite.station_id
        unit_name = None
        if invite.unit_id is not None:
            s.add(UnitMember(unit_id=invite.unit_id, user_id=who.id, at=now))
            unit = await s.get(Unit, invite.unit_id)
            unit_name = unit.name if unit else None
        else:
            await set_role(s, invite.station_id, who.id, Role.REPRESENTATIVE)
        return Message(at.joined(invite.unit_id is not None, unit_name))


async def add_unit(ctx: ServiceContext, sender: Sender, kind: UnitKind, name: str) -> Message:
    name = name.strip()
    if not name or len(name) > 50:
        return Message(sst.unit_name_invalid())
    async with ctx.sessions.begin() as s:
        who = await actor(s, ctx, sender)
        station = await who.station()
        if not await who.allows(Need.STAFF, station_id=station.id):
            return Message(st.only_staff())
        if await unit_by_name(s, station.id, name) is not None:
            return Message(sst.unit_exists(name))
        s.add(Unit(station_id=station.id, kind=kind, name=name, created_at=ctx.clock.now()))
        return Message(sst.unit_added(kind, name))


async def list_units(ctx: ServiceContext, sender: Sender) -> Message:
    async with ctx.sessions.begin() as s:
        who = await actor(s, ctx, sender)
        station = await who.station()
        if not await who.allows(Need.STAFF, station_id=station.id):
            return Message(st.only_staff())
        units = (
            await s.execute(
                select(Unit).where(Unit.station_id == station.id, Unit.active).order_by(Unit.id)
            )
        ).scalars()
        reps = (
            await s.execute(
                select(User)
                .join(StationRole, StationRole.user_id == User.id)
                .where(
                    StationRole.station_id == station.id,
                    StationRole.role == Role.REPRESENTATIVE,
                )
            )
        ).scalars()
        return Message(
            sst.unit_list(
                [(u.kind, u.name, u.chat_id is not None) for u in units],
                [r.display_name for r in reps],
            )
        )


async def bind_unit_chat(ctx: ServiceContext, sender: Sender, chat: Address, name: str) -> Message:
    """`/bind <组名>` in a group: that group receives the unit's tasks and reminders."""
    async with ctx.sessions.begin() as s:
        who = await actor(s, ctx, sender)
        station = await who.station()
        if not await who.allows(Need.STAFF, station_id=station.id):
            return Message(st.only_staff())
        unit = await unit_by_name(s, station.id, name)
        if unit is None:
            return Message(sst.unit_unknown(name[:40]))
        unit.chat_channel = chat.channel.value
        unit.chat_id = chat.id
        await replan_unit(s, unit.id)  # reminders already due reach the new chat too
        return Message(sst.unit_bound(unit.name))
