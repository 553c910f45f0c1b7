"""Telegram's renderer: spans to parse_mode HTML (the one place text is escaped for Telegram),
actions to an inline keyboard."""

from __future__ import annotations

import html
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from domain.message import Actions, Message, Rich, Style


def esc(value: str) -> str:
    return html.escape(value, quote=False)


def render_html(text: Rich) -> str:
    out: list[str] = []
    for span in text.spans:
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
