"""Issue 15: the defects the walk through the casework loop found, each through the real
services and a real migrated database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from domain.clock import ManualClock
from scheduler.dispatcher import Dispatcher
from services.casework import CaseworkService
from services.intake import IntakeService
from services.kernel.context import ServiceContext
from services.reminders import ReminderPlanner
from services.reminders.planner import ReminderPolicy
from storage.models import Outbox, Task
from tests.support import bind_staff, chat, code_in, tg, user_id_of
from tests.test_reminders import RecordingOutbound
from texts.reminders import LATE_NOTE

ADMIN = tg(900, "站长")
STAFF = tg(901, "小张")
REP = tg(500, "刘代表")
RES = tg(101, "王", "阿姨")
RES2 = tg(102, "李", "大爷")
STAFF_CHAT = -1001
TEXT = "我们小区没有老年食堂，老人吃饭很不方便，希望社区能办一个助餐点。"


async def station(ctx: ServiceContext) -> tuple[CaseworkService, IntakeService, int]:
    cw, intake = CaseworkService(ctx), IntakeService(ctx)
    await bind_staff(ctx, ADMIN, STAFF_CHAT)
    await intake.start(STAFF, None)
    await cw.add_staff(ADMIN, STAFF.external_id, None)
    await cw.join(REP, code_in(await cw.create_invite(STAFF, None, None)))
    return cw, intake, await user_id_of(ctx, REP)


async def submitted(
    ctx: ServiceContext, intake: IntakeService, who: object = RES, n: int = 1
) -> int:
    from domain.channels import Sender

    assert isinstance(who, Sender)
    await intake.submit_text(who, chat(who.external_id), str(n), TEXT + f"（第{n}条）", None)
    async with ctx.sessions() as s:
        from storage.models import Opinion

        return int(
            (
                await s.execute(select(Opinion.id).where(Opinion.src_message_id == str(n)))
            ).scalar_one()
        )


async def open_task(ctx: ServiceContext) -> Task:
    async with ctx.sessions() as s:
        return (await s.execute(select(Task).where(Task.status == "open"))).scalar_one()


# ---- 1. a reminder is never dated before its task existed ---------------------------------------


async def test_reminder_setting_longer_than_the_deadline_is_not_sent_as_late(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    cw, intake, rep = await station(ctx)
    op = await submitted(ctx, intake)
    clock.set(datetime(2026, 9, 28, 2, 30, tzinfo=UTC))  # Mon 10:30 Beijing
    await cw.triage_button(STAFF, "dl", (op, 1, rep, 3))
    task = await open_task(ctx)
    planner = ReminderPlanner(ctx, policy=ReminderPolicy(days_before=5))
    outbound = RecordingOutbound()
    dispatcher = Dispatcher(ctx, [outbound])
    for hours in range(24 * 6):  # the bot ticks all along: nothing is ever late
        clock.set(datetime(2026, 9, 28, 2, 30, tzinfo=UTC) + timedelta(hours=hours))
        await planner.plan()
        await dispatcher.drain_once()
    async with ctx.sessions() as s:
        rows = (await s.execute(select(Outbox).where(Outbox.kind == "reminder"))).scalars().all()
    assert rows, "a reminder is still sent before the deadline"
    assert all(r.due_at > task.assigned_at for r in rows), [(r.key, r.due_at) for r in rows]
    reminders = [text for _, text in outbound.sent if "到期" in text]
    assert reminders and not any(LATE_NOTE.strip() in text for text in reminders), reminders


# ---- 4. a reminder queued before the task was closed is dropped, not sent -----------------------


async def test_reminder_for_a_closed_task_is_dropped_at_claim(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    cw, intake, rep = await station(ctx)
    op = await submitted(ctx, intake)
    await cw.triage_button(STAFF, "dl", (op, 1, rep, 3))
    task = await open_task(ctx)
    clock.set(datetime.combine(task.due_date, datetime.min.time(), tzinfo=UTC))  # 08:00 Beijing
    clock.advance(timedelta(hours=1, minutes=5))  # 09:05: the due-day reminder is queued
    assert await ReminderPlanner(ctx).plan() >= 1
    # The representative closes the task before the dispatcher gets to the reminder.
    await cw.task_button(REP, "ack", (task.id,))
    await cw.task_button(REP, "clo", (task.id, 1))
    await cw.pending_text(REP, chat(REP.external_id), "70", "已经办好了")
    outbound = RecordingOutbound()
    await Dispatcher(ctx, [outbound]).drain_once()
    assert not any("到期" in text for _, text in outbound.sent), outbound.sent
    async with ctx.sessions() as s:
        statuses = (
            (await s.execute(select(Outbox.status).where(Outbox.kind == "reminder")))
            .scalars()
            .all()
        )
    assert statuses and set(statuses) == {"dropped"}
