"""A station's own taxonomy: the 泰迪杯 government messages, cross-validated, against a baseline.

    python bench/gov7.py --data /work/evaldata/gov7.csv [--extra /work/evaldata/gov7_extra.csv]
    python bench/gov7.py --data ... --time-full     # + training time on 9,000 messages, one core
    python bench/gov7.py --data ... --extra ... --pooled-shares 0.1,0.2,0.35,0.5,0.75,1
        # + a learning curve over both files pooled, forecast at full size with a bootstrap spread

The CSVs are not in the repository (no licence to ship them); see docs/classifier-figures.md
for where they come from. Each split is a stratified 80/20 split (seeds 0..n-1); on every split
this classifier (`train_model`, as `liaison-bot train --data` runs it, with and without the
title weighting `lead`, and that plus supervised term weights) and jieba + TF-IDF + LinearSVC
see the same training and test rows.

Learning curve: the same splits with the training part cut to a stratified share; macro-F1
error = a * n^-b + c is fitted to the points and read off at 7,368 training messages (80 % of
the full 9,210), both for this classifier and the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from domain.classifier import ThemeClassifier, init_jieba  # noqa: E402
from domain.classifier.corpus import read_labeled  # noqa: E402
from domain.classifier.metrics import score  # noqa: E402
from domain.classifier.training import TrainConfig, no_progress, train_model, with_spec  # noqa: E402

FULL_TRAIN = 7368  # 80 % of the 9,210 messages of 附件2
Model = Callable[[list[str], list[str], list[str]], list[str]]


def ours(cfg: TrainConfig) -> Model:
    def run(tr_x: list[str], tr_y: list[str], te_x: list[str]) -> list[str]:
        result = train_model(list(zip(tr_y, tr_x, strict=True)), None, cfg, progress=no_progress)
        return [v.category for v in ThemeClassifier(result.model).classify_many(te_x)]

    return run


def baseline(tr_x: list[str], tr_y: list[str], te_x: list[str]) -> list[str]:
    """jieba + TF-IDF (sublinear tf) + LinearSVC, scikit-learn defaults otherwise."""
    import jieba
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    vec = TfidfVectorizer(
        tokenizer=jieba.lcut, token_pattern=None, lowercase=False, sublinear_tf=True
    )
    svm = LinearSVC(C=1.0).fit(vec.fit_transform(tr_x), tr_y)
    return [str(p) for p in svm.predict(vec.transform(te_x))]


def splits(
    labels: Sequence[str], n: int
) -> list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    from sklearn.model_selection import StratifiedShuffleSplit

    y = np.array(labels)
    return list(StratifiedShuffleSplit(n_splits=n, test_size=0.2, random_state=0).split(y, y))


def subsample(
    idx: np.ndarray[Any, Any], labels: np.ndarray[Any, Any], share: float, seed: int
) -> np.ndarray[Any, Any]:
    """A stratified share of the training rows (every class keeps at least two)."""
    rng = np.random.default_rng(seed)
    keep: list[int] = []
    for c in np.unique(labels[idx]):
        rows = idx[labels[idx] == c]
        k = max(2, round(len(rows) * share))
        keep += rng.choice(rows, size=min(k, len(rows)), replace=False).tolist()
    return np.array(sorted(keep))


def cross_validate(
    texts: list[str],
    labels: list[str],
    models: dict[str, Model],
    n_splits: int,
    shares: Sequence[float],
) -> dict[str, Any]:
    x = np.array(texts, dtype=object)
    y = np.array(labels)
    out: dict[str, Any] = {}
    for share in shares:
        scores: dict[str, list[float]] = {name: [] for name in models}
        secs: dict[str, list[float]] = {name: [] for name in models}
        n_train = 0
        for i, (tr, te) in enumerate(splits(labels, n_splits)):
            part = tr if share >= 1 else subsample(tr, y, share, i)
            n_train = len(part)
            for name, model in models.items():
                t0 = time.process_time()
                pred = model(list(x[part]), list(y[part]), list(x[te]))
                secs[name].append(time.process_time() - t0)
                scores[name].append(score(list(y[te]), pred).macro_f1)
        out[f"n_train={n_train}"] = {
            name: {
                "macro_f1_mean": round(statistics.mean(v), 4),
                "macro_f1_sd": round(statistics.pstdev(v), 4),
                "per_split": [round(s, 3) for s in v],
                "cpu_s_mean": round(statistics.mean(secs[name]), 2),
            }
            for name, v in scores.items()
        }
        print(
            json.dumps(
                {
                    f"n_train={n_train}": {
                        k: v["macro_f1_mean"] for k, v in out[f"n_train={n_train}"].items()
                    }
                },
                ensure_ascii=False,
            ),
            file=sys.stderr,
            flush=True,
        )
    return out


def extrapolate(curve: dict[str, Any], name: str, target: int = FULL_TRAIN) -> dict[str, Any]:
    """Fit error = a * n^-b + c (c >= 0) to the learning curve; read it off at `target`."""
    from scipy.optimize import curve_fit

    ns = np.array([float(k.split("=")[1]) for k in curve])
    err = np.array([1.0 - curve[k][name]["macro_f1_mean"] for k in curve])

    def law(n: np.ndarray[Any, Any], a: float, b: float, c: float) -> np.ndarray[Any, Any]:
        out: np.ndarray[Any, Any] = a * n ** (-b) + c
        return out

    try:
        (a, b, c), _ = curve_fit(law, ns, err, p0=(1.0, 0.5, 0.05), bounds=([0, 0, 0], [100, 3, 1]))
    except RuntimeError:
        return {"fit": "failed"}
    # Without the floor c (pure power law) the extrapolation is optimistic; report both.
    (a2, b2), _ = curve_fit(
        lambda n, a, b: a * n ** (-b), ns, err, p0=(1.0, 0.5), bounds=([0, 0], [100, 3])
    )
    return {
        "fit": f"err = {a:.3f} * n^-{b:.3f} + {c:.3f}",
        f"macro_f1_at_{target}": round(1 - float(law(np.array([target]), a, b, c)[0]), 4),
        "fit_no_floor": f"err = {a2:.3f} * n^-{b2:.3f}",
        f"macro_f1_at_{target}_no_floor": round(1 - a2 * target ** (-b2), 4),
    }


def pooled_curve(
    texts: list[str],
    labels: list[str],
    models: dict[str, Model],
    n_splits: int,
    shares: Sequence[float],
    boot: int = 2000,
) -> dict[str, Any]:
    """Learning curve on all messages pooled, and the full-size forecast with its uncertainty.

    Same splits as `cross_validate` (a stratified 20 % test part, seeds per split); the training
    part is cut to each share. Two laws are fitted to the mean curve, err = a * n^-b + c (with a
    floor) and err = a * n^-b; the spread comes from a bootstrap over the splits (the curve of a
    resample of the splits, refitted): the 10th and 90th percentile at `FULL_TRAIN`.
    """
    curve = cross_validate(texts, labels, models, n_splits, shares)
    ns = np.array([float(k.split("=")[1]) for k in curve])
    out: dict[str, Any] = {"learning_curve": curve}
    rng = np.random.default_rng(0)
    for name in models:
        per = np.array([curve[k][name]["per_split"] for k in curve])  # shares x splits
        fits: dict[str, list[float]] = {"floor": [], "no_floor": []}
        for b in range(boot + 1):
            cols = (
                np.arange(per.shape[1]) if b == 0 else rng.integers(0, per.shape[1], per.shape[1])
            )
            err = 1.0 - per[:, cols].mean(axis=1)
            for law, value in _forecasts(ns, err).items():
                fits[law].append(value)
        out[name] = {
            law: {
                "macro_f1_at_full": round(v[0], 4),
                "p10": round(float(np.nanpercentile(v[1:], 10)), 4),
                "p90": round(float(np.nanpercentile(v[1:], 90)), 4),
            }
            for law, v in fits.items()
        }
    return out


def _forecasts(ns: np.ndarray[Any, Any], err: np.ndarray[Any, Any]) -> dict[str, float]:
    """Macro-F1 at FULL_TRAIN by the power law with and without a floor (nan if no fit)."""
    import warnings

    from scipy.optimize import OptimizeWarning, curve_fit

    out = {"floor": float("nan"), "no_floor": float("nan")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        try:
            (a, b, c), _ = curve_fit(
                lambda n, a, b, c: a * n ** (-b) + c,
                ns,
                err,
                p0=(1.0, 0.5, 0.05),
                bounds=([0, 0, 0], [100, 3, 1]),
            )
            out["floor"] = 1.0 - (a * FULL_TRAIN ** (-b) + c)
            (a, b), _ = curve_fit(
                lambda n, a, b: a * n ** (-b), ns, err, p0=(1.0, 0.5), bounds=([0, 0], [100, 3])
            )
            out["no_floor"] = 1.0 - a * FULL_TRAIN ** (-b)
        except RuntimeError:
            pass
    return out


def transfer(
    texts: list[str], labels: list[str], extra: Path, models: dict[str, Model]
) -> dict[str, Any]:
    """Train on all of the main file, test on the other file (different messages)."""
    data = read_labeled(extra)
    out: dict[str, Any] = {"train": len(texts), "test": len(data.examples)}
    for name, model in models.items():
        pred = model(texts, labels, data.texts)
        rep = score(data.labels, pred)
        out[name] = {"macro_f1": round(rep.macro_f1, 4), "accuracy": round(rep.accuracy, 4)}
    return out


TIMED = """
import sys, time, resource, json
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from domain.classifier import init_jieba
from domain.classifier.corpus import read_labeled
from domain.classifier.training import train_model, no_progress, with_spec, TrainConfig
init_jieba(Path(sys.argv[3]))
rows = read_labeled(Path(sys.argv[2])).examples
from dataclasses import replace
cfg = replace(with_spec(TrainConfig(), lead=int(sys.argv[4])), term_weights=sys.argv[5] == "1")
t0 = time.perf_counter(); c0 = time.process_time()
res = train_model(rows, None, cfg, progress=no_progress)
print(json.dumps({"rows": len(rows), "wall_s": round(time.perf_counter() - t0, 1),
    "cpu_s": round(time.process_time() - c0, 1),
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    "cv_macro_f1": round(res.cv.macro_f1, 4) if res.cv else None}))
"""


def time_full(path: Path, lead: int, tw: bool = False, n: int = 9000) -> dict[str, Any]:
    """Training time at full size: the real rows repeated with random 5-character deletions."""
    import csv

    data = read_labeled(path)
    rng = random.Random(7)
    rows: list[tuple[str, str]] = []
    while len(rows) < n:
        for lab, txt in data.examples:
            if len(rows) >= n:
                break
            at = rng.randrange(max(1, len(txt) - 5))
            rows.append((lab, txt[:at] + txt[at + 5 :]))
    tmp = Path(tempfile.mkdtemp(prefix="gov7-full-"))
    big = tmp / "full.csv"
    with big.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["label", "text"])
        w.writerows(rows)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    out = subprocess.run(
        [sys.executable, "-c", TIMED, str(ROOT), str(big), str(tmp), str(lead), str(int(tw))],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    result["mean_chars"] = round(sum(len(t) for _, t in rows) / len(rows))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--data", type=Path, required=True, help="label,text CSV (e.g. the 921 messages)"
    )
    ap.add_argument(
        "--extra", type=Path, help="another label,text CSV of the same kind: transfer test"
    )
    ap.add_argument("--splits", type=int, default=10)
    ap.add_argument(
        "--shares", default="0.125,0.25,0.5,0.75,1", help="learning-curve training shares"
    )
    ap.add_argument(
        "--pooled-shares",
        help="learning curve over --data and --extra pooled (e.g. 0.1,0.2,0.35,0.5,0.75,1), "
        "with the full-size forecast and its bootstrap spread",
    )
    ap.add_argument("--only-curve", action="store_true", help="skip the other measurements")
    ap.add_argument("--time-full", action="store_true", help="time training on 9,000 messages")
    args = ap.parse_args(argv)

    init_jieba(Path(tempfile.mkdtemp(prefix="jieba-bench-")))
    data = read_labeled(args.data)
    models: dict[str, Model] = {
        "ours": ours(TrainConfig()),
        "ours_lead2": ours(with_spec(TrainConfig(), lead=2)),
        "ours_lead2_tw": ours(replace(with_spec(TrainConfig(), lead=2), term_weights=True)),
        "baseline_tfidf_linearsvc": baseline,
    }
    shares = [float(s) for s in args.shares.split(",")]
    out: dict[str, Any] = {
        "file": str(args.data),
        "rows": len(data.examples),
        "splits": args.splits,
    }
    if args.pooled_shares and args.extra is not None:
        extra = read_labeled(args.extra)
        pooled = [float(s) for s in args.pooled_shares.split(",")]
        out["pooled"] = pooled_curve(
            data.texts + extra.texts, data.labels + extra.labels, models, args.splits, pooled
        )
        if args.only_curve:
            print(json.dumps(out, ensure_ascii=False, indent=1))
            return 0
    curve = cross_validate(data.texts, data.labels, models, args.splits, shares)
    out["learning_curve"] = curve
    out["extrapolated"] = {name: extrapolate(curve, name) for name in models}
    if args.extra is not None:
        out["transfer"] = transfer(data.texts, data.labels, args.extra, models)
        both = data.texts + read_labeled(args.extra).texts
        both_y = data.labels + read_labeled(args.extra).labels
        out["both_files_cv"] = cross_validate(both, both_y, models, args.splits, [1.0])
    if args.time_full:
        out["train_9000"] = {
            f"lead={k}{' term_weights' if tw else ''}": time_full(args.data, k, tw)
            for k, tw in ((0, False), (2, False), (2, True))
        }
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
