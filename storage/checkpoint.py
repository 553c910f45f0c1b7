"""SQLite WAL checkpoints in a worker thread, for bulk writers on the event loop's thread.

SQLite checkpoints by itself inside the commit that finds the WAL past 1,000 pages: on the
loop's thread (storage.fast_sqlite), with two fsyncs. A day's reminders at 1M opinions wrote
enough WAL for about 40 of those, 0.8 s of waiting in commits while the chat waited too. A
writer that commits many chunks pokes a Checkpointer after each: a PASSIVE checkpoint (it never
takes the write lock) then runs on another connection in a worker thread, with the GIL released,
and the WAL is reset before it reaches the automatic checkpoint's threshold.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any


def _checkpoint(path: str) -> None:
    try:
        conn = sqlite3.connect(path, timeout=0, check_same_thread=False)
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        pass  # busy or gone: SQLite's own checkpoint still runs when the WAL grows


class Checkpointer:
    """One PASSIVE checkpoint at a time of the SQLite file behind `bind` (an Engine or a
    Connection); does nothing on PostgreSQL or an in-memory database."""

    def __init__(self, bind: Any) -> None:
        url = bind.engine.url
        path = url.database if url.get_backend_name() == "sqlite" else None
        self.path: str | None = path if path and path != ":memory:" else None
        self.running: asyncio.Future[None] | None = None

    def poke(self) -> None:
        """Start a checkpoint unless one is running."""
        if self.path is None or (self.running is not None and not self.running.done()):
            return
        self.running = asyncio.ensure_future(asyncio.to_thread(_checkpoint, self.path))

    async def wait(self) -> None:
        """Let the running checkpoint finish (a failed one is only a missed optimisation)."""
        running, self.running = self.running, None
        if running is not None:
            await asyncio.gather(running, return_exceptions=True)
