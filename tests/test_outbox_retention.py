"""Outbox retention: old sent and dropped rows go, in small batches; everything else stays."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from domain.channels import Address, Channel
from domain.clock import ManualClock
from domain.message import Message, Rich
from domain.states import MessageKind, OutboxStatus
from services.kernel import outbox
from services.kernel.context import ServiceContext
from services.kernel.retention import prune_outbox
from storage.models import Outbox

CHAT = Address(Channel.TELEGRAM, "-1001")
KEEP = timedelta(days=90)


async def _row(ctx: ServiceContext, key: str, status: OutboxStatus, age_days: int) -> None:
    async with ctx.sessions.begin() as s:
        await outbox.enqueue(
            s,
            key=key,
            to=CHAT,
            message=Message(Rich.plain_text(key)),
            kind=MessageKind.STAFF,
            due_at=ctx.clock.now() - timedelta(days=age_days),
        )
        await s.execute(update(Outbox).where(Outbox.key == key).values(status=status))


async def _keys(ctx: ServiceContext) -> list[str]:
    async with ctx.sessions() as s:
        return list((await s.execute(select(Outbox.key).order_by(Outbox.id))).scalars())


async def test_old_sent_and_dropped_rows_are_deleted_in_batches(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    plan = [
        ("old-sent-1", OutboxStatus.SENT, 200),
        ("old-dropped", OutboxStatus.DROPPED, 150),
        ("old-failed", OutboxStatus.FAILED, 140),
        ("old-undeliverable", OutboxStatus.UNDELIVERABLE, 130),
        ("old-sent-2", OutboxStatus.SENT, 120),
        ("old-pending", OutboxStatus.PENDING, 100),
        ("old-sent-3", OutboxStatus.SENT, 95),
        ("young-sent", OutboxStatus.SENT, 30),
        ("old-sent-after-young", OutboxStatus.SENT, 100),
        ("young-pending", OutboxStatus.PENDING, 0),
    ]
    for key, status, age in plan:
        await _row(ctx, key, status, age)
    # Two rows a batch, two batches a tick: the first tick sees four rows.
    assert await prune_outbox(ctx, KEEP, batch=2, batches=2) == 2
    assert await _keys(ctx) == [k for k, _, _ in plan if k not in ("old-sent-1", "old-dropped")]
    # The next tick goes on from where the last stopped, up to the first young row.
    assert await prune_outbox(ctx, KEEP, batch=2, batches=5) == 2
    kept = [
        k for k, _, _ in plan if k not in ("old-sent-1", "old-dropped", "old-sent-2", "old-sent-3")
    ]
    assert await _keys(ctx) == kept
    assert await prune_outbox(ctx, KEEP, batch=2, batches=5) == 0
    # Time passes: the young row and the one behind it age out too.
    clock.advance(timedelta(days=61))
    assert await prune_outbox(ctx, KEEP, batch=2, batches=5) == 2
    assert "young-sent" not in await _keys(ctx) and "old-pending" in await _keys(ctx)
