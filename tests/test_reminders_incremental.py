"""The incremental planner: each task's next reminder moment, kept up to date by the use cases,
so a tick with nothing due reads nothing but the index."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import event, select

from domain.clock import ManualClock
from services.casework import CaseworkService
from services.intake import IntakeService
from services.kernel.context import ServiceContext
from services.reminders import ReminderPlanner
from storage.models import REPLAN_AT, Task
from tests.support import chat, user_id_of
from tests.test_reminders import ADMIN, REP, RES, TEXT, assigned_task, reminder_keys


@contextmanager
def statements(ctx: ServiceContext) -> Iterator[list[str]]:
    """The SQL statements run on the context's engine while the block runs."""
    seen: list[str] = []
    engine = ctx.sessions.kw["bind"].sync_engine

    def record(_c: Any, _cur: Any, sql: str, *_: Any) -> None:
        seen.append(sql)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def next_moments(ctx: ServiceContext) -> dict[int, datetime | None]:
    async with ctx.sessions() as s:
        rows = (await s.execute(select(Task.id, Task.next_remind_at).order_by(Task.id))).all()
    return {tid: at for tid, at in rows}


async def test_next_moment_follows_the_task_and_idle_ticks_stay_small(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    task = await assigned_task(ctx, 7)  # due Tue 13 Oct; "3 days left" on Fri 9 Oct 09:00
    cw, intake = CaseworkService(ctx), IntakeService(ctx)
    rep_id = await user_id_of(ctx, REP)
    for n in range(2, 10):  # eight more tasks, due the same day
        await intake.submit_text(RES, chat(RES.external_id), str(n), f"{TEXT}第{n}条", None)
        await cw.triage_button(ADMIN, "dl", (n, 1, rep_id, 7))
    assert set((await next_moments(ctx)).values()) == {REPLAN_AT}
    planner = ReminderPlanner(ctx)
    await planner.plan()
    friday = datetime(2026, 10, 9, 1, 0, tzinfo=UTC)
    assert set((await next_moments(ctx)).values()) == {friday}
    clock.set(datetime(2026, 10, 7, 1, 0, tzinfo=UTC))  # no reminder, no briefing due
    with statements(ctx) as idle:
        await planner.plan()
    task_reads = [sql for sql in idle if "FROM tasks" in sql]
    assert len(task_reads) == 1 and "next_remind_at <=" in task_reads[0]
    assert not any(sql.lstrip().upper().startswith(("INSERT", "UPDATE")) for sql in idle)
    assert await reminder_keys(ctx) == []
    clock.set(friday)
    await planner.plan()
    assert len(await reminder_keys(ctx)) == 9
    assert set((await next_moments(ctx)).values()) == {datetime(2026, 10, 13, 1, 0, tzinfo=UTC)}
    # Closing a task takes it off the clock.
    await cw.task_button(REP, "ack", (task.id,))
    assert (await next_moments(ctx))[task.id] == REPLAN_AT
    await cw.task_button(REP, "clo", (task.id, 1))
    await cw.pending_text(REP, chat(REP.external_id), "90", "已经办好了")
    assert (await next_moments(ctx))[task.id] is None


async def test_an_approved_extension_moves_the_reminders(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    task = await assigned_task(ctx, 3)  # due Thu 8 Oct
    planner = ReminderPlanner(ctx)
    await planner.plan()
    cw = CaseworkService(ctx)
    await cw.task_button(REP, "ack", (task.id,))
    await planner.plan()
    await cw.task_button(REP, "exd", (task.id, 15))
    await cw.pending_text(REP, chat(REP.external_id), "80", "需要街道会议研究")
    async with ctx.sessions() as s:
        from storage.models import Extension

        ext = (await s.execute(select(Extension))).scalar_one()
    await cw.extension_button(ADMIN, "y", (ext.id,))
    assert (await next_moments(ctx))[task.id] == REPLAN_AT
    await planner.plan()
    before = await reminder_keys(ctx)
    clock.set(datetime(2026, 10, 9, 1, 0, tzinfo=UTC))  # past the old deadline, not the new one
    await planner.plan()
    assert await reminder_keys(ctx) == before
    assert not any(":due:" in k or ":overdue:" in k for k in before)


async def test_next_stage_day_is_the_first_day_the_reminder_changes(ctx: ServiceContext) -> None:
    planner = ReminderPlanner(ctx)
    stage = planner._task_stage
    for due in (date(2026, 9, 30), date(2026, 10, 8), date(2026, 10, 13), date(2027, 1, 4)):
        eff = due - timedelta(days=20)
        while eff < due + timedelta(days=15):
            nxt = planner._next_stage_day(due, eff)
            assert nxt > eff
            between = [eff + timedelta(days=i) for i in range(1, (nxt - eff).days)]
            assert all(stage(due, d) == stage(due, eff) for d in between), (due, eff)
            assert stage(due, nxt) != stage(due, eff), (due, eff, nxt)
            eff += timedelta(days=1)
