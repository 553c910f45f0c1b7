"""Ask the reminder planner to look at rows again on its next tick (tasks/meetings.next_remind_at).

The planner reads only rows whose moment has come; a change that alters who or when a reminder
goes to (a chat bound, a deadline moved) sets the moment to REPLAN_AT, which is always past.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.states import MeetingKind, TaskStatus
from storage.models import REPLAN_AT, Meeting, Task


async def replan_unit(s: AsyncSession, unit_id: int) -> None:
    """The unit's chat changed: its open tasks and active meetings are planned again."""
    await s.execute(
        update(Task)
        .where(Task.assignee_unit_id == unit_id, Task.status == TaskStatus.OPEN)
        .values(next_remind_at=REPLAN_AT)
        .execution_options(synchronize_session=False)
    )
    await s.execute(
        update(Meeting)
        .where(Meeting.unit_id == unit_id, Meeting.active)
        .values(next_remind_at=REPLAN_AT)
        .execution_options(synchronize_session=False)
    )


async def replan_receptions(s: AsyncSession, station_id: int | None) -> None:
    """A resident subscribed: a reception day already announced reaches them too."""
    await s.execute(
        update(Meeting)
        .where(
            Meeting.station_id == station_id,
            Meeting.active,
            Meeting.kind == MeetingKind.RECEPTION,
        )
        .values(next_remind_at=REPLAN_AT)
        .execution_options(synchronize_session=False)
    )
