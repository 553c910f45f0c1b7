"""The three rates as staff read them: lines for /stats and the briefing, a chart panel, and the
ledger export's 三率 sheet rows."""

from __future__ import annotations

from typing import Any

import texts.reports as tr
from domain.message import Rich
from services.reports import charts
from services.reports.rates import RateRow, Rates

RANKED = 10


def rates_text(rates: Rates) -> Rich:
    """The overall line, then the ranking (the first RANKED assignees)."""
    o = rates.overall
    counts = (o.assigned, o.responded, o.closed, o.solved, o.rated, o.satisfied)
    lines = [tr.rates_line(o.response_rate, o.solve_rate, o.satisfaction_rate, counts, o.overdue)]
    if rates.ranking:
        lines.append(tr.ranking_head())
        lines += [
            tr.ranking_line(
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
        tr.CHART_RATES,
        [(name, round((v or 0.0) * 100)) for name, v in zip(tr.RATE_NAMES, values, strict=True)],
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
        row(n, r, tr.ASSIGNEE_KINDS.get(r.kind, r.kind))
        for n, r in enumerate(rates.ranking, start=1)
    ]
    rows.append(row("", rates.overall, "合计"))
    return rows
