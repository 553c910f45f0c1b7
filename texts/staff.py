"""What station staff read about opinions and their cases; setup, 权责清单 and delivery texts are in
the sibling staff_* modules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from texts import Rich, t
from texts.common import status_name


def new_opinion(
    ref_no: str,
    theme_label: str,
    confidence: float,
    terms: Sequence[str],
    needs_review: bool,
    text: str,
    resident_name: str,
    resident_username: str | None,
    anonymous: bool,
    attachments: int = 0,
    fresh: bool = True,
) -> Rich:
    who = resident_name
    if resident_username:
        who += f" (@{resident_username})"
    if anonymous:
        who += "（选择匿名：承办人不可见）"
    title = t("🆕 <b>新意见</b>") if fresh else t("📄 <b>原意见</b>")
    return title + t(
        " <code>{ref}</code>\n"
        "分类：<b>{theme}</b>（置信度 {confidence:.0%}；依据：{reason}）{review}\n"
        "群众：{who}{extra}\n\n{text}",
        ref=ref_no,
        theme=theme_label,
        confidence=confidence,
        reason="、".join(terms) or "无",
        review=" ⚠️ 需人工复核" if needs_review else "",
        who=who,
        extra=f"\n附件：{attachments} 个" if attachments else "",
        text=text,
    )


def opinion_edited(ref_no: str, old_text: str, new_text: str) -> Rich:
    return t(
        "✏️ 群众修改了 <code>{ref}</code>\n<b>修改前：</b>\n{old}\n\n<b>修改后：</b>\n{new}",
        ref=ref_no,
        old=old_text,
        new=new_text,
    )


def detail_added(ref_no: str, kind_label: str, text: str | None) -> Rich:
    return t(
        "📎 <code>{ref}</code> 新增{kind}{body}",
        ref=ref_no,
        kind=kind_label,
        body=f"\n{text}" if text else "",
    )


def withdrawn(ref_no: str) -> Rich:
    return t("↩️ 群众撤回了 <code>{ref}</code>", ref=ref_no)


BTN_CONFIRM_THEME = "✅ 确认分类"
BTN_CHANGE_THEME = "🏷 改分类"
BTN_ASSIGN = "📤 交办"
BTN_DUPLICATE = "🔁 重复件"
BTN_REJECT = "⛔ 不予受理"
BTN_BACK = "« 返回"
BTN_NO_ASSIGNEES = "（还没有代表或工作组，请先 /invite 或 /group_add）"
BTN_APPROVE = "✅ 同意延期"
BTN_DENY = "❌ 不同意"

UNNAMED = "未留姓名"

UNIT_KINDS = {"group": "工作组", "department": "责任单位"}


def only_staff() -> Rich:
    return t("只有联络站工作人员可以进行此操作。")


def card_gone() -> str:
    return "这张卡片已失效，请刷新后重试。"


def type_below() -> str:
    return "请在下方回复"


def deadline_label(days: int, default: bool) -> str:
    return f"{days}个工作日" + ("（默认）" if default else "")


def rep_label(name: str) -> str:
    return f"人大代表 {name}"


def unit_label(kind: str, name: str) -> str:
    return f"{UNIT_KINDS.get(kind, '')}：{name}"


def ask_reject_reason(ref_no: str) -> Rich:
    return t(
        "请<b>回复本消息</b>写明 <code>{ref}</code> 不予受理的理由（会告知群众）。", ref=ref_no
    )


def ask_duplicate_ref(ref_no: str) -> Rich:
    return t("<code>{ref}</code> 与哪一条重复？请<b>回复本消息</b>写上原件的受理编号。", ref=ref_no)


def duplicate_ref_unknown(raw: str) -> Rich:
    return t("没有找到编号 {raw}，请回复本消息重新写上原件的受理编号。", raw=raw)


def theme_set(label: str) -> str:
    return f"分类已定为：{label}"


def already_handled(ref_no: str, status: str, who: str | None, when: datetime | None) -> Rich:
    by = f"，由 {who} 于 {when:%m-%d %H:%M} 处理" if who and when else ""
    return t(
        "{ref} 已是“{status}”状态{by}，本次操作未生效。",
        ref=ref_no,
        status=status_name(status),
        by=by,
    )


def assigned_card(
    ref_no: str, theme: str, text: str, assignee: str, due: date, days: int, by: str
) -> Rich:
    return t(
        "📤 <b>已交办</b> <code>{ref}</code>（{theme}）\n承办：{assignee}\n"
        "期限：{days} 个工作日，{due:%Y-%m-%d} 前办结\n交办人：{by}\n\n{text}",
        ref=ref_no,
        theme=theme,
        assignee=assignee,
        days=days,
        due=due,
        by=by,
        text=text,
    )


def assigned_toast(name: str) -> str:
    return f"已交办给 {name}"


def deadline_uncertain(years: list[int]) -> Rich:
    return t(
        "\n⚠️ {years} 年的法定节假日安排尚未录入，期限暂按周一至周五计算，公布后可能调整。"
        "请在节假日文件中补充该年安排。",
        years="、".join(str(y) for y in years),
    )


def acknowledged(ref_no: str, who: str) -> Rich:
    return t("✍️ <code>{ref}</code> 已由 {who} 签收，开始办理。", ref=ref_no, who=who)


def progress(ref_no: str, who: str, body: str) -> Rich:
    return t("🔄 <code>{ref}</code> 进展（{who}）：\n{body}", ref=ref_no, who=who, body=body)


def extension_request(ref_no: str, who: str, days: int, reason: str, due: date) -> Rich:
    return t(
        "⏳ <b>延期申请</b> <code>{ref}</code>\n"
        "申请人：{who}，延长 {days} 个工作日（现期限 {due:%Y-%m-%d}）\n理由：{reason}",
        ref=ref_no,
        who=who,
        days=days,
        due=due,
        reason=reason,
    )


def extension_already(status: str) -> str:
    return (
        "这条延期申请已处理过（"
        + {"approved": "已同意", "denied": "未同意"}.get(status, status)
        + "）。"
    )


def extension_done(approved: bool) -> str:
    return "已同意延期" if approved else "已驳回延期"


def extension_decided(ref_no: str, approved: bool, who: str, due: date) -> Rich:
    return t(
        "⏳ <code>{ref}</code> 延期申请{verdict}（{who}），期限：{due:%Y-%m-%d}",
        ref=ref_no,
        verdict="✅ 已同意" if approved else "❌ 未同意",
        who=who,
        due=due,
    )


def bounced(ref_no: str, who: str, reason: str) -> Rich:
    return t(
        "↩️ <b>退回</b> <code>{ref}</code>（{who}）：{reason}\n请重新交办。",
        ref=ref_no,
        who=who,
        reason=reason,
    )


def closed(ref_no: str, who: str, outcome: str, body: str) -> Rich:
    return t(
        "🏁 <code>{ref}</code> 已由 {who} 办结（{outcome} 类）：\n{body}",
        ref=ref_no,
        who=who,
        outcome=outcome,
        body=body,
    )


def rejected(ref_no: str, who: str, reason: str) -> Rich:
    return t(
        "⛔ <code>{ref}</code> 不予受理（{who}）：{reason}", ref=ref_no, who=who, reason=reason
    )


def merged(ref_no: str, original: str) -> Rich:
    return t(
        "🔁 <code>{ref}</code> 已合并到 <code>{original}</code>，其提交人会收到原件的全部进展。",
        ref=ref_no,
        original=original,
    )


def reopened(ref_no: str) -> Rich:
    return t("⚠️ <b>群众不满意，重新办理</b> <code>{ref}</code>", ref=ref_no)


def rated(ref_no: str, label: str) -> Rich:
    return t("⭐ <code>{ref}</code> 群众评价：{label}", ref=ref_no, label=label)


def rating_comment(ref_no: str, body: str) -> Rich:
    return t("💬 <code>{ref}</code> 群众评价意见：{body}", ref=ref_no, body=body)


# ---- duplicate suggestions and out-of-scope opinions (issue 16) ------------------------------------


def possible_duplicate(ref_no: str, score: float) -> Rich:
    return t("🔁 可能与 <code>{ref}</code> 重复（相似 {score:.2f}）", ref=ref_no, score=score)


def btn_merge_into(ref_no: str) -> str:
    return f"🔁 并入 {ref_no}"


def out_of_scope_note() -> Rich:
    return t("ℹ️ 非本专题：照常办理，不计入专题统计")


# ---- routing suggestions from the 权责清单 (issue 16) ----------------------------------------------


def unit_suggested_label(kind: str, name: str, reason: str) -> str:
    return f"👍 {unit_label(kind, name)}（{reason}）"
