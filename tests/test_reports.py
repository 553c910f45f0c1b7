"""Statistics, the 工作简报 and its chart, on a September built through the real services."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from domain.channels import Sender
from domain.clock import ManualClock
from domain.workdays import WorkCalendar
from handlers.telegram.render import render_html
from services import reports as rp
from services.casework import CaseworkService
from services.intake import IntakeService
from services.kernel.context import ServiceContext
from services.meetings import MeetingService
from services.reports import Briefing, Period, ReportsService, charts, parse_period
from storage.models import Opinion, Station, Task, Unit
from tests.support import bind_staff, chat, code_in, html, tg, user_id_of

ADMIN = tg(900, "站长")
STAFF = tg(901, "小张")
REP = tg(500, "刘代表")
RES = tg(101, "王", "阿姨")
STAFF_CHAT = -1001
GROUP = "居家养老专题组"
DEPT = "区民政局"
NOW = datetime(2026, 9, 28, 1, 0, tzinfo=UTC)  # the clock fixture's start: Mon 09:00 Beijing

TEXTS = {
    "a": "社区医院挂号太难，老人看病要排很久的队，希望增加家庭医生上门。",
    "b": "家庭医生签约以后很少上门，慢病药品也不全，希望改进。",
    "op1": "我们小区没有老年食堂，老人吃饭很不方便，希望社区能办一个助餐点。",
    "op2": "老旧小区没有电梯，老人上下楼很困难，希望尽快加装电梯。",
    "op3": "社区卫生服务中心的降压药经常缺货，希望保障慢病用药。",
    "op4": "高龄津贴的发放标准多年没有调整，希望提高高龄津贴。",
    "op5": "助餐点的饭菜价格太高了，希望能给高龄老人优惠，助餐点也能送餐上门。",
    "op6": "养老服务补贴申请手续复杂，希望简化高龄津贴和补贴的申请。",
}


def bj(month: int, day: int, hour: int = 10) -> datetime:
    """A Beijing wall-clock time in 2026 as the aware UTC instant the clock takes."""
    return datetime(2026, month, day, hour, tzinfo=UTC) - timedelta(hours=8)


@dataclass
class Scenario:
    station_id: int
    ops: dict[str, Opinion]
    rep_id: int
    group_id: int
    dept_id: int
    cw: CaseworkService
    intake: IntakeService


class Steps:
    """Drives the real services at chosen moments, as staff, assignees and the resident would."""

    def __init__(self, ctx: ServiceContext, clock: ManualClock) -> None:
        self.ctx = ctx
        self.clock = clock
        self.cw = CaseworkService(ctx)
        self.intake = IntakeService(ctx)
        self.msg = itertools.count(1000)

    async def submit(self, when: datetime, text: str, who: Sender = RES) -> Opinion:
        self.clock.set(when)
        mid = next(self.msg)
        await self.intake.submit_text(who, chat(who.external_id), str(mid), text, None)
        async with self.ctx.sessions() as s:
            return (
                await s.execute(
                    select(Opinion).where(
                        Opinion.src_chat_id == who.external_id, Opinion.src_message_id == str(mid)
                    )
                )
            ).scalar_one()

    async def theme(self, op: Opinion, theme_id: str) -> None:
        index = [t.id for t in self.ctx.classifier.themes].index(theme_id)
        result = await self.cw.triage_button(STAFF, "st", (op.id, index))
        assert result.edit is not None, result

    async def assign(self, when: datetime, op: Opinion, kind: int, target: int, days: int) -> Task:
        self.clock.set(when)
        done = await self.cw.triage_button(STAFF, "dl", (op.id, kind, target, days))
        assert not done.alert, done.toast
        async with self.ctx.sessions() as s:
            return (
                await s.execute(
                    select(Task).where(Task.opinion_id == op.id).order_by(Task.id.desc()).limit(1)
                )
            ).scalar_one()

    async def typed(self, who: Sender, text: str) -> None:
        reply = await self.cw.pending_text(who, chat(who.external_id), str(next(self.msg)), text)
        assert reply is not None

    async def ack(self, when: datetime, task: Task, who: Sender = STAFF) -> None:
        self.clock.set(when)
        assert (await self.cw.task_button(who, "ack", (task.id,))).edit is not None

    async def progress(self, when: datetime, task: Task, note: str, who: Sender = STAFF) -> None:
        self.clock.set(when)
        await self.cw.task_button(who, "pr", (task.id,))
        await self.typed(who, note)

    async def close(
        self, when: datetime, task: Task, outcome: int, result: str, who: Sender = STAFF
    ) -> None:
        self.clock.set(when)
        await self.cw.task_button(who, "clo", (task.id, outcome))
        await self.typed(who, result)

    async def bounce(self, when: datetime, task: Task, reason: str, who: Sender = STAFF) -> None:
        self.clock.set(when)
        await self.cw.task_button(who, "bo", (task.id,))
        await self.typed(who, reason)

    async def rate(self, when: datetime, task: Task, value: int) -> None:
        self.clock.set(when)
        assert (await self.cw.rating_button(RES, "v", (task.id, value))).edit is not None


async def build_scenario(ctx: ServiceContext, clock: ManualClock) -> Scenario:
    """August: two opinions on 医养结合. September: six opinions and their casework.

    Expected for September (see test_september_statistics): 6 received, 5 first assigned
    (1.0 + 3.0 + 1.0 + 1.0 + 0.5 days), 3 closed (4.0 + 2.0 + 2.0 days), 1 bounced, one overdue
    task (op2, 3 working days from Sat 5 Sept), ratings 满意 1 / 不满意 1 / 未评价 1.
    """
    go = Steps(ctx, clock)
    clock.set(bj(8, 1))
    await bind_staff(ctx, ADMIN, STAFF_CHAT)
    await go.intake.start(STAFF, None)
    await go.cw.add_staff(ADMIN, STAFF.external_id, None)
    invite = await go.cw.create_invite(STAFF, None, None)
    await go.cw.join(REP, code_in(invite))
    await go.cw.add_unit(STAFF, "group", GROUP)
    await go.cw.add_unit(STAFF, "department", DEPT)
    async with ctx.sessions() as s:
        rep_id = await user_id_of(ctx, REP)
        units = {u.name: u.id for u in (await s.execute(select(Unit))).scalars()}
        station_id = (await s.execute(select(Station.id))).scalar_one()
    group, dept = units[GROUP], units[DEPT]

    ops: dict[str, Opinion] = {}
    ops["a"] = await go.submit(bj(8, 20), TEXTS["a"])
    ops["b"] = await go.submit(bj(8, 21), TEXTS["b"])
    ops["op1"] = await go.submit(bj(9, 1), TEXTS["op1"])
    ops["op2"] = await go.submit(bj(9, 2), TEXTS["op2"])
    ops["op3"] = await go.submit(bj(9, 3), TEXTS["op3"])
    ops["op4"] = await go.submit(bj(9, 4), TEXTS["op4"])
    ops["op5"] = await go.submit(bj(9, 6), TEXTS["op5"])
    ops["op6"] = await go.submit(bj(9, 8), TEXTS["op6"])
    themes = {"a": "medical_care", "b": "medical_care", "op3": "medical_care"}
    themes |= {"op1": "home_community", "op2": "home_community", "op5": "home_community"}
    themes |= {"op4": "funding", "op6": "funding"}
    for key, theme in themes.items():
        await go.theme(ops[key], theme)
    # The resident chose to give her name on op1 (the ledger then shows 王**, not 匿名群众).
    await go.intake.set_anonymous(RES, ops["op1"].id, False)

    t1 = await go.assign(bj(9, 2), ops["op1"], 2, group, 15)
    await go.ack(bj(9, 2, 11), t1)
    await go.progress(bj(9, 3), t1, "已联系街道选址")
    await go.close(bj(9, 5), t1, 1, "助餐点已开业")
    await go.rate(bj(9, 6, 9), t1, 1)

    await go.assign(bj(9, 5), ops["op2"], 1, rep_id, 3)

    t3 = await go.assign(bj(9, 4), ops["op3"], 2, dept, 7)
    await go.ack(bj(9, 4, 11), t3)
    await go.bounce(bj(9, 6, 15), t3, "这是区卫健委的职责")

    t5 = await go.assign(bj(9, 7), ops["op5"], 2, group, 7)
    await go.ack(bj(9, 7, 11), t5)
    await go.close(bj(9, 8), t5, 3, "暂时无法降价")
    await go.rate(bj(9, 8, 12), t5, 3)

    t6 = await go.assign(bj(9, 8, 22), ops["op6"], 2, dept, 15)
    await go.ack(bj(9, 9), t6)
    await go.close(bj(9, 10), t6, 2, "已列入明年简化计划")
    clock.set(bj(9, 17, 11))
    assert await go.cw.expire_ratings() == 1

    clock.set(NOW)
    return Scenario(station_id, ops, rep_id, group, dept, go.cw, go.intake)


SEPTEMBER = Period.this_month(date(2026, 9, 1))


async def test_september_statistics(ctx: ServiceContext, clock: ManualClock) -> None:
    sc = await build_scenario(ctx, clock)
    stats = await rp.compute_stats(ctx, sc.station_id, SEPTEMBER)

    assert stats.received == 6
    assert [(t, n) for t, _, n in stats.by_theme] == [
        ("home_community", 3),
        ("funding", 2),
        ("medical_care", 1),
    ]
    assert stats.by_theme[0][1] == "居家社区养老"
    assert dict(stats.by_status) == {"received": 2, "assigned": 1, "rated": 2, "reopened": 1}
    assert stats.assigned == 5
    assert stats.closed == 3
    assert stats.bounced == 1
    assert stats.avg_days_to_assign == 1.3  # (1 + 3 + 1 + 1 + 0.5) / 5
    assert stats.avg_days_to_close == 2.7  # (4 + 2 + 2) / 3
    sat = stats.satisfaction
    assert (sat.count("satisfied"), sat.count("basic"), sat.count("unsatisfied")) == (1, 0, 1)
    assert sat.count("unrated") == 1
    assert sat.rate == 0.5

    rows = {(a.kind, a.name): a for a in stats.by_assignee}
    assert (rows[("group", GROUP)].assigned, rows[("group", GROUP)].closed) == (2, 2)
    dept = rows[("department", DEPT)]
    assert (dept.assigned, dept.closed, dept.bounced, dept.overdue) == (2, 1, 1, 0)
    rep = rows[("representative", "刘代表")]
    assert (rep.assigned, rep.overdue) == (1, 1)

    assert len(stats.overdue) == 1
    late = stats.overdue[0]
    cal = WorkCalendar()
    due = cal.add_workdays(date(2026, 9, 5), 3).due
    assert late.ref_no == sc.ops["op2"].ref_no and late.due_date == due
    assert late.assignee == "刘代表"
    assert late.workdays_overdue == cal.workdays_between(due, date(2026, 9, 28)) > 0


async def test_other_periods(ctx: ServiceContext, clock: ManualClock) -> None:
    sc = await build_scenario(ctx, clock)
    everything = await rp.compute_stats(ctx, sc.station_id, Period.all_time())
    assert everything.received == 8
    assert dict((t, n) for t, _, n in everything.by_theme)["medical_care"] == 3
    august = await rp.compute_stats(ctx, sc.station_id, Period.this_month(date(2026, 8, 5)))
    assert (august.received, august.assigned, august.closed) == (2, 0, 0)
    assert august.satisfaction.rate is None
    # The overdue list is a snapshot as of today, whatever the period.
    assert len(august.overdue) == 1
    week = await rp.compute_stats(ctx, sc.station_id, Period.this_week(date(2026, 9, 28)))
    assert week.received == 0 and week.assigned == 0
    first_week = await rp.compute_stats(
        ctx, sc.station_id, Period.between(date(2026, 9, 1), date(2026, 9, 4))
    )
    assert first_week.received == 3 and first_week.closed == 0


async def test_stats_command_for_staff_and_refused_to_residents(
    ctx: ServiceContext, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await build_scenario(ctx, clock)
    service = ReportsService(ctx)
    report = await service.stats(STAFF, "2026-09-01 2026-09-30", chat(STAFF_CHAT))
    text = report.reply.text
    assert "2026-09-01 至 2026-09-30" in text
    assert "收到意见 6 件" in text
    assert "居家社区养老 3" in text and "经济支撑 2" in text
    assert "交办 5 件，办结 3 件，退回 1 件次" in text
    assert "1.3 天" in text and "2.7 天" in text
    assert "满意率 50.0%" in text
    assert "逾期未办结 1 件" in text
    assert report.chart is not None and report.chart.startswith(b"\x89PNG\r\n\x1a\n")
    # The default period is this month: September, since the clock says 28 Sept.
    default = await service.stats(STAFF, "")
    assert "2026年9月" in default.reply.text and "收到意见 6 件" in default.reply.text
    bad = await service.stats(STAFF, "昨天")
    assert "用法" in bad.reply.text and bad.chart is None

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("computed statistics for a resident")

    monkeypatch.setattr(rp, "collect_stats", must_not_run)
    for who in (RES, REP):
        refused = await service.stats(who, "全部")
        assert "只对联络站工作人员开放" in refused.reply.text and refused.chart is None
        refused = await service.briefing(who)
        assert "只对联络站工作人员开放" in refused.reply.text and refused.chart is None


def test_parse_period() -> None:
    today = date(2026, 9, 28)
    assert parse_period("", today) == Period("month", date(2026, 9, 1), date(2026, 10, 1))
    assert parse_period("本周", today) == Period("week", date(2026, 9, 28), date(2026, 10, 5))
    assert parse_period("上月", today) == Period("month", date(2026, 8, 1), date(2026, 9, 1))
    assert parse_period("全部", today) == Period.all_time()
    assert parse_period("2026-02", today) == Period("month", date(2026, 2, 1), date(2026, 3, 1))
    assert parse_period("2026-09-01 2026-09-30", today) == Period(
        "range", date(2026, 9, 1), date(2026, 10, 1)
    )
    assert parse_period("2026年9月1日 至 2026年9月15日", today) == Period(
        "range", date(2026, 9, 1), date(2026, 9, 16)
    )
    for bad in ("昨天", "2026-09-30 2026-09-01", "2026-02-30 2026-03-01", "2026-13"):
        assert parse_period(bad, today) is None, bad
    assert Period.half_month(date(2026, 9, 28)) == Period(
        "half_month", date(2026, 9, 16), date(2026, 10, 1)
    )
    assert Period.half_month(date(2026, 12, 20)).end == date(2027, 1, 1)
    assert Period.half_month(date(2026, 9, 16)).previous() == Period(
        "half_month", date(2026, 9, 1), date(2026, 9, 16)
    )
    assert Period.this_month(date(2026, 1, 9)).previous() == Period(
        "month", date(2025, 12, 1), date(2026, 1, 1)
    )


async def test_briefing_has_counts_growth_keywords_and_chart(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    sc = await build_scenario(ctx, clock)
    briefing = await rp.build_briefing(ctx, sc.station_id, SEPTEMBER)
    text = render_html(briefing.text)
    assert "工作简报" in text and "2026年9月" in text
    assert "新收意见 <b>6</b> 件｜交办 <b>5</b> 件｜办结 <b>3</b> 件｜当前逾期 <b>1</b> 件" in text
    assert sc.ops["op2"].ref_no in text  # the overdue list
    assert "满意率 50.0%" in text
    # Against August (two 医养结合, nothing else): 居家社区养老 grew most, then 经济支撑.
    assert briefing.growth == [("居家社区养老", 3, 0), ("经济支撑", 2, 0)]
    assert "居家社区养老 3 件（上期 0，+3）" in text
    # Keywords come from September's texts: the domain words, not filler like 希望 or 老人.
    assert 0 < len(briefing.keywords) <= 10
    assert "助餐点" in briefing.keywords and "高龄津贴" in briefing.keywords
    assert not {"希望", "老人", "社区", "问题"} & set(briefing.keywords)
    assert "本期关键词：" + "、".join(briefing.keywords) in text
    assert briefing.chart is not None and briefing.chart.startswith(b"\x89PNG")

    sent: list[tuple[object, Briefing]] = []

    async def send(to: object, b: Briefing) -> None:
        sent.append((to, b))

    assert await rp.post_briefing(ctx, sc.station_id, SEPTEMBER, send)
    assert [chat_ for chat_, _ in sent] == [chat(STAFF_CHAT)]
    assert sent[0][1].stats.received == 6

    on_demand = await ReportsService(ctx).briefing(STAFF, "本月")
    assert "新收意见 <b>6</b> 件" in html(on_demand.reply) and on_demand.chart is not None


async def test_briefing_escapes_html_and_handles_an_empty_period(
    ctx: ServiceContext, clock: ManualClock
) -> None:
    steps = Steps(ctx, clock)
    await bind_staff(ctx, ADMIN, STAFF_CHAT)
    async with ctx.sessions() as s:
        station_id = (await s.execute(select(Station.id))).scalar_one()
    empty = await rp.build_briefing(ctx, station_id, Period.this_week(date(2026, 9, 28)))
    assert "新收意见 <b>0</b> 件" in render_html(empty.text) and empty.keywords == []
    op = await steps.submit(bj(9, 1), "小区<script>门口</script>的路灯坏了好几个月，晚上很黑。")
    await steps.assign(bj(9, 1, 11), op, 1, await _rep(ctx, steps), 3)
    clock.set(NOW)
    briefing = await rp.build_briefing(ctx, station_id, SEPTEMBER)
    shown = render_html(briefing.text)
    assert "<script>" not in shown and "&lt;script&gt;" in shown


async def _rep(ctx: ServiceContext, steps: Steps) -> int:
    """Make STAFF staff and REP a representative; returns REP's user id."""
    await steps.intake.start(STAFF, None)
    await steps.cw.add_staff(ADMIN, STAFF.external_id, None)
    invite = await steps.cw.create_invite(STAFF, None, None)
    await steps.cw.join(REP, code_in(invite))
    return await user_id_of(ctx, REP)


