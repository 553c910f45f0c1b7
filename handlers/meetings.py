"""Meeting, announcement and subscription commands."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from handlers.common import answer, sender_of, services
from services.types import Reply
from texts import meetings as tm


def _rest(update: Update) -> str:
    """The command's text after the command word, keeping '|' and line breaks."""
    msg = update.effective_message
    text = (msg.text or "") if msg else ""
    return text.split(maxsplit=1)[1] if len(text.split(maxsplit=1)) == 2 else ""


async def meeting(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    if msg is None or msg.from_user is None:
        return
    await answer(
        msg, await services(context).meetings.create(sender_of(msg.from_user), _rest(update))
    )


async def meetings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    if msg is None or msg.from_user is None:
        return
    await answer(msg, await services(context).meetings.list(sender_of(msg.from_user)))


async def meeting_edit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    if msg is None or msg.from_user is None:
        return
    parts = _rest(update).split(maxsplit=2)
    if len(parts) < 3 or not parts[0].lstrip("#").isdigit():
        await answer(msg, Reply(tm.edit_usage()))
        return
    reply = await services(context).meetings.edit(
        sender_of(msg.from_user), int(parts[0].lstrip("#")), parts[1], parts[2]
    )
    await answer(msg, reply)


async def meeting_cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    if msg is None or msg.from_user is None:
        return
    raw = _rest(update).strip().lstrip("#")
    if not raw.isdigit():
        await answer(msg, Reply(tm.edit_usage()))
        return
    await answer(msg, await services(context).meetings.cancel(sender_of(msg.from_user), int(raw)))


async def notify(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    if msg is None or msg.from_user is None:
        return
    await answer(
        msg, await services(context).meetings.announce(sender_of(msg.from_user), _rest(update))
    )


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    if msg is None or msg.from_user is None:
        return
    await answer(msg, await services(context).meetings.subscribe(sender_of(msg.from_user), True))


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    if msg is None or msg.from_user is None:
        return
    await answer(msg, await services(context).meetings.subscribe(sender_of(msg.from_user), False))
