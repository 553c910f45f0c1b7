"""Statistics and the 工作简报, computed from the live tables (read-only queries).

Period semantics, so that every number means one thing:
- "received", by theme and by status: opinions received in the period (their status as of now);
- "assigned" / "closed": distinct opinions first assigned / closed (a task closed) in the period;
- average days: receipt → first assignment for opinions first assigned in the period, and
  receipt → the closure in the period for opinions closed in it (calendar days);
- bounce-backs: tasks bounced (退回) in the period; satisfaction: ratings given in the period;
- overdue: a snapshot as of today (open tasks whose due date has passed), whatever the period.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

import texts.reports as tr
from domain.lifecycle import Status
from domain.message import Message, Rich
from domain.periods import Period
from domain.workdays import WorkCalendar
from services.kernel.context import ServiceContext
from services.reports import aggregates as agg
from services.reports import charts, daily
from services.reports.scope import split_scope
from storage.models import Station
from texts.common import status_name

log = logging.getLogger(__name__)

SATISFACTION_KEYS = ("satisfied", "basic", "unsatisfied", "unrated")
OVERDUE_SHOWN = tr.MAX_LIST  # overdue cases listed in a message (all of them are counted)


# ---- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OverdueTask:
    ref_no: str
    text: str
    assignee: str
    due_date: date
    workdays_overdue: int


@dataclass(frozen=True)
class AssigneeStats:
    kind: str  # group | department | representative
    name: str
    assigned: int = 0
    closed: int = 0
    bounced: int = 0
    overdue: int = 0


@dataclass(frozen=True)
class Satisfaction:
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, key: str) -> int:
        return self.counts.get(key, 0)

    @property
    def rated(self) -> int:
        """Ratings with an answer (未评价 is not an answer and stays out of the rate)."""
        return self.count("satisfied") + self.count("basic") + self.count("unsatisfied")

    @property
    def rate(self) -> float | None:
        """(满意 + 基本满意) ÷ 已评价; None when nobody rated."""
        if not self.rated:
            return None
        return (self.count("satisfied") + self.count("basic")) / self.rated


@dataclass(frozen=True)
class Section:
    """A part of /stats or /briefing that another feature contributes: text lines after the
    station's own figures, and chart panels after its own."""

    lines: Sequence[Rich | str] = ()
    panels: Sequence[charts.Panel] = ()


@dataclass(frozen=True)
class Stats:
    station_id: int
    station_name: str
    period: Period
    today: date
    received: int
    by_theme: list[tuple[str, str, int]]  # (theme id, label, count), largest first
    by_status: list[tuple[str, int]]  # (status, count), lifecycle order
    assigned: int
    closed: int
    bounced: int
    avg_days_to_assign: float | None
    avg_days_to_close: float | None
    by_assignee: list[AssigneeStats]
    overdue: list[OverdueTask]  # the longest overdue, at most OVERDUE_SHOWN
    satisfaction: Satisfaction
    overdue_total: int = 0  # every open task past its due date, as of today
    sections: list[Section] = field(default_factory=list)
    out_of_scope: int = 0  # received in the period, filed 其他（非本专题）: not in by_theme

    def theme_counts(self) -> dict[str, int]:
        return {theme: n for theme, _, n in self.by_theme}


@dataclass(frozen=True)
class Report:
    """What /stats and /briefing answer: the text, and the chart when there is one."""

    reply: Message
    chart: bytes | None = None


# ---- sections other features add --------------------------------------------------------------


# (session, context, station, period, the figures so far) -> a section, or None to add nothing.
SectionBuilder = Callable[
    [AsyncSession, ServiceContext, Station, Period, "Stats"], Awaitable[Section | None]
]
# Append a builder to add a section to every /stats answer (and every briefing, for the second).
STATS_SECTIONS: list[SectionBuilder] = []
BRIEFING_SECTIONS: list[SectionBuilder] = []


# ---- queries -----------------------------------------------------------------------------------


def local_today(ctx: ServiceContext) -> date:
    return ctx.clock.now().astimezone(ctx.tz).date()


async def theme_counts(
    s: AsyncSession, ctx: ServiceContext, station_id: int, period: Period
) -> dict[str, int]:
    """Opinions received in `period`, by theme id."""
    lo, hi = period.bounds(ctx.tz)
    themes: Counter[str] = Counter()
    for theme, _, n in (await daily.figures(s, ctx, station_id, lo, hi)).received:
        themes[theme] += n
    return dict(themes)


