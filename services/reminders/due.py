"""What the planner reads each tick: only rows whose next reminder moment has come, and the
chats of a batch of tasks in a few statements (not a lookup per task)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.channels import Address, Channel
from services.kernel.people import reach
from storage.models import Opinion, Station, Task, Unit, User


@dataclass(frozen=True, slots=True)
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
    next_remind_at: datetime | None  # the moment it was planned for

    def snapshot(self) -> tuple[object, ...]:
        """What the plan was made from, in storage.queries.clock.lock_tasks' order: the plan
        is written only if the task still reads the same."""
        return (
            self.id,
            self.status,
            self.due_date,
            self.assignee_user_id,
            self.assignee_unit_id,
            self.acknowledged_by_id,
            self.next_remind_at,
        )


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
        Task.next_remind_at,
    )
    .join(Opinion, Opinion.id == Task.opinion_id)
    .order_by(Task.next_remind_at)
)


async def due_tasks(s: AsyncSession, now: datetime, limit: int) -> list[DueTask]:
    """Tasks whose moment has come, earliest first (through ix_tasks_next_remind_at)."""
    conn = await s.connection()  # Core execution: none of the ORM's per-statement work
    rows = await conn.execute(_DUE_TASKS.where(Task.next_remind_at <= now).limit(limit))
    found = cast(list[tuple[Any, ...]], rows.all())
    return [DueTask(*row) for row in found]  # the columns in the fields' order


@dataclass(frozen=True)
class Directory:
    """Every unit's chat and name and every station's staff chat: a few dozen rows, read once
    per tick and shared by its batches."""

    units: dict[int, tuple[str, Address | None]]
    staff: dict[int, Address | None]

    @classmethod
    async def load(cls, s: AsyncSession) -> Directory:
        units = await s.execute(select(Unit.id, Unit.name, Unit.chat_channel, Unit.chat_id))
        stations = await s.execute(select(Station.id, Station.staff_channel, Station.staff_chat_id))
        return cls(
            units={i: (name, _address(ch, chat)) for i, name, ch, chat in units.all()},
            staff={i: _address(ch, chat) for i, ch, chat in stations.all()},
        )


def _address(channel: str | None, chat_id: str | None) -> Address | None:
    return None if channel is None or chat_id is None else Address(Channel(channel), chat_id)


@dataclass
class TaskChats:
    """Where tasks' reminders go, for one tick: units and staff chats known from the Directory,
    people (assignees, whoever signed for a unit) and their names read once each per tick, for
    the ids a batch brings that earlier batches did not."""

    directory: Directory
    people: dict[int, Address] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    known: set[int] = field(default_factory=set)

    @classmethod
    async def load(cls, s: AsyncSession) -> TaskChats:
        return cls(await Directory.load(s))

    async def add(self, s: AsyncSession, tasks: Sequence[DueTask]) -> None:
        """Read the people of `tasks` this tick has not read yet (usually none: a station's
        tasks go to a dozen representatives and units)."""
        ids = {t.assignee_user_id for t in tasks} | {t.acknowledged_by_id for t in tasks}
        new = sorted(i for i in ids if i is not None and i not in self.known)
        if not new:
            return
        self.known.update(new)
        self.people.update(await reach(s, new))  # blocked identities skipped
        users = await s.execute(select(User).where(User.id.in_(new)))
        self.names.update({u.id: u.display_name for u in users.scalars()})

    def staff(self, station_id: int) -> Address | None:
        return self.directory.staff.get(station_id)

    def chats(self, task: DueTask) -> list[Address]:
        """The assignee's private chat; a unit's bound chat and whoever signed for it."""
        chats: list[Address] = []
        if task.assignee_user_id is not None:
            found = self.people.get(task.assignee_user_id)
            if found is not None:
                chats.append(found)
        if task.assignee_unit_id is not None:
            unit = self.directory.units.get(task.assignee_unit_id)
            if unit is not None and unit[1] is not None:
                chats.append(unit[1])
            if task.acknowledged_by_id is not None:
                ack = self.people.get(task.acknowledged_by_id)
                if ack is not None and ack not in chats:
                    chats.append(ack)
        return chats

    def assignee_name(self, task: DueTask) -> str:
        if task.assignee_user_id is not None:
            return self.names.get(task.assignee_user_id, "—")
        unit = self.directory.units.get(task.assignee_unit_id) if task.assignee_unit_id else None
        return unit[0] if unit else "—"
