"""WeChat pushes in: each resident message or event becomes a channel-neutral Inbound for the
one way in (services.inbound.Router); the answer goes back as the passive reply.

- The first answer (the receipt) is the passive reply: free, and shown at once. Further answers,
  and an answer that would come too late for WeChat's 5 seconds, go by the outbox (客服消息).
  `services.kernel.replies.claim` records which road an answer took, so WeChat's re-delivery of
  a message never produces a second receipt, while intake itself is idempotent on the MsgId.
- Following, scanning a station's QR code (scene = station code) and menu clicks open a short
  window too. Unfollowing changes nothing stored: a refollow finds everything as it was.
- After any message, what was held for the resident while their window was closed is given,
  summed up (services.kernel.held).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

import texts.wechat as wt
from domain.channels import Address, Channel, Sender
from domain.message import Message
from handlers.wechat import messages as wx
from handlers.wechat.neutral import combined, rendered
from handlers.wechat.replies import PassiveReply, TextReply
from services.inbound.commands import parse
from services.inbound.router import Router
from services.inbound.types import Inbound, Outcome
from services.intake import Media
from services.kernel import held, questions, replies
from services.kernel.context import ServiceContext
from services.kernel.inbox import Inbox

log = logging.getLogger(__name__)

MENU_WORDS = {"MY": "我的意见"}
HELP_WORDS = frozenset({"使用说明", "帮助", "help", "/help", "?", "？"})
LATE_MARGIN = 0.3  # seconds before the endpoint's deadline an answer counts as late
REMEMBERED = 512  # answers kept for on_late (only pushes still being handled need them)


def payload_of(push: wx.Inbound) -> dict[str, Any]:
    """The push as the inbox stores it (JSON): its type and fields."""
    return {"type": type(push).__name__, "fields": dataclasses.asdict(push)}


def push_from(payload: dict[str, Any]) -> wx.Inbound:
    kind = getattr(wx, str(payload["type"]), None)
    if not (isinstance(kind, type) and issubclass(kind, wx.Inbound)):
        raise ValueError(f"not a WeChat push: {payload['type']!r}")
    push: wx.Inbound = kind(**payload["fields"])
    return push


def message_key(push: wx.Inbound) -> str:
    """The push's id within the resident's chat: MsgId, or CreateTime:Event for events."""
    if isinstance(push, wx.Message):
        return push.msg_id
    assert isinstance(push, wx.Event)
    return f"{push.create_time}:{push.event}"


class WeChatInbound:
    """The endpoint's `handle` and `on_late` for one deployment."""

    def __init__(
        self,
        ctx: ServiceContext,
        router: Router,
        *,
        reply_deadline: float,
        inbox: Inbox | None = None,
    ) -> None:
        self.ctx = ctx
        self.router = router
        self.reply_deadline = reply_deadline
        self.inbox = inbox
        self._answers: OrderedDict[str, list[Message]] = OrderedDict()
        self._arrived: OrderedDict[str, float] = OrderedDict()  # when `store` began, per push

    # ---- the endpoint's two callbacks -----------------------------------------------------------

    async def store(self, push: wx.Inbound) -> None:
        """The endpoint's `store`: the push is in the durable inbox before anything is answered.

        A re-delivery (already stored) is handled again too: intake is idempotent, and WeChat
        pushes again only when our earlier answer did not reach it.
        """
        self._arrived[push.idempotency_key] = time.monotonic()
        while len(self._arrived) > REMEMBERED:
            self._arrived.popitem(last=False)
        if self.inbox is not None:
            await self.inbox.store(push.idempotency_key[:128], payload_of(push))

    async def handle(self, push: wx.Inbound) -> PassiveReply | None:
        """Answer within the deadline (stored before, by `store`); mark the push done."""
        started = self._arrived.pop(push.idempotency_key, None) or time.monotonic()
        key = push.idempotency_key[:128]
        try:
            reply = await self._answer(push, started)
        except Exception as exc:
            if self.inbox is not None:
                await self.inbox.fail(key, repr(exc))
            raise
        if self.inbox is not None:
            await self.inbox.finish(key)
        return reply

    async def _answer(self, push: wx.Inbound, started: float) -> PassiveReply | None:
        chat = Address(Channel.WECHAT, push.openid)
        key = message_key(push)
        answer = await self.work(push)
        release = _opens_window(push)
        if answer:
            self._remember(push.idempotency_key, answer)
        if time.monotonic() - started > self.reply_deadline - LATE_MARGIN:  # too late to reply
            await replies.settle(self.ctx, chat, key, answer, how=replies.LATE, release=release)
            return None
        first = combined(answer) or (answer[0] if answer else None)
        parts = rendered(first).parts if first is not None and first.file is None else ()
        if first is not None and len(parts) == 1:  # one passive text
            answer = [first] if first is not answer[0] else answer
        else:  # nothing to say, or not one text: everything by 客服消息
            first = None
        ours = await replies.settle(
            self.ctx, chat, key, answer, how=replies.DIRECT, direct=first, release=release
        )
        return TextReply(parts[0]) if ours and first is not None else None

    async def recover(self) -> int:
        """Pushes a dead process stored and did not finish: handled again, answered by 客服消息
        (unless that process had answered already). Returns how many."""
        if self.inbox is None:
            return 0
        await self.inbox.renew()
        claimed = await self.inbox.claim()
        for stored in claimed:
            try:
                push = push_from(stored.payload)
                chat, key = Address(Channel.WECHAT, push.openid), message_key(push)
                answer = await self.work(push)
                await replies.settle(
                    self.ctx, chat, key, answer, how=replies.LATE, release=_opens_window(push)
                )
                await self.inbox.finish(stored.key)
            except Exception as exc:
                log.exception("wechat: recovering %s failed", stored.key)
                await self.inbox.fail(stored.key, repr(exc))
        return len(claimed)

    async def on_late(self, push: wx.Inbound, reply: PassiveReply) -> None:
        """The endpoint answered "success" before `handle` was done: send the answer by 客服消息."""
        answer = self._answers.pop(push.idempotency_key, None)
        if not answer:
            return
        chat = Address(Channel.WECHAT, push.openid)
        key = message_key(push)
        await replies.reroute_late(self.ctx, chat, key)
        await replies.send_later(self.ctx, chat, key, answer, self.ctx.clock.now())

    def _remember(self, key: str, answer: list[Message]) -> None:
        self._answers[key] = answer
        while len(self._answers) > REMEMBERED:
            self._answers.popitem(last=False)

    # ---- what each push means --------------------------------------------------------------------

    async def work(self, push: wx.Inbound) -> list[Message]:
        """Hand the push to the core; the messages to answer with, in order."""
        if isinstance(push, wx.TextMessage):
            return (await self._text(push, push.content)).messages
        if isinstance(push, wx.VideoMessage):
            kind = wt.kind_name("shortvideo" if push.short else "video")
            return [Message(wt.unsupported(kind))]
        if isinstance(push, wx.UnknownMessage):
            return [Message(wt.unsupported(wt.kind_name(push.msg_type)))]
        media = _media(push)
        if media is not None:
            return (await self.router.media(self._inbound(push), media)).messages
        if isinstance(push, wx.SubscribeEvent | wx.ScanEvent):
            return [await self._start(push, push.scene)]
        if isinstance(push, wx.MenuClickEvent):
            return await self._menu(push)
        if isinstance(push, wx.UnsubscribeEvent):
            log.info("wechat: %s unfollowed; their records stay", push.openid)
        return []

    async def _text(self, push: wx.Inbound, text: str) -> Outcome:
        stripped = text.strip()
        if not stripped:
            return Outcome.of(Message(wt.empty_text()))
        if stripped in HELP_WORDS:
            return Outcome.of(Message(wt.help_text()))
        if stripped == wt.MENU_STATUS:  # the word without a number: say how, in plain words
            return Outcome.of(Message(wt.status_how()))
        inbound = self._inbound(push)
        short = len(stripped) < self.ctx.limits.min_chars
        if short and questions.choice_number(text) is None and parse(inbound, text) is None:
            async with self.ctx.sessions() as s:
                waiting = await held.pending(s, inbound.chat)
            if waiting:
                return Outcome()  # "查看": the held updates are the answer
        return await self.router.text(inbound, text)

    async def _start(self, push: wx.Inbound, scene: str | None) -> Message:
        return await self.router.intake.start(self._sender(push), scene or None, wt.welcome)

    async def _menu(self, push: wx.MenuClickEvent) -> list[Message]:
        if push.key == "HOWTO":
            return [Message(wt.how_to())]
        if push.key == "HELP":
            return [Message(wt.help_text())]
        if push.key == "STATUS":
            return [Message(wt.status_how())]
        word = MENU_WORDS.get(push.key)
        if word is None:
            return []
        return (await self._text(push, word)).messages

    # ---- conversions -----------------------------------------------------------------------------

    def _sender(self, push: wx.Inbound) -> Sender:
        return Sender(Channel.WECHAT, push.openid, first_name=wt.resident_name(push.openid))

    def _inbound(self, push: wx.Inbound) -> Inbound:
        sender = self._sender(push)
        return Inbound(
            sender=sender,
            chat=sender.private_chat,
            message_id=message_key(push),
            buttons=False,
            words_as_commands=True,
            sent_at=self._sent_at(push.create_time),
        )

    def _sent_at(self, create_time: int) -> datetime:
        """When the resident wrote, on the services' clock (tests may shift it).

        CreateTime has whole seconds; the push arrives after the message was written, so the
        arrival, capped to the end of that second, is the best estimate: a number typed just
        after a question arrived (in the same second) still answers that question.
        """
        now = self.ctx.clock.now()
        written = datetime.fromtimestamp(create_time, UTC) + (now - datetime.now(UTC))
        return max(written, min(now, written + timedelta(milliseconds=999)))


def _opens_window(push: wx.Inbound) -> bool:
    """Whether WeChat now accepts customer-service messages to this resident."""
    if isinstance(push, wx.Message):
        return True
    return isinstance(push, wx.SubscribeEvent | wx.ScanEvent | wx.MenuClickEvent)


def _media(push: wx.Inbound) -> Media | None:
    """Photos, voice, places and links join the resident's latest opinion; ids are kept, files
    are fetched only when staff ask (WeChat keeps them 3 days)."""
    if isinstance(push, wx.ImageMessage):
        return Media("photo", file_id=push.media_id)
    if isinstance(push, wx.VoiceMessage):
        return Media("voice", file_id=push.media_id, caption=push.recognition)
    if isinstance(push, wx.LocationMessage):
        return Media(
            "location", caption=push.label or None, latitude=push.latitude, longitude=push.longitude
        )
    if isinstance(push, wx.LinkMessage):
        return Media("link", caption=wt.link_caption(push.title, push.url))
    return None