async def test_briefing_schedule(ctx: ServiceContext, clock: ManualClock) -> None:
    await bind_staff(ctx, ADMIN, STAFF_CHAT)
    async with ctx.sessions() as s:
        station_id = (await s.execute(select(Station.id))).scalar_one()
    # Default: half-monthly. On Mon 28 Sept the latest slot was Wed 16 Sept 09:00, covering 1–15.
    slot = await rp.latest_briefing_slot(ctx, station_id, NOW)
    assert slot is not None
    assert slot.at == datetime(2026, 9, 16, 9, 0, tzinfo=ctx.tz)
    assert slot.period == Period("half_month", date(2026, 9, 1), date(2026, 9, 16))
    again = await rp.latest_briefing_slot(ctx, station_id, NOW + timedelta(hours=1))
    assert again is not None and again.key == slot.key
    before = await rp.latest_briefing_slot(ctx, station_id, bj(9, 16, 8))
    assert before is not None and before.period.end == date(2026, 9, 1)

    # A weekly progress meeting sets the rhythm: each briefing covers the week since the last.
    steps = Steps(ctx, clock)
    await _rep(ctx, steps)
    await steps.cw.add_unit(STAFF, "group", GROUP)
    made = await MeetingService(ctx).create(STAFF, f"{GROUP} | 推进会 | 2026-09-02 15:00 | 每周三")
    assert "推进会" in made.text
    slot = await rp.latest_briefing_slot(ctx, station_id, NOW)
    assert slot is not None
    assert slot.at == datetime(2026, 9, 23, 15, 0, tzinfo=ctx.tz)
    assert slot.period == Period("range", date(2026, 9, 16), date(2026, 9, 23))


def test_chart_uses_the_packaged_cjk_font(tmp_path: Path) -> None:
    from matplotlib import font_manager
    from matplotlib.text import Text

    panels = [
        charts.Panel("按主题", [("居家社区养老", 5), ("医养结合", 3), ("经济支撑", 1)]),
        charts.Panel("按状态", [("已受理", 4), ("已办结", 2)]),
        charts.Panel(
            "满意度测评", [("满意", 3), ("基本满意", 1), ("不满意", 1), ("未评价", 0)], "bar"
        ),
        charts.Panel("按承办单位（交办件数）", []),
    ]
    fig = charts.build_figure("测试联络站　2026年9月", panels)
    font_file = charts.cjk_font_path()
    assert "site-packages" in str(font_file) or "dist-packages" in str(font_file)
    drawn = [t for t in fig.findobj(match=Text) if isinstance(t, Text) and t.get_text()]
    assert any("居家社区养老" in t.get_text() for t in drawn)
    for t in drawn:
        assert Path(font_manager.findfont(t.get_fontproperties())) == font_file, t.get_text()
    png = charts.render_panels("测试联络站　2026年9月", panels)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) < 300_000
    (tmp_path / "chart.png").write_bytes(png)
