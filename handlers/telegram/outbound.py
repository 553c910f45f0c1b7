"""Telegram out, for the outbox: a message rendered at send time, Bot API errors mapped to
delivery outcomes."""

from __future__ import annotations

from telegram import Bot
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from domain.channels import Address, Channel
from domain.message import Message
from handlers.telegram.render import CAPTION_LIMIT, TEXT_LIMIT, keyboard, render_html
from scheduler.delivery import (
    ChannelLimits,
    Delivered,
    DeliveryResult,
    Moved,
    Permanent,
    Retry,
    Undeliverable,
)

# 30 messages a second overall (the dispatcher stays a little under it: BULK_RATE_PER_SECOND),
# 20 a minute per group, 1 a second per private chat.
TELEGRAM_LIMITS = ChannelLimits(overall_per_second=28.0, group_per_minute=20, private_per_second=1)


class TelegramOutbound:
    """scheduler.delivery.OutboundChannel for Telegram, with python-telegram-bot."""

    channel = Channel.TELEGRAM
    buttons = True

    def __init__(self, bot: Bot, limits: ChannelLimits = TELEGRAM_LIMITS) -> None:
        self.bot = bot
        self.limits = limits

    def is_group(self, to: Address) -> bool:
        """Telegram group and channel ids are negative; private chats are the user's id."""
        return to.id.startswith("-")

    async def send(self, to: Address, message: Message) -> DeliveryResult:
        limit = TEXT_LIMIT if message.file is None else CAPTION_LIMIT
        text = render_html(message.text, limit)
        markup = keyboard(message.actions)
        try:
            if message.file is not None and message.file.kind == "image":
                sent = await self.bot.send_photo(
                    to.id, message.data or b"", caption=text or None, reply_markup=markup
                )
            elif message.file is not None:
                sent = await self.bot.send_document(
                    to.id,
                    message.data or b"",
                    filename=message.file.name or None,
                    caption=text or None,
                )
            else:
                sent = await self.bot.send_message(to.id, text, reply_markup=markup)
        except ChatMigrated as exc:
            return Moved(Address(Channel.TELEGRAM, str(exc.new_chat_id)))
        except RetryAfter as exc:
            delay = exc.retry_after
            seconds = delay if isinstance(delay, int | float) else delay.total_seconds()
            return Retry(float(seconds), f"429 retry after {seconds}")
        except Forbidden as exc:
            return Undeliverable(str(exc))
        except BadRequest as exc:
            if "chat not found" in str(exc).lower():
                return Undeliverable(str(exc))
            return Permanent(str(exc))
        except (TimedOut, NetworkError) as exc:
            return Retry(5.0, f"network: {exc}")
        return Delivered(str(sent.message_id))

    async def edit(self, to: Address, message_id: str, message: Message) -> DeliveryResult:
        """Replace an earlier message's text and keyboard (an outbox edit row)."""
        markup = keyboard(message.actions)
        try:
            if message.text:
                await self.bot.edit_message_text(
                    render_html(message.text),
                    chat_id=to.id,
                    message_id=int(message_id),
                    reply_markup=markup,
                )
            else:
                await self.bot.edit_message_reply_markup(
                    chat_id=to.id, message_id=int(message_id), reply_markup=markup
                )
        except RetryAfter as exc:
            delay = exc.retry_after
            seconds = delay if isinstance(delay, int | float) else delay.total_seconds()
            return Retry(float(seconds), f"429 retry after {seconds}")
        except Forbidden as exc:
            return Undeliverable(str(exc))
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return Delivered(message_id)
            return Permanent(str(exc))
        except (TimedOut, NetworkError) as exc:
            return Retry(5.0, f"network: {exc}")
        return Delivered(message_id)
