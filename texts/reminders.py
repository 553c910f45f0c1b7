"""Reminders and notices posted by the clock to assignees, working groups and staff."""

from __future__ import annotations

from datetime import date, datetime

from texts import esc

LATE_NOTE = "⏰（系统停机后补发，原定时间已过）\n"


def _snip(text: str, n: int = 60) -> str:
    return esc(text if len(text) <= n else text[:n] + "…")


def task_reminder(stage: str, ref_no: str, text: str, due: date, overdue: int) -> str:
    if stage == "pre":
        head = f"⏳ <b>临近期限</b> <code>{esc(ref_no)}</code> 将于 {due:%Y-%m-%d} 到期"
    elif stage == "due":
        head = f"📅 <b>今天到期</b> <code>{esc(ref_no)}</code>（{due:%Y-%m-%d}）"
    else:
        head = f"🚨 <b>逾期催办</b> <code>{esc(ref_no)}</code> 已逾期 {overdue} 个工作日（期限 {due:%Y-%m-%d}）"
    return f"{head}\n{_snip(text)}\n请尽快办理，或点任务消息上的按钮反馈进展、申请延期。"


def overdue_report(ref_no: str, text: str, assignee: str, due: date, overdue: int) -> str:
    return (
        f"📢 <b>逾期通报</b> <code>{esc(ref_no)}</code>\n"
        f"承办：{esc(assignee)}，期限 {due:%Y-%m-%d}，已逾期 {overdue} 个工作日。\n{_snip(text)}"
    )


def meeting_reminder(
    title: str,
    place: str,
    when: datetime,
    day_before: bool,
    agenda: list[tuple[str, str, date, bool]],
) -> str:
    head = "明天" if day_before else "一小时后"
    lines = [
        f"🗓 <b>会议提醒</b>：{head}召开<b>{esc(title)}</b>",
        f"时间：{when:%Y-%m-%d %H:%M}" + (f"　地点：{esc(place)}" if place else ""),
    ]
    overdue = [a for a in agenda if a[3]]
    upcoming = [a for a in agenda if not a[3]]
    if agenda:
        lines.append("\n<b>议程（据台账自动生成）</b>")
        if overdue:
            lines.append(f"一、逾期事项 {len(overdue)} 件：")
            lines += [
                f"• <code>{esc(r)}</code> 期限 {d:%m-%d} {_snip(t, 30)}" for r, t, d, _ in overdue
            ]
        if upcoming:
            lines.append(f"{'二' if overdue else '一'}、一周内到期 {len(upcoming)} 件：")
            lines += [
                f"• <code>{esc(r)}</code> 期限 {d:%m-%d} {_snip(t, 30)}" for r, t, d, _ in upcoming
            ]
    else:
        lines.append("\n目前没有逾期或一周内到期的事项。")
    return "\n".join(lines)


def reception_notice(title: str, place: str, when: datetime) -> str:
    return (
        f"📣 <b>代表接待日</b>：{esc(title)}\n"
        f"时间：{when:%Y-%m-%d %H:%M}" + (f"\n地点：{esc(place)}" if place else "") + "\n"
        "欢迎当面向人大代表反映意见建议。不想再收到此类通知，发送 /unsubscribe。"
    )


def undeliverable(chat_title: str, reason: str) -> str:
    return (
        f"⚠️ 无法向“{esc(chat_title)}”发送提醒（{esc(reason)}）。"
        "可能机器人已被移出群聊或被对方屏蔽，请检查后重新绑定。此提示只发一次。"
    )
