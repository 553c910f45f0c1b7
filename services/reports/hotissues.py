"""Hot issues (每月一题) for /stats and the briefing: the period's opinions grouped into
recurring issues (domain.hotissues), each with its count and one example.

Clustering 10,000 opinions costs about 0.4 s of CPU, so it runs in a worker thread and its
result is kept: the same opinions (ids and texts, hashed) give the same issues, so /stats
asked again, or the briefing job after it, reuses them.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from dataclasses import dataclass, replace

from sqlalchemy import select

import texts.reports as tr
from domain.hotissues import cluster
from domain.lifecycle import Status
from domain.message import Rich
from domain.periods import Period
from services.kernel.context import ServiceContext
from storage.models import Opinion

SHOWN = 5  # issues shown
MIN_SIZE = 3  # opinions for an issue to count as recurring
# A period with more opinions is clustered on an even sample of about this many (every n-th id),
# its counts scaled back by n: a month of a city-sized station (28,000 opinions) or all time
# (1,000,000) then costs what 2,000 do (issue 12: /stats under 300 ms for any period).
SAMPLE = 2_000
_CACHE_SIZE = 32
_cache: OrderedDict[bytes, tuple[HotIssue, ...]] = OrderedDict()
# This process's results by (station, period, stamp): no read at all while nothing changed.
_stamped: dict[tuple[int, int, str, str], tuple[HotIssue, ...]] = {}


@dataclass(frozen=True)
class HotIssue:
    count: int
    ref_no: str  # the example's
    example: str
    terms: tuple[str, ...]


def _digest(rows: list[tuple[int, str, str]]) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for oid, _, text in rows:
        h.update(oid.to_bytes(8, "little", signed=True))
        h.update(text.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.digest()


def _issues(rows: list[tuple[int, str, str]]) -> tuple[HotIssue, ...]:
    found = cluster([t for _, _, t in rows], list(range(len(rows))), min_size=MIN_SIZE, limit=SHOWN)
    return tuple(
        HotIssue(c.count, rows[c.representative][1], rows[c.representative][2], c.terms)
        for c in found
    )


async def hot_issues(ctx: ServiceContext, station_id: int, period: Period) -> tuple[HotIssue, ...]:
    """The period's biggest recurring issues (merged duplicates left out), biggest first; kept
    in report_cache while the period's opinions stay the same (services.reports.cache)."""
    from services.reports import cache

    async with ctx.sessions.begin() as s:
        total, stamp = await cache.texts_and_stamp(s, ctx, station_id, period, SAMPLE)
        memo = (id(ctx.sessions), station_id, cache.period_key(period), stamp)
        if memo in _stamped:
            return _stamped[memo]
        kept, fresh = await cache.lookup(s, station_id, "hot", period, stamp, total, SAMPLE)
    if kept is not None:
        found = tuple(HotIssue(n, ref, ex, tuple(terms)) for n, ref, ex, terms in kept)
        if fresh:
            return _remember(memo, found)
        key = ("hot", id(ctx.sessions), station_id, cache.period_key(period))
        cache.later(key, lambda: _compute(ctx, station_id, period, total, stamp))
        return found
    return await _compute(ctx, station_id, period, total, stamp)


async def _compute(
    ctx: ServiceContext, station_id: int, period: Period, total: int, stamp: str
) -> tuple[HotIssue, ...]:
    """Cluster the period's opinions (an even sample past SAMPLE) and keep the result."""
    from services.reports import cache

    lo, hi = period.bounds(ctx.tz)
    query = select(Opinion.id, Opinion.ref_no, Opinion.text).where(
        Opinion.station_id == station_id, Opinion.status != Status.DUPLICATE
    )
    if lo is not None:
        query = query.where(Opinion.created_at >= lo)
    if hi is not None:
        query = query.where(Opinion.created_at < hi)
    step = -(-total // SAMPLE) if total > SAMPLE else 1
    if step > 1:
        query = query.where(Opinion.id % step == 0)
    async with ctx.sessions() as s:
        rows = [(int(i), r, t) for i, r, t in (await s.execute(query.order_by(Opinion.id))).all()]
    found = await _clustered(rows, step)
    value = [[h.count, h.ref_no, h.example, list(h.terms)] for h in found]
    await cache.put(ctx, station_id, "hot", period, stamp, value)
    return _remember((id(ctx.sessions), station_id, cache.period_key(period), stamp), found)


def _remember(memo: tuple[int, int, str, str], found: tuple[HotIssue, ...]) -> tuple[HotIssue, ...]:
    _stamped[memo] = found
    while len(_stamped) > _CACHE_SIZE:
        _stamped.pop(next(iter(_stamped)))
    return found


async def _clustered(rows: list[tuple[int, str, str]], step: int) -> tuple[HotIssue, ...]:
    if len(rows) < MIN_SIZE:
        return ()
    key = _digest(rows)
    found = _cache.get(key)
    if found is None:
        found = await asyncio.to_thread(_issues, rows)
        if step > 1:
            found = tuple(replace(h, count=h.count * step) for h in found)
        _cache[key] = found
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    else:
        _cache.move_to_end(key)
    return found


async def hot_issues_text(ctx: ServiceContext, station_id: int, period: Period) -> Rich | None:
    """The block /stats and the briefing end with; None when nothing recurs."""
    found = await hot_issues(ctx, station_id, period)
    if not found:
        return None
    return tr.hot_issues_block([(h.count, h.ref_no, h.example, h.terms) for h in found])
