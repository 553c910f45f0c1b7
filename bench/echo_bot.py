"""A bare python-telegram-bot echo bot: the framework's own ceiling for bench/intake.py."""

from __future__ import annotations

import os
import sys

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message and update.effective_message.text:
        await update.effective_message.reply_text(update.effective_message.text)


def main() -> None:
    builder = Application.builder().token(os.environ["BOT_TOKEN"])
    builder = builder.base_url(os.environ["TELEGRAM_BASE_URL"])
    if len(sys.argv) > 1 and sys.argv[1] == "--concurrent":
        builder = builder.concurrent_updates(64)
    app = builder.build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling(allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
