"""Hot issues (每月一题): a period's opinions grouped into recurring issues, biggest first.

Each opinion becomes an idf-weighted vector of the duplicate finder's features (words,
character bigrams and characters), sketched into a small dense vector (each feature adds its
weight, with a sign, to a few of DIM coordinates; inner products survive on average), so
similarity is one matrix product. Clustering is greedy around dense points: opinions with the
most neighbours (cosine >= threshold) become centres, each centre takes its unclaimed
neighbours; every opinion joins at most one issue, and the centre is the issue's example.

Above `exact_up_to` opinions the centres are looked for among a seeded sample of that many
(an issue of 20 opinions out of 10,000 has one in the sample with near certainty; a small one
may be missed), and every opinion then joins its most similar centre: the cost grows with
opinions x sample instead of opinions squared (figures in docs/classifier-figures.md).

Pure: texts in, clusters out.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from domain.classifier.features import OFF, char_codes, normalize
from domain.similarity import analyze

DIM = 256  # sketch width: cosine error about 1 / sqrt(DIM) per pair
HASHES = 4  # coordinates per feature
DEFAULT_THRESHOLD = 0.3  # sketched cosine from which two opinions raise the same issue
EXACT_UP_TO = 2000
_NOT_TERMS = frozenset(
    "我们 你们 他们 希望 建议 能不能 可以 没有 什么 怎么 现在 已经 一个 问题 情况 老人 老年人 "  # noqa: SIM905
    "社区 小区 政府 领导 谢谢 时候 几点 一下 这个 那个 还是 就是 因为 所以 但是 如果".split()
)


@dataclass(frozen=True)
class Cluster:
    """A recurring issue: its opinions (the example first), how many, and its telling words."""

    ids: tuple[int, ...]
    representative: int  # id of the example: the opinion with the most similar ones
    count: int
    terms: tuple[str, ...]  # words most of its opinions share, most telling first (max 3)


def cluster(
    texts: Sequence[str],
    ids: Sequence[int] | None = None,
    *,
    min_size: int = 3,
    limit: int = 10,
    threshold: float = DEFAULT_THRESHOLD,
    exact_up_to: int = EXACT_UP_TO,
    seed: int = 16,
) -> list[Cluster]:
    """The `limit` biggest issues with at least `min_size` opinions (ids default to 0..n-1)."""
    n = len(texts)
    keys = list(range(n)) if ids is None else list(ids)
    if len(keys) != n:
        raise ValueError("ids and texts differ in length")
    if n < max(2, min_size):
        return []
    x = _sketch(*_features(texts), n)
    rng = np.random.default_rng(seed)
    probes = np.arange(n) if n <= exact_up_to else np.sort(rng.choice(n, exact_up_to, False))
    near = np.empty((len(probes), n), dtype=bool)  # probes x all: similar enough
    xt = np.ascontiguousarray(x.T)
    for start in range(0, len(probes), 512):
        block = probes[start : start + 512]
        near[start : start + len(block)] = (x[block] @ xt) >= threshold
    near[np.arange(len(probes)), probes] = False  # an opinion is not its own neighbour
    degree = near.sum(axis=1)
    claimed = np.zeros(n, dtype=bool)
    centres: list[int] = []  # rows of `probes`
    for row in np.argsort(-degree, kind="stable").tolist():
        if degree[row] + 1 < min_size:
            break
        i = int(probes[row])
        if claimed[i]:
            continue
        centres.append(row)
        claimed[i] = True
        claimed |= near[row]
    if not centres:
        return []
    centre_ids = probes[centres]
    owner = _owners(x, near, centres, centre_ids)
    found: list[tuple[int, int, npt.NDArray[np.int64]]] = []
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(len(centres) + 1))
    for c in range(len(centres)):
        members = order[bounds[c] : bounds[c + 1]]
        if len(members) >= min_size:
            found.append((len(members), c, members))
    found.sort(key=lambda f: -f[0])
    sample = rng.choice(n, min(n, 200), replace=False)
    df: Counter[str] = Counter()
    for i in sample.tolist():
        df.update(set(analyze(texts[i])[0]))
    out: list[Cluster] = []
    for count, head, members in found[:limit]:
        i = int(centre_ids[head])
        sim = x[members] @ x[i]
        ranked = [i, *(int(m) for m in members[np.argsort(-sim, kind="stable")] if m != i)]
        words = [analyze(texts[m])[0] for m in ranked[:15]]
        out.append(
            Cluster(
                ids=tuple(keys[m] for m in ranked),
                representative=keys[i],
                count=count,
                terms=_terms(words, df, len(sample)),
            )
        )
    return out


def _owners(
    x: npt.NDArray[np.float32],
    near: npt.NDArray[np.bool_],
    centres: list[int],
    centre_ids: npt.NDArray[np.intp],
) -> npt.NDArray[np.int64]:
    """Each opinion's most similar centre among those it is similar enough to (-1: none).

    Only the pairs `near` already marks are scored (a centre's neighbours, a few dozen each),
    not opinions x centres: for 10,000 opinions that product was a third of the time. Ties
    go to the first centre, as argmax would; every centre keeps itself.
    """
    n = x.shape[0]
    best = np.full(n, -np.inf, dtype=np.float32)
    owner = np.full(n, -1, dtype=np.int64)
    for c, (row, i) in enumerate(zip(centres, centre_ids.tolist(), strict=True)):
        j = np.flatnonzero(near[row])
        sim = x[j] @ x[i]
        better = sim > best[j]
        best[j[better]] = sim[better]
        owner[j[better]] = c
    owner[centre_ids] = np.arange(len(centres))
    return owner


def _features(texts: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """(opinion, feature) pairs of distinct character 1-3-grams, and how many features.

    All texts are coded in one numpy pass (joined by a character that ends every n-gram), with
    no segmentation: jieba alone would cost more than the whole clustering.
    """
    joined = "\x00".join(t or "" for t in texts) + "\x00"
    folded = normalize(joined)  # one pass over all texts instead of one call per text
    if len(folded) == len(joined):
        joined = folded
        lengths = np.array([len(t or "") + 1 for t in texts], dtype=np.int64)
    else:  # lower() lengthened a character (İ): fold text by text to keep the boundaries
        norms = [normalize(t or "") for t in texts]
        lengths = np.array([len(t) + 1 for t in norms], dtype=np.int64)
        joined = "\x00".join(norms) + "\x00"
    codes = char_codes(joined, 1, 3)
    size = len(joined)
    doc = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    docs = np.concatenate([doc, doc[: size - 1], doc[: size - 2]])[: len(codes)]
    off = np.uint64(OFF)
    keep = (codes & off) != off
    keep &= ((codes >> np.uint64(21)) & off) != off
    keep &= ((codes >> np.uint64(42)) & off) != off
    keep &= codes != 0
    codes, docs = codes[keep], docs[keep]
    if not len(codes):
        return docs, docs, 0
    # Sorting beats np.unique's hash table here (1.5 million codes for 10,000 opinions); an
    # unstable sort is enough (equal codes get one number either way) and 2.5 times faster.
    order = np.argsort(codes)
    sorted_codes = codes[order]
    first = np.concatenate(([True], sorted_codes[1:] != sorted_codes[:-1]))
    feat = np.empty(len(codes), dtype=np.int64)
    feat[order] = np.cumsum(first) - 1
    n_feats = int(first.sum())
    pairs = np.sort(docs * n_feats + feat)
    pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
    return pairs // n_feats, pairs % n_feats, n_feats


def _sketch(
    rows: npt.NDArray[np.int64], feats: npt.NDArray[np.int64], n_feats: int, n: int
) -> npt.NDArray[np.float32]:
    """Rows of unit length: idf-weighted features hashed with signs into DIM coordinates."""
    if not len(rows):
        return np.zeros((n, DIM), dtype=np.float32)
    df = np.bincount(feats, minlength=n_feats).astype(np.float64)
    idf = np.log((n + 1) / (df + 1)) + 1.0
    # Coordinates and signs from the feature number, seeded (splitmix64 steps).
    h = np.arange(n_feats, dtype=np.uint64)
    weights = idf[feats] / math.sqrt(HASHES)
    x = np.zeros(n * DIM, dtype=np.float64)
    for _ in range(HASHES):
        h = _mix(h)
        dim = (h % np.uint64(DIM)).astype(np.int64)
        sign = np.where((h >> np.uint64(32)) & np.uint64(1), 1.0, -1.0)
        x += np.bincount(rows * DIM + dim[feats], weights * sign[feats], minlength=n * DIM)
    out = x.reshape(n, DIM)
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    norm[norm == 0] = 1.0
    result: npt.NDArray[np.float32] = (out / norm).astype(np.float32)
    return result


def _mix(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    with np.errstate(over="ignore"):
        h = h + np.uint64(0x9E3779B97F4A7C15)
        h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        out: npt.NDArray[np.uint64] = h ^ (h >> np.uint64(31))
    return out


def _terms(docs: list[list[str]], df: Counter[str], n: int) -> tuple[str, ...]:
    """Words in at least half of the issue's opinions, by how much rarer they are elsewhere."""
    inside: Counter[str] = Counter()
    for words in docs:
        inside.update(set(words))
    need = max(2, math.ceil(len(docs) / 2))
    scored = [
        (c * math.log((n + 1) / (df[w] + 1)), w)
        for w, c in inside.items()
        if c >= need and w not in _NOT_TERMS and not w.isdigit()
    ]
    return tuple(w for _, w in sorted(scored, reverse=True)[:3])
