"""Telegram's renderer: spans to parse_mode HTML (the one place text is escaped for Telegram),
actions to an inline keyboard."""

from __future__ import annotations

import html
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from domain.message import Actions, Message, Rich, Span, Style


def esc(value: str) -> str:
    return html.escape(value, quote=False)


TEXT_LIMIT = 4096  # UTF-16 code units, as Telegram counts
CAPTION_LIMIT = 1024


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fit(text: Rich, limit: int = TEXT_LIMIT) -> Rich:
    """At most `limit` visible characters (Telegram refuses longer messages): cut, with "…"."""
    if _units(text.plain) <= limit:
        return text
    room = limit - 1
    spans: list[Span] = []
    for span in text.spans:
        size = _units(span.text)
        if size <= room:
            spans.append(span)
            room -= size
            continue
        cut = ""
        for ch in span.text:
            if _units(cut + ch) > room:
                break
            cut += ch
        spans.append(Span(cut, span.style, span.url))
        break
    return Rich((*spans, Span("…")))


def render_html(text: Rich, limit: int = TEXT_LIMIT) -> str:
    out: list[str] = []
    for span in fit(text, limit).spans:
        body = esc(span.text)
        if span.style is Style.PLAIN:
            out.append(body)
        elif span.style is Style.LINK:
            out.append(f'<a href="{html.escape(span.url)}">{body}</a>')
        else:
            out.append(f"<{span.style.value}>{body}</{span.style.value}>")
    return "".join(out)


def keyboard(actions: Actions) -> InlineKeyboardMarkup | None:
    if not actions:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(a.label, callback_data=a.payload) for a in row] for row in actions]
    )


def keyboard_dict(actions: Actions) -> dict[str, Any] | None:
    """The Bot API's reply_markup object (as tests and raw calls see it)."""
    if not actions:
        return None
    return {
        "inline_keyboard": [
            [{"text": a.label, "callback_data": a.payload} for a in row] for row in actions
        ]
    }


def render(message: Message) -> tuple[str, InlineKeyboardMarkup | None]:
    return render_html(message.text), keyboard(message.actions)
