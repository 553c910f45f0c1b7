"""Sending owed messages through Telegram, with Bot API errors mapped to delivery outcomes."""

from __future__ import annotations

from typing import Any

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from handlers.common import markup_dict
from scheduler.delivery import Delivered, DeliveryResult, Permanent, Retry, Undeliverable


class TelegramOutbound:
    """Implements scheduler.delivery.Outbound with python-telegram-bot."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(
        self,
        chat_id: int,
        text: str,
        reply_markup: dict[str, Any] | None,
        photo: bytes | None = None,
    ) -> DeliveryResult:
        try:
            if photo is not None:
                msg = await self.bot.send_photo(
                    chat_id, photo, caption=text or None, reply_markup=markup_dict(reply_markup)
                )
            else:
                msg = await self.bot.send_message(
                    chat_id, text, reply_markup=markup_dict(reply_markup)
                )
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
        return Delivered(str(msg.message_id))
