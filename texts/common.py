"""Strings every audience sees: status names, generic errors."""

from __future__ import annotations

from domain.lifecycle import Status

STATUS_NAMES: dict[str, str] = {
    Status.RECEIVED: "已受理",
    Status.ASSIGNED: "已交办",
    Status.IN_PROGRESS: "办理中",
    Status.CLOSED: "已办结",
    Status.RATED: "已评价",
    Status.REOPENED: "重新办理",
    Status.REJECTED: "不予受理",
    Status.DUPLICATE: "已合并",
    Status.WITHDRAWN: "已撤回",
    Status.SUPERVISED: "督办中",
}


def status_name(status: str) -> str:
    return STATUS_NAMES.get(status, status)


NOT_ALLOWED = "抱歉，您没有进行此操作的权限。"
BUTTON_EXPIRED = "这个按钮已失效，请重新打开列表或发送 /help。"
INTERNAL_ERROR = "系统暂时出了点问题，您的信息已保存，请稍后再试。"  # only when it is stored
INTERNAL_ERROR_NOT_KEPT = "系统暂时出了点问题，刚才这条消息没有处理成功，请稍后再发一次。"
INTERNAL_ERROR_RETRYING = (
    "系统暂时出了点问题，刚才这条消息还没有登记，我们会自动再试。"
    "如果几分钟后还没有收到回复，请再发一次。"
)
INTERNAL_ERROR_PRESS = "系统暂时出了点问题，这次操作没有完成，请稍后再试。"
CHOOSE = "请选择："
NUMBERED_HINT = "回复 {n} {label}"
QUESTION_CHANGED = "您回复的选项对应的是之前的问题，问题已更新。请按最新一条消息的提示回复数字。"
NO_QUESTION = "没有待回复的选项。请按最新一条消息的提示操作，或发送 /help。"
