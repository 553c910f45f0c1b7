"""The assignee's actions on a task (scope "k"): 签收, and the prompts for 进展, 延期, 退回, 办结."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import texts.assignee as at
import texts.resident as rt
import texts.staff as st
from domain.channels import Sender
from domain.lifecycle import Action, IllegalTransition, Status
from domain.message import Action as Choice
from domain.message import Actions, Message, Rich
from domain.states import ExtensionStatus, Outcome, PromptKind, TaskStatus
from services.kernel import audit
from services.kernel.access import Actor, Need, actor
from services.kernel.casecard import staff_event
from services.kernel.context import ServiceContext
from services.kernel.notify import tell_residents
from services.kernel.results import ActionResult, refused
from storage.models import REPLAN_AT, Extension, Opinion, Task
from texts.common import NOT_ALLOWED

EXTENSION_CHOICES = (3, 7, 15)
OUTCOMES = {1: Outcome.A, 2: Outcome.B, 3: Outcome.C, 4: Outcome.D}


def assignee_actions(ctx: ServiceContext, task_id: int, *, acknowledged: bool) -> Actions:
    sign = ctx.actions.encode
    if not acknowledged:
        return (
            (Choice(at.BTN_ACK, sign("k", "ack", task_id)),),
            (Choice(at.BTN_BOUNCE, sign("k", "bo", task_id)),),
        )
    return (
        (
            Choice(at.BTN_PROGRESS, sign("k", "pr", task_id)),
            Choice(at.BTN_EXTEND, sign("k", "ex", task_id)),
        ),
        (
            Choice(at.BTN_BOUNCE, sign("k", "bo", task_id)),
            Choice(at.BTN_CLOSE, sign("k", "cl", task_id)),
        ),
    )


@dataclass
class Press:
    s: AsyncSession
    ctx: ServiceContext
    who: Actor
    task: Task
    op: Opinion
    args: tuple[int, ...]


Handler = Callable[[Press], Awaitable[ActionResult]]


async def task_press(
    ctx: ServiceContext, sender: Sender, action: str, args: tuple[int, ...]
) -> ActionResult:
    """Every action on a task message, checked once: the assignee, a member or staff."""
    async with ctx.sessions.begin() as s:
        who = await actor(s, ctx, sender)
        task = await s.get(Task, args[0]) if args else None
        if task is None:
            return refused(st.card_gone())
        if not await who.allows(Need.ASSIGNEE, task=task):
            return refused(NOT_ALLOWED)
        op = await s.get(Opinion, task.opinion_id)
        assert op is not None
        if task.status != TaskStatus.OPEN:
            return refused(at.task_not_open(op.ref_no))
        handler = HANDLERS.get((action, len(args)))
        if handler is None:
            return refused(st.card_gone())
        return await handler(Press(s, ctx, who, task, op, args))


async def ask(p: Press, what: PromptKind, data: dict[str, Any], text: Rich) -> ActionResult:
    user = p.who.user
    user.pending_action = what
    user.pending_opinion_id = p.op.id
    user.pending_data = {"task": p.task.id, **data}
    user.pending_since = p.ctx.clock.now()
    return ActionResult(toast=at.type_below(), prompt=Message(text))


async def _acknowledge(p: Press) -> ActionResult:
    task, op, now = p.task, p.op, p.ctx.clock.now()
    if task.acknowledged_at is not None:
        actions = assignee_actions(p.ctx, task.id, acknowledged=True)
        return ActionResult(at.already_acknowledged(op.ref_no), edit=Message(actions=actions))
    try:
        await audit.transition(p.s, op, Action.ACKNOWLEDGE, p.who.id, now)
    except IllegalTransition:
        return ActionResult((await audit.last_action_by(p.s, op, p.ctx.tz)).plain, alert=True)
    task.acknowledged_at = now
    task.acknowledged_by_id = p.who.id
    task.next_remind_at = REPLAN_AT  # whoever signed for a unit gets its reminders too
    await tell_residents(p.s, op, f"res:ack:{task.id}", Message(rt.acknowledged(op.ref_no)), now)
    note = Message(st.acknowledged(op.ref_no, p.who.name))
    await staff_event(p.s, p.ctx, op, f"staff:ack:{task.id}", note, now)
    return ActionResult(
        toast=at.acknowledged(op.ref_no, task.due_date),
        edit=Message(actions=assignee_actions(p.ctx, task.id, acknowledged=True)),
    )


async def _progress(p: Press) -> ActionResult:
    return await ask(p, PromptKind.PROGRESS, {}, at.ask_progress(p.op.ref_no))


async def _extension_pending(p: Press) -> bool:
    found = await p.s.execute(
        select(Extension.id).where(
            Extension.task_id == p.task.id, Extension.status == ExtensionStatus.PENDING
        )
    )
    return found.first() is not None


def _prompted(p: Press, what: PromptKind) -> dict[str, Any] | None:
    """The presser's pending prompt of kind `what` for this task, if any."""
    user = p.who.user
    data = user.pending_data or {}
    if user.pending_action == what and data.get("task") == p.task.id:
        return data
    return None


