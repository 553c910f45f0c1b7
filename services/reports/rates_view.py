"""The three rates as staff read them: lines for /stats and the briefing, a chart panel, and the
ledger export's 三率 sheet rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import texts.rates as rtx
from domain.message import Rich
from domain.periods import Period
from services.kernel.context import ServiceContext
from services.kernel.settings import policy_for
from services.reports import charts, daily
from services.reports.rates import RateRow, Rates
from services.reports.stats import BRIEFING_SECTIONS, STATS_SECTIONS, Section, Stats
from storage.models import Station

RANKED = 10


def rates_text(rates: Rates) -> Rich:
    """The overall line, then the ranking (the first RANKED assignees)."""
    o = rates.overall
    counts = (o.assigned, o.responded, o.closed, o.solved, o.rated, o.satisfied)
    lines = [rtx.rates_line(o.response_rate, o.solve_rate, o.satisfaction_rate, counts, o.overdue)]
    if rates.ranking:
        lines.append(rtx.ranking_head())
        lines += [
            rtx.ranking_line(
                n, r.name, r.response_rate, r.solve_rate, r.satisfaction_rate, r.overdue
            )
            for n, r in enumerate(rates.ranking[:RANKED], start=1)
        ]
    return Rich.join("\n", lines)


def rates_panel(rates: Rates) -> charts.Panel:
    """The chart's 三率 panel: each rate in percent (a rate without cases shows 0)."""
    o = rates.overall
    values = (o.response_rate, o.solve_rate, o.satisfaction_rate)
    return charts.Panel(
        rtx.CHART_RATES,
        [(name, round((v or 0.0) * 100)) for name, v in zip(rtx.RATE_NAMES, values, strict=True)],
        "bar",
    )


def sheet_rows(rates: Rates) -> list[list[Any]]:
    """The 三率 sheet: one row per assignee in ranking order, then the station's total."""

    def row(rank: Any, r: RateRow, kind: str) -> list[Any]:
        return [
            rank,
            r.name,
            kind,
            r.assigned,
            r.responded,
            r.response_rate,
            r.closed,
            r.solved,
            r.solve_rate,
            r.rated,
            r.satisfied,
            r.satisfaction_rate,
            r.overdue,
        ]

    rows = [
        row(n, r, rtx.KIND_NAMES.get(r.kind, r.kind)) for n, r in enumerate(rates.ranking, start=1)
    ]
    rows.append(row("", rates.overall, "合计"))
    return rows


async def rates_section(
    s: AsyncSession, ctx: ServiceContext, station: Station, period: Period, stats: Stats
) -> Section | None:
    """The three rates in /stats and the 工作简报 (a section after the station's figures)."""
    lo, hi = period.bounds(ctx.tz)
    policy = await policy_for(s, ctx, station.id)
    rates = await daily.rates(s, ctx, station.id, lo, hi, stats.today, policy)
    return Section([rates_text(rates)], (rates_panel(rates),))


STATS_SECTIONS.append(rates_section)
BRIEFING_SECTIONS.append(rates_section)
