"""Which update goes to which handler. Order matters: first match in a group wins."""

from __future__ import annotations

from telegram import BotCommand, BotCommandScopeAllPrivateChats
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from handlers import casework, meetings, reports, resident, staff
from handlers.common import on_error

PRIVATE = filters.ChatType.PRIVATE
GROUPS = filters.ChatType.GROUPS
NEW = filters.UpdateType.MESSAGE

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


def register(app: Application) -> None:  # type: ignore[type-arg]
    add = app.add_handler
    add(CommandHandler("start", resident.start, filters=PRIVATE & NEW))
    add(CommandHandler("help", resident.help_cmd, filters=PRIVATE & NEW))
    add(CommandHandler("my", resident.my, filters=PRIVATE & NEW))
    add(CommandHandler("status", resident.status, filters=PRIVATE & NEW))
    add(CommandHandler("bind_staff", staff.bind_staff, filters=NEW))
    add(CommandHandler("add_staff", casework.add_staff, filters=NEW))
    add(CommandHandler("invite", casework.invite, filters=NEW))
    add(CommandHandler("join", casework.join, filters=PRIVATE & NEW))
    add(CommandHandler("group_add", casework.group_add, filters=NEW))
    add(CommandHandler("dept_add", casework.dept_add, filters=NEW))
    add(CommandHandler("units", casework.units, filters=NEW))
    add(CommandHandler("bind", casework.bind, filters=NEW))
    add(CommandHandler("tasks", casework.tasks, filters=NEW))
    add(CommandHandler("stats", reports.stats, filters=NEW))
    add(CommandHandler("briefing", reports.briefing, filters=NEW))
    add(CommandHandler("export", reports.export, filters=NEW))
    add(CommandHandler("meeting", meetings.meeting, filters=NEW))
    add(CommandHandler("meetings", meetings.meetings, filters=NEW))
    add(CommandHandler("meeting_edit", meetings.meeting_edit, filters=NEW))
    add(CommandHandler("meeting_cancel", meetings.meeting_cancel, filters=NEW))
    add(CommandHandler("notify", meetings.notify, filters=NEW))
    add(CommandHandler("subscribe", meetings.subscribe, filters=PRIVATE & NEW))
    add(CommandHandler("unsubscribe", meetings.unsubscribe, filters=PRIVATE & NEW))
    add(
        CommandHandler(
            ["start", "help", "my", "status"], resident.group_command, filters=GROUPS & NEW
        )
    )
    add(MessageHandler(PRIVATE & NEW & filters.COMMAND, resident.unknown_command))
    add(
        MessageHandler(
            GROUPS & NEW & filters.TEXT & filters.REPLY & ~filters.COMMAND, casework.group_reply
        )
    )
    add(MessageHandler(PRIVATE & NEW & filters.TEXT, resident.text))
    # A GIF arrives as animation *and* document: match it before the attachment handler.
    add(MessageHandler(PRIVATE & NEW & (filters.Sticker.ALL | filters.ANIMATION), resident.sticker))
    add(
        MessageHandler(
            PRIVATE
            & NEW
            & (
                filters.PHOTO
                | filters.Document.ALL
                | filters.VOICE
                | filters.AUDIO
                | filters.VIDEO
                | filters.LOCATION
            ),
            resident.media,
        )
    )
    add(MessageHandler(PRIVATE & filters.UpdateType.EDITED_MESSAGE, resident.edited))
    add(MessageHandler(PRIVATE & NEW, resident.unsupported))
    add(CallbackQueryHandler(resident.opinion_button, pattern=r"^o:"))
    add(CallbackQueryHandler(resident.my_page, pattern=r"^my:"))
    add(CallbackQueryHandler(casework.button, pattern=r"^[tkxr]:"))
    add(CallbackQueryHandler(resident.stale_button))
    app.add_error_handler(on_error)


async def publish_commands(app: Application) -> None:  # type: ignore[type-arg]
    await app.bot.set_my_commands(RESIDENT_COMMANDS, scope=BotCommandScopeAllPrivateChats())
