"""DingTalk in: robot messages (one-to-one, and @robot in a group) and card presses, turned into
channel-neutral `Inbound`s for services.inbound.Router; the answers go back through the
outbound adapter (cards are updated in place).

The Stream connection ACKs a frame only after these callbacks returned, i.e. after the router
committed the step. DingTalk does not re-push a robot message whose ACK failed, but a push may
arrive twice (after a reconnect): each msgId and each card-callback frame is handled once
(here for the life of the process; across restarts the core's own idempotence on the message id
holds: an opinion, a typed answer or a numbered reply is stored once).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import replace
from datetime import datetime, timedelta

import texts.dingtalk as dt
import texts.resident as rt
from domain.channels import Address, Channel, Sender
from domain.message import Message, Rich
from scheduler.delivery import Delivered, DeliveryResult, Retry
from services.inbound.router import Router
from services.inbound.types import Inbound, Outcome
from services.intake import Media
from services.kernel import questions
from services.kernel.results import ActionResult
from services.people.known import known_sender

from .outbound import WEBHOOK_PREFIX, DingTalkOutbound
from .stream import CardAction, IncomingDingTalkMessage

log = logging.getLogger(__name__)

SEEN_MAX = 10_000
TEXT_TYPES = frozenset({"text", "richText", "audio"})
MEDIA_KINDS = {"picture": "photo", "file": "document", "video": "video"}
REPLY_ATTEMPTS = 3
REPLY_RETRY_MAX_WAIT = 5.0


class _Seen:
    """The ids handled lately (bounded, oldest forgotten first)."""

    def __init__(self, size: int = SEEN_MAX) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, key: str) -> bool:
        return key in self._ids

    def add(self, key: str) -> None:
        self._ids[key] = None
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)


class DingTalkInbound:
    """The two Stream callbacks: ``on_message`` and ``on_card_action``."""

    def __init__(self, router: Router, outbound: DingTalkOutbound) -> None:
        self.router = router
        self.outbound = outbound
        self._seen = _Seen()
        self.handled = 0
        self.duplicates = 0

    # ---- messages -------------------------------------------------------------------------
    async def on_message(self, m: IncomingDingTalkMessage) -> None:
        key = f"m:{m.message_id}"
        if not m.message_id or key in self._seen:
            self.duplicates += bool(m.message_id)
            return
        if not m.sender_key:
            return  # the guard: nobody to answer
        inbound = self._inbound(m)
        outcome = await self._route(inbound, m)
        self._seen.add(key)
        self.handled += 1
        await self.reply(inbound.chat, outcome.messages)

    def _inbound(self, m: IncomingDingTalkMessage) -> Inbound:
        sender = Sender(Channel.DINGTALK, m.sender_key, first_name=m.sender_nick)
        group = m.conversation_type == "group"
        chat = Address(Channel.DINGTALK, m.conversation_id) if group else sender.private_chat
        mentioned = m.at_user_ids[0] if m.at_user_ids else None
        return Inbound(
            sender=sender,
            chat=chat,
            message_id=m.message_id,
            is_group=group,
            addressed=True,  # DingTalk pushes group messages only when the robot is @-mentioned
            buttons=self.outbound.buttons,
            words_as_commands=True,
            sent_at=self._sent_at(m.created_at_ms),
            reply_to=Sender(Channel.DINGTALK, mentioned) if mentioned else None,
        )

    def _sent_at(self, created_at_ms: int) -> datetime:
        """When it was written, on the bot's clock (which tests may shift)."""
        now = self.router.ctx.clock.now()
        if not created_at_ms:
            return now
        age = max(0.0, time.time() - created_at_ms / 1000)
        return now - timedelta(seconds=age)

    async def _route(self, inbound: Inbound, m: IncomingDingTalkMessage) -> Outcome:
        if m.msgtype in TEXT_TYPES and m.text.startswith(dt.BIND_ROBOT_WORD):
            return await self._bind_custom_robot(inbound, m.text)
        if m.msgtype in TEXT_TYPES and m.text:
            return await self.router.text(inbound, m.text)
        if inbound.is_group:
            return Outcome()
        kind = MEDIA_KINDS.get(m.msgtype)
        if kind is not None and m.download_codes:
            code = m.download_codes[0]
            return await self.router.media(inbound, Media(kind, code, code, m.file_name or None))
        return Outcome.of(Message(rt.unsupported_message()))

    async def _bind_custom_robot(self, inbound: Inbound, text: str) -> Outcome:
        """`绑定机器人 组名 名称`: a send-only group (its custom robot) becomes the unit's chat;
        the core binds it as if `/bind 组名` were said in that group (staff only, as always)."""
        parts = text.removeprefix(dt.BIND_ROBOT_WORD).split()
        robots = self.outbound.api.config.custom_robots
        if len(parts) != 2 or self.outbound.api.config.custom_robot(parts[1]) is None:
            return Outcome.of(Message(dt.bind_robot_usage([r.name for r in robots])))
        unit, name = parts
        chat = Address(Channel.DINGTALK, WEBHOOK_PREFIX + name)
        return await self.router.text(replace(inbound, chat=chat, is_group=True), f"/bind {unit}")

    # ---- card presses ---------------------------------------------------------------------
    async def on_card_action(self, a: CardAction) -> None:
        key = f"c:{a.frame_id}"
        if not a.frame_id or key in self._seen or not a.user_id:
            return
        sender = await known_sender(self.router.ctx, Channel.DINGTALK, a.user_id)
        group = a.space_type == "IM_GROUP"
        chat = Address(Channel.DINGTALK, a.space_id) if group else sender.private_chat
        inbound = Inbound(
            sender=sender,
            chat=chat,
            message_id=a.out_track_id,
            is_group=group,
            buttons=True,
            words_as_commands=True,
        )
        result = await self.router.press(inbound, a.payload or None)
        self._seen.add(key)
        self.handled += 1
        await self.answer_press(inbound, a.out_track_id, result)

    async def answer_press(self, inbound: Inbound, out_track_id: str, result: ActionResult) -> None:
        """Edit the card in place (the toast becomes its status line); a refusal, or a toast
        with nothing edited and no prompt, goes to the presser alone; the prompt follows."""
        toast = result.toast or ""
        if result.edit is not None and out_track_id:
            edited = await self.outbound.edit(out_track_id, result.edit, status=toast)
            if not isinstance(edited, Delivered):
                log.warning("card %s not updated: %s", out_track_id, edited)
        if toast and (result.alert or (result.edit is None and result.prompt is None)):
            await self.reply(inbound.sender.private_chat, [Message(Rich.plain_text(toast))])
        if result.prompt is not None:
            to = inbound.sender.private_chat if result.private else inbound.chat
            await self.reply(to, [result.prompt])

    # ---- answers --------------------------------------------------------------------------
    async def reply(self, chat: Address, messages: list[Message]) -> None:
        """Send in order; a short throttle is waited out; choices become the chat's question
        when the chat has no buttons."""
        for message in messages:
            result = await self._send(chat, message)
            if not isinstance(result, Delivered):
                log.warning("DingTalk reply to %s not delivered: %s", chat, result)
                continue
            if message.actions and not self.outbound.buttons:
                await questions.remember(
                    self.router.ctx, chat, message, result.message_id, self.router.ctx.clock.now()
                )

    async def _send(self, chat: Address, message: Message) -> DeliveryResult:
        result: DeliveryResult = Retry(0, "not sent")
        for _ in range(REPLY_ATTEMPTS):
            result = await self.outbound.send(chat, message)
            if not isinstance(result, Retry) or result.seconds > REPLY_RETRY_MAX_WAIT:
                return result
            await asyncio.sleep(result.seconds)
        return result
