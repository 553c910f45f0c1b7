"""Telegram out, for the person being answered: outcomes as replies, presses as callback
answers, edits in place and prompts (with ForceReply in groups)."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from functools import partial

from telegram import CallbackQuery, ForceReply, Message
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from domain.message import Message as Neutral
from domain.message import Rich, Span, Style
from handlers.telegram.render import CAPTION_LIMIT, TEXT_LIMIT, keyboard, keyboard_dict, render_html
from services.inbound.types import Outcome
from services.kernel.reply_gate import Replies
from services.kernel.results import ActionResult

log = logging.getLogger(__name__)


async def _deliver(
    context: ContextTypes.DEFAULT_TYPE,
    update_id: int | None,
    index: int,
    send: Callable[[], Awaitable[object]],
    *,
    last: bool,
) -> None:
    """Message `index` of the answer to update `update_id`: through the reply gate when the
    update came from the inbox (its key is the update_id as text), else sent directly."""
    gate = context.bot_data.get("replies")
    if not isinstance(gate, Replies) or update_id is None:
        await send()
    else:
        await gate.send(str(update_id), index, send, last=last)


async def send_outcome(
    msg: Message,
    context: ContextTypes.DEFAULT_TYPE,
    outcome: Outcome,
    update_id: int | None = None,
) -> None:
    """Text as a reply to the message (parse_mode HTML by default); files to the chat. Through
    the reply gate (services.kernel.reply_gate) when the update came from the inbox."""
    last = len(outcome.messages) - 1
    for index, item in enumerate(outcome.messages):
        send = partial(_send_one, msg, context, item)
        await _deliver(context, update_id, index, send, last=index == last)


async def _send_one(msg: Message, context: ContextTypes.DEFAULT_TYPE, item: Neutral) -> None:
    limit = TEXT_LIMIT if item.file is None else CAPTION_LIMIT
    text = render_html(item.text, limit)
    markup = keyboard(item.actions)
    if item.file is None:
        await msg.reply_text(text, reply_markup=markup)
    elif item.file.kind == "image":
        await context.bot.send_photo(
            chat_id=msg.chat_id,
            photo=item.data or b"",
            caption=text or None,
            reply_markup=markup,
        )
    else:
        await context.bot.send_document(
            chat_id=msg.chat_id,
            document=item.data or b"",
            filename=item.file.name or None,
            caption=text or None,
        )


def _unchanged(message: Message, edit: Neutral) -> bool:
    """The message already reads so (a double press): editing it would only earn a 400."""
    shown = message.reply_markup.to_dict() if message.reply_markup else None
    if shown != keyboard_dict(edit.actions):
        return False
    if not edit.text:
        return True
    current = message.text if message.text is not None else message.caption
    return (current or "").strip() == edit.text.plain.strip()


class EditMemory:
    """The last edit this process made to each recent message. A double press sends two
    queries that both carry the message as it was before the first edit: the second edit is
    recognised here and not sent (Telegram would refuse it: "message is not modified")."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._last: OrderedDict[tuple[int, int], object] = OrderedDict()

    def same(self, key: tuple[int, int], content: object) -> bool:
        return self._last.get(key) == content

    def remember(self, key: tuple[int, int], content: object) -> None:
        self._last[key] = content
        self._last.move_to_end(key)
        while len(self._last) > self.size:
            self._last.popitem(last=False)


def _memory(context: ContextTypes.DEFAULT_TYPE) -> EditMemory:
    found = context.bot_data.get("edit_memory")
    if not isinstance(found, EditMemory):
        found = context.bot_data["edit_memory"] = EditMemory()
    return found


async def _edit(message: Message, edit: Neutral, memory: EditMemory) -> None:
    """Replace a bot message in place; unchanged or too old to edit is not an error."""
    key = (message.chat_id, message.message_id)
    content = (render_html(edit.text) if edit.text else None, keyboard_dict(edit.actions))
    if _unchanged(message, edit) or memory.same(key, content):
        return
    try:
        if edit.text:
            await message.edit_text(render_html(edit.text), reply_markup=keyboard(edit.actions))
        else:
            await message.edit_reply_markup(reply_markup=keyboard(edit.actions))
        memory.remember(key, content)
    except BadRequest as exc:
        if "not modified" not in str(exc):
            log.warning("could not edit message %s: %s", message.message_id, exc)


async def answer_press(
    query: CallbackQuery,
    context: ContextTypes.DEFAULT_TYPE,
    result: ActionResult,
    update_id: int | None = None,
) -> None:
    await query.answer(result.toast, show_alert=result.alert)
    message = query.message if isinstance(query.message, Message) else None
    if result.edit is not None and message is not None:
        await _edit(message, result.edit, _memory(context))
    prompt = result.prompt
    if prompt is None:
        return
    send = partial(_send_prompt, query, context, None if result.private else message, prompt)
    await _deliver(context, update_id, 0, send, last=True)


async def _send_prompt(
    query: CallbackQuery,
    context: ContextTypes.DEFAULT_TYPE,
    message: Message | None,
    prompt: Neutral,
) -> None:
    """A prompt after a press: in the pressed message's chat, or privately (message None)."""
    markup = keyboard(prompt.actions)
    if message is None:
        await context.bot.send_message(query.from_user.id, render_html(prompt.text))
        return
    if markup is None and message.chat.type != "private":
        # Mention the presser so a selective ForceReply opens the reply box for them only.
        user = query.from_user
        mention = Span(user.first_name, Style.LINK, f"tg://user?id={user.id}")
        text = render_html(Rich((mention,)) + " " + prompt.text)
        await context.bot.send_message(
            message.chat_id, text, reply_markup=ForceReply(selective=True)
        )
        return
    await context.bot.send_message(message.chat_id, render_html(prompt.text), reply_markup=markup)
