"""What station staff read about the 权责清单 (which unit handles which matters)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from texts import Rich, t


def duty_usage() -> Rich:
    return t(
        "用法：/duty 单位 事项、事项，例如：/duty 区城市管理局 路灯、占道经营、违章搭建\n"
        "整份权责清单（CSV 或 xlsx，表头 单位,事项,主题）请管理员用 liaison-bot units import 导入。"
    )


def duty_list(rules: Sequence[Any]) -> Rich:
    if not rules:
        return t("还没有权责清单。\n\n") + duty_usage()
    lines: list[Rich | str] = [t("<b>权责清单</b>（{n} 个单位）", n=len(rules))]
    for r in rules[:30]:
        shown = "、".join(list(r.keywords)[:8]) + ("…" if len(r.keywords) > 8 else "")
        lines.append(f"• {r.unit}：{shown or '、'.join(r.themes)}")
    if len(rules) > 30:
        lines.append(f"……另有 {len(rules) - 30} 个单位")
    return Rich.join("\n", lines)


def duty_added(unit: str, keywords: Sequence[str], new_unit: bool) -> Rich:
    return t(
        "已记入权责清单：{unit} — {kws}{new}",
        unit=unit,
        kws="、".join(keywords),
        new="（已新建为责任单位）" if new_unit else "",
    )


def duty_imported(station: str, units: int, added: int, problems: Sequence[str]) -> str:
    text = f"已为{station}导入权责清单：{units} 个单位"
    if added:
        text += f"，其中 {added} 个新建为责任单位"
    text += "。交办时会优先列出匹配的单位。"
    if problems:
        text += "\n跳过的行：\n" + "\n".join(problems[:20])
        if len(problems) > 20:
            text += f"\n……另有 {len(problems) - 20} 行"
    return text


def duty_station_unknown(code: str) -> str:
    return f"没有找到代码为 {code} 的联络站，请检查 --station。"
