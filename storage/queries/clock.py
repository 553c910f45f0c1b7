"""The clock's bulk statements: a batch of reminders in one INSERT, a batch of tasks' next moments
in one UPDATE, each engine in its cheapest form.

PostgreSQL: one statement over `unnest` of one array per column, a single round trip whatever
the batch (the driver encodes the arrays). SQLite: one executemany of one prepared statement on
the loop's thread. Values are converted once per column by the column type's own bind processor
instead of SQLAlchemy's per-row parameter work (which cost more than SQLite's insert itself).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, text
from sqlalchemy.engine import Dialect, Result
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Outbox, Task

_OUTBOX = cast(Table, Outbox.__table__)
_TASKS = cast(Table, Task.__table__)

# (column, PostgreSQL array type it travels as, cast applied to the element)
OUTBOX_COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("key", "VARCHAR[]", None),
    ("station_id", "INTEGER[]", None),
    ("kind", "VARCHAR[]", None),
    ("channel", "VARCHAR[]", None),
    ("chat_id", "VARCHAR[]", None),
    ("message", "TEXT[]", "JSON"),
    ("file_data", "BYTEA[]", None),
    ("due_at", "TIMESTAMPTZ[]", None),
    ("expires_at", "TIMESTAMPTZ[]", None),
    ("status", "VARCHAR[]", None),
    ("attempts", "INTEGER[]", None),
    ("last_error", "TEXT[]", None),
    ("opinion_id", "INTEGER[]", None),
    ("created_at", "TIMESTAMPTZ[]", None),
)
_NAMES = [name for name, _, _ in OUTBOX_COLUMNS]

_PG_INSERT = text(
    f"INSERT INTO outbox ({', '.join(_NAMES)}) SELECT "
    + ", ".join(f"CAST(v.{n} AS {c})" if c else f"v.{n}" for n, _, c in OUTBOX_COLUMNS)
    + " FROM unnest("
    + ", ".join(f"CAST(:{n} AS {t})" for n, t, _ in OUTBOX_COLUMNS)
    + f") AS v({', '.join(_NAMES)}) ON CONFLICT (key) DO NOTHING RETURNING outbox.status"
)
_PG_WRITE = text(
    "WITH moved AS (UPDATE tasks SET next_remind_at = m.moment"
    " FROM unnest(CAST(:task_ids AS INTEGER[]), CAST(:moments AS TIMESTAMPTZ[])) AS m(id, moment)"
    " WHERE tasks.id = m.id RETURNING tasks.id) " + _PG_INSERT.text
)
_SQLITE_INSERT = (
    f"INSERT INTO outbox ({', '.join(_NAMES)}) VALUES ({', '.join('?' for _ in _NAMES)})"
    " ON CONFLICT (key) DO NOTHING"
)
_SQLITE_SET_NEXT = "UPDATE tasks SET next_remind_at = ? WHERE id = ?"

Convert = Callable[[Any], Any]
_CONVERTERS: dict[tuple[str, str], list[Convert | None]] = {}


def _converters(dialect: Dialect, table: Table, names: Sequence[str]) -> list[Convert | None]:
    """Each column's bind processor on this dialect (None: the value goes as it is)."""
    key = (dialect.name, f"{table.name}:{','.join(names)}")
    found = _CONVERTERS.get(key)
    if found is None:
        found = _CONVERTERS[key] = [table.c[n].type.bind_processor(dialect) for n in names]
    return found


def _convert_all(values: Sequence[Any], convert: Convert) -> list[Any]:
    """A column's values converted, each distinct value once (a day's reminders share a few
    moments; datetimes cost the most to convert)."""
    if any(isinstance(v, dict | list) for v in values[:1]):  # JSON: not hashable, all distinct
        return [None if v is None else convert(v) for v in values]
    seen: dict[Any, Any] = {None: None}
    out = []
    for v in values:
        found = seen.get(v, seen)
        if found is seen:
            found = seen[v] = convert(v)
        out.append(found)
    return out


