"""0004 adds the report indexes and takes them away again, on both engines, rows untouched."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import Connection, insert, inspect, select

from storage.db import make_engine
from storage.migrate import alembic_config, upgrade
from storage.models import Station
from tests.test_migrations import schema_diff

NEW = {
    "opinions": "ix_opinions_station_created",
    "tasks": "ix_tasks_station_assigned",
    "ratings": "ix_ratings_at",
}


def indexes(url: str) -> dict[str, set[str]]:
    async def run() -> dict[str, set[str]]:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:

                def names(sync_conn: Connection) -> dict[str, set[str]]:
                    found = inspect(sync_conn)
                    return {t: {str(i["name"]) for i in found.get_indexes(t)} for t in NEW}

                return await conn.run_sync(names)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def stations(url: str) -> list[str]:
    async def run() -> list[str]:
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                if not (await conn.execute(select(Station.code))).first():
                    await conn.execute(insert(Station).values(code="s1", name="一站"))
                return list((await conn.execute(select(Station.code))).scalars())
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_report_indexes_up_down_up(db_url: str) -> None:
    assert stations(db_url) == ["s1"]
    assert all(NEW[t] in found for t, found in indexes(db_url).items())
    assert "ix_tasks_station_closed" in indexes(db_url)["tasks"]
    assert "ix_opinions_station_status" not in indexes(db_url)["opinions"]  # replaced

    command.downgrade(alembic_config(db_url), "0003")  # 0004's down_revision
    gone = indexes(db_url)
    assert not any(NEW[t] in found for t, found in gone.items())
    assert "ix_tasks_station_closed" not in gone["tasks"]
    assert "ix_opinions_station_status" in gone["opinions"]
    assert stations(db_url) == ["s1"]

    upgrade(db_url)
    assert schema_diff(db_url) == []
    assert stations(db_url) == ["s1"]
