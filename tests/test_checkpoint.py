"""The planner's WAL checkpoints in a worker thread (storage/checkpoint.py)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from sqlalchemy import text

from storage.checkpoint import Checkpointer
from storage.db import make_engine


async def test_a_poke_moves_the_wal_into_the_database_file(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1), (2), (3)"))
        checkpoint = Checkpointer(engine.sync_engine)
        checkpoint.poke()
        await checkpoint.wait()
        # The database file alone, without its -wal: it has the rows only if they were moved.
        shutil.copyfile(tmp_path / "a.db", tmp_path / "copy.db")
        copy = sqlite3.connect(tmp_path / "copy.db")
        try:
            assert copy.execute("SELECT count(*) FROM t").fetchone() == (3,)
        finally:
            copy.close()
    finally:
        await engine.dispose()


def test_nothing_to_checkpoint_on_postgresql_or_in_memory() -> None:
    for url in ("postgresql+asyncpg://u@h/db", "sqlite+aiosqlite:///:memory:"):
        engine = make_engine(url)
        assert Checkpointer(engine.sync_engine).path is None
