"""The 工作简报: the period's figures, keywords, growing themes and the chart."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import texts.reports as tr
from domain.message import Rich
from domain.periods import Period
from domain.workdays import WorkCalendar
from services.kernel.context import ServiceContext
from services.reports import cache
from services.reports.hotissues import hot_issues_text
from services.reports.stats import (
    BRIEFING_SECTIONS,
    Stats,
    collect_stats,
    overdue_lines,
    period_texts,
    render_chart,
    satisfaction_line,
    theme_counts,
    with_sections,
)
from storage.models import Station

KEYWORDS_TOP = 10
# Keywords come from at most about this many of the period's texts (an even sample beyond it):
# jieba's tagging costs about the same per character whatever the period.
KEYWORD_SAMPLE = 400
GROWTH_TOP = 3
# Words that occur in almost every opinion and say nothing about this period's concerns. Chosen by
# reading extract_tags output over real-looking opinions: they crowd out 电梯, 停车, 助餐 ...
_STOP = """
    希望 问题 社区 小区 居民 老人 群众 反映 建议 能否 能不能 可以 一下 一个 没有 现在 目前
    非常 比较 真的 很多 很大 我们 他们 大家 自己 这个 那个 这里 那里 因为 所以 但是 而且
    已经 还是 就是 不是 什么 怎么 为什么 如何 有关 相关 部门 政府 领导 代表 同志 情况
    解决 处理 协调 落实 尽快 及时 加强 提高 增加 一些 有些 经常 总是 每天 每次 时候 附近
    影响 存在 出现 需要 要求 请求 呼吁 麻烦 谢谢 感谢 您好 你好 不便 不方便 方便 意见 服务
