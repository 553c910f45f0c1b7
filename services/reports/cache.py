"""Keywords and hot issues of a period, kept in report_cache while its opinions stay the same.

Neither is a sum over days (report_days), and each costs a sample read and jieba or clustering
(0.1–1 s at a million opinions). The stamp says which opinions a result came from: how many
the period has (from report_days), the latest receipt, and the sample size; a new opinion in
the period, a merge or another sample size makes it stale.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.lifecycle import Status
from domain.periods import Period
from services.kernel.context import ServiceContext
from services.reports import daily
from services.reports.aggregates import within
from storage.models import Opinion, ReportCache

log = logging.getLogger(__name__)


def period_key(period: Period) -> str:
    return "all" if period.start is None else f"{period.start}/{period.end}"


async def texts_and_stamp(
    s: AsyncSession, ctx: ServiceContext, station_id: int, period: Period, sample: int
) -> tuple[int, str]:
    """How many of the period's opinions count (merged duplicates left out), and the stamp."""
    lo, hi = period.bounds(ctx.tz)
    f = await daily.figures(s, ctx, station_id, lo, hi)
    total = sum(n for _, status, n in f.received if status != Status.DUPLICATE)
    latest: datetime | None = await s.scalar(
        select(func.max(Opinion.created_at)).where(
            Opinion.station_id == station_id, *within(Opinion.created_at, lo, hi)
        )
    )
    return total, f"{sample}:{total}:{latest.isoformat() if latest else '-'}"


async def get(
    s: AsyncSession, station_id: int, kind: str, period: Period, stamp: str
) -> Any | None:
    found, fresh = await lookup(s, station_id, kind, period, stamp, 0, 0)
    return found if fresh else None


async def lookup(
    s: AsyncSession, station_id: int, kind: str, period: Period, stamp: str, total: int, sample: int
) -> tuple[Any | None, bool]:
    """(the kept value, whether it is fresh). A stale value is still given for a period
    larger than the sample (a big station: recomputing costs up to a second, and a few new
    opinions hardly move a sample's keywords or issues); the caller refreshes it in the
    background (`later`). A different sample size is never reused."""
    row = (
        await s.execute(
            select(ReportCache.stamp, ReportCache.value).where(
                ReportCache.station_id == station_id,
                ReportCache.kind == kind,
                ReportCache.period == period_key(period),
            )
        )
    ).first()
    if row is None:
        return None, False
    if row[0] == stamp:
        return row[1], True
    same_sample = str(row[0]).split(":")[0] == stamp.split(":")[0]
    return (row[1], False) if same_sample and total > sample else (None, False)


_later: dict[tuple[Any, ...], asyncio.Task[None]] = {}


def later(key: tuple[Any, ...], work: Callable[[], Awaitable[Any]]) -> None:
    """Run `work` (recompute and keep a stale value) in the background, once per key."""
    if key in _later:
        return

    async def run() -> None:
        try:
            await work()
        except Exception:
            log.warning("refreshing %s failed", key, exc_info=True)

    task = asyncio.ensure_future(run())
    _later[key] = task
    task.add_done_callback(lambda _: _later.pop(key, None))


async def put(
    ctx: ServiceContext, station_id: int, kind: str, period: Period, stamp: str, value: Any
) -> None:
    """Keep `value` (JSON) for the period, in a short transaction of its own."""
    async with ctx.sessions.begin() as s:
        await s.execute(
            delete(ReportCache).where(
                ReportCache.station_id == station_id,
                ReportCache.kind == kind,
                ReportCache.period == period_key(period),
            )
        )
        s.add(
            ReportCache(
                station_id=station_id,
                kind=kind,
                period=period_key(period),
                stamp=stamp,
                value=value,
            )
        )
