"""Meeting, announcement and subscription messages."""

from __future__ import annotations

from datetime import datetime

from texts import esc


def usage() -> str:
    return (
        "用法：/meeting 工作组 | 标题 | 时间 | 重复 | 地点\n"
        "例如：<code>/meeting 医养结合专题组 | 推进会 | 2026-12-16 15:00 | 每半月 | 联络站会议室</code>\n"
        "重复可写：一次、每N天、每N周、每周三、每月15日、每半月。代表接待日可把工作组写成“全站”。"
    )


def edit_usage() -> str:
    return "用法：/meeting_edit 编号 字段 新值（字段：时间、地点、标题、重复、工作组）"


def notify_usage() -> str:
    return (
        "用法：/notify 工作组[,工作组]|全部 [@时间] 内容\n"
        "例如：<code>/notify 全部 @2026-12-01 09:00 本周五下午召开调度会</code>"
    )


def bad_time(raw: str) -> str:
    return f"看不懂时间“{esc(raw)}”，请写成 2026-12-16 15:00 这样的格式。"


def too_long() -> str:
    return "内容太长了，请精简后再发。"


def only_staff() -> str:
    return "只有联络站工作人员可以管理会议和通知。"


def unit_unknown(name: str) -> str:
    return f"没有名为“{esc(name)}”的工作组。发送 /units 查看全部。"


def needs_group() -> str:
    return "请写上召开会议的工作组（只有代表接待日可以写“全站”）。"


def not_found(meeting_id: int) -> str:
    return f"没有编号为 {meeting_id} 的会议。发送 /meetings 查看全部。"


def _when(when: datetime | None) -> str:
    return f"{when:%Y-%m-%d %H:%M}" if when else "（已无后续日期）"


def created(
    meeting_id: int, title: str, unit: str | None, nxt: datetime | None, rule: str, place: str
) -> str:
    return (
        f"已创建会议 #{meeting_id}：<b>{esc(title)}</b>\n"
        f"工作组：{esc(unit or '全站')}　重复：{esc(rule)}\n"
        f"下次：{_when(nxt)}" + (f"　地点：{esc(place)}" if place else "") + "\n"
        "会前一天和一小时前会在组群提醒，并附上逾期和一周内到期事项。"
    )


def listing(items: list[tuple[int, str, str | None, datetime | None, str, str]]) -> str:
    if not items:
        return "还没有会议。用 /meeting 创建。"
    lines = ["<b>会议安排</b>"]
    for mid, title, unit, nxt, rule, place in items:
        lines.append(
            f"#{mid} {esc(title)}（{esc(unit or '全站')}，{esc(rule)}）下次 {_when(nxt)}"
            + (f" @{esc(place)}" if place else "")
        )
    return "\n".join(lines)


def edited(meeting_id: int, nxt: datetime | None) -> str:
    return f"会议 #{meeting_id} 已修改，下次：{_when(nxt)}。已通知组群。"


def changed(title: str, nxt: datetime | None, rule: str, place: str) -> str:
    return f"🔔 <b>会议变更</b>：{esc(title)}\n下次：{_when(nxt)}（{esc(rule)}）" + (
        f"\n地点：{esc(place)}" if place else ""
    )


def cancelled(title: str) -> str:
    return f"🔕 <b>会议取消</b>：{esc(title)}"


def cancelled_ok(meeting_id: int, title: str) -> str:
    return f"已取消会议 #{meeting_id} {esc(title)}，并通知组群。"


def announcement(body: str) -> str:
    return f"📢 <b>通知</b>\n{esc(body)}"


def no_bound_groups() -> str:
    return "这些工作组都还没有绑定群聊，通知无法送达。请先在组群里发送 /bind 组名。"


def announced(names: list[str], when: datetime, skipped: list[str]) -> str:
    text = f"通知将于 {when:%Y-%m-%d %H:%M} 发送到：{esc('、'.join(names))}。"
    if skipped:
        text += f"\n未绑定群聊、无法送达：{esc('、'.join(skipped))}"
    return text


def subscribed(on: bool) -> str:
    if on:
        return "已订阅：代表接待日会提前三天通知您。退订发送 /unsubscribe。"
    return "已退订代表接待日通知。"
