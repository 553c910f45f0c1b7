"""Several processes on one database: instances starting together on an empty database all come
up (the migrations run under a lock); a rate-limited send never outlives its outbox lease."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from domain.classifier import ThemeClassifier
from services.intake import IntakeService
from services.kernel.context import ServiceContext
from storage.migrate import upgrade
from storage.models import Outbox
from tests.botproc import ROOT, TOKEN, dispatchers, finished
from tests.conftest import empty_database
from tests.fakebot import FakeBotApi, FloodLimits
from tests.support import bind_staff, chat, services_on, tg
from tests.test_migrations import schema_diff


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_three_instances_migrate_an_empty_database_together(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = empty_database(request, tmp_path, "liaison.db", engine)
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


STAFF_CHAT = -999
ADMIN = 900


async def held_staff_card(url: str, classifier: ThemeClassifier) -> None:
    """One opinion, so one triage card for the staff group, queued but not yet due."""
    admin = tg(ADMIN, "站长")
    async with services_on(url, classifier, admin) as ctx:
        await bind_staff(ctx, admin, STAFF_CHAT)
        await IntakeService(ctx).submit_text(
            tg(101, "王阿姨"), chat(101), "1", "小区路灯坏了一个月，晚上老人出门很危险。", None
        )
        await set_due(ctx, datetime.now(UTC) + timedelta(days=1))


async def set_due(ctx: ServiceContext, when: datetime) -> None:
    async with ctx.sessions.begin() as s:
        await s.execute(update(Outbox).where(Outbox.status == "pending").values(due_at=when))


def release_now(url: str, classifier: ThemeClassifier) -> None:
    async def run() -> None:
        async with services_on(url, classifier) as ctx:
            await set_due(ctx, datetime.now(UTC))

    asyncio.run(run())


def test_a_429_never_keeps_a_row_past_its_lease(
    tmp_path: Path, classifier: ThemeClassifier
) -> None:
    """Two dispatchers, a 2-second lease, the staff group answering 429 (retry after 2 s) three
    times: PTB's rate limiter used to sleep and retry inside the send, past the lease, while the
    other dispatcher claimed the row and sent the card as well."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'liaison.db'}"
    upgrade(url)
    asyncio.run(held_staff_card(url, classifier))
    with FakeBotApi(TOKEN) as fake:
        fake.add_group(STAFF_CHAT, "工作人员群")
        for _ in range(3):
            fake.fail_next("sendMessage", 429, retry_after=2)
        procs = dispatchers(2, fake.base_url, tmp_path, url, OUTBOX_LEASE_SECONDS="2")
        try:
            fake.wait_for(lambda: len(fake.calls("getMe")) >= 2, timeout=120)
            release_now(url, classifier)
        finally:
            results = finished(procs, timeout=120)
        cards = [
            m for m in fake.messages(STAFF_CHAT) if "王阿姨" in m["text"] or "路灯" in m["text"]
        ]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in results]
    assert len(cards) == 1


def test_three_dispatchers_share_each_group_s_20_a_minute(
    pg_database: str | None, classifier: ThemeClassifier, tmp_path: Path
) -> None:
    """Three dispatchers on one PostgreSQL, two groups owed 24 notices each, Telegram's flood
    limits in the fake: each dispatcher kept its own count of a group's sends, so together they
    went past 20 a minute and drew 429s."""
    if pg_database is None:
        pytest.skip("PostgreSQL not reachable")
    from tests.conftest import reset_pg_schema
    from tests.test_e2e_dispatch import delivered, seed_notices

    reset_pg_schema(pg_database)
    chats = seed_notices(pg_database, classifier, groups=2, notices=24)
    with FakeBotApi(TOKEN, flood=FloodLimits.telegram()) as fake:
        fake.add_group(-999, "工作人员群")
        for c in chats:
            fake.add_group(c, f"组{c}")
        # 3 x 8 < 30 a second overall: only groups are tested
        procs = dispatchers(3, fake.base_url, tmp_path, pg_database, BULK_RATE_PER_SECOND="8")
        results = finished(procs, timeout=300)
        counts = delivered(fake, chats)
        refused = fake.count_429
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-2000:] for _, err in results]
    assert len(counts) == 48 and sum(counts.values()) == 48
    assert refused == 0
