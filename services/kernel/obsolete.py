"""What a claimed outbox row may no longer be owed: checked when the dispatcher claims it.

A task reminder (催办, 今天到期, 逾期通报) queued while the task was open is pointless once the
task was closed or bounced in between: the row is recorded as dropped, never sent.
"""

from __future__ import annotations

from sqlalchemy import select, update

from domain.states import OutboxStatus, TaskStatus
from services.kernel.context import ServiceContext
from services.kernel.outbox import Claimed
from storage.models import Outbox, Task

TASK_REMINDER = "remind:task:"


def task_of(key: str) -> int | None:
    """The task a reminder key names (`remind:task:<id>:…`), else None."""
    if not key.startswith(TASK_REMINDER):
        return None
    head = key[len(TASK_REMINDER) :].split(":", 1)[0]
    return int(head) if head.isdigit() else None


async def drop_obsolete(ctx: ServiceContext, rows: list[Claimed], owner: str) -> list[Claimed]:
    """Drop the claimed reminders whose task has moved on; return the rows still owed."""
    task_ids = {t for r in rows if (t := task_of(r.key)) is not None}
    if not task_ids:
        return rows
    async with ctx.sessions.begin() as s:
        open_ids = set(
            (
                await s.execute(
                    select(Task.id).where(Task.id.in_(task_ids), Task.status == TaskStatus.OPEN)
                )
            ).scalars()
        )
        gone = [r.id for r in rows if (t := task_of(r.key)) is not None and t not in open_ids]
        if gone:
            await s.execute(
                update(Outbox)
                .where(
                    Outbox.id.in_(gone),
                    Outbox.lease_owner == owner,
                    Outbox.status == OutboxStatus.SENDING,
                )
                .values(
                    status=OutboxStatus.DROPPED,
                    last_error="the task moved on before sending",
                    lease_until=None,
                )
            )
    dropped = set(gone)
    return [r for r in rows if r.id not in dropped]
