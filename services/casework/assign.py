"""交办: choosing the assignee and the working-day deadline, and creating the task."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import texts.assignee as at
import texts.casework as kt
import texts.resident as rt
import texts.staff as st
from domain.lifecycle import Action, IllegalTransition
from domain.message import Action as Choice
from domain.message import Actions, Message, Rich
from domain.states import Role, TaskStatus
from domain.workdays import Deadline
from services.casework.duties import suggested_units
from services.casework.tasks import assignee_actions
from services.kernel import audit
from services.kernel.access import Actor
from services.kernel.context import ServiceContext
from services.kernel.notify import tell_assignee, tell_residents
from services.kernel.results import ActionResult, refused
from services.kernel.settings import policy_for
from storage.models import Opinion, Rating, StationRole, Task, Unit, UnitMember, User

DEADLINE_CHOICES = (3, 7, 15, 30)
DEFAULT_DEADLINE = 15
# KIND_PROXY: a unit nobody can receive, handled by the staff member who assigns (代办).
KIND_REP, KIND_UNIT, KIND_PROXY = 1, 2, 3


async def assignee_choices(s: AsyncSession, ctx: ServiceContext, op: Opinion) -> Actions:
    """Representatives and units to choose from; the units that best match the opinion (权责清单,
    past assignments) come first, each with its reason."""
    sign = ctx.actions.encode
    reps = (
        await s.execute(
            select(User)
            .join(StationRole, StationRole.user_id == User.id)
            .where(
                StationRole.station_id == op.station_id,
                StationRole.role == Role.REPRESENTATIVE,
            )
            .order_by(User.id)
        )
    ).scalars()
    units = (
        await s.execute(
            select(Unit).where(Unit.station_id == op.station_id, Unit.active).order_by(Unit.id)
        )
    ).scalars()
    suggested = await suggested_units(s, ctx, op)
    first = {u.id for u, _ in suggested}
    rows: list[tuple[Choice, ...]] = [
        (
            Choice(
                st.unit_suggested_label(u.kind, u.name, why.reason),
                sign("t", "to", op.id, KIND_UNIT, u.id),
            ),
        )
        for u, why in suggested
    ]
    rows += [
        (Choice(st.rep_label(r.display_name), sign("t", "to", op.id, KIND_REP, r.id)),)
        for r in reps
    ]
    rows += [
        (Choice(st.unit_label(u.kind, u.name), sign("t", "to", op.id, KIND_UNIT, u.id)),)
        for u in units
        if u.id not in first
    ]
    if not rows:
        rows.append((Choice(st.BTN_NO_ASSIGNEES, sign("t", "bk", op.id)),))
    rows.append((Choice(st.BTN_BACK, sign("t", "bk", op.id)),))
    return tuple(rows)


async def resolve_assignee(
    s: AsyncSession, station_id: int, kind: int, target: int
) -> tuple[str | None, User | None, Unit | None]:
    if kind == KIND_REP:
        rep = await s.get(User, target)
        role = (
            await s.execute(
                select(StationRole.role).where(
                    StationRole.station_id == station_id, StationRole.user_id == target
                )
            )
        ).scalar_one_or_none()
        if rep is None or role != Role.REPRESENTATIVE:
            return None, None, None
        return st.rep_label(rep.display_name), rep, None
    if kind in (KIND_UNIT, KIND_PROXY):
        unit = await s.get(Unit, target)
        if unit is None or unit.station_id != station_id or not unit.active:
            return None, None, None
        return unit.name, None, unit
    return None, None, None


async def unit_reachable(s: AsyncSession, unit: Unit) -> bool:
    """A unit receives its tasks in its bound chat, or its members see them in /tasks."""
    if unit.chat_id is not None:
        return True
    member = await s.execute(select(UnitMember.id).where(UnitMember.unit_id == unit.id).limit(1))
    return member.first() is not None


async def reopen_head(s: AsyncSession, op: Opinion) -> Rich | None:
    """For a case reopened after 不满意: the earlier outcome and the resident's comment."""
    if not op.reopen_count:
        return None
    last = (
        await s.execute(
            select(Task)
            .where(Task.opinion_id == op.id, Task.status == TaskStatus.CLOSED)
            .order_by(Task.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    comment = None
    if last is not None:
        comment = (
            await s.execute(
                select(Rating.comment).where(
                    Rating.task_id == last.id, Rating.user_id == op.resident_id
                )
            )
        ).scalar_one_or_none()
    return at.reopened_task(last.outcome if last else None, last.result if last else None, comment)


async def assign(
    s: AsyncSession,
    ctx: ServiceContext,
    who: Actor,
    op: Opinion,
    kind: int,
    target: int,
    days: int,
    case_kind: str | None = None,
) -> ActionResult:
    name, rep, unit = await resolve_assignee(s, op.station_id, kind, target)
    if name is None:
        return refused(st.card_gone())
    if kind == KIND_PROXY and unit is not None:
        rep, name = who.user, kt.proxy_label(unit.name, who.name)
    now = ctx.clock.now()
    today = now.astimezone(ctx.tz).date()
    deadline = ctx.calendar.add_workdays(today, days)
    policy = await policy_for(s, ctx, op.station_id)
    respond = ctx.calendar.add_workdays(today, policy.response_days).due
    try:
        await audit.transition(s, op, Action.ASSIGN, who.id, now, note=name, assigned_at=now)
    except IllegalTransition:
        return ActionResult((await audit.last_action_by(s, op, ctx.tz)).plain, alert=True)
    task = Task(
        opinion_id=op.id,
        station_id=op.station_id,
        assignee_user_id=rep.id if rep else None,
        assignee_unit_id=unit.id if unit else None,
        assigned_by_id=who.id,
        assigned_at=now,
        working_days=days,
        due_date=deadline.due,
        deadline_uncertain=not deadline.certain,
        status=TaskStatus.OPEN,
        case_kind=case_kind,
        respond_by=datetime.combine(respond, time(23, 59, 59), tzinfo=ctx.tz),
    )
    s.add(task)
    await s.flush()
    if unit is not None:
        ctx.routes.learn(op.station_id, op.text, unit.name)
    await _send_task(s, ctx, op, task, deadline, now)
    told = Message(rt.assigned(op.ref_no, name, deadline.due))
    await tell_residents(s, op, f"res:assigned:{task.id}", told, now)
    text = st.assigned_card(
        op.ref_no, ctx.theme_label(op.theme), op.text, name, deadline.due, days, who.name
    )
    if not deadline.certain:
        text = text + st.deadline_uncertain(sorted(deadline.uncertain_years))
    return ActionResult(toast=st.assigned_toast(name), edit=Message(text))


async def _send_task(
    s: AsyncSession, ctx: ServiceContext, op: Opinion, task: Task, deadline: Deadline, now: datetime
) -> None:
    """The new task's card to the assignee: the resident unless anonymous, and for a reopened case
    what was answered before."""
    resident = await s.get(User, op.resident_id) if op.resident_id else None
    shown = None if op.anonymous or resident is None else resident
    card = at.task_card(
        op.ref_no,
        ctx.theme_label(op.theme),
        op.text,
        shown.display_name if shown else None,
        shown.username if shown else None,
        deadline.due,
        task.working_days,
        not deadline.certain,
    )
    head = await reopen_head(s, op)
    if head is not None:
        card = head + "\n\n" + card
    actions = assignee_actions(ctx, task.id, acknowledged=False)
    await tell_assignee(s, task, f"task:new:{task.id}", Message(card, actions), now)
