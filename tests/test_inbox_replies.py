"""The inbox's batch store, reply records and grouped done-marks, and the reply gate
(services.kernel.reply_gate), on both engines: what a crash can double is one message."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial

from sqlalchemy import select

from domain.channels import Channel
from domain.clock import ManualClock
from services.kernel.context import ServiceContext
from services.kernel.inbox import Inbox
from services.kernel.reply_gate import Replies
from storage.models import InboxEntry

LEASE = timedelta(seconds=30)


def inbox(ctx: ServiceContext, owner: str) -> Inbox:
    return Inbox(ctx, Channel.TELEGRAM, owner=owner, lease=LEASE)


async def rows(ctx: ServiceContext) -> dict[str, tuple[str, int]]:
    async with ctx.sessions() as s:
        found = (await s.execute(select(InboxEntry))).scalars()
        return {r.key: (r.state, r.replied) for r in found}


async def test_a_batch_is_stored_once_and_says_which_are_new(ctx: ServiceContext) -> None:
    box = inbox(ctx, "me")
    assert await box.store("1", {"update_id": 1})
    new = await box.store_many([(str(n), {"update_id": n}) for n in (1, 2, 3)])
    assert new == {"2", "3"}
    assert await box.store_many([("3", {}), ("4", {})]) == {"4"}
    assert box.held == {"1", "2", "3", "4"}
    assert set(await rows(ctx)) == {"1", "2", "3", "4"}


async def test_sent_replies_are_not_sent_again_after_a_crash(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    dead, alive = inbox(ctx, "dead"), inbox(ctx, "alive")
    await dead.store_many([("10", {}), ("11", {}), ("12", {})])
    await dead.reply_sent("10", 1, last=False)  # two messages to send, the first one went
    await dead.reply_sent("11", 1, last=True)  # answered: done with its one message
    clock.advance(LEASE + timedelta(seconds=1))
    claimed = {c.key: c.replied for c in await alive.claim()}
    assert claimed == {"10": 1, "12": 0}
    gate = Replies(alive)
    sent: list[str] = []

    async def send(text: str) -> str:
        sent.append(text)
        return text

    for key, n in (("10", 2), ("12", 1)):
        for i in range(n):
            await gate.send(key, i, partial(send, f"{key}/{i}"), last=i == n - 1)
        alive.finish_soon(key)
    assert sent == ["10/1", "12/0"]
    await alive.flush()
    assert await rows(ctx) == {"10": ("done", 2), "11": ("done", 1), "12": ("done", 1)}
    assert alive.held == set()


async def test_done_marks_without_replies_share_a_transaction(ctx: ServiceContext) -> None:
    box = inbox(ctx, "me")
    await box.store_many([(str(n), {}) for n in range(20, 26)])
    for n in range(20, 26):
        box.finish_soon(str(n))
    assert box.held == {str(n) for n in range(20, 26)}  # leases kept until written
    assert {state for state, _ in (await rows(ctx)).values()} == {"processing"}
    await box.release()  # a clean stop writes them first
    assert {state for state, _ in (await rows(ctx)).values()} == {"done"}


async def test_one_reply_in_flight_per_process(ctx: ServiceContext) -> None:
    """However many updates are handled at once, a second reply leaves only after the first
    was recorded as sent."""
    box = inbox(ctx, "me")
    await box.store_many([(str(n), {}) for n in range(30, 40)])
    gate = Replies(box, in_flight=1)
    flying: list[int] = []
    most = 0

    async def send(key: str) -> str:
        nonlocal most
        flying.append(1)
        most = max(most, len(flying))
        await asyncio.sleep(0)  # the HTTP round trip: other tasks run meanwhile
        flying.pop()
        return key

    await asyncio.gather(
        *(gate.send(str(n), 0, partial(send, str(n)), last=True) for n in range(30, 40))
    )
    assert most == 1
    assert {replied for _, replied in (await rows(ctx)).values()} == {1}
