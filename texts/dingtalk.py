"""Strings the DingTalk channel adds (staff, representatives and working groups on DingTalk)."""

from __future__ import annotations

from domain.message import Rich, t

BIND_ROBOT_WORD = "绑定机器人"


def bind_robot_usage(names: list[str]) -> Rich:
    """How to bind a send-only group (its custom robot) to a working group or department."""
    text = t("请写：绑定机器人 组名 机器人名称。机器人名称是 DINGTALK_WEBHOOKS 里等号前的名字。")
    if names:
        text += t("\n已配置的自定义机器人：{names}", names="、".join(names))
    else:
        text += t("\n还没有配置自定义机器人（DINGTALK_WEBHOOKS）。")
    return text
