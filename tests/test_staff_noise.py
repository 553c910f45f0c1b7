"""The staff group's noise: folded into the case card (edited in place) plus a daily digest by
default; every event as its own message when a station chooses so."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from domain.clock import ManualClock
from services.kernel.context import ServiceContext
from services.kernel.settings import override
from services.reminders import ReminderPlanner
from storage.models import Outbox, Station
from tests.support import chat
from tests.test_casework_defects import REP, RES, STAFF, STAFF_CHAT, open_task, station, submitted


async def staff_rows(ctx: ServiceContext) -> list[Outbox]:
    async with ctx.sessions() as s:
        rows = await s.execute(
            select(Outbox).where(Outbox.chat_id == str(STAFF_CHAT)).order_by(Outbox.id)
        )
        return list(rows.scalars())


async def walk(ctx: ServiceContext) -> None:
    cw, intake, rep = await station(ctx)
    op = await submitted(ctx, intake)
    await cw.triage_button(STAFF, "dk", (op, 1, rep, 3))
    task = await open_task(ctx)
    await cw.task_button(REP, "ack", (task.id,))
    await cw.task_button(REP, "pr", (task.id,))
    await cw.pending_text(REP, chat(REP.external_id), "400", "已联系街道")
    await cw.task_button(REP, "clo", (task.id, 1))
    await cw.pending_text(REP, chat(REP.external_id), "401", "助餐点已开业")
    await cw.rating_button(RES, "v", (task.id, 1))
    await cw.pending_text(RES, chat(RES.external_id), "402", "谢谢代表")


async def test_folded_by_default_the_card_tells_the_story(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    await walk(ctx)
    rows = await staff_rows(ctx)
    sent = [r for r in rows if r.kind != "edit"]
    assert [r.key.split(":")[1] for r in sent] == ["new"]  # no message per event
    edits = [r for r in rows if r.kind == "edit" and r.status == "pending"]
    assert len(edits) == 1 and edits[0].key.endswith("|staff:new:1")  # only the newest state
    card = edits[0].plain
    for needle in (
        "已交办",
        "签收（刘代表）",
        "进展（刘代表）：已联系街道",
        "办结",
        "满意",
        "谢谢代表",
    ):
        assert needle in card, (needle, card)
    # The digest at the reminder time (09:00 next day) lists the day's events once.
    clock.set(datetime(2026, 9, 29, 1, 0, tzinfo=UTC))
    planner = ReminderPlanner(ctx)
    await planner.plan()
    await planner.plan()
    digests = [r for r in await staff_rows(ctx) if r.key.startswith("digest:")]
    assert len(digests) == 1
    assert "今日动态" in digests[0].plain and "签收" in digests[0].plain


async def test_every_event_when_the_station_says_so(ctx: ServiceContext) -> None:
    async with ctx.sessions.begin() as s:
        from storage.models import Station as St

        if (await s.execute(select(St.id))).first() is None:
            s.add(St(code="default", name="测试联络站", ref_prefix="LL"))
            await s.flush()
        station_id = (await s.execute(select(St.id))).scalar_one()
        await override(s, station_id, noise="every")
    await walk(ctx)
    rows = await staff_rows(ctx)
    kinds = [r.key.split(":")[1] for r in rows if r.kind != "edit"]
    assert kinds == ["new", "ack", "progress", "closed", "rated", "comment"]
    async with ctx.sessions() as s:
        assert (await s.execute(select(Station.settings))).scalar_one() == {"noise": "every"}
