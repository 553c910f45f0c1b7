"""Durable delivery with real processes: kill -9 during a dispatch loses nothing and doubles at
most the message in flight; three dispatchers on one PostgreSQL send each reminder once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest

from domain.classifier import ThemeClassifier
from storage.migrate import upgrade
from tests.botproc import TOKEN, BotProcess, dispatchers, finished
from tests.fakebot import FakeBotApi
from tests.support import bind_staff, chat, groups_with_notices, services_on, tg

ADMIN = tg(900, "站长")
STAFF_CHAT = -999


def seed_notices(url: str, classifier: ThemeClassifier, groups: int, notices: int) -> list[int]:
    """Create groups bound to chats and `notices` announcements to all of them, via the services."""

    async def run() -> list[int]:
        chats = [-7000 - g for g in range(groups)]
        async with services_on(url, classifier, ADMIN) as ctx:
            await bind_staff(ctx, ADMIN, STAFF_CHAT)
            await groups_with_notices(ctx, ADMIN, [chat(c) for c in chats], notices)
        return chats

    upgrade(url)
    return asyncio.run(run())


def delivered(fake: FakeBotApi, chats: list[int]) -> Counter[tuple[int, str]]:
    wanted = set(chats)
    return Counter((m["chat_id"], m["text"]) for m in fake.messages() if m["chat_id"] in wanted)


def wait_count(fake: FakeBotApi, chats: list[int], n: int, timeout: float) -> None:
    """Until `n` notices reached the groups (the fake wakes the wait on each send)."""
    try:
        fake.wait_for(lambda: sum(delivered(fake, chats).values()) >= n, timeout=timeout)
    except TimeoutError:
        raise AssertionError(f"only {sum(delivered(fake, chats).values())}/{n} delivered") from None


def test_kill_9_during_dispatch_loses_nothing(tmp_path: Path, classifier: ThemeClassifier) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'liaison.db'}"
    chats = seed_notices(url, classifier, groups=4, notices=10)
    total = len(chats) * 10
    env = {"BULK_RATE_PER_SECOND": "6", "OUTBOX_LEASE_SECONDS": "4"}
    with FakeBotApi(TOKEN) as fake:
        fake.add_group(STAFF_CHAT, "工作人员群")
        for c in chats:
            fake.add_group(c, f"组{c}")
        bot = BotProcess(fake.base_url, tmp_path, extra_env=env, database_url=url).polling(fake)
        wait_count(fake, chats, 12, timeout=60)
        bot.kill()  # SIGKILL in the middle of the dispatch
        got_before = sum(delivered(fake, chats).values())
        assert got_before < total, "the dispatch finished before the kill; slow it down"
        bot = BotProcess(fake.base_url, tmp_path, extra_env=env, database_url=url).polling(fake)
        try:
            counts = delivered(fake, chats)
            deadline = time.monotonic() + 90
            while len(counts) < total and time.monotonic() < deadline:
                wait_count(fake, chats, sum(counts.values()) + 1, timeout=30)
                counts = delivered(fake, chats)
            fake.wait_until_idle(timeout=30, quiet=1.0)
            counts = delivered(fake, chats)
        finally:
            bot.stop()
    assert len(counts) == total  # nothing lost
    assert sum(counts.values()) - total <= 1  # at most the one in flight doubled


def test_three_dispatchers_on_postgresql_send_each_once(
    pg_database: str | None, classifier: ThemeClassifier, tmp_path: Path
) -> None:
    if pg_database is None:
        pytest.skip("PostgreSQL not reachable")
    from tests.conftest import reset_pg_schema

    reset_pg_schema(pg_database)
    chats = seed_notices(pg_database, classifier, groups=6, notices=10)
    total = len(chats) * 10
    with FakeBotApi(TOKEN) as fake:
        fake.add_group(STAFF_CHAT, "工作人员群")
        for c in chats:
            fake.add_group(c, f"组{c}")
        # Slow enough that one process alone would need 6 s: the others start (about a
        # second each on a busy machine) while there is still work to share.
        procs = dispatchers(3, fake.base_url, tmp_path, pg_database, BULK_RATE_PER_SECOND="10")
        results = finished(procs, timeout=180)
        assert [p.returncode for p in procs] == [0, 0, 0], [err[-2000:] for _, err in results]
        outs = [int(out.strip().split()[-1]) for out, _ in results]
        counts = delivered(fake, chats)
    assert len(counts) == total
    assert sum(counts.values()) == total  # no reminder sent twice
    assert sum(outs) == total  # the three processes' own counts add up
    assert sum(1 for n in outs if n > 0) >= 2  # the work really was shared
