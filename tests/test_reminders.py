"""Reminder planner and dispatcher: the right reminders, once, through restarts and failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from domain.clock import ManualClock
from scheduler.delivery import Delivered, DeliveryResult, Retry, Undeliverable
from scheduler.dispatcher import Dispatcher
from services.casework import CaseworkService
from services.context import ServiceContext
from services.intake import IntakeService
from services.meetings import MeetingService
from services.reminders import ReminderPlanner
from services.staff import StaffService
from services.types import Sender
from storage.models import Outbox, Task, Unit, User
from texts.reminders import LATE_NOTE

ADMIN = Sender(900, "站长")
REP = Sender(500, "刘代表")
RES = Sender(101, "王阿姨")
STAFF_CHAT = -1001
GROUP_CHAT = -2002
TEXT = "我们小区没有老年食堂，老人吃饭很不方便，希望社区能办一个助餐点。"


class RecordingOutbound:
    """A stand-in for Telegram at the delivery boundary: records sends, can refuse chats."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []
        self.blocked: set[int] = set()
        self.flood_once: set[int] = set()

    async def send(
        self,
        chat_id: int,
        text: str,
        reply_markup: dict[str, Any] | None,
        photo: bytes | None = None,
    ) -> DeliveryResult:
        if chat_id in self.blocked:
            return Undeliverable("Forbidden: bot was kicked from the group chat")
        if chat_id in self.flood_once:
            self.flood_once.discard(chat_id)
            return Retry(3, "429 retry after 3")
        self.sent.append((chat_id, text))
        return Delivered(str(len(self.sent)))


async def assigned_task(ctx: ServiceContext, days: int) -> Task:
    cw = CaseworkService(ctx)
    intake = IntakeService(ctx)
    await StaffService(ctx).bind_staff_chat(ADMIN, STAFF_CHAT, None)
    invite = await cw.create_invite(ADMIN, None, None)
    await cw.join(REP, invite.text.split("<code>")[1].split("</code>")[0])
    await intake.submit_text(RES, RES.tg_id, 1, TEXT, None)
    async with ctx.sessions() as s:
        rep_id = (await s.execute(select(User.id).where(User.tg_id == REP.tg_id))).scalar_one()
    await cw.triage_button(ADMIN, "dl", (1, 1, rep_id, days))
    async with ctx.sessions() as s:
        return (await s.execute(select(Task))).scalar_one()


async def reminder_keys(ctx: ServiceContext) -> list[str]:
    async with ctx.sessions() as s:
        return list(
            (
                await s.execute(
                    select(Outbox.key).where(Outbox.kind == "reminder").order_by(Outbox.id)
                )
            ).scalars()
        )


async def test_deadline_stages_each_once(ctx: ServiceContext, clock: ManualClock) -> None:
    # Mon 28 Sept 2026 09:00 Beijing. Seven working days: 29, 30 Sept, 8, 9, Sat 10 (调休),
    # 12, 13 Oct: the deadline is Tue 13 Oct.
    task = await assigned_task(ctx, 7)
    assert task.due_date.isoformat() == "2026-10-13"
    planner = ReminderPlanner(ctx)
    await planner.plan()
    clock.set(datetime(2026, 10, 8, 1, 0, tzinfo=UTC))
    await planner.plan()
    assert await reminder_keys(ctx) == []
    # Three working days before (10, 12, 13 remain): Fri 9 Oct 09:00.
    clock.set(datetime(2026, 10, 9, 1, 0, tzinfo=UTC))
    await planner.plan()
    assert len(await reminder_keys(ctx)) == 1
    await planner.plan()
    assert len(await reminder_keys(ctx)) == 1  # a second tick adds nothing
    clock.set(datetime(2026, 10, 13, 1, 0, tzinfo=UTC))
    await planner.plan()
    clock.set(datetime(2026, 10, 14, 1, 0, tzinfo=UTC))
    await planner.plan()
    keys = await reminder_keys(ctx)
    assert [k.split(":")[3] for k in keys] == ["pre", "due", "overdue"]
    # Third overdue working day (Fri 16 Oct): reported to staff once.
    clock.set(datetime(2026, 10, 16, 1, 30, tzinfo=UTC))
    await planner.plan()
    await planner.plan()
    keys = await reminder_keys(ctx)
    assert sum(k.endswith(":report") for k in keys) == 1
    async with ctx.sessions() as s:
        report = (await s.execute(select(Outbox).where(Outbox.key.like("%:report")))).scalar_one()
    assert report.chat_id == STAFF_CHAT and "逾期通报" in report.text


