"""Shared fixtures: a migrated database per test and the real classifier, loaded once."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from domain.classifier import ThemeClassifier, init_jieba
from domain.clock import ManualClock
from services.context import Limits, ServiceContext, StationDefaults
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="session")
def jieba_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("jieba")
    init_jieba(path)
    return path


@pytest.fixture(scope="session")
def classifier(jieba_cache: Path) -> ThemeClassifier:
    return ThemeClassifier.load(None, threshold=0.45, cache_dir=jieba_cache)


PG_URL = os.environ.get("LIAISON_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def _pg_reason() -> str | None:
    """Why PostgreSQL tests cannot run here (None when a server answers)."""
    import asyncio

    import asyncpg

    dsn = PG_URL.replace("postgresql+asyncpg://", "postgresql://")

    async def probe() -> None:
        conn = await asyncpg.connect(dsn, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"PostgreSQL not reachable at {PG_URL} ({type(exc).__name__}: {exc})"
    return None


@pytest.fixture(scope="session")
def pg_unavailable() -> str | None:
    return _pg_reason()


def reset_pg_schema() -> None:
    """Drop and recreate the public schema: each PostgreSQL test starts from nothing."""
    import asyncio

    import asyncpg

    async def reset() -> None:
        conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
        finally:
            await conn.close()

    asyncio.run(reset())


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, pg_unavailable: str | None
) -> Iterator[str]:
    """A fresh database migrated with the real alembic migrations, on each engine."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    else:
        if pg_unavailable:
            pytest.skip(pg_unavailable)
        reset_pg_schema()
        url = PG_URL
    upgrade(url)
    yield url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 9, 28, 1, 0, tzinfo=UTC))  # 09:00 Beijing, a Monday


@pytest.fixture
async def ctx(
    db_url: str, classifier: ThemeClassifier, clock: ManualClock
) -> AsyncIterator[ServiceContext]:
    engine = make_engine(db_url)
    context = ServiceContext(
        sessions=make_sessionmaker(engine),
        classifier=classifier,
        tz=TZ,
        clock=clock,
        station=StationDefaults("default", "测试联络站", "LL"),
        limits=Limits(opinions_per_hour=10, min_chars=5, max_chars=2000),
        admin_ids=frozenset({900}),
    )
    yield context
    await engine.dispose()
