"""Reminders and notices posted by the clock to assignees, working groups and staff."""

from __future__ import annotations

from datetime import date, datetime

from texts import Rich, t

LATE_NOTE = "⏰（系统停机后补发，原定时间已过）\n"


def _snip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[:n] + "…"


def task_reminder(stage: str, ref_no: str, text: str, due: date, overdue: int) -> Rich:
    if stage == "pre":
        head = t(
            "⏳ <b>临近期限</b> <code>{ref}</code> 将于 {due:%Y-%m-%d} 到期", ref=ref_no, due=due
        )
    elif stage == "due":
        head = t("📅 <b>今天到期</b> <code>{ref}</code>（{due:%Y-%m-%d}）", ref=ref_no, due=due)
    else:
        head = t(
            "🚨 <b>逾期催办</b> <code>{ref}</code> 已逾期 {n} 个工作日（期限 {due:%Y-%m-%d}）",
            ref=ref_no,
            n=overdue,
            due=due,
        )
    return head + t(
        "\n{snip}\n请尽快办理，或点任务消息上的按钮反馈进展、申请延期。", snip=_snip(text)
    )


def overdue_report(ref_no: str, text: str, assignee: str, due: date, overdue: int) -> Rich:
    return t(
        "📢 <b>逾期通报</b> <code>{ref}</code>\n"
        "承办：{assignee}，期限 {due:%Y-%m-%d}，已逾期 {n} 个工作日。\n{snip}",
        ref=ref_no,
        assignee=assignee,
        due=due,
        n=overdue,
        snip=_snip(text),
    )


def meeting_reminder(
    title: str,
    place: str,
    when: datetime,
    day_before: bool,
    agenda: list[tuple[str, str, date, bool]],
) -> Rich:
    lines = [
        t(
            "🗓 <b>会议提醒</b>：{head} {when:%H:%M} 召开<b>{title}</b>",
            head="明天" if day_before else "今天",
            when=when,
            title=title,
        ),
        t(
            "时间：{when:%Y-%m-%d %H:%M}{place}",
            when=when,
            place=f"　地点：{place}" if place else "",
        ),
    ]
    overdue = [a for a in agenda if a[3]]
    upcoming = [a for a in agenda if not a[3]]
    if agenda:
        lines.append(t("\n<b>议程（据台账自动生成）</b>"))
        if overdue:
            lines.append(t("一、逾期事项 {n} 件：", n=len(overdue)))
            lines += [_agenda_line(r, d, txt) for r, txt, d, _ in overdue]
        if upcoming:
            lines.append(
                t("{num}、一周内到期 {n} 件：", num="二" if overdue else "一", n=len(upcoming))
            )
            lines += [_agenda_line(r, d, txt) for r, txt, d, _ in upcoming]
    else:
        lines.append(t("\n目前没有逾期或一周内到期的事项。"))
    return Rich.join("\n", lines)


def _agenda_line(ref_no: str, due: date, text: str) -> Rich:
    return t(
        "• <code>{ref}</code> 期限 {due:%m-%d} {snip}", ref=ref_no, due=due, snip=_snip(text, 30)
    )


def reception_notice(title: str, place: str, when: datetime) -> Rich:
    return t(
        "📣 <b>代表接待日</b>：{title}\n时间：{when:%Y-%m-%d %H:%M}{place}\n"
        "欢迎当面向人大代表反映意见建议。不想再收到此类通知，发送 /unsubscribe。",
        title=title,
        when=when,
        place=f"\n地点：{place}" if place else "",
    )


def undeliverable(chat_title: str, reason: str) -> Rich:
    return t(
        "⚠️ 无法向“{title}”发送提醒（{reason}）。"
        "可能机器人已被移出群聊或被对方屏蔽，请检查后重新绑定。此提示只发一次。",
        title=chat_title,
        reason=reason,
    )
