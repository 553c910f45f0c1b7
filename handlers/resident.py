"""Resident-facing handlers: commands, opinions, attachments, edits and receipt buttons."""

from __future__ import annotations

import contextlib

from telegram import (
    Message,
    MessageOriginChannel,
    MessageOriginChat,
    MessageOriginHiddenUser,
    MessageOriginUser,
    Update,
)
from telegram.error import BadRequest
from telegram.ext import ContextTypes

import texts.common as ct
import texts.resident as rt
from handlers.common import answer, edit_or_send, markup, sender_of, services
from services.callbacks import decode
from services.intake import Media
from services.types import Reply


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    if msg is None or msg.from_user is None:
        return
    code = context.args[0] if context.args else None
    await answer(msg, await services(context).intake.start(sender_of(msg.from_user), code))


async def help_cmd(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message:
        await answer(update.effective_message, Reply(rt.help_text()))


async def my(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    if msg is None or msg.from_user is None:
        return
    await answer(msg, await services(context).intake.my_list(sender_of(msg.from_user), 1))


async def status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    if msg is None or msg.from_user is None:
        return
    raw = " ".join(context.args or [])
    await answer(msg, await services(context).intake.status(sender_of(msg.from_user), raw))


def _origin_name(update: Update) -> str | None:
    msg = update.effective_message
    origin = msg.forward_origin if msg else None
    if origin is None:
        return None
    if isinstance(origin, MessageOriginUser):
        return origin.sender_user.full_name
    if isinstance(origin, MessageOriginHiddenUser):
        return origin.sender_user_name
    if isinstance(origin, MessageOriginChat):
        return origin.sender_chat.title or "群组"
    if isinstance(origin, MessageOriginChannel):
        return origin.chat.title or "频道"
    return "转发"


async def text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    if msg is None or msg.from_user is None or msg.text is None:
        return
    reply = await services(context).intake.submit_text(
        sender_of(msg.from_user), msg.chat_id, msg.message_id, msg.text, _origin_name(update)
    )
    await answer(msg, reply)


def _media_of(update: Update) -> Media | None:
    msg = update.effective_message
    if msg is None:
        return None
    caption = msg.caption
    if msg.photo:
        big = msg.photo[-1]
        return Media("photo", big.file_id, big.file_unique_id, caption)
    if msg.document:
        return Media("document", msg.document.file_id, msg.document.file_unique_id, caption)
    if msg.voice:
        return Media("voice", msg.voice.file_id, msg.voice.file_unique_id, caption)
    if msg.audio:
        return Media("audio", msg.audio.file_id, msg.audio.file_unique_id, caption)
    if msg.video:
        return Media("video", msg.video.file_id, msg.video.file_unique_id, caption)
    if msg.location:
        return Media(
            "location",
            caption=caption,
            latitude=msg.location.latitude,
            longitude=msg.location.longitude,
        )
    return None


async def media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    item = _media_of(update)
    if msg is None or msg.from_user is None or item is None:
        return
    reply = await services(context).intake.submit_media(
        sender_of(msg.from_user), msg.chat_id, msg.message_id, item
    )
    await answer(msg, reply)


async def sticker(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message:
        await answer(update.effective_message, Reply(rt.sticker_reply()))


async def unsupported(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message:
        await answer(update.effective_message, Reply(rt.unsupported_message()))


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message:
        await answer(update.effective_message, Reply(rt.unknown_command()))


async def edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.edited_message
    if msg is None or msg.from_user is None:
        return
    new_text = msg.text if msg.text is not None else msg.caption
    if new_text is None:
        return
    edit_date = int(msg.edit_date.timestamp()) if msg.edit_date else int(msg.date.timestamp())
    reply = await services(context).intake.edit(
        sender_of(msg.from_user), msg.chat_id, msg.message_id, new_text, edit_date
    )
    if reply is not None:
        await msg.reply_text(reply.text, reply_markup=markup(reply))


async def group_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Resident commands sent in a group: point to the private chat."""
    if update.effective_message:
        await answer(update.effective_message, Reply(rt.group_hint()))


async def opinion_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Receipt buttons: o:d:<id> detail, o:a:<id>:<0|1> anonymity, o:w:<id> withdraw."""
    query = update.callback_query
    if query is None:
        return
    cb = decode(query.data)
    sender = sender_of(query.from_user)
    intake = services(context).intake
    if cb is None or cb.scope != "o" or not cb.args:
        await query.answer(ct.BUTTON_EXPIRED, show_alert=True)
        return
    opinion_id = cb.args[0]
    if cb.action == "d" and len(cb.args) == 1:
        reply = await intake.ask_detail(sender, opinion_id)
        if reply is None:
            await query.answer(ct.NOT_ALLOWED, show_alert=True)
            return
        await query.answer()
        await context.bot.send_message(query.from_user.id, reply.text)
        return
    if cb.action == "a" and len(cb.args) == 2 and cb.args[1] in (0, 1):
        pair = await intake.set_anonymous(sender, opinion_id, bool(cb.args[1]))
    elif cb.action == "w" and len(cb.args) == 1:
        pair = await intake.withdraw(sender, opinion_id)
    else:
        await query.answer(ct.BUTTON_EXPIRED, show_alert=True)
        return
    if pair is None:
        await query.answer(ct.NOT_ALLOWED, show_alert=True)
        return
    note, buttons = pair
    await query.answer()
    if isinstance(query.message, Message):
        # Unchanged or too old to edit: the note below still informs.
        with contextlib.suppress(BadRequest):
            if buttons.text:
                await query.message.edit_text(buttons.text, reply_markup=markup(buttons))
            else:
                await query.message.edit_reply_markup(reply_markup=markup(buttons))
    await context.bot.send_message(query.from_user.id, note.text)


async def my_page(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None:
        return
    cb = decode(query.data)
    if cb is None or cb.action != "p" or len(cb.args) != 1:
        await query.answer(ct.BUTTON_EXPIRED, show_alert=True)
        return
    reply = await services(context).intake.my_list(sender_of(query.from_user), cb.args[0])
    await query.answer()
    if isinstance(query.message, Message):
        await edit_or_send(query.message, reply)


async def stale_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any button we do not recognise (old keyboards, forged data): answer, change nothing."""
    if update.callback_query:
        await update.callback_query.answer(ct.BUTTON_EXPIRED, show_alert=True)
