"""The receipt's actions: 补充说明, 匿名/实名, 撤回 (only the resident who wrote it may)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

import texts.resident as rt
import texts.staff as st
from domain.channels import Sender
from domain.lifecycle import TERMINAL, Action, IllegalTransition, Status, next_status
from domain.message import Message
from domain.states import EventKind, MessageKind, PromptKind
from services.intake.anonymity import withdraw_name
from services.intake.common import receipt_actions
from services.kernel import audit
from services.kernel.access import Actor, Need, actor
from services.kernel.context import ServiceContext
from services.kernel.notify import tell_staff
from storage.models import Opinion

# (a note to the resident, the receipt redrawn); None: not theirs to press.
Pair = tuple[Message, Message] | None


async def _own(
    s: AsyncSession, ctx: ServiceContext, sender: Sender, opinion_id: int
) -> tuple[Actor, Opinion] | None:
    who = await actor(s, ctx, sender)
    op = await s.get(Opinion, opinion_id)
    if op is None or not await who.allows(Need.OWNER, opinion=op):
        return None
    return who, op


async def ask_detail(ctx: ServiceContext, sender: Sender, opinion_id: int) -> Message | None:
    async with ctx.sessions.begin() as s:
        owned = await _own(s, ctx, sender, opinion_id)
        if owned is None:
            return None
        who, op = owned
        if op.status in TERMINAL:
            return Message(rt.edit_too_late(op.ref_no))
        who.user.pending_action = PromptKind.DETAIL
        who.user.pending_opinion_id = op.id
        who.user.pending_since = ctx.clock.now()
        return Message(rt.ask_detail(op.ref_no))


async def set_anonymous(
    ctx: ServiceContext, sender: Sender, opinion_id: int, anonymous: bool
) -> Pair:
    async with ctx.sessions.begin() as s:
        owned = await _own(s, ctx, sender, opinion_id)
        if owned is None:
            return None
        who, op = owned
        if op.status in TERMINAL:
            return Message(rt.edit_too_late(op.ref_no)), Message(actions=receipt_actions(ctx, op))
        seen: list[str] = []
        if op.anonymous != anonymous:
            if anonymous:
                seen = await withdraw_name(s, op)
            op.anonymous = anonymous
            kind = EventKind.ANONYMOUS if anonymous else EventKind.REAL_NAME
            audit.record(s, op, kind, who.id, ctx.clock.now(), keep_status=False)
        receipt = rt.receipt(op.ref_no, ctx.theme_label(op.theme), op.anonymous)
        note = rt.anonymous_from_now(op.ref_no, seen) if seen else None
        return (
            Message(note or rt.anonymity_set(op.ref_no, anonymous)),
            Message(receipt, receipt_actions(ctx, op)),
        )


async def withdraw(ctx: ServiceContext, sender: Sender, opinion_id: int) -> Pair:
    async with ctx.sessions.begin() as s:
        owned = await _own(s, ctx, sender, opinion_id)
        if owned is None:
            return None
        who, op = owned
        keep = Message(actions=())
        try:
            next_status(Action.WITHDRAW, Status(op.status))
        except IllegalTransition:
            keep = Message(actions=receipt_actions(ctx, op))
            if op.status == Status.WITHDRAWN:
                return Message(rt.withdrawn(op.ref_no)), keep
            return Message(rt.cannot_withdraw(op.ref_no, op.status)), keep
        now = ctx.clock.now()
        try:
            await audit.transition(s, op, Action.WITHDRAW, who.id, now)
        except IllegalTransition:
            keep = Message(actions=receipt_actions(ctx, op))
            return Message(rt.cannot_withdraw(op.ref_no, op.status)), keep
        ctx.duplicates.forget(op.station_id, op.id)
        note = Message(st.withdrawn(op.ref_no))
        key = f"staff:withdraw:{op.id}"
        await tell_staff(s, op.station_id, key, note, now, op.id, MessageKind.STAFF_WITHDRAW)
        return Message(rt.withdrawn(op.ref_no)), Message(actions=receipt_actions(ctx, op))
