"""What station staff read about residents and groups the bot cannot currently reach."""

from __future__ import annotations

from datetime import datetime

from texts import Rich, t

CHANNEL_LABELS = {"telegram": "Telegram", "dingtalk": "钉钉", "wechat": "微信公众号"}


def unreached_none() -> Rich:
    return t("所有群众都能收到消息，没有待送达的进展。")


def unreached_header(count: int) -> Rich:
    return t("<b>未送达的群众（{n}）</b>", n=count)


def unreached_held(name: str, channel: str, count: int, since: datetime, notified: bool) -> Rich:
    how = "已发模板提醒，" if notified else ""
    return t(
        "• {name}（{channel}）：{n} 条进展自 {since:%m-%d %H:%M} 起{how}等对方下次发消息时送达",
        name=name,
        channel=channel,
        n=count,
        since=since,
        how=how,
    )


def unreached_gone(name: str, channel: str, count: int, since: datetime) -> Rich:
    return t(
        "• {name}（{channel}）：{n} 条无法送达（已取消关注或屏蔽），自 {since:%m-%d %H:%M}",
        name=name,
        channel=channel,
        n=count,
        since=since,
    )


def staff_chat_lost(station_name: str) -> Rich:
    return t(
        "⚠️ 我已无法在“{station}”的工作人员群发消息（被移出群或被禁言），新意见的卡片暂时发不出去。\n"
        "请把我重新拉进工作人员群，并由管理员在群里发送 /bind_staff；没发出的卡片会随后补发。",
        station=station_name,
    )
