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
from tests.support import bind_staff, chat, code_in, outbox_texts, tg, user_id_of
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
    cw = CaseworkService(ctx)
    intake = IntakeService(ctx, prompts=cw.answer_prompt)  # as the Router builds it
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


async def close_task(cw: CaseworkService, task_id: int, outcome: int, result: str, n: str) -> None:
    await cw.task_button(REP, "ack", (task_id,))
    await cw.task_button(REP, "clo", (task_id, outcome))
    await cw.pending_text(REP, chat(REP.external_id), n, result)


# ---- 2. a reopened case reaches the assignee with its context -----------------------------------


async def test_reopened_task_card_says_why(ctx: ServiceContext) -> None:
    cw, intake, rep = await station(ctx)
    op = await submitted(ctx, intake)
    await cw.triage_button(STAFF, "dl", (op, 1, rep, 7))
    first = await open_task(ctx)
    await close_task(cw, first.id, 1, "已协调街道开办助餐点", "80")
    await cw.rating_button(RES, "v", (first.id, 3))
    await cw.pending_text(RES, chat(RES.external_id), "81", "饭菜太贵了，老人吃不起")
    await cw.triage_button(STAFF, "dl", (op, 1, rep, 7))
    cards = [
        t for t in await outbox_texts(ctx, REP.external_id) if "交办事项" in t and "无需" not in t
    ]
    assert len(cards) == 2
    assert "不满意" not in cards[0]
    again = cards[1]
    assert "不满意" in again and "饭菜太贵了" in again and "已协调街道开办助餐点" in again
    assert "A 已解决" in again  # the assignee keeps the staff codes


# ---- 3. a unit nobody can receive is flagged at 交办 ---------------------------------------------


async def test_assigning_to_an_unreachable_unit_warns_and_offers_a_proxy(
    ctx: ServiceContext,
) -> None:
    from storage.models import Unit

    cw, intake, _ = await station(ctx)
    await cw.add_unit(STAFF, "department", "区民政局")
    op = await submitted(ctx, intake)
    async with ctx.sessions() as s:
        unit = (await s.execute(select(Unit.id))).scalar_one()
    warned = await cw.triage_button(STAFF, "to", (op, 2, unit))
    assert (
        warned.alert
        and "没有绑定群" in (warned.toast or "")
        and "/bind 区民政局" in (warned.toast or "")
    )
    assert warned.edit is not None
    labels = [a.label for a in warned.edit.choices()]
    assert any("由我代办" in label for label in labels)
    assert not any("工作日" in label for label in labels)  # no silent 交办 from here
    proxy = next(a for a in warned.edit.choices() if "由我代办" in a.label)
    kind = int(proxy.payload.split(".")[0].split(":")[3])
    days = await cw.triage_button(STAFF, "to", (op, kind, unit))
    assert days.edit is not None and any("工作日" in a.label for a in days.edit.choices())
    done = await cw.triage_button(STAFF, "dl", (op, kind, unit, 15))
    assert "区民政局" in (done.toast or "") and "小张" in (done.toast or "")
    task = await open_task(ctx)
    assert task.assignee_unit_id == unit and task.assignee_user_id == await user_id_of(ctx, STAFF)
    # The staff proxy receives the task card privately, and can act on it.
    assert any("交办事项" in t for t in await outbox_texts(ctx, STAFF.external_id))
    assert (await cw.task_button(STAFF, "ack", (task.id,))).edit is not None


# ---- 5. a new opinion days after a rating is not swallowed as a comment ------------------------


