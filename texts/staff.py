"""What station staff read in the staff group and in private."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from texts import esc


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
) -> str:
    who = esc(resident_name)
    if resident_username:
        who += f" (@{esc(resident_username)})"
    if anonymous:
        who += "（选择匿名：承办人不可见）"
    reason = "、".join(esc(t) for t in terms) or "无"
    review = " ⚠️ 需人工复核" if needs_review else ""
    extra = f"\n附件：{attachments} 个" if attachments else ""
    return (
        f"🆕 <b>新意见</b> <code>{esc(ref_no)}</code>\n"
        f"分类：<b>{esc(theme_label)}</b>（置信度 {confidence:.0%}；依据：{reason}）{review}\n"
        f"群众：{who}{extra}\n\n"
        f"{esc(text)}"
    )


def opinion_edited(ref_no: str, old_text: str, new_text: str) -> str:
    return (
        f"✏️ 群众修改了 <code>{esc(ref_no)}</code>\n"
        f"<b>修改前：</b>\n{esc(old_text)}\n\n<b>修改后：</b>\n{esc(new_text)}"
    )


def detail_added(ref_no: str, kind_label: str, text: str | None) -> str:
    body = f"\n{esc(text)}" if text else ""
    return f"📎 <code>{esc(ref_no)}</code> 新增{esc(kind_label)}{body}"


def withdrawn(ref_no: str) -> str:
    return f"↩️ 群众撤回了 <code>{esc(ref_no)}</code>"


def staff_bound(station_name: str) -> str:
    return f"本群已绑定为<b>{esc(station_name)}</b>的工作人员群，新意见会发到这里。"


def bind_only_admin() -> str:
    return "只有管理员可以绑定工作人员群。"


def bind_only_group() -> str:
    return "请在工作人员群里发送 /bind_staff。"


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


def only_admin() -> str:
    return "只有管理员可以进行此操作。"


def only_staff() -> str:
    return "只有联络站工作人员可以进行此操作。"


def user_unknown() -> str:
    return "没有找到这位用户。请先让对方私聊机器人发送 /start，再回复对方的消息发送 /add_staff，或写 /add_staff @用户名。"


def staff_added(name: str) -> str:
    return f"已将 {esc(name)} 设为工作人员。"


def unit_unknown(name: str) -> str:
    return f"没有名为“{esc(name)}”的工作组或责任单位。发送 /units 查看全部。"


def unit_name_invalid() -> str:
    return "请写上名称（不超过 50 字），例如：/group_add 医养结合专题组"


def unit_exists(name: str) -> str:
    return f"“{esc(name)}”已经存在。"


def unit_added(kind: str, name: str) -> str:
    return (
        f"已添加{UNIT_KINDS.get(kind, '')}“{esc(name)}”。"
        f"请在该组的群里发送 /bind {esc(name)} 绑定群聊，或用 /invite {esc(name)} 生成成员邀请码。"
    )


def unit_list(units: list[tuple[str, str, bool]], reps: list[str]) -> str:
    lines = ["<b>人大代表</b>"]
    lines += [f"• {esc(r)}" for r in reps] or ["（暂无，用 /invite 生成邀请码）"]
    lines.append("\n<b>工作组与责任单位</b>")
    lines += [
        f"• {esc(name)}（{UNIT_KINDS.get(kind, kind)}{'，已绑定群' if bound else '，未绑定群'}）"
        for kind, name, bound in units
    ] or ["（暂无，用 /group_add 或 /dept_add 添加）"]
    return "\n".join(lines)


def unit_bound(name: str) -> str:
    return f"本群已绑定为“{esc(name)}”，交办给它的事项和提醒会发到这里。"


def invite_created(code: str, unit_name: str | None, days: int) -> str:
    who = f"“{esc(unit_name)}”成员" if unit_name else "人大代表"
    return (
        f"已生成{who}邀请码：<code>{esc(code)}</code>（一次有效，{days} 天内使用）。\n"
        f"请对方私聊机器人发送：<code>/join {esc(code)}</code>"
    )


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


def ask_reject_reason(ref_no: str) -> str:
    return f"请<b>回复本消息</b>写明 <code>{esc(ref_no)}</code> 不予受理的理由（会告知群众）。"


def ask_duplicate_ref(ref_no: str) -> str:
    return f"<code>{esc(ref_no)}</code> 与哪一条重复？请<b>回复本消息</b>写上原件的受理编号。"


def duplicate_ref_unknown(raw: str) -> str:
    return f"没有找到编号 {esc(raw)}，请回复本消息重新写上原件的受理编号。"


def theme_set(label: str) -> str:
    return f"分类已定为：{label}"


def already_handled(ref_no: str, status: str, who: str | None, when: datetime | None) -> str:
    from texts.common import status_name

    by = f"，由 {who} 于 {when:%m-%d %H:%M} 处理" if who and when else ""
    return f"{ref_no} 已是“{status_name(status)}”状态{by}，本次操作未生效。"


def assigned_card(
    ref_no: str, theme: str, text: str, assignee: str, due: date, days: int, by: str
) -> str:
    return (
        f"📤 <b>已交办</b> <code>{esc(ref_no)}</code>（{esc(theme)}）\n"
        f"承办：{esc(assignee)}\n"
        f"期限：{days} 个工作日，{due:%Y-%m-%d} 前办结\n"
        f"交办人：{esc(by)}\n\n{esc(text)}"
    )


def assigned_toast(name: str) -> str:
    return f"已交办给 {name}"


def deadline_uncertain(years: list[int]) -> str:
    ys = "、".join(str(y) for y in years)
    return (
        f"\n⚠️ {ys} 年的法定节假日安排尚未录入，期限暂按周一至周五计算，公布后可能调整。"
        "请在节假日文件中补充该年安排。"
    )


def acknowledged(ref_no: str, who: str) -> str:
    return f"✍️ <code>{esc(ref_no)}</code> 已由 {esc(who)} 签收，开始办理。"


def progress(ref_no: str, who: str, body: str) -> str:
    return f"🔄 <code>{esc(ref_no)}</code> 进展（{esc(who)}）：\n{esc(body)}"


def extension_request(ref_no: str, who: str, days: int, reason: str, due: date) -> str:
    return (
        f"⏳ <b>延期申请</b> <code>{esc(ref_no)}</code>\n"
        f"申请人：{esc(who)}，延长 {days} 个工作日（现期限 {due:%Y-%m-%d}）\n理由：{esc(reason)}"
    )


def extension_already(status: str) -> str:
    return (
        "这条延期申请已处理过（"
        + {"approved": "已同意", "denied": "未同意"}.get(status, status)
        + "）。"
    )


def extension_done(approved: bool) -> str:
    return "已同意延期" if approved else "已驳回延期"


def extension_decided(ref_no: str, approved: bool, who: str, due: date) -> str:
    verdict = "✅ 已同意" if approved else "❌ 未同意"
    return f"⏳ <code>{esc(ref_no)}</code> 延期申请{verdict}（{esc(who)}），期限：{due:%Y-%m-%d}"


def bounced(ref_no: str, who: str, reason: str) -> str:
    return f"↩️ <b>退回</b> <code>{esc(ref_no)}</code>（{esc(who)}）：{esc(reason)}\n请重新交办。"


def closed(ref_no: str, who: str, outcome: str, body: str) -> str:
    return f"🏁 <code>{esc(ref_no)}</code> 已由 {esc(who)} 办结（{esc(outcome)} 类）：\n{esc(body)}"


def rejected(ref_no: str, who: str, reason: str) -> str:
    return f"⛔ <code>{esc(ref_no)}</code> 不予受理（{esc(who)}）：{esc(reason)}"


def merged(ref_no: str, original: str) -> str:
    return f"🔁 <code>{esc(ref_no)}</code> 已合并到 <code>{esc(original)}</code>，其提交人会收到原件的全部进展。"


def reopened(ref_no: str) -> str:
    return f"⚠️ <b>群众不满意，重新办理</b> <code>{esc(ref_no)}</code>"


def rated(ref_no: str, label: str) -> str:
    return f"⭐ <code>{esc(ref_no)}</code> 群众评价：{esc(label)}"


def rating_comment(ref_no: str, body: str) -> str:
    return f"💬 <code>{esc(ref_no)}</code> 群众评价意见：{esc(body)}"


def done() -> str:
    return "已处理。"
