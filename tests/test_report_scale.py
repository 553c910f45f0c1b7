"""What changed for a city's worth of data (issue 12), on the September scenario of
test_reports: /export by period and its cap, a chart that is slow to draw, sections other
features add, ratings with more than one station, and the ledger streamed in small chunks."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select

import services.ledger.service as ledger_service
import services.reports.service as reports_service
from domain.clock import ManualClock
from services import reports as rp
from services.kernel.context import ServiceContext
from services.ledger import LedgerService
from services.ledger.rows import Scope, load_ledger_rows, stream_ledger_rows
from services.reports import ReportsService, charts
from services.reports.stats import STATS_SECTIONS, Section, Stats
from storage.models import Opinion, Outbox, Rating, Station
from tests.support import chat
from tests.test_reports import SEPTEMBER, STAFF, STAFF_CHAT, build_scenario


async def test_export_by_period_and_the_chat_cap(
    ctx: ServiceContext, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sc = await build_scenario(ctx, clock)
    ledger = LedgerService(ctx)
    august = await ledger.export(STAFF, "2026-08", chat(STAFF_CHAT))
    assert august.data is not None and august.count == 2
    assert "共 2 件" in august.reply.text.plain and "期间：2026年8月" in august.reply.text.plain
    ws = openpyxl.load_workbook(io.BytesIO(august.data))["全部意见"]
    assert [r[0].value for r in ws.iter_rows(min_row=2)] == [
        sc.ops["a"].ref_no,
        sc.ops["b"].ref_no,
    ]
    named = await ledger.export(STAFF, "实名 本月")
    assert named.data is not None and named.count == 6 and "实名" in named.reply.text.plain

    monkeypatch.setattr(ledger_service, "CHAT_EXPORT_MAX", 5)
    too_many = await ledger.export(STAFF, "")
    assert too_many.data is None
    words = too_many.reply.text.plain
    assert "共 8 件" in words and "上限 5 件" in words and "/export 本月" in words
    assert "liaison-bot export" in words
    still = await ledger.export(STAFF, "2026-08")
    assert still.data is not None and still.count == 2
    bad = await ledger.export(STAFF, "昨天")
    assert (
        bad.data is None
        and "用法" in bad.reply.text.plain
        and "/export 2026-09" in str(bad.reply.text.plain)
    )


async def test_ledger_streams_in_chunks_as_it_loads_at_once(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    sc = await build_scenario(ctx, clock)
    async with ctx.sessions() as s:
        whole = await load_ledger_rows(s, ctx, sc.station_id, True)
    parts = [part async for part in stream_ledger_rows(ctx, Scope(sc.station_id), True, chunk=3)]
    assert [len(p) for p in parts] == [3, 3, 2]
    assert [r for p in parts for r in p] == whole
    assert [r.ref_no for r in whole] == [op.ref_no for op in sc.ops.values()]


async def test_a_slow_chart_follows_the_text_through_the_outbox(
    ctx: ServiceContext, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await build_scenario(ctx, clock)
    gate = asyncio.Event()
    drawn = charts.render_panels

    async def slow_chart(stats: Stats) -> bytes | None:
        await gate.wait()
        return drawn("慢", rp.stats.chart_panels(stats))

    monkeypatch.setattr(reports_service, "render_chart", slow_chart)
    service = ReportsService(ctx, chart_wait=0.01)
    report = await service.stats(STAFF, "本月", chat(STAFF_CHAT))
    assert "收到意见 6 件" in report.reply.text.plain and report.chart is None
    gate.set()
    await asyncio.gather(*service._later)
    async with ctx.sessions() as s:
        row = (await s.execute(select(Outbox).where(Outbox.key.like("chart:%")))).scalar_one()
    assert row.chat_id == str(STAFF_CHAT) and row.kind == "staff"
    assert row.file_data is not None and row.file_data.startswith(b"\x89PNG")
    assert row.message.get("f") == ["image", "chart.png"]


async def test_sections_from_other_features(ctx: ServiceContext, clock: ManualClock) -> None:
    sc = await build_scenario(ctx, clock)
    seen: list[int] = []

    async def rates(s: Any, c: ServiceContext, station: Station, period: Any, st: Stats) -> Section:
        seen.append(st.received)
        return Section(["响应率 100%"], [charts.Panel("三率", [("响应率", 6)], "bar")])

    STATS_SECTIONS.append(rates)
    try:
        stats = await rp.compute_stats(ctx, sc.station_id, SEPTEMBER)
        report = await ReportsService(ctx).stats(STAFF, "本月", chat(STAFF_CHAT))
    finally:
        STATS_SECTIONS.remove(rates)
    assert seen == [6, 6]
    assert [p.title for p in rp.stats.chart_panels(stats)][-1] == "三率"
    assert report.reply.text.plain.endswith("响应率 100%")
    assert report.chart is not None


async def test_ratings_of_another_station_are_not_counted(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    sc = await build_scenario(ctx, clock)
    async with ctx.sessions.begin() as s:
        other_station = Station(code="other", name="另一站", created_at=clock.now())
        s.add(other_station)
        await s.flush()
        other = (other_station.id,)
        op = (await s.execute(select(Opinion).where(Opinion.id == sc.ops["op6"].id))).scalar_one()
        moved = Opinion(
            station_id=other[0],
            ref_no="XX-2026-00001",
            year=2026,
            seq=1,
            text=op.text,
            theme=op.theme,
            created_at=op.created_at,
        )
        s.add(moved)
        await s.flush()
        task_id = (
            await s.execute(select(Rating.task_id).where(Rating.opinion_id == op.id))
        ).scalar_one()
        s.add(Rating(opinion_id=moved.id, task_id=task_id, value="satisfied", at=clock.now()))
    stats = await rp.compute_stats(ctx, sc.station_id, rp.Period.all_time())
    assert stats.satisfaction.count("satisfied") == 1


async def test_hot_issues_of_a_large_period_come_from_a_sample(
    ctx: ServiceContext, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.intake import IntakeService
    from services.reports import hotissues as hi
    from tests.support import bind_staff, tg
    from tests.test_reports import ADMIN
    from tests.test_reports_hotissues import MEALS

    await bind_staff(ctx, ADMIN, STAFF_CHAT)
    intake = IntakeService(ctx)
    for n in range(12):
        who = tg(700 + n, f"居民{n}")
        await intake.submit_text(who, chat(who.external_id), str(n), MEALS[n % 4], None)
    async with ctx.sessions() as s:
        station_id = (await s.execute(select(Station.id))).scalar_one()
    month = rp.Period.this_month(clock.now().astimezone(ctx.tz).date())
    whole = await hi.hot_issues(ctx, station_id, month)
    assert [h.count for h in whole] == [12]
    monkeypatch.setattr(hi, "SAMPLE", 4)  # 12 opinions: every 3rd id, counts times 3
    sampled = await hi.hot_issues(ctx, station_id, month)
    assert len(sampled) == 1 and sampled[0].count % 3 == 0 and 9 <= sampled[0].count <= 15
    assert sampled[0].example in MEALS

    # A new opinion: the kept (stale) issues at once, the fresh ones kept in the background.
    from services.reports import cache

    who = tg(799, "居民新")
    await intake.submit_text(who, chat(who.external_id), "new", MEALS[0], None)
    assert await hi.hot_issues(ctx, station_id, month) == sampled
    await asyncio.gather(*cache._later.values())
    async with ctx.sessions() as s:
        total, stamp = await cache.texts_and_stamp(s, ctx, station_id, month, hi.SAMPLE)
        assert total == 13 and await cache.get(s, station_id, "hot", month, stamp) is not None
