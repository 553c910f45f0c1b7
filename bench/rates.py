"""The three rates (services/reports/rates.py) on a city's worth of data, against a baseline.

Builds a SQLite database per size with bench/scale_data.py (one station, three years), then
times, median of --reps runs each:
- baseline: the per-rating count /stats ran before issue 15 (ratings by value, one GROUP BY);
- final ratings: the same count per case (a superseded 不满意 and co-signers' ratings left out,
  `is_final`: index lookups per rating);
- compute_rates this month / all time: 响应率, 解决率, 满意率 and overdue per assignee.
Prints the medians and each one's ratio to the baseline measured in the same run.

    python bench/rates.py [--sizes 10000,100000] [--reps 9]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import scale_data as sd  # noqa: E402
from bench.scale import context  # noqa: E402
from domain.clock import ManualClock  # noqa: E402
from domain.periods import Period  # noqa: E402


async def _median(fn: Callable[[], Awaitable[Any]], reps: int) -> float:
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def measure(url: str, size: int, classifier: Any, reps: int) -> dict[str, float]:
    from sqlalchemy import func, select

    from services.kernel.settings import policy_for
    from services.reports.rates import compute_rates, final_rating_counts
    from storage.migrate import upgrade
    from storage.models import Opinion, Rating

    await asyncio.to_thread(upgrade, url)
    clock = ManualClock(sd.NOW)
    ctx, engine = context(url, classifier, clock)
    try:
        await ctx.prepare()
        built = await sd.build(ctx, clock, sd.Shape(size))
        station = built.setup.station_id
        today = sd.NOW.astimezone(ctx.tz).date()
        month: tuple[datetime | None, datetime | None] = Period.this_month(today).bounds(ctx.tz)
        async with ctx.sessions() as s:
            policy = await policy_for(s, ctx, station)

            async def baseline() -> Any:
                return (
                    await s.execute(
                        select(Rating.value, func.count(Rating.id))
                        .join(Opinion, Opinion.id == Rating.opinion_id)
                        .where(Opinion.station_id == station)
                        .group_by(Rating.value)
                    )
                ).all()

            async def final() -> Any:
                return await final_rating_counts(s, station, None, None)

            async def rates_month() -> Any:
                return await compute_rates(s, station, *month, today, policy)

            async def rates_all() -> Any:
                return await compute_rates(s, station, None, None, today, policy)

            return {
                "ratings by value (baseline)": await _median(baseline, reps),
                "final ratings per case": await _median(final, reps),
                "compute_rates, this month": await _median(rates_month, reps),
                "compute_rates, all time": await _median(rates_all, reps),
            }
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--reps", type=int, default=9)
    args = parser.parse_args()
    from domain.classifier import ThemeClassifier, init_jieba

    workdir = Path(tempfile.mkdtemp(prefix="liaison-rates-"))
    try:
        init_jieba(workdir)
        classifier = ThemeClassifier.load(None, threshold=0.45, cache_dir=workdir)
        print("| size | function | median | ratio to baseline |\n|---|---|---|---|")
        for size in (int(x) for x in args.sizes.split(",")):
            url = f"sqlite+aiosqlite:///{workdir / f'rates-{size}.db'}"
            figures = asyncio.run(measure(url, size, classifier, args.reps))
            base = figures["ratings by value (baseline)"]
            for name, seconds in figures.items():
                print(f"| {size:,} | {name} | {seconds * 1000:.1f} ms | {seconds / base:.1f}× |")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
