"""DingTalk in: robot messages (one-to-one, and @robot in a group) and card presses, turned into
channel-neutral `Inbound`s for services.inbound.Router; the answers go back through the
outbound adapter (cards are updated in place).

The Stream connection ACKs a frame only after these callbacks returned. DingTalk does not
re-push a robot message whose ACK failed, and a push may arrive twice (after a reconnect). With
the durable inbox (an `EventStore`, services.kernel.inbox) each event is stored before the
callback returns, unique on msgId (card presses: the frame id): a second push is ACKed and
dropped; an event whose handling failed, or whose process died (kill -9) before it was done, is
handled again from the store (`redo`). Without a store, ids are remembered for the life of the
process, and the core's own idempotence on the message id still holds across restarts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

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
from .pushes import CardAction, IncomingDingTalkMessage, parse_card_action, parse_message

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


class StoredEvent(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any]: ...


class EventStore(Protocol):
    """The durable inbox as this adapter uses it (services.kernel.inbox.Inbox)."""

    async def store(self, key: str, payload: dict[str, Any]) -> bool: ...
    async def finish(self, key: str) -> None: ...
    async def fail(self, key: str, error: str) -> None: ...
    async def claim(self, limit: int = 100) -> Sequence[StoredEvent]: ...
    async def renew(self) -> None: ...
    async def release(self) -> None: ...


class DingTalkInbound:
    """The two Stream callbacks: ``on_message`` and ``on_card_action``; ``redo`` for events
    stored but not finished."""

    def __init__(
        self, router: Router, outbound: DingTalkOutbound, store: EventStore | None = None
    ) -> None:
        self.router = router
        self.outbound = outbound
        self.store = store
        self._seen = _Seen()
        self.handled = 0
        self.duplicates = 0

    # ---- the store ------------------------------------------------------------------------
    async def _first_time(self, key: str, payload: dict[str, Any]) -> bool:
        """Store (or remember) the event; False for a second push of it."""
        if self.store is not None:
            new = await self.store.store(key, payload)
        else:
            new = key not in self._seen
            self._seen.add(key)
        self.duplicates += not new
        return new

    async def _run(self, key: str, step: Awaitable[None]) -> None:
        """Handle a stored event; done or failed is recorded (it is retried from the store)."""
        try:
            await step
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self.store is None:
                raise
            log.exception("DingTalk event %s failed; it stays in the inbox", key)
            await self.store.fail(key, repr(exc))
            return
        self.handled += 1
        if self.store is not None:
            await self.store.finish(key)

    async def redo(self) -> int:
        """Handle again what is stored but not done (a failure, a process that died)."""
        if self.store is None:
            return 0
        await self.store.renew()
        events = await self.store.claim()
        for event in events:
            await self._run(event.key, self._replay(event.payload))
        return len(events)

    async def _replay(self, payload: dict[str, Any]) -> None:
        """A stored event handled again (a payload that no longer parses fails like any step)."""
        frame = str(payload.get("frame", ""))
        data = payload.get("data") or {}
        if payload.get("kind") == "card":
            await self._card(parse_card_action(data, frame))
        else:
            await self._message(parse_message(data, frame))

    # ---- messages -------------------------------------------------------------------------
    async def on_message(self, m: IncomingDingTalkMessage) -> None:
        if not m.message_id or not m.sender_key:
            return  # the guard: nothing to key it on, or nobody to answer
        key = f"m:{m.message_id}"
        payload = {"kind": "message", "frame": m.frame_id, "data": dict(m.raw)}
        if await self._first_time(key, payload):
            await self._run(key, self._message(m))

    async def _message(self, m: IncomingDingTalkMessage) -> None:
        inbound = self._inbound(m)
        outcome = await self._route(inbound, m)
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
        if not a.frame_id or not a.user_id:
            return
        key = f"c:{a.frame_id}"
        if await self._first_time(key, {"kind": "card", "frame": a.frame_id, "data": dict(a.raw)}):
            await self._run(key, self._card(a))

    async def _card(self, a: CardAction) -> None:
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
