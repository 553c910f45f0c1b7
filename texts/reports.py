"""What staff read in statistics and briefings (ledger exports and imports: texts/ledger.py).

Chat texts are Rich (templates: values stay text). Chart labels and command-line messages are
plain strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from texts import Rich, t

# ---- shared labels (plain text, safe anywhere) ---------------------------------------------------

SATISFACTION_LABELS: dict[str, str] = {
    "satisfied": "满意",
    "basic": "基本满意",
    "unsatisfied": "不满意",
    "unrated": "未评价",
}
ASSIGNEE_KINDS: dict[str, str] = {
    "group": "工作组",
    "department": "责任单位",
    "representative": "人大代表",
}
ANONYMOUS = "匿名群众"
MAX_LIST = 15


def satisfaction_label(value: str | None) -> str:
    return SATISFACTION_LABELS.get(value or "", "")


def period_label(kind: str, start: date | None, end: date | None) -> str:
    """A period as people say it; `end` is exclusive, so the last day shown is end - 1."""
    if kind == "all" or start is None or end is None:
        return "全部时间"
    last = end - timedelta(days=1)
    if kind == "month":
        return f"{start.year}年{start.month}月"
    if kind == "half_month":
        half = "上半月" if start.day == 1 else "下半月"
        return f"{start.year}年{start.month}月{half}（{start:%m-%d} 至 {last:%m-%d}）"
    if kind == "week":
        return f"{start:%Y-%m-%d} 至 {last:%Y-%m-%d} 当周"
    return f"{start:%Y-%m-%d} 至 {last:%Y-%m-%d}"


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1%}"


def _days(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} 天"


def _snip(text: str, n: int = 40) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[:n] + "…"


def _more(total: int, shown: int) -> str:
    return f"\n…另有 {total - shown} 项" if total > shown else ""


# ---- permissions and usage ------------------------------------------------------------------------


def only_staff() -> Rich:
    return t("统计、简报和台账导出只对联络站工作人员开放。如需数据，请联系联络站工作人员。")


def stats_usage() -> Rich:
    return t(
        "用法：/stats [本周|本月|上周|上月|半月|全部|2026-09|开始日期 结束日期]\n"
        "例如 <code>/stats 2026-09-01 2026-09-30</code>（含首尾两天）。不写时统计本月。"
    )


# ---- statistics --------------------------------------------------------------------------------------


def overdue_line(
    ref_no: str, assignee: str, due: date, workdays: int, text: str, *, bullet: str = "•"
) -> Rich:
    return t(
        "{bullet} <code>{ref}</code> {assignee}，期限 {due:%Y-%m-%d}，{late}：{snip}",
        bullet=bullet,
        ref=ref_no,
        assignee=assignee,
        due=due,
        late=f"逾期 {workdays} 个工作日" if workdays > 0 else "已过期限",
        snip=_snip(text),
    )


def satisfaction_line(counts: dict[str, int], rate: float | None) -> str:
    parts = "，".join(f"{SATISFACTION_LABELS[k]} {counts.get(k, 0)}" for k in SATISFACTION_LABELS)
    return f"满意度测评：{parts}；满意率 {_pct(rate)}（满意与基本满意占已评价的比例）"


def stats_text(
    station: str,
    period: str,
    received: int,
    by_theme: Sequence[tuple[str, int]],
    by_status: Sequence[tuple[str, int]],
    assigned: int,
    closed: int,
    bounced: int,
    avg_assign: float | None,
    avg_close: float | None,
    by_assignee: Sequence[tuple[str, str, int, int, int, int]],
    overdue: Sequence[Rich],
    satisfaction: str,
    today: date,
    *,
    overdue_total: int | None = None,
    out_of_scope: int = 0,
) -> Rich:
    """`by_assignee` rows: (kind, name, assigned, closed, bounced, open overdue); `overdue` the
    lines shown, `overdue_total` how many there are (default: as many as lines)."""
    n_overdue = len(overdue) if overdue_total is None else max(overdue_total, len(overdue))
    lines: list[Rich | str] = [
        t("📊 <b>{station} 统计</b>　{period}", station=station, period=period),
        "",
        t("<b>收到意见 {n} 件</b>", n=received),
    ]
    if by_theme:
        lines.append("按主题：" + "，".join(f"{n} {c}" for n, c in by_theme))
    if out_of_scope:
        lines.append(out_of_scope_line(out_of_scope))
    if by_status:
        lines.append("按状态：" + "，".join(f"{n} {c}" for n, c in by_status))
    lines += [
        "",
        f"交办 {assigned} 件，办结 {closed} 件，退回 {bounced} 件次",
        f"平均受理到交办 {_days(avg_assign)}，受理到办结 {_days(avg_close)}（自然日）",
        satisfaction,
    ]
    if by_assignee:
        lines += ["", t("<b>按承办单位</b>（交办 / 办结 / 退回 / 逾期）")]
        for kind, name, a, c, b, o in by_assignee[:MAX_LIST]:
            lines.append(f"• {ASSIGNEE_KINDS.get(kind, '')} {name}：{a} / {c} / {b} / {o}")
        lines[-1] += _more(len(by_assignee), MAX_LIST)
    lines += ["", t("<b>截至 {today:%Y-%m-%d} 逾期未办结 {n} 件</b>", today=today, n=n_overdue)]
    lines += list(overdue[:MAX_LIST])
    if n_overdue > MAX_LIST:
        lines[-1] += _more(n_overdue, MAX_LIST)
    return Rich.join("\n", lines)


def no_opinions_yet() -> str:
    return "（这一时期还没有收到意见。）"


# ---- briefing ---------------------------------------------------------------------------------------


def briefing_text(
    station: str,
    period: str,
    received: int,
    assigned: int,
    closed: int,
    overdue: Sequence[Rich],
    satisfaction: str,
    growth: Sequence[tuple[str, int, int]],
    keywords: Sequence[str],
    generated: datetime,
    *,
    overdue_total: int | None = None,
    out_of_scope: int = 0,
    hot_issues: Rich | None = None,
) -> Rich:
    """`growth` rows: (theme, this period, previous period); `overdue_total` as in stats_text."""
    n_overdue = len(overdue) if overdue_total is None else max(overdue_total, len(overdue))
    lines: list[Rich | str] = [
        t("📰 <b>{station} 工作简报</b>", station=station),
        period,
        "",
        t(
            "新收意见 <b>{received}</b> 件｜交办 <b>{assigned}</b> 件｜办结 <b>{closed}</b> 件｜"
            "当前逾期 <b>{overdue}</b> 件",
            received=received,
            assigned=assigned,
            closed=closed,
            overdue=n_overdue,
        ),
        satisfaction,
    ]
    if out_of_scope:
        lines.append(out_of_scope_line(out_of_scope))
    if growth:
        lines.append(
            "增长较多的主题："
            + "；".join(
                f"{n} {now} 件（上期 {before}，+{now - before}）" for n, now, before in growth
            )
        )
    if keywords:
        lines.append("本期关键词：" + "、".join(keywords))
    if overdue:
        lines += ["", t("<b>逾期清单</b>")]
        lines += list(overdue[:MAX_LIST])
        if n_overdue > MAX_LIST:
            lines[-1] += _more(n_overdue, MAX_LIST)
    if hot_issues is not None:
        lines += ["", hot_issues]
    lines += ["", t("<i>生成于 {when:%Y-%m-%d %H:%M}，数据来自联络站台账。</i>", when=generated)]
    return Rich.join("\n", lines)


def chart_unavailable() -> str:
    return "（图表暂时无法生成：中文字体未安装，请管理员安装 pylopdf-fonts-zh-cn。）"


# ---- chart labels (plain text) --------------------------------------------------------------------

CHART_THEMES = "按主题"
CHART_STATUS = "按状态"


def chart_satisfaction(rate: float | None) -> str:
    return "满意度测评" if rate is None else f"满意度测评（满意率 {rate:.0%}）"


CHART_ASSIGNEES = "按承办单位（交办件数）"
CHART_EMPTY = "暂无数据"


def chart_title(station: str, period: str) -> str:
    return f"{station}　{period}"


# ---- out-of-scope opinions and hot issues (issue 16) ---------------------------------------------


def out_of_scope_line(n: int) -> str:
    return f"其中非本专题 {n} 件（照常办理，不计入专题统计）"


def hot_issues_block(issues: Sequence[tuple[int, str, str, Sequence[str]]]) -> Rich:
    """`issues` rows: (count, example's reference, example text, telling words)."""
    lines: list[Rich | str] = [t("<b>本期热点问题（每月一题）</b>")]
    for n, (count, ref, example, terms) in enumerate(issues, start=1):
        words = f"{'、'.join(terms)}：" if terms else ""
        lines.append(
            t(
                "{n}. {count} 件相似意见　{words}{example}（例：<code>{ref}</code>）",
                n=n,
                count=count,
                words=words,
                example=_snip(example),
                ref=ref,
            )
        )
    return Rich.join("\n", lines)
