"""Outbox retention: sent and dropped rows older than the retention period are deleted, a small
batch per transaction, as a step of the clock tick.

Rows are walked in id order from a watermark kept in bot_settings, so a tick with nothing old
enough reads one row; the backlog of a database that was never pruned is worked off a few
thousand rows per tick, each batch its own short transaction. Rows that are not finished
(pending, sending) or that record a failure (failed, undeliverable) are kept.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.states import OutboxStatus
from services.kernel.context import ServiceContext
from storage.models import Outbox, Setting
from storage.upsert import insert_for

WATERMARK = "outbox_pruned_through_id"
PRUNED = frozenset({OutboxStatus.SENT.value, OutboxStatus.DROPPED.value})
BATCH = 250
BATCHES_PER_TICK = 8


async def prune_outbox(
    ctx: ServiceContext, keep: timedelta, *, batch: int = BATCH, batches: int = BATCHES_PER_TICK
) -> int:
    """Delete sent and dropped rows created before now - `keep`; returns how many went."""
    cutoff = ctx.clock.now() - keep
    deleted = 0
    for n in range(batches):
        if n:
            await asyncio.sleep(0)  # the chat's statements get the connection in between
        async with ctx.sessions.begin() as s:
            after = await _watermark(s)
            if not await _old_rows_after(s, after, cutoff):
                break
            rows = (
                await s.execute(
                    select(Outbox.id, Outbox.status, Outbox.created_at)
                    .where(Outbox.id > after)
                    .order_by(Outbox.id)
                    .limit(batch)
                )
            ).all()
            old = []
            for row in rows:
                if row.created_at >= cutoff:
                    break
                old.append(row)
            gone = [r.id for r in old if r.status in PRUNED]
            if gone:
                await s.execute(delete(Outbox).where(Outbox.id.in_(gone)))
            if old:
                await _set_watermark(s, old[-1].id)
            deleted += len(gone)
        if len(old) < batch:
            break
    return deleted


async def _old_rows_after(s: AsyncSession, after: int, cutoff: datetime) -> bool:
    """Whether the next row is old enough: a tick with nothing to prune reads one row."""
    first = (
        await s.execute(
            select(Outbox.created_at).where(Outbox.id > after).order_by(Outbox.id).limit(1)
        )
    ).scalar_one_or_none()
    return first is not None and first < cutoff


async def _watermark(s: AsyncSession) -> int:
    value = (
        await s.execute(select(Setting.value).where(Setting.key == WATERMARK))
    ).scalar_one_or_none()
    return int(value) if value else 0


async def _set_watermark(s: AsyncSession, row_id: int) -> None:
    stmt = insert_for(s, Setting).values(key=WATERMARK, value=str(row_id))
    await s.execute(
        stmt.on_conflict_do_update(index_elements=["key"], set_={"value": stmt.excluded.value})
    )
