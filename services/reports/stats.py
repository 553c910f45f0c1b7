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
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import texts.reports as tr
from domain.lifecycle import Status
from domain.message import Message, Rich
from domain.periods import Period
from domain.workdays import WorkCalendar
from services.kernel.context import ServiceContext
from services.reports import charts
from services.reports.rates import final_rating_counts
from storage.models import Opinion, Station, Task, Unit, User
from texts.common import status_name

log = logging.getLogger(__name__)

SATISFACTION_KEYS = ("satisfied", "basic", "unsatisfied", "unrated")


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
    overdue: list[OverdueTask]
    satisfaction: Satisfaction

    def theme_counts(self) -> dict[str, int]:
        return {theme: n for theme, _, n in self.by_theme}


@dataclass(frozen=True)
class Report:
    """What /stats and /briefing answer: the text, and the chart when there is one."""

    reply: Message
    chart: bytes | None = None


# ---- queries -----------------------------------------------------------------------------------


def _in(column: object, lo: datetime | None, hi: datetime | None) -> list[object]:
    conds: list[object] = []
    if lo is not None:
        conds.append(column >= lo)  # type: ignore[operator]
    if hi is not None:
        conds.append(column < hi)  # type: ignore[operator]
    return conds


def _within(when: datetime | None, lo: datetime | None, hi: datetime | None) -> bool:
    if when is None:
        return False
    return (lo is None or when >= lo) and (hi is None or when < hi)


def _mean_days(spans: Iterable[timedelta]) -> float | None:
    values = [span.total_seconds() / 86400 for span in spans]
    return round(sum(values) / len(values), 1) if values else None


def local_today(ctx: ServiceContext) -> date:
    return ctx.clock.now().astimezone(ctx.tz).date()


async def theme_counts(
    s: AsyncSession, station_id: int, period: Period, tz: ZoneInfo
) -> dict[str, int]:
    """Opinions received in `period`, by theme id."""
    lo, hi = period.bounds(tz)
    rows = await s.execute(
        select(Opinion.theme, func.count(Opinion.id))
        .where(Opinion.station_id == station_id, *_in(Opinion.created_at, lo, hi))  # type: ignore[arg-type]
        .group_by(Opinion.theme)
    )
    return {theme: int(n) for theme, n in rows.all()}


