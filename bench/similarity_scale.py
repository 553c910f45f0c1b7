"""Interactive actions at 1M opinions with the duplicate-suggestion query before and after issue 12.

    python bench/similarity_scale.py --url sqlite+aiosqlite:////path/copy-of-scale-1000000.db
    python bench/similarity_scale.py --url postgresql+asyncpg://postgres@127.0.0.1:5432/copy

Times bench/scale.py's interactive actions (its own `interactive`: /my, /status, intake, triage,
assign) on a database an earlier `bench/scale.py --build-only --keep` left, in one process and
against one warmed index, in rounds: baseline (every posting list added up with one `bincount`
over all document slots, the query before issue 12), pruned (candidates from the rarest
features, `SimilarityIndex.query_features`), and the baseline again. Each round also reports
the CPU time of the similarity queries alone. The actions write (intake adds opinions, triage
themes and assigns): give it a copy, never the kept database itself.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import scale as sc  # noqa: E402
from bench import scale_data as sd  # noqa: E402
from domain.clock import ManualClock  # noqa: E402
from domain.similarity import DEFAULT_MIN_SCORE, Match, SimilarityIndex  # noqa: E402

_PRUNED = SimilarityIndex.query_features
QUERY_CPU: list[float] = []


def baseline(
    self: SimilarityIndex,
    codes: npt.NDArray[np.uint64],
    k: int = 3,
    min_score: float = DEFAULT_MIN_SCORE,
    exclude: int | None = None,
    exhaustive: bool = False,
) -> list[Match]:
    """The query before issue 12: every posting list, one bincount over all document slots."""
    n = len(self._slot_of)
    if n == 0 or k <= 0 or not len(codes):
        return []
    lists: list[npt.NDArray[np.int32]] = []
    weights: list[float] = []
    qnorm2 = 0.0
    for code in codes.tolist():
        f = self._feature.get(code)
        df = 0 if f is None else self._df[f]
        idf = math.log((n + 1) / (df + 1)) + 1.0
        qnorm2 += idf * idf
        if df:
            assert f is not None
            lists.append(np.frombuffer(self._post[f], dtype=np.int32))
            weights.append(idf * idf)
    if not lists:
        return []
    slots = np.concatenate(lists)
    w = np.repeat(np.array(weights), [len(p) for p in lists])
    dot = np.bincount(slots, weights=w, minlength=len(self._ids))
    cand = np.flatnonzero(dot)
    norms = np.frombuffer(self._norm, dtype=np.float64)[cand]
    return self._top(
        cand.astype(np.int64), dot[cand] / (math.sqrt(qnorm2) * norms), k, min_score, exclude
    )


def timed(query: Any) -> Any:
    def run(*args: Any, **kwargs: Any) -> list[Match]:
        started = time.process_time()
        try:
            result: list[Match] = query(*args, **kwargs)
            return result
        finally:
            QUERY_CPU.append(time.process_time() - started)

    return run


async def rounds(url: str, classifier: Any, reps: int, order: list[str]) -> None:
    ctx, engine = sc.context(url, classifier, ManualClock(sd.NOW))
    try:
        await ctx.prepare()
        built = await sd.existing(ctx)
        started = time.perf_counter()
        warmed = await ctx.duplicates.warm(ctx.sessions)
        print(f"index warmed: {warmed:,} open opinions in {time.perf_counter() - started:.0f} s")
        for n, name in enumerate(order):
            # New senders each round (the hourly limit), no answers remembered from the last.
            built.counts["opinions"] += 100 * (n > 0)
            ctx.duplicates._answered.clear()
            SimilarityIndex.query_features = timed(baseline if name == "baseline" else _PRUNED)  # type: ignore[method-assign]
            QUERY_CPU.clear()
            cpu = time.process_time()
            timings = await sc.interactive(ctx, built, reps)
            cpu = time.process_time() - cpu
            q = sorted(QUERY_CPU)
            print(f"\n### {name} (load {os.getloadavg()[0]:.2f}; round CPU {cpu:.2f} s)")
            print("| action | median | max |\n|---|---|---|")
            for t in timings:
                print(f"| {t.name} | {t.median * 1000:.1f} ms | {max(t.seconds) * 1000:.1f} ms |")
            if q:
                print(
                    f"similarity queries: {len(q)}, CPU median {statistics.median(q) * 1000:.2f} ms, "
                    f"max {q[-1] * 1000:.2f} ms"
                )
    finally:
        SimilarityIndex.query_features = _PRUNED  # type: ignore[method-assign]
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="a writable copy of a kept scale database")
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--rounds", default="baseline,pruned,baseline")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/liaison-simscale"))
    args = parser.parse_args()
    from domain.classifier import ThemeClassifier, init_jieba
    from storage.migrate import upgrade

    upgrade(args.url, "heads")  # main may carry two heads until the lead re-chains them
    args.workdir.mkdir(parents=True, exist_ok=True)
    init_jieba(args.workdir)
    classifier = ThemeClassifier.load(None, threshold=0.45, cache_dir=args.workdir)
    asyncio.run(rounds(args.url, classifier, args.reps, args.rounds.split(",")))


if __name__ == "__main__":
    main()
