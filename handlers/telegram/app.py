"""Which Telegram update goes where: one handler per kind of update, each with the guard built
in (handlers.telegram.inbound.inbound_of); the commands themselves are routed channel-neutrally
by services.inbound."""

from __future__ import annotations

import logging

from telegram import BotCommand, BotCommandScopeAllPrivateChats, Update
from telegram.error import Forbidden
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

import texts.common as ct
from handlers.telegram.inbound import on_edited, on_message, on_press
from services.inbound.router import Router

log = logging.getLogger(__name__)

RESIDENT_COMMANDS = [
    BotCommand("start", "开始 / 使用说明"),
    BotCommand("my", "我提交的意见"),
    BotCommand("status", "按受理编号查询"),
    BotCommand("subscribe", "订阅代表接待日通知"),
    BotCommand("help", "帮助"),
]

REPRESENTATIVE_COMMANDS = [
    *RESIDENT_COMMANDS,
    BotCommand("tasks", "我的交办事项"),
    BotCommand("join", "用邀请码加入"),
]


def register(app: Application, router: Router) -> None:  # type: ignore[type-arg]
    app.bot_data["router"] = router
    app.add_handler(MessageHandler(filters.UpdateType.MESSAGE, on_message))
    app.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.UpdateType.EDITED_MESSAGE, on_edited)
    )
    app.add_handler(CallbackQueryHandler(on_press))
    app.add_error_handler(on_error)


async def publish_commands(app: Application) -> None:  # type: ignore[type-arg]
    await app.bot.set_my_commands(RESIDENT_COMMANDS, scope=BotCommandScopeAllPrivateChats())


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