async def test_text_days_after_a_rating_is_a_new_opinion(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    from storage.models import Opinion

    cw, intake, rep = await station(ctx)
    op = await submitted(ctx, intake)
    await cw.triage_button(STAFF, "dl", (op, 1, rep, 7))
    task = await open_task(ctx)
    await close_task(cw, task.id, 1, "助餐点已开业", "90")
    rated = await cw.rating_button(RES, "v", (task.id, 1))
    assert rated.prompt is not None and "不需要可以忽略" in rated.prompt.text.plain
    clock.advance(timedelta(days=3))
    later = "楼下的路灯坏了一个多月了，晚上出门很不安全，希望尽快修好。"
    reply = await intake.submit_text(RES, chat(RES.external_id), "91", later, None)
    assert "受理编号" in reply.text.plain
    async with ctx.sessions() as s:
        texts = (await s.execute(select(Opinion.text))).scalars().all()
    assert later in texts
    assert not any(later in t for t in await outbox_texts(ctx, STAFF_CHAT) if "评价意见" in t)


async def test_comment_right_after_rating_is_a_comment_and_says_how_to_send_anew(
    ctx: ServiceContext,
) -> None:
    cw, intake, rep = await station(ctx)
    op = await submitted(ctx, intake)
    await cw.triage_button(STAFF, "dl", (op, 1, rep, 7))
    task = await open_task(ctx)
    await close_task(cw, task.id, 1, "助餐点已开业", "92")
    await cw.rating_button(RES, "v", (task.id, 2))
    reply = await intake.submit_text(
        RES, chat(RES.external_id), "93", "菜品种类再多一些就好了", None
    )
    assert "转告工作人员" in reply.text.plain and "再发送一次" in reply.text.plain
    assert any("菜品种类" in t for t in await outbox_texts(ctx, STAFF_CHAT))


# ---- 6. a co-signer can look up the case they were merged into ---------------------------------


async def test_cosigner_sees_the_merged_case_in_status_and_my(ctx: ServiceContext) -> None:
    cw, intake, rep = await station(ctx)
    first = await submitted(ctx, intake, RES, 1)
    dup = await submitted(ctx, intake, RES2, 2)
    async with ctx.sessions() as s:
        from storage.models import Opinion

        ref = (await s.execute(select(Opinion.ref_no).where(Opinion.id == first))).scalar_one()
    await cw.triage_button(STAFF, "du", (dup,))
    await cw.pending_text(STAFF, chat(STAFF_CHAT), "95", ref)
    await cw.triage_button(STAFF, "dl", (first, 1, rep, 7))
    status = await intake.status(RES2, ref)
    assert ref in status.text.plain and "没有找到" not in status.text.plain
    assert "合并" in status.text.plain and not status.actions  # no owner's buttons
    assert ref in (await intake.my_list(RES2, 1)).text.plain


# ---- 7. wording -----------------------------------------------------------------------------------


async def test_residents_read_plain_words_and_staff_one_message(ctx: ServiceContext) -> None:
    cw, intake, rep = await station(ctx)
    op = await submitted(ctx, intake)
    await cw.triage_button(STAFF, "dl", (op, 1, rep, 7))
    task = await open_task(ctx)
    ack = await cw.task_button(REP, "ack", (task.id,))
    assert "从现在起" not in (ack.toast or "") and task.due_date.isoformat() in (ack.toast or "")
    await cw.task_button(REP, "clo", (task.id, 3))
    await cw.pending_text(REP, chat(REP.external_id), "100", "今年没有经费，已列入明年预算申请")
    closed = next(t for t in await outbox_texts(ctx, RES.external_id) if "已办结" in t)
    assert "C " not in closed and "受条件限制" in closed
    rated = await cw.rating_button(RES, "v", (task.id, 3))
    assert rated.edit is not None and "谢谢" not in rated.edit.text.plain
    reopened = [t for t in await outbox_texts(ctx, STAFF_CHAT) if "重新办理" in t][-1]
    assert "新意见" not in reopened
    # 不予受理 typed in the staff group: one message there, not "已处理。" and a second one.
    other = await submitted(ctx, intake, RES2, 2)
    await cw.triage_button(STAFF, "rj", (other,))
    before = len(await outbox_texts(ctx, STAFF_CHAT))
    reply = await cw.pending_text(STAFF, chat(STAFF_CHAT), "101", "不属于联络站受理范围")
    assert reply is not None and "不予受理" in reply.text.plain and "不属于" in reply.text.plain
    assert len(await outbox_texts(ctx, STAFF_CHAT)) == before


def test_meeting_reminder_says_the_time() -> None:
    from zoneinfo import ZoneInfo

    from texts.reminders import meeting_reminder

    when = datetime(2026, 10, 9, 15, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    soon = meeting_reminder("推进会", "301室", when, False, []).plain
    assert "一小时后" not in soon and "今天 15:00" in soon
    assert "明天 15:00" in meeting_reminder("推进会", "", when, True, []).plain


# ---- 8. residents are told when to expect an answer -------------------------------------------


async def test_resident_told_the_expected_date_at_assignment_extension_and_status(
    ctx: ServiceContext,
) -> None:
    from storage.models import Extension, Opinion

    cw, intake, rep = await station(ctx)
    op = await submitted(ctx, intake)
    await cw.triage_button(STAFF, "dl", (op, 1, rep, 7))
    task = await open_task(ctx)
    due = task.due_date
    told = next(t for t in await outbox_texts(ctx, RES.external_id) if "已交办" in t)
    assert f"{due.year}年{due.month}月{due.day}日" in told
    async with ctx.sessions() as s:
        ref = (await s.execute(select(Opinion.ref_no))).scalar_one()
    assert f"{due.year}年{due.month}月{due.day}日" in (await intake.status(RES, ref)).text.plain
    await cw.task_button(REP, "ack", (task.id,))
    await cw.task_button(REP, "exd", (task.id, 7))
    await cw.pending_text(REP, chat(REP.external_id), "110", "需要街道会议研究")
    async with ctx.sessions() as s:
        ext = (await s.execute(select(Extension.id))).scalar_one()
    await cw.extension_button(STAFF, "y", (ext,))
    new_due = (await open_task(ctx)).due_date
    assert new_due > due
    later = [t for t in await outbox_texts(ctx, RES.external_id) if "多一些时间" in t]
    assert later and f"{new_due.year}年{new_due.month}月{new_due.day}日" in later[0]
    status = (await intake.status(RES, ref)).text.plain
    assert f"{new_due.year}年{new_due.month}月{new_due.day}日" in status


# ---- 9. used keyboards ------------------------------------------------------------------------


# ---- 10. 满意率 counts each case once, with its final rating ----------------------------------


async def test_satisfaction_counts_the_final_rating_of_each_case(ctx: ServiceContext) -> None:
    from domain.periods import Period
    from services.reports.stats import compute_stats

    cw, intake, rep = await station(ctx)
    op = await submitted(ctx, intake)
    await cw.triage_button(STAFF, "dl", (op, 1, rep, 7))
    first = await open_task(ctx)
    await close_task(cw, first.id, 1, "已解决", "140")
    await cw.rating_button(RES, "v", (first.id, 3))
    await cw.triage_button(STAFF, "dl", (op, 1, rep, 7))
    second = await open_task(ctx)
    await close_task(cw, second.id, 1, "真的解决了", "141")
    await cw.rating_button(RES, "v", (second.id, 1))
    async with ctx.sessions() as s:
        from storage.models import Station

        station_id = (await s.execute(select(Station.id))).scalar_one()
    stats = await compute_stats(ctx, station_id, Period.all_time())
    assert stats.satisfaction.rated == 1 and stats.satisfaction.rate == 1.0
    assert stats.satisfaction.count("unsatisfied") == 0
