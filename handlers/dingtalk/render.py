"""Render a channel-neutral message for DingTalk: markdown, interactive-card data, plain text.

:class:`NeutralMessage` is the renderer's working shape (lines of styled spans, rows of actions
with an opaque payload); :func:`from_message` makes one from the core's
``domain.message.Message`` (the outbound adapter's way in).

User text must never turn into markup. DingTalk's markdown (open.dingtalk.com "消息类型和
数据格式", markdown) is a subset of Markdown plus ``<font>`` tags, and it documents no escape
character, so a backslash may show up literally. We therefore replace every character that
could start markup with its full-width twin (＊ ＿ ［ ］ ＜ ＞ …): it renders the same to a
reader, in any Markdown dialect, and cannot open emphasis, a link, a heading, a list, a
quote or an HTML tag. Line-start markers (``1.``, ``-``, ``+``, leading spaces) are
neutralised the same way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, urlsplit

from domain.message import Message
from domain.message import Style as CoreStyle
from texts.common import NUMBERED_HINT

from .robot_messages import RobotMessage

Style = Literal["plain", "bold", "italic", "code", "link"]

# Characters that can start inline markup or HTML anywhere on a line.
_INLINE = str.maketrans(
    {
        "\\": "＼",
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "[": "［",
        "]": "］",
        "<": "＜",
        ">": "＞",
        "~": "～",
        "|": "｜",
        "#": "＃",
        "&": "＆",
        "!": "！",
        "=": "＝",
    }
)
# Markers that only mean something at the start of a line: list items and indentation.
_LINE_START = re.compile(r"^(?P<indent>[ \t]*)(?P<marker>[-+]|\d+[.)])(?=\s|$)")
_FULL = str.maketrans({"-": "－", "+": "＋", ".": "．", ")": "）"})
# A line of dashes is a horizontal rule (or turns the line above into a heading).
_RULE = re.compile(r"^[ \t]*(?:-[ \t]*){2,}$")


@dataclass(frozen=True)
class Span:
    """A run of text with one style; ``url`` only for links."""

    text: str
    style: Style = "plain"
    url: str | None = None


@dataclass(frozen=True)
class Action:
    """A button: what it says and the opaque payload the app gets back when it is pressed."""

    label: str
    payload: str


@dataclass(frozen=True)
class NeutralMessage:
    """Lines of spans plus rows of actions (mirrors the core refactor's message)."""

    lines: tuple[tuple[Span, ...], ...]
    actions: tuple[tuple[Action, ...], ...] = ()
    title: str = ""

    @classmethod
    def plain(cls, text: str, *, actions: tuple[tuple[Action, ...], ...] = ()) -> NeutralMessage:
        return cls(tuple((Span(line),) for line in text.split("\n")), actions)


def escape_markdown(text: str, *, line_start: bool = True) -> str:
    """User text as DingTalk markdown that shows exactly that text and no markup.

    ``line_start=False`` when the text continues a line (a later span): its first line's
    leading spaces and markers are then ordinary text.
    """
    out: list[str] = []
    for number, line in enumerate(text.split("\n")):
        line = line.translate(_INLINE)
        if number == 0 and not line_start:
            out.append(line)
            continue
        if _RULE.match(line):
            line = line.replace("-", "－")
        match = _LINE_START.match(line)
        if match:
            line = match.group("marker").translate(_FULL) + line[match.end() :]
            line = "\u3000" * len(match.group("indent")) + line
        else:
            stripped = line.lstrip(" \t")
            line = "\u3000" * (len(line) - len(stripped)) + stripped
        out.append(line)
    # A hard line break ("two spaces, newline") keeps the user's line breaks as they were.
    return "  \n".join(out)


def _safe_url(url: str) -> str | None:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    # Percent-encode what could end the link target early or break out of it.
    return quote(url.strip(), safe=":/?#@!$&'*+,;=%-._~")


def _span_markdown(span: Span, line_start: bool) -> str:
    text = escape_markdown(span.text, line_start=line_start)
    if not text:
        return ""
    if span.style == "bold":
        return f"**{text}**"
    if span.style == "italic":
        return f"*{text}*"
    if span.style == "link" and span.url:
        url = _safe_url(span.url)
        return f"[{text}]({url})" if url else text
    return text  # plain and code (DingTalk markdown has no inline code)


def to_markdown(message: NeutralMessage) -> str:
    """The message body as DingTalk markdown (without its buttons)."""
    return "  \n".join(
        "".join(_span_markdown(s, i == 0) for i, s in enumerate(line)) for line in message.lines
    )


def to_plain_text(message: NeutralMessage) -> str:
    """Plain text for sampleText and notifications: links keep their address."""
    lines = []
    for line in message.lines:
        parts = []
        for span in line:
            if span.style == "link" and span.url and span.url != span.text:
                parts.append(f"{span.text}（{span.url}）")
            else:
                parts.append(span.text)
        lines.append("".join(parts))
    labels = [f"[{a.label}]" for row in message.actions for a in row]
    if labels:
        lines.append(" ".join(labels))
    return "\n".join(lines)


def title_of(message: NeutralMessage, limit: int = 30) -> str:
    """The notification title DingTalk shows in the chat list (markdown messages need one)."""
    if message.title:
        return message.title[:limit]
    for line in message.lines:
        text = "".join(s.text for s in line).strip()
        if text:
            return text[:limit]
    return "通知"


def to_robot_message(message: NeutralMessage) -> RobotMessage:
    """A robot message: markdown when the text has styles or links, else plain text.

    Buttons need an interactive card (:func:`to_card_data`); robot messages cannot call back.
    """
    styled = any(span.style != "plain" for line in message.lines for span in line)
    if styled:
        return RobotMessage.markdown(title_of(message), to_markdown(message))
    return RobotMessage.text(to_plain_text(message))


@dataclass(frozen=True)
class CardData:
    """The public data (cardParamMap) of our interactive-card template.

    The template (卡片平台, see docs/dingtalk.md) shows ``title`` as the header, ``markdown``
    in a Markdown component and loops over ``buttons``: each button's 回传请求 carries
    ``{"payload": item.payload}`` as its params, which comes back in the card callback as
    ``cardPrivateData.params``. cardParamMap values must be strings, so lists are JSON text
    (open.dingtalk.com "卡片数据填写说明", as the card examples do).
    """

    title: str
    markdown: str
    buttons: tuple[tuple[Action, ...], ...] = field(default_factory=tuple)
    status: str = ""

    def param_map(self) -> dict[str, str]:
        rows = [[{"text": a.label, "payload": a.payload} for a in row] for row in self.buttons]
        flat = [b for row in rows for b in row]
        return {
            "title": self.title,
            "markdown": self.markdown,
            "buttons": json.dumps(flat, ensure_ascii=False),
            "button_rows": json.dumps(rows, ensure_ascii=False),
            "has_buttons": "true" if flat else "false",
            "status": self.status,
        }


def to_card_data(message: NeutralMessage, *, status: str = "") -> dict[str, str]:
    """cardParamMap for :meth:`DingTalkApi.send_card` / ``update_card``."""
    return CardData(title_of(message), to_markdown(message), message.actions, status).param_map()


_STYLES: dict[CoreStyle, Style] = {
    CoreStyle.PLAIN: "plain",
    CoreStyle.BOLD: "bold",
    CoreStyle.ITALIC: "italic",
    CoreStyle.CODE: "code",
    CoreStyle.LINK: "link",
}


def from_message(message: Message, *, numbered: bool = False) -> NeutralMessage:
    """The core's message as lines of spans; ``numbered`` writes the choices as numbered lines
    ("回复 1 满意") for chats without buttons and drops them as actions."""
    lines: list[list[Span]] = [[]]
    for span in message.text.spans:
        for i, part in enumerate(span.text.split("\n")):
            if i:
                lines.append([])
            if part:
                lines[-1].append(Span(part, _STYLES[span.style], span.url or None))
    if lines == [[]]:
        lines = []
    actions = tuple(tuple(Action(a.label, a.payload) for a in row) for row in message.actions)
    if numbered and actions:
        if lines and lines[-1]:
            lines.append([])
        for n, action in enumerate(message.choices(), 1):
            lines.append([Span(NUMBERED_HINT.format(n=n, label=action.label))])
        actions = ()
    return NeutralMessage(tuple(tuple(line) for line in lines), actions)


# A button of a robot ActionCard opens a URL; DingTalk's client URL ``dtmd://dingtalkclient/
# sendMessage?content=…`` makes the tap send that text into the chat as the person (used by
# DingTalk's own samples). In a one-to-one chat with the robot the text reaches it, so a button
# that sends "2" answers a numbered question. In a group it would not (the robot only gets
# messages that @-mention it): groups keep the typed "@robot 2".
SEND_MESSAGE_URL = "dtmd://dingtalkclient/sendMessage?content="
ACTION_CARD_MAX_BUTTONS = 5  # sampleActionCard (1 button), sampleActionCard2…5 (2…5, vertical)


def to_action_card(message: NeutralMessage, labels: list[str]) -> RobotMessage:
    """A robot ActionCard whose buttons send the choice's number ("1", "2", …) when tapped.

    Params as in "企业机器人发送消息的消息类型": sampleActionCard {title, text, singleTitle,
    singleURL}; sampleActionCardN {title, text, actionTitle1, actionURL1, …}.
    """
    if not 1 <= len(labels) <= ACTION_CARD_MAX_BUTTONS:
        raise ValueError(f"an ActionCard has 1 to {ACTION_CARD_MAX_BUTTONS} buttons")
    params = {"title": title_of(message), "text": to_markdown(message)}
    urls = [SEND_MESSAGE_URL + quote(str(n)) for n in range(1, len(labels) + 1)]
    if len(labels) == 1:
        params |= {"singleTitle": labels[0], "singleURL": urls[0]}
        return RobotMessage("sampleActionCard", params)
    for n, (label, url) in enumerate(zip(labels, urls, strict=True), 1):
        params |= {f"actionTitle{n}": label, f"actionURL{n}": url}
    return RobotMessage(f"sampleActionCard{len(labels)}", params)
