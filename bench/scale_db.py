"""The databases bench/scale.py builds and times: a SQLite file per size in the work directory,
a PostgreSQL database liaison_reports_<size> per size (created, migrated, dropped)."""

from __future__ import annotations

import asyncio
from pathlib import Path


async def analyze(url: str) -> None:
    """PostgreSQL: what autovacuum would have done by now (statistics, visibility map)."""
    if url.startswith("postgresql"):
        await _pg_admin(url, "VACUUM ANALYZE")


async def _pg_admin(admin_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def database(engine: str, size: int, pg: str, workdir: Path) -> str:
    """A fresh, migrated database for one run."""
    from storage.migrate import upgrade

    if engine == "sqlite":
        path = workdir / f"scale-{size}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite+aiosqlite:///{path}"
    else:
        name = f"liaison_reports_{size}"
        asyncio.run(_pg_admin(pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        asyncio.run(_pg_admin(pg, f'CREATE DATABASE "{name}"'))
        url = f"{pg.rpartition('/')[0]}/{name}"
    upgrade(url)
    return url


def kept(engine: str, size: int, pg: str, workdir: Path) -> str:
    """The database an earlier --build-only left, migrated to head."""
    from storage.migrate import upgrade

    if engine == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / f'scale-{size}.db'}"
    else:
        url = f"{pg.rpartition('/')[0]}/liaison_reports_{size}"
    upgrade(url)
    return url


def drop(engine: str, size: int, pg: str, workdir: Path) -> None:
    if engine == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{workdir / f'scale-{size}.db'}{suffix}").unlink(missing_ok=True)
    else:
        name = f"liaison_reports_{size}"
        asyncio.run(_pg_admin(pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
