"""The outbound side of a channel, as the dispatcher sees it: what an adapter implements.

A channel adapter provides an `OutboundChannel`: which channel it serves, its rate limits, which
of its addresses are groups, whether it shows buttons, and `send`, which renders the neutral
message for its platform and maps the platform's answer to one of the outcomes below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.channels import Address, Channel
from domain.message import Message


@dataclass(frozen=True)
class Delivered:
    """Sent; ``message_id`` is the platform's id as text ("" when the platform gives none)."""

    message_id: str


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


@dataclass(frozen=True)
class Moved:
    """The chat lives at a new address now (a Telegram group upgraded to a supergroup): every
    binding and queued message follows it, and this message is sent there."""

    to: Address


@dataclass(frozen=True)
class Held:
    """The chat cannot be written to until the person writes again (WeChat's 48-hour window):
    keep the message and give it, summed up, with the answer to their next message.
    `notified`: a short pointer (a template message) did reach them."""

    reason: str
    notified: bool = False


DeliveryResult = Delivered | Retry | Undeliverable | Permanent | Moved | Held


@dataclass(frozen=True)
class ChannelLimits:
    """How fast one channel may be written to: overall, per group chat, per private chat."""

    overall_per_second: float
    group_per_minute: int
    private_per_second: int


class OutboundChannel(Protocol):
    channel: Channel
    limits: ChannelLimits
    # False: choices are numbered in the text, and the chat's question is recorded on delivery.
    buttons: bool

    def is_group(self, to: Address) -> bool:
        """Group chats are paced per minute, private chats per second."""
        ...

    async def send(self, to: Address, message: Message) -> DeliveryResult:
        """Render and send; never raises for the platform's refusals (map them)."""
        ...
