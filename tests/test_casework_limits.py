"""Issue 15: time limits by kind of case at 交办, and 督办 after a second 不满意."""

from __future__ import annotations

from sqlalchemy import select

from domain.casekind import suggest_kind
from services.kernel.context import ServiceContext
from services.kernel.settings import override
from storage.models import Opinion, Station, Task
from tests.support import outbox_texts
from tests.test_casework_defects import (
    RES,
    STAFF,
    STAFF_CHAT,
    close_task,
    open_task,
    station,
    submitted,
)


def test_the_likely_kind_is_read_from_the_text() -> None:
    assert suggest_kind("请问老年优待证在哪里可以办理？") == "consult"
    assert suggest_kind("家里厨房漏水三天了，物业没人管，求助！") == "help"
    assert suggest_kind("投诉小区门口的烧烤摊每晚扰民到凌晨") == "complaint"
    assert suggest_kind("希望社区增设一个老年助餐点") == "suggestion"


async def test_kinds_at_assignment_with_the_likely_one_first(ctx: ServiceContext) -> None:
    cw, intake, rep = await station(ctx)
    op = await submitted(ctx, intake)  # a 建议: 15 working days
    shown = await cw.triage_button(STAFF, "to", (op, 1, rep))
    assert shown.edit is not None
    first = shown.edit.actions[0]
    assert len(first) == 1 and first[0].label.startswith("✅ 建议 15")
    labels = [a.label for a in shown.edit.choices()]
    for needle in ("咨询 3个工作日", "求助 7个工作日", "投诉 15个工作日", "30个工作日"):
        assert any(needle in label for label in labels), (needle, labels)
    payload = first[0].payload.split(".")[0].split(":")
    assert payload[:2] == ["t", "dk"]
    await cw.triage_button(STAFF, "dk", (op, 1, rep, int(payload[5])))
    task = await open_task(ctx)
    assert task.case_kind == "suggestion" and task.working_days == 15
    assert task.respond_by is not None and task.respond_by > task.assigned_at


async def test_a_station_sets_its_own_limits(ctx: ServiceContext) -> None:
    cw, intake, rep = await station(ctx)
    async with ctx.sessions.begin() as s:
        station_id = (await s.execute(select(Station.id))).scalar_one()
        await override(s, station_id, limits={"consult": 2})
    op = await submitted(ctx, intake)
    shown = await cw.triage_button(STAFF, "to", (op, 1, rep))
    assert shown.edit is not None
    assert any("咨询 2个工作日" in a.label for a in shown.edit.choices())
    await cw.triage_button(STAFF, "dk", (op, 1, rep, 0))  # consult
    task = await open_task(ctx)
    assert task.case_kind == "consult" and task.working_days == 2


async def test_second_unsatisfied_is_a_supervision_item_not_a_reopen(ctx: ServiceContext) -> None:
    cw, intake, rep = await station(ctx)
    op = await submitted(ctx, intake)
    for n in range(2):
        await cw.triage_button(STAFF, "dk", (op, 1, rep, 3))
        task = await open_task(ctx)
        await close_task(cw, task.id, 1, f"第{n + 1}次办理结果", f"20{n}")
        rated = await cw.rating_button(RES, "v", (task.id, 3))
        assert rated.prompt is not None
    assert rated.prompt is not None and "督办" in rated.prompt.text.plain
    async with ctx.sessions() as s:
        case = await s.get(Opinion, op)
        assert case is not None and case.status == "supervised" and case.reopen_count == 2
        assert (await s.execute(select(Task).where(Task.status == "open"))).first() is None
    staff = await outbox_texts(ctx, STAFF_CHAT)
    assert sum("重新办理" in t for t in staff) == 1
    assert sum("督办" in t for t in staff) == 1
    # Staff can still take it in hand: assign once more.
    again = await cw.triage_button(STAFF, "dk", (op, 1, rep, 3))
    assert again.edit is not None and not again.alert


async def test_staff_change_the_station_settings(ctx: ServiceContext) -> None:
    cw, intake, rep = await station(ctx)
    shown = (await cw.settings(STAFF, [])).text.plain
    assert "咨询 3" in shown and "建议 15" in shown and "合并到案件卡片" in shown
    assert "只有" in (await cw.settings(RES, ["期限", "咨询", "5"])).text.plain
    assert "用法" in (await cw.settings(STAFF, ["期限", "咨询", "九十"])).text.plain
    changed = (await cw.settings(STAFF, ["期限", "咨询", "5"])).text.plain
    assert "已修改" in changed and "咨询 5" in changed and "求助 7" in changed
    assert "逐条" not in (await cw.settings(STAFF, ["群消息", "逐条"])).text.plain
    assert "每件事单独发一条" in (await cw.settings(STAFF, [])).text.plain
    op = await submitted(ctx, intake)
    await cw.triage_button(STAFF, "dk", (op, 1, rep, 0))
    assert (await open_task(ctx)).working_days == 5
