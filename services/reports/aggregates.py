"""The numbers behind /stats and /briefing, counted by the database (GROUP BY, COUNT, AVG).

Nothing here loads an opinion or a task as an object: each function is one aggregate statement
over an index range of the period (migration 0004), and the only rows that come back are the
few overdue cases a message shows. `lo`/`hi` are the period's bounds (None: open-ended).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, cast, extract, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.lifecycle import Status
from domain.states import TaskStatus
from storage.models import Opinion, Rating, Station, Task, Unit, User
from storage.queries.ratings import is_final

AssigneeKey = tuple[int | None, int | None]  # (unit id, representative's user id)


@dataclass(frozen=True)
class OverdueRow:
    ref_no: str
    text: str
    key: AssigneeKey
    due_date: date


def within(column: Any, lo: datetime | None, hi: datetime | None) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if lo is not None:
        conds.append(column >= lo)
    if hi is not None:
        conds.append(column < hi)
    return conds


def days_between(s: AsyncSession, later: Any, earlier: Any) -> ColumnElement[Any]:
    """`later - earlier` in (fractional) days, as each engine computes it."""
    if s.get_bind().dialect.name == "postgresql":
        return cast(extract("epoch", later - earlier), Float) / 86400.0
    return func.julianday(later) - func.julianday(earlier)


async def received(
    s: AsyncSession, station_id: int, lo: datetime | None, hi: datetime | None
) -> list[tuple[str, str, int]]:
    """(theme, status, count) of the opinions received in the period."""
    rows = await s.execute(
        select(Opinion.theme, Opinion.status, func.count())
        .where(Opinion.station_id == station_id, *within(Opinion.created_at, lo, hi))
        .group_by(Opinion.status, Opinion.theme)  # all time: in the order of an index
    )
    return [(theme, status, int(n)) for theme, status, n in rows]


async def first_assignments(
    s: AsyncSession, station_id: int, lo: datetime | None, hi: datetime | None
) -> tuple[int, float | None]:
    """Opinions whose first task was assigned in the period, and their mean days from receipt."""
    earlier = aliased(Task)
    first = ~(
        select(earlier.id)
        .where(earlier.opinion_id == Task.opinion_id, earlier.id < Task.id)
        .exists()
    )
    n, mean = (
        await s.execute(
            select(func.count(), func.avg(days_between(s, Task.assigned_at, Opinion.created_at)))
            .select_from(Task)
            .join(Opinion, Opinion.id == Task.opinion_id)
            .where(Task.station_id == station_id, *within(Task.assigned_at, lo, hi))
            .where(first)
        )
    ).one()
    return int(n), _mean(mean)


async def closures(
    s: AsyncSession, station_id: int, lo: datetime | None, hi: datetime | None
) -> tuple[int, float | None]:
    """Opinions with a task closed in the period (their last such closure), mean days from
    receipt to it."""
    later = aliased(Task)
    last = ~(
        select(later.id)
        .where(
            later.opinion_id == Task.opinion_id,
            later.id > Task.id,
            later.status == TaskStatus.CLOSED,
            *within(later.closed_at, lo, hi),
        )
        .exists()
    )
    n, mean = (
        await s.execute(
            select(func.count(), func.avg(days_between(s, Task.closed_at, Opinion.created_at)))
            .select_from(Task)
            .join(Opinion, Opinion.id == Task.opinion_id)
            .where(Task.station_id == station_id, Task.status == TaskStatus.CLOSED)
            .where(*within(Task.closed_at, lo, hi), last)
        )
    ).one()
    return int(n), _mean(mean)


def _mean(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


async def task_counts(
    s: AsyncSession, station_id: int, lo: datetime | None, hi: datetime | None, today: date
) -> dict[AssigneeKey, Counter[str]]:
    """Per assignee: tasks assigned, closed and bounced in the period; open ones overdue today."""
    who = (Task.assignee_unit_id, Task.assignee_user_id)
    counts: dict[AssigneeKey, Counter[str]] = {}

    def add(rows: Any, what: str | None = None) -> None:
        for unit_id, user_id, *rest in rows:
            name = what or str(rest[0])
            counts.setdefault((unit_id, user_id), Counter())[name] += int(rest[-1])

    here = Task.station_id == station_id
    add(
        await s.execute(
            select(*who, func.count()).where(here, *within(Task.assigned_at, lo, hi)).group_by(*who)
        ),
        "assigned",
    )
    add(
        await s.execute(
            select(*who, Task.status, func.count())
            .where(here, Task.status.in_((TaskStatus.CLOSED, TaskStatus.BOUNCED)))
            .where(*within(Task.closed_at, lo, hi))
            .group_by(*who, Task.status)
        )
    )
    add(
        await s.execute(
            select(*who, func.count())
            .where(here, Task.status == TaskStatus.OPEN, Task.due_date < today)
            .group_by(*who)
        ),
        "overdue",
    )
    return counts


async def overdue(s: AsyncSession, station_id: int, today: date, limit: int) -> list[OverdueRow]:
    """The open tasks past their due date that a message shows: the longest overdue first."""
    rows = await s.execute(
        select(
            Opinion.ref_no,
            Opinion.text,
            Task.assignee_unit_id,
            Task.assignee_user_id,
            Task.due_date,
        )
        .join(Opinion, Opinion.id == Task.opinion_id)
        .where(Task.station_id == station_id, Task.status == TaskStatus.OPEN)
        .where(Task.due_date < today)
        .order_by(Task.due_date, Opinion.ref_no)
        .limit(limit)
    )
    return [OverdueRow(ref, text, (unit, user), due) for ref, text, unit, user, due in rows]


async def assignee_names(
    s: AsyncSession, station_id: int, keys: set[AssigneeKey]
) -> dict[AssigneeKey, tuple[str, str]]:
    """(kind, name) per assignee key: the station's unit, else the representative, else —."""
    units = {
        uid: (kind, name)
        for uid, kind, name in await s.execute(
            select(Unit.id, Unit.kind, Unit.name).where(Unit.station_id == station_id)
        )
    }
    rep_ids = {user for unit, user in keys if user is not None and unit not in units}
    reps = (
        {u.id: u.display_name for u in (await s.execute(select(User).where(User.id.in_(rep_ids))))
         .scalars()}
        if rep_ids
        else {}
    )  # fmt: skip
    out: dict[AssigneeKey, tuple[str, str]] = {}
    for unit, user in keys:
        if unit is not None and unit in units:
            out[(unit, user)] = units[unit]
        elif user is not None and user in reps:
            out[(unit, user)] = ("representative", reps[user])
        else:
            out[(unit, user)] = ("representative", "—")
    return out


