"""0003 (the clock's columns and indexes): an existing database is backfilled so the first tick
plans every open task and active meeting once; downgrade takes it all back; on both engines."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect

from storage.db import make_engine
from storage.migrate import alembic_config, upgrade
from tests.conftest import empty_database, run_sql

T0 = "2026-09-28 01:00:00"
T1 = "2026-09-29 02:00:00"
SEED = [
    "INSERT INTO stations (id, code, name, ref_prefix, created_at) VALUES (1, 'd', '站', 'LL',"
    f" '{T0}')",
    "INSERT INTO users (id, first_name, subscribed, created_at, updated_at) VALUES"
    f" (1, '王', false, '{T0}', '{T0}')",
    "INSERT INTO opinions (id, station_id, ref_no, year, seq, resident_id, source, text, theme,"
    " theme_confidence, theme_terms, needs_review, theme_confirmed, anonymous, status,"
    " reopen_count, created_at, updated_at) VALUES"
    " (1, 1, 'LL-1', 2026, 1, 1, 'resident', '正文', 'x', 0.9, '[]', false, false, true,"
    f" 'assigned', 0, '{T0}', '{T0}'),"
    " (2, 1, 'LL-2', 2026, 2, 1, 'resident', '正文', 'x', 0.9, '[]', false, false, true,"
    f" 'closed', 0, '{T0}', '{T0}')",
    "INSERT INTO tasks (id, opinion_id, station_id, assigned_at, working_days, due_date,"
    " deadline_uncertain, status) VALUES"
    f" (1, 1, 1, '{T0}', 15, '2026-10-20', false, 'open'),"
    f" (2, 2, 1, '{T1}', 3, '2026-10-09', false, 'closed')",
    "INSERT INTO meetings (id, station_id, kind, title, place, starts_at, duration_minutes,"
    " active, version, created_at, updated_at) VALUES"
    f" (1, 1, 'progress', '推进会', '', '{T1}', 60, true, 1, '{T0}', '{T0}'),"
    f" (2, 1, 'progress', '旧会', '', '{T1}', 60, false, 2, '{T0}', '{T0}')",
    "INSERT INTO outbox (id, key, station_id, kind, channel, chat_id, message, due_at, status,"
    f" attempts, created_at) VALUES (1, 'a', 1, 'staff', 'telegram', '-1', '{{}}', '{T0}',"
    f" 'sent', 1, '{T0}'), (2, 'b', 1, 'staff', 'telegram', '-1', '{{}}', '{T0}', 'pending', 0,"
    f" '{T0}')",
]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url_0002(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url = empty_database(request, tmp_path, "old.db")
    upgrade(url, "0002_channels")
    yield url


def _schema(url: str) -> tuple[set[str], set[str], set[str]]:
    async def go() -> tuple[set[str], set[str], set[str]]:
        engine = make_engine(url)
        async with engine.connect() as conn:

            def look(sync_conn: Any) -> tuple[set[str], set[str], set[str]]:
                ins = inspect(sync_conn)
                cols = {f"tasks.{c['name']}" for c in ins.get_columns("tasks")}
                cols |= {f"meetings.{c['name']}" for c in ins.get_columns("meetings")}
                indexes = {
                    str(i["name"])
                    for table in ("tasks", "meetings", "outbox", "opinions")
                    for i in ins.get_indexes(table)
                }
                where = {
                    str(i["name"])
                    for i in ins.get_indexes("outbox")
                    if i.get("dialect_options", {}).get(f"{sync_conn.dialect.name}_where")
                    is not None
                }
                return cols, indexes, where

            found = await conn.run_sync(look)
        await engine.dispose()
        return found

    return asyncio.run(go())


def _stamp(value: Any) -> str:
    return str(value)[:19]


def test_upgrade_backfills_and_downgrade_restores(db_url_0002: str) -> None:
    url = db_url_0002
    run_sql(url, SEED)
    upgrade(url, "0003")
    tasks, meetings = run_sql(
        url,
        [
            "SELECT id, next_remind_at FROM tasks ORDER BY id",
            "SELECT id, next_remind_at FROM meetings ORDER BY id",
        ],
    )
    assert [(i, _stamp(at) if at else None) for i, at in tasks] == [(1, T0), (2, None)]
    assert [(i, _stamp(at) if at else None) for i, at in meetings] == [(1, T0), (2, None)]
    cols, indexes, partial = _schema(url)
    assert {"tasks.next_remind_at", "meetings.next_remind_at"} <= cols
    assert {"ix_tasks_next_remind_at", "ix_meetings_next_remind_at", "ix_opinions_closed"} <= (
        indexes
    )
    assert "ix_outbox_due" in partial
    command.downgrade(alembic_config(url), "0002_channels")
    cols, indexes, partial = _schema(url)
    assert not any(c.endswith("next_remind_at") for c in cols)
    assert "ix_outbox_due" in indexes and "ix_outbox_due" not in partial
    assert not {"ix_tasks_next_remind_at", "ix_opinions_closed"} & indexes
    kept = run_sql(url, ["SELECT count(*) FROM tasks", "SELECT count(*) FROM outbox"])
    assert kept == [[(2,)], [(2,)]]
    upgrade(url)  # and up again
