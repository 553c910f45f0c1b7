"""What staff read about casework as 接诉即办 runs it (docs/casework.md): unreachable units and
代办, kinds of case, 督办, 代录 and phone 回访, the case card's timeline, the digest, /settings."""

from __future__ import annotations

from datetime import date, datetime

from texts import Rich, t


def unit_unreachable(name: str) -> str:
    return (
        f"“{name}”还没有绑定群，也没有成员，交办给它没人能收到。\n"
        f"可以：请该单位在其工作群里发送 /bind {name}；或选择其他承办；"
        "或点“由我代办”，由您联系该单位并记录答复。"
    )


BTN_PROXY = "🙋 由我代办（联系该单位、记录答复）"


def proxy_label(unit: str, who: str) -> str:
    return f"{unit}（{who} 代办）"


def rejected_done(ref_no: str, reason: str) -> Rich:
    return t(
        "⛔ <code>{ref}</code> 已不予受理，已告知群众。理由：{reason}", ref=ref_no, reason=reason
    )


CASE_KIND_NAMES = {"consult": "咨询", "help": "求助", "complaint": "投诉", "suggestion": "建议"}


def kind_label(kind: str, days: int, likely: bool) -> str:
    mark = "✅ " if likely else ""
    return f"{mark}{CASE_KIND_NAMES.get(kind, kind)} {days}个工作日"


def supervise(ref_no: str, times: int) -> Rich:
    return t(
        "🔔 <b>督办</b> <code>{ref}</code>：群众第 {n} 次表示不满意，不再自动重新交办。"
        "请联络站负责同志过问，研究后重新交办或答复群众。",
        ref=ref_no,
        n=times,
    )


def record_usage() -> Rich:
    return t(
        "代录群众来电或来访的意见：\n/record 姓名 电话 内容\n电话可以不填，例如：\n"
        "/record 张大爷 13800001111 楼道的灯坏了一个月，晚上看不见路"
    )


def recorded(ref_no: str, name: str, phone: str | None, code: str, theme: str) -> Rich:
    return t(
        "📝 已代录 {name}{phone} 的意见\n受理编号：<code>{ref}</code>　分类：{theme}\n\n"
        "请写在回执上交给群众：\n受理编号 {ref}　认领码 <code>{code}</code>\n"
        "群众可以在机器人里发送“/claim {ref} {code}”认领，之后的进展会直接通知本人；"
        "没有认领的，办结后由工作人员电话回访。",
        name=name,
        phone=f"（{phone}）" if phone else "",
        ref=ref_no,
        theme=theme,
        code=code,
    )


def call_item(ref_no: str, name: str, phone: str | None, outcome: str, result: str) -> Rich:
    return t(
        "📞 <b>电话回访</b> <code>{ref}</code>\n群众：{name}　电话：{phone}\n"
        "办理结果（{outcome} 类）：{result}\n请电话询问是否满意，按群众的回答点一下：",
        ref=ref_no,
        name=name,
        phone=phone or "（未留）",
        outcome=outcome,
        result=result,
    )


def calls_header(n: int) -> Rich:
    return t("<b>待电话回访</b>（{n} 件）", n=n)


def no_calls() -> Rich:
    return t("没有待电话回访的事项。")


def phone_rated(ref_no: str, label: str, who: str) -> Rich:
    return t(
        "📞 <code>{ref}</code> 电话回访：{label}（{who} 记录）", ref=ref_no, label=label, who=who
    )


TIMELINE_NAMES = {
    "acknowledge": "✍️ 签收",
    "progress": "🔄 进展",
    "extend": "⏳ 申请延期",
    "extension_approved": "✅ 同意延期",
    "extension_denied": "❌ 不同意延期",
    "close": "🏁 办结",
    "rate": "⭐ 群众评价",
    "rate_unsatisfied": "😞 群众不满意",
    "supervise": "🔔 督办",
    "phone_rating": "📞 电话回访",
}


RATING_WORDS = {
    "satisfied": "满意",
    "basic": "基本满意",
    "unsatisfied": "不满意",
    "unrated": "未评价",
}


def timeline_line(when: datetime, action: str, who: str, note: str | None) -> Rich:
    shown = RATING_WORDS.get(note or "", note or "")
    if len(shown) > 60:
        shown = shown[:60] + "…"
    return t(
        "{when:%m-%d %H:%M} {what}{who}{note}",
        when=when,
        what=TIMELINE_NAMES.get(action, action),
        who=f"（{who}）" if who else "",
        note=f"：{shown}" if shown else "",
    )


def timeline_comment(body: str) -> Rich:
    return t("💬 群众评价意见：{body}", body=body if len(body) <= 80 else body[:80] + "…")


def digest(day: date, lines: list[Rich]) -> Rich:
    head = t(
        "📋 <b>今日动态</b>（{day:%m月%d日}，{n} 条，详情见各件的卡片）", day=day, n=len(lines)
    )
    return Rich.join("\n", [head, *lines])


def digest_line(ref_no: str, when: datetime, action: str, who: str) -> Rich:
    return t(
        "<code>{ref}</code> {when:%H:%M} {what}{who}",
        ref=ref_no,
        when=when,
        what=TIMELINE_NAMES.get(action, action),
        who=f"（{who}）" if who else "",
    )


def settings_usage() -> Rich:
    return t(
        "用法：\n/settings 期限 咨询 3（咨询/求助/投诉/建议，工作日）\n/settings 响应 1（签收时限，工作日）\n"
        "/settings 解决 A（或 AB：B 类也算解决）\n/settings 群消息 合并（或 逐条）\n"
        "/settings 评价留言 30（分钟）\n/settings 督办 2（第几次不满意转督办）"
    )


def settings_shown(
    limits: dict[str, int],
    response_days: int,
    solved: str,
    noise: str,
    comment_minutes: int,
    supervise_after: int,
    *,
    changed: bool,
) -> Rich:
    head = "✅ 已修改。当前设置：" if changed else "<b>本站办理设置</b>"
    return t(head) + t(
        "\n办理期限：{limits}（工作日）\n响应率：交办后 {r} 个工作日内签收\n"
        "解决率：{solved} 类算解决\n工作人员群消息：{noise}\n评价后 {c} 分钟内的文字算作评价留言\n"
        "第 {n} 次不满意转督办\n修改方法：/settings 帮助",
        limits="，".join(f"{k} {v}" for k, v in limits.items()),
        r=response_days,
        solved="、".join(solved),
        noise="合并到案件卡片＋每日动态" if noise == "合并" else "每件事单独发一条",
        c=comment_minutes,
        n=supervise_after,
    )


def call_done(ref_no: str) -> str:
    return f"{ref_no} 的回访结果已经记录过了（或群众已在机器人里评价），本次没有改动。"
