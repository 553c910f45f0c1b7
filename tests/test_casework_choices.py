"""Issue 15: used choices (defect 9) and a comment in doubt (defect 5): keyboards removed after
use, stale presses answered and changing nothing, the resident asked whether a text is a comment
or a new opinion."""

from __future__ import annotations

from sqlalchemy import select

from scheduler.dispatcher import Dispatcher
from services.kernel.context import ServiceContext
from storage.models import Outbox, Task
from tests.support import chat
from tests.test_casework_defects import (
    REP,
    RES,
    STAFF,
    close_task,
    open_task,
    station,
    submitted,
)
from tests.test_reminders import RecordingOutbound


async def test_used_choices_are_removed_and_stale_presses_change_nothing(
    ctx: ServiceContext,
) -> None:
    from storage.models import Extension

    cw, intake, rep = await station(ctx)
    op = await submitted(ctx, intake)
    await cw.triage_button(STAFF, "dl", (op, 1, rep, 7))
    task = await open_task(ctx)
    await cw.task_button(REP, "ack", (task.id,))
    # 延长 N 个工作日: the menu loses its keyboard; a second press is refused.
    chosen = await cw.task_button(REP, "exd", (task.id, 3))
    assert chosen.edit is not None and not chosen.edit.actions and "3" in chosen.edit.text.plain
    stale = await cw.task_button(REP, "exd", (task.id, 15))
    assert stale.alert and "延期" in (stale.toast or "")
    await cw.pending_text(REP, chat(REP.external_id), "120", "需要协调")
    again = await cw.task_button(REP, "exd", (task.id, 7))
    assert again.alert and "等待审批" in (again.toast or "")
    async with ctx.sessions() as s:
        assert len((await s.execute(select(Extension))).scalars().all()) == 1
    # A/B/C/D: the menu loses its keyboard; a stale press of another category is refused.
    picked = await cw.task_button(REP, "clo", (task.id, 1))
    assert picked.edit is not None and not picked.edit.actions and "A" in picked.edit.text.plain
    other = await cw.task_button(REP, "clo", (task.id, 4))
    assert other.alert and "A 已解决" in (other.toast or "")
    await cw.pending_text(REP, chat(REP.external_id), "121", "已解决")
    async with ctx.sessions() as s:
        closed = await s.get(Task, task.id)
        assert closed is not None and closed.outcome == "A"
    late = await cw.task_button(REP, "clo", (task.id, 2))
    assert late.alert and "已结束" in (late.toast or "")
    # The task card itself is edited: its keyboard goes, it says it is done.
    async with ctx.sessions() as s:
        edit = (
            await s.execute(select(Outbox).where(Outbox.key == f"edit:done|task:new:{task.id}"))
        ).scalar_one()
    assert edit.kind == "edit" and "已办结" in edit.plain and "a" not in edit.message


async def test_task_card_edit_goes_out_after_the_card_was_sent(ctx: ServiceContext) -> None:
    cw, intake, rep = await station(ctx)
    op = await submitted(ctx, intake)
    await cw.triage_button(STAFF, "dl", (op, 1, rep, 7))
    task = await open_task(ctx)
    outbound = EditingOutbound()
    dispatcher = Dispatcher(ctx, [outbound])
    await dispatcher.drain_once()
    await close_task(cw, task.id, 1, "已解决", "130")
    await dispatcher.drain_once()
    await dispatcher.drain_once()
    card_id = next(i for i, (_, text) in enumerate(outbound.sent) if "交办事项" in text) + 1
    card_edits = [e for e in outbound.edits if e[0] == REP.external_id]
    assert card_edits and card_edits[0][1] == str(card_id)
    assert "已办结" in card_edits[0][2]


class EditingOutbound(RecordingOutbound):
    def __init__(self) -> None:
        super().__init__()
        self.edits: list[tuple[str, str, str]] = []

    async def edit(self, to: object, message_id: str, message: object) -> object:
        from domain.channels import Address
        from domain.message import Message
        from scheduler.delivery import Delivered

        assert isinstance(to, Address) and isinstance(message, Message)
        self.edits.append((to.id, message_id, message.plain))
        return Delivered(message_id)


async def test_a_long_text_after_an_optional_rating_asks_which_it_is(ctx: ServiceContext) -> None:
    from services.inbound.router import Router
    from storage.models import Opinion
    from tests.test_channels import inbound

    router = Router.build(ctx)
    cw, intake, rep = await station(ctx)
    op = await submitted(ctx, intake)
    await cw.triage_button(STAFF, "dk", (op, 1, rep, 3))
    task = await open_task(ctx)
    await close_task(cw, task.id, 1, "助餐点已开业", "500")
    await cw.rating_button(RES, "v", (task.id, 1))
    later = "另外小区东门的路灯坏了一个多月，晚上老人出门很不安全，希望能尽快修好。"
    asked = (await router.text(inbound(RES, "501"), later)).messages[0]
    assert "还是一条新的意见" in asked.text.plain and len(asked.choices()) == 2
    new = next(a for a in asked.choices() if "新的意见" in a.label)
    pressed = await router.press(inbound(RES, "502"), new.payload)
    assert pressed.edit is not None and "受理编号" in pressed.edit.text.plain
    async with ctx.sessions() as s:
        texts = (await s.execute(select(Opinion.text))).scalars().all()
    assert later in texts
    stale = await router.press(inbound(RES, "503"), new.payload)
    assert stale.alert and "处理过" in (stale.toast or "")
    async with ctx.sessions() as s:
        assert len((await s.execute(select(Opinion.id))).all()) == 2  # nothing twice
    # The other answer: it was a comment on the rating.
    other = await submitted(ctx, intake, RES, 2)
    await cw.triage_button(STAFF, "dk", (other, 1, rep, 3))
    second = await open_task(ctx)
    await close_task(cw, second.id, 1, "已办好", "504")
    await cw.rating_button(RES, "v", (second.id, 2))
    asked = (await router.text(inbound(RES, "505"), later + "（补充）")).messages[0]
    keep = next(a for a in asked.choices() if "补充" in a.label)
    kept = await router.press(inbound(RES, "506"), keep.payload)
    assert kept.edit is not None and "评价留言" in kept.edit.text.plain
    from storage.models import Rating

    async with ctx.sessions() as s:
        comment = (
            await s.execute(select(Rating.comment).where(Rating.task_id == second.id))
        ).scalar_one()
    assert comment == later + "（补充）"
