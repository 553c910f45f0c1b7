"""storage/fast_sqlite.py: SQLite on the loop's thread, and waiting for other processes' locks
without blocking the loop. A real database file, a real second connection holding the lock."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

import storage.fast_sqlite as fast
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade
from storage.models import Station


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lock.db'}"
    await asyncio.to_thread(upgrade, url)
    eng = make_engine(url)
    yield eng
    await eng.dispose()


def _db_file(engine: AsyncEngine) -> str:
    path = engine.url.database
    assert path
    return path


def _hold_write_lock(path: str, seconds: float, held: threading.Event) -> None:
    """Another process, as far as SQLite knows: its own connection holds the write lock."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO stations (code, name, ref_prefix, created_at) VALUES ('other', '别站', 'OT', '2026-11-29 00:00:00.000000')"
        )
        held.set()
        threading.Event().wait(seconds)
        conn.execute("COMMIT")
    finally:
        conn.close()


async def test_engine_uses_the_inline_adapter(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.dbapi_connection, fast.InlineConnection)
        timeout = (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one()
        assert timeout == 0  # waits happen in the loop, never inside SQLite
        mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
        assert mode == "wal"


async def test_transaction_takes_the_write_lock_with_its_first_statement(
    engine: AsyncEngine,
) -> None:
    sessions = make_sessionmaker(engine)
    other = sqlite3.connect(_db_file(engine), isolation_level=None, timeout=0)
    try:
        async with sessions.begin() as s:
            await s.execute(select(Station.id))  # a read, yet the transaction is IMMEDIATE
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # released at commit
        other.execute("ROLLBACK")
    finally:
        other.close()


async def test_waiting_for_another_writer_does_not_block_the_loop(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    held = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(_db_file(engine), 0.5, held))
    holder.start()
    await asyncio.to_thread(held.wait, 5)
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    tick_task = asyncio.create_task(ticker())
    async with sessions.begin() as s:
        s.add(Station(code="ours", name="本站", ref_prefix="LL"))
    stop.set()
    await tick_task
    await asyncio.to_thread(holder.join, 5)
    assert ticks >= 10, "the event loop stalled while the database was locked"
    async with sessions() as s:
        codes = set((await s.execute(select(Station.code))).scalars())
    assert {"ours", "other"} <= codes  # both writers' rows, nothing lost


async def test_gives_up_after_busy_wait_and_writes_nothing(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fast, "BUSY_WAIT", 0.2)
    sessions = make_sessionmaker(engine)
    held = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(_db_file(engine), 1.5, held))
    holder.start()
    await asyncio.to_thread(held.wait, 5)
    with pytest.raises(OperationalError, match="locked"):
        async with sessions.begin() as s:
            s.add(Station(code="late", name="迟到", ref_prefix="LT"))
    await asyncio.to_thread(holder.join, 5)
    async with sessions() as s:
        codes = set((await s.execute(select(Station.code))).scalars())
    assert "late" not in codes and "other" in codes


async def test_failed_statement_rolls_the_whole_transaction_back(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    async with sessions.begin() as s:
        s.add(Station(code="dup", name="一", ref_prefix="D1"))
    with pytest.raises(IntegrityError):
        async with sessions.begin() as s:
            s.add(Station(code="kept?", name="二", ref_prefix="D2"))
            await s.flush()
            s.add(Station(code="dup", name="重复", ref_prefix="D3"))
            await s.flush()
    async with sessions.begin() as s:  # the connection is usable again, no transaction left open
        codes = set((await s.execute(select(Station.code))).scalars())
    assert codes >= {"dup"} and "kept?" not in codes


def test_busy_is_recognised_by_error_code() -> None:
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("SELECT nope")
    except sqlite3.OperationalError as exc:
        assert not fast.is_busy(exc)
    finally:
        conn.close()
    locked = sqlite3.OperationalError("database is locked")
    assert fast.is_busy(locked)
