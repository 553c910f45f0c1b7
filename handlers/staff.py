"""Staff handlers (binding for now; the triage card comes with casework)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from handlers.common import answer, sender_of, services
from services.types import Reply
from texts.staff import bind_only_group


async def bind_staff(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    if msg is None or msg.from_user is None:
        return
    if msg.chat.type not in ("group", "supergroup"):
        await answer(msg, Reply(bind_only_group()))
        return
    code = context.args[0] if context.args else None
    reply = await services(context).staff.bind_staff_chat(
        sender_of(msg.from_user), msg.chat_id, code
    )
    await answer(msg, reply)
