"""What representatives, working groups and departments read about their tasks."""

from __future__ import annotations

from datetime import date

from texts import Rich, t

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


def invite_invalid() -> Rich:
    return t("邀请码无效、已被使用或已过期。请向联络站工作人员索取新的邀请码。")


def joined(unit: bool, unit_name: str | None) -> Rich:
    if unit:
        return t(
            "已加入“{name}”。交办给本组的事项会发到组群，您可以签收和办理。/tasks 查看待办。",
            name=unit_name or "",
        )
    return t(
        "欢迎您，代表！已登记为人大代表。交办给您的事项会私信发给您；/tasks 查看待办。"
        "您也可以直接发文字转交群众意见。"
    )


def task_card(
    ref_no: str,
    theme: str,
    text: str,
    resident: str | None,
    username: str | None,
    due: date,
    days: int,
    uncertain: bool,
) -> Rich:
    who = "匿名群众" if resident is None else resident + (f" (@{username})" if username else "")
    return t(
        "📋 <b>交办事项</b> <code>{ref}</code>\n分类：{theme}\n反映人：{who}\n"
        "办理期限：{days} 个工作日，{due:%Y-%m-%d} 前{warn}\n\n{text}\n\n"
        "请先点“签收”，办理中可反馈进展，完成后点“办结”。",
        ref=ref_no,
        theme=theme,
        who=who,
        days=days,
        due=due,
        warn="（节假日安排未公布，期限可能调整）" if uncertain else "",
        text=text,
    )


def task_not_open(ref_no: str) -> str:
    return f"{ref_no} 这项交办已结束，无需再操作。"


def type_below() -> str:
    return "请回复下方消息"


def ask_progress(ref_no: str) -> Rich:
    return t("请<b>回复本消息</b>写下 <code>{ref}</code> 的办理进展（会转告群众）。", ref=ref_no)


def extend_label(days: int) -> str:
    return f"延长{days}个工作日"


def choose_extension(ref_no: str) -> Rich:
    return t("<code>{ref}</code> 需要延长多久？", ref=ref_no)


def ask_extension_reason(ref_no: str, days: int) -> Rich:
    return t(
        "申请延长 {days} 个工作日。请<b>回复本消息</b>写明 <code>{ref}</code> 延期的理由。",
        days=days,
        ref=ref_no,
    )


def ask_bounce_reason(ref_no: str) -> Rich:
    return t(
        "请<b>回复本消息</b>说明 <code>{ref}</code> 为什么不属于本单位办理"
        "（会告知工作人员重新交办）。",
        ref=ref_no,
    )


def ack_first() -> str:
    return "请先签收这项交办。"


def choose_outcome(ref_no: str) -> Rich:
    return t("<code>{ref}</code> 的办理结果属于哪一类？", ref=ref_no)


def ask_result(ref_no: str, outcome: str) -> Rich:
    return t(
        "办结类别：{label}。请<b>回复本消息</b>写下 "
        "<code>{ref}</code> 的办理结果（会转告群众并请其评价）。",
        label=OUTCOME_LABELS[outcome],
        ref=ref_no,
    )


def already_acknowledged(ref_no: str) -> str:
    return f"{ref_no} 已签收。"


def acknowledged(ref_no: str, due: date | None = None) -> str:
    if due is None:
        return f"已签收 {ref_no}。"
    return f"已签收 {ref_no}，请在 {due:%Y-%m-%d} 前办结。"


def empty_input() -> Rich:
    return t("内容是空的，请重新回复。")


def input_too_long(n: int) -> Rich:
    return t("内容有 {n} 字，超过 2000 字上限，请精简后重新回复。", n=n)


def progress_sent(ref_no: str) -> Rich:
    return t("已记录 <code>{ref}</code> 的进展，并告知群众。", ref=ref_no)


def extension_sent(ref_no: str, days: int) -> Rich:
    return t(
        "已提交 <code>{ref}</code> 延期 {days} 个工作日的申请，等待工作人员审批。",
        ref=ref_no,
        days=days,
    )


def extension_decided(ref_no: str, approved: bool, due: date) -> Rich:
    if approved:
        return t(
            "✅ <code>{ref}</code> 延期申请已同意，新期限：{due:%Y-%m-%d}。", ref=ref_no, due=due
        )
    return t(
        "❌ <code>{ref}</code> 延期申请未同意，请在 {due:%Y-%m-%d} 前办结。", ref=ref_no, due=due
    )


def bounced(ref_no: str) -> Rich:
    return t("已退回 <code>{ref}</code>，工作人员会重新交办。", ref=ref_no)


def closed(ref_no: str) -> Rich:
    return t("已办结 <code>{ref}</code>，办理结果已告知群众。谢谢！", ref=ref_no)


def no_tasks() -> Rich:
    return t("目前没有待办的交办事项。")


def tasks_header(n: int) -> Rich:
    return t("<b>待办事项</b>（{n} 项，逾期的在前）", n=n)


def task_line(ref_no: str, text: str, due: date, overdue_days: int, acknowledged: bool) -> Rich:
    snippet = text if len(text) <= 30 else text[:30] + "…"
    when = f"⚠️ 已逾期 {overdue_days} 个工作日" if overdue_days > 0 else f"期限 {due:%m-%d}"
    return t(
        "<code>{ref}</code> {when}{state}\n{snippet}",
        ref=ref_no,
        when=when,
        state="" if acknowledged else "（未签收）",
        snippet=snippet,
    )


def ack_first_rich() -> Rich:
    return Rich.plain_text(ack_first())


def task_not_open_rich(ref_no: str) -> Rich:
    return Rich.plain_text(task_not_open(ref_no))


# ---- issue 15 --------------------------------------------------------------------------------


def reopened_task(outcome: str | None, result: str | None, comment: str | None) -> Rich:
    """The head of a task card for a case the resident was not satisfied with."""
    head = t("⚠️ <b>重新办理：群众对上次的办理结果不满意</b>")
    if outcome or result:
        head = head + t(
            "\n上次办理结果（{label}）：{result}",
            label=OUTCOME_LABELS.get(outcome or "", outcome or "—"),
            result=result or "—",
        )
    return head + t("\n群众意见：{comment}", comment=comment or "（未留言）")


def outcome_chosen(ref_no: str, outcome: str) -> Rich:
    return t("<code>{ref}</code> 办结类别：{label}", ref=ref_no, label=OUTCOME_LABELS[outcome])


def outcome_already_chosen(ref_no: str, outcome: str) -> str:
    return f"{ref_no} 已选择“{OUTCOME_LABELS[outcome]}”，请直接回复办理结果。"


def extension_chosen(ref_no: str, days: int) -> Rich:
    return t("<code>{ref}</code> 申请延长 {days} 个工作日", ref=ref_no, days=days)


def extension_pending(ref_no: str) -> str:
    return f"{ref_no} 已有一条延期申请在等待审批，请勿重复申请。"


def card_finished(status: str) -> Rich:
    return t("\n\n—— {what}，无需再操作 ——", what="已办结" if status == "closed" else "已退回")


def prompt_expired(action: str) -> Rich:
    return t(
        "您之前点的“{action}”已超时，这条消息没有作为它的内容。请重新点一次按钮再填写。",
        action=action or "操作",
    )