def _by_theme_and_status(
    ctx: ServiceContext, grouped: Iterable[tuple[str, str, int]]
) -> tuple[list[tuple[str, str, int]], list[tuple[str, int]]]:
    themes: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for theme, status, n in grouped:
        themes[theme] += n
        statuses[status] += n
    order = {t.id: i for i, t in enumerate(ctx.classifier.themes)}
    by_theme = sorted(
        ((theme, ctx.theme_label(theme), n) for theme, n in themes.items()),
        key=lambda r: (-r[2], order.get(r[0], len(order)), r[0]),
    )
    by_status = [(st.value, statuses[st.value]) for st in Status if statuses[st.value]]
    by_status += [(k, n) for k, n in statuses.items() if k not in set(Status)]
    return by_theme, by_status


async def _assignees(
    s: AsyncSession,
    station_id: int,
    counts: dict[agg.AssigneeKey, Counter[str]],
    today: date,
    calendar: WorkCalendar,
) -> tuple[list[AssigneeStats], list[OverdueTask], int]:
    """Per assignee counts, the overdue cases to show, and how many are overdue in all."""
    late = await agg.overdue(s, station_id, today, OVERDUE_SHOWN)
    names = await agg.assignee_names(s, station_id, set(counts) | {o.key for o in late})
    merged: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for key, c in counts.items():
        merged[names[key]].update(c)
    by_assignee = sorted(
        (
            AssigneeStats(kind, name, c["assigned"], c["closed"], c["bounced"], c["overdue"])
            for (kind, name), c in merged.items()
        ),
        key=lambda a: (-a.assigned, -a.overdue, a.kind, a.name),
    )
    overdue = [
        OverdueTask(
            o.ref_no,
            o.text,
            names[o.key][1],
            o.due_date,
            calendar.workdays_between(o.due_date, today),
        )
        for o in late
    ]
    return by_assignee, overdue, sum(c["overdue"] for c in counts.values())


@dataclass(frozen=True)
class _Core:
    """The additive figures, from report_days or (live) from the tables."""

    received: list[tuple[str, str, int]]
    assigned: tuple[int, float | None]
    closed: tuple[int, float | None]
    tasks: dict[agg.AssigneeKey, Counter[str]]
    ratings: dict[str, int]


async def _core(
    s: AsyncSession, ctx: ServiceContext, station_id: int, period: Period, today: date, live: bool
) -> _Core:
    lo, hi = period.bounds(ctx.tz)
    if live:
        return _Core(
            await agg.received(s, station_id, lo, hi),
            await agg.first_assignments(s, station_id, lo, hi),
            await agg.closures(s, station_id, lo, hi),
            await agg.task_counts(s, station_id, lo, hi, today),
            await agg.ratings(s, station_id, lo, hi),
        )
    f = await daily.figures(s, ctx, station_id, lo, hi)
    tasks = {k: Counter(c) for k, c in f.tasks.items()}
    for key, n in (await daily.overdue_counts(s, station_id, today)).items():
        tasks.setdefault(key, Counter())["overdue"] += n
    return _Core(
        f.received,
        (f.first[0], daily.mean(*f.first)),
        (f.closed[0], daily.mean(*f.closed)),
        tasks,
        {k: n for k, n in f.ratings.items() if n},
    )


async def collect_stats(
    s: AsyncSession,
    ctx: ServiceContext,
    station: Station,
    period: Period,
    calendar: WorkCalendar,
    sections: Sequence[SectionBuilder] | None = None,
    live: bool = False,
) -> Stats:
    """Every number of a /stats answer, in one session: sums over report_days (daily.py), or
    with `live` each counted from the tables (the reference)."""
    today = local_today(ctx)
    core = await _core(s, ctx, station.id, period, today, live)
    by_theme, by_status = _by_theme_and_status(ctx, core.received)
    by_theme, out_of_scope = split_scope(ctx, by_theme)
    assigned, avg_assign = core.assigned
    closed, avg_close = core.closed
    by_assignee, overdue, overdue_total = await _assignees(
        s, station.id, core.tasks, today, calendar
    )
    stats = Stats(
        station_id=station.id,
        station_name=station.name,
        period=period,
        today=today,
        received=sum(n for _, _, n in by_theme) + out_of_scope,
        by_theme=by_theme,
        by_status=by_status,
        assigned=assigned,
        closed=closed,
        bounced=sum(a.bounced for a in by_assignee),
        avg_days_to_assign=avg_assign,
        avg_days_to_close=avg_close,
        by_assignee=by_assignee,
        overdue=overdue,
        satisfaction=Satisfaction(core.ratings),
        overdue_total=overdue_total,
        out_of_scope=out_of_scope,
    )
    return await add_sections(
        s, ctx, station, stats, STATS_SECTIONS if sections is None else sections
    )


