"""SQLAlchemy's aiosqlite dialect with one thread hand-over per statement instead of four.

aiosqlite runs SQLite on its own thread and SQLAlchemy's adapter awaits it for every cursor
operation: create the cursor, execute, fetch, close. Each hand-over costs a queue put, a thread
wake-up and a loop wake-up; on the intake path (about eight statements) they were most of the
time spent. This cursor runs execute + fetchall + close as one function on aiosqlite's thread.
Everything else (connection, pooling, transactions, dialect behaviour) is SQLAlchemy's own.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT, await_only

DRIVER = "liaison_aiosqlite"


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
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
        raw = self._connection._conn  # the sqlite3.Connection, used only on its own thread

        def work() -> tuple[Any, list[Any], int, int | None]:
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

        async with self._adapt_connection._execute_mutex:
            desc, rows, rowcount, lastrowid = await self._connection._execute(work)
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


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        creator_fn = kw.pop("async_creator_fn", None)
        connection = creator_fn(*arg, **kw) if creator_fn else self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True
        return OneHopConnection(self, await_only(connection))


class OneHopDialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneHopDBAPI:  # type: ignore[override]
        return OneHopDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "OneHopDialect")
