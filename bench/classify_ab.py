"""Classification cost of two source trees on the same texts: classify ÷ stock `jieba.lcut`.

    python bench/classify_ab.py /path/to/other/tree [--runs 3]

Each run starts one process per tree (alternating: A, B, A, B …), each timing its own
`ThemeClassifier.classify` (packaged model, every text as new) against jieba's stock `lcut`
in the same process, chunk by chunk, best of 7 per chunk (CPU time). Texts: the first
session's speed set — the shipped held-out file, the external elderly set, and the first
1,213 rows of the training corpus — so trees whose corpora differ are timed alike.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_TRAIN_ROWS = 1213


def texts() -> list[str]:
    data = ROOT / "domain" / "classifier" / "data"
    out: list[str] = []
    for path, limit in (
        (data / "corpus_heldout.csv", None),
        (data / "corpus_train.csv", FIRST_TRAIN_ROWS),
        (ROOT / "bench" / "data" / "elderly_external.csv", None),
    ):
        with path.open(encoding="utf-8") as fh:
            out += [r["text"] for r in list(csv.DictReader(fh))[:limit]]
    return out


def child(tree: str, text_file: str) -> None:
    sys.path.insert(0, tree)
    import jieba

    from domain.classifier import ThemeClassifier, init_jieba, segment

    init_jieba(Path(tempfile.mkdtemp(prefix="jieba-ab-")))
    clf = ThemeClassifier.load(None)
    items: list[str] = json.loads(Path(text_file).read_text(encoding="utf-8"))
    jieba.lcut("预热")
    forget = getattr(segment, "forget", lambda: None)
    tc = ts = 0.0
    for start in range(0, len(items), 200):
        part = items[start : start + 200]
        bc = bs = float("inf")
        for _ in range(7):
            t0 = time.process_time()
            for t in part:
                forget()
                clf.classify(t)
            bc = min(bc, time.process_time() - t0)
            t0 = time.process_time()
            for t in part:
                jieba.lcut(t)
            bs = min(bs, time.process_time() - t0)
        tc, ts = tc + bc, ts + bs
    n = len(items)
    print(
        json.dumps(
            {
                "classify_us": round(tc / n * 1e6, 1),
                "lcut_us": round(ts / n * 1e6, 1),
                "ratio": round(tc / ts, 3),
            }
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("other", help="the other source tree (e.g. a checkout of main)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--texts", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child, args.texts)
        return 0
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as fh:
        json.dump(texts(), fh, ensure_ascii=False)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    out: dict[str, list[float]] = {args.other: [], str(ROOT): []}
    for _ in range(args.runs):
        for tree in out:
            run = subprocess.run(
                [sys.executable, __file__, "x", "--child", tree, "--texts", fh.name],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            out[tree].append(json.loads(run.stdout.strip().splitlines()[-1])["ratio"])
    Path(fh.name).unlink()
    print(json.dumps({"classify_over_stock_lcut": out}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
