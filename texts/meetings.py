"""Meeting, announcement and subscription messages."""

from __future__ import annotations

from datetime import datetime

from texts import Rich, t


def usage() -> Rich:
    return t(
        "用法：/meeting 工作组 | 标题 | 时间 | 重复 | 地点\n"
        "例如：<code>/meeting 医养结合专题组 | 推进会 | 2026-12-16 15:00 | 每半月 | 联络站会议室</code>\n"
        "重复可写：一次、每N天、每N周、每周三、每月15日、每半月。代表接待日可把工作组写成“全站”。"
    )


def edit_usage() -> Rich:
    return t("用法：/meeting_edit 编号 字段 新值（字段：时间、地点、标题、重复、工作组）")


def notify_usage() -> Rich:
    return t(
        "用法：/notify 工作组[,工作组]|全部 [@时间] 内容\n"
        "例如：<code>/notify 全部 @2026-12-01 09:00 本周五下午召开调度会</code>"
    )


def bad_time(raw: str) -> str:
    """Plain: raised as a ValueError's message and shown as text."""
    return f"看不懂时间“{raw}”，请写成 2026-12-16 15:00 这样的格式。"


def too_long() -> Rich:
    return t("内容太长了，请精简后再发。")


def only_staff() -> Rich:
    return t("只有联络站工作人员可以管理会议和通知。")


def unit_unknown(name: str) -> Rich:
    return t("没有名为“{name}”的工作组。发送 /units 查看全部。", name=name)


def needs_group() -> Rich:
    return t("请写上召开会议的工作组（只有代表接待日可以写“全站”）。")


def not_found(meeting_id: int) -> Rich:
    return t("没有编号为 {id} 的会议。发送 /meetings 查看全部。", id=meeting_id)


def _when(when: datetime | None) -> str:
    return f"{when:%Y-%m-%d %H:%M}" if when else "（已无后续日期）"


def created(
    meeting_id: int, title: str, unit: str | None, nxt: datetime | None, rule: str, place: str
) -> Rich:
    return t(
        "已创建会议 #{id}：<b>{title}</b>\n工作组：{unit}　重复：{rule}\n下次：{when}{place}\n"
        "会前一天和一小时前会在组群提醒，并附上逾期和一周内到期事项。",
        id=meeting_id,
        title=title,
        unit=unit or "全站",
        rule=rule,
        when=_when(nxt),
        place=f"　地点：{place}" if place else "",
    )


def listing(items: list[tuple[int, str, str | None, datetime | None, str, str]]) -> Rich:
    if not items:
        return t("还没有会议。用 /meeting 创建。")
    lines = [t("<b>会议安排</b>")]
    for mid, title, unit, nxt, rule, place in items:
        lines.append(
            t(
                "#{id} {title}（{unit}，{rule}）下次 {when}{place}",
                id=mid,
                title=title,
                unit=unit or "全站",
                rule=rule,
                when=_when(nxt),
                place=f" @{place}" if place else "",
            )
        )
    return Rich.join("\n", lines)


def edited(meeting_id: int, nxt: datetime | None) -> Rich:
    return t("会议 #{id} 已修改，下次：{when}。已通知组群。", id=meeting_id, when=_when(nxt))


def changed(title: str, nxt: datetime | None, rule: str, place: str) -> Rich:
    return t(
        "🔔 <b>会议变更</b>：{title}\n下次：{when}（{rule}）{place}",
        title=title,
        when=_when(nxt),
        rule=rule,
        place=f"\n地点：{place}" if place else "",
    )


def cancelled(title: str) -> Rich:
    return t("🔕 <b>会议取消</b>：{title}", title=title)


def cancelled_ok(meeting_id: int, title: str) -> Rich:
    return t("已取消会议 #{id} {title}，并通知组群。", id=meeting_id, title=title)


def announcement(body: str) -> Rich:
    return t("📢 <b>通知</b>\n{body}", body=body)


def no_bound_groups() -> Rich:
    return t("这些工作组都还没有绑定群聊，通知无法送达。请先在组群里发送 /bind 组名。")


def announced(names: list[str], when: datetime, skipped: list[str]) -> Rich:
    text = t("通知将于 {when:%Y-%m-%d %H:%M} 发送到：{names}。", when=when, names="、".join(names))
    if skipped:
        text += t("\n未绑定群聊、无法送达：{names}", names="、".join(skipped))
    return text


def subscribed(on: bool) -> Rich:
    if on:
        return t("已订阅：代表接待日会提前三天通知您。退订发送 /unsubscribe。")
    return t("已退订代表接待日通知。")
