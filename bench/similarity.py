"""Duplicate suggestions (并单): precision and recall on written pairs; speed and size at 100,000.

    python bench/similarity.py                # pairs + 100,000 open opinions
    python bench/similarity.py --n 20000      # a smaller index

Pairs (bench/data/duplicates.csv): 117 originals, each with a paraphrase (same matter, other
words: a duplicate) and a near-topic text (same topic, another matter or place: not one). The
index holds the originals; each new text is queried for its top 3 with score >= threshold.
A suggestion of the original for its paraphrase is right; every other suggestion is wrong
(the original for its near-topic text, or any other original). The threshold is chosen on the
originals with even row numbers (dev) and measured on the odd ones (test). "+ background"
adds 2,700 other opinions of the same kinds (the classifier corpora) as distractors; any of
them suggested counts as wrong, so that precision is a lower bound.

Speed: 100,000 synthetic open opinions (the corpus texts with invented places, building
numbers, deletions and halves of two texts joined), built by `add` (segmentation included),
then 1,000 queries; CPU time per query (median, p95, max), build time, growth of the process's
resident memory, `to_bytes` size and `from_bytes` time.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from domain.classifier import init_jieba  # noqa: E402
from domain.classifier.corpus import read_labeled  # noqa: E402
from domain.similarity import DEFAULT_MIN_SCORE, Match, SimilarityIndex  # noqa: E402

PAIRS = ROOT / "bench" / "data" / "duplicates.csv"
BACKGROUND = [
    ROOT / "domain" / "classifier" / "data" / "corpus_train.csv",
    ROOT / "domain" / "classifier" / "data" / "corpus_heldout.csv",
    ROOT / "bench" / "data" / "elderly_external.csv",
    ROOT / "bench" / "data" / "scope_external.csv",
]
THRESHOLDS = [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5]


def load_pairs() -> tuple[list[str], list[str], list[str]]:
    """originals, their paraphrases, their near-topic texts (row i of each belongs together)."""
    with PAIRS.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    dup = [r for r in rows if r["duplicate"] == "1"]
    near = [r for r in rows if r["duplicate"] == "0"]
    assert [r["original"] for r in dup] == [r["original"] for r in near]
    return [r["original"] for r in dup], [r["new"] for r in dup], [r["new"] for r in near]


def background_texts(exclude: set[str]) -> list[str]:
    out: list[str] = []
    for path in BACKGROUND:
        out += [t for t in read_labeled(path).texts if t not in exclude]
    return out


def pair_figures(with_background: bool) -> dict[str, Any]:
    originals, paraphrases, near = load_pairs()
    rows = list(enumerate(originals))
    if with_background:
        rows += [(100_000 + i, t) for i, t in enumerate(background_texts(set(originals)))]
    index = SimilarityIndex.build(rows)
    found: list[tuple[list[Match], list[Match]]] = [
        (index.query(p, k=3, min_score=0.0), index.query(n, k=3, min_score=0.0))
        for p, n in zip(paraphrases, near, strict=True)
    ]

    def at(t: float, part: int | None) -> dict[str, Any]:
        sel = [i for i in range(len(originals)) if part is None or i % 2 == part]
        hits = sum(any(m.id == i and m.score >= t for m in found[i][0]) for i in sel)
        made = sum(sum(m.score >= t for m in found[i][0] + found[i][1]) for i in sel)
        near_wrong = sum(any(m.id == i and m.score >= t for m in found[i][1]) for i in sel)
        return {
            "recall": round(hits / len(sel), 3),
            "precision": round(hits / made, 3) if made else None,
            "suggestions": made,
            "near_topic_original_suggested": round(near_wrong / len(sel), 3),
        }

    ranked = [
        next((m.score for m in p if m.id == i), 0.0) > next((m.score for m in n if m.id == i), 0.0)
        for i, (p, n) in enumerate(found)
    ]
    return {
        "index_size": len(index),
        "paraphrase_scores_above_near_topic": round(sum(ranked) / len(ranked), 3),
        "dev": {str(t): at(t, 0) for t in THRESHOLDS},
        f"test@{DEFAULT_MIN_SCORE}": at(DEFAULT_MIN_SCORE, 1),
        f"all@{DEFAULT_MIN_SCORE}": at(DEFAULT_MIN_SCORE, None),
    }


def synthetic(n: int, seed: int = 1) -> list[str]:
    """n opinion-like texts from the corpus texts: invented places, deletions, joined halves."""
    base = background_texts(set())
    rng = random.Random(seed)
    chars = "东南西北中新华光明幸福和平建设人民解放长江黄河金星红旗阳光锦绣滨江桃李春秋松柏丽景"
    places = ["路", "街", "小区", "村", "花园", "社区"]
    out: list[str] = []
    while len(out) < n:
        t = rng.choice(base)
        r = rng.random()
        if r < 0.3:
            t = t[: len(t) // 2] + rng.choice(base)[len(t) // 2 :]
        if rng.random() < 0.5:
            place = rng.choice(chars) + rng.choice(chars) + rng.choice(places)
            if rng.random() < 0.5:
                place += f"{rng.randint(1, 30)}号楼"
            t = place + t
        if len(t) > 8 and rng.random() < 0.5:
            at = rng.randrange(len(t) - 3)
            t = t[:at] + t[at + rng.randint(1, 3) :]
        out.append(t)
    return out


def rss_mb() -> float:
    """Resident memory of this process now (Linux /proc), in MiB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def speed(n: int, queries: int) -> dict[str, Any]:
    texts = synthetic(n)
    rss0 = rss_mb()
    t0 = time.process_time()
    index = SimilarityIndex.build(enumerate(texts))
    build_s = time.process_time() - t0
    grown = rss_mb() - rss0
    probe = synthetic(queries, seed=2)
    gc.collect()
    gc.freeze()  # as the bot does after start-up: the collector no longer walks the index
    for q in probe[:50]:  # warm-up
        index.query(q)
    times: list[float] = []
    found = 0
    for q in probe:
        t0 = time.process_time()
        found += bool(index.query(q, k=3, min_score=DEFAULT_MIN_SCORE))
        times.append((time.process_time() - t0) * 1000)
    times.sort()
    blob = index.to_bytes()
    t0 = time.process_time()
    again = SimilarityIndex.from_bytes(blob)
    load_s = time.process_time() - t0
    assert len(again) == len(index)
    t0 = time.process_time()
    for i in range(1000):
        index.remove(i)
    remove_ms = (time.process_time() - t0) * 1000 / 1000
    t0 = time.process_time()
    for i, t in enumerate(probe[:1000]):
        index.add(n + i, t)
    add_ms = (time.process_time() - t0) * 1000 / 1000
    return {
        "open_opinions": n,
        "mean_chars": round(sum(map(len, texts)) / n, 1),
        "build_s": round(build_s, 1),
        "rss_growth_mb": round(grown, 1),
        "query_ms_median": round(statistics.median(times), 2),
        "query_ms_p95": round(times[int(0.95 * len(times))], 2),
        "query_ms_max": round(times[-1], 2),
        "queries_with_a_suggestion": round(found / len(probe), 3),
        "add_ms_each": round(add_ms, 3),
        "remove_ms_each": round(remove_ms, 3),
        "to_bytes_mb": round(len(blob) / 2**20, 1),
        "from_bytes_s": round(load_s, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=100_000, help="open opinions for the speed run")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--skip-speed", action="store_true")
    args = ap.parse_args(argv)
    init_jieba(Path(tempfile.mkdtemp(prefix="jieba-bench-")))
    out: dict[str, Any] = {
        "min_score": DEFAULT_MIN_SCORE,
        "pairs": pair_figures(False),
        "pairs+background": pair_figures(True),
    }
    if not args.skip_speed:
        out["speed"] = speed(args.n, args.queries)
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