async def insert_outbox_once(s: AsyncSession, rows: Sequence[Sequence[Any]]) -> int:
    """Insert `rows` (values in OUTBOX_COLUMNS order) whose key is new; returns how many
    pending rows were added. Existing keys are left alone (ON CONFLICT DO NOTHING)."""
    if not rows:
        return 0
    conn = await s.connection()
    dialect = conn.dialect
    columns = list(zip(*rows, strict=True))
    if dialect.name == "postgresql":
        return _pending(await conn.execute(_PG_INSERT, _pg_params(dialect, columns)))
    converters = _converters(dialect, _OUTBOX, _NAMES)
    converted = [
        col if convert is None else _convert_all(col, convert)
        for col, convert in zip(columns, converters, strict=True)
    ]
    status = _NAMES.index("status")
    pending = [r for r in zip(*converted, strict=True) if r[status] == "pending"]
    other = [r for r in zip(*converted, strict=True) if r[status] != "pending"]
    added = 0
    if pending:
        added = (await conn.exec_driver_sql(_SQLITE_INSERT, pending)).rowcount
    if other:
        await conn.exec_driver_sql(_SQLITE_INSERT, other)
    return int(added)


def _pg_params(dialect: Dialect, columns: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """One array per outbox column (`columns` in OUTBOX_COLUMNS order), messages as JSON text."""
    params: dict[str, Any] = {n: list(col) for n, col in zip(_NAMES, columns, strict=True)}
    dump = cast(Convert, getattr(dialect, "_json_serializer", None) or json.dumps)
    params["message"] = [dump(m) for m in params["message"]]
    return params


def _pending(result: Result[Any]) -> int:
    """How many rows `… RETURNING outbox.status` added as pending."""
    return sum(1 for status in result.scalars() if status == "pending")


async def write_plans(
    s: AsyncSession,
    rows: Sequence[Sequence[Any]],
    moments: Sequence[tuple[int, datetime | None]],
) -> int:
    """insert_outbox_once(rows) and the tasks' next moments; on PostgreSQL in one statement
    (one round trip). Returns how many pending rows were added."""
    conn = await s.connection()
    if conn.dialect.name != "postgresql":
        added = await insert_outbox_once(s, rows)
        await _sqlite_set_next_moments(s, moments)
        return added
    if not moments:
        return await insert_outbox_once(s, rows)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in _NAMES]
    params = _pg_params(conn.dialect, columns)
    params["task_ids"] = [i for i, _ in moments]
    params["moments"] = [m for _, m in moments]
    return _pending(await conn.execute(_PG_WRITE, params))


async def _sqlite_set_next_moments(
    s: AsyncSession, moments: Sequence[tuple[int, datetime | None]]
) -> None:
    """tasks.next_remind_at for each (task id, moment), in one executemany (PostgreSQL does
    this inside write_plans' single statement)."""
    if not moments:
        return
    conn = await s.connection()
    (convert,) = _converters(conn.dialect, _TASKS, ["next_remind_at"])
    converted = (
        _convert_all([m for _, m in moments], convert) if convert else [m for _, m in moments]
    )
    await conn.exec_driver_sql(
        _SQLITE_SET_NEXT, list(zip(converted, [i for i, _ in moments], strict=True))
    )


_CURRENT = (
    select(
        Task.id,
        Task.status,
        Task.due_date,
        Task.assignee_user_id,
        Task.assignee_unit_id,
        Task.acknowledged_by_id,
        Task.next_remind_at,
    )
    .where(Task.id.in_(bindparam("ids", expanding=True)))
    .order_by(Task.id)
)


_PG_CURRENT = text(
    "SELECT t.id, t.status, t.due_date, t.assignee_user_id, t.assignee_unit_id,"
    " t.acknowledged_by_id, t.next_remind_at"
    " FROM tasks AS t CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) AS c"
    " WHERE t.id = ANY(CAST(:ids AS INTEGER[])) ORDER BY t.id FOR UPDATE OF t"
).columns(*_CURRENT.selected_columns)


async def lock_tasks(s: AsyncSession, ids: Sequence[int]) -> dict[int, tuple[Any, ...]]:
    """The planner's fields of tasks `ids` as they are now, locked until the transaction ends
    (PostgreSQL: FOR UPDATE, in id order, ids as one array; SQLite: the transaction holds the
    write lock).

    PostgreSQL also stops waiting for the WAL flush at this transaction's commit
    (synchronous_commit off, this transaction only): a crash may lose the last planned batches,
    which the next tick plans again under the same keys, and nothing can have been sent from
    them (a later claim would be lost with them)."""
    conn = await s.connection()  # Core execution: none of the ORM's per-statement work
    stmt = _PG_CURRENT if conn.dialect.name == "postgresql" else _CURRENT
    rows = await conn.execute(stmt, {"ids": list(ids)})
    return {row[0]: tuple(row) for row in rows.all()}
