"""Alembic environment: runs migrations on the async engine for either database."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import make_engine
from storage.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set"
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        # Batch migrations rebuild tables other tables reference; SQLite checks foreign keys per
        # statement (and counts deferred ones without rechecking), so they are off while a
        # migration runs (set on connect, outside any transaction), and each migration that
        # rebuilds tables runs PRAGMA foreign_key_check itself.
        @event.listens_for(engine.sync_engine, "connect")
        def _no_fk(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=OFF")
            cur.close()

    async with engine.connect() as conn:
        await _lock(conn)
        await conn.run_sync(_run)
        await conn.commit()
        if engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
    await engine.dispose()


# Several instances started together on an empty database each ran the migrations: all but
# one crashed on a duplicate key. The first takes a lock; the others wait, then find the
# schema current and do nothing.
MIGRATION_LOCK = 0x6C69_6169_736F_6E00 >> 2  # "liaison", fits a signed bigint
SQLITE_LOCK_WAIT = 600.0  # seconds: a long migration of a big database on another instance


async def _lock(conn: AsyncConnection) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
        return
    # SQLite: the write lock (BEGIN IMMEDIATE, storage.db) for the whole migration, taken with
    # the transaction's first statement; another instance migrating is waited for.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SQLITE_LOCK_WAIT
    while True:
        try:
            await conn.execute(text("SELECT 1"))
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or loop.time() >= deadline:
                raise
            await conn.rollback()
            await asyncio.sleep(0.2)


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async())
