"""DingTalk out: the neutral message rendered at send time, sent by the app robot (one-to-one
or to a group), as an interactive card when it has buttons and a card template is configured,
or by a group's custom robot (send-only); every answer mapped to a delivery outcome.

Addresses (``domain.channels.Address`` ids on the DingTalk channel):

- ``cid…`` a group, by its openConversationId (DingTalk's group ids all start with ``cid``);
- ``webhook:<名称>`` a send-only group reached through the custom robot configured under that
  name in DINGTALK_WEBHOOKS;
- anything else a person's one-to-one chat with the robot, by their staff id (userid), which
  is also their identity's external id.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from dataclasses import replace

from domain.channels import Address, Channel
from domain.message import Message
from scheduler.delivery import ChannelLimits, Delivered, DeliveryResult, Permanent, Undeliverable

from .api import DingTalkApi
from .limits import DINGTALK_API_QPS, DINGTALK_LIMITS
from .render import (
    ACTION_CARD_MAX_BUTTONS,
    NeutralMessage,
    from_message,
    title_of,
    to_action_card,
    to_card_data,
    to_markdown,
    to_plain_text,
    to_robot_message,
)
from .robot import CustomRobotSender, markdown_body, text_body
from .robot_messages import Conversation, RobotMessage, UploadedMedia

WEBHOOK_PREFIX = "webhook:"
GROUP_PREFIX = "cid"
APIS = ("group", "private", "card", "media")


def limits_for(rate_per_second: float) -> ChannelLimits:
    """The dispatcher's pacing for DingTalk (handlers/dingtalk/limits.py has the sources)."""
    return ChannelLimits(
        overall_per_second=rate_per_second,
        group_per_minute=DINGTALK_LIMITS.group_per_minute,
        private_per_second=max(1, int(DINGTALK_LIMITS.private_per_second)),
    )


class ApiWindow:
    """At most ``limit`` calls in any ``span`` seconds (DingTalk counts calls per app per API
    per second). The dispatcher already spaces outbox sends evenly; this guard also counts
    direct replies and card updates, so together they never exceed the platform's window."""

    def __init__(self, limit: int = DINGTALK_API_QPS - 1, span: float = 1.0) -> None:
        self.limit = limit
        self.span = span
        self._calls: deque[float] = deque()

    async def slot(self) -> None:
        while True:
            now = time.monotonic()
            while self._calls and self._calls[0] <= now - self.span:
                self._calls.popleft()
            if len(self._calls) < self.limit:
                self._calls.append(now)
                return
            await asyncio.sleep(self._calls[0] + self.span - now)


def is_group_id(chat_id: str) -> bool:
    return chat_id.startswith((GROUP_PREFIX, WEBHOOK_PREFIX))


def conversation(to: Address) -> Conversation:
    return (
        Conversation.group(to.id) if to.id.startswith(GROUP_PREFIX) else Conversation.private(to.id)
    )


class DingTalkOutbound:
    """scheduler.delivery.OutboundChannel for DingTalk (app robot, cards, custom robots).

    ``buttons`` is true when a card template is configured: messages with choices become
    interactive cards whose presses come back over Stream. Without one, choices are numbered
    in the text and answered with the number (the dispatcher records the question).
    Each OpenAPI endpoint is also held under its own window (:class:`ApiWindow`), which covers
    direct replies and card updates as well as the outbox.
    """

    channel = Channel.DINGTALK

    def __init__(
        self,
        api: DingTalkApi,
        robots: CustomRobotSender | None = None,
        *,
        rate_per_second: float = DINGTALK_LIMITS.overall_per_second,
    ) -> None:
        self.api = api
        self.robots = robots or CustomRobotSender()
        self.limits = limits_for(rate_per_second)
        self.buttons = bool(api.config.card_template_id)
        self._windows = {name: ApiWindow() for name in APIS}

    def is_group(self, to: Address) -> bool:
        return is_group_id(to.id)

    async def close(self) -> None:
        await self.api.close()
        await self.robots.close()

    async def send(self, to: Address, message: Message) -> DeliveryResult:
        if to.id.startswith(WEBHOOK_PREFIX):
            return await self._custom_robot(to.id.removeprefix(WEBHOOK_PREFIX), message)
        target = conversation(to)
        if message.file is not None:
            return await self._file(target, message)
        if message.actions and self.buttons:
            await self._pace("card")
            card = to_card_data(from_message(message))
            return await self.api.send_card(target, uuid.uuid4().hex, card)
        await self._pace(target.kind)
        neutral = from_message(message, numbered=True)
        labels = [a.label for a in message.choices()]
        if target.kind == "private" and 0 < len(labels) <= ACTION_CARD_MAX_BUTTONS:
            # No card template: a tap on a button sends the choice's number (numbered reply).
            return await self.api.send(target, to_action_card(neutral, labels))
        return await self.api.send(target, to_robot_message(neutral))

    async def edit(self, out_track_id: str, message: Message, status: str = "") -> DeliveryResult:
        """Update a card in place: new text and buttons, or (empty text) only the buttons."""
        await self._pace("card")
        data = to_card_data(from_message(message), status=status)
        if not message.text:
            data = {k: data[k] for k in ("buttons", "button_rows", "has_buttons", "status")}
        return await self.api.update_card(out_track_id, data)

    async def _pace(self, api: str) -> None:
        await self._windows[api].slot()

    async def _file(self, target: Conversation, message: Message) -> DeliveryResult:
        """The caption as a message, then the picture or the file (uploaded first)."""
        data = message.data or b""
        name = (message.file.name if message.file else "") or "file"
        if not data:
            return Permanent("file message without bytes")
        await self._pace("media")
        image = message.file is not None and message.file.kind == "image"
        uploaded = await self.api.upload_media(data, name, "image" if image else "file")
        if not isinstance(uploaded, UploadedMedia):
            return uploaded
        media_id = uploaded.media_id
        if message.text:
            await self._pace(target.kind)
            caption = await self.api.send(target, to_robot_message(from_message(message)))
            if not isinstance(caption, Delivered):
                return caption
        await self._pace(target.kind)
        if image:
            return await self.api.send(target, RobotMessage.image(media_id))
        return await self.api.send(target, RobotMessage.file(media_id, name))

    async def _custom_robot(self, name: str, message: Message) -> DeliveryResult:
        robot = self.api.config.custom_robot(name)
        if robot is None:
            return Undeliverable(f"no custom robot named {name!r} in DINGTALK_WEBHOOKS")
        # A custom robot cannot receive answers: choices are left out.
        neutral: NeutralMessage = from_message(replace(message, actions=()))
        styled = any(s.style != "plain" for line in neutral.lines for s in line)
        body = (
            markdown_body(title_of(neutral), to_markdown(neutral))
            if styled
            else text_body(to_plain_text(neutral))
        )
        if message.file is not None:
            body = text_body(to_plain_text(neutral) or (message.file.name or ""))
        return await self.robots.send(robot, body)
