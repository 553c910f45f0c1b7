"""Who writes and where to: the channel-neutral names of people and chats.

A channel is a chat platform the bot speaks on. Everything above the adapters names a chat as an
`Address` (channel, id as text) and a person on a platform as a `Sender` (channel, external id as
text). What the id means (a Telegram chat id, a DingTalk openConversationId or userId, a WeChat
openid) is the adapter's business; one rule binds them all: a person's private chat is addressed
by the same id as the person (`Sender.private_chat`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Channel(StrEnum):
    TELEGRAM = "telegram"
    DINGTALK = "dingtalk"
    WECHAT = "wechat"


@dataclass(frozen=True, slots=True)
class Address:
    """A chat on a channel: a staff group, a unit's group, a person's private chat."""

    channel: Channel
    id: str

    @property
    def key(self) -> str:
        """The address inside outbox keys and logs.

        Telegram's is the bare id, as keys were before channels existed: a reminder planned
        before the upgrade keeps its key, so it is never planned (and sent) a second time.
        """
        return self.id if self.channel is Channel.TELEGRAM else f"{self.channel}:{self.id}"

    @classmethod
    def parse(cls, text: str, default: Channel = Channel.TELEGRAM) -> Address:
        """`123` (the default channel) or `dingtalk:abc`, as ADMIN_IDS and logs spell them."""
        head, sep, rest = text.strip().partition(":")
        if sep and head in Channel._value2member_map_:
            if not rest:
                raise ValueError(f"empty id in {text!r}")
            return cls(Channel(head), rest)
        if not text.strip():
            raise ValueError("empty address")
        return cls(default, text.strip())

    def __str__(self) -> str:
        return f"{self.channel}:{self.id}"


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sent an update: one identity of a person, as much as the channel told us."""

    channel: Channel
    external_id: str
    first_name: str = ""
    last_name: str | None = None
    username: str | None = None

    @property
    def private_chat(self) -> Address:
        return Address(self.channel, self.external_id)

    @property
    def identity(self) -> tuple[str, str]:
        return (self.channel.value, self.external_id)