async def _extension_menu(p: Press) -> ActionResult:
    if await _extension_pending(p):
        return refused(at.extension_pending(p.op.ref_no))
    sign = p.ctx.actions.encode
    rows: Actions = (
        tuple(
            Choice(at.extend_label(d), sign("k", "exd", p.task.id, d)) for d in EXTENSION_CHOICES
        ),
    )
    return ActionResult(prompt=Message(at.choose_extension(p.op.ref_no), rows))


async def _extension_days(p: Press) -> ActionResult:
    days = p.args[1]
    if days not in EXTENSION_CHOICES:
        return refused(st.card_gone())
    # A second press on the menu (a stale keyboard) changes nothing.
    if await _extension_pending(p) or _prompted(p, PromptKind.EXTENSION_REASON) is not None:
        return refused(at.extension_pending(p.op.ref_no))
    text = at.ask_extension_reason(p.op.ref_no, days)
    result = await ask(p, PromptKind.EXTENSION_REASON, {"days": days}, text)
    return replace(result, edit=Message(at.extension_chosen(p.op.ref_no, days)))


async def _bounce(p: Press) -> ActionResult:
    return await ask(p, PromptKind.BOUNCE_REASON, {}, at.ask_bounce_reason(p.op.ref_no))


async def _close_menu(p: Press) -> ActionResult:
    if p.op.status != Status.IN_PROGRESS:
        return refused(at.ack_first())
    if _prompted(p, PromptKind.CLOSE_RESULT) is not None:  # choosing the category anew
        p.who.user.pending_action = None
        p.who.user.pending_data = None
    sign = p.ctx.actions.encode
    rows: Actions = tuple(
        (Choice(at.OUTCOME_LABELS[code], sign("k", "clo", p.task.id, n)),)
        for n, code in OUTCOMES.items()
    )
    return ActionResult(prompt=Message(at.choose_outcome(p.op.ref_no), rows))


async def _close_outcome(p: Press) -> ActionResult:
    if p.args[1] not in OUTCOMES:
        return refused(st.card_gone())
    if p.op.status != Status.IN_PROGRESS:
        return refused(at.ack_first())
    chosen = _prompted(p, PromptKind.CLOSE_RESULT)
    if chosen is not None:  # a stale keyboard: the category was chosen already
        return refused(at.outcome_already_chosen(p.op.ref_no, str(chosen.get("outcome"))))
    outcome = OUTCOMES[p.args[1]]
    text = at.ask_result(p.op.ref_no, outcome)
    result = await ask(p, PromptKind.CLOSE_RESULT, {"outcome": outcome.value}, text)
    return replace(result, edit=Message(at.outcome_chosen(p.op.ref_no, outcome)))


HANDLERS: dict[tuple[str, int], Handler] = {
    ("ack", 1): _acknowledge,
    ("pr", 1): _progress,
    ("ex", 1): _extension_menu,
    ("exd", 2): _extension_days,
    ("bo", 1): _bounce,
    ("cl", 1): _close_menu,
    ("clo", 2): _close_outcome,
}


def shape_ok(action: str, args: tuple[Any, ...]) -> bool:
    return (action, len(args)) in HANDLERS
