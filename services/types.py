"""Plain data passed between handlers and services (no Telegram types cross this line)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


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


class OpinionView(Protocol):
    """What receipts and staff cards read of an opinion: a stored Opinion, or the snapshot
    intake keeps of the row it has just inserted (services.intake.NewOpinion)."""

    @property
    def id(self) -> int: ...
    @property
    def ref_no(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def theme(self) -> str: ...
    @property
    def theme_confidence(self) -> float: ...
    @property
    def theme_terms(self) -> list[str]: ...
    @property
    def needs_review(self) -> bool: ...
    @property
    def theme_confirmed(self) -> bool: ...
    @property
    def anonymous(self) -> bool: ...
    @property
    def status(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def resident_id(self) -> int | None: ...
    @property
    def on_behalf_of(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