async def collect_stats(
    s: AsyncSession,
    ctx: ServiceContext,
    station: Station,
    period: Period,
    calendar: WorkCalendar,
) -> Stats:
    """Every number of a /stats answer, in one session."""
    lo, hi = period.bounds(ctx.tz)
    today = local_today(ctx)
    in_period = _in(Opinion.created_at, lo, hi)

    grouped = (
        await s.execute(
            select(Opinion.theme, Opinion.status, func.count(Opinion.id))
            .where(Opinion.station_id == station.id, *in_period)  # type: ignore[arg-type]
            .group_by(Opinion.theme, Opinion.status)
        )
    ).all()
    themes: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for theme, status, n in grouped:
        themes[theme] += int(n)
        statuses[status] += int(n)
    order = {t.id: i for i, t in enumerate(ctx.classifier.themes)}
    by_theme = sorted(
        ((theme, ctx.theme_label(theme), n) for theme, n in themes.items()),
        key=lambda r: (-r[2], order.get(r[0], len(order)), r[0]),
    )
    by_status = [(st.value, statuses[st.value]) for st in Status if statuses[st.value]]
    by_status += [(k, n) for k, n in statuses.items() if k not in set(Status)]

    tasks = (
        await s.execute(
            select(Task, Opinion.created_at, Opinion.ref_no, Opinion.text)
            .join(Opinion, Opinion.id == Task.opinion_id)
            .where(Task.station_id == station.id)
            .order_by(Task.id)
        )
    ).all()
    units = {
        u.id: u
        for u in (await s.execute(select(Unit).where(Unit.station_id == station.id))).scalars()
    }
    rep_ids = {t.assignee_user_id for t, *_ in tasks if t.assignee_user_id is not None}
    reps = (
        {u.id: u for u in (await s.execute(select(User).where(User.id.in_(rep_ids)))).scalars()}
        if rep_ids
        else {}
    )

    def assignee_of(task: Task) -> tuple[str, str]:
        if task.assignee_unit_id is not None and task.assignee_unit_id in units:
            unit = units[task.assignee_unit_id]
            return unit.kind, unit.name
        if task.assignee_user_id is not None and task.assignee_user_id in reps:
            return "representative", reps[task.assignee_user_id].display_name
        return "representative", "—"

    first_assigned: dict[int, tuple[datetime, datetime]] = {}
    closed_in_period: dict[int, tuple[datetime, datetime]] = {}
    per_assignee: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    overdue: list[OverdueTask] = []
    bounced = 0
    for task, received_at, ref_no, text in tasks:
        if task.opinion_id not in first_assigned:
            first_assigned[task.opinion_id] = (task.assigned_at, received_at)
        who = assignee_of(task)
        if _within(task.assigned_at, lo, hi):
            per_assignee[who]["assigned"] += 1
        if task.status == "closed" and _within(task.closed_at, lo, hi):
            assert task.closed_at is not None
            closed_in_period[task.opinion_id] = (task.closed_at, received_at)
            per_assignee[who]["closed"] += 1
        if task.status == "bounced" and _within(task.closed_at, lo, hi):
            bounced += 1
            per_assignee[who]["bounced"] += 1
        if task.status == "open" and task.due_date < today:
            per_assignee[who]["overdue"] += 1
            overdue.append(
                OverdueTask(
                    ref_no,
                    text,
                    who[1],
                    task.due_date,
                    calendar.workdays_between(task.due_date, today),
                )
            )
    assigned_here = {oid: span for oid, span in first_assigned.items() if _within(span[0], lo, hi)}
    overdue.sort(key=lambda o: (o.due_date, o.ref_no))
    by_assignee = sorted(
        (
            AssigneeStats(kind, name, c["assigned"], c["closed"], c["bounced"], c["overdue"])
            for (kind, name), c in per_assignee.items()
        ),
        key=lambda a: (-a.assigned, -a.overdue, a.kind, a.name),
    )

    # Per case, its final rating (services.reports.rates): a superseded 不满意 is not counted.
    satisfaction = Satisfaction(await final_rating_counts(s, station.id, lo, hi))

    return Stats(
        station_id=station.id,
        station_name=station.name,
        period=period,
        today=today,
        received=sum(themes.values()),
        by_theme=by_theme,
        by_status=by_status,
        assigned=len(assigned_here),
        closed=len(closed_in_period),
        bounced=bounced,
        avg_days_to_assign=_mean_days(a - r for a, r in assigned_here.values()),
        avg_days_to_close=_mean_days(c - r for c, r in closed_in_period.values()),
        by_assignee=by_assignee,
        overdue=overdue,
        satisfaction=satisfaction,
    )


async def compute_stats(
    ctx: ServiceContext, station_id: int, period: Period, calendar: WorkCalendar | None = None
) -> Stats:
    """Statistics for one station and period, in their own read transaction."""
    async with ctx.sessions() as s:
        station = await s.get(Station, station_id)
        if station is None:
            raise LookupError(f"no station {station_id}")
        return await collect_stats(s, ctx, station, period, calendar or WorkCalendar())


async def period_texts(s: AsyncSession, station_id: int, period: Period, tz: ZoneInfo) -> list[str]:
    """The texts of the opinions received in `period` (duplicates merged away are left out)."""
    lo, hi = period.bounds(tz)
    return list(
        (
            await s.execute(
                select(Opinion.text).where(
                    Opinion.station_id == station_id,
                    Opinion.status != Status.DUPLICATE,
                    *_in(Opinion.created_at, lo, hi),  # type: ignore[arg-type]
                )
            )
        ).scalars()
    )


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
    )
    if not stats.received:
        text = text + "\n\n" + tr.no_opinions_yet()
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
    return panels


async def render_chart(stats: Stats) -> bytes | None:
    """The stats chart as PNG, drawn off the event loop; None (logged) if it cannot be drawn."""
    title = tr.chart_title(stats.station_name, stats.period.label())
    try:
        return await asyncio.to_thread(charts.render_panels, title, chart_panels(stats))
    except charts.ChartError:
        log.warning("chart not drawn", exc_info=True)
        return None
