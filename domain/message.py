"""Channel-neutral messages: text as styled spans, rows of actions, an optional file.

Services and texts/ build these; each channel renders them (handlers/telegram renders HTML and
inline keyboards, handlers/plain renders plain text with numbered choices). Markup comes only from
trusted templates: every value put into a template becomes a span's text, never markup, and the
renderer is the one place that escapes it for its channel.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any


class Style(StrEnum):
    PLAIN = ""
    BOLD = "b"
    ITALIC = "i"
    CODE = "code"
    LINK = "a"


@dataclass(frozen=True, slots=True)
class Span:
    text: str
    style: Style = Style.PLAIN
    url: str = ""  # LINK only


class Rich:
    """Text made of spans; adjacent spans of one style are merged. Immutable."""

    __slots__ = ("spans",)

    def __init__(self, spans: Iterable[Span] = ()) -> None:
        merged: list[Span] = []
        for span in spans:
            if not span.text:
                continue
            if merged and merged[-1].style == span.style and merged[-1].url == span.url:
                last = merged[-1]
                merged[-1] = Span(last.text + span.text, last.style, last.url)
            else:
                merged.append(span)
        self.spans: tuple[Span, ...] = tuple(merged)

    @classmethod
    def plain_text(cls, text: str) -> Rich:
        return cls((Span(text),))

    @property
    def plain(self) -> str:
        """The words without any markup (toasts, logs, tests)."""
        return "".join(s.text for s in self.spans)

    def __add__(self, other: Rich | str) -> Rich:
        if isinstance(other, str):
            other = Rich.plain_text(other)
        return Rich(self.spans + other.spans)

    def __radd__(self, other: str) -> Rich:
        return Rich.plain_text(other) + self

    def __bool__(self) -> bool:
        return bool(self.spans)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rich) and self.spans == other.spans

    def __hash__(self) -> int:
        return hash(self.spans)

    def __repr__(self) -> str:
        return f"Rich({self.plain!r})"

    def __contains__(self, needle: str) -> bool:
        return needle in self.plain

    @staticmethod
    def join(sep: str, parts: Iterable[Rich | str]) -> Rich:
        spans: list[Span] = []
        for i, part in enumerate(parts):
            if i and sep:
                spans.append(Span(sep))
            spans.extend(part.spans if isinstance(part, Rich) else (Span(part),))
        return Rich(spans)

    def to_json(self) -> list[Any]:
        """Plain spans as bare strings, others as [style, text] or [style, text, url]."""
        out: list[Any] = []
        for s in self.spans:
            if s.style is Style.PLAIN:
                out.append(s.text)
            elif s.url:
                out.append([s.style.value, s.text, s.url])
            else:
                out.append([s.style.value, s.text])
        return out

    @classmethod
    def from_json(cls, data: Iterable[Any]) -> Rich:
        spans: list[Span] = []
        for item in data:
            if isinstance(item, str):
                spans.append(Span(item))
            else:
                spans.append(Span(item[1], Style(item[0]), item[2] if len(item) > 2 else ""))
        return cls(spans)


EMPTY = Rich()


@dataclass(frozen=True, slots=True)
class Action:
    """A choice offered with a message: a button, or a numbered reply on plain channels.

    `payload` is opaque to channels (signed by services.kernel.actions) and comes back as is.
    """

    label: str
    payload: str


Actions = tuple[tuple[Action, ...], ...]


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file sent with a message (its bytes travel beside the message, not inside it)."""

    kind: str  # "image" | "document"
    name: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    """What a service wants said: text, choices, and optionally a file (image or document)."""

    text: Rich = EMPTY
    actions: Actions = ()
    file: FileRef | None = None
    data: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def plain(self) -> str:
        return self.text.plain

    def choices(self) -> list[Action]:
        """Every action in reading order (numbered replies count in this order)."""
        return [a for row in self.actions for a in row]

    def to_json(self) -> dict[str, Any]:
        """Storable form (outbox rows); the file's bytes are stored beside it."""
        out: dict[str, Any] = {"t": self.text.to_json()}
        if self.actions:
            out["a"] = [[[a.label, a.payload] for a in row] for row in self.actions]
        if self.file is not None:
            out["f"] = [self.file.kind, self.file.name]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], blob: bytes | None = None) -> Message:
        actions = tuple(tuple(Action(a[0], a[1]) for a in row) for row in data.get("a") or ())
        f = data.get("f")
        return cls(
            Rich.from_json(data.get("t") or ()),
            actions,
            FileRef(f[0], f[1]) if f else None,
            blob,
        )


# ---- templates ---------------------------------------------------------------------------------

_TAG = re.compile(r"<(/?)(b|i|code)>")
_FORMATTER = string.Formatter()
Part = tuple[str, str | None, str]  # literal, field name, format spec
Segment = tuple[Style, tuple[Part, ...]]


@lru_cache(maxsize=1024)
def _compile(template: str) -> tuple[Segment, ...]:
    """Split a trusted template into styled segments of literals and `{fields}`."""
    segments: list[Segment] = []
    style = Style.PLAIN
    pos = 0
    for m in _TAG.finditer(template):
        segments.append((style, _parts(template[pos : m.start()])))
        closing, tag = m.group(1), Style(m.group(2))
        if closing:
            if style is not tag:
                raise ValueError(f"</{tag}> closes nothing in template {template!r}")
            style = Style.PLAIN
        else:
            if style is not Style.PLAIN:
                raise ValueError(f"nested <{tag}> in template {template!r}")
            style = tag
        pos = m.end()
    if style is not Style.PLAIN:
        raise ValueError(f"unclosed <{style}> in template {template!r}")
    segments.append((style, _parts(template[pos:])))
    return tuple((st, parts) for st, parts in segments if parts)


def _parts(chunk: str) -> tuple[Part, ...]:
    return tuple(
        (literal, name, spec or "")
        for literal, name, spec, _ in _FORMATTER.parse(chunk)
        if literal or name is not None
    )


def t(template: str, /, **values: Any) -> Rich:
    """Fill a trusted template: `<b>`, `<i>`, `<code>` in it are markup; every `{value}` is text.

    `t("受理编号：<code>{ref}</code>", ref=ref_no)`. Format specs work as in str.format
    (`{due:%Y-%m-%d}`, `{rate:.0%}`).
    """
    spans: list[Span] = []
    for style, parts in _compile(template):
        pieces: list[str] = []
        for literal, name, spec in parts:
            pieces.append(literal)
            if name is not None:
                value = values[name]
                pieces.append(format(value, spec) if spec else str(value))
        spans.append(Span("".join(pieces), style))
    return Rich(spans)


def bold(text: str) -> Rich:
    return Rich((Span(text, Style.BOLD),))


def code(text: str) -> Rich:
    return Rich((Span(text, Style.CODE),))


def text_message(template: str, /, **values: Any) -> Message:
    return Message(t(template, **values))
