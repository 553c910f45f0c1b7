"""What the intake use cases share: limits, validation, the receipt's actions, earlier answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import texts.resident as rt
from domain.channels import Address
from domain.lifecycle import TERMINAL, Status
from domain.message import Action, Actions, Message
from domain.states import PromptKind
from domain.text import meaningful_chars
from services.kernel.cards import OpinionView
from services.kernel.context import ServiceContext
from services.kernel.people import Person
from storage.models import Attachment, InboundMessage, Opinion, User
from storage.queries.intake import HANDLED

PAGE_SIZE = 5
PENDING_TTL = timedelta(hours=2)
ORPHAN_TTL = timedelta(hours=24)
OPEN_STATUSES = (Status.RECEIVED, Status.ASSIGNED, Status.IN_PROGRESS, Status.REOPENED)

# Casework's typed answers (progress note, reason, rating comment) are checked in the same
# transaction before a text is taken as a new opinion: a protocol, so intake imports no casework.
PromptHook = Callable[[AsyncSession, Person, Address, str, str], Awaitable[Message | None]]

__all__ = ["IntegrityError", "meaningful_chars"]


def receipt_actions(ctx: ServiceContext, op: OpinionView) -> Actions:
    sign = ctx.actions.encode
    row: list[Action] = [Action(rt.BTN_DETAIL, sign("o", "d", op.id))]
    if op.anonymous:
        row.append(Action(rt.BTN_REAL, sign("o", "a", op.id, 0)))
    else:
        row.append(Action(rt.BTN_ANON, sign("o", "a", op.id, 1)))
    rows: list[tuple[Action, ...]] = [tuple(row)]
    if op.status == Status.RECEIVED:
        rows.append((Action(rt.BTN_WITHDRAW, sign("o", "w", op.id)),))
    return tuple(rows)


def validate(ctx: ServiceContext, body: str) -> Message | None:
    limits = ctx.limits
    if meaningful_chars(body) == 0:
        return Message(rt.no_text_only_emoji())
    if len(body) > limits.max_chars:
        return Message(rt.too_long(len(body), limits.max_chars))
    if len(body) < limits.min_chars or meaningful_chars(body) < 2:
        return Message(rt.too_short(limits.min_chars))
    return None


def found(rows: Sequence[Any]) -> tuple[str, int] | None:
    """The first (kind, row id) of the tables that hold this message, if any does."""
    return next(((kind, int(row_id)) for kind, row_id in rows if row_id is not None), None)


async def already_handled(
    s: AsyncSession, ctx: ServiceContext, chat: Address, message_id: str
) -> Message | None:
    """The answer we gave when this very message was first handled, if it was."""
    params = {"src_channel": chat.channel.value, "chat": chat.id, "msg": message_id}
    rows = (await s.execute(HANDLED, params)).all()
    return await earlier_answer(s, ctx, found(rows))


async def is_stored(ctx: ServiceContext, chat: Address, message_id: str) -> bool:
    params = {"src_channel": chat.channel.value, "chat": chat.id, "msg": message_id}
    async with ctx.sessions() as s:
        return found((await s.execute(HANDLED, params)).all()) is not None


async def earlier_answer(
    s: AsyncSession, ctx: ServiceContext, where: tuple[str, int] | None
) -> Message | None:
    if where is None:
        return None
    kind, row_id = where
    if kind == "o":
        op = await s.get(Opinion, row_id)
        assert op is not None
        label = ctx.theme_label(op.theme)
        return Message(
            rt.receipt(op.ref_no, label, op.anonymous, duplicate_delivery=True),
            receipt_actions(ctx, op),
        )
    if kind == "i":
        inbound = await s.get(InboundMessage, row_id)
        if inbound is not None and inbound.reply:
            return Message.from_json(inbound.reply)
        return Message(rt.already_done())
    att = await s.get(Attachment, row_id)
    assert att is not None
    if att.opinion_id is None:
        return Message(rt.attachment_needs_text(rt.kind_label(att.kind)))
    parent = await s.get(Opinion, att.opinion_id)
    assert parent is not None
    return Message(rt.detail_added(parent.ref_no, rt.kind_label(att.kind)))


async def pending_opinion(s: AsyncSession, ctx: ServiceContext, user: User) -> Opinion | None:
    """The opinion the resident pressed 补充说明 for, if that was recent and still open."""
    if user.pending_action != PromptKind.DETAIL or user.pending_opinion_id is None:
        return None
    fresh = user.pending_since is not None and (ctx.clock.now() - user.pending_since <= PENDING_TTL)
    op = await s.get(Opinion, user.pending_opinion_id)
    if not fresh or op is None or op.status in TERMINAL or op.resident_id != user.id:
        user.pending_action = None
        user.pending_opinion_id = None
        return None
    return op


async def after_race(ctx: ServiceContext, chat: Address, message_id: str) -> Message:
    """Another instance handled the same update at the same moment: answer as it did."""
    async with ctx.sessions.begin() as s:
        done = await already_handled(s, ctx, chat, message_id)
    if done is None:
        raise RuntimeError("unique conflict without a stored row")
    return done
