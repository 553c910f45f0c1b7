"""Migrations from empty reach exactly the schema the models describe, on both engines."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from storage.db import make_engine
from storage.models import Base
from tests.botproc import ROOT


def schema_diff(url: str) -> list[object]:
    async def run() -> list[object]:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:

                def compare(sync_conn: Connection) -> list[object]:
                    ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                    return list(compare_metadata(ctx, Base.metadata))

                return await conn.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_migrated_schema_matches_models(db_url: str) -> None:
    # db_url is migrated from empty by the fixture, once on SQLite and once on PostgreSQL.
    assert schema_diff(db_url) == []


def test_db_upgrade_command_migrates_an_empty_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sub' / 'x.db'}"
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "upgrade"],
        cwd=ROOT,
        env={
            "DATABASE_URL": url,
            "DATA_DIR": str(tmp_path / "data"),
            "PATH": "",
            "TIMEZONE": "Asia/Urumqi",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "sub" / "x.db").exists()
    assert schema_diff(url) == []
    # report_days (0011) are summed by the bot's days
    import sqlite3

    with sqlite3.connect(tmp_path / "sub" / "x.db") as db:
        tz = db.execute("SELECT value FROM bot_settings WHERE key = 'report_days_tz'").fetchone()
    assert tz == ("Asia/Urumqi",)
