"""Plain data passed between handlers and services (no Telegram types cross this line)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sender:
    """Who sent an update, as much as Telegram told us."""

    tg_id: int
    first_name: str = ""
    last_name: str | None = None
    username: str | None = None


@dataclass(frozen=True)
class Button:
    text: str
    data: str


@dataclass(frozen=True)
class Reply:
    """A message a service wants sent: HTML text plus optional inline buttons."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = field(default=())

    def markup(self) -> dict[str, Any] | None:
        if not self.buttons:
            return None
        return {
            "inline_keyboard": [
                [{"text": b.text, "callback_data": b.data} for b in row] for row in self.buttons
            ]
        }
