"""The core's channel-neutral message (domain.message.Message) as render.py's NeutralMessage:
lines of styled spans and rows of (label, payload) choices."""

from __future__ import annotations

from domain.message import Message, Rich, Style
from handlers.wechat.render import Choice, NeutralMessage, RenderedText, Span, render
from handlers.wechat.render import Style as WeChatStyle
from texts.wechat import without_buttons

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
        pieces = without_buttons(span.text).split("\n")
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


def combined(messages: list[Message]) -> Message | None:
    """Several answers as one passive text, when they fit in one and only the last asks a
    question (WeChat takes a single passive reply; everything else costs a 客服消息)."""
    if len(messages) < 2:
        return messages[0] if messages else None
    if any(m.file is not None for m in messages) or any(m.actions for m in messages[:-1]):
        return None
    joined = Message(Rich.join("\n\n", [m.text for m in messages if m.text]), messages[-1].actions)
    return joined if len(rendered(joined).parts) == 1 else None
