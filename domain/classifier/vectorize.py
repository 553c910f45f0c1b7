"""Training-side TF-IDF: builds the vocabulary and the matrix with exactly the inference maths.

Kept next to `model.ThemeClassifier._vector`: a row here must equal what inference computes for
the same text (a test checks that), otherwise the trained weights would mean something else.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from domain.classifier.features import Extracted, FeatureSpec, extract


@dataclass
class Vocabulary:
    words: list[str]
    chars: npt.NDArray[np.uint64]  # character n-gram codes, ascending
    idf: npt.NDArray[np.float32]

    @property
    def size(self) -> int:
        return len(self.words) + len(self.chars)


def extract_all(
    texts: Sequence[str], spec: FeatureSpec, progress: Callable[[int, int], None] | None = None
) -> list[Extracted]:
    """Segment and count every text (the slow part of training: jieba)."""
    out: list[Extracted] = []
    step = max(1, len(texts) // 20)
    for i, t in enumerate(texts):
        out.append(extract(t, spec))
        if progress is not None and (i + 1) % step == 0:
            progress(i + 1, len(texts))
    return out


def fit_vocabulary(
    docs: Sequence[Extracted], min_df_word: int = 1, min_df_char: int = 2
) -> Vocabulary:
    """Features seen in at least min_df documents, with smoothed idf (as scikit-learn's)."""
    dfw: Counter[str] = Counter()
    for d in docs:
        dfw.update(d.words.keys())
    words = sorted(k for k, v in dfw.items() if v >= min_df_word)
    if docs:
        codes, dfc = np.unique(np.concatenate([d.char_codes for d in docs]), return_counts=True)
    else:
        codes, dfc = np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    keep = dfc >= min_df_char
    n = len(docs)
    df = np.concatenate([np.array([dfw[w] for w in words], dtype=np.float64), dfc[keep]])
    idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
    return Vocabulary(words, codes[keep], idf)


def _values(
    rows: npt.NDArray[np.int64],
    counts: npt.NDArray[Any],
    idf: npt.NDArray[np.float64],
    spec: FeatureSpec,
    weight: float,
) -> npt.NDArray[np.float64]:
    """One block's values: tf (occ, binary or sublinear) * idf, L2-normalised, times the weight."""
    if spec.tf == "binary":
        vals = idf[rows].copy()
        norm2 = float(vals @ vals)
    elif spec.tf == "occ":
        # Every occurrence a unit of idf, normalised over occurrences.
        vals = counts * idf[rows]
        norm2 = float(vals @ idf[rows])
    else:
        vals = (np.log(counts) + 1.0) * idf[rows]
        norm2 = float(vals @ vals)
    if norm2 > 0:
        vals *= weight / np.sqrt(norm2)
    return vals


def transform(docs: Sequence[Extracted], vocab: Vocabulary, spec: FeatureSpec) -> Any:
    """CSR matrix (docs x features): tf * idf, each block L2-normalised and weighted."""
    from scipy import sparse

    wv = {w: i for i, w in enumerate(vocab.words)}
    n_word = len(vocab.words)
    n_char = len(vocab.chars)
    idf = vocab.idf.astype(np.float64)
    indptr = [0]
    indices: list[npt.NDArray[np.int64]] = []
    data: list[npt.NDArray[np.float64]] = []
    nnz = 0
    for d in docs:
        found = zip(map(wv.get, d.words), d.words.values(), strict=True)
        pairs = [(j, c) for j, c in found if j is not None]
        if pairs:
            rows = np.array([j for j, _ in pairs], dtype=np.int64)
            cnt = np.array([c for _, c in pairs], dtype=np.float64)
            indices.append(rows)
            data.append(_values(rows, cnt, idf, spec, spec.word_weight))
            nnz += len(rows)
        at = np.searchsorted(vocab.chars, d.char_codes)
        hit = at < n_char
        hit[hit] = vocab.chars[at[hit]] == d.char_codes[hit]
        if hit.any():
            rows = at[hit].astype(np.int64) + n_word
            cnt = d.char_counts[hit].astype(np.float64)
            indices.append(rows)
            data.append(_values(rows, cnt, idf, spec, spec.char_weight))
            nnz += len(rows)
        indptr.append(nnz)
    empty = np.zeros(0)
    return sparse.csr_matrix(
        (
            np.concatenate(data) if data else empty,
            np.concatenate(indices) if indices else empty.astype(np.int64),
            np.array(indptr, dtype=np.int64),
        ),
        shape=(len(docs), vocab.size),
    )
