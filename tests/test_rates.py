"""The three rates (响应率, 解决率, 满意率) per case, overall and per assignee, with the ranking,
from a real casework history on a real database."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from domain.clock import ManualClock
from domain.periods import Period
from services.kernel.context import ServiceContext
from services.kernel.settings import override
from services.reports.rates import station_rates
from storage.models import Station, Task, Unit
from tests.support import chat
from tests.test_casework_defects import REP, RES, RES2, STAFF, station, submitted

GROUP_CHAT = -3003


async def history(ctx: ServiceContext, clock: ManualClock) -> int:
    """Case 1 (刘代表): answered at once, closed A, 不满意, again A, 满意.
    Case 2 (养老组): signed two days late, closed B, 基本满意. Case 3 (刘代表): never signed,
    overdue."""
    cw, intake, rep = await station(ctx)
    await cw.add_unit(STAFF, "group", "养老组")
    await cw.bind_unit_chat(STAFF, chat(GROUP_CHAT), "养老组")
    async with ctx.sessions() as s:
        unit = (await s.execute(select(Unit.id))).scalar_one()
        station_id = (await s.execute(select(Station.id))).scalar_one()
    one = await submitted(ctx, intake, RES, 1)
    two = await submitted(ctx, intake, RES2, 2)
    three = await submitted(ctx, intake, RES, 3)
    await cw.triage_button(STAFF, "dk", (one, 1, rep, 0))
    await cw.triage_button(STAFF, "dk", (two, 2, unit, 0))
    await cw.triage_button(STAFF, "dk", (three, 1, rep, 0))
    tasks = await _tasks(ctx)
    await _close(cw, tasks[0], REP, 1, "10")
    await cw.rating_button(RES, "v", (tasks[0], 3))
    await cw.triage_button(STAFF, "dk", (one, 1, rep, 0))
    again = (await _tasks(ctx))[-1]
    await _close(cw, again, REP, 1, "11")
    await cw.rating_button(RES, "v", (again, 1))
    clock.set(datetime(2026, 9, 30, 2, 0, tzinfo=UTC))  # Wed: 签收 is due by Tue night
    await _close(cw, tasks[1], STAFF, 2, "12")
    await cw.rating_button(RES2, "v", (tasks[1], 2))
    clock.set(datetime(2026, 10, 12, 2, 0, tzinfo=UTC))  # case 3 was due on 8 Oct
    return station_id


async def _tasks(ctx: ServiceContext) -> list[int]:
    async with ctx.sessions() as s:
        return list((await s.execute(select(Task.id).order_by(Task.id))).scalars())


async def _close(cw: object, task: int, who: object, outcome: int, n: str) -> None:
    from domain.channels import Sender
    from services.casework import CaseworkService

    assert isinstance(cw, CaseworkService) and isinstance(who, Sender)
    await cw.task_button(who, "ack", (task,))
    await cw.task_button(who, "clo", (task, outcome))
    await cw.pending_text(who, chat(who.external_id), n, "办理结果")


async def test_three_rates_overall_per_assignee_and_ranking(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    station_id = await history(ctx, clock)
    rates = await station_rates(ctx, station_id, Period.all_time())
    o = rates.overall
    assert (o.assigned, o.responded) == (4, 2)
    assert (o.closed, o.solved) == (2, 1)  # case 1 counts once, with its last closure
    assert (o.rated, o.satisfied) == (2, 2)  # case 1's superseded 不满意 is not counted
    assert o.overdue == 1
    assert [r.name for r in rates.ranking] == ["刘代表", "养老组"]
    rep, group = rates.ranking
    assert (rep.assigned, rep.responded, rep.closed, rep.solved, rep.overdue) == (3, 2, 1, 1, 1)
    assert (group.assigned, group.responded, group.closed, group.solved) == (1, 0, 1, 0)
    assert group.satisfaction_rate == 1.0 and group.response_rate == 0.0
    assert rep.score is not None and group.score is not None and rep.score > group.score


async def test_a_station_counting_b_as_solved(ctx: ServiceContext, clock: ManualClock) -> None:
    station_id = await history(ctx, clock)
    async with ctx.sessions.begin() as s:
        await override(s, station_id, solved_outcomes=["A", "B"], response_days=3)
    rates = await station_rates(ctx, station_id, Period.all_time())
    assert (rates.overall.closed, rates.overall.solved) == (2, 2)
    # The response limit is fixed at 交办: tasks assigned before the change keep theirs.
    assert rates.overall.responded == 2


async def test_rates_as_staff_read_them(ctx: ServiceContext, clock: ManualClock) -> None:
    from services.reports.rates_view import rates_panel, rates_text, sheet_rows

    station_id = await history(ctx, clock)
    rates = await station_rates(ctx, station_id, Period.all_time())
    text = rates_text(rates).plain
    assert "响应率 50%（2/4）" in text and "解决率 50%（1/2）" in text
    assert "满意率 100%（2/2）" in text and "逾期 1 件" in text
    assert text.index("1. 刘代表") < text.index("2. 养老组")
    panel = rates_panel(rates)
    assert list(panel.items) == [("响应率", 50), ("解决率", 50), ("满意率", 100)]
    rows = sheet_rows(rates)
    assert [r[1] for r in rows] == ["刘代表", "养老组", ""] and rows[-1][2] == "合计"
    assert rows[0][:5] == [1, "刘代表", "代表", 3, 2]


async def test_stats_and_briefing_show_the_rates(ctx: ServiceContext, clock: ManualClock) -> None:
    from services.reports.briefing import build_briefing
    from services.reports.stats import chart_panels, compute_stats, stats_text

    station_id = await history(ctx, clock)
    stats = await compute_stats(ctx, station_id, Period.all_time())
    text = stats_text(stats).plain
    assert "三率" in text and "响应率 50%（2/4）" in text and "1. 刘代表" in text
    assert any(p.title == "三率" for p in chart_panels(stats))
    # 满意率 in the station's own figures counts each case once too.
    assert stats.satisfaction.rated == 2
    briefing = await build_briefing(ctx, station_id, Period.all_time(), ctx.calendar)
    assert "满意率 100%（2/2）" in briefing.text.plain
