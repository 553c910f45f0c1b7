"""People and their identities, stations. A person is a users row; each channel account they
write from is an identity (channel, external id). Every lookup by sender goes through here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.channels import Address, Channel, Sender
from services.kernel.context import ServiceContext
from storage.models import Identity, Station, User, utcnow
from storage.queries.people import PERSON, REACH
from storage.upsert import insert_for


@dataclass(frozen=True, slots=True)
class IdentityRef:
    """The identity a person wrote from (read as columns; load the row to change it)."""

    id: int
    channel: str
    external_id: str


@dataclass(frozen=True, slots=True)
class Person:
    user: User
    identity: IdentityRef

    @property
    def id(self) -> int:
        return self.user.id


async def upsert_person(
    s: AsyncSession,
    sender: Sender,
    query: Select[Any] = PERSON,
    params: dict[str, Any] | None = None,
) -> tuple[Person, Row[Any]]:
    """The person behind `sender`, created on first contact; names refreshed from the channel.

    Returns the row `query` (a `person_query()`) read too, for callers' extra columns.
    """
    bound = {"channel": sender.channel.value, "external_id": sender.external_id, **(params or {})}
    row = (await s.execute(query, bound)).first()
    if row is None:
        await _create(s, sender)
        row = (await s.execute(query, bound)).one()
    identity_id, first, last, username, blocked = row[:5]
    user: User = row[5]
    if row[6] is not None:
        # The session's identity map holds objects weakly: keep the station alive for this
        # session so station_of() finds it there instead of selecting it again.
        s.info["user_station"] = row[6]
    names = (sender.first_name, sender.last_name, sender.username)
    if (first, last, username) != names or blocked:
        # New names from the channel; and they wrote to us, so they have unblocked the bot.
        await s.execute(
            update(Identity)
            .where(Identity.id == identity_id)
            .values(first_name=names[0], last_name=names[1], username=names[2], blocked=False)
        )
    if (user.first_name, user.last_name, user.username) != names:
        user.first_name, user.last_name, user.username = names
    if user.reach_identity_id != identity_id:
        user.reach_identity_id = identity_id  # reach them where they last wrote from
    ref = IdentityRef(identity_id, sender.channel.value, sender.external_id)
    return Person(user, ref), row


async def _create(s: AsyncSession, sender: Sender) -> None:
    """A new person with this identity; two first messages racing create one (the loser's user
    row is removed again)."""
    now = utcnow()
    user_id = (
        await s.execute(
            insert(User)
            .values(
                first_name=sender.first_name,
                last_name=sender.last_name,
                username=sender.username,
                subscribed=False,
                created_at=now,
                updated_at=now,
            )
            .returning(User.id)
        )
    ).scalar_one()
    done = await s.execute(
        insert_for(s, Identity)
        .values(
            user_id=user_id,
            channel=sender.channel.value,
            external_id=sender.external_id,
            first_name=sender.first_name,
            last_name=sender.last_name,
            username=sender.username,
            blocked=False,
            link_failures=0,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
    )
    if not getattr(done, "rowcount", 0):
        await s.execute(delete(User).where(User.id == user_id))


async def upsert_user(s: AsyncSession, sender: Sender) -> User:
    person, _ = await upsert_person(s, sender)
    return person.user


async def find_identity(s: AsyncSession, channel: Channel, external_id: str) -> Identity | None:
    return (
        await s.execute(
            select(Identity).where(
                Identity.channel == channel.value, Identity.external_id == external_id
            )
        )
    ).scalar_one_or_none()


async def reach(s: AsyncSession, user_ids: list[int]) -> dict[int, Address]:
    """Where to write to each person: the private chat of the identity they last wrote from,
    else of any unblocked identity they have (none: every identity blocked the bot)."""
    if not user_ids:
        return {}
    found: dict[int, Address] = {}
    for user_id, identity_id, channel, external_id, reach_id in (
        await s.execute(REACH, {"users": sorted(set(user_ids))})
    ).all():
        if user_id not in found or identity_id == reach_id:
            found[user_id] = Address(Channel(channel), external_id)
    return found


async def reach_one(s: AsyncSession, user_id: int) -> Address | None:
    return (await reach(s, [user_id])).get(user_id)


async def default_station(s: AsyncSession, ctx: ServiceContext) -> Station:
    """The configured station, created on first use so a fresh install works at once."""
    st = (
        await s.execute(select(Station).where(Station.code == ctx.station.code))
    ).scalar_one_or_none()
    if st is None:
        # Several first messages at once (several instances, or one with concurrent updates on
        # PostgreSQL) each try to create it: one INSERT wins, the others read its row.
        await s.execute(
            insert_for(s, Station.__table__)
            .values(
                code=ctx.station.code,
                name=ctx.station.name,
                ref_prefix=ctx.station.ref_prefix,
                created_at=ctx.clock.now(),
            )
            .on_conflict_do_nothing(index_elements=["code"])
        )
        st = (await s.execute(select(Station).where(Station.code == ctx.station.code))).scalar_one()
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


async def station_by_staff_chat(s: AsyncSession, chat: Address) -> Station | None:
    return (
        await s.execute(
            select(Station).where(
                Station.staff_channel == chat.channel.value, Station.staff_chat_id == chat.id
            )
        )
    ).scalar_one_or_none()


def staff_chat(station: Station) -> Address | None:
    if station.staff_chat_id is None or station.staff_channel is None:
        return None
    return Address(Channel(station.staff_channel), station.staff_chat_id)
