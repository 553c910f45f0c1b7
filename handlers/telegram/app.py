"""Which Telegram update goes where: one handler per kind of update, each with the guard built
in (handlers.telegram.inbound.inbound_of); the commands themselves are routed channel-neutrally
by services.inbound."""

from __future__ import annotations

import logging

from telegram import BotCommand, BotCommandScopeAllPrivateChats, Message, Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

import texts.common as ct
from handlers.telegram.inbound import (
    chat_of,
    on_edited,
    on_message,
    on_my_member,
    on_press,
    router,
)
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
    app.add_handler(ChatMemberHandler(on_my_member, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_error_handler(on_error)


async def publish_commands(app: Application) -> None:  # type: ignore[type-arg]
    await app.bot.set_my_commands(RESIDENT_COMMANDS, scope=BotCommandScopeAllPrivateChats())


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log every failure; tell the person, truthfully, whether what they sent is kept."""
    if isinstance(context.error, Forbidden):
        log.info("user blocked the bot: %s", context.error)
        return
    log.exception("error while handling an update", exc_info=context.error)
    if not isinstance(update, Update):
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(ct.INTERNAL_ERROR_PRESS, show_alert=True)
            return
        chat, msg = update.effective_chat, update.effective_message
        if chat is None or chat.type != "private" or msg is None:
            return
        if await _kept(context, msg):
            text = ct.INTERNAL_ERROR
        elif isinstance(context.error, BadRequest):  # the inbox does not try these again
            text = ct.INTERNAL_ERROR_NOT_KEPT
        else:  # the durable inbox handles the update again
            text = ct.INTERNAL_ERROR_RETRYING
        await context.bot.send_message(chat.id, text)
    except Exception:  # the error path must not raise again
        log.warning("could not tell the user about the error", exc_info=True)


async def _kept(context: ContextTypes.DEFAULT_TYPE, msg: Message) -> bool:
    """Whether the message is stored; when that cannot be known, it is not claimed."""
    try:
        return await router(context).intake.saved(chat_of(msg), str(msg.message_id))
    except Exception:
        log.warning("could not check whether message %s is stored", msg.message_id, exc_info=True)
        return False
