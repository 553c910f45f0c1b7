"""What an action (a button press or a numbered reply) answers."""

from __future__ import annotations

from dataclasses import dataclass

from domain.message import Message


@dataclass(frozen=True)
class ActionResult:
    """What a press does to the pressed message and what the presser is told.

    `toast`: a short note (a callback answer on Telegram; `alert` makes it a dialog). `edit`
    replaces the pressed message (empty text: keep the text, change the choices). `prompt` is a
    new message to the presser's chat. Channels that cannot edit send the edit as a new message
    (handlers.plain.as_messages).
    """

    toast: str | None = None
    alert: bool = False
    edit: Message | None = None
    prompt: Message | None = None
    # Send `prompt` privately to the presser instead of to the chat the press came from.
    private: bool = False


def refused(text: str) -> ActionResult:
    return ActionResult(text, alert=True)
