"""Feature and model variants on the 泰迪杯 government messages, the same 5 splits as gov7.py.

    python bench/gov7_variants.py --data /work/evaldata/gov7.csv [--extra …] [--pool] [--splits 10]

A scratch re-implementation of the classifier's maths (jieba words + character n-grams, tf × idf,
each block L2-normalised, LinearSVC C 0.5 balanced; `lead` repeats the title) where a variant is
a dict of options, so ideas that the packaged code does not support (character 4-grams, title
namespaces, boilerplate removal, supervised term weights, …) can be measured before any is built.
The vocabulary and idf come from each split's training part only. Prints macro-F1 per variant:
mean, standard deviation and per split. `--pool` adds the --extra file to the rows split.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from domain.classifier import init_jieba  # noqa: E402
from domain.classifier.corpus import read_labeled  # noqa: E402
from domain.classifier.features import lead_end, lead_tokens, normalize, raw_tokens  # noqa: E402
from domain.classifier.training import term_weights  # noqa: E402

Row = tuple[str, str, list[str], int]  # label, normalised text, jieba tokens, title end
_RUN = re.compile(r"[0-9a-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_ALNUM = re.compile(r"[0-9a-z]")
_BOILERPLATE = re.compile(
    r"尊敬的[^，。！？,]{0,8}[：:，,]?|您好|你好|谢谢|感谢|此致敬礼|恳请|希望|领导|请问"
)

VARIANTS: dict[str, dict[str, Any]] = {
    "plain": {},
    "lead 2 (title ×3)": {"lead": 2},
    "lead 2 + char 3-4-grams": {"lead": 2, "c34": 4},
    "lead 2, char 1-3-grams": {"lead": 2, "cmax": 3},
    "title/body namespaces": {"ns": 1},
    "title namespace ×0.7": {"ns": 1, "wt": {"tw": 0.7, "tc": 0.7}},
    "lead 2, tf × idf then L2": {"lead": 2, "tf": "l2"},
    "lead 2, sublinear tf": {"lead": 2, "tf": "sub"},
    "lead 2, word pairs": {"lead": 2, "wb": 1},
    "lead 2, title as extra document": {"lead": 2, "aug": 1},
    "lead 2, place codes (A3区, E12市) dropped": {"lead": 2, "noalnum": 1},
    "lead 2, boilerplate words dropped": {"lead": 2, "boil": 1},
    "lead 2, first 300 characters only": {"lead": 2, "trunc": 300},
    "lead 2, C 1": {"lead": 2, "C": 1.0},
    "lead 2, logistic regression C 20": {"lead": 2, "clf": "lr"},
    "lead 2, ridge classifier": {"lead": 2, "clf": "ridge"},
    "lead 2, chi² top 20,000": {"lead": 2, "chi": 20000},
    "term weights": {"sup": 1},
    "lead 2 + term weights": {"lead": 2, "sup": 1},
    "lead 2, C by nested 5-fold CV of 0.25 0.5 1 2": {"lead": 2, "nested": [0.25, 0.5, 1.0, 2.0]},
    "lead 2 + term weights, C by nested CV": {"lead": 2, "sup": 1, "nested": [0.25, 0.5, 1.0, 2.0]},
    "lead 2 + term weights + char 3-4-grams": {"lead": 2, "sup": 1, "c34": 4},
    "lead 2 + term weights + word pairs": {"lead": 2, "sup": 1, "wb": 1},
    "lead 2 + term weights, char 1-3-grams": {"lead": 2, "sup": 1, "cmax": 3},
    "lead 2 + term weights, tf × idf then L2": {"lead": 2, "sup": 1, "tf": "l2"},
}


def prepare(path: Path) -> list[Row]:
    out: list[Row] = []
    for lab, txt in read_labeled(path).examples:
        norm = normalize(txt)
        out.append((lab, norm, raw_tokens(norm, False), lead_end(norm, 40)))
    return out


def grams(s: str, lo: int, hi: int) -> list[str]:
    out: list[str] = []
    for r in _RUN.findall(s):
        for n in range(lo, hi + 1):
            out += [r[i : i + n] for i in range(len(r) - n + 1)]
    return out


def words(toks: list[str]) -> list[str]:
    return [t for t in toks if t[:1].isalnum()]


def blocks(row: Row, o: dict[str, Any]) -> dict[str, list[str]]:
    """A message's features by block (each block is normalised on its own)."""
    _, norm, toks, end = row
    if o.get("trunc"):
        norm = norm[: o["trunc"]]
        toks = lead_tokens(toks, len(norm))
    if o.get("noalnum"):
        toks = ["#" if _ALNUM.search(t) else t for t in toks]
        norm = _ALNUM.sub("#", norm)
    if o.get("boil"):
        toks = ["#" if _BOILERPLATE.fullmatch(t) else t for t in toks]
    w = words(toks)
    title = norm[:end] if end < len(norm) else ""
    tw = words(lead_tokens(toks, end)) if title else []
    cmax = o.get("cmax", 2)
    b: dict[str, list[str]] = {}
    if o.get("ns"):
        b = {"w": w, "c": grams(norm, 1, cmax), "tw": tw, "tc": grams(title, 1, cmax)}
    else:
        lead = o.get("lead", 0)
        b = {"w": w + tw * lead, "c": grams(norm, 1, cmax) + grams(title, 1, cmax) * lead}
    if o.get("wb"):
        b["wb"] = [x + " " + y for x, y in pairwise(w)]
    if o.get("c34"):
        b["c34"] = grams(norm, 3, o["c34"]) + grams(title, 3, o["c34"]) * o.get("lead", 0)
    return b


