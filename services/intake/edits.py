"""An edited message: a revision of the opinion it created."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import texts.resident as rt
import texts.staff as st
from domain.channels import Address, Sender
from domain.lifecycle import OPEN_FOR_TRIAGE, TERMINAL
from domain.message import Message
from domain.states import EventKind, MessageKind
from services.intake.common import validate
from services.kernel import audit
from services.kernel.context import ServiceContext
from services.kernel.notify import tell_staff
from services.kernel.people import upsert_user
from storage.models import Opinion, Revision


async def _source(s: AsyncSession, chat: Address, message_id: str) -> Opinion | None:
    return (
        await s.execute(
            select(Opinion).where(
                Opinion.src_channel == chat.channel.value,
                Opinion.src_chat_id == chat.id,
                Opinion.src_message_id == message_id,
            )
        )
    ).scalar_one_or_none()


async def _same_second(s: AsyncSession, opinion_id: int, edit_date: int) -> list[str]:
    """The texts of the revisions already stored for this opinion and this second."""
    found = await s.execute(
        select(Revision.new_text).where(
            Revision.opinion_id == opinion_id, Revision.edit_date == edit_date
        )
    )
    return list(found.scalars())


async def edit(
    ctx: ServiceContext,
    sender: Sender,
    chat: Address,
    message_id: str,
    new_text: str,
    edit_date: int,
) -> Message | None:
    """None: the edited message is not an opinion."""
    body = new_text.strip()
    async with ctx.sessions.begin() as s:
        await upsert_user(s, sender)
        op = await _source(s, chat, message_id)
        if op is None:
            return None
        if op.status in TERMINAL:
            return Message(rt.edit_too_late(op.ref_no))
        same_second = await _same_second(s, op.id, edit_date)
        if body in same_second or body == op.text:  # a re-delivery, or nothing changed
            return Message(rt.edit_recorded(op.ref_no))
    problem = validate(ctx, body)
    if problem is not None:
        return problem
    verdict = ctx.classifier.classify(body)
    async with ctx.sessions.begin() as s:
        op = await _source(s, chat, message_id)
        assert op is not None
        now = ctx.clock.now()
        # Telegram dates edits to the second: a second edit within it is numbered, not dropped.
        seq = len(await _same_second(s, op.id, edit_date))
        s.add(
            Revision(
                opinion_id=op.id, old_text=op.text, new_text=body, edit_date=edit_date, seq=seq
            )
        )
        audit.record(s, op, EventKind.EDIT, None, now, op.text, keep_status=False)
        old_text = op.text
        op.text = body
        if op.status in OPEN_FOR_TRIAGE and not op.theme_confirmed:
            op.theme = verdict.category
            op.theme_confidence = float(verdict.confidence)
            op.theme_terms = list(verdict.terms)
            op.needs_review = bool(verdict.needs_review)
        if op.status in OPEN_FOR_TRIAGE:
            ctx.duplicates.add(op.station_id, op.id, body)
        note = Message(st.opinion_edited(op.ref_no, old_text, body))
        key = f"staff:edit:{op.id}:{edit_date}" + (f":{seq}" if seq else "")
        await tell_staff(s, op.station_id, key, note, now, op.id, MessageKind.STAFF_EDIT)
        return Message(rt.edit_recorded(op.ref_no))
