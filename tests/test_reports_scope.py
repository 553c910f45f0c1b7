"""Out-of-scope opinions (其他（非本专题）): staff get them marked so on the card, and /stats and the
briefing count them apart, outside the campaign's theme statistics."""

from __future__ import annotations

from domain.clock import ManualClock
from handlers.telegram.render import render_html
from services import reports as rp
from services.casework import CaseworkService
from services.intake import IntakeService
from services.kernel.context import ServiceContext
from services.reports import Period, ReportsService
from services.reports.stats import chart_panels
from tests.support import bind_staff, chat, html, outbox_messages, tg
from tests.test_reports import ADMIN, STAFF, STAFF_CHAT

IN_SCOPE = (
    "我们小区没有老年食堂，老人吃饭很不方便，希望社区能办一个助餐点。",
    "高龄津贴的发放标准多年没有调整，希望提高高龄津贴。",
)
OUT_OF_SCOPE = (
    "楼下广场舞太吵了，晚上十点还在跳，孩子没法睡觉。",
    "学校门口接送孩子的车太多，早上交通拥堵得厉害。",
    "物业费太贵了，物业公司什么都不管。",
)


async def test_out_of_scope_is_marked_and_counted_apart(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    await bind_staff(ctx, ADMIN, STAFF_CHAT)
    intake = IntakeService(ctx)
    await intake.start(STAFF, None)
    await CaseworkService(ctx).add_staff(ADMIN, STAFF.external_id, None)
    for n, text in enumerate(IN_SCOPE + OUT_OF_SCOPE):
        who = tg(200 + n, f"居民{n}")
        await intake.submit_text(who, chat(who.external_id), str(n), text, None)

    cards = [m.plain for m in await outbox_messages(ctx, STAFF_CHAT) if "新意见" in m.plain]
    assert len(cards) == 5
    marked = [c for c in cards if "非本专题" in c]
    assert len(marked) == 3 and all("不计入专题统计" in c for c in marked)
    assert all(c.split("\n")[1].startswith("分类：其他（非本专题）") for c in marked)

    today = ctx.clock.now().astimezone(ctx.tz).date()
    stats = await rp.compute_stats(ctx, 1, Period.this_month(today))
    assert stats.received == 5 and stats.out_of_scope == 3
    assert sum(n for _, _, n in stats.by_theme) == 2
    assert "other" not in stats.theme_counts()
    themes_panel = chart_panels(stats)[0]
    assert all("非本专题" not in label for label, _ in themes_panel.items)

    shown = html((await ReportsService(ctx).stats(STAFF, "本月", chat(STAFF_CHAT))).reply)
    assert "收到意见 5 件" in shown and "其中非本专题 3 件（照常办理，不计入专题统计）" in shown
    assert (
        "按主题：" in shown and "其他（非本专题）" not in shown.split("按主题：")[1].split("\n")[0]
    )

    briefing = await rp.build_briefing(ctx, 1, Period.this_month(today))
    text = render_html(briefing.text)
    assert "新收意见 <b>5</b> 件" in text and "其中非本专题 3 件" in text
    assert all("非本专题" not in label for label, _, _ in briefing.growth)
