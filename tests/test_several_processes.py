"""Several processes on one database: instances starting together on an empty database all come
up (the migrations run under a lock)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.botproc import ROOT
from tests.test_migrations import schema_diff


def database(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if engine == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'liaison.db'}"
    pg: str | None = request.getfixturevalue("pg_database")
    if pg is None:
        pytest.skip("PostgreSQL not reachable")
    from tests.conftest import reset_pg_schema

    reset_pg_schema(pg)
    return pg


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_three_instances_migrate_an_empty_database_together(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = database(engine, tmp_path, request)
    env = {**os.environ, "DATABASE_URL": url, "DATA_DIR": str(tmp_path / "data")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    codes = [p.returncode for p in procs]
    assert codes == [0, 0, 0], [err[-2000:] for _, err in results]
    assert schema_diff(url) == []
