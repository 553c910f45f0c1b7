"""Typed answers: the text that follows a prompt (a reason, a note, a result, a comment).

`users.pending_action` says what the person's next text answers; ANSWERS maps each kind to its
handler. The message is recorded as consumed (with the reply given), so a re-delivery answers
the same and never falls through to intake as a new opinion.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import texts.assignee as at
from domain.channels import Address, Sender
from domain.message import Message, Rich
from domain.states import INTAKE_PROMPTS, PromptKind, TaskStatus
from services.casework import answers
from services.casework.answers import Answer
from services.kernel.access import Actor, Need
from services.kernel.context import ServiceContext
from services.kernel.people import Person, upsert_person
from services.kernel.settings import policy_for
from storage.models import InboundMessage, Opinion, Task, User
from texts.common import NOT_ALLOWED

MAX_INPUT = 2000


AnswerHandler = Callable[[Answer], Awaitable[Message]]


async def pending_text(
    ctx: ServiceContext, sender: Sender, chat: Address, message_id: str, text: str
) -> Message | None:
    """Text that answers a prompt; None when none is pending (then it is chatter or intake)."""
    try:
        async with ctx.sessions.begin() as s:
            person, _ = await upsert_person(s, sender)
            earlier = await earlier_reply(s, chat, message_id)
            if earlier is not None:
                return earlier if earlier.text else None
            return await answer_prompt(s, ctx, person, chat, message_id, text)
    except IntegrityError:
        return None


async def earlier_reply(s: AsyncSession, chat: Address, message_id: str) -> Message | None:
    row = (
        await s.execute(
            select(InboundMessage.reply).where(
                InboundMessage.channel == chat.channel.value,
                InboundMessage.chat_id == chat.id,
                InboundMessage.message_id == message_id,
            )
        )
    ).first()
    if row is None:
        return None
    return Message.from_json(row[0]) if row[0] else Message()


async def answer_prompt(
    s: AsyncSession,
    ctx: ServiceContext,
    person: Person,
    chat: Address,
    message_id: str,
    text: str,
) -> Message | None:
    """Inside the caller's transaction: apply `text` to the person's pending prompt, if any."""
    user = person.user
    what = user.pending_action
    if what is None or what in INTAKE_PROMPTS:
        return None
    if what == PromptKind.RATING_COMMENT and await comment_lapsed(s, ctx, user):
        # Days after a rating, a text is a new opinion, not a comment on the old case.
        user.pending_action = None
        user.pending_opinion_id = None
        user.pending_data = None
        return None
    if _expired(ctx, user.pending_since):
        stale = _expire(user)
        if stale is not None:
            _consumed(s, ctx, chat, message_id, what, stale)
        return stale
    body = text.strip()
    if not body:
        return Message(at.empty_input())
    if len(body) > MAX_INPUT:
        return Message(at.input_too_long(len(body)))
    data = dict(user.pending_data or {})
    op = await s.get(Opinion, user.pending_opinion_id) if user.pending_opinion_id else None
    user.pending_action = None
    user.pending_opinion_id = None
    user.pending_data = None
    if op is None:
        return None
    answer = Answer(s, ctx, Actor(s, ctx, person), op, data, body, chat, message_id)
    reply = await apply(PromptKind(what), answer)
    _consumed(s, ctx, chat, message_id, what, reply)
    return reply


def _consumed(
    s: AsyncSession, ctx: ServiceContext, chat: Address, message_id: str, what: str, reply: Message
) -> None:
    """The message answered a prompt: a re-delivery gets the same reply, nothing more."""
    s.add(
        InboundMessage(
            channel=chat.channel.value,
            chat_id=chat.id,
            message_id=message_id,
            kind=what,
            reply=reply.to_json(),
            at=ctx.clock.now(),
        )
    )


def _expired(ctx: ServiceContext, since: datetime | None) -> bool:
    return since is None or ctx.clock.now() - since > ctx.limits.prompt_ttl


def _expire(user: User) -> Message | None:
    """A stale prompt is dropped; the text is not taken as its answer.

    A resident's optional rating comment simply lapses (the text goes on as usual: an opinion);
    a staff or assignee prompt says so, and the text is not used for anything.
    """
    what = PromptKind(user.pending_action) if user.pending_action else None
    user.pending_action = None
    user.pending_opinion_id = None
    user.pending_data = None
    if what is None or what is PromptKind.RATING_COMMENT:
        return None
    return Message(at.prompt_expired(PROMPT_NAMES.get(what, "")))


PROMPT_NAMES = {
    PromptKind.REJECT_REASON: "不予受理",
    PromptKind.DUP_REF: "合并重复",
    PromptKind.PROGRESS: "反馈进展",
    PromptKind.EXTENSION_REASON: "申请延期",
    PromptKind.BOUNCE_REASON: "退回",
    PromptKind.CLOSE_RESULT: "办结",
}


async def comment_lapsed(s: AsyncSession, ctx: ServiceContext, user: User) -> bool:
    """The station's rating-comment window (CaseworkPolicy.comment_window) has passed."""
    since = user.pending_since
    if since is None:
        return True
    op = await s.get(Opinion, user.pending_opinion_id) if user.pending_opinion_id else None
    window = ctx.casework.comment_window
    if op is not None:
        window = (await policy_for(s, ctx, op.station_id)).comment_window
    return ctx.clock.now() - since > window


async def apply(what: PromptKind, a: Answer) -> Message:
    """Check the right for this kind of answer once, then run its handler."""
    need, handler = ANSWERS[what]
    if need is Need.STAFF:
        if not await a.who.allows(Need.STAFF, station_id=a.op.station_id):
            return Message(Rich.plain_text(NOT_ALLOWED))
        return await handler(a)
    if need is Need.ASSIGNEE:
        task = await a.s.get(Task, int(a.data.get("task", 0)))
        if task is None or not await a.who.allows(Need.ASSIGNEE, task=task):
            return Message(Rich.plain_text(NOT_ALLOWED))
        if task.status != TaskStatus.OPEN:
            return Message(Rich.plain_text(at.task_not_open(a.op.ref_no)))
        a.data["_task"] = task
    return await handler(a)


ANSWERS: dict[PromptKind, tuple[Need, AnswerHandler]] = {
    PromptKind.RATING_COMMENT: (Need.RESIDENT, answers.rating_comment),
    PromptKind.REJECT_REASON: (Need.STAFF, answers.reject),
    PromptKind.DUP_REF: (Need.STAFF, answers.merge),
    PromptKind.PROGRESS: (Need.ASSIGNEE, answers.progress),
    PromptKind.EXTENSION_REASON: (Need.ASSIGNEE, answers.extension_reason),
    PromptKind.BOUNCE_REASON: (Need.ASSIGNEE, answers.bounce),
    PromptKind.CLOSE_RESULT: (Need.ASSIGNEE, answers.close),
}
