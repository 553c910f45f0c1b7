"""/tasks: the caller's open tasks (theirs and their units'), overdue first."""

from __future__ import annotations

from sqlalchemy import select

import texts.assignee as at
from domain.channels import Sender
from domain.message import Action, Message, Rich
from domain.states import TaskStatus
from services.kernel.access import actor
from services.kernel.context import ServiceContext
from storage.models import Opinion, Task, UnitMember


async def my_tasks(ctx: ServiceContext, sender: Sender) -> Message:
    async with ctx.sessions.begin() as s:
        who = await actor(s, ctx, sender)
        unit_ids = list(
            (
                await s.execute(select(UnitMember.unit_id).where(UnitMember.user_id == who.id))
            ).scalars()
        )
        cond = Task.assignee_user_id == who.id
        if unit_ids:
            cond = cond | Task.assignee_unit_id.in_(unit_ids)
        rows = (
            await s.execute(
                select(Task, Opinion)
                .join(Opinion, Opinion.id == Task.opinion_id)
                .where(cond, Task.status == TaskStatus.OPEN)
                .order_by(Task.due_date, Task.id)
            )
        ).all()
        if not rows:
            return Message(at.no_tasks())
        today = ctx.clock.now().astimezone(ctx.tz).date()
        lines: list[Rich] = [at.tasks_header(len(rows))]
        actions: list[tuple[Action, ...]] = []
        for task, op in rows:
            overdue = (
                ctx.calendar.workdays_between(task.due_date, today) if task.due_date < today else 0
            )
            lines.append(
                at.task_line(
                    op.ref_no, op.text, task.due_date, overdue, task.acknowledged_at is not None
                )
            )
            if task.acknowledged_at is None:
                payload = ctx.actions.encode("k", "ack", task.id)
                actions.append((Action(f"{at.BTN_ACK} {op.ref_no}", payload),))
        return Message(Rich.join("\n\n", lines), tuple(actions[:10]))
