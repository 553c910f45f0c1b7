"""Shared glue between python-telegram-bot and the services."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update, User
from telegram.error import BadRequest, Forbidden
from telegram.ext import ContextTypes

import texts.common as ct
from services.types import Reply, Sender

if TYPE_CHECKING:
    from services.casework import CaseworkService
    from services.intake import IntakeService
    from services.ledger import LedgerService
    from services.meetings import MeetingService
    from services.reports import ReportsService
    from services.staff import StaffService

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What handlers can call; stored in bot_data at assembly."""

    intake: IntakeService
    staff: StaffService
    casework: CaseworkService
    meetings: MeetingService
    reports: ReportsService
    ledger: LedgerService


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    svc = context.bot_data["services"]
    assert isinstance(svc, Services)
    return svc


def sender_of(user: User) -> Sender:
    return Sender(
        tg_id=user.id,
        first_name=user.first_name or "",
        last_name=user.last_name,
        username=user.username,
    )


def markup(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in reply.buttons]
    )


def markup_dict(data: dict[str, Any] | None) -> InlineKeyboardMarkup | None:
    return None if data is None else InlineKeyboardMarkup.de_json(data, None)


async def answer(message: Message, reply: Reply) -> Message:
    """Send a service reply to the chat the message came from (parse_mode HTML by default)."""
    return await message.reply_text(reply.text, reply_markup=markup(reply))


async def edit_or_send(message: Message, reply: Reply) -> None:
    """Replace a bot message in place (paging); unchanged content is not an error."""
    try:
        await message.edit_text(reply.text, reply_markup=markup(reply))
    except BadRequest as exc:
        if "not modified" not in str(exc):
            raise


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log every failure; tell a private-chat user that their input is safe and to retry."""
    if isinstance(context.error, Forbidden):
        log.info("user blocked the bot: %s", context.error)
        return
    log.exception("error while handling an update", exc_info=context.error)
    if (
        isinstance(update, Update)
        and update.effective_chat
        and update.effective_chat.type == "private"
    ):
        try:
            await context.bot.send_message(update.effective_chat.id, ct.INTERNAL_ERROR)
        except Exception:  # the error path must not raise again
            log.warning("could not tell the user about the error", exc_info=True)
