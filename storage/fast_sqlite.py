"""SQLAlchemy's aiosqlite dialect, with statements run on the event loop's own thread.

aiosqlite runs SQLite on a worker thread and SQLAlchemy's adapter awaits it for every cursor
operation (create, execute, fetch, close), then for BEGIN, COMMIT and the pool's reset. Each
hand-over costs a queue put, a thread wake-up and a loop wake-up: about 100 µs of the event
loop's CPU and more of latency, while the statement itself (an indexed lookup or a one-row
INSERT on a local WAL database, commit without fsync at synchronous=NORMAL) takes a few µs.
On the intake path the hand-overs were the largest single cost.

So this adapter calls sqlite3 directly, on the loop's thread:
- a statement runs execute + fetchall + close in one call; `BEGIN IMMEDIATE` rides along with a
  transaction's first statement (the engine's "begin" event only marks it pending);
- a commit or rollback with no open transaction (the pool's reset after a commit) does nothing;
- the one thing that could block the loop, waiting for another process's write lock, never
  happens inside SQLite: the connection's busy timeout is 0 and a "database is locked" answer
  is retried here with `asyncio.sleep` backoff for up to `BUSY_WAIT` seconds.

aiosqlite still opens and closes the connection (on its thread, once per connection); pooling,
transactions and dialect behaviour are SQLAlchemy's own.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT, await_only

DRIVER = "liaison_aiosqlite"
BUSY_WAIT = 30.0  # seconds to wait for another process's write lock, as busy_timeout did
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
T = TypeVar("T")


def is_busy(exc: BaseException) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED (any extended code): nothing was done, try again later."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


async def _retry_busy(work: Callable[[], T]) -> T:
    """Run `work` now; while the database is locked by another process, back off and retry."""
    deadline: float | None = None
    delay = 0.001
    while True:
        try:
            return work()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            now = asyncio.get_running_loop().time()
            if deadline is None:
                deadline = now + BUSY_WAIT
            elif now >= deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


class InlineCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_description", "_lastrowid_value", "_rowcount_value", "arraysize_value")

    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount_value = -1
        self._lastrowid_value: int | None = None
        self.arraysize_value = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount_value

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid_value

    @property
    def arraysize(self) -> int:
        return self.arraysize_value

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self.arraysize_value = value

    async def _run(self, many: bool, operation: Any, parameters: Any) -> None:
        raw: sqlite3.Connection = self._connection._conn
        adapt = cast("InlineConnection", self._adapt_connection)
        begin = adapt.begin_pending
        adapt.begin_pending = False

        def work() -> tuple[Any, list[Any], int, int | None]:
            if begin and not raw.in_transaction:
                raw.execute("BEGIN IMMEDIATE")
            cur = raw.cursor()
            try:
                if many:
                    cur.executemany(operation, parameters)
                elif parameters is None:
                    cur.execute(operation)
                else:
                    cur.execute(operation, parameters)
                desc = cur.description
                rows = cur.fetchall() if desc else []
                return desc, rows, cur.rowcount, cur.lastrowid
            finally:
                cur.close()

        desc, rows, rowcount, lastrowid = await _retry_busy(work)
        self._description = desc
        self._rows = collections.deque(rows)
        self._rowcount_value = rowcount
        self._lastrowid_value = lastrowid

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._run(False, operation, parameters)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        await self._run(True, operation, seq_of_parameters)

    def close(self) -> None:
        self._rows.clear()

    async def _async_soft_close(self) -> None:
        return None


class InlineConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("begin_pending",)
    _cursor_cls = InlineCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        # Set by the engine's "begin" event: the next statement starts with BEGIN IMMEDIATE.
        self.begin_pending = False

    def _open_transaction(self) -> sqlite3.Connection | None:
        """The sqlite3 connection if a transaction is open on it, else None."""
        if self.begin_pending:
            self.begin_pending = False
            return None
        raw: sqlite3.Connection | None = self._connection._connection
        return raw if raw is not None and raw.in_transaction else None

    def commit(self) -> None:
        raw = self._open_transaction()
        if raw is not None:
            try:
                await_only(_retry_busy(raw.commit))
            except Exception as error:
                self._handle_exception(error)

    def rollback(self) -> None:
        raw = self._open_transaction()
        if raw is not None:
            try:
                raw.rollback()
            except Exception as error:
                self._handle_exception(error)


class InlineDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> InlineConnection:
        creator_fn = kw.pop("async_creator_fn", None)
        # Used from the loop's thread (never at the same time as aiosqlite's): waits for locks
        # are ours, not SQLite's (see the module docstring).
        kw["check_same_thread"] = False
        kw["timeout"] = 0
        connection = creator_fn(*arg, **kw) if creator_fn else self.aiosqlite.connect(*arg, **kw)
        # aiosqlite >= 0.21 runs a thread it holds; before that the connection is the thread.
        getattr(connection, "_thread", connection).daemon = True
        return InlineConnection(self, await_only(connection))


class InlineDialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> InlineDBAPI:  # type: ignore[override]
        return InlineDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "InlineDialect")
