"""report_days against the live aggregates: random casework through the real services (intake,
theme changes, 非本专题, assignment, sign, close, bounce, reassign, ratings, reopen, merge,
expiry), then every figure of /stats and the three rates, for many periods, computed both ways."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from domain.clock import ManualClock
from domain.periods import Period
from domain.workdays import WorkCalendar
from services.kernel.context import ServiceContext
from services.kernel.settings import policy_for
from services.reports import daily
from services.reports.rates import Rates, compute_rates
from services.reports.stats import Stats, collect_stats
from storage import rollup
from storage.models import Opinion, ReportDay, ReportDirty, Station, Task
from tests.support import tg
from tests.test_reports import TEXTS, Scenario, Steps, build_scenario

START = datetime(2026, 9, 10, 2, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@dataclass
class Case:
    op: Opinion
    task: Any = None
    closed: bool = False
    rated: bool = False
    plan: list[str] = field(default_factory=list)


async def _random_casework(ctx: ServiceContext, clock: ManualClock, sc: Scenario) -> None:
    rnd = random.Random(12)
    go = Steps(ctx, clock)
    themes = [t.id for t in ctx.classifier.themes]
    targets = [(2, sc.group_id), (2, sc.dept_id), (1, sc.rep_id)]
    texts = list(TEXTS.values())
    now = START
    cases: list[Case] = []
    for step in range(220):
        now += timedelta(minutes=rnd.randrange(20, 400))  # crosses local midnights often
        clock.set(now)
        open_ = [c for c in cases if c.op.status not in ("duplicate", "rated", "withdrawn")]
        roll = rnd.random()
        if roll < 0.2 or not open_:
            who = tg(2000 + step % 7, "居民")
            op = await go.submit(now, texts[rnd.randrange(len(texts))] + str(step), who)
            cases.append(Case(op))
            continue
        c = rnd.choice(open_)
        async with ctx.sessions() as s:
            c.op = await s.get(Opinion, c.op.id) or c.op
            task = c.task and await s.get(Task, c.task.id)
        status = c.op.status
        if status in ("received", "triaged") and roll < 0.4:
            await go.cw.triage_button(go_staff(), "st", (c.op.id, rnd.randrange(len(themes))))
        elif status in ("received", "triaged", "reopened") and roll < 0.75:
            kind, target = rnd.choice(targets)
            c.task = await go.assign(now, c.op, kind, target, rnd.choice((7, 15)))
        elif status in ("received", "triaged") and roll < 0.8 and len(cases) > 2:
            other = rnd.choice([o for o in cases if o is not c])
            await go.cw.triage_button(go_staff(), "mg", (c.op.id, other.op.id))
        elif task is not None and task.status == "open" and roll < 0.55:
            await go.cw.task_button(go_staff(), "ack", (task.id,))
        elif task is not None and task.status == "open" and roll < 0.9:
            await _answer(go, task, "clo", (task.id, rnd.randrange(1, 4)), "已办理")
        elif task is not None and task.status == "open":
            await _answer(go, task, "bo", (task.id,), "不归我们管")
        elif task is not None and task.status == "closed" and status == "closed":
            value = rnd.choice((1, 2, 3, 3))
            await go.cw.rating_button(sc_resident(c, sc), "v", (task.id, value))
    clock.set(now + timedelta(days=8))
    await go.cw.expire_ratings()


async def _answer(go: Steps, task: Task, action: str, args: tuple[int, ...], text: str) -> None:
    """Close or bounce as the assignee (the representative, or staff for a unit)."""
    from tests.test_reports import REP

    who = REP if task.assignee_unit_id is None else go_staff()
    pressed = await go.cw.task_button(who, action, args)
    if pressed.prompt is not None:
        await go.typed(who, text)


def go_staff() -> Any:
    from tests.test_reports import STAFF

    return STAFF


def sc_resident(c: Case, sc: Scenario) -> Any:
    return tg(int(c.op.src_chat_id or 0), "居民")


def _stats_key(st: Stats) -> dict[str, Any]:
    return {
        "received": st.received,
        "by_theme": st.by_theme,
        "by_status": sorted(st.by_status),
        "assigned": st.assigned,
        "closed": st.closed,
        "bounced": st.bounced,
        "avg_assign": st.avg_days_to_assign,
        "avg_close": st.avg_days_to_close,
        "by_assignee": sorted(st.by_assignee, key=repr),
        "overdue": st.overdue,
        "overdue_total": st.overdue_total,
        "satisfaction": {k: v for k, v in st.satisfaction.counts.items() if v},
        "out_of_scope": st.out_of_scope,
    }


def _rates_key(r: Rates) -> Any:
    return (r.overall, sorted(r.ranking, key=repr))


def _periods() -> list[Period]:
    days = [date(2026, 8, 20) + timedelta(days=i) for i in range(0, 50, 3)]
    out = [Period.all_time(), Period.this_month(date(2026, 9, 1))]
    out += [
        Period.between(date(2026, 8, 25), date(2026, 10, 2)),
        Period("month", date(2026, 8, 1), date(2026, 10, 1)),
    ]
    out += [Period.this_week(d) for d in days[::2]]
    out += [Period.between(a, a + timedelta(days=n)) for a in days for n in (1, 2, 9)]
    return out


async def _compare(ctx: ServiceContext, station_id: int) -> int:
    compared = 0
    cal = WorkCalendar()
    for period in _periods():
        async with ctx.sessions.begin() as s:
            station = await s.get(Station, station_id)
            assert station is not None
            live = await collect_stats(s, ctx, station, period, cal, [], live=True)
            days = await collect_stats(s, ctx, station, period, cal, [])
            assert _stats_key(days) == _stats_key(live), period
            lo, hi = period.bounds(ctx.tz)
            policy = await policy_for(s, ctx, station_id)
            ref = await compute_rates(s, station_id, lo, hi, live.today, policy)
            got = await daily.rates(s, ctx, station_id, lo, hi, live.today, policy)
            assert _rates_key(got) == _rates_key(ref), period
            compared += 1
    return compared


async def test_report_days_match_the_live_figures(ctx: ServiceContext, clock: ManualClock) -> None:
    sc = await build_scenario(ctx, clock)
    await _random_casework(ctx, clock, sc)
    async with ctx.sessions() as s:
        statuses = dict(
            (await s.execute(select(Opinion.status, func.count()).group_by(Opinion.status))).all()
        )
        reclosed = await s.scalar(
            select(func.count())
            .select_from(Task)
            .where(Task.status == "closed")
            .group_by(Task.opinion_id)
            .having(func.count() > 1)
            .limit(1)
        )
        assert (await s.scalar(select(func.count()).select_from(ReportDirty)) or 0) > 0
    # the random walk reached what the figures are about
    assert {"rated", "reopened", "duplicate", "in_progress"} <= set(statuses), statuses
    assert reclosed, "no case was closed twice"
    assert await _compare(ctx, sc.station_id) > 40

    # the migration's rebuild gives the same rows as the triggers' refreshes
    async with ctx.sessions.begin() as s:
        kept = await s.run_sync(lambda ss: rollup.sums(ss, sc.station_id, None, None))
        await s.run_sync(lambda ss: rollup.rebuild(ss, ctx.tz))
        again = await s.run_sync(lambda ss: rollup.sums(ss, sc.station_id, None, None))
        assert sorted(map(repr, again)) == sorted(map(repr, kept))
        assert (await s.scalar(select(func.count()).select_from(ReportDay)) or 0) > 0


async def test_two_refreshes_at_once_count_each_day_once(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    import asyncio

    sc = await build_scenario(ctx, clock)
    async with ctx.sessions.begin() as s:
        hours = [h for (h,) in (await s.execute(select(Opinion.created_at))).all()]
        s.add_all(ReportDirty(station_id=sc.station_id, hour=h) for h in hours)
    await asyncio.gather(*(collect_once(ctx, sc.station_id, Period.all_time()) for _ in range(3)))
    async with ctx.sessions() as s:
        received = await s.scalar(
            select(func.sum(ReportDay.n)).where(ReportDay.metric == "recv", ReportDay.span == "d")
        )
        assert received == await s.scalar(select(func.count()).select_from(Opinion))


async def collect_once(ctx: ServiceContext, station_id: int, period: Period) -> Stats:
    async with ctx.sessions.begin() as s:
        station = await s.get(Station, station_id)
        assert station is not None
        return await collect_stats(s, ctx, station, period, WorkCalendar(), [])