"""
STOP_WORDS = frozenset(_STOP.split())
# Parts of speech worth showing: nouns, names, verbal nouns, idioms, and "x", which is what jieba
# tags the domain dictionary's words with (助餐点, 加装电梯 carry no tag in userdict.txt).
KEYWORD_POS = ("n", "nr", "ns", "nt", "nz", "vn", "l", "x")


@dataclass(frozen=True)
class Briefing:
    """A 工作简报: the text for the chat and the chart (None when it could not be drawn)."""

    text: Rich
    chart: bytes | None
    stats: Stats
    keywords: list[str]
    growth: list[tuple[str, int, int]]


# ---- keywords and growth ------------------------------------------------------------------------


_extractor: Any = None
_extractor_lock = threading.Lock()


def _keyword_extractor() -> Any:
    """jieba's TF-IDF extractor on the classifier's tokenizer, so 助餐点 and 加装电梯 stay whole.

    Built once (it loads jieba's IDF table and word tags); jieba's global tokenizer would lack the
    domain dictionary and write its cache to /tmp.
    """
    global _extractor
    with _extractor_lock:
        if _extractor is None:
            import jieba.analyse
            import jieba.posseg

            from domain.classifier.segment import tokenizer

            tok = tokenizer()
            extractor = jieba.analyse.TFIDF()
            extractor.tokenizer = tok
            extractor.postokenizer = jieba.posseg.POSTokenizer(tok)
            _extractor = extractor
        return _extractor


def top_keywords(texts: Sequence[str], k: int = KEYWORDS_TOP) -> list[str]:
    """jieba's TF-IDF keywords over the texts, without words every opinion contains."""
    if not texts:
        return []
    body = "\n".join(texts)
    found = _keyword_extractor().extract_tags(body, topK=k * 4, allowPOS=KEYWORD_POS)
    out: list[str] = []
    for word in found:
        w = str(word).strip()
        if len(w) < 2 or w in STOP_WORDS or w.isdigit():
            continue
        out.append(w)
        if len(out) == k:
            break
    return out


def theme_growth(
    ctx: ServiceContext, now: dict[str, int], before: dict[str, int], top: int = GROWTH_TOP
) -> list[tuple[str, int, int]]:
    """Themes with the largest increase over the previous period: (label, now, before)."""
    rows = [
        (ctx.theme_label(theme), n, before.get(theme, 0))
        for theme, n in now.items()
        if n > before.get(theme, 0)
    ]
    rows.sort(key=lambda r: (-(r[1] - r[2]), -r[1], r[0]))
    return rows[:top]


async def build_briefing(
    ctx: ServiceContext,
    station_id: int,
    period: Period,
    calendar: WorkCalendar | None = None,
) -> Briefing:
    """The 工作简报 for one station and period: used on demand and by the scheduler."""
    async with ctx.sessions.begin() as s:
        station = await s.get(Station, station_id)
        if station is None:
            raise LookupError(f"no station {station_id}")
        stats, source, before = await briefing_inputs(
            s, ctx, station, period, calendar or WorkCalendar()
        )
    return await finish_briefing(ctx, stats, source, before)


@dataclass(frozen=True)
class KeywordSource:
    """Where the briefing's keywords come from: the kept ones (report_cache), or texts."""

    texts: list[str]
    kept: list[str] | None
    stamp: str


async def briefing_inputs(
    s: AsyncSession, ctx: ServiceContext, station: Station, period: Period, calendar: WorkCalendar
) -> tuple[Stats, KeywordSource, dict[str, int]]:
    """The figures, the keywords' source, and the previous period's themes."""
    stats = await collect_stats(s, ctx, station, period, calendar, BRIEFING_SECTIONS)
    total, stamp = await cache.texts_and_stamp(s, ctx, station.id, period, KEYWORD_SAMPLE)
    kept, fresh = await cache.lookup(
        s, station.id, "keywords", period, stamp, total, KEYWORD_SAMPLE
    )
    if kept is not None and not fresh:  # a big period, changed since: refreshed meanwhile
        key = ("keywords", id(ctx.sessions), station.id, cache.period_key(period))
        cache.later(key, lambda: _keep_keywords(ctx, station.id, period, total, stamp))
    texts = (
        await period_texts(s, station.id, period, ctx.tz, total, KEYWORD_SAMPLE)
        if kept is None
        else []
    )
    previous = period.previous()
    before = await theme_counts(s, ctx, station.id, previous) if previous else {}
    return stats, KeywordSource(texts, None if kept is None else list(kept), stamp), before


async def _keep_keywords(
    ctx: ServiceContext, station_id: int, period: Period, total: int, stamp: str
) -> None:
    async with ctx.sessions() as s:
        texts = await period_texts(s, station_id, period, ctx.tz, total, KEYWORD_SAMPLE)
    keywords = await asyncio.to_thread(top_keywords, texts)
    await cache.put(ctx, station_id, "keywords", period, stamp, keywords)


async def finish_briefing(
    ctx: ServiceContext,
    stats: Stats,
    source: KeywordSource,
    before: dict[str, int],
    draw: bool = True,
) -> Briefing:
    """The briefing's text, and its chart unless `draw` is False (the caller draws it)."""
    # The chart is drawn while the keywords are found.
    drawing = asyncio.ensure_future(render_chart(stats) if draw else _no_chart())
    keywords = source.kept
    if keywords is None:
        keywords = await asyncio.to_thread(top_keywords, source.texts)
        await cache.put(ctx, stats.station_id, "keywords", stats.period, source.stamp, keywords)
    hot = await hot_issues_text(ctx, stats.station_id, stats.period)
    growth = theme_growth(ctx, stats.theme_counts(), before) if stats.period.previous() else []
    text = tr.briefing_text(
        stats.station_name,
        stats.period.label(),
        stats.received,
        stats.assigned,
        stats.closed,
        overdue_lines(stats),
        satisfaction_line(stats),
        growth,
        keywords,
        ctx.clock.now().astimezone(ctx.tz),
        overdue_total=stats.overdue_total,
        out_of_scope=stats.out_of_scope,
        hot_issues=hot,
    )
    text = with_sections(text, stats)
    chart = await drawing
    if chart is None and draw:
        text = text + "\n" + tr.chart_unavailable()
    return Briefing(text, chart, stats, keywords, growth)


async def _no_chart() -> None:
    return None


BriefingSender = Callable[[Any, Briefing], Awaitable[None]]


async def post_briefing(
    ctx: ServiceContext,
    station_id: int,
    period: Period,
    send: BriefingSender,
    calendar: WorkCalendar | None = None,
) -> bool:
    """Build the briefing and hand it to `send(staff_chat_id, briefing)`.

    False (nothing built) when the station has no staff chat bound yet.
    """
    from services.kernel.people import staff_chat

    async with ctx.sessions() as s:
        station = await s.get(Station, station_id)
        chat = staff_chat(station) if station else None
    if chat is None:
        return False
    await send(chat, await build_briefing(ctx, station_id, period, calendar))
    return True
