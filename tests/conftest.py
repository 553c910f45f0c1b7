"""Shared fixtures: a migrated database per test and the real classifier, loaded once."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from domain.classifier import ThemeClassifier, init_jieba
from domain.clock import ManualClock
from services.kernel.context import Limits, ServiceContext, StationDefaults
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade

TZ = ZoneInfo("Asia/Shanghai")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """In CI (CI set), PostgreSQL is provided: a test skipped for want of it fails instead."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and "PostgreSQL" in str(report.longrepr):
        report.outcome = "failed"
        report.longrepr = f"PostgreSQL is required in CI: {report.longrepr}"


@pytest.fixture(scope="session")
def jieba_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("jieba")
    init_jieba(path)
    return path


@pytest.fixture(scope="session")
def classifier(jieba_cache: Path) -> ThemeClassifier:
    return ThemeClassifier.load(None, threshold=0.45, cache_dir=jieba_cache)


PG_ADMIN_URL = os.environ.get(
    "LIAISON_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def _run(coro: Any) -> Any:
    import asyncio

    return asyncio.run(coro)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str | None]:
    """A private PostgreSQL database for this test session (None when no server answers).

    Concurrent test runs on one machine each get their own database, so resetting the schema
    between tests never pulls tables from under another run.
    """
    import asyncpg

    name = f"liaison_test_{os.getpid()}"

    async def create() -> None:
        conn = await asyncpg.connect(_dsn(PG_ADMIN_URL), timeout=3)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(_dsn(PG_ADMIN_URL), timeout=3)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    try:
        _run(create())
    except Exception as exc:
        _PG_REASON.append(
            f"PostgreSQL not reachable at {PG_ADMIN_URL} ({type(exc).__name__}: {exc})"
        )
        yield None
        return
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    yield f"{base}/{name}"
    _run(drop())


_PG_REASON: list[str] = []


def reset_pg_schema(url: str) -> None:
    """Drop and recreate the public schema: each PostgreSQL test starts from nothing."""
    import asyncpg

    async def reset() -> None:
        conn = await asyncpg.connect(_dsn(url))
        try:
            # A connection a failed test left open (idle in a transaction) would hold locks the
            # DROP waits for: end it, so one failure cannot hang every test after it.
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
        finally:
            await conn.close()

    _run(reset())


def empty_database(
    request: pytest.FixtureRequest, tmp_path: Path, filename: str, engine: str | None = None
) -> str:
    """An empty database on `engine` or else the one the fixture is parametrised with ("sqlite"
    or "postgresql"): a new SQLite file, or the PostgreSQL test database with its schema dropped."""
    if (engine or request.param) == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / filename}"
    pg: str | None = request.getfixturevalue("pg_database")
    if pg is None:
        pytest.skip(_PG_REASON[0] if _PG_REASON else "PostgreSQL not reachable")
    reset_pg_schema(pg)
    return pg


def run_sql(url: str, statements: list[str]) -> list[list[tuple[Any, ...]]]:
    """Run raw statements in one transaction; each one's rows (empty when it returns none)."""

    async def go() -> list[list[tuple[Any, ...]]]:
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                out = []
                for sql in statements:
                    result = await conn.execute(text(sql))
                    out.append([tuple(r) for r in result.all()] if result.returns_rows else [])
                return out
        finally:
            await engine.dispose()

    return asyncio.run(go())


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database migrated with the real alembic migrations, on each engine."""
    url = empty_database(request, tmp_path, "test.db")
    upgrade(url)
    yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def bot_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database for the real bot process (which migrates it), on each engine."""
    return empty_database(request, tmp_path, "liaison.db")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url_0001(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database at revision 0001 (before channels), on each engine."""
    url = empty_database(request, tmp_path, "old.db")
    upgrade(url, "0001")
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
        admin_ids=frozenset({("telegram", "900")}),
    )
    await context.prepare()
    yield context
    await engine.dispose()
