"""The core's channel-neutral message (domain.message.Message) as render.py's NeutralMessage:
lines of styled spans and rows of (label, payload) choices."""

from __future__ import annotations

from domain.message import Message, Rich, Style
from handlers.wechat.render import Choice, NeutralMessage, RenderedText, Span, render
from handlers.wechat.render import Style as WeChatStyle

_STYLES: dict[Style, WeChatStyle] = {
    Style.PLAIN: "plain",
    Style.BOLD: "bold",
    Style.ITALIC: "italic",
    Style.CODE: "code",
    Style.LINK: "link",
}


def lines_of(text: Rich) -> tuple[tuple[Span, ...], ...]:
    """Split the spans at line breaks: WeChat parts are cut between lines."""
    lines: list[list[Span]] = [[]]
    for span in text.spans:
        style = _STYLES[span.style]
        pieces = span.text.split("\n")
        for i, piece in enumerate(pieces):
            if i:
                lines.append([])
            if piece:
                lines[-1].append(Span(piece, style, span.url or None))
    return tuple(tuple(line) for line in lines)


def neutral(message: Message) -> NeutralMessage:
    choices = tuple(tuple(Choice(a.label, a.payload) for a in row) for row in message.actions)
    return NeutralMessage(lines_of(message.text), choices)


def rendered(message: Message) -> RenderedText:
    """WeChat text parts (each ≤ 2048 bytes) with the choices numbered at the end."""
    return render(neutral(message))
