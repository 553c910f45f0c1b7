"""Users, stations and roles. Every permission check reads the database (or ADMIN_IDS)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.context import ServiceContext
from services.types import Sender
from storage.models import Station, StationRole, User, utcnow
from storage.upsert import insert_for


class Role(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"
    REPRESENTATIVE = "representative"
    RESIDENT = "resident"


def user_query(*extra: Any) -> Select[Any]:
    """The user by Telegram id, with their station (and `extra` columns) in the same trip.

    station_of() then finds the station in the session's identity map without another query.
    Callers on a hot path add their own lookups as `extra` scalar subqueries and build the
    statement once.
    """
    return (
        select(User, Station, *extra)
        .outerjoin(Station, Station.id == User.station_id)
        .where(User.tg_id == bindparam("tg_id"))
    )


_USER_WITH_STATION = user_query()


async def upsert_user(s: AsyncSession, sender: Sender) -> User:
    """Return the user row for `sender`, creating it or refreshing the names Telegram sent."""
    user, _ = await upsert_user_row(s, sender)
    return user


async def upsert_user_row(
    s: AsyncSession,
    sender: Sender,
    query: Select[Any] = _USER_WITH_STATION,
    params: dict[str, Any] | None = None,
) -> tuple[User, Row[Any]]:
    """upsert_user() with a `user_query()` of the caller's: also returns the row it read."""
    bound = {"tg_id": sender.tg_id, **(params or {})}
    row = (await s.execute(query, bound)).first()
    if row is None:
        # Two updates from a new user can race (two instances, or a re-delivery): insert once.
        now = utcnow()
        await s.execute(
            insert_for(s, User)
            .values(
                tg_id=sender.tg_id,
                first_name=sender.first_name,
                last_name=sender.last_name,
                username=sender.username,
                subscribed=False,
                blocked_bot=False,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["tg_id"])
        )
        row = (await s.execute(query, bound)).one()
    user: User = row[0]
    if row[1] is not None:
        # The session's identity map holds objects weakly: keep the station alive for this
        # session so station_of() finds it there instead of selecting it again.
        s.info["user_station"] = row[1]
    if (user.first_name, user.last_name, user.username) != (
        sender.first_name,
        sender.last_name,
        sender.username,
    ):
        user.first_name = sender.first_name
        user.last_name = sender.last_name
        user.username = sender.username
    if user.blocked_bot:
        user.blocked_bot = False  # they wrote to us, so they have unblocked the bot
    return user, row


async def default_station(s: AsyncSession, ctx: ServiceContext) -> Station:
    """The configured station, created on first use so a fresh install works at once."""
    st = (
        await s.execute(select(Station).where(Station.code == ctx.station.code))
    ).scalar_one_or_none()
    if st is None:
        st = Station(
            code=ctx.station.code, name=ctx.station.name, ref_prefix=ctx.station.ref_prefix
        )
        s.add(st)
        await s.flush()
    return st


async def station_of(s: AsyncSession, ctx: ServiceContext, user: User) -> Station:
    if user.station_id is not None:
        st = await s.get(Station, user.station_id)
        if st is not None:
            return st
    st = await default_station(s, ctx)
    user.station_id = st.id
    return st


async def station_by_code(s: AsyncSession, code: str) -> Station | None:
    return (await s.execute(select(Station).where(Station.code == code))).scalar_one_or_none()


async def station_by_staff_chat(s: AsyncSession, chat_id: int) -> Station | None:
    return (
        await s.execute(select(Station).where(Station.staff_chat_id == chat_id))
    ).scalar_one_or_none()


async def role_of(s: AsyncSession, ctx: ServiceContext, user: User, station_id: int) -> Role:
    """The caller's role at a station: ADMIN_IDS first, then the station_roles table."""
    if user.tg_id in ctx.admin_ids:
        return Role.ADMIN
    role = (
        await s.execute(
            select(StationRole.role).where(
                StationRole.station_id == station_id, StationRole.user_id == user.id
            )
        )
    ).scalar_one_or_none()
    return Role(role) if role else Role.RESIDENT


def is_staff(role: Role) -> bool:
    return role in (Role.ADMIN, Role.STAFF)
