"""One person on two channels: `/link` (or 绑定账号) on one channel gives a short code; sending
`绑定账号 CODE` (or `/link CODE`) from the other joins that identity to the same person.

When both identities already belong to different people rows, the one with no data (no opinion,
role, task, rating … anything that references the person) is absorbed into the other: its
identities move over and its row is deleted. When both have data nothing is changed and the
person is told to ask staff: merging two histories is a decision for people, not for the bot.
Wrong codes are throttled per identity (5 an hour), since a guessed code would join a stranger.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

import texts.resident as rt
from domain.channels import Sender
from domain.message import Message
from services.kernel.context import ServiceContext
from services.kernel.people import Person, upsert_person
from storage.models import Base, Identity, LinkCode, User

CODE_TTL = timedelta(minutes=10)
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(hours=1)
# Tables whose rows belong to a person without being "their data".
OWN_TABLES = frozenset({"identities", "link_codes"})


async def start_link(ctx: ServiceContext, sender: Sender) -> Message:
    async with ctx.sessions.begin() as s:
        person, _ = await upsert_person(s, sender)
        now = ctx.clock.now()
        code = f"{secrets.randbelow(10**8):08d}"
        s.add(
            LinkCode(
                code=code,
                user_id=person.id,
                identity_id=person.identity.id,
                expires_at=now + CODE_TTL,
                created_at=now,
            )
        )
        return Message(rt.link_code(code, int(CODE_TTL.total_seconds() // 60)))


async def redeem(ctx: ServiceContext, sender: Sender, raw_code: str) -> Message:
    code = "".join(raw_code.split())
    if not code:
        return Message(rt.link_usage())
    async with ctx.sessions.begin() as s:
        person, _ = await upsert_person(s, sender)
        mine = await s.get(Identity, person.identity.id)
        assert mine is not None
        if _throttled(ctx, mine):
            return Message(rt.link_throttled())
        now = ctx.clock.now()
        row = (await s.execute(select(LinkCode).where(LinkCode.code == code))).scalar_one_or_none()
        if row is None or row.used_at is not None or row.expires_at < now:
            _fail(ctx, mine)
            return Message(rt.link_invalid())
        source = await s.get(Identity, row.identity_id)
        assert source is not None
        if source.channel == person.identity.channel:
            return Message(rt.link_same_channel())
        if source.user_id == person.id:
            return Message(rt.link_already())
        keep, gone = await _choose(s, source.user_id, person.id)
        if keep is None or gone is None:
            return Message(rt.link_both_have_data())
        row.used_at = now
        await _absorb(s, keep, gone, person)
        return Message(rt.link_done())


def _throttled(ctx: ServiceContext, identity: Identity) -> bool:
    since = identity.link_failed_at
    if since is None or ctx.clock.now() - since > FAILURE_WINDOW:
        identity.link_failures = 0
        return False
    return identity.link_failures >= MAX_FAILURES


def _fail(ctx: ServiceContext, identity: Identity) -> None:
    if identity.link_failures == 0:
        identity.link_failed_at = ctx.clock.now()
    identity.link_failures += 1


async def has_data(s: AsyncSession, user_id: int) -> bool:
    """Whether any row outside the person's own bookkeeping references them."""
    users = Base.metadata.tables["users"]
    for table in Base.metadata.sorted_tables:
        if table.name in OWN_TABLES:
            continue
        for fk in table.foreign_keys:
            if fk.column.table is users:
                found = await s.execute(
                    select(func.count()).select_from(table).where(fk.parent == user_id)
                )
                if found.scalar_one():
                    return True
    return False


async def _choose(s: AsyncSession, first: int, second: int) -> tuple[int | None, int | None]:
    """(the person who stays, the person absorbed); (None, None) when both have data."""
    if not await has_data(s, second):
        return first, second
    if not await has_data(s, first):
        return second, first
    return None, None


async def _absorb(s: AsyncSession, keep: int, gone: int, writer: Person) -> None:
    await s.execute(update(Identity).where(Identity.user_id == gone).values(user_id=keep))
    await s.execute(update(LinkCode).where(LinkCode.user_id == gone).values(user_id=keep))
    kept = await s.get(User, keep)
    absorbed = await s.get(User, gone)
    assert kept is not None and absorbed is not None
    if kept.station_id is None:
        kept.station_id = absorbed.station_id
    kept.subscribed = kept.subscribed or absorbed.subscribed
    kept.reach_identity_id = writer.identity.id  # they just wrote from here
    await s.flush()
    s.expunge(absorbed)
    await s.execute(delete(User).where(User.id == gone))
