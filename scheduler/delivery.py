"""What a send can end as, independent of Telegram (the adapter lives in handlers.outbound)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Delivered:
    message_id: str  # a platform's message id as text ("" when the platform gives none)


@dataclass(frozen=True)
class Retry:
    """Try again after `seconds` (flood limit, network trouble)."""

    seconds: float
    reason: str


@dataclass(frozen=True)
class Undeliverable:
    """The chat is gone for us (blocked, kicked, not found): stop trying."""

    reason: str


@dataclass(frozen=True)
class Permanent:
    """The server refused this message itself (a bug on our side): keep it for inspection."""

    reason: str


DeliveryResult = Delivered | Retry | Undeliverable | Permanent


class Outbound(Protocol):
    async def send(
        self,
        chat_id: int,
        text: str,
        reply_markup: dict[str, Any] | None,
        photo: bytes | None = None,
    ) -> DeliveryResult:
        """Send `text` (as the caption when there is a photo)."""
        ...