def vectorize(tr: list[list[str]], te: list[list[str]], min_df: int, tf: str) -> tuple[Any, Any]:
    from scipy import sparse

    df: Counter[str] = Counter()
    for d in tr:
        df.update(set(d))
    voc = {f: i for i, f in enumerate(sorted(k for k, v in df.items() if v >= min_df))}
    idf = np.array([np.log((1 + len(tr)) / (1 + df[f])) + 1 for f in voc])

    def mat(docs: list[list[str]]) -> Any:
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for i, d in enumerate(docs):
            c = Counter(x for x in d if x in voc)
            if not c:
                continue
            j = np.array([voc[k] for k in c])
            cnt = np.array(list(c.values()), dtype=np.float64)
            if tf == "occ":  # the classifier's own: every occurrence a unit of idf
                v = cnt * idf[j]
                norm = np.sqrt(v @ idf[j])
            else:
                v = ((1 + np.log(cnt)) if tf == "sub" else cnt) * idf[j]
                norm = np.sqrt(v @ v)
            rows += [i] * len(j)
            cols += j.tolist()
            vals += (v / norm).tolist()
        return sparse.csr_matrix((vals, (rows, cols)), shape=(len(docs), len(voc)))

    return mat(tr), mat(te)


def features(tr: list[Row], te: list[Row], o: dict[str, Any]) -> tuple[Any, Any]:
    from scipy import sparse

    btr = [blocks(r, o) for r in tr]
    bte = [blocks(r, o) for r in te]
    xs, ts = [], []
    for k in btr[0]:
        min_df = 1 if k in ("w", "tw") else 2
        a, b = vectorize([d[k] for d in btr], [d[k] for d in bte], min_df, o.get("tf", "occ"))
        weight = o.get("wt", {}).get(k, 1.0)
        xs.append(a * weight)
        ts.append(b * weight)
    return sparse.hstack(xs).tocsr(), sparse.hstack(ts).tocsr()


def fit_predict(xtr: Any, ytr: np.ndarray[Any, Any], xte: Any, o: dict[str, Any]) -> Any:
    from scipy import sparse

    if o.get("sup"):
        classes, yi = np.unique(ytr, return_inverse=True)
        scale = sparse.diags(term_weights(xtr, yi, len(classes), np.ones(len(yi))))
        xtr, xte = xtr @ scale, xte @ scale
    if o.get("chi"):
        from sklearn.feature_selection import SelectKBest, chi2

        sel = SelectKBest(chi2, k=min(o["chi"], xtr.shape[1])).fit(xtr, ytr)
        xtr, xte = sel.transform(xtr), sel.transform(xte)
    model: Any
    if o.get("clf") == "lr":
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=20, max_iter=3000, class_weight="balanced")
    elif o.get("clf") == "ridge":
        from sklearn.linear_model import RidgeClassifier

        model = RidgeClassifier(class_weight="balanced")
    else:
        from sklearn.svm import LinearSVC

        model = LinearSVC(C=o.get("C", 0.5), tol=1e-2, max_iter=5000, class_weight="balanced")
    return model.fit(xtr, ytr).predict(xte)


def with_title_documents(rows: list[Row]) -> list[Row]:
    """The training rows plus each title alone as one more document of its class."""
    extra = [(r[0], r[1][: r[3]], lead_tokens(r[2], r[3]), r[3]) for r in rows if r[3] < len(r[1])]
    return rows + extra


def nested_c(train: list[Row], o: dict[str, Any]) -> float:
    """The C (of o["nested"]) with the best macro-F1 in 5-fold CV on the training rows only."""
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    y = np.array([r[0] for r in train])
    folds = list(StratifiedKFold(5, shuffle=True, random_state=1).split(y, y))
    mats = [features([train[i] for i in a], [train[i] for i in b], o) for a, b in folds]
    best: tuple[float, float] = (-1.0, 0.5)
    for c in o["nested"]:
        f1 = [
            f1_score(y[b], fit_predict(xa, y[a], xb, {**o, "C": c}), average="macro")
            for (a, b), (xa, xb) in zip(folds, mats, strict=True)
        ]
        best = max(best, (float(np.mean(f1)), c))
    return best[1]


def run(rows: list[Row], o: dict[str, Any], n_splits: int) -> list[float]:
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedShuffleSplit

    y = np.array([r[0] for r in rows])
    out: list[float] = []
    sss = StratifiedShuffleSplit(n_splits=n_splits, test_size=0.2, random_state=0)
    for tr, te in sss.split(y, y):
        train = [rows[i] for i in tr]
        if o.get("aug"):
            train = with_title_documents(train)
        xtr, xte = features(train, [rows[i] for i in te], o)
        opts = {**o, "C": nested_c(train, o)} if o.get("nested") else o
        pred = fit_predict(xtr, np.array([r[0] for r in train]), xte, opts)
        out.append(float(f1_score(y[te], pred, average="macro")))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--extra", type=Path)
    ap.add_argument("--pool", action="store_true", help="split --data and --extra together")
    ap.add_argument("--splits", type=int, default=5)
    ap.add_argument("--only", help="variant names separated by |")
    args = ap.parse_args(argv)
    init_jieba(Path(tempfile.mkdtemp(prefix="jieba-bench-")))
    rows = prepare(args.data)
    if args.pool and args.extra is not None:
        rows += prepare(args.extra)
    names = args.only.split("|") if args.only else list(VARIANTS)
    for name in names:
        t0 = time.process_time()
        f1 = run(rows, VARIANTS[name], args.splits)
        print(
            f"{np.mean(f1):.4f} ± {np.std(f1):.3f}  {[round(v, 3) for v in f1]}  "
            f"{time.process_time() - t0:.0f} s CPU  {name}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
