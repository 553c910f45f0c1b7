"""Authorization and state (issue 13, section 2): forged ratings, stale prompts, the truth about
改为匿名 after assignment, where the real-name workbook may go, and station codes kept from
outsiders. Against a real migrated database on both engines."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from domain.clock import ManualClock
from domain.states import OutboxStatus
from services.casework import CaseworkService
from services.intake import IntakeService
from services.kernel.context import ServiceContext
from services.ledger import LedgerService
from storage.models import Opinion, Outbox, Rating, Station, Task
from tests.support import chat, outbox_texts, tg, user_id_of
from tests.test_casework_service import (
    ADMIN,
    OTHER,
    REP,
    RES,
    STAFF,
    STAFF_CHAT,
    setup_station,
    submit,
)


async def _assigned(ctx: ServiceContext) -> tuple[CaseworkService, IntakeService, Opinion, Task]:
    cw, intake = await setup_station(ctx)
    op = await submit(ctx, intake)
    rep_id = await user_id_of(ctx, REP)
    await cw.triage_button(STAFF, "dl", (op.id, 1, rep_id, 3))
    async with ctx.sessions() as s:
        task = (await s.execute(select(Task))).scalar_one()
    return cw, intake, op, task


async def _state(ctx: ServiceContext) -> tuple[object, ...]:
    async with ctx.sessions() as s:
        op = (await s.execute(select(Opinion.status, Opinion.reopen_count))).one()
        ratings = (await s.execute(select(func.count(Rating.id)))).scalar_one()
        outbox = (await s.execute(select(func.count(Outbox.id)))).scalar_one()
    return tuple(op), ratings, outbox


async def test_a_forged_rating_on_an_open_case_changes_nothing(ctx: ServiceContext) -> None:
    cw, _, _op, task = await _assigned(ctx)
    await cw.task_button(REP, "ack", (task.id,))
    before = await _state(ctx)
    for value in (1, 2, 3):
        refused = await cw.rating_button(RES, "v", (task.id, value))
        assert refused.alert and "不能评价" in (refused.toast or ""), refused
        assert refused.prompt is None and refused.edit is None
    assert await _state(ctx) == before
    assert not any("重新办理" in t for t in await outbox_texts(ctx, STAFF_CHAT))


async def test_only_the_latest_closed_task_can_be_rated(ctx: ServiceContext) -> None:
    cw, _, op, task = await _assigned(ctx)
    await cw.task_button(REP, "ack", (task.id,))
    await cw.task_button(REP, "clo", (task.id, 1))
    await cw.pending_text(REP, chat(REP.external_id), "20", "已办好")
    await cw.rating_button(RES, "v", (task.id, 3))  # 不满意: reopened
    rep_id = await user_id_of(ctx, REP)
    await cw.triage_button(STAFF, "dl", (op.id, 1, rep_id, 7))
    before = await _state(ctx)
    # The old, closed task's buttons are still on the resident's screen: they do nothing now.
    old = await cw.rating_button(RES, "v", (task.id, 1))
    assert old.alert and "不能评价" in (old.toast or "")
    assert await _state(ctx) == before


async def test_a_stale_staff_prompt_expires_and_says_so(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    cw, intake = await setup_station(ctx)
    op = await submit(ctx, intake)
    asked = await cw.triage_button(STAFF, "rj", (op.id,))
    assert asked.prompt is not None
    clock.advance(ctx.limits.prompt_ttl + timedelta(minutes=1))
    reply = await cw.pending_text(STAFF, chat(STAFF.external_id), "30", "我家门口的路灯坏了")
    assert reply is not None and "已超时" in reply.plain and "不予受理" in reply.plain
    async with ctx.sessions() as s:
        fresh = await s.get(Opinion, op.id)
        assert fresh is not None and fresh.status == "received" and fresh.reject_reason is None
    # The same message delivered again answers the same; the next text is free again.
    again = await cw.pending_text(STAFF, chat(STAFF.external_id), "30", "我家门口的路灯坏了")
    assert again is not None and again.plain == reply.plain
    assert await cw.pending_text(STAFF, chat(STAFF.external_id), "31", "随便说说") is None


async def test_a_fresh_prompt_still_works(ctx: ServiceContext, clock: ManualClock) -> None:
    cw, intake = await setup_station(ctx)
    op = await submit(ctx, intake)
    await cw.triage_button(STAFF, "rj", (op.id,))
    clock.advance(ctx.limits.prompt_ttl - timedelta(minutes=1))
    reply = await cw.pending_text(STAFF, chat(STAFF.external_id), "30", "不属于本站职责")
    assert reply is not None and "已超时" not in reply.plain
    async with ctx.sessions() as s:
        fresh = await s.get(Opinion, op.id)
        assert fresh is not None and fresh.status == "rejected"


async def _real_name_then_assigned(
    ctx: ServiceContext,
) -> tuple[IntakeService, Opinion, Task]:
    cw, intake = await setup_station(ctx)
    op = await submit(ctx, intake)
    await intake.set_anonymous(RES, op.id, False)
    rep_id = await user_id_of(ctx, REP)
    await cw.triage_button(STAFF, "dl", (op.id, 1, rep_id, 3))
    async with ctx.sessions() as s:
        task = (await s.execute(select(Task))).scalar_one()
    assert any("王 阿姨" in t for t in await outbox_texts(ctx, REP.external_id))
    return intake, op, task


async def test_anonymous_after_the_card_was_delivered_says_who_saw_the_name(
    ctx: ServiceContext,
) -> None:
    intake, op, task = await _real_name_then_assigned(ctx)
    async with ctx.sessions.begin() as s:
        await s.execute(
            update(Outbox)
            .where(Outbox.key == f"task:new:{task.id}")
            .values(status=OutboxStatus.SENT)
        )
    pair = await intake.set_anonymous(RES, op.id, True)
    assert pair is not None
    note = pair[0].plain
    assert "已经看到了您的姓名" in note and "刘代表" in note, note
    assert "看不到您的姓名" not in note


async def test_anonymous_before_the_card_went_out_takes_the_name_off(
    ctx: ServiceContext,
) -> None:
    intake, op, _ = await _real_name_then_assigned(ctx)
    pair = await intake.set_anonymous(RES, op.id, True)
    assert pair is not None and "看不到您的姓名" in pair[0].plain
    cards = await outbox_texts(ctx, REP.external_id)
    assert cards and not any("王 阿姨" in t for t in cards)
    assert any("反映人：匿名群众" in t for t in cards)


async def test_the_real_name_workbook_goes_only_to_staff_chats(ctx: ServiceContext) -> None:
    await setup_station(ctx)
    ledger = LedgerService(ctx)
    residents_group = chat(-2002)
    refused = await ledger.export(STAFF, "实名", residents_group)
    assert refused.data is None and "工作人员群" in refused.reply.plain
    masked = await ledger.export(STAFF, "", residents_group)
    assert masked.data is None
    in_staff = await ledger.export(STAFF, "实名", chat(STAFF_CHAT))
    assert in_staff.data is not None
    private = await ledger.export(STAFF, "实名", STAFF.private_chat)
    assert private.data is not None


async def test_bind_staff_does_not_tell_outsiders_which_codes_exist(ctx: ServiceContext) -> None:
    cw = CaseworkService(ctx)
    await setup_station(ctx)
    async with ctx.sessions() as s:
        code = (await s.execute(select(Station.code))).scalar_one()
    group = chat(-3003)
    outsider = tg(777, "路人乙")
    known = await cw.bind_staff_chat(outsider, group, code)
    unknown = await cw.bind_staff_chat(outsider, group, "nosuchstation")
    assert known.plain == unknown.plain and "权限" in known.plain
    assert code not in unknown.plain
    # An admin is told plainly that a code is wrong.
    admin = await cw.bind_staff_chat(ADMIN, group, "nosuchstation")
    assert "nosuchstation" in admin.plain
    assert (await cw.bind_staff_chat(OTHER, group, None)).plain == known.plain
