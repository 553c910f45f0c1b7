"""The `data` of a template message, built from a configured keyword mapping.

Since 2023-05 WeChat shows templates from the category library (类目模板): keywords are named by
their type, `thing2`, `character_string1`, `time3`, `phrase4`, and each type has its own value
rules ("类目模板消息参数值内容限制说明", Template_Message_Interface.html). The old `first` and
`remark` lines are no longer displayed ("关于规范公众号模板消息的再次公告"; the platform drops
them), and every keyword line shows at most 20 characters. So the station configures, per
purpose, which of the app's values fills which keyword (`TemplateSpec`), and this module fits
each value to its keyword's type: a value that cannot fit (Chinese in a character_string) is a
configuration error and raises ValueError rather than making WeChat answer 47003.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from handlers.wechat.config import TemplateSpec
from handlers.wechat.limits import LIMITS
from texts import wechat as texts

TemplateValue = str | int | float | date | datetime
TemplateData = dict[str, dict[str, str]]

_CJK = re.compile(r"[\u3400-\u9fff]")
_KIND = re.compile(r"^([a-z_]+?)\d*$")


def keyword_kind(key: str) -> str:
    """`thing2` → `thing`, `character_string1` → `character_string`."""
    match = _KIND.match(key)
    return match.group(1) if match else key


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())  # one line: no newlines or runs of spaces
    if len(text) <= limit:
        return text
    return text[: limit - 1] + texts.ellipsis()


def _when(value: TemplateValue, tz: ZoneInfo, *, with_time: bool) -> str:
    if isinstance(value, datetime):
        local = value.astimezone(tz) if value.tzinfo else value
        day = f"{local.year}年{local.month}月{local.day}日"
        return f"{day} {local:%H:%M}" if with_time else day
    if isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日"
    return str(value)


def fit(kind: str, value: TemplateValue, tz: ZoneInfo) -> str:
    """`value` as keyword type `kind` accepts it (cut to length where cutting is harmless)."""
    if kind == "time":
        return _when(value, tz, with_time=True)
    if kind == "date":
        return _when(value, tz, with_time=False)
    text = str(value)
    if kind == "character_string":
        if _CJK.search(text) or not text:
            raise ValueError(f"character_string takes letters, digits and symbols, not {text!r}")
        return text[: LIMITS.template_character_string_chars]
    if kind == "number":
        if not re.fullmatch(r"\d+(\.\d+)?", text):
            raise ValueError(f"number takes digits, not {text!r}")
        return text
    if kind == "phrase":
        chinese = "".join(_CJK.findall(text))
        if not chinese:
            raise ValueError(f"phrase takes Chinese characters only, not {text!r}")
        return chinese[: LIMITS.template_phrase_chars]
    if kind == "name":
        return _cut(text, LIMITS.template_name_chars if _CJK.search(text) else 20)
    # thing, const, keyword (old templates), and anything newer: 20 characters a line
    return _cut(text, LIMITS.template_thing_chars)


def template_data(
    spec: TemplateSpec, values: Mapping[str, TemplateValue], *, tz: ZoneInfo
) -> TemplateData:
    """The `data` object for /cgi-bin/message/template/send from the app's named values."""
    data: TemplateData = {}
    for key, source in spec.fields:
        if source not in values:
            raise ValueError(f"template keyword {key} needs a value named {source!r}")
        data[key] = {"value": fit(keyword_kind(key), values[source], tz)}
    return data
