"""What staff read in statistics, briefings, ledger exports and imports.

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


def export_usage(most: int = 50_000) -> Rich:
    return t(
        "用法：/export 导出台账（反映人姓名打码）；/export 实名 导出含姓名的台账。"
        "可以只导出一段时间：/export 本月、/export 上月、/export 2026-09、"
        "/export 2026-09-01 2026-09-30（也可与“实名”一起用）。"
        "聊天里一次最多导出 {most} 件。",
        most=most,
    )


def export_too_many(total: int, most: int) -> Rich:
    return t(
        "这段时间的台账共 {total} 件，超过聊天里一次导出的上限 {most} 件。"
        "请按时间分段导出，例如 /export 本月、/export 2026-09，"
        "或 /export 2026-01-01 2026-03-31；全部台账请管理员在服务器上运行 liaison-bot export 导出。",
        total=total,
        most=most,
    )


def export_period(label: str) -> str:
    return f"期间：{label}。"


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


# ---- ledger export --------------------------------------------------------------------------------

SUMMARY_SHEET = "汇总"
ALL_SHEET = "全部意见"
LEDGER_HEADER = (
    "受理编号",
    "受理日期",
    "反映人",
    "主题",
    "意见内容",
    "承办人/单位",
    "办理期限",
    "状态",
    "办理进展",
    "办结结果",
    "满意度",
)
CONTACT_HEADER = "联系方式"
OTHER_THEME = "其他"


def bounced_assignee(name: str) -> str:
    return f"{name}（已退回）"


def export_filename(day: date) -> str:
    return f"台账-{day:%Y-%m-%d}.xlsx"


def export_caption(count: int, real_names: bool) -> Rich:
    names = "含反映人实名，请妥善保管、勿外传" if real_names else "反映人姓名已打码"
    return t("📒 意见台账：共 {count} 件（{names}）。", count=count, names=names)


def progress_line(day: date, note: str) -> str:
    return f"{day:%m-%d} {note}"


def summary_rows(
    station: str, generated: datetime, total: int, real_names: bool
) -> list[tuple[str, str]]:
    return [
        ("联络站", station),
        ("导出时间", f"{generated:%Y-%m-%d %H:%M}"),
        ("意见总数", str(total)),
        ("反映人", "实名" if real_names else "已打码"),
    ]


SUMMARY_THEME_HEADER = ("主题", "件数")
SUMMARY_STATUS_HEADER = ("状态", "件数")
SUMMARY_SATISFACTION_HEADER = ("满意度", "次数")
SUMMARY_RATE = "满意率（满意+基本满意）÷ 已评价"


# ---- import (command line: plain text) ------------------------------------------------------------

IMPORT_COLUMNS = ("日期", "反映人", "联系方式", "内容", "分类", "来源")
REQUIRED_COLUMNS = ("日期", "内容")


def import_row_error(row: int, problem: str) -> str:
    return f"第 {row} 行：{problem}"


def bad_date(raw: str) -> str:
    return f"日期“{raw}”看不懂，请写成 2026-09-28 这样的格式"


def future_date(day: date) -> str:
    return f"日期 {day:%Y-%m-%d} 在今天之后"


def missing_text() -> str:
    return "内容为空"


def text_too_short(n: int) -> str:
    return f"内容太短，至少需要 {n} 个字"


def text_too_long(length: int, n: int) -> str:
    return f"内容有 {length} 个字，超过 {n} 字上限，请拆成几条"


def unknown_theme(raw: str, names: Sequence[str]) -> str:
    return f"分类“{raw}”不存在，可填：{'、'.join(names)}，或留空由系统自动分类"


def field_too_long(column: str, n: int) -> str:
    return f"“{column}”太长（最多 {n} 个字）"


def import_failed(errors: Sequence[str], total_rows: int, limit: int = 50) -> str:
    shown = "\n".join(errors[:limit])
    more = f"\n……另有 {len(errors) - limit} 处问题" if len(errors) > limit else ""
    return (
        f"导入失败：{total_rows} 行中发现 {len(errors)} 处问题，本次没有导入任何一条。\n"
        f"{shown}{more}\n请改正这些行后重新导入整个文件。"
    )


def import_done(added: int, skipped: int, duplicates_in_file: int, ignored: Sequence[str]) -> str:
    parts = [f"导入完成：新增 {added} 条意见"]
    if skipped:
        parts.append(f"{skipped} 条此前已导入，已跳过")
    if duplicates_in_file:
        parts.append(f"{duplicates_in_file} 行与文件中前面的行重复，已跳过")
    text = "，".join(parts) + "。"
    if ignored:
        text += f"\n未识别的列已忽略：{'、'.join(ignored)}。"
    return text


def import_checked(new: int, known: int, duplicates_in_file: int, ignored: Sequence[str]) -> str:
    text = f"检查通过：{new} 条可以导入"
    if known:
        text += f"，{known} 条此前已导入"
    if duplicates_in_file:
        text += f"，{duplicates_in_file} 行与文件中前面的行重复"
    text += "。本次只做了检查，没有导入；去掉 --check 即可导入。"
    if ignored:
        text += f"\n未识别的列将被忽略：{'、'.join(ignored)}。"
    return text


def import_missing_columns(missing: Sequence[str], found: Sequence[str]) -> str:
    return (
        f"文件缺少必需的列：{'、'.join(missing)}。\n"
        f"第一行（表头）读到的是：{'、'.join(found) or '（空）'}。\n"
        f"表头应为：{'、'.join(IMPORT_COLUMNS)}（日期、内容必填），格式见 docs/ledger-import.md。"
    )


def import_duplicate_column(name: str) -> str:
    return f"表头里“{name}”出现了两次，请删掉多余的一列后重试。"


def import_empty() -> str:
    return (
        "文件是空的，或只有表头没有数据。第一行写表头"
        f"（{'、'.join(IMPORT_COLUMNS)}），从第二行起每行一条意见。"
    )


def import_not_utf8(encoding: str) -> str:
    return (
        f"无法按 {encoding} 编码读取这个 CSV 文件（Excel 默认另存的 CSV 常是 GBK 编码）。\n"
        "请任选一种办法后重试：\n"
        "1. 在 Excel 中“另存为” → 选择“CSV UTF-8（逗号分隔）”；\n"
        "2. 直接导入 .xlsx 文件；\n"
        "3. 在命令后加 --encoding gbk。"
    )


def import_bad_file(path: str, reason: str) -> str:
    return f"无法读取文件 {path}：{reason}。请确认它是 .xlsx 或 .csv 文件且没有在其他程序中损坏。"


def import_unsupported(path: str) -> str:
    return f"不支持的文件类型：{path}。请导入 .xlsx 或 .csv 文件。"


def import_not_found(path: str) -> str:
    return f"找不到文件：{path}"


def import_race() -> str:
    return "导入时数据库中同时有另一次导入写入了相同的意见，本次没有导入任何一条。请重新运行一次。"


def import_summary_for_staff(added: int, filename: str) -> Rich:
    return t(
        "📥 已从 {name} 导入 {added} 条线下收集的意见，分类卡片随后逐条发到本群，请分办。",
        name=filename,
        added=added,
    )


def cli_progress(stage: str, done: int, total: int) -> str:
    return f"\r{stage} {done}/{total}"


CLI_STAGE_CHECK = "检查"
CLI_STAGE_CLASSIFY = "自动分类"
CLI_STAGE_SAVE = "写入"
CLI_STAGE_EXPORT = "导出"


def cli_exported(path: str, count: int, real_names: bool) -> str:
    names = "（含实名）" if real_names else "（姓名已打码）"
    return f"已导出 {count} 件意见到 {path}{names}"


def cli_station_unknown(code: str) -> str:
    return f"没有找到代码为 {code} 的联络站。"


def cli_cannot_write(path: str, reason: str) -> str:
    return f"无法写入 {path}：{reason}"


def cli_database_error(detail: str) -> str:
    return f"数据库出错，没有写入任何内容：{detail}\n请检查 DATABASE_URL 和数据库是否可用后重试。"


def export_wrong_chat() -> Rich:
    return t(
        "台账含有群众的意见，只能在工作人员群或与我的私聊中导出。请到工作人员群或私聊中发送 /export。"
    )


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
