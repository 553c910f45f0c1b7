"""Hot issues (每月一题) in /stats and the briefing: clusters of similar opinions with their
count and one example each, computed once per set of opinions (cached)."""

from __future__ import annotations

from sqlalchemy import select

from domain.clock import ManualClock
from handlers.telegram.render import render_html
from services import reports as rp
from services.casework import CaseworkService
from services.intake import IntakeService
from services.kernel.context import ServiceContext
from services.reports import Period, ReportsService
from services.reports import hotissues as hi
from storage.models import Opinion, Station
from tests.support import bind_staff, chat, html, tg
from tests.test_reports import ADMIN, STAFF, STAFF_CHAT

MEALS = (
    "我们小区没有老年食堂，老人吃饭很不方便，希望社区能办一个助餐点。",
    "小区里没有老年食堂，老人们吃饭不方便，建议社区开个助餐点。",
    "我们小区没有老年食堂，老人吃饭太难了，希望办个助餐点。",
    "小区没有老年食堂，老人吃饭不方便，能不能办一个助餐点？",
)
LIFTS = (
    "幸福里3号楼没有电梯，老人上下楼很困难，希望加装电梯。",
    "幸福里5号楼没有电梯，老人下楼很困难，希望尽快加装电梯。",
    "幸福里小区的楼没有电梯，老人上下楼困难，希望加装电梯。",
)
SINGLE = (
    "高龄津贴三个月没到账了，请帮忙查一下。",
    "楼下广场舞太吵了，晚上睡不着。",
    "社区卫生服务中心的降压药经常缺货。",
)


async def test_stats_and_briefing_show_recurring_issues(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    await bind_staff(ctx, ADMIN, STAFF_CHAT)
    intake = IntakeService(ctx)
    await intake.start(STAFF, None)
    await CaseworkService(ctx).add_staff(ADMIN, STAFF.external_id, None)
    for n, text in enumerate(MEALS + LIFTS + SINGLE):
        who = tg(300 + n, f"居民{n}")
        await intake.submit_text(who, chat(who.external_id), str(n), text, None)
    async with ctx.sessions() as s:
        station_id = (await s.execute(select(Station.id))).scalar_one()
        meal_refs = set(
            (await s.execute(select(Opinion.ref_no).where(Opinion.text.in_(MEALS)))).scalars()
        )
    month = Period.this_month(ctx.clock.now().astimezone(ctx.tz).date())

    found = await hi.hot_issues(ctx, station_id, month)
    assert [h.count for h in found] == [4, 3]
    assert found[0].example in MEALS and "老年食堂" in found[0].terms
    assert found[1].example in LIFTS and "电梯" in found[1].terms
    assert found[0].ref_no in meal_refs
    # The same opinions again: the kept result, not a second clustering.
    assert await hi.hot_issues(ctx, station_id, month) is found

    shown = html((await ReportsService(ctx).stats(STAFF, "本月", chat(STAFF_CHAT))).reply)
    assert "本期热点问题（每月一题）" in shown
    assert "1. 4 件相似意见" in shown and "2. 3 件相似意见" in shown
    assert f"（例：<code>{found[0].ref_no}</code>）" in shown

    briefing = render_html((await rp.build_briefing(ctx, station_id, month)).text)
    assert "本期热点问题（每月一题）" in briefing and "1. 4 件相似意见" in briefing
    assert briefing.index("热点问题") < briefing.index("生成于")


async def test_few_or_scattered_opinions_have_no_hot_issues(ctx: ServiceContext) -> None:
    await bind_staff(ctx, ADMIN, STAFF_CHAT)
    intake = IntakeService(ctx)
    await intake.start(STAFF, None)
    await CaseworkService(ctx).add_staff(ADMIN, STAFF.external_id, None)
    for n, text in enumerate(SINGLE):
        who = tg(400 + n, f"居民{n}")
        await intake.submit_text(who, chat(who.external_id), str(n), text, None)
    shown = html((await ReportsService(ctx).stats(STAFF, "本月", chat(STAFF_CHAT))).reply)
    assert "热点问题" not in shown
