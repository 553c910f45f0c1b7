"""The clock keeps running: 未评价 after a reopened case, concurrent rating presses, and a tick
whose steps fail independently."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from domain.clock import ManualClock
from scheduler.clock import ClockTick
from scheduler.dispatcher import Dispatcher
from services.casework import CaseworkService
from services.kernel.context import ServiceContext
from services.reminders import ReminderPlanner
from storage.models import Opinion, Outbox, Rating, Task
from tests.support import chat
from tests.test_casework_service import REP, RES, STAFF, setup_station, submit
from tests.test_reminders import RecordingOutbound


async def _assign_and_close(
    ctx: ServiceContext, cw: CaseworkService, op_id: int, rep_id: int, msg: int
) -> int:
    await cw.triage_button(STAFF, "dl", (op_id, 1, rep_id, 7))
    async with ctx.sessions() as s:
        task_id = (await s.execute(select(Task.id).where(Task.status == "open"))).scalar_one()
    await cw.task_button(REP, "ack", (task_id,))
    await cw.task_button(REP, "clo", (task_id, 1))
    closed = await cw.pending_text(REP, chat(REP.external_id), str(msg), "已经办好了，请查看")
    assert closed is not None and "办结" in closed.text
    return task_id


async def _closed_case(ctx: ServiceContext) -> tuple[CaseworkService, int, int]:
    from tests.support import user_id_of

    cw, intake = await setup_station(ctx)
    op = await submit(ctx, intake)
    rep_id = await user_id_of(ctx, REP)
    task_id = await _assign_and_close(ctx, cw, op.id, rep_id, 40)
    return cw, op.id, task_id


async def test_reopened_and_reclosed_case_left_unrated_expires_once(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    from tests.support import user_id_of

    cw, op_id, first = await _closed_case(ctx)
    assert (await cw.rating_button(RES, "v", (first, 3))).prompt is not None  # 不满意: reopened
    second = await _assign_and_close(ctx, cw, op_id, await user_id_of(ctx, REP), 41)
    clock.advance(timedelta(days=7, minutes=1))
    assert await cw.expire_ratings() == 1
    assert await cw.expire_ratings() == 0
    async with ctx.sessions() as s:
        ratings = (await s.execute(select(Rating.task_id, Rating.value).order_by(Rating.id))).all()
        op = await s.get(Opinion, op_id)
    assert [tuple(r) for r in ratings] == [(first, "unsatisfied"), (second, "unrated")]
    assert op is not None and op.status == "rated" and op.satisfaction == "unrated"


async def test_two_concurrent_presses_rate_once(ctx: ServiceContext) -> None:
    cw, op_id, task_id = await _closed_case(ctx)
    results = await asyncio.gather(
        cw.rating_button(RES, "v", (task_id, 1)),
        cw.rating_button(RES, "v", (task_id, 2)),
    )
    assert sum(r.edit is not None for r in results) == 1
    assert sum(r.alert for r in results) == 1
    async with ctx.sessions() as s:
        values = (await s.execute(select(Rating.value))).scalars().all()
        op = await s.get(Opinion, op_id)
    assert len(values) == 1
    assert op is not None and op.status == "rated" and op.satisfaction == values[0]


async def test_expiry_and_a_press_at_once_leave_one_rating(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    cw, op_id, task_id = await _closed_case(ctx)
    clock.advance(timedelta(days=7, minutes=1))
    await asyncio.gather(cw.expire_ratings(), cw.rating_button(RES, "v", (task_id, 1)))
    async with ctx.sessions() as s:
        values = (await s.execute(select(Rating.value))).scalars().all()
        op = await s.get(Opinion, op_id)
    assert len(values) == 1
    assert op is not None and op.status == "rated" and op.satisfaction == values[0]


async def test_a_failing_step_does_not_stop_the_others(
    ctx: ServiceContext, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.test_reminders import assigned_task

    await assigned_task(ctx, 3)
    clock.advance(timedelta(days=20))
    out = RecordingOutbound()

    async def broken() -> object:
        raise RuntimeError("a step that cannot run")

    tick = ClockTick(
        [
            ("broken", broken),
            ("plan", ReminderPlanner(ctx).plan),
            ("drain", Dispatcher(ctx, [out]).tick),
        ]
    )
    with caplog.at_level(logging.ERROR, logger="scheduler.clock"):
        failed = await tick.run()
    assert failed == ["broken"]
    assert any("broken" in r.getMessage() and r.exc_info for r in caplog.records)
    async with ctx.sessions() as s:
        statuses = (
            (await s.execute(select(Outbox.status).where(Outbox.kind == "reminder")))
            .scalars()
            .all()
        )
    assert statuses and all(st == "sent" for st in statuses)
    assert any("逾期" in text for _, text in out.sent)
