"""What a channel adapter hands the core for each incoming message, and gets back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from domain.channels import Address, Sender
from domain.message import Message


@dataclass(frozen=True, slots=True)
class Inbound:
    """One incoming message, channel-neutral.

    `addressed`: in a group, the message is meant for the bot (a reply to it, an @mention);
    group chatter that is not addressed is ignored. `buttons`: the channel shows actions as
    buttons; without them choices are numbered and a bare number answers the last question.
    `words_as_commands`: the channel's people type no slashes (绑定账号 works like /link).
    `sent_at`: when the person wrote it (the platform's timestamp), to tell a reply to an older
    question from a reply to the current one.
    """

    sender: Sender
    chat: Address
    message_id: str
    is_group: bool = False
    addressed: bool = False
    buttons: bool = True
    words_as_commands: bool = False
    sent_at: datetime | None = None
    reply_to: Sender | None = None  # whose message this one replies to (/add_staff)
    forwarded_from: str | None = None


@dataclass
class Outcome:
    """What to send back into the chat the message came from, in order (files included)."""

    messages: list[Message] = field(default_factory=list)

    @classmethod
    def of(cls, *messages: Message | None) -> Outcome:
        return cls([m for m in messages if m is not None])
