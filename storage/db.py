"""Engine and session factory for SQLite (embedded default) and PostgreSQL (scale-out)."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from sqlalchemy import URL, event, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import AsyncAdaptedQueuePool

import storage.fast_sqlite as fast


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the async engine; SQLite gets WAL, a wait for locks and enforced foreign keys."""
    if url.startswith("sqlite"):
        url_obj = _inline(url)
        inline = url_obj.drivername == f"sqlite+{fast.DRIVER}"
        if ":memory:" not in url:
            # SQLite has one writer and every transaction here takes the write lock: with one
            # pooled connection, transactions queue in the event loop and are handed over at once,
            # instead of several connections sleeping in SQLite's busy handler (which polls with
            # growing sleeps and leaves the database idle in between).
            # Named explicitly: SQLAlchemy before 2.0.38 gave file databases a NullPool.
            kwargs.setdefault("poolclass", AsyncAdaptedQueuePool)
            kwargs.setdefault("pool_size", 1)
            kwargs.setdefault("max_overflow", 0)
            kwargs.setdefault("pool_timeout", 60)
        engine = create_async_engine(url_obj, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            if ":memory:" not in url:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            # Inline connections wait for another process's lock in the event loop, not in SQLite.
            cur.execute(f"PRAGMA busy_timeout={0 if inline else 30000}")
            cur.close()
            # Let SQLAlchemy's "begin" event issue the BEGIN (see below), not the driver.
            dbapi_conn.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front: a read-then-write transaction can then never
            # fail half-way with "database is locked" when another writer got there first (WAL
            # readers would otherwise hit SQLITE_BUSY_SNAPSHOT). Another process holding the lock
            # is waited for (storage.fast_sqlite.BUSY_WAIT).
            dbapi_conn = conn.connection.dbapi_connection
            if isinstance(dbapi_conn, fast.InlineConnection):
                dbapi_conn.begin_pending = True  # sent with the first statement, same trip
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _inline(url: str) -> URL:
    """`sqlite+aiosqlite://` runs on our inline adapter (storage.fast_sqlite), same driver."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        return parsed.set(drivername=f"sqlite+{fast.DRIVER}")
    return parsed


def _finish(session: Session, commit: bool) -> None:
    try:
        if commit:
            session.commit()
    finally:
        session.close()  # returns the connection; rolls back whatever was not committed


class _Transaction:
    """`async with sessions.begin() as s`: commit on success, roll back on error, close.

    SQLAlchemy's own context manager does the same in two tasks under `asyncio.shield` (one for
    the commit, one for the close); this one does it in one greenlet on the caller's task.
    Intake's `submit_text` went 1.92 → 1.57 ms with it (alternating A/B rounds in one process).
    A cancelled task still rolls back and returns the connection (tests/test_sessions.py).
    """

    __slots__ = ("session",)

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def __aenter__(self) -> AsyncSession:
        return self.session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.session.run_sync(_finish, exc_type is None)


class Sessions(async_sessionmaker[AsyncSession]):
    """The session factory services get: `sessions()` as usual, `begin()` as above."""

    def begin(self) -> _Transaction:  # type: ignore[override]
        return _Transaction(self())


def make_sessionmaker(engine: AsyncEngine) -> Sessions:
    return Sessions(engine, expire_on_commit=False)
