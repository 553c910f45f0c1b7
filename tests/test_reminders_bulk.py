"""The planner's bulk writes: each reminder once when two instances plan at the same moment, and
nothing planned from a task that changed between the planner's read and its write; the staff
digest's empty day searched once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time

import pytest
from sqlalchemy import func, select

import services.reminders.planner as planner_module
from domain.clock import ManualClock
from services.casework import CaseworkService
from services.intake import IntakeService
from services.kernel.context import ServiceContext
from services.reminders import ReminderPlanner
from services.reminders.due import TaskChats, due_tasks
from services.reports.digest import plan_digests
from storage.db import make_engine, make_sessionmaker
from storage.models import REPLAN_AT, Outbox, Task
from tests.support import bind_staff, chat, user_id_of
from tests.test_reminders import ADMIN, REP, RES, STAFF_CHAT, TEXT, assigned_task, reminder_keys
from tests.test_reminders_incremental import next_moments, statements

FRIDAY = datetime(2026, 10, 9, 1, 0, tzinfo=UTC)  # "3 days left" for tasks due Tue 13 Oct


async def pending_rows(ctx: ServiceContext) -> int:
    async with ctx.sessions() as s:
        pending = select(func.count()).where(Outbox.status == "pending")
        return int((await s.execute(pending)).scalar_one())


async def many_tasks(ctx: ServiceContext, n: int) -> None:
    await assigned_task(ctx, 7)
    cw, intake = CaseworkService(ctx), IntakeService(ctx)
    rep_id = await user_id_of(ctx, REP)
    for k in range(2, n + 1):
        await intake.submit_text(RES, chat(RES.external_id), str(k), f"{TEXT}第{k}条", None)
        await cw.triage_button(ADMIN, "dl", (k, 1, rep_id, 7))


async def test_two_instances_planning_at_once_write_each_reminder_once(
    ctx: ServiceContext, db_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await many_tasks(ctx, 10)  # a resident's opinions per hour
    await ReminderPlanner(ctx).plan()  # catch-up: next moments set, nothing due yet
    before = await pending_rows(ctx)
    # Small reads and chunks, so the two instances' transactions interleave.
    monkeypatch.setitem(planner_module.READ_BATCH, "sqlite", 3)
    monkeypatch.setitem(planner_module.READ_BATCH, "postgresql", 3)
    monkeypatch.setattr(planner_module, "WRITE_START", 2)
    monkeypatch.setattr(planner_module, "PG_CHUNK", 2)
    other_engine = make_engine(db_url)  # a second instance of the bot on the same database
    other = ServiceContext(
        sessions=make_sessionmaker(other_engine),
        classifier=ctx.classifier,
        tz=ctx.tz,
        clock=clock,
        station=ctx.station,
        limits=ctx.limits,
        admin_ids=ctx.admin_ids,
    )
    try:
        clock.set(FRIDAY)
        added = await asyncio.gather(ReminderPlanner(ctx).plan(), ReminderPlanner(other).plan())
    finally:
        await other_engine.dispose()
    keys = await reminder_keys(ctx)
    assert len(keys) == 10 and len(set(keys)) == 10
    # Nothing counted twice (each row by the instance that added it; plan() also counts others).
    assert 10 <= sum(added) <= await pending_rows(ctx) - before
    assert set((await next_moments(ctx)).values()) == {datetime(2026, 10, 13, 1, 0, tzinfo=UTC)}


async def test_a_task_changed_after_the_read_is_not_planned_from_what_was_read(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    task = await assigned_task(ctx, 7)
    planner = ReminderPlanner(ctx)
    await planner.plan()
    clock.set(FRIDAY)
    async with ctx.sessions.begin() as s:  # what a tick reads ...
        (read,) = await due_tasks(s, clock.now(), 10)
        chats = await TaskChats.load(s)
        await chats.add(s, [read])
        bind = s.get_bind()
    plan = planner._plan_task(read, FRIDAY.astimezone(ctx.tz).date(), chats, {})
    assert plan.rows  # ... would remind ...
    await CaseworkService(ctx).task_button(REP, "ack", (task.id,))  # ... but the task changed
    writer = planner_module._Writer(ctx, bind)
    await writer.submit([plan])
    assert await writer.drain() == 0
    assert await reminder_keys(ctx) == []
    async with ctx.sessions() as s:
        moment = (await s.execute(select(Task.next_remind_at).where(Task.id == task.id))).scalar()
    assert moment == REPLAN_AT  # left for the next tick, which plans from the new state
    await planner.plan()
    assert len(await reminder_keys(ctx)) == 1


async def test_an_empty_digest_is_searched_once_a_day(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    await bind_staff(ctx, ADMIN, STAFF_CHAT)  # a staff group, folded noise (the default)
    clock.set(datetime(2026, 10, 12, 1, 0, 30, tzinfo=UTC))  # 09:00:30, no events yesterday
    with statements(ctx) as first:
        await plan_digests(ctx, clock.now(), time(9, 0))
    clock.set(datetime(2026, 10, 12, 1, 0, 40, tzinfo=UTC))  # the next tick
    with statements(ctx) as second:
        await plan_digests(ctx, clock.now(), time(9, 0))
    assert any("FROM opinion_events" in sql for sql in first)
    assert not any("FROM opinion_events" in sql for sql in second)
