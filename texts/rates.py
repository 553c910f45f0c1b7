"""The three rates (三率) as staff read them in /stats, the briefing, the chart and the export
(definitions: docs/casework.md)."""

from __future__ import annotations

from texts import Rich, t

RATES_SHEET = "三率"


RATES_COLUMNS = (
    "排名",
    "承办",
    "类型",
    "交办",
    "按时签收",
    "响应率",
    "办结",
    "解决",
    "解决率",
    "评价",
    "满意",
    "满意率",
    "逾期",
)


CHART_RATES = "三率"


RATE_NAMES = ("响应率", "解决率", "满意率")


KIND_NAMES = {"group": "工作组", "department": "责任单位", "representative": "代表"}


def pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.0%}"


def rates_line(
    response: float | None,
    solve: float | None,
    satisfaction: float | None,
    counts: tuple[int, int, int, int, int, int],
    overdue: int,
) -> Rich:
    assigned, responded, closed, solved, rated, satisfied = counts
    return t(
        "<b>三率</b>：响应率 {r}（{a1}/{a2}）　解决率 {s}（{b1}/{b2}）　满意率 {m}（{c1}/{c2}）"
        "　逾期 {o} 件",
        r=pct(response),
        a1=responded,
        a2=assigned,
        s=pct(solve),
        b1=solved,
        b2=closed,
        m=pct(satisfaction),
        c1=satisfied,
        c2=rated,
        o=overdue,
    )


def ranking_line(
    n: int, name: str, response: float | None, solve: float | None, sat: float | None, late: int
) -> Rich:
    return t(
        "{n}. {name}　响应 {r} · 解决 {s} · 满意 {m}{late}",
        n=n,
        name=name,
        r=pct(response),
        s=pct(solve),
        m=pct(sat),
        late=f" · 逾期 {late}" if late else "",
    )


def ranking_head() -> Rich:
    return t("<b>排名</b>（响应 10%、解决 45%、满意 45% 加权）")
