"""Routing suggestions (派单建议): top-1 / top-3 on held-out past assignments.

    python bench/routing.py

Data (bench/data/routing/, see its README): the sample 权责清单.csv (17 units) and
assignments.csv, 320 opinions each assigned by hand to the unit that should handle it. Five
folds (seeded): each fold's opinions are the held-out "new" opinions, the other four folds are
the station's past assignments. Three matchers: the duty list alone, past assignments alone,
both. The opinion's theme is what the packaged classifier says (as at 交办 time).
"""

from __future__ import annotations

import csv
import json
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

from domain.classifier import ThemeClassifier, init_jieba  # noqa: E402
from domain.routing import RoutingModel, parse_duty_list, top_k_accuracy  # noqa: E402

DATA = ROOT / "bench" / "data" / "routing"


def main(argv: Sequence[str] | None = None) -> int:
    cache = Path(tempfile.mkdtemp(prefix="jieba-bench-"))
    init_jieba(cache)
    clf = ThemeClassifier.load(None, cache_dir=cache)
    duty = parse_duty_list((DATA / "权责清单.csv").read_bytes(), "权责清单.csv")
    with (DATA / "assignments.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    cases: list[tuple[str, str, tuple[str, ...]]] = []
    for r in rows:
        v = clf.classify(r["text"])
        cases.append((r["text"], r["unit"], (v.category, v.label)))
    order = list(range(len(cases)))
    random.Random(16).shuffle(order)
    folds = [order[i::5] for i in range(5)]
    results: dict[str, list[dict[int, float]]] = {"rules": [], "history": [], "both": []}
    rank_ms: list[float] = []
    for f, held in enumerate(folds):
        past = [cases[i] for j, fold in enumerate(folds) if j != f for i in fold]
        test = [cases[i] for i in held]
        models = {
            "rules": RoutingModel.from_rules(duty.rules),
            "history": RoutingModel(),
            "both": RoutingModel.from_rules(duty.rules),
        }
        models["history"].learn((t, u) for t, u, _ in past)
        models["both"].learn((t, u) for t, u, _ in past)
        for name, model in models.items():
            results[name].append(top_k_accuracy(model, test))
        for t, _, th in test:
            t0 = time.perf_counter()
            models["both"].rank(t, th)
            rank_ms.append((time.perf_counter() - t0) * 1000)
    out: dict[str, Any] = {
        "opinions": len(cases),
        "units_in_duty_list": len(duty.rules),
        "folds": 5,
        "past_assignments_per_fold": len(cases) - len(folds[0]),
    }
    for name, per in results.items():
        out[name] = {f"top{k}": round(statistics.mean(p[k] for p in per), 3) for k in (1, 3)} | {
            "top1_per_fold": [round(p[1], 3) for p in per]
        }
    out["rank_ms_median"] = round(statistics.median(rank_ms), 2)
    model = RoutingModel.from_rules(duty.rules)
    model.learn((t, u) for t, u, _ in cases)
    out["examples"] = {
        text: [[s.unit, s.score, s.reason] for s in model.rank(text, clf.classify(text).label)]
        for text in (
            "建议修一下东环路的路灯，晚上太黑",
            "退休金什么时候涨",
            "小区没有老年食堂，希望社区办一个助餐点",
            "我妈被人拉去听保健品讲座，花了一万多",
        )
    }
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
