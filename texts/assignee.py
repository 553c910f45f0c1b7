"""What representatives, working groups and departments read about their tasks."""

from __future__ import annotations

from datetime import date

from texts import esc

BTN_ACK = "✍️ 签收"
BTN_PROGRESS = "🔄 反馈进展"
BTN_EXTEND = "⏳ 申请延期"
BTN_BOUNCE = "↩️ 退回"
BTN_CLOSE = "🏁 办结"

OUTCOME_LABELS = {
    "A": "A 已解决",
    "B": "B 正在解决或已列入计划",
    "C": "C 因条件限制暂时不能解决",
    "D": "D 留作参考",
}


def invite_invalid() -> str:
    return "邀请码无效、已被使用或已过期。请向联络站工作人员索取新的邀请码。"


def joined(unit: bool, unit_name: str | None) -> str:
    if unit:
        return f"已加入“{esc(unit_name or '')}”。交办给本组的事项会发到组群，您可以签收和办理。/tasks 查看待办。"
    return "欢迎您，代表！已登记为人大代表。交办给您的事项会私信发给您；/tasks 查看待办。您也可以直接发文字转交群众意见。"


def task_card(
    ref_no: str,
    theme: str,
    text: str,
    resident: str | None,
    username: str | None,
    due: date,
    days: int,
    uncertain: bool,
) -> str:
    who = (
        "匿名群众"
        if resident is None
        else esc(resident) + (f" (@{esc(username)})" if username else "")
    )
    warn = "（节假日安排未公布，期限可能调整）" if uncertain else ""
    return (
        f"📋 <b>交办事项</b> <code>{esc(ref_no)}</code>\n"
        f"分类：{esc(theme)}\n"
        f"反映人：{who}\n"
        f"办理期限：{days} 个工作日，{due:%Y-%m-%d} 前{warn}\n\n"
        f"{esc(text)}\n\n请先点“签收”，办理中可反馈进展，完成后点“办结”。"
    )


def task_not_open(ref_no: str) -> str:
    return f"{ref_no} 这项交办已结束，无需再操作。"


def type_below() -> str:
    return "请回复下方消息"


def ask_progress(ref_no: str) -> str:
    return f"请<b>回复本消息</b>写下 <code>{esc(ref_no)}</code> 的办理进展（会转告群众）。"


def extend_label(days: int) -> str:
    return f"延长{days}个工作日"


def choose_extension(ref_no: str) -> str:
    return f"<code>{esc(ref_no)}</code> 需要延长多久？"


def ask_extension_reason(ref_no: str, days: int) -> str:
    return (
        f"申请延长 {days} 个工作日。请<b>回复本消息</b>写明 <code>{esc(ref_no)}</code> 延期的理由。"
    )


def ask_bounce_reason(ref_no: str) -> str:
    return f"请<b>回复本消息</b>说明 <code>{esc(ref_no)}</code> 为什么不属于本单位办理（会告知工作人员重新交办）。"


def ack_first() -> str:
    return "请先签收这项交办。"


def choose_outcome(ref_no: str) -> str:
    return f"<code>{esc(ref_no)}</code> 的办理结果属于哪一类？"


def ask_result(ref_no: str, outcome: str) -> str:
    return (
        f"办结类别：{esc(OUTCOME_LABELS[outcome])}。请<b>回复本消息</b>写下 "
        f"<code>{esc(ref_no)}</code> 的办理结果（会转告群众并请其评价）。"
    )


def already_acknowledged(ref_no: str) -> str:
    return f"{ref_no} 已签收。"


def acknowledged(ref_no: str) -> str:
    return f"已签收 {ref_no}，期限从现在起计算。"


def empty_input() -> str:
    return "内容是空的，请重新回复。"


def input_too_long(n: int) -> str:
    return f"内容有 {n} 字，超过 2000 字上限，请精简后重新回复。"


def progress_sent(ref_no: str) -> str:
    return f"已记录 <code>{esc(ref_no)}</code> 的进展，并告知群众。"


def extension_sent(ref_no: str, days: int) -> str:
    return f"已提交 <code>{esc(ref_no)}</code> 延期 {days} 个工作日的申请，等待工作人员审批。"


def extension_decided(ref_no: str, approved: bool, due: date) -> str:
    if approved:
        return f"✅ <code>{esc(ref_no)}</code> 延期申请已同意，新期限：{due:%Y-%m-%d}。"
    return f"❌ <code>{esc(ref_no)}</code> 延期申请未同意，请在 {due:%Y-%m-%d} 前办结。"


def bounced(ref_no: str) -> str:
    return f"已退回 <code>{esc(ref_no)}</code>，工作人员会重新交办。"


def closed(ref_no: str) -> str:
    return f"已办结 <code>{esc(ref_no)}</code>，办理结果已告知群众。谢谢！"


def no_tasks() -> str:
    return "目前没有待办的交办事项。"


def tasks_header(n: int) -> str:
    return f"<b>待办事项</b>（{n} 项，逾期的在前）"


def task_line(ref_no: str, text: str, due: date, overdue_days: int, acknowledged: bool) -> str:
    snippet = text if len(text) <= 30 else text[:30] + "…"
    state = "" if acknowledged else "（未签收）"
    when = f"⚠️ 已逾期 {overdue_days} 个工作日" if overdue_days > 0 else f"期限 {due:%m-%d}"
    return f"<code>{esc(ref_no)}</code> {when}{state}\n{esc(snippet)}"
