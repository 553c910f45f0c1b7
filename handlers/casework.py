"""Casework handlers: set-up commands, triage/task/extension/rating buttons, typed answers."""

from __future__ import annotations

from telegram import ForceReply, Message, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

import texts.common as ct
from handlers.common import answer, markup, sender_of, services
from services.callbacks import decode
from services.casework import ButtonResult
from services.types import Reply
from texts import esc


def _args(context: ContextTypes.DEFAULT_TYPE) -> str:
    return " ".join(context.args or []).strip()


async def add_staff(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    if msg is None or msg.from_user is None:
        return
    target = msg.reply_to_message.from_user if msg.reply_to_message else None
    arg = _args(context)
    tg_id = target.id if target else (int(arg) if arg.isdigit() else None)
    name = None if tg_id is not None else (arg or None)
    reply = await services(context).casework.add_staff(sender_of(msg.from_user), tg_id, name)
    await answer(msg, reply)


async def invite(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    if msg is None or msg.from_user is None:
        return
    unit = _args(context) or None
    reply = await services(context).casework.create_invite(sender_of(msg.from_user), unit, None)
    await answer(msg, reply)


async def join(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    if msg is None or msg.from_user is None:
        return
    reply = await services(context).casework.join(sender_of(msg.from_user), _args(context))
    await answer(msg, reply)


async def group_add(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _unit_add(update, context, "group")


async def dept_add(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _unit_add(update, context, "department")


async def _unit_add(update: Update, context: ContextTypes.DEFAULT_TYPE, kind: str) -> None:
    msg = update.effective_message
    if msg is None or msg.from_user is None:
        return
    reply = await services(context).casework.add_unit(
        sender_of(msg.from_user), kind, _args(context)
    )
    await answer(msg, reply)


async def units(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    if msg is None or msg.from_user is None:
        return
    await answer(msg, await services(context).casework.list_units(sender_of(msg.from_user)))


async def bind(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    if msg is None or msg.from_user is None:
        return
    if msg.chat.type not in ("group", "supergroup"):
        await answer(msg, Reply("请在工作组的群里发送 /bind 组名。"))
        return
    name = _args(context)
    if not name:
        await answer(msg, Reply("请写上组名，例如：/bind 医养结合专题组"))
        return
    reply = await services(context).casework.bind_unit_chat(
        sender_of(msg.from_user), msg.chat_id, name
    )
    await answer(msg, reply)


async def tasks(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    if msg is None or msg.from_user is None:
        return
    await answer(msg, await services(context).casework.my_tasks(sender_of(msg.from_user)))


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Scopes t (triage), k (task), x (extension), r (rating)."""
    query = update.callback_query
    if query is None:
        return
    cb = decode(query.data)
    if cb is None or not cb.args:
        await query.answer(ct.BUTTON_EXPIRED, show_alert=True)
        return
    cw = services(context).casework
    sender = sender_of(query.from_user)
    handlers = {
        "t": cw.triage_button,
        "k": cw.task_button,
        "x": cw.extension_button,
        "r": cw.rating_button,
    }
    handler = handlers.get(cb.scope)
    if handler is None:
        await query.answer(ct.BUTTON_EXPIRED, show_alert=True)
        return
    result = await handler(sender, cb.action, cb.args)
    await _apply(update, context, result)


async def _apply(update: Update, context: ContextTypes.DEFAULT_TYPE, result: ButtonResult) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer(result.toast, show_alert=result.alert)
    message = query.message if isinstance(query.message, Message) else None
    if result.edit is not None and message is not None:
        try:
            if result.edit.text:
                await message.edit_text(result.edit.text, reply_markup=markup(result.edit))
            else:
                await message.edit_reply_markup(reply_markup=markup(result.edit))
        except BadRequest as exc:
            if "not modified" not in str(exc):
                raise
    if result.prompt is not None:
        chat_id = message.chat_id if message is not None else query.from_user.id
        text = result.prompt.text
        reply_markup = markup(result.prompt)
        if reply_markup is None and message is not None and message.chat.type != "private":
            # Mention the presser so a selective ForceReply opens the reply box for them only.
            who = (
                f'<a href="tg://user?id={query.from_user.id}">{esc(query.from_user.first_name)}</a>'
            )
            text = f"{who} {text}"
            await context.bot.send_message(chat_id, text, reply_markup=ForceReply(selective=True))
        else:
            await context.bot.send_message(chat_id, text, reply_markup=reply_markup)


async def group_reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A reply in a group: the answer to a prompt (reason, note), or chatter we ignore."""
    msg = update.effective_message
    if msg is None or msg.from_user is None or msg.text is None:
        return
    reply = await services(context).casework.pending_text(
        sender_of(msg.from_user), msg.chat_id, msg.message_id, msg.text
    )
    if reply is not None:
        await answer(msg, reply)
