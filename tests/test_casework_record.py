"""代录 and phone 回访: staff enter a resident's opinion, the resident may claim it with the code
on the paper receipt; otherwise staff record the phone rating with one tap, and it counts."""

from __future__ import annotations

from sqlalchemy import select

from domain.periods import Period
from services.kernel.context import ServiceContext
from services.reports.rates import station_rates
from storage.models import Opinion, Rating, Station
from tests.support import code_in, outbox_messages, outbox_texts, payloads
from tests.test_casework_defects import (
    REP,
    RES,
    RES2,
    STAFF,
    STAFF_CHAT,
    close_task,
    open_task,
    station,
)

TEXT = "楼道的灯坏了一个多月，晚上老人上下楼看不见，希望尽快修好。"


async def test_record_then_phone_rating_counts(ctx: ServiceContext) -> None:
    cw, _, rep = await station(ctx)
    assert "/record 姓名" in (await cw.record(STAFF, "张大爷")).text.plain
    assert "只有" in (await cw.record(RES, f"张大爷 {TEXT}")).text.plain
    reply = await cw.record(STAFF, f"张大爷 13800001111 {TEXT}")
    plain = reply.text.plain
    assert "已代录" in plain and "13800001111" in plain and "认领码" in plain
    async with ctx.sessions() as s:
        op = (await s.execute(select(Opinion))).scalar_one()
    assert op.resident_id is None and op.contact == "13800001111" and op.source == "recorded"
    assert op.on_behalf_of == "张大爷" and op.claim_code and op.claim_code in plain
    card = next(t for t in await outbox_texts(ctx, STAFF_CHAT) if op.ref_no in t)
    assert "张大爷" in card
    await cw.triage_button(STAFF, "dk", (op.id, 1, rep, 1))
    assert not any("13800001111" in t for t in await outbox_texts(ctx, REP.external_id))
    task = await open_task(ctx)
    await close_task(cw, task.id, 1, "已更换楼道灯", "300")
    item = next(m for m in await outbox_messages(ctx, STAFF_CHAT) if "电话回访" in m.plain)
    assert "13800001111" in item.plain and len(item.choices()) == 3
    listed = await cw.call_list(STAFF)
    assert op.ref_no in listed.text.plain and len(listed.choices()) == 3
    assert (await cw.call_button(RES, "p", (task.id, 1))).alert  # residents cannot
    done = await cw.call_button(STAFF, "p", (task.id, 1))
    assert done.edit is not None and "电话回访" in done.edit.text.plain
    again = await cw.call_button(STAFF, "l", (task.id, 3))
    assert again.alert
    async with ctx.sessions() as s:
        rating = (await s.execute(select(Rating))).scalar_one()
        case = await s.get(Opinion, op.id)
        station_id = (await s.execute(select(Station.id))).scalar_one()
    assert rating.value == "satisfied" and rating.recorded_by_id is not None
    assert case is not None and case.status == "rated"
    assert "没有待电话回访" in (await cw.call_list(STAFF)).text.plain
    rates = await station_rates(ctx, station_id, Period.all_time())
    assert (rates.overall.rated, rates.overall.satisfied) == (1, 1)


async def test_phone_unsatisfied_reopens(ctx: ServiceContext) -> None:
    cw, _, rep = await station(ctx)
    await cw.record(STAFF, f"李奶奶 {TEXT}")
    async with ctx.sessions() as s:
        op = (await s.execute(select(Opinion))).scalar_one()
    assert op.contact is None
    await cw.triage_button(STAFF, "dk", (op.id, 1, rep, 1))
    task = await open_task(ctx)
    await close_task(cw, task.id, 2, "已报修，等待材料", "310")
    listed = await cw.call_list(STAFF)
    assert any(p.startswith("cl:l:") for p in payloads(listed))
    await cw.call_button(STAFF, "l", (task.id, 3))
    async with ctx.sessions() as s:
        case = await s.get(Opinion, op.id)
    assert case is not None and case.status == "reopened"


async def test_resident_claims_with_the_receipt_code(ctx: ServiceContext) -> None:
    cw, intake, rep = await station(ctx)
    reply = await cw.record(STAFF, f"王阿姨 {TEXT}")
    ref = code_in(reply)
    async with ctx.sessions() as s:
        op = (await s.execute(select(Opinion))).scalar_one()
    assert op.claim_code is not None
    wrong = await cw.claim(RES2, ref, "000000" if op.claim_code != "000000" else "111111")
    assert "不对" in wrong.text.plain
    ok = await cw.claim(RES, ref, op.claim_code)
    assert "已认领" in ok.text.plain
    assert "不对" in (await cw.claim(RES2, ref, op.claim_code)).text.plain  # once only
    assert ref in (await intake.status(RES, ref)).text.plain
    await cw.triage_button(STAFF, "dk", (op.id, 1, rep, 1))
    assert any("已交办" in t for t in await outbox_texts(ctx, RES.external_id))
    task = await open_task(ctx)
    await close_task(cw, task.id, 1, "已更换", "320")
    assert not any("电话回访" in t for t in await outbox_texts(ctx, STAFF_CHAT))
    assert any("请您对办理结果评价" in t for t in await outbox_texts(ctx, RES.external_id))


async def test_wrong_codes_are_throttled(ctx: ServiceContext) -> None:
    cw, _, _ = await station(ctx)
    ref = code_in(await cw.record(STAFF, f"王阿姨 {TEXT}"))
    for _ in range(5):
        await cw.claim(RES2, ref, "999999x")
    assert "太多" in (await cw.claim(RES2, ref, "999999x")).text.plain
