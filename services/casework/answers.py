"""What each typed answer does (the handlers of casework.prompts.ANSWERS)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import texts.assignee as at
import texts.casework as kt
import texts.casework_resident as rk
import texts.resident as rt
import texts.staff as st
from domain.channels import Address
from domain.lifecycle import Action, IllegalTransition
from domain.message import Action as Choice
from domain.message import Message
from domain.refs import normalize_ref
from domain.states import (
    ExtensionStatus,
    MessageKind,
    Outcome,
    PromptKind,
    RatingValue,
    TaskStatus,
)
from services.casework.merge import can_merge, merge_into
from services.kernel import audit, edits, outbox
from services.kernel.access import Actor
from services.kernel.cards import triage_card
from services.kernel.casecard import staff_event
from services.kernel.context import ServiceContext
from services.kernel.notify import resident_chats, tell_residents, tell_staff
from services.kernel.people import staff_chat
from storage.models import Extension, Opinion, Rating, Station, Task

RATINGS = {1: RatingValue.SATISFIED, 2: RatingValue.BASIC, 3: RatingValue.UNSATISFIED}


@dataclass
class Answer:
    """A typed answer about to be applied: who, to which opinion, the prompt's data, the text."""

    s: AsyncSession
    ctx: ServiceContext
    who: Actor
    op: Opinion
    data: dict[str, Any]
    body: str
    chat: Address | None = None  # where the answer was typed
    message_id: str = ""  # the message that carried it

    @property
    def now(self) -> Any:
        return self.ctx.clock.now()

    @property
    def task(self) -> Task:
        task = self.data["_task"]
        assert isinstance(task, Task)
        return task


async def _refusal(a: Answer) -> Message:
    return Message(await audit.last_action_by(a.s, a.op, a.ctx.tz))


async def rating_comment(a: Answer) -> Message:
    task_id = int(a.data.get("task", 0))
    rating = (
        await a.s.execute(
            select(Rating).where(Rating.task_id == task_id, Rating.user_id == a.who.id)
        )
    ).scalar_one_or_none()
    optional = rating is not None and rating.value != RatingValue.UNSATISFIED
    if optional and len(a.body) >= DOUBT_CHARS:
        # A long text after an optional comment may be a new opinion: ask which it is.
        return await ask_comment_or_new(a, task_id)
    return await keep_comment(a.s, a.ctx, a.op, a.who.id, task_id, a.body, a.now)


DOUBT_CHARS = 30


async def keep_comment(
    s: AsyncSession,
    ctx: ServiceContext,
    op: Opinion,
    user_id: int,
    task_id: int,
    body: str,
    now: Any,
) -> Message:
    rating = (
        await s.execute(select(Rating).where(Rating.task_id == task_id, Rating.user_id == user_id))
    ).scalar_one_or_none()
    if rating is not None:
        rating.comment = body
    note = Message(st.rating_comment(op.ref_no, body))
    await staff_event(s, ctx, op, f"staff:comment:{task_id}:{user_id}", note, now)
    return Message(rk.comment_thanks_or_new())


async def ask_comment_or_new(a: Answer, task_id: int) -> Message:
    user = a.who.user
    user.pending_action = PromptKind.RATING_COMMENT
    user.pending_opinion_id = a.op.id
    user.pending_data = {"task": task_id, "doubt": a.body, "msg": a.message_id}
    user.pending_since = a.now
    sign = a.ctx.actions.encode
    actions = (
        (
            Choice(rk.BTN_IS_COMMENT, sign("rc", "c", task_id)),
            Choice(rk.BTN_IS_NEW, sign("rc", "n", task_id)),
        ),
    )
    return Message(rk.comment_or_new(a.op.ref_no), actions)


async def reject(a: Answer) -> Message:
    op, now = a.op, a.now
    try:
        await audit.transition(
            a.s, op, Action.REJECT, a.who.id, now, note=a.body, reject_reason=a.body
        )
    except IllegalTransition:
        return await _refusal(a)
    a.ctx.duplicates.forget(op.station_id, op.id)
    await tell_residents(
        a.s, op, f"res:rejected:{op.id}", Message(rt.rejected(op.ref_no, a.body)), now
    )
    station = await a.s.get(Station, op.station_id)
    if station is None or a.chat is None or staff_chat(station) != a.chat:
        # Answered elsewhere (in private): the staff group hears of it too.
        note = Message(st.rejected(op.ref_no, a.who.name, a.body))
        await tell_staff(a.s, op.station_id, f"staff:rejected:{op.id}", note, now, op.id)
    return Message(kt.rejected_done(op.ref_no, a.body))


async def merge(a: Answer) -> Message:
    op, now = a.op, a.now
    ref = normalize_ref(a.body)
    original = None
    if ref is not None:
        original = (
            await a.s.execute(
                select(Opinion).where(Opinion.station_id == op.station_id, Opinion.ref_no == ref)
            )
        ).scalar_one_or_none()
    if original is None or not can_merge(op, original):
        user = a.who.user
        user.pending_action = PromptKind.DUP_REF
        user.pending_opinion_id = op.id
        user.pending_since = now
        return Message(st.duplicate_ref_unknown(a.body[:40]))
    try:
        await merge_into(a.s, a.ctx, a.who.id, op, original)
    except IllegalTransition:
        return await _refusal(a)
    return Message(st.merged(op.ref_no, original.ref_no))


