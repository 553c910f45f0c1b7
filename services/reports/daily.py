"""/stats, the 工作简报 and the three rates from report_days (storage/rollup.py): a period's
figures are sums over its days, whatever its length, so all time costs what a month does.

The figures mean what services/reports/aggregates.py and rates.py count from the live tables;
those stay the reference (tests/test_report_days.py compares both after random casework) and
the fallback (`live=True`). Overdue is a snapshot of today, not a sum: it is counted live, on
the open tasks' partial index.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.context import ServiceContext
from services.kernel.policy import CaseworkPolicy
from services.reports.rates import RATED_KEYS, Rates, ranked, rate_names
from storage import rollup
from storage.models import ReportDirty, Task

AssigneeKey = tuple[int | None, int | None]
# The open tasks as the partial index ix_tasks_open_due states it (SQLite uses a partial index
# only for a condition written the same way, not for a bound parameter).
OPEN = text("tasks.status = 'open'")


@dataclass
class Figures:
    """The summed rows of one station and period."""

    received: list[tuple[str, str, int]] = field(default_factory=list)  # (theme, status, n)
    first: tuple[int, float] = (0, 0.0)  # count, total days
    closed: tuple[int, float] = (0, 0.0)
    tasks: dict[AssigneeKey, Counter[str]] = field(default_factory=dict)  # assigned/closed/bounced
    ratings: Counter[str] = field(default_factory=Counter)  # by value
    response: dict[AssigneeKey, tuple[int, int]] = field(default_factory=dict)  # limited, timely
    solving: dict[AssigneeKey, Counter[str]] = field(default_factory=dict)  # by outcome
    rated: dict[AssigneeKey, Counter[str]] = field(default_factory=dict)  # by value, with a task


def local_dates(
    lo: datetime | None, hi: datetime | None, tz: ZoneInfo
) -> tuple[date | None, date | None]:
    """A period's bounds (local midnights as UTC instants) back as local dates."""
    return (
        None if lo is None else lo.astimezone(tz).date(),
        None if hi is None else hi.astimezone(tz).date(),
    )


async def refresh(s: AsyncSession, ctx: ServiceContext) -> None:
    """Bring report_days up to date in the caller's transaction (usually a day or two: the
    days the last changes touched)."""
    if (
        await s.scalar(select(ReportDirty.id).limit(1)) is None
        and await s.run_sync(lambda ss: rollup.stored_tz(ss)) == ctx.tz.key
    ):
        return
    await s.run_sync(lambda ss: rollup.refresh(ss, ctx.tz))


async def figures(
    s: AsyncSession, ctx: ServiceContext, station_id: int, lo: datetime | None, hi: datetime | None
) -> Figures:
    """The period's sums; computed once per session (the stats and their rates section)."""
    first, end = local_dates(lo, hi, ctx.tz)
    memo: dict[Any, Figures] = s.info.setdefault("report_days", {})
    key = (station_id, first, end)
    if key not in memo:
        await refresh(s, ctx)
        rows = await s.run_sync(lambda ss: rollup.sums(ss, station_id, first, end))
        memo[key] = _fold(rows, first)
    return memo[key]


def _fold(rows: list[rollup.Row], first: date | None) -> Figures:
    f = Figures()
    pairs_n, pairs_t = 0, 0.0
    close_n, close_t = 0, 0.0
    first_n, first_t = 0, 0.0
    for r in rows:
        metric, who = r["metric"], (r["unit_id"], r["user_id"])
        n = r["n"]
        if metric == "recv":
            f.received.append((r["k1"], r["k2"], n))
        elif metric == "first":
            first_n, first_t = first_n + n, first_t + r["total"]
        elif metric == "close":
            close_n, close_t = close_n + n, close_t + r["total"]
        elif metric == "pair":
            if first is None or date.fromisoformat(r["k1"]) >= first:
                pairs_n, pairs_t = pairs_n + n, pairs_t + r["total"]
        elif metric == "asg":
            f.tasks.setdefault(who, Counter())["assigned"] += n
            lim, tim = f.response.get(who, (0, 0))
            f.response[who] = (lim + r["m"], tim + int(r["total"]))
        elif metric == "end":
            f.tasks.setdefault(who, Counter())[r["k1"]] += n
        elif metric == "solve":
            f.solving.setdefault(who, Counter())[r["k1"]] += n
        elif metric == "rate":
            f.ratings[r["k1"]] += n
            if r["k2"]:
                f.rated.setdefault(who, Counter())[r["k1"]] += n
    f.first = (first_n, first_t)
    f.closed = (close_n - pairs_n, close_t - pairs_t)
    return f


def mean(count: int, total: float) -> float | None:
    return round(total / count, 1) if count else None


async def overdue_counts(s: AsyncSession, station_id: int, today: date) -> dict[AssigneeKey, int]:
    """Open tasks past their due date per assignee, now; counted once per session (the stats
    and their rates section both show it)."""
    memo: dict[Any, dict[AssigneeKey, int]] = s.info.setdefault("report_overdue", {})
    if (station_id, today) not in memo:
        rows = await s.execute(
            select(Task.assignee_unit_id, Task.assignee_user_id, func.count())
            .where(Task.station_id == station_id, OPEN, Task.due_date < today)
            .group_by(Task.assignee_unit_id, Task.assignee_user_id)
        )
        memo[(station_id, today)] = {(unit, user): int(n) for unit, user, n in rows}
    return memo[(station_id, today)]


async def rates(
    s: AsyncSession,
    ctx: ServiceContext,
    station_id: int,
    lo: datetime | None,
    hi: datetime | None,
    today: date,
    policy: CaseworkPolicy,
) -> Rates:
    """The three rates (services.reports.rates.compute_rates) from the period's sums."""
    f = await figures(s, ctx, station_id, lo, hi)

    def who(key: AssigneeKey) -> AssigneeKey:  # the unit, else the representative
        unit, user = key
        return (unit, None) if unit is not None else (None, user)

    acc: dict[AssigneeKey, Counter[str]] = {}

    def add(key: AssigneeKey, **counts: int) -> None:
        acc.setdefault(who(key), Counter()).update(counts)

    for key, (limited, timely) in f.response.items():
        if limited:
            add(key, assigned=limited, responded=timely)
    solved = set(policy.solved_outcomes)
    for key, outcomes in f.solving.items():
        add(key, closed=outcomes.total(), solved=sum(n for o, n in outcomes.items() if o in solved))
    for key, values in f.rated.items():
        add(
            key,
            rated=sum(values[v] for v in RATED_KEYS),
            satisfied=values["satisfied"] + values["basic"],
        )
    for key, n in (await overdue_counts(s, station_id, today)).items():
        add(key, overdue=n)
    return ranked(await rate_names(s, set(acc)), acc)
