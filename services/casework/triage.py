"""Staff actions on a triage card (scope "t"): theme, assignment choices, duplicate, reject."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import texts.casework as kt
import texts.staff as st
from domain.casekind import suggest_kind
from domain.channels import Sender
from domain.lifecycle import OPEN_FOR_TRIAGE, Action, IllegalTransition
from domain.message import Action as Choice
from domain.message import Actions, Message, Rich
from domain.states import PromptKind
from services.casework.assign import (
    DEADLINE_CHOICES,
    KIND_PROXY,
    KIND_UNIT,
    assign,
    assignee_choices,
    unit_reachable,
)
from services.casework.merge import can_merge, merge_into
from services.kernel import audit
from services.kernel.access import Actor, Need, actor
from services.kernel.cards import duplicate_suggestions, triage_actions, triage_card
from services.kernel.context import ServiceContext
from services.kernel.policy import CASE_KINDS
from services.kernel.results import ActionResult, refused
from services.kernel.settings import policy_for
from storage.models import Opinion, ThemeCorrection, Unit
from texts.common import NOT_ALLOWED


@dataclass
class Press:
    """One triage press: who, on which opinion, with which extra arguments."""

    s: AsyncSession
    ctx: ServiceContext
    who: Actor
    op: Opinion
    args: tuple[int, ...]


Handler = Callable[[Press], Awaitable[ActionResult]]


async def triage_press(
    ctx: ServiceContext, sender: Sender, action: str, args: tuple[int, ...]
) -> ActionResult:
    """Every staff action on a triage card, checked once for the staff role."""
    async with ctx.sessions.begin() as s:
        who = await actor(s, ctx, sender)
        op = await s.get(Opinion, args[0]) if args else None
        if op is None:
            return refused(st.card_gone())
        if not await who.allows(Need.STAFF, station_id=op.station_id):
            return refused(NOT_ALLOWED)
        handler = HANDLERS.get((action, len(args)))
        if handler is None:
            return refused(st.card_gone())
        return await handler(Press(s, ctx, who, op, args))


async def _back(p: Press) -> ActionResult:
    duplicates = await duplicate_suggestions(p.s, p.ctx, p.op)
    return ActionResult(edit=Message(actions=triage_actions(p.ctx, p.op.id, duplicates)))


async def _confirm(p: Press) -> ActionResult:
    return await confirm_theme(p, None)


def _themes(ctx: ServiceContext) -> list[tuple[str, str]]:
    return [(t.id, t.name) for t in ctx.classifier.themes]


async def _theme_menu(p: Press) -> ActionResult:
    sign = p.ctx.actions.encode
    rows: Actions = (
        *tuple(
            (Choice(name, sign("t", "st", p.op.id, i)),)
            for i, (_, name) in enumerate(_themes(p.ctx))
        ),
        (Choice(st.BTN_BACK, sign("t", "bk", p.op.id)),),
    )
    return ActionResult(edit=Message(actions=rows))


async def _set_theme(p: Press) -> ActionResult:
    names = _themes(p.ctx)
    if not 0 <= p.args[1] < len(names):
        return refused(st.card_gone())
    return await confirm_theme(p, names[p.args[1]][0])


async def confirm_theme(p: Press, new_theme: str | None) -> ActionResult:
    op, now = p.op, p.ctx.clock.now()
    if op.status not in OPEN_FOR_TRIAGE:
        return ActionResult((await audit.last_action_by(p.s, op, p.ctx.tz)).plain, alert=True)
    old = op.theme
    if new_theme is not None and new_theme != old:
        p.s.add(
            ThemeCorrection(
                opinion_id=op.id,
                text=op.text,
                old_theme=old,
                new_theme=new_theme,
                by_id=p.who.id,
                at=now,
            )
        )
        op.theme = new_theme
    op.theme_confirmed = True
    op.needs_review = False
    audit.record(p.s, op, Action.RETHEME, p.who.id, now, f"{old}->{op.theme}")
    card = await triage_card(p.s, p.ctx, op)
    return ActionResult(toast=st.theme_set(p.ctx.theme_label(op.theme)), edit=card)


async def _assignees(p: Press) -> ActionResult:
    return ActionResult(edit=Message(actions=await assignee_choices(p.s, p.ctx, p.op)))


async def _deadlines(p: Press) -> ActionResult:
    sign = p.ctx.actions.encode
    kind, target = p.args[1], p.args[2]
    if kind == KIND_UNIT:
        unit = await p.s.get(Unit, target)
        if unit is not None and not await unit_reachable(p.s, unit):
            rows: Actions = (
                (Choice(kt.BTN_PROXY, sign("t", "to", p.op.id, KIND_PROXY, target)),),
                (Choice(st.BTN_BACK, sign("t", "as", p.op.id)),),
            )
            return ActionResult(
                kt.unit_unreachable(unit.name), alert=True, edit=Message(actions=rows)
            )
    return ActionResult(edit=Message(actions=await _kind_rows(p, kind, target)))


async def _kind_rows(p: Press, kind: int, target: int) -> Actions:
    """诉求类型 with their time limits, the likely one first (one tap); then a long limit."""
    sign = p.ctx.actions.encode
    policy = await policy_for(p.s, p.ctx, p.op.station_id)
    likely = suggest_kind(p.op.text)
    order = [likely, *(k for k in CASE_KINDS if k != likely)]
    kinds = [
        Choice(
            kt.kind_label(k, policy.limits[k], k == likely),
            sign("t", "dk", p.op.id, kind, target, CASE_KINDS.index(k)),
        )
        for k in order
    ]
    longest = max(DEADLINE_CHOICES)
    return (
        (kinds[0],),
        tuple(kinds[1:]),
        (
            Choice(
                st.deadline_label(longest, False), sign("t", "dl", p.op.id, kind, target, longest)
            ),
        ),
        (Choice(st.BTN_BACK, sign("t", "as", p.op.id)),),
    )


async def _assign(p: Press) -> ActionResult:
    """A deadline chosen in working days (cards from before kinds, and the long limit)."""
    if p.args[3] not in DEADLINE_CHOICES:
        return refused(st.card_gone())
    return await assign(p.s, p.ctx, p.who, p.op, p.args[1], p.args[2], p.args[3])


async def _assign_kind(p: Press) -> ActionResult:
    if not 0 <= p.args[3] < len(CASE_KINDS):
        return refused(st.card_gone())
    case_kind = CASE_KINDS[p.args[3]]
    days = (await policy_for(p.s, p.ctx, p.op.station_id)).limits[case_kind]
    return await assign(p.s, p.ctx, p.who, p.op, p.args[1], p.args[2], days, case_kind)


async def _ask(p: Press, what: PromptKind, text: Rich) -> ActionResult:
    if p.op.status not in OPEN_FOR_TRIAGE:
        return ActionResult((await audit.last_action_by(p.s, p.op, p.ctx.tz)).plain, alert=True)
    user = p.who.user
    user.pending_action = what
    user.pending_opinion_id = p.op.id
    user.pending_data = {}
    user.pending_since = p.ctx.clock.now()
    return ActionResult(toast=st.type_below(), prompt=Message(text))


async def _reject(p: Press) -> ActionResult:
    return await _ask(p, PromptKind.REJECT_REASON, st.ask_reject_reason(p.op.ref_no))


async def _duplicate(p: Press) -> ActionResult:
    return await _ask(p, PromptKind.DUP_REF, st.ask_duplicate_ref(p.op.ref_no))


async def _merge(p: Press) -> ActionResult:
    """One tap on "并入 LL-…": the suggested original, checked again (it may have closed)."""
    op = p.op
    if op.status not in OPEN_FOR_TRIAGE:
        return ActionResult((await audit.last_action_by(p.s, op, p.ctx.tz)).plain, alert=True)
    original = await p.s.get(Opinion, p.args[1])
    if original is None or not can_merge(op, original):
        return refused(st.card_gone())
    try:
        await merge_into(p.s, p.ctx, p.who.id, op, original)
    except IllegalTransition:
        return ActionResult((await audit.last_action_by(p.s, op, p.ctx.tz)).plain, alert=True)
    return ActionResult(
        toast=st.merged(op.ref_no, original.ref_no).plain,
        edit=Message(st.merged(op.ref_no, original.ref_no)),
    )


# (action, number of arguments including the opinion id) -> handler
HANDLERS: dict[tuple[str, int], Handler] = {
    ("bk", 1): _back,
    ("ok", 1): _confirm,
    ("th", 1): _theme_menu,
    ("st", 2): _set_theme,
    ("as", 1): _assignees,
    ("to", 3): _deadlines,
    ("dl", 4): _assign,
    ("dk", 4): _assign_kind,
    ("rj", 1): _reject,
    ("du", 1): _duplicate,
    ("mg", 2): _merge,
}


def shape_ok(action: str, args: tuple[Any, ...]) -> bool:
    return (action, len(args)) in HANDLERS
