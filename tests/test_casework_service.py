"""Casework use cases: roles, triage, assignment with working-day deadlines, the assignee's steps,
rating and reopening, all against a real migrated database."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from domain.channels import Sender
from domain.clock import ManualClock
from services.casework import CaseworkService
from services.intake import IntakeService
from services.kernel.context import ServiceContext
from storage.models import (
    Opinion,
    OpinionEvent,
    Outbox,
    Rating,
    Task,
    ThemeCorrection,
)
from tests.support import bind_staff, chat, code_in, outbox_texts, tg, user_id_of

ADMIN = tg(900, "站长")
STAFF = tg(901, "小张")
STAFF2 = tg(902, "小李")
REP = tg(500, "刘代表")
RES = tg(101, "王", "阿姨")
OTHER = tg(102, "路人甲")
STAFF_CHAT = -1001
TEXT = "我们小区没有老年食堂，老人吃饭很不方便，希望社区能办一个助餐点。"


async def setup_station(ctx: ServiceContext) -> tuple[CaseworkService, IntakeService]:
    cw = CaseworkService(ctx)
    intake = IntakeService(ctx)
    await bind_staff(ctx, ADMIN, STAFF_CHAT)
    await intake.start(STAFF, None)
    assert "工作人员" in (await cw.add_staff(ADMIN, STAFF.external_id, None)).text
    assert "工作人员" in (await cw.add_staff(ADMIN, None, None)).text or True
    await intake.start(STAFF2, None)
    await cw.add_staff(ADMIN, STAFF2.external_id, None)
    invite = await cw.create_invite(STAFF, None, None)
    code = code_in(invite)
    joined = await cw.join(REP, code)
    assert "代表" in joined.text
    reused = await cw.join(OTHER, code)
    assert "无效" in reused.text
    return cw, intake


async def submit(ctx: ServiceContext, intake: IntakeService, msg_id: int = 1) -> Opinion:
    await intake.submit_text(RES, chat(RES.external_id), str(msg_id), TEXT, None)
    async with ctx.sessions() as s:
        return (
            await s.execute(select(Opinion).where(Opinion.src_message_id == str(msg_id)))
        ).scalar_one()


async def test_add_staff_needs_admin_and_a_known_user(ctx: ServiceContext) -> None:
    cw = CaseworkService(ctx)
    assert "管理员" in (await cw.add_staff(OTHER, 12345, None)).text
    assert "没有找到" in (await cw.add_staff(ADMIN, 12345, None)).text
    assert "只有联络站工作人员" in (await cw.create_invite(OTHER, None, None)).text


async def test_full_lifecycle_with_reopen(ctx: ServiceContext, clock: ManualClock) -> None:
    cw, intake = await setup_station(ctx)
    # Wed 30 Sept 2026, 10:00 Beijing: three working days run over National Day to Sat 10 Oct.
    clock.set(datetime(2026, 9, 30, 2, 0, tzinfo=UTC))
    op = await submit(ctx, intake)
    rep_id = await _rep_user_id(ctx)

    changed = await cw.triage_button(STAFF, "st", (op.id, 1))  # 医养结合 is index 1
    assert changed.edit is not None
    async with ctx.sessions() as s:
        corr = (await s.execute(select(ThemeCorrection))).scalar_one()
        assert corr.new_theme == "medical_care" and corr.text == TEXT
    choices = await cw.triage_button(STAFF, "as", (op.id,))
    assert choices.edit is not None and any(
        "刘代表" in b.label for row in choices.edit.actions for b in row
    )
    done = await cw.triage_button(STAFF, "dl", (op.id, 1, rep_id, 3))
    assert done.edit is not None and "2026-10-10" in done.edit.text
    async with ctx.sessions() as s:
        task = (await s.execute(select(Task))).scalar_one()
    assert task.due_date == date(2026, 10, 10)

    # The representative got the task; the resident was told who handles it.
    assert any("交办事项" in t for t in await outbox_texts(ctx, REP.external_id))
    assert any("已交办给" in t and "刘代表" in t for t in await outbox_texts(ctx, RES.external_id))
    # Anonymous by default: the assignee never sees the name.
    assert not any("王" in t for t in await outbox_texts(ctx, REP.external_id))

    # Someone else cannot act on the task.
    refused = await cw.task_button(OTHER, "ack", (task.id,))
    assert refused.alert and "权限" in (refused.toast or "")
    ack = await cw.task_button(REP, "ack", (task.id,))
    assert ack.edit is not None
    prompt = await cw.task_button(REP, "pr", (task.id,))
    assert prompt.prompt is not None
    note = await cw.pending_text(REP, chat(REP.external_id), str(10), "已联系街道，正在选址")
    assert note is not None and "进展" in note.text
    assert any("正在选址" in t for t in await outbox_texts(ctx, RES.external_id))
    # The same message re-delivered changes nothing more.
    again = await cw.pending_text(REP, chat(REP.external_id), str(10), "已联系街道，正在选址")
    assert again is not None and again.text == note.text

    await cw.task_button(REP, "cl", (task.id,))
    await cw.task_button(REP, "clo", (task.id, 1))
    closed = await cw.pending_text(REP, chat(REP.external_id), str(11), "助餐点已于10月8日开业")
    assert closed is not None and "办结" in closed.text
    res_msgs = await outbox_texts(ctx, RES.external_id)
    assert any("问题已解决" in t and "开业" in t for t in res_msgs)  # plain words, no code

    # Resident is unsatisfied: the case reopens to staff with a fresh triage card.
    rated = await cw.rating_button(RES, "v", (task.id, 3))
    assert rated.prompt is not None
    comment = await cw.pending_text(RES, chat(RES.external_id), str(12), "饭菜太贵了")
    assert comment is not None
    async with ctx.sessions() as s:
        op2 = await s.get(Opinion, op.id)
        assert op2 is not None and op2.status == "reopened" and op2.reopen_count == 1
    staff_msgs = await outbox_texts(ctx, STAFF_CHAT)
    assert any("重新办理" in t for t in staff_msgs)
    assert any("饭菜太贵了" in t for t in staff_msgs)

    # Assigned again and closed again; this time 满意.
    await cw.triage_button(STAFF, "dl", (op.id, 1, rep_id, 7))
    async with ctx.sessions() as s:
        task2 = (await s.execute(select(Task).where(Task.status == "open"))).scalar_one()
    await cw.task_button(REP, "ack", (task2.id,))
    await cw.task_button(REP, "clo", (task2.id, 1))
    await cw.pending_text(REP, chat(REP.external_id), str(13), "已协调降价到每餐8元")
    await cw.rating_button(RES, "v", (task2.id, 1))
    async with ctx.sessions() as s:
        final = await s.get(Opinion, op.id)
        assert final is not None and final.status == "rated" and final.satisfaction == "satisfied"
        events = (
            (
                await s.execute(
                    select(OpinionEvent.action)
                    .where(OpinionEvent.opinion_id == op.id)
                    .order_by(OpinionEvent.id)
                )
            )
            .scalars()
            .all()
        )
    assert list(events)[:2] == ["submit", "retheme"]
    assert events.count("assign") == 2 and events.count("close") == 2


async def test_two_staff_assigning_at_once_leave_one_assignment(ctx: ServiceContext) -> None:
    cw, intake = await setup_station(ctx)
    op = await submit(ctx, intake)
    rep_id = await _rep_user_id(ctx)
    await cw.add_unit(STAFF, "group", "居家养老专题组")
    async with ctx.sessions() as s:
        from storage.models import Unit

        unit_id = (await s.execute(select(Unit.id))).scalar_one()
    a, b = await asyncio.gather(
        cw.triage_button(STAFF, "dl", (op.id, 1, rep_id, 15)),
        cw.triage_button(STAFF2, "dl", (op.id, 2, unit_id, 7)),
    )
    async with ctx.sessions() as s:
        assert (await s.execute(select(func.count(Task.id)))).scalar_one() == 1
    loser = a if a.alert else b
    assert loser.alert and "已交办" in (loser.toast or "")
    assert ("小张" in (loser.toast or "")) or ("小李" in (loser.toast or ""))


@pytest.mark.parametrize("who", [RES, REP, OTHER])
async def test_non_staff_cannot_press_staff_buttons(ctx: ServiceContext, who: Sender) -> None:
    cw, intake = await setup_station(ctx)
    op = await submit(ctx, intake)
    rep_id = await _rep_user_id(ctx)
    for action, args in [
        ("ok", (op.id,)),
        ("th", (op.id,)),
        ("st", (op.id, 2)),
        ("as", (op.id,)),
        ("to", (op.id, 1, rep_id)),
        ("dl", (op.id, 1, rep_id, 3)),
        ("rj", (op.id,)),
        ("du", (op.id,)),
    ]:
        result = await cw.triage_button(who, action, args)
        assert result.alert and "权限" in (result.toast or ""), action
    async with ctx.sessions() as s:
        fresh = await s.get(Opinion, op.id)
        assert fresh is not None and fresh.status == "received" and fresh.theme == op.theme
        assert (await s.execute(select(func.count(Task.id)))).scalar_one() == 0


async def test_reject_with_reason_and_merge_duplicate(ctx: ServiceContext) -> None:
    cw, intake = await setup_station(ctx)
    first = await submit(ctx, intake, 1)
    await intake.submit_text(OTHER, chat(OTHER.external_id), str(1), TEXT + "（同一件事）", None)
    async with ctx.sessions() as s:
        dup = (
            await s.execute(select(Opinion).where(Opinion.resident_id != first.resident_id))
        ).scalar_one()
    ask = await cw.triage_button(STAFF, "du", (dup.id,))
    assert ask.prompt is not None
    wrong = await cw.pending_text(STAFF, chat(STAFF_CHAT), str(50), "LL-2026-99999")
    assert wrong is not None and "没有找到" in wrong.text
    merged = await cw.pending_text(STAFF, chat(STAFF_CHAT), str(51), first.ref_no.lower())
    assert merged is not None and "合并" in merged.text
    assert any("合并" in t for t in await outbox_texts(ctx, OTHER.external_id))
    # The co-signer hears about the original's assignment.
    rep_id = await _rep_user_id(ctx)
    await cw.triage_button(STAFF, "dl", (first.id, 1, rep_id, 15))
    assert any("已交办给" in t for t in await outbox_texts(ctx, OTHER.external_id))

    third = await submit(ctx, intake, 3)
    await cw.triage_button(STAFF, "rj", (third.id,))
    await cw.pending_text(
        STAFF, chat(STAFF_CHAT), str(52), "不属于人大代表联络站受理范围，请向12345反映"
    )
    assert any("不予受理" in t and "12345" in t for t in await outbox_texts(ctx, RES.external_id))


async def test_extension_bounce_and_task_list(ctx: ServiceContext, clock: ManualClock) -> None:
    cw, intake = await setup_station(ctx)
    op = await submit(ctx, intake)
    rep_id = await _rep_user_id(ctx)
    await cw.triage_button(STAFF, "dl", (op.id, 1, rep_id, 3))
    async with ctx.sessions() as s:
        task = (await s.execute(select(Task))).scalar_one()
    due = task.due_date
    listed = await cw.my_tasks(REP)
    assert op.ref_no in listed.text and "未签收" in listed.text
    await cw.task_button(REP, "ack", (task.id,))
    await cw.task_button(REP, "exd", (task.id, 7))
    sent = await cw.pending_text(REP, chat(REP.external_id), str(20), "需要街道会议研究")
    assert sent is not None and "延期" in sent.text
    async with ctx.sessions() as s:
        from storage.models import Extension

        ext = (await s.execute(select(Extension))).scalar_one()
    assert (await cw.extension_button(REP, "y", (ext.id,))).alert  # not staff
    ok = await cw.extension_button(STAFF, "y", (ext.id,))
    assert ok.edit is not None
    twice = await cw.extension_button(STAFF2, "n", (ext.id,))
    assert twice.alert and "已处理" in (twice.toast or "")
    async with ctx.sessions() as s:
        task = (await s.execute(select(Task))).scalar_one()
    assert task.due_date > due
    clock.advance(timedelta(days=30))
    overdue = await cw.my_tasks(REP)
    assert "已逾期" in overdue.text
    await cw.task_button(REP, "bo", (task.id,))
    await cw.pending_text(REP, chat(REP.external_id), str(21), "这是区住建局的职责")
    async with ctx.sessions() as s:
        back = await s.get(Opinion, op.id)
        assert back is not None and back.status == "received"
        assert (await s.execute(select(Task.status))).scalar_one() == "bounced"
    assert any("退回" in t for t in await outbox_texts(ctx, STAFF_CHAT))
    assert "没有待办" in (await cw.my_tasks(REP)).text


async def test_unrated_after_seven_days(ctx: ServiceContext, clock: ManualClock) -> None:
    cw, intake = await setup_station(ctx)
    op = await submit(ctx, intake)
    rep_id = await _rep_user_id(ctx)
    await cw.triage_button(STAFF, "dl", (op.id, 1, rep_id, 15))
    async with ctx.sessions() as s:
        task = (await s.execute(select(Task))).scalar_one()
    await cw.task_button(REP, "ack", (task.id,))
    await cw.task_button(REP, "clo", (task.id, 2))
    await cw.pending_text(REP, chat(REP.external_id), str(30), "已列入明年计划")
    async with ctx.sessions() as s:
        reminder = (
            await s.execute(select(Outbox).where(Outbox.kind == "rating_reminder"))
        ).scalar_one()
    assert reminder.due_at - clock.now() == timedelta(days=3)
    assert await cw.expire_ratings() == 0
    clock.advance(timedelta(days=7, minutes=1))
    assert await cw.expire_ratings() == 1
    async with ctx.sessions() as s:
        final = await s.get(Opinion, op.id)
        assert final is not None and final.satisfaction == "unrated" and final.status == "rated"
        assert (await s.execute(select(Rating.value))).scalar_one() == "unrated"


async def _rep_user_id(ctx: ServiceContext) -> int:

    return await user_id_of(ctx, REP)


async def test_representative_relays_opinions_without_the_hourly_limit(ctx: ServiceContext) -> None:
    _, intake = await setup_station(ctx)
    replies = [
        await intake.submit_text(
            REP,
            chat(REP.external_id),
            str(100 + i),
            f"代张大爷反映：村里第{i}条路没有路灯，老人晚上走路摔倒。",
            None,
        )
        for i in range(12)
    ]
    assert all("代表转交" in r.text and "张大爷" in r.text for r in replies)
    async with ctx.sessions() as s:
        rows = (
            await s.execute(
                select(Opinion.source, Opinion.on_behalf_of).where(
                    Opinion.source == "representative"
                )
            )
        ).all()
    assert len(rows) == 12 and all(r == ("representative", "张大爷") for r in rows)
    assert any("代表转交" in t for t in await outbox_texts(ctx, STAFF_CHAT))


async def _snapshot(ctx: ServiceContext) -> tuple[object, ...]:
    """Everything a button could change, to compare before and after a refused press."""
    from storage.models import CoSigner, Extension, Unit

    async with ctx.sessions() as s:
        ops = (
            await s.execute(
                select(
                    Opinion.id,
                    Opinion.status,
                    Opinion.theme,
                    Opinion.anonymous,
                    Opinion.theme_confirmed,
                ).order_by(Opinion.id)
            )
        ).all()
        tasks = (
            await s.execute(
                select(Task.id, Task.status, Task.due_date, Task.acknowledged_at).order_by(Task.id)
            )
        ).all()
        exts = (
            await s.execute(select(Extension.id, Extension.status).order_by(Extension.id))
        ).all()
        ratings = (await s.execute(select(func.count(Rating.id)))).scalar_one()
        cos = (await s.execute(select(func.count(CoSigner.id)))).scalar_one()
        units = (await s.execute(select(func.count(Unit.id)))).scalar_one()
    return (tuple(ops), tuple(tasks), tuple(exts), ratings, cos, units)


async def test_every_callback_action_for_every_role(ctx: ServiceContext) -> None:
    """Residents, an unassigned representative and outsiders press (or forge) every button:
    each is refused and nothing changes; intake buttons belong to their owner only."""
    cw, intake = await setup_station(ctx)
    other_rep = tg(501, "王代表")
    invite = await cw.create_invite(STAFF, None, None)
    await cw.join(other_rep, code_in(invite))
    op = await submit(ctx, intake)
    rep_id = await _rep_user_id(ctx)
    await cw.triage_button(STAFF, "dl", (op.id, 1, rep_id, 15))
    async with ctx.sessions() as s:
        task = (await s.execute(select(Task))).scalar_one()
    await cw.task_button(REP, "ack", (task.id,))
    await cw.task_button(REP, "exd", (task.id, 3))
    await cw.pending_text(REP, chat(REP.external_id), str(900), "需要协调")
    from storage.models import Extension

    async with ctx.sessions() as s:
        ext_id = (await s.execute(select(Extension.id))).scalar_one()
    triage = [
        ("ok", (op.id,)),
        ("th", (op.id,)),
        ("st", (op.id, 2)),
        ("as", (op.id,)),
        ("to", (op.id, 1, rep_id)),
        ("dl", (op.id, 1, rep_id, 3)),
        ("rj", (op.id,)),
        ("du", (op.id,)),
        ("bk", (op.id,)),
    ]
    tasks = [
        ("ack", (task.id,)),
        ("pr", (task.id,)),
        ("ex", (task.id,)),
        ("exd", (task.id, 7)),
        ("bo", (task.id,)),
        ("cl", (task.id,)),
        ("clo", (task.id, 1)),
    ]
    exts = [("y", (ext_id,)), ("n", (ext_id,))]
    ratings = [("v", (task.id, n)) for n in (1, 2, 3)]
    before = await _snapshot(ctx)
    for who in (RES, OTHER, other_rep):
        for action, args in triage:
            r = await cw.triage_button(who, action, args)
            assert r.alert and "权限" in (r.toast or ""), (who, action)
        for action, args in tasks:
            r = await cw.task_button(who, action, args)
            assert r.alert and "权限" in (r.toast or ""), (who, action)
        for action, args in exts:
            r = await cw.extension_button(who, action, args)
            assert r.alert and "权限" in (r.toast or ""), (who, action)
        assert (
            await cw.pending_text(who, chat(who.external_id), f"90{who.external_id}", "伪造的输入")
            is None
        )
    for who in (OTHER, other_rep, REP, STAFF):
        for action, args in ratings:
            r = await cw.rating_button(who, action, args)
            assert r.alert, (who, action)
        for action_call in (
            intake.withdraw(who, op.id),
            intake.set_anonymous(who, op.id, False),
            intake.ask_detail(who, op.id),
        ):
            assert await action_call is None
    # Forged shapes: unknown ids, wrong arity, unknown actions.
    for r in (
        await cw.triage_button(STAFF, "dl", (op.id + 99, 1, rep_id, 3)),
        await cw.triage_button(STAFF, "zz", (op.id,)),
        await cw.task_button(REP, "ack", (task.id + 99,)),
        await cw.extension_button(STAFF, "y", (ext_id + 99,)),
        await cw.rating_button(RES, "v", (task.id, 9)),
    ):
        assert r.alert
    assert await _snapshot(ctx) == before
