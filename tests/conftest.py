"""Shared fixtures: a migrated database per test and the real classifier, loaded once."""

from __future__ import annotations

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


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """A fresh SQLite file migrated with the real alembic migrations."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
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
