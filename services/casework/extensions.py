"""Staff decide an assignee's request for more time (scope "x": y approve, n deny)."""

from __future__ import annotations

from sqlalchemy import update

import texts.assignee as at
import texts.casework_resident as rk
import texts.staff as st
from domain.channels import Sender
from domain.message import Message
from domain.states import EventKind, ExtensionStatus
from services.kernel import audit
from services.kernel.access import Need, actor
from services.kernel.context import ServiceContext
from services.kernel.notify import tell_assignee, tell_residents
from services.kernel.results import ActionResult, refused
from storage.models import REPLAN_AT, Extension, Opinion, Task
from texts.common import NOT_ALLOWED

DECISIONS = {"y": ExtensionStatus.APPROVED, "n": ExtensionStatus.DENIED}


async def extension_press(
    ctx: ServiceContext, sender: Sender, action: str, args: tuple[int, ...]
) -> ActionResult:
    async with ctx.sessions.begin() as s:
        who = await actor(s, ctx, sender)
        ext = await s.get(Extension, args[0]) if len(args) == 1 else None
        task = await s.get(Task, ext.task_id) if ext else None
        if ext is None or task is None or action not in DECISIONS:
            return refused(st.card_gone())
        if not await who.allows(Need.STAFF, station_id=task.station_id):
            return refused(NOT_ALLOWED)
        op = await s.get(Opinion, task.opinion_id)
        assert op is not None
        now = ctx.clock.now()
        status = DECISIONS[action]
        done = await s.execute(
            update(Extension)
            .where(Extension.id == ext.id, Extension.status == ExtensionStatus.PENDING)
            .values(status=status, decided_by_id=who.id, decided_at=now)
        )
        if not getattr(done, "rowcount", 0):
            await s.refresh(ext)
            return refused(st.extension_already(ext.status))
        approved = status is ExtensionStatus.APPROVED
        if approved:
            new_due = ctx.calendar.add_workdays(task.due_date, ext.days)
            task.due_date = new_due.due
            task.next_remind_at = REPLAN_AT  # the reminders follow the new deadline
            task.deadline_uncertain = task.deadline_uncertain or not new_due.certain
        kind = EventKind.EXTENSION_APPROVED if approved else EventKind.EXTENSION_DENIED
        audit.record(s, op, kind, who.id, now, str(ext.days))
        told = Message(at.extension_decided(op.ref_no, approved, task.due_date))
        await tell_assignee(s, task, f"task:ext:{ext.id}", told, now)
        if approved:
            later = Message(rk.extended(op.ref_no, task.due_date))
            await tell_residents(s, op, f"res:extended:{ext.id}", later, now)
        decided = st.extension_decided(op.ref_no, approved, who.name, task.due_date)
        return ActionResult(toast=st.extension_done(approved), edit=Message(decided))


def shape_ok(action: str, args: tuple[int, ...]) -> bool:
    return action in DECISIONS and len(args) == 1
