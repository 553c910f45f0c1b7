"""The durable inbox's statements on the intake hot path, CPU per call (in process).

Stores updates one per transaction and in batches (`store_many`), marks them done with the
ORM-enabled UPDATE the inbox used before (`update(InboxEntry)`, baseline) and with the Core
statement it uses now, and records replies (`reply_sent`). SQLite by default (a fresh file),
or --database-url (PostgreSQL: a database that may be emptied).

    python bench/inbox_ops.py [--n 1000] [--batch 50] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import bindparam, delete, update  # noqa: E402

from domain.channels import Channel  # noqa: E402
from domain.states import InboxState  # noqa: E402
from services.kernel.context import Classifier, ServiceContext  # noqa: E402
from services.kernel.inbox import Inbox  # noqa: E402
from storage.db import make_engine, make_sessionmaker  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import InboxEntry, UTCDateTime  # noqa: E402

TEXT = "我们小区没有老年食堂，老人吃饭很不方便，希望社区能办一个助餐点。"


def payload(n: int) -> dict[str, object]:
    chat = {"id": 5000 + n % 100, "type": "private", "first_name": "居民"}
    return {
        "update_id": n,
        "message": {"message_id": n, "date": 1_765_000_000, "chat": chat, "text": TEXT},
    }


async def per_call(n: int, work: Callable[[int], Awaitable[None]]) -> float:
    """CPU milliseconds per call of `work(i)`, i in range(n)."""
    started = time.process_time()
    for i in range(n):
        await work(i)
    return (time.process_time() - started) * 1000 / n


async def run(url: str, n: int, batch: int) -> None:
    engine = make_engine(url)
    no_classifier = cast(Classifier, None)  # the inbox never classifies
    ctx = ServiceContext(
        sessions=make_sessionmaker(engine), classifier=no_classifier, tz=ZoneInfo("Asia/Shanghai")
    )
    box = Inbox(ctx, Channel.TELEGRAM, owner="bench")
    # inbox.finish's statement as it was (storage/queries/inbox.py before this branch)
    orm_finish = (
        update(InboxEntry)
        .where(InboxEntry.channel == bindparam("in_channel"), InboxEntry.key == bindparam("in_key"))
        .values(
            state=InboxState.DONE,
            finished_at=bindparam("now", type_=UTCDateTime()),
            lease_until=None,
            last_error=None,
        )
    )
    try:
        async with ctx.sessions.begin() as s:
            await s.execute(delete(InboxEntry))

        async def one(i: int) -> None:
            await box.store(f"a{i}", payload(i))

        async def many(i: int) -> None:
            await box.store_many(
                [(f"b{i * batch + j}", payload(i * batch + j)) for j in range(batch)]
            )

        async def orm_done(i: int) -> None:
            params = {"in_channel": "telegram", "in_key": f"a{i}", "now": ctx.clock.now()}
            async with ctx.sessions.begin() as s:
                await s.execute(orm_finish, params)

        async def core_done(i: int) -> None:
            await box.finish(f"a{i}")

        async def replied(i: int) -> None:
            await box.reply_sent(f"b{i}", 1, last=True)

        engine_name = url.split(":", 1)[0]
        print(f"{engine_name}: {n} updates, CPU ms per call")
        print(f"  store, one per transaction        {await per_call(n, one):.3f}")
        per_batch = await per_call(max(1, n // batch), many)
        print(f"  store_many, per update (of {batch})   {per_batch / batch:.3f}")
        print(f"  done-mark, ORM update(InboxEntry) {await per_call(n, orm_done):.3f}  (before)")
        print(f"  done-mark, Core (inbox.finish)    {await per_call(n, core_done):.3f}")
        print(f"  reply_sent (record + done)        {await per_call(n, replied):.3f}")
    finally:
        await engine.dispose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--database-url", default=None)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/inbox.db"
        upgrade(url)
        asyncio.run(run(url, args.n, args.batch))


if __name__ == "__main__":
    main()
