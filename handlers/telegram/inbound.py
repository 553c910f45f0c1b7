"""Telegram updates in: the one guard (no message or no sender: nothing to do), the conversion
to a channel-neutral Inbound, and the handlers that hand it to services.inbound.Router."""

from __future__ import annotations

from telegram import (
    Message,
    MessageEntity,
    MessageOriginChannel,
    MessageOriginChat,
    MessageOriginHiddenUser,
    MessageOriginUser,
    Update,
    User,
)
from telegram.ext import ContextTypes

import texts.resident as rt
from domain.channels import Address, Channel, Sender
from domain.message import Message as Neutral
from handlers.telegram.replies import answer_press, send_outcome
from services.inbound.router import Router
from services.inbound.types import Inbound, Outcome
from services.intake import Media


def router(context: ContextTypes.DEFAULT_TYPE) -> Router:
    found = context.bot_data["router"]
    assert isinstance(found, Router)
    return found


def sender_of(user: User) -> Sender:
    return Sender(
        Channel.TELEGRAM,
        str(user.id),
        first_name=user.first_name or "",
        last_name=user.last_name,
        username=user.username,
    )


def chat_of(message: Message) -> Address:
    return Address(Channel.TELEGRAM, str(message.chat_id))


def _origin_name(msg: Message) -> str | None:
    origin = msg.forward_origin
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


def inbound_of(msg: Message | None) -> Inbound | None:
    """The guard, written once: updates without a message or a sender are not for us."""
    if msg is None or msg.from_user is None:
        return None
    replied = msg.reply_to_message
    return Inbound(
        sender=sender_of(msg.from_user),
        chat=chat_of(msg),
        message_id=str(msg.message_id),
        is_group=msg.chat.type != "private",
        addressed=replied is not None,
        sent_at=msg.date,
        reply_to=sender_of(replied.from_user) if replied and replied.from_user else None,
        forwarded_from=_origin_name(msg),
    )


def _media_of(msg: Message) -> Media | None:
    caption = msg.caption
    if msg.photo:
        big = msg.photo[-1]
        return Media("photo", big.file_id, big.file_unique_id, caption)
    for kind in ("document", "voice", "audio", "video"):
        item = getattr(msg, kind)
        if item is not None:
            return Media(kind, item.file_id, item.file_unique_id, caption)
    if msg.location:
        loc = msg.location
        return Media("location", caption=caption, latitude=loc.latitude, longitude=loc.longitude)
    return None


def _for_other_bot(msg: Message, username: str | None) -> bool:
    """`/cmd@OtherBot` in a group is not ours."""
    text = msg.text or ""
    head = text.split(maxsplit=1)[0] if text.split() else ""
    _, at, name = head.partition("@")
    return bool(at) and username is not None and name.lower() != username.lower()


def _is_command(msg: Message) -> bool:
    return any(e.type == MessageEntity.BOT_COMMAND and e.offset == 0 for e in msg.entities or ())


async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every new message: commands, texts, files; what is not handled gets its answer."""
    msg = update.effective_message
    if msg is not None and msg.migrate_to_chat_id is not None:  # group → supergroup
        new = Address(Channel.TELEGRAM, str(msg.migrate_to_chat_id))
        await router(context).chat_moved(chat_of(msg), new)
        return
    inbound = inbound_of(msg)
    if inbound is None or msg is None:
        return
    r = router(context)
    if msg.text is not None:
        if _is_command(msg) and _for_other_bot(msg, context.bot.username):
            return
        outcome = await r.text(inbound, msg.text)
    elif inbound.is_group:
        return
    elif msg.sticker or msg.animation:  # a GIF arrives as animation *and* document
        outcome = Outcome.of(Neutral(rt.sticker_reply()))
    elif (item := _media_of(msg)) is not None:
        outcome = await r.media(inbound, item)
    else:
        outcome = Outcome.of(Neutral(rt.unsupported_message()))
    await send_outcome(msg, context, outcome, update.update_id)


async def on_edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.edited_message
    inbound = inbound_of(msg)
    if inbound is None or msg is None or inbound.is_group:
        return
    new_text = msg.text if msg.text is not None else msg.caption
    if new_text is None:
        return
    edit_date = int(msg.edit_date.timestamp()) if msg.edit_date else int(msg.date.timestamp())
    outcome = await router(context).edit(inbound, new_text, edit_date)
    await send_outcome(msg, context, outcome, update.update_id)


async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None:
        return
    message = query.message if isinstance(query.message, Message) else None
    chat = (
        chat_of(message)
        if message is not None
        else Address(Channel.TELEGRAM, str(query.from_user.id))
    )
    inbound = Inbound(
        sender=sender_of(query.from_user),
        chat=chat,
        message_id=str(message.message_id) if message else "",
        is_group=message is not None and message.chat.type != "private",
    )
    result = await router(context).press(inbound, query.data)
    await answer_press(query, context, result, update.update_id)


async def on_my_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The bot's own membership changed: removed from a group is worth telling its admins."""
    change = update.my_chat_member
    if change is None or change.chat.type == "private":
        return
    if change.new_chat_member.status in ("left", "kicked"):
        await router(context).chat_left(Address(Channel.TELEGRAM, str(change.chat.id)))
