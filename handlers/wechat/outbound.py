"""WeChat out, for the outbox: customer-service messages (客服消息) while the resident's window
is open; after it closed, a template message (模板消息) as a pointer if the station configured
one, and the message itself is held until the resident writes again (scheduler.delivery.Held,
services.kernel.held). Nothing is dropped silently.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.channels import Address, Channel
from domain.clock import Clock, SystemClock
from domain.message import Message
from handlers.wechat.api import WeChatApi, WeChatError
from handlers.wechat.neutral import rendered
from handlers.wechat.outcomes import SendResult, WindowClosed
from handlers.wechat.templates import template_data
from scheduler.delivery import (
    ChannelLimits,
    Delivered,
    DeliveryResult,
    Held,
    Retry,
    Undeliverable,
)
from texts import wechat as texts

log = logging.getLogger(__name__)

# No per-second limit is documented for 客服消息 (500,000 a day); residents are private chats.
WECHAT_LIMITS = ChannelLimits(overall_per_second=50.0, group_per_minute=20, private_per_second=1)
REF_RE = re.compile(r"\b[A-Z]{1,8}-\d{4}-\d{5}\b")


class WeChatOutbound:
    """scheduler.delivery.OutboundChannel for the official account."""

    channel = Channel.WECHAT
    buttons = False

    def __init__(
        self,
        api: WeChatApi,
        tz: ZoneInfo,
        *,
        limits: ChannelLimits = WECHAT_LIMITS,
        clock: Clock | None = None,
    ) -> None:
        self.api = api
        self.tz = tz
        self.limits = limits
        self.clock = clock or SystemClock()

    def is_group(self, to: Address) -> bool:
        return False  # an official account only talks to one follower at a time

    async def send(self, to: Address, message: Message) -> DeliveryResult:
        result: SendResult = Delivered("")
        if message.file is not None and message.file.kind == "image" and message.data:
            result = await self._image(to.id, message)
            if not isinstance(result, Delivered):
                return await self._settle(to, message, result)
        for part in rendered(message).parts:
            result = await self.api.send_text(to.id, part)
            if not isinstance(result, Delivered):
                return await self._settle(to, message, result)
        assert isinstance(result, Delivered)
        return result

    async def _image(self, openid: str, message: Message) -> SendResult:
        name = (message.file.name if message.file else "") or "image.png"
        try:
            uploaded = await self.api.upload_media("image", message.data or b"", name, "image/png")
        except WeChatError as exc:
            return Retry(60.0, str(exc))
        return await self.api.send_image(openid, uploaded.media_id)

    async def _settle(self, to: Address, message: Message, result: SendResult) -> DeliveryResult:
        """A refusal: the window has closed → template pointer (if configured) and hold."""
        if not isinstance(result, WindowClosed):
            return result
        pointer = await self._template(to.id, message)
        if isinstance(pointer, Undeliverable):
            return pointer  # not following any more (43004): staff are told
        return Held(result.reason, notified=isinstance(pointer, Delivered))

    async def _template(self, openid: str, message: Message) -> SendResult | None:
        config = self.api.config
        purpose = "rating" if message.actions and config.template("rating") else "progress"
        spec = config.template(purpose)
        if spec is None:
            return None
        values = template_values(message, self.clock.now())
        try:
            data = template_data(spec, values, tz=self.tz)
        except ValueError as exc:
            log.error("wechat: template %s cannot carry this message: %s", purpose, exc)
            return None
        digest = hashlib.sha1((openid + repr(message.to_json())).encode()).hexdigest()
        result = await self.api.send_template(
            openid, spec.template_id, data, client_msg_id=digest[:32]
        )
        if not isinstance(result, Delivered):
            log.warning("wechat: template pointer to %s not sent: %s", openid, result)
        return result


def template_values(message: Message, now: datetime) -> dict[str, str | datetime]:
    """The values a template keyword may name (WECHAT_TEMPLATE_<PURPOSE>=ID;thing2=title,…)."""
    plain = message.plain
    ref = REF_RE.search(plain)
    first = next((line.strip() for line in plain.splitlines() if line.strip()), "")
    # "🏁 LL-2026-00001 已办结（A 已解决）。" → "已办结（A 已解决）": the ref has its own line
    first = re.sub(r"^\W+|[\s。：:]+$", "", REF_RE.sub("", first))
    return {
        "ref": ref.group(0) if ref else "-",
        "title": first or texts.template_title(),
        "status": texts.template_status(bool(message.actions)),
        "when": now,
        "hint": texts.template_hint(),
    }
