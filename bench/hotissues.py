"""Hot issues (每月一题): planted recurring issues found again, and the time for 10,000 opinions.

    python bench/hotissues.py

A generated month: 10 planted issues of 40, 30, 25, 20, 15, 12, 10, 8, 6 and 5 opinions, each
written from the two wordings of one pair of bench/data/duplicates.csv (original and
paraphrase) with an invented place in front ("东光小区"), a polite opening or closing, and a
few characters dropped; around them, every other opinion of the shipped corpora once
(2,000 singletons, which have recurring topics of their own). Per planted issue: the cluster
holding most of it, its share of the issue (recall) and the issue's share of that cluster
(purity). Time: the same month grown to 10,000 opinions with bench/similarity.py's synthetic
texts, CPU time of `cluster()` (it segments only the ~350 texts it takes terms from) and,
for comparison, of jieba segmenting the same texts.

    python bench/hotissues.py --services

The product's path, as the briefing job runs it: the 10,000 opinions stored in one month of a
test database (SQLite in a temporary folder), then `services.reports.hotissues.hot_issues`
(read the period's opinions, cluster in a worker thread, keep the result) timed cold and again
(kept), and the whole `build_briefing` for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.similarity import background_texts, load_pairs, synthetic  # noqa: E402
from domain.classifier import init_jieba  # noqa: E402
from domain.hotissues import cluster  # noqa: E402
from domain.similarity import analyze  # noqa: E402

SIZES = [40, 30, 25, 20, 15, 12, 10, 8, 6, 5]
OPENINGS = ["", "", "我想反映一下，", "代表您好，", "你好，", "请问", "再说一次，"]
CLOSINGS = ["", "", "，希望尽快解决", "，谢谢", "。麻烦管一管", "！！"]
PLACE = "东南西北中新华光明幸福和平建设人民金星红旗阳光锦绣滨江桃李"


def variant(text: str, rng: random.Random) -> str:
    place = rng.choice(PLACE) + rng.choice(PLACE) + rng.choice(["小区", "社区", "村"])
    t = rng.choice(OPENINGS) + (place + "，" if rng.random() < 0.6 else "") + text
    if len(t) > 10 and rng.random() < 0.5:
        at = rng.randrange(len(t) - 2)
        t = t[:at] + t[at + 1 :]
    return t + rng.choice(CLOSINGS)


def month(seed: int = 3) -> tuple[list[str], list[int]]:
    """Texts and their planted issue (-1: background)."""
    rng = random.Random(seed)
    originals, paraphrases, _ = load_pairs()
    picks = rng.sample(range(len(originals)), len(SIZES))
    texts: list[str] = []
    issue: list[int] = []
    for k, (p, size) in enumerate(zip(picks, SIZES, strict=True)):
        for _ in range(size):
            texts.append(variant(rng.choice([originals[p], paraphrases[p]]), rng))
            issue.append(k)
    background = background_texts(set(originals) | set(paraphrases))
    texts += background
    issue += [-1] * len(background)
    order = list(range(len(texts)))
    rng.shuffle(order)
    return [texts[i] for i in order], [issue[i] for i in order]


def quality(texts: list[str], issue: list[int]) -> dict[str, Any]:
    clusters = cluster(texts, min_size=3, limit=50)
    found: dict[str, Any] = {}
    for k, size in enumerate(SIZES):
        best = max(clusters, key=lambda c: sum(issue[i] == k for i in c.ids), default=None)
        hit = sum(issue[i] == k for i in best.ids) if best else 0
        found[f"issue {k} ({size})"] = {
            "recall": round(hit / size, 2),
            "purity": round(hit / best.count, 2) if best else None,
            "rank": clusters.index(best) + 1 if best and hit else None,
            "terms": list(best.terms) if best and hit else [],
        }
    top10 = clusters[:10]
    planted_top = sum(
        bool(c.ids) and Counter(issue[i] for i in c.ids).most_common(1)[0][0] >= 0 for c in top10
    )
    return {
        "opinions": len(texts),
        "clusters_of_3_or_more": len(clusters),
        "top10_that_are_planted_issues": planted_top,
        "mean_recall": round(statistics.mean(v["recall"] for v in found.values()), 3),
        "mean_purity": round(
            statistics.mean(v["purity"] for v in found.values() if v["purity"] is not None), 3
        ),
        "per_issue": found,
        "top10": [
            {"count": c.count, "terms": list(c.terms), "example": texts[c.representative][:40]}
            for c in top10
        ],
    }


def timing(texts: list[str], n: int) -> dict[str, Any]:
    big = (texts + synthetic(n))[:n]
    t0 = time.process_time()
    for t in big:
        analyze(t)
    seg = time.process_time() - t0
    runs = []
    for _ in range(3):
        t0 = time.process_time()
        clusters = cluster(big, min_size=3, limit=10)
        runs.append(time.process_time() - t0)
    return {
        "opinions": n,
        "cluster_cpu_s_best_of_3": round(min(runs), 2),
        "jieba_alone_s_for_comparison": round(seg, 2),
        "biggest": [c.count for c in clusters],
    }


async def through_services(texts: list[str], n: int) -> dict[str, Any]:
    from datetime import UTC, date, datetime

    from domain.classifier import ThemeClassifier
    from domain.periods import Period
    from services.kernel.context import ServiceContext
    from services.reports import build_briefing
    from services.reports.hotissues import hot_issues
    from storage.db import make_engine, make_sessionmaker
    from storage.migrate import upgrade
    from storage.models import Opinion, Station

    big = (texts + synthetic(n))[:n]
    with tempfile.TemporaryDirectory(prefix="hotissues-") as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/liaison.db"
        await asyncio.to_thread(upgrade, url)
        engine = make_engine(url)
        ctx = ServiceContext(make_sessionmaker(engine), ThemeClassifier.load(None))
        at = datetime(2026, 9, 10, 2, tzinfo=UTC)
        async with ctx.sessions.begin() as s:
            station = Station(code="bench", name="基准联络站", ref_prefix="LL")
            s.add(station)
            await s.flush()
            rows = [
                dict(
                    station_id=station.id,
                    ref_no=f"LL-2026-{i + 1:05d}",
                    year=2026,
                    seq=i + 1,
                    text=t,
                    theme="home_care",
                    status="received",
                    created_at=at,
                    updated_at=at,
                )
                for i, t in enumerate(big)
            ]
            await s.execute(Opinion.__table__.insert(), rows)  # type: ignore[attr-defined]
        period = Period.this_month(date(2026, 9, 20))
        out: dict[str, Any] = {"opinions": n}
        for name in ("hot_issues_cold", "hot_issues_kept"):
            w0, c0 = time.perf_counter(), time.process_time()
            found = await hot_issues(ctx, station.id, period)
            out[name] = {
                "wall_s": round(time.perf_counter() - w0, 3),
                "cpu_s": round(time.process_time() - c0, 3),
            }
        out["biggest"] = [h.count for h in found]
        w0 = time.perf_counter()
        await build_briefing(ctx, station.id, period)
        out["build_briefing_wall_s_issues_kept"] = round(time.perf_counter() - w0, 2)
        await engine.dispose()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--services", action="store_true", help="also time the briefing job's path")
    args = p.parse_args(argv)
    init_jieba(Path(tempfile.mkdtemp(prefix="jieba-bench-")))
    texts, issue = month()
    out = {"quality": quality(texts, issue)}
    out["time_2000"] = timing(texts, 2000)
    out["time_10000"] = timing(texts, 10_000)
    if args.services:
        out["through_services_10000"] = asyncio.run(through_services(texts, 10_000))
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
