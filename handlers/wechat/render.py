"""A channel-neutral message as WeChat text, with numbered replies instead of buttons.

The core's neutral message type (issue 14) is not on main yet; `NeutralMessage` mirrors it
(lines of styled spans, rows of (label, payload) choices) and the integrator adapts one to the
other. WeChat text (customer-service and passive replies alike) shows `<a href="…">…</a>` as a
link and nothing else, so bold, italic and code become plain text, and a `<` or `>` the text
itself contains is shown as a full-width ＜ ＞: no resident's words can turn into a link.

A text over `LIMITS.text_bytes` (2048 UTF-8 bytes) is refused with 45002, so long messages are
cut into parts at line breaks; each part costs one of the window's 5 customer-service sends.
Choices become "回复 1　满意" lines at the end of the last part; `RenderedText.choices` is what
the app stores as "the question last asked", and `parse_choice` reads the resident's answer.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from handlers.wechat.limits import LIMITS
from texts import wechat as texts

Style = Literal["plain", "bold", "italic", "code", "link"]


@dataclass(frozen=True)
class Span:
    text: str
    style: Style = "plain"
    url: str | None = None  # for style "link"


@dataclass(frozen=True)
class Choice:
    label: str
    payload: str


@dataclass(frozen=True)
class NeutralMessage:
    """Mirror of the core's neutral message: `lines` of spans, `choices` as rows of buttons."""

    lines: tuple[tuple[Span, ...], ...]
    choices: tuple[tuple[Choice, ...], ...] = ()

    @classmethod
    def text(cls, *lines: str) -> NeutralMessage:
        return cls(tuple((Span(line),) for line in lines))


@dataclass(frozen=True)
class NumberedChoice:
    number: int
    label: str
    payload: str


@dataclass(frozen=True)
class RenderedText:
    parts: tuple[str, ...]  # one WeChat text each, in order
    choices: tuple[NumberedChoice, ...] = ()

    def answer(self, reply: str) -> str | None:
        """The payload the resident chose with `reply`, or None (see :func:`parse_choice`)."""
        return parse_choice(reply, self.choices)


_SAFE_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)


def _plain(text: str) -> str:
    return text.replace("<", "＜").replace(">", "＞")


def _span(span: Span) -> str:
    if span.style == "link" and span.url and _SAFE_URL.match(span.url):
        href = quote(span.url, safe=":/?#[]@!$&'()*+,;=%~-._")
        return f'<a href="{href}">{_plain(span.text or span.url)}</a>'
    return _plain(span.text)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _split_line(spans: tuple[Span, ...], limit: int) -> list[str]:
    """One line that is too long on its own: break between spans, then inside plain text."""
    pieces: list[str] = []
    current = ""
    for span in spans:
        rendered = _span(span)
        if _size(current + rendered) <= limit:
            current += rendered
            continue
        if current:
            pieces.append(current)
            current = ""
        if _size(rendered) <= limit:
            current = rendered
            continue
        plain = _plain(span.text)  # a link this long is shown as its text
        for char in plain:
            if _size(current + char) > limit:
                pieces.append(current)
                current = ""
            current += char
    if current:
        pieces.append(current)
    return pieces


def render(message: NeutralMessage, *, limit_bytes: int = LIMITS.text_bytes) -> RenderedText:
    """WeChat text for `message`: parts within `limit_bytes`, choices numbered from 1."""
    numbered = tuple(
        NumberedChoice(n, choice.label, choice.payload)
        for n, choice in enumerate((c for row in message.choices for c in row), start=1)
    )
    tail = ""
    if numbered:
        tail = "\n".join(
            [texts.choices_intro(), *(texts.choice_line(c.number, c.label) for c in numbered)]
        )
        if _size(tail) > limit_bytes:
            raise ValueError("the choices alone do not fit in one WeChat text")
    lines: list[str] = []
    for spans in message.lines:
        rendered = "".join(_span(s) for s in spans)
        lines += [rendered] if _size(rendered) <= limit_bytes else _split_line(spans, limit_bytes)
    parts: list[str] = []
    current: str | None = None
    for line in lines:
        candidate = line if current is None else current + "\n" + line
        if _size(candidate) <= limit_bytes:
            current = candidate
        else:
            parts.append(current or "")
            current = line
    if tail:
        with_tail = tail if current is None else current + "\n\n" + tail
        if _size(with_tail) <= limit_bytes:
            current = with_tail
        else:
            if current is not None:
                parts.append(current)
            current = tail
    if current is not None:
        parts.append(current)
    return RenderedText(tuple(p for p in parts if p), numbered)


_NOISE = re.compile(r"[\s.,，。、:：;；!！?？()（）\[\]【】\"'“”‘’#号第]+")


def parse_choice(reply: str, choices: tuple[NumberedChoice, ...]) -> str | None:
    """Which choice a typed reply means: "1", "１", "回复1", "1. 满意", "第1个" or the label itself.

    A number must be one of the choices and agree with any label typed after it; a bare label
    must match exactly (so "不满意" never counts as "满意"). Anything else is None.
    """
    if not choices:
        return None
    text = unicodedata.normalize("NFKC", reply).strip()
    text = text.removeprefix(texts.reply_prefix())
    text = _NOISE.sub("", text.replace("個", "个").removesuffix("个"))
    by_label = {_NOISE.sub("", c.label): c for c in choices}
    if text in by_label:
        return by_label[text].payload
    match = re.fullmatch(r"(\d{1,2})(?:个)?(.*)", text)
    if match is None:
        return None
    number, rest = int(match.group(1)), match.group(2)
    for choice in choices:
        if choice.number == number and (not rest or rest == _NOISE.sub("", choice.label)):
            return choice.payload
    return None
