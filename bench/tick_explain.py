"""EXPLAIN (QUERY PLAN) of the clock's queries, before and after issue 12's indexes and query
changes, on a built database (bench/tick.py). "Before" runs the old statement; where the old one
used the old full ix_outbox_due, that index is created for the moment and dropped again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from domain.states import TaskStatus
from services.kernel.context import ServiceContext
from storage.models import Opinion, Outbox, Task


def _old_planner() -> Any:
    return (
        select(Task, Opinion)
        .join(Opinion, Opinion.id == Task.opinion_id)
        .where(Task.status == TaskStatus.OPEN)
    )


def _new_planner(now: Any) -> Any:
    from services.reminders.due import _DUE_TASKS

    return _DUE_TASKS.where(Task.next_remind_at <= now).limit(200)


def _old_expire(cutoff: Any) -> Any:
    return (
        select(Opinion, Task)
        .join(Task, Task.opinion_id == Opinion.id)
        .where(Opinion.status == "closed", Task.status == "closed", Task.closed_at <= cutoff)
    )


def _new_expire(cutoff: Any) -> Any:
    """The statement the clock runs (services.casework.ratings), not a copy of it."""
    from services.casework.ratings import _EXPIRED

    return _EXPIRED.params(cutoff=cutoff)


def _claim(now: Any) -> Any:
    from storage.queries.outbox import pick_due

    return pick_due().params(now=now, channels=["telegram"], per_chat=2, limit=60)


def _old_pick() -> Any:
    from sqlalchemy import and_, bindparam, func

    from storage.queries.outbox import due_condition

    due = and_(due_condition(), Outbox.channel.in_(bindparam("channels", expanding=True)))
    rank = (
        func.row_number()
        .over(partition_by=(Outbox.channel, Outbox.chat_id), order_by=(Outbox.due_at, Outbox.id))
        .label("rank")
    )
    ranked = select(Outbox.id, Outbox.due_at, rank).where(due).subquery()
    candidates = (
        select(ranked.c.id)
        .where(ranked.c.rank <= bindparam("per_chat"))
        .order_by(ranked.c.due_at, ranked.c.id)
        .limit(bindparam("limit"))
    )
    return select(Outbox.id).where(Outbox.id.in_(candidates))


async def _plan(conn: Any, stmt: Any) -> list[str]:
    dialect = conn.dialect
    compiled = stmt.compile(dialect=dialect)
    state = compiled.construct_expanded_state(compiled.params)
    procs = state.processors
    values = [
        procs[key](state.parameters[key]) if key in procs else state.parameters[key]
        for key in state.positiontup or []
    ]
    sql = state.statement
    if dialect.name == "sqlite":
        rows = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, tuple(values))
        return [f"{'  ' * _depth(r, rows)}{r[3]}" for r in rows.all()]
    rows = await conn.exec_driver_sql(
        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql, tuple(values)
    )
    return [r[0] for r in rows.all()]


def _depth(row: Any, _rows: Any) -> int:
    return 0 if row[1] == 0 else 1


async def explain(ctx: ServiceContext) -> dict[str, list[str]]:
    now = ctx.clock.now()
    cutoff = now - timedelta(days=7)
    out: dict[str, list[str]] = {}
    async with ctx.sessions() as s:
        conn = await s.connection()
        out["planner before: every open task, each tick"] = await _plan(conn, _old_planner())
        out["planner after: rows whose moment has come"] = await _plan(conn, _new_planner(now))
        out["expire before"] = await _plan(conn, _old_expire(cutoff))
        out["expire after"] = await _plan(conn, _new_expire(cutoff))
        out["claim after (partial ix_outbox_due)"] = await _plan(conn, _claim(now))
        await conn.exec_driver_sql("CREATE INDEX ix_outbox_due_full ON outbox (status, due_at)")
        out["claim before (full index, old statement)"] = await _plan(
            conn, _old_pick().params(now=now, channels=["telegram"], per_chat=2, limit=60)
        )
        out["index sizes"] = await _sizes(conn)
        await conn.exec_driver_sql("DROP INDEX ix_outbox_due_full")
        await s.commit()
    return out


async def _sizes(conn: Any) -> list[str]:
    if conn.dialect.name == "postgresql":
        rows = await conn.exec_driver_sql(
            "SELECT relname, pg_relation_size(oid) FROM pg_class WHERE relname IN"
            " ('ix_outbox_due', 'ix_outbox_due_full', 'ix_tasks_next_remind_at',"
            " 'ix_opinions_closed', 'outbox')"
        )
    else:
        try:
            rows = await conn.exec_driver_sql(
                "SELECT name, SUM(pgsize) FROM dbstat WHERE name IN ('ix_outbox_due',"
                " 'ix_outbox_due_full', 'ix_tasks_next_remind_at', 'ix_opinions_closed',"
                " 'outbox') GROUP BY name"
            )
        except Exception:  # SQLite built without the dbstat table
            return ["(sizes: this SQLite has no dbstat table)"]
    return [f"{name}: {int(size) / 1e6:.2f} MB" for name, size in rows.all()]
