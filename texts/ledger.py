"""What staff read about the ledger (台账): exporting it in chat or on the command line, and
importing rows into it.

Chat texts are Rich (templates: values stay text); sheet headers and command-line messages are
plain strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from texts import Rich, t

# ---- /export in chat --------------------------------------------------------------------------------


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
