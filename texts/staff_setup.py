"""What station staff read while setting up: binding groups, staff, units and invitations."""

from __future__ import annotations

from texts import Rich, t
from texts.staff import UNIT_KINDS


def staff_bound(station_name: str) -> Rich:
    return t("本群已绑定为<b>{name}</b>的工作人员群，新意见会发到这里。", name=station_name)


def station_unknown(code: str) -> Rich:
    return t("没有找到代码为 {code} 的联络站。", code=code)


def bind_only_admin() -> str:
    return "只有管理员可以绑定工作人员群。"


def bind_only_group() -> Rich:
    return t("请在工作人员群里发送 /bind_staff。")


def bind_unit_only_group() -> Rich:
    return t("请在工作组的群里发送 /bind 组名。")


def bind_unit_usage() -> Rich:
    return t("请写上组名，例如：/bind 医养结合专题组")


def only_admin() -> Rich:
    return t("只有管理员可以进行此操作。")


def user_unknown() -> Rich:
    return t(
        "没有找到这位用户。请先让对方私聊机器人发送 /start，"
        "再回复对方的消息发送 /add_staff，或写 /add_staff @用户名。"
    )


def staff_added(name: str) -> Rich:
    return t("已将 {name} 设为工作人员。", name=name)


def unit_unknown(name: str) -> Rich:
    return t("没有名为“{name}”的工作组或责任单位。发送 /units 查看全部。", name=name)


def unit_name_invalid() -> Rich:
    return t("请写上名称（不超过 50 字），例如：/group_add 医养结合专题组")


def unit_exists(name: str) -> Rich:
    return t("“{name}”已经存在。", name=name)


def unit_added(kind: str, name: str) -> Rich:
    return t(
        "已添加{kind}“{name}”。请在该组的群里发送 /bind {name} 绑定群聊，"
        "或用 /invite {name} 生成成员邀请码。",
        kind=UNIT_KINDS.get(kind, ""),
        name=name,
    )


def unit_list(units: list[tuple[str, str, bool]], reps: list[str]) -> Rich:
    lines: list[Rich] = [t("<b>人大代表</b>")]
    lines += [t("• {r}", r=r) for r in reps] or [t("（暂无，用 /invite 生成邀请码）")]
    lines.append(t("\n<b>工作组与责任单位</b>"))
    lines += [
        t(
            "• {name}（{kind}{bound}）",
            name=name,
            kind=UNIT_KINDS.get(kind, kind),
            bound="，已绑定群" if bound else "，未绑定群",
        )
        for kind, name, bound in units
    ] or [t("（暂无，用 /group_add 或 /dept_add 添加）")]
    return Rich.join("\n", lines)


def unit_bound(name: str) -> Rich:
    return t("本群已绑定为“{name}”，交办给它的事项和提醒会发到这里。", name=name)


def invite_created(code: str, unit_name: str | None, days: int) -> Rich:
    who = f"“{unit_name}”成员" if unit_name else "人大代表"
    return t(
        "已生成{who}邀请码：<code>{code}</code>（一次有效，{days} 天内使用）。\n"
        "请对方私聊机器人发送：<code>/join {code}</code>",
        who=who,
        code=code,
        days=days,
    )