async def test_downtime_sends_only_the_latest_stage_and_says_it_is_late(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    await assigned_task(ctx, 3)
    # Down from assignment until two working days after the deadline.
    clock.set(datetime(2026, 10, 13, 5, 0, tzinfo=UTC))
    planner = ReminderPlanner(ctx)
    await planner.plan()
    # Due Thu 8 Oct; by Tue 13 Oct it is 4 working days overdue: no stale "3 days left" or
    # "due today", only today's overdue reminder and the report to staff.
    keys = await reminder_keys(ctx)
    assert len(keys) == 2
    assert keys[0] == f"remind:task:1:overdue:2026-10-13:{REP.tg_id}"
    assert keys[1] == "remind:task:1:report"
    out = RecordingOutbound()
    await Dispatcher(ctx, out).tick()
    reminders = [t for _, t in out.sent if "逾期" in t]
    assert len(reminders) == 2 and all(t.startswith(LATE_NOTE) for t in reminders)


async def test_meeting_reminders_with_agenda_and_dropped_after_start(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    task = await assigned_task(ctx, 3)
    cw = CaseworkService(ctx)
    await cw.add_unit(ADMIN, "group", "居家养老专题组")
    await cw.bind_unit_chat(ADMIN, GROUP_CHAT, "居家养老专题组")
    async with ctx.sessions() as s:
        unit = (await s.execute(select(Unit))).scalar_one()
        t = await s.get(Task, task.id)
        assert t is not None
        t.assignee_unit_id = unit.id
        await s.commit()
    meetings = MeetingService(ctx)
    created = await meetings.create(
        ADMIN, "居家养老专题组 | 推进会 | 2026-10-01 15:00 | 每半月 | 会议室"
    )
    assert "每半月" in created.text and "2026-10-08 15:00" in created.text
    planner = ReminderPlanner(ctx)
    clock.set(datetime(2026, 10, 7, 7, 5, tzinfo=UTC))  # 7 Oct 15:05: the day before
    await planner.plan()
    async with ctx.sessions() as s:
        row = (
            await s.execute(select(Outbox).where(Outbox.key.like("remind:meeting:%")))
        ).scalar_one()
    assert row.chat_id == GROUP_CHAT and "明天" in row.text and "推进会" in row.text
    assert "LL-2026-00001" in row.text  # the group's task due within the week is on the agenda
    # The bot was down through the meeting: the hour-before reminder is recorded as dropped.
    clock.set(datetime(2026, 10, 8, 8, 0, tzinfo=UTC))
    await planner.plan()
    async with ctx.sessions() as s:
        hour = (
            await s.execute(select(Outbox).where(Outbox.key.like("remind:meeting:%:1")))
        ).scalar_one()
    assert hour.status == "dropped"
    cancelled = await meetings.cancel(ADMIN, 1)
    assert "取消" in cancelled.text
    async with ctx.sessions() as s:
        notice = (
            await s.execute(select(Outbox).where(Outbox.key.like("meeting:1:v2:%")))
        ).scalar_one()
    assert notice.chat_id == GROUP_CHAT and "取消" in notice.text


async def test_blocked_chat_is_marked_and_staff_told_once(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    await assigned_task(ctx, 3)
    out = RecordingOutbound()
    out.blocked.add(REP.tg_id)
    dispatcher = Dispatcher(ctx, out)
    await dispatcher.tick()
    clock.advance(timedelta(days=20))
    await ReminderPlanner(ctx).plan()
    await dispatcher.tick()
    async with ctx.sessions() as s:
        statuses = (
            (await s.execute(select(Outbox.status).where(Outbox.chat_id == REP.tg_id)))
            .scalars()
            .all()
        )
        notices = (
            (await s.execute(select(Outbox).where(Outbox.key == f"undeliverable:{REP.tg_id}")))
            .scalars()
            .all()
        )
    assert statuses and all(st == "undeliverable" for st in statuses)
    assert len(notices) == 1
    assert sum("无法" in t for c, t in out.sent if c == STAFF_CHAT) == 1


async def test_flood_wait_loses_nothing(ctx: ServiceContext, clock: ManualClock) -> None:
    await assigned_task(ctx, 3)
    out = RecordingOutbound()
    out.flood_once.add(REP.tg_id)
    dispatcher = Dispatcher(ctx, out)
    await dispatcher.tick()
    assert not any(c == REP.tg_id for c, _ in out.sent)
    clock.advance(timedelta(seconds=4))
    await dispatcher.tick()
    assert sum(c == REP.tg_id for c, _ in out.sent) == 1


async def test_announcement_now_and_later(ctx: ServiceContext, clock: ManualClock) -> None:
    cw = CaseworkService(ctx)
    await StaffService(ctx).bind_staff_chat(ADMIN, STAFF_CHAT, None)
    for name, chat in (("甲组", -3001), ("乙组", -3002), ("丙组", None)):
        await cw.add_unit(ADMIN, "group", name)
        if chat:
            await cw.bind_unit_chat(ADMIN, chat, name)
    meetings = MeetingService(ctx)
    reply = await meetings.announce(ADMIN, "全部 @2026-09-29 10:00 周五下午召开调度会，请准备材料")
    assert "甲组" in reply.text and "丙组" in reply.text
    out = RecordingOutbound()
    dispatcher = Dispatcher(ctx, out)
    await dispatcher.tick()
    assert not out.sent
    clock.set(datetime(2026, 9, 29, 2, 0, tzinfo=UTC))
    await dispatcher.tick()
    assert sorted(c for c, _ in out.sent) == [-3002, -3001]
    refused = await meetings.announce(RES, "全部 乱发通知")
    assert "只有" in refused.text


async def test_scheduled_briefing_is_posted_once_with_its_chart(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    await assigned_task(ctx, 3)
    planner = ReminderPlanner(ctx)
    # 1 Oct is National Day: the half-monthly briefing moves to Thu 8 Oct 09:00.
    clock.set(datetime(2026, 10, 8, 1, 5, tzinfo=UTC))
    await planner.plan()
    await planner.plan()
    async with ctx.sessions() as s:
        rows = (
            (await s.execute(select(Outbox).where(Outbox.kind == "briefing").order_by(Outbox.id)))
            .scalars()
            .all()
        )
    assert [r.chat_id for r in rows] == [STAFF_CHAT, STAFF_CHAT]
    assert "工作简报" in rows[0].text and rows[1].photo is not None
    assert rows[1].photo[:8] == b"\x89PNG\r\n\x1a\n"
    out = RecordingOutbound()
    await Dispatcher(ctx, out).tick()
    assert sum(c == STAFF_CHAT for c, _ in out.sent) >= 2


async def test_reception_day_is_announced_three_days_ahead_to_subscribers(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    await StaffService(ctx).bind_staff_chat(ADMIN, STAFF_CHAT, None)
    meetings = MeetingService(ctx)
    assert "已订阅" in (await meetings.subscribe(RES, True)).text
    other = Sender(102, "李大爷")
    await meetings.subscribe(other, True)
    assert "已退订" in (await meetings.subscribe(other, False)).text
    created = await meetings.create(
        ADMIN, "全站 | 代表接待日 | 2026-10-20 09:00 | 一次 | 联络站一楼"
    )
    assert "代表接待日" in created.text
    planner = ReminderPlanner(ctx)
    clock.set(datetime(2026, 10, 17, 0, 59, tzinfo=UTC))  # 08:59, three days minus a minute
    await planner.plan()
    assert await reminder_keys(ctx) == []
    clock.set(datetime(2026, 10, 17, 1, 0, tzinfo=UTC))
    await planner.plan()
    await planner.plan()
    async with ctx.sessions() as s:
        rows = (
            (await s.execute(select(Outbox).where(Outbox.key.like("remind:reception:%"))))
            .scalars()
            .all()
        )
    assert [r.chat_id for r in rows] == [RES.tg_id]
    assert "代表接待日" in rows[0].text and "/unsubscribe" in rows[0].text