async def ratings(
    s: AsyncSession, station_id: int, lo: datetime | None, hi: datetime | None
) -> dict[str, int]:
    """Cases by their final rating given in the period, by value (storage.queries.ratings: a
    superseded 不满意 and co-signers' ratings are not counted). Ratings drive (a period is a
    range of their index); with one station in the database, every rating is its own and none
    is looked up."""
    q = select(Rating.value, func.count()).where(is_final(), *within(Rating.at, lo, hi))
    if await s.scalar(select(func.count()).select_from(Station)) != 1:
        q = q.where(
            select(Opinion.id)
            .where(Opinion.id == Rating.opinion_id, Opinion.station_id == station_id)
            .exists()
        )
    rows = await s.execute(q.group_by(Rating.value))
    return {value: int(n) for value, n in rows}


async def sample_texts(
    s: AsyncSession,
    station_id: int,
    lo: datetime | None,
    hi: datetime | None,
    total: int,
    limit: int,
) -> list[str]:
    """The texts of the period's opinions (merged duplicates left out); past `limit`, an even
    sample of about `limit` of them (every n-th id), so keywords cost the same for any period."""
    step = -(-total // limit) if limit and total > limit else 1
    q = select(Opinion.text).where(
        Opinion.station_id == station_id,
        Opinion.status != Status.DUPLICATE,
        *within(Opinion.created_at, lo, hi),
    )
    if step > 1:
        q = q.where(Opinion.id % step == 0)
    return list((await s.execute(q)).scalars())
