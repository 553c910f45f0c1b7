"""Keywords and hot issues of a period, kept in report_cache while its opinions stay the same.

Neither is a sum over days (report_days), and each costs a sample read and jieba or clustering
(0.1–1 s at a million opinions). The stamp says which opinions a result came from: how many
the period has (from report_days), the latest receipt, and the sample size; a new opinion in
the period, a merge or another sample size makes it stale.
"""

from __future__ import annotations

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
    row = (
        await s.execute(
            select(ReportCache.stamp, ReportCache.value).where(
                ReportCache.station_id == station_id,
                ReportCache.kind == kind,
                ReportCache.period == period_key(period),
            )
        )
    ).first()
    return row[1] if row is not None and row[0] == stamp else None


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