async def add_sections(
    s: AsyncSession,
    ctx: ServiceContext,
    station: Station,
    stats: Stats,
    builders: Sequence[SectionBuilder],
) -> Stats:
    """`stats` with the sections the builders contribute (in their order) appended."""
    extra = [sec for b in builders if (sec := await b(s, ctx, station, stats.period, stats))]
    return replace(stats, sections=[*stats.sections, *extra]) if extra else stats


async def compute_stats(
    ctx: ServiceContext, station_id: int, period: Period, calendar: WorkCalendar | None = None
) -> Stats:
    """Statistics for one station and period, in their own transaction (which brings
    report_days up to date)."""
    async with ctx.sessions.begin() as s:
        station = await s.get(Station, station_id)
        if station is None:
            raise LookupError(f"no station {station_id}")
        return await collect_stats(s, ctx, station, period, calendar or WorkCalendar())


async def period_texts(
    s: AsyncSession,
    station_id: int,
    period: Period,
    tz: ZoneInfo,
    total: int | None = None,
    limit: int = 0,
) -> list[str]:
    """The texts of the opinions received in `period` (duplicates merged away are left out);
    with `limit`, an even sample of about that many out of `total`."""
    lo, hi = period.bounds(tz)
    return await agg.sample_texts(s, station_id, lo, hi, total or 0, limit)


# ---- rendering ---------------------------------------------------------------------------------


def overdue_lines(stats: Stats) -> list[Rich]:
    return [
        tr.overdue_line(o.ref_no, o.assignee, o.due_date, o.workdays_overdue, o.text)
        for o in stats.overdue
    ]


def satisfaction_line(stats: Stats) -> str:
    counts = {k: stats.satisfaction.count(k) for k in SATISFACTION_KEYS}
    return tr.satisfaction_line(counts, stats.satisfaction.rate)


def stats_text(stats: Stats) -> Rich:
    text = tr.stats_text(
        stats.station_name,
        stats.period.label(),
        stats.received,
        [(label, n) for _, label, n in stats.by_theme],
        [(status_name(st), n) for st, n in stats.by_status],
        stats.assigned,
        stats.closed,
        stats.bounced,
        stats.avg_days_to_assign,
        stats.avg_days_to_close,
        [(a.kind, a.name, a.assigned, a.closed, a.bounced, a.overdue) for a in stats.by_assignee],
        overdue_lines(stats),
        satisfaction_line(stats),
        stats.today,
        overdue_total=stats.overdue_total,
        out_of_scope=stats.out_of_scope,
    )
    if not stats.received:
        text = text + "\n\n" + tr.no_opinions_yet()
    return with_sections(text, stats)


def with_sections(text: Rich, stats: Stats) -> Rich:
    """The text with each contributed section's lines after it, a blank line before each."""
    for section in stats.sections:
        if section.lines:
            text = Rich.join("\n", [text, "", *section.lines])
    return text


def chart_panels(stats: Stats) -> list[charts.Panel]:
    panels = [
        charts.Panel(tr.CHART_THEMES, [(label, n) for _, label, n in stats.by_theme], "barh"),
        charts.Panel(tr.CHART_STATUS, [(status_name(st), n) for st, n in stats.by_status], "barh"),
        charts.Panel(
            tr.chart_satisfaction(stats.satisfaction.rate),
            [(tr.SATISFACTION_LABELS[k], stats.satisfaction.count(k)) for k in SATISFACTION_KEYS],
            "bar",
        ),
    ]
    if stats.by_assignee:
        panels.append(
            charts.Panel(
                tr.CHART_ASSIGNEES,
                [(a.name, a.assigned) for a in stats.by_assignee[:10]],
                "barh",
            )
        )
    return panels + [p for section in stats.sections for p in section.panels]


async def render_chart(stats: Stats) -> bytes | None:
    """The stats chart as PNG, drawn off the event loop; None (logged) if it cannot be drawn."""
    title = tr.chart_title(stats.station_name, stats.period.label())
    try:
        return await asyncio.to_thread(charts.render_panels, title, chart_panels(stats))
    except charts.ChartError:
        log.warning("chart not drawn", exc_info=True)
        return None