async def progress(a: Answer) -> Message:
    op, task, now = a.op, a.task, a.now
    try:
        await audit.transition(a.s, op, Action.PROGRESS, a.who.id, now, note=a.body)
    except IllegalTransition:
        return Message(at.ack_first_rich())
    n = await audit.count_events(a.s, op.id, Action.PROGRESS)
    told = Message(rt.progress(op.ref_no, a.body))
    await tell_residents(a.s, op, f"res:progress:{task.id}:{n}", told, now)
    note = Message(st.progress(op.ref_no, a.who.name, a.body))
    await staff_event(a.s, a.ctx, op, f"staff:progress:{task.id}:{n}", note, now)
    return Message(at.progress_sent(op.ref_no))


async def extension_reason(a: Answer) -> Message:
    from services.casework.tasks import EXTENSION_CHOICES

    op, task, now = a.op, a.task, a.now
    days = int(a.data.get("days", 0))
    if days not in EXTENSION_CHOICES:
        return Message(at.task_not_open_rich(op.ref_no))
    ext = Extension(
        task_id=task.id,
        days=days,
        reason=a.body,
        requested_by_id=a.who.id,
        requested_at=now,
        status=ExtensionStatus.PENDING,
    )
    a.s.add(ext)
    await a.s.flush()
    audit.record(a.s, op, Action.EXTEND, a.who.id, now, f"+{days}: {a.body}")
    sign = a.ctx.actions.encode
    actions = (
        (
            Choice(st.BTN_APPROVE, sign("x", "y", ext.id)),
            Choice(st.BTN_DENY, sign("x", "n", ext.id)),
        ),
    )
    text = st.extension_request(op.ref_no, a.who.name, days, a.body, task.due_date)
    await tell_staff(a.s, op.station_id, f"staff:ext:{ext.id}", Message(text, actions), now, op.id)
    return Message(at.extension_sent(op.ref_no, days))


async def bounce(a: Answer) -> Message:
    op, task, now = a.op, a.task, a.now
    try:
        await audit.transition(a.s, op, Action.BOUNCE, a.who.id, now, note=a.body)
    except IllegalTransition:
        return await _refusal(a)
    task.status = TaskStatus.BOUNCED
    task.bounce_reason = a.body
    task.closed_at = now
    await edits.close_card(a.s, f"task:new:{task.id}", "done", at.card_finished(task.status), now)
    task.next_remind_at = None
    card = await triage_card(a.s, a.ctx, op, st.bounced(op.ref_no, a.who.name, a.body))
    await tell_staff(a.s, op.station_id, f"staff:bounce:{task.id}", card, now, op.id)
    return Message(at.bounced(op.ref_no))


async def close(a: Answer) -> Message:
    op, task, now = a.op, a.task, a.now
    outcome = str(a.data.get("outcome", ""))
    if outcome not in Outcome.__members__:
        return Message(at.task_not_open_rich(op.ref_no))
    try:
        note = f"{outcome}: {a.body}"
        await audit.transition(a.s, op, Action.CLOSE, a.who.id, now, note=note, closed_at=now)
    except IllegalTransition:
        return await _refusal(a)
    a.ctx.duplicates.forget(op.station_id, op.id)
    task.status = TaskStatus.CLOSED
    task.outcome = outcome
    task.result = a.body
    task.closed_at = now
    task.closed_by_id = a.who.id
    await edits.close_card(a.s, f"task:new:{task.id}", "done", at.card_finished(task.status), now)
    task.next_remind_at = None
    await _ask_for_rating(a, outcome)
    note_staff = Message(st.closed(op.ref_no, a.who.name, outcome, a.body))
    await staff_event(a.s, a.ctx, op, f"staff:closed:{task.id}", note_staff, now)
    return Message(at.closed(op.ref_no))


RATING_REMINDER_AFTER_DAYS = 3


async def _ask_for_rating(a: Answer, outcome: str) -> None:
    """The resident (and co-signers) get the result with the rating choices, and a reminder."""
    from datetime import timedelta

    op, task, now = a.op, a.task, a.now
    if op.resident_id is None:  # 代录, not claimed: 回访 is a staff call
        from services.casework.calls import post_call_item

        await post_call_item(a.s, a.ctx, op, task, now)
    sign = a.ctx.actions.encode
    actions = (
        tuple(Choice(rt.RATING_LABELS[v], sign("r", "v", task.id, n)) for n, v in RATINGS.items()),
    )
    closed = rt.closed(op.ref_no, rk.OUTCOME_PLAIN[outcome], a.body)
    await tell_residents(a.s, op, f"res:closed:{task.id}", Message(closed, actions), now)
    reminder = Message(rt.rating_reminder(op.ref_no), actions)
    for uid, chat in await resident_chats(a.s, op):
        await outbox.enqueue(
            a.s,
            key=f"res:rate_reminder:{task.id}:u{uid}",
            to=chat,
            message=reminder,
            kind=MessageKind.RATING_REMINDER,
            due_at=now + timedelta(days=RATING_REMINDER_AFTER_DAYS),
            station_id=op.station_id,
            opinion_id=op.id,
        )
