"""The query plans behind /stats, /briefing and the ledger export, on a database built by
bench/scale.py (`--build-only`): every statement they run, its time and its plan.

    python bench/scale_plans.py URL [--what stats,briefing,export,refresh]

`refresh` marks today's hour changed (as a transition's trigger would) and asks /stats, which
recomputes that day's report_days rows first (storage/rollup.py).

SQLite prints EXPLAIN QUERY PLAN, PostgreSQL EXPLAIN (ANALYZE, BUFFERS off). Statements are
captured from the real service calls, then explained with the same parameters.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from bench import scale_data as sd  # noqa: E402
from bench.scale import context  # noqa: E402
from domain.channels import Address, Channel  # noqa: E402
from domain.clock import ManualClock  # noqa: E402


class Capture:
    def __init__(self) -> None:
        self.on = False
        self.seen: dict[str, tuple[str, Any, float]] = {}
        self.started = 0.0

    def before(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        self.started = time.perf_counter()

    def after(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        spent = time.perf_counter() - self.started
        if self.on and statement.lstrip().upper().startswith("SELECT"):
            key = " ".join(statement.split())
            if key not in self.seen or self.seen[key][2] < spent:
                self.seen[key] = (statement, params, spent)


async def explain(engine: Any, statement: str, params: Any) -> list[str]:
    if engine.dialect.name == "sqlite":
        import sqlite3

        with sqlite3.connect(str(engine.url.database)) as db:
            rows = db.execute(f"EXPLAIN QUERY PLAN {statement}", params).fetchall()
        return [f"{'  ' * _depth(rows, r)}{r[3]}" for r in rows]
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        rows = await raw.driver_connection.fetch(f"EXPLAIN (ANALYZE) {statement}", *params)
        return [r[0] for r in rows]


def _depth(rows: list[Any], row: Any) -> int:
    parents = {r[0]: r[1] for r in rows}
    depth, parent = 0, row[1]
    while parent in parents:
        depth, parent = depth + 1, parents[parent]
    return depth


async def run(url: str, what: set[str], classifier: Any) -> None:
    from services.ledger import LedgerService
    from services.reports import ReportsService

    ctx, engine = context(url, classifier, ManualClock(sd.NOW))
    cap = Capture()
    event.listen(engine.sync_engine, "before_cursor_execute", cap.before)
    event.listen(engine.sync_engine, "after_cursor_execute", cap.after)
    await ctx.prepare()
    staff = Address(Channel.TELEGRAM, sd.STAFF_CHAT)
    reports = ReportsService(ctx)
    cap.on = True

    async def dirty_then_stats() -> Any:
        from storage.models import ReportDirty

        async with ctx.sessions.begin() as s:
            s.add(ReportDirty(station_id=1, hour=sd.NOW.replace(minute=0, second=0)))
        return await reports.stats(sd.STAFF, "本月", staff)

    for name, call in (
        ("refresh", dirty_then_stats),
        ("stats", lambda: reports.stats(sd.STAFF, "本月", staff)),
        ("stats", lambda: reports.stats(sd.STAFF, "全部", staff)),
        ("briefing", lambda: reports.briefing(sd.STAFF, "", staff)),
        ("export", lambda: LedgerService(ctx).export(sd.STAFF, "本月", staff)),
    ):
        if name in what:
            started = time.perf_counter()
            await call()
            print(f"# {name}: {time.perf_counter() - started:.3f} s", flush=True)
    cap.on = False
    for statement, params, spent in sorted(cap.seen.values(), key=lambda x: -x[2]):
        shown = re.sub(r"(\?, )+\?", "?, …", " ".join(statement.split()))
        print(f"\n-- {spent * 1000:.1f} ms\n{shown}")
        for line in await explain(engine, statement, params):
            print("   " + line)
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--what", default="stats,briefing,export,refresh")
    args = parser.parse_args()
    from domain.classifier import ThemeClassifier, init_jieba

    cache = Path(tempfile.mkdtemp(prefix="liaison-plans-"))
    init_jieba(cache)
    classifier = ThemeClassifier.load(None, threshold=0.45, cache_dir=cache)
    asyncio.run(run(args.url, set(args.what.split(",")), classifier))


if __name__ == "__main__":
    main()
