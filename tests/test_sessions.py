"""storage/db.py `Sessions.begin()`: commit on success, roll back on error or cancellation, and
always give the connection back (with SQLite's one-connection pool a leak would hang the next
transaction). On SQLite and PostgreSQL, against real databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from storage.db import Sessions, make_engine, make_sessionmaker
from storage.models import Station


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[Sessions]:
    engine = make_engine(db_url, pool_size=1, max_overflow=0, pool_timeout=5)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def _codes(sessions: Sessions) -> list[str]:
    async with sessions() as s:
        return list((await s.execute(select(Station.code).order_by(Station.code))).scalars())


def _checked_out(sessions: Sessions) -> int:
    bind = sessions.kw["bind"]
    return int(bind.sync_engine.pool.checkedout())


async def test_commits_when_the_block_ends(sessions: Sessions) -> None:
    async with sessions.begin() as s:
        s.add(Station(code="a", name="甲站", ref_prefix="LA"))
    assert await _codes(sessions) == ["a"]
    assert _checked_out(sessions) == 0


async def test_rolls_back_and_reraises_on_error(sessions: Sessions) -> None:
    with pytest.raises(LookupError, match="出错"):
        async with sessions.begin() as s:
            s.add(Station(code="b", name="乙站", ref_prefix="LB"))
            await s.flush()  # the row is in the database's transaction ...
            raise LookupError("出错")
    assert await _codes(sessions) == []  # ... and gone with it
    assert _checked_out(sessions) == 0


async def test_cancelled_task_rolls_back_and_frees_the_connection(sessions: Sessions) -> None:
    inside = asyncio.Event()

    async def slow_writer() -> None:
        async with sessions.begin() as s:
            s.add(Station(code="c", name="丙站", ref_prefix="LC"))
            await s.flush()
            inside.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(slow_writer())
    await asyncio.wait_for(inside.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _checked_out(sessions) == 0
    # The single pooled connection is usable at once (a leak would time out here).
    async with sessions.begin() as s:
        s.add(Station(code="d", name="丁站", ref_prefix="LD"))
    assert await _codes(sessions) == ["d"]


async def test_many_concurrent_transactions_share_one_connection(sessions: Sessions) -> None:
    async def add(n: int) -> None:
        async with sessions.begin() as s:
            s.add(Station(code=f"s{n:02d}", name=f"站{n}", ref_prefix="LS"))

    await asyncio.gather(*(add(n) for n in range(20)))
    async with sessions() as s:
        assert (await s.execute(select(func.count(Station.id)))).scalar_one() == 20
    assert _checked_out(sessions) == 0
