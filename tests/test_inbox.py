"""The durable inbox (services.kernel.inbox) on both engines: stored once, leased, handed back
after a crash, retried after a failure, pruned; and its migration up and down."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import inspect, select

from domain.channels import Channel
from domain.clock import ManualClock
from domain.states import InboxState
from services.kernel.context import ServiceContext
from services.kernel.inbox import Inbox
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import InboxEntry

LEASE = timedelta(seconds=30)


def inbox(ctx: ServiceContext, owner: str, channel: Channel = Channel.TELEGRAM) -> Inbox:
    return Inbox(ctx, channel, owner=owner, lease=LEASE, max_attempts=2)


async def states(ctx: ServiceContext) -> dict[str, tuple[str, int]]:
    async with ctx.sessions() as s:
        rows = (await s.execute(select(InboxEntry))).scalars()
        return {f"{r.channel}:{r.key}": (r.state, r.attempts) for r in rows}


async def test_an_event_is_stored_once_per_channel(ctx: ServiceContext) -> None:
    a = inbox(ctx, "a")
    assert await a.store("100", {"update_id": 100})
    assert not await a.store("100", {"update_id": 100})  # a re-delivery
    assert await inbox(ctx, "a", Channel.DINGTALK).store("100", {"x": 1})  # another channel
    assert a.held == {"100"}
    assert await states(ctx) == {
        "telegram:100": ("processing", 1),
        "dingtalk:100": ("processing", 1),
    }


async def test_a_dead_process_s_events_are_claimed_after_its_lease(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    dead, alive = inbox(ctx, "dead"), inbox(ctx, "alive")
    for key in ("1", "2", "3"):
        await dead.store(key, {"n": int(key)})
    await dead.finish("2")
    assert await alive.claim() == []  # still leased
    clock.advance(LEASE + timedelta(seconds=1))
    claimed = await alive.claim()
    assert [(c.key, c.payload, c.attempts) for c in claimed] == [
        ("1", {"n": 1}, 2),
        ("3", {"n": 3}, 2),
    ]
    assert await inbox(ctx, "third").claim() == []  # leased to `alive` now
    assert alive.held == {"1", "3"}


async def test_renewed_leases_are_not_claimed(ctx: ServiceContext, clock: ManualClock) -> None:
    busy, other = inbox(ctx, "busy"), inbox(ctx, "other")
    await busy.store("7", {})
    clock.advance(LEASE - timedelta(seconds=1))
    await busy.renew()
    clock.advance(timedelta(seconds=2))
    assert await other.claim() == []
    clock.advance(LEASE)
    assert [c.key for c in await other.claim()] == ["7"]


async def test_what_a_process_still_holds_is_not_handed_out_twice(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    """A stalled loop missed its renewal: the row is still being handled here, not queued
    again; one this process lost track of (its finish failed) is taken up again."""
    box = inbox(ctx, "me")
    await box.store("1", {})
    await box.store("2", {})
    box.held.discard("2")  # as when recording it done failed
    clock.advance(LEASE + timedelta(seconds=1))
    assert [c.key for c in await box.claim()] == ["2"]
    assert box.held == {"1", "2"}


async def test_a_failure_is_retried_then_given_up(ctx: ServiceContext, clock: ManualClock) -> None:
    box = inbox(ctx, "me")
    await box.store("9", {})
    await box.fail("9", "OperationalError('database is locked')")
    assert await states(ctx) == {"telegram:9": ("pending", 1)}
    assert await box.claim() == []  # not before retry_after
    clock.advance(box.retry_after)
    assert [c.attempts for c in await box.claim()] == [2]
    await box.fail("9", "again")
    assert await states(ctx) == {"telegram:9": (InboxState.FAILED.value, 2)}
    clock.advance(timedelta(hours=1))
    assert await box.claim() == []


async def test_release_hands_events_back_at_once(ctx: ServiceContext) -> None:
    stopping, next_one = inbox(ctx, "stopping"), inbox(ctx, "next")
    await stopping.store("5", {})
    await stopping.store("6", {})
    await stopping.finish("6")
    await stopping.release()
    assert [c.key for c in await next_one.claim()] == ["5"]


async def test_old_done_rows_are_pruned(ctx: ServiceContext, clock: ManualClock) -> None:
    box = inbox(ctx, "me")
    await box.store("old", {})
    await box.finish("old")
    await box.store("open", {})
    clock.advance(timedelta(hours=49))
    await box.store("new", {})
    await box.finish("new")
    assert await box.prune(timedelta(hours=48)) == 1
    assert set(await states(ctx)) == {"telegram:open", "telegram:new"}


def test_migration_0005_up_and_down(db_url: str) -> None:
    def tables() -> set[str]:
        async def read() -> set[str]:
            engine = make_engine(db_url)
            try:
                async with engine.connect() as conn:
                    return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            finally:
                await engine.dispose()

        return asyncio.run(read())

    assert "inbox" in tables()
    upgrade_down(db_url, "0002_channels")
    assert "inbox" not in tables()
    assert "opinions" in tables()
    upgrade(db_url)
    assert "inbox" in tables()


def upgrade_down(url: str, revision: str) -> None:
    from alembic import command

    from storage.migrate import alembic_config

    command.downgrade(alembic_config(url), revision)


async def test_first_opinions_at_once_on_an_empty_database(ctx: ServiceContext) -> None:
    """Found by the kill -9 run on PostgreSQL: concurrent first messages each created the
    default station; all but one failed on its unique code and the resident got an error."""
    from services.intake import IntakeService
    from tests.support import chat, tg

    intake = IntakeService(ctx)
    replies = await asyncio.gather(
        *(
            intake.submit_text(
                tg(300 + n), chat(300 + n), "1", f"第{n}号楼的路灯坏了很久了，请尽快修好。", None
            )
            for n in range(8)
        )
    )
    assert all("受理编号" in r.text.plain for r in replies)
