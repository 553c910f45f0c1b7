"""What the planner reads each tick: only rows whose next reminder moment has come, and the
chats of a batch of tasks in a few statements (not a lookup per task)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.channels import Address
from services.kernel.notify import unit_chat
from services.kernel.people import reach, staff_chat
from storage.models import Opinion, Station, Task, Unit, User


@dataclass(frozen=True)
class DueTask:
    id: int
    status: str
    station_id: int
    opinion_id: int
    assigned_at: datetime
    due_date: date
    assignee_user_id: int | None
    assignee_unit_id: int | None
    acknowledged_by_id: int | None
    ref_no: str
    text: str


_DUE_TASKS = (
    select(
        Task.id,
        Task.status,
        Task.station_id,
        Task.opinion_id,
        Task.assigned_at,
        Task.due_date,
        Task.assignee_user_id,
        Task.assignee_unit_id,
        Task.acknowledged_by_id,
        Opinion.ref_no,
        Opinion.text,
    )
    .join(Opinion, Opinion.id == Task.opinion_id)
    .order_by(Task.next_remind_at)
)


async def due_tasks(s: AsyncSession, now: datetime, limit: int) -> list[DueTask]:
    """Tasks whose moment has come, earliest first (through ix_tasks_next_remind_at)."""
    rows = await s.execute(_DUE_TASKS.where(Task.next_remind_at <= now).limit(limit))
    return [DueTask(*row) for row in rows.all()]


@dataclass
class TaskChats:
    """Where a batch of tasks' reminders go, loaded at once."""

    people: dict[int, Address]
    units: dict[int, Unit]
    staff: dict[int, Address | None]
    names: dict[int, str]

    @classmethod
    async def load(cls, s: AsyncSession, tasks: Sequence[DueTask]) -> TaskChats:
        people = {t.assignee_user_id for t in tasks} | {t.acknowledged_by_id for t in tasks}
        user_ids = sorted(i for i in people if i is not None)
        unit_ids = sorted({t.assignee_unit_id for t in tasks if t.assignee_unit_id is not None})
        station_ids = sorted({t.station_id for t in tasks})
        units = await _by_id(s, Unit, unit_ids)
        stations = await _by_id(s, Station, station_ids)
        names = {
            u.id: u.display_name
            for u in (await _by_id(s, User, [t.assignee_user_id for t in tasks])).values()
        }
        return cls(
            people=await reach(s, user_ids),  # blocked identities are skipped
            units=units,
            staff={sid: staff_chat(st) for sid, st in stations.items()},
            names=names,
        )

    def chats(self, task: DueTask) -> list[Address]:
        """The assignee's private chat; a unit's bound chat and whoever signed for it."""
        chats: list[Address] = []
        if task.assignee_user_id is not None:
            found = self.people.get(task.assignee_user_id)
            if found is not None:
                chats.append(found)
        if task.assignee_unit_id is not None:
            chat = unit_chat(self.units.get(task.assignee_unit_id))
            if chat is not None:
                chats.append(chat)
            if task.acknowledged_by_id is not None:
                ack = self.people.get(task.acknowledged_by_id)
                if ack is not None and ack not in chats:
                    chats.append(ack)
        return chats

    def assignee_name(self, task: DueTask) -> str:
        if task.assignee_user_id is not None:
            return self.names.get(task.assignee_user_id, "—")
        unit = self.units.get(task.assignee_unit_id) if task.assignee_unit_id else None
        return unit.name if unit else "—"


async def _by_id(s: AsyncSession, model: Any, ids: Iterable[int | None]) -> dict[int, Any]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = await s.execute(select(model).where(model.id.in_(wanted)))
    return {row.id: row for row in rows.scalars()}
