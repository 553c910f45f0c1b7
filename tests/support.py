"""Test helpers: people and chats on a channel, reading the outbox as text, and setting up the\ndatabase a real bot process (tests/botproc.py) then runs on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select

from domain.channels import Address, Channel, Sender
from domain.clock import Clock, SystemClock
from domain.message import Message, Style
from handlers.telegram.render import render_html
from services.casework import CaseworkService
from services.kernel.context import Classifier, ServiceContext
from services.meetings import MeetingService
from storage.db import make_engine, make_sessionmaker
from storage.models import Outbox


def tg(uid: int, first: str = "", last: str | None = None, username: str | None = None) -> Sender:
    """A Telegram user (their private chat has the same id)."""
    return Sender(Channel.TELEGRAM, str(uid), first, last, username)


def chat(chat_id: int | str, channel: Channel = Channel.TELEGRAM) -> Address:
    return Address(channel, str(chat_id))


def html(message: Message) -> str:
    """What Telegram users see: the message as the Telegram renderer writes it."""
    return render_html(message.text)


def code_in(message: Message) -> str:
    """The first <code> span (an invite code, a reference number)."""
    return next(s.text for s in message.text.spans if s.style is Style.CODE)


def payloads(message: Message) -> list[str]:
    """The actions' payloads without their signatures (`o:d:1`)."""
    return [a.payload.split(".")[0] for a in message.choices()]


async def bind_staff(ctx: ServiceContext, admin: Sender, chat_id: int) -> Message:
    return await CaseworkService(ctx).bind_staff_chat(admin, chat(chat_id), None)


async def outbox_messages(ctx: ServiceContext, to: Address | int | str) -> list[Message]:
    where = to if isinstance(to, Address) else chat(to)
    async with ctx.sessions() as s:
        rows = (
            await s.execute(
                select(Outbox.message, Outbox.file_data)
                .where(Outbox.channel == where.channel.value, Outbox.chat_id == where.id)
                .order_by(Outbox.id)
            )
        ).all()
    return [Message.from_json(m, data) for m, data in rows]


async def outbox_texts(ctx: ServiceContext, to: Address | int | str) -> list[str]:
    return [m.plain for m in await outbox_messages(ctx, to)]


async def user_id_of(ctx: ServiceContext, who: Sender) -> int:
    from storage.models import Identity

    async with ctx.sessions() as s:
        found = await s.execute(
            select(Identity.user_id).where(
                Identity.channel == who.channel.value, Identity.external_id == who.external_id
            )
        )
        return int(found.scalar_one())


@asynccontextmanager
async def services_on(
    url: str, classifier: Classifier, *admins: Sender, clock: Clock | None = None
) -> AsyncIterator[ServiceContext]:
    """The services on the database at `url`, outside the bot process: to set up what the process
    then finds, or to read what it left."""
    engine = make_engine(url)
    try:
        yield await ServiceContext(
            sessions=make_sessionmaker(engine),
            classifier=classifier,
            clock=clock or SystemClock(),
            admin_ids=frozenset(a.identity for a in admins),
        ).prepare()
    finally:
        await engine.dispose()


async def groups_with_notices(
    ctx: ServiceContext, admin: Sender, chats: Sequence[Address], notices: int
) -> None:
    """Working groups 组0, 组1, … bound to `chats`, and `notices` announcements to all of them."""
    cw = CaseworkService(ctx)
    for g, to in enumerate(chats):
        await cw.add_unit(admin, "group", f"组{g}")
        await cw.bind_unit_chat(admin, to, f"组{g}")
    meetings = MeetingService(ctx)
    for k in range(notices):
        reply = await meetings.announce(admin, f"全部 第{k}号通知：请按时报送台账。")
        assert "发送到" in reply.text


async def count_rows(url: str, what: Any) -> int:
    """How many rows of `what` (a model or table) the database at `url` holds."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as s:
            return int((await s.execute(select(func.count()).select_from(what))).scalar_one())
    finally:
        await engine.dispose()
