"""Likely duplicates (并单): which open opinions say the same as a new one, with a score.

An inverted index over jieba words and character bigrams, scored by tf-idf cosine (each feature
counted once per text). A query reads the posting lists of its rarest features only (candidates),
then scores those candidates exactly, common features included, so a station whose template-like
texts share n-grams with hundreds of thousands of open opinions still answers in milliseconds
(figures in docs/classifier-figures.md and docs/benchmarks.md). Opinions come and go one at a time
(`add`, `remove`); at start-up the index is rebuilt from (id, text) rows, or loaded from the
bytes `to_bytes` wrote, which skips segmentation.

Pure: no I/O, no database. Segmentation is the theme classifier's (same jieba dictionary and
user dictionary), so 助餐点 and 加装电梯 stay whole. Place names and numbers count: 东环路 and
西环路 share only 环路, so the same complaint about another street scores lower.
"""

from __future__ import annotations

import io
import math
import zlib
from array import array
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from domain.classifier import segment
from domain.classifier.features import char_codes, normalize, real_codes, words_of

# Score from which an open opinion is suggested as the likely original (cosine, 0..1); chosen
# on half of bench/data/duplicates.csv and measured on the other half (classifier-figures.md).
DEFAULT_MIN_SCORE = 0.3
_WORD_TAG = np.uint64(1 << 63)  # word codes: top bit set; character n-gram codes are < 2**42
_FORMAT = 1
# Posting slots a query reads at most (past its rarest feature): candidates come from the
# rare features; measured in docs/benchmarks.md ("Interactive actions at 1M").
MAX_POSTINGS = 2_000


class Match(NamedTuple):
    """An open opinion that looks like the query: its id and the cosine similarity."""

    id: int
    score: float


SYNONYMS_FILE = Path(__file__).resolve().parent / "classifier" / "data" / "synonyms.txt"
_synonyms: dict[str, str] | None = None


def synonyms() -> dict[str, str]:
    """Word -> the first word of its group in classifier/data/synonyms.txt (read once, on first use)."""
    global _synonyms
    if _synonyms is None:
        table: dict[str, str] = {}
        for line in SYNONYMS_FILE.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if words and not line.startswith("#"):
                table.update(dict.fromkeys(words, words[0]))
        _synonyms = table
    return _synonyms


def features(text: str) -> npt.NDArray[np.uint64]:
    """The distinct features of a text: characters, character bigrams and jieba words.

    Words carry meaning (助餐点, 路灯) and are mapped to one name per synonym group (周六 and
    星期六); bigrams survive typos and other segmentations of a phrase; single characters let
    two wordings of one matter meet (厕所太少, 厕所数量少). Measured on the paraphrase pairs:
    each of the three helps (docs/classifier-figures.md).
    """
    return analyze(text)[1]


def analyze(text: str) -> tuple[list[str], npt.NDArray[np.uint64]]:
    """The text's words (2+ characters, synonyms mapped) and its distinct feature codes."""
    norm = normalize(text or "")
    syn = synonyms()
    words = [w for w in (syn.get(t, t) for t in words_of(segment.cut(norm))) if len(w) > 1]
    codes = real_codes(char_codes(norm, 1, 2))
    if words:
        hashed = np.fromiter(
            (zlib.crc32(w.encode("utf-8")) for w in words), dtype=np.uint64, count=len(words)
        )
        codes = np.concatenate([codes, hashed | _WORD_TAG])
    out: npt.NDArray[np.uint64] = np.unique(codes)
    return words, out


def cosine(a: str, b: str, idf: dict[int, float] | None = None) -> float:
    """Similarity of two texts alone (every feature weight 1 unless idf is given)."""
    fa, fb = features(a).tolist(), features(b).tolist()
    if not fa or not fb:
        return 0.0
    w = idf or {}
    common = set(fa) & set(fb)
    num = sum(w.get(f, 1.0) ** 2 for f in common)
    na = math.sqrt(sum(w.get(f, 1.0) ** 2 for f in fa))
    nb = math.sqrt(sum(w.get(f, 1.0) ** 2 for f in fb))
    return num / (na * nb)


class SimilarityIndex:
    """Open opinions by id, to find the likely originals of a new text.

    Not thread-safe: one writer at a time (the bot adds and removes from its event loop).
    """

    def __init__(self, max_postings: int = MAX_POSTINGS) -> None:
        self.max_postings = max_postings  # posting slots a query reads (see `_probe`)
        self._reset()

    def _reset(self) -> None:
        self._slot_of: dict[int, int] = {}  # opinion id -> document slot
        self._ids: array[int] = array("q")  # slot -> opinion id
        self._start: array[int] = array("q")  # slot -> offset of its features in _fs
        self._norm: array[float] = array("d")  # slot -> L2 norm of its idf weights (inf: gone)
        self._fs: array[int] = array("i")  # feature slots of all documents, back to back
        self._feature: dict[int, int] = {}  # feature code -> feature slot
        self._codes: list[int] = []  # feature slot -> feature code
        self._df: array[int] = array("i")  # feature slot -> live documents that have it
        self._post: list[array[int]] = []  # feature slot -> document slots (dead ones too)
        self._normed_at = 0  # live documents when the norms were last recomputed

    # -- building -------------------------------------------------------------------------------

    @classmethod
    def build(cls, rows: Iterable[tuple[int, str]]) -> SimilarityIndex:
        """An index of (id, text) rows, e.g. the station's open opinions at start-up.

        Segmentation is most of the time (about 5,000 texts a second); `to_bytes` and
        `from_bytes` skip it.
        """
        latest = {oid: text for oid, text in rows}  # an id given twice: its last text
        index = cls()
        index._assemble(list(latest), [features(t) for t in latest.values()])
        return index

    def _assemble(self, ids: list[int], codes: list[npt.NDArray[np.uint64]]) -> None:
        """Fill an empty index with many documents at once (numpy instead of a loop per feature)."""
        n = len(ids)
        if not n:
            return
        lengths = np.array([len(c) for c in codes], dtype=np.int64)
        flat = np.concatenate(codes) if lengths.sum() else np.zeros(0, dtype=np.uint64)
        order = np.argsort(flat, kind="stable")
        ordered = flat[order]
        first = np.concatenate(([True], ordered[1:] != ordered[:-1])) if len(flat) else ordered
        feat = np.empty(len(flat), dtype=np.int32)
        feat[order] = np.cumsum(first) - 1
        vocab = ordered[first] if len(flat) else ordered
        self._codes = vocab.tolist()
        self._feature = dict(zip(self._codes, range(len(self._codes)), strict=True))
        self._fs = array("i", feat.tobytes())
        self._start = array("q", np.concatenate(([0], np.cumsum(lengths)[:-1])).tobytes())
        self._ids = array("q", np.array(ids, dtype=np.int64).tobytes())
        self._slot_of = dict(zip(ids, range(n), strict=True))
        df = np.bincount(feat, minlength=len(vocab)).astype(np.int32)
        self._df = array("i", df.tobytes())
        docs = np.repeat(np.arange(n, dtype=np.int32), lengths)[order]  # by feature, then doc
        bounds = np.concatenate(([0], np.cumsum(df)))
        post: list[array[int]] = []
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            arr = array("i")
            arr.frombytes(docs[a:b].tobytes())
            post.append(arr)
        self._post = post
        self._norm = array("d", [0.0] * n)
        self._renorm()

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, oid: object) -> bool:
        return oid in self._slot_of

    def add(self, oid: int, text: str) -> None:
        """Index an opinion (replacing what was indexed under the same id)."""
        self.add_features(oid, features(text))

    def add_features(self, oid: int, codes: npt.NDArray[np.uint64]) -> None:
        """Index precomputed `features(text)` (lets callers segment outside a lock or loop)."""
        if oid in self._slot_of:
            self.remove(oid)
        slot = len(self._ids)
        get = self._feature.get
        n = len(self._slot_of) + 1
        norm2 = 0.0
        self._start.append(len(self._fs))
        for code in codes.tolist():
            f = get(code)
            if f is None:
                f = self._feature[code] = len(self._codes)
                self._codes.append(code)
                self._df.append(0)
                self._post.append(array("i"))
            self._df[f] += 1
            self._post[f].append(slot)
            self._fs.append(f)
            idf = math.log((n + 1) / (self._df[f] + 1)) + 1.0
            norm2 += idf * idf
        self._ids.append(oid)
        self._norm.append(math.sqrt(norm2) if norm2 > 0 else math.inf)
        self._slot_of[oid] = slot
        if n >= 2 * self._normed_at + 16:  # idf moves as the index grows: refresh now and then
            self._renorm()

    def remove(self, oid: int) -> bool:
        """Forget an opinion (merged, closed, deleted); False if it was not indexed."""
        slot = self._slot_of.pop(oid, None)
        if slot is None:
            return False
        for f in self._fs[self._start[slot] : self._end(slot)]:
            self._df[f] -= 1
        self._norm[slot] = math.inf
        dead = len(self._ids) - len(self._slot_of)
        if dead > 1000 and dead > len(self._slot_of):
            self._compact()
        return True

    def _end(self, slot: int) -> int:
        return self._start[slot + 1] if slot + 1 < len(self._start) else len(self._fs)

    # -- queries --------------------------------------------------------------------------------

    def query(
        self,
        text: str,
        k: int = 3,
        min_score: float = DEFAULT_MIN_SCORE,
        exclude: int | None = None,
    ) -> list[Match]:
        """The k opinions most like `text` with a score of at least min_score, best first."""
        return self.query_features(features(text), k, min_score, exclude)

    def query_features(
        self,
        codes: npt.NDArray[np.uint64],
        k: int = 3,
        min_score: float = DEFAULT_MIN_SCORE,
        exclude: int | None = None,
        exhaustive: bool = False,
    ) -> list[Match]:
        """`query` for precomputed features.

        Candidates come from the query's rarest features only (see `_probe`); each candidate is
        then scored exactly, common features included. `exhaustive` reads every posting list
        (the reference the pruned query is tested against).
        """
        n = len(self._slot_of)
        if n == 0 or k <= 0 or not len(codes):
            return []
        get = self._feature.get
        known: list[int] = []
        qnorm2 = 0.0
        for code in codes.tolist():
            f = get(code)
            df = 0 if f is None else self._df[f]
            # An unknown feature still counts in the query's norm, as one seen once.
            idf = math.log((n + 1) / (df + 1)) + 1.0
            qnorm2 += idf * idf
            if df:
                assert f is not None
                known.append(f)
        if not known:
            return []
        feats = np.array(known, dtype=np.int32)
        dfs = np.array([self._df[f] for f in known], dtype=np.float64)
        w = (np.log((n + 1) / (dfs + 1)) + 1.0) ** 2
        qnorm = math.sqrt(qnorm2)
        order = np.argsort(dfs, kind="stable")  # rarest first
        used, tail = (
            (len(order), 0) if exhaustive else self._probe(feats[order], w[order], qnorm, min_score)
        )
        read = order[: used + 1] if tail else order[:used]
        cand, dot = self._candidates(feats[read], w[read], tail)
        norms = np.frombuffer(self._norm, dtype=np.float64)[cand] * qnorm
        if used < len(order):
            cand, dot, norms = self._complete(
                cand, dot, norms, feats[order[used:]], w[order[used:]], k, min_score
            )
        return self._top(cand, dot / norms, k, min_score, exclude)

    def _probe(
        self, feats: npt.NDArray[np.int32], w: npt.NDArray[np.float64], qnorm: float, floor: float
    ) -> tuple[int, int]:
        """Which posting lists to read, the query's rarest features first: (lists read in full,
        newest slots read from the next one).

        Exact part: stop once the features left could not lift an opinion that has none of
        the read ones to `floor` on their own (sqrt of their weights / query norm < floor).
        Approximate part: read at most `max_postings` slots, the newest of the last list read
        (template-like texts share even their rarest n-grams with hundreds of thousands of
        open opinions at one station: then the candidates are the newest of those).
        """
        left = float(w.sum())
        read = 0
        for i, f in enumerate(feats.tolist()):
            if i and left < (floor * qnorm) ** 2:
                return i, 0
            size = len(self._post[f])
            if read + size > self.max_postings:
                return i, self.max_postings - read
            read += size
            left -= float(w[i])
        return len(feats), 0

    def _candidates(
        self, feats: npt.NDArray[np.int32], w: npt.NDArray[np.float64], tail: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Document slots in the posting lists of `feats` (of the last one, its newest `tail`
        slots, which count nothing yet: its weight comes with the rest) and their partial dot
        products."""
        lists = [np.frombuffer(self._post[f], dtype=np.int32) for f in feats.tolist()]
        if tail:
            lists[-1] = lists[-1][-tail:]
            w = np.append(w[:-1], 0.0)
        slots = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int32)
        weights = np.repeat(w, [len(p) for p in lists])
        cand, where = np.unique(slots, return_inverse=True)
        dot: npt.NDArray[np.float64] = np.bincount(
            where.ravel(), weights=weights, minlength=len(cand)
        ).astype(np.float64, copy=False)
        return cand.astype(np.int64), dot

    def _complete(
        self,
        cand: npt.NDArray[np.int64],
        dot: npt.NDArray[np.float64],
        norms: npt.NDArray[np.float64],
        feats: npt.NDArray[np.int32],
        w: npt.NDArray[np.float64],
        k: int,
        floor: float,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Add the other features' part to the candidates' dot products, read from each
        candidate's own feature list, after dropping every candidate that could not reach the
        top k even if it had all of them."""
        score = dot / norms
        best = np.partition(score, -k - 1)[-k - 1] if len(score) > k else 0.0  # k+1: exclude
        hope = (dot + float(w.sum())) / norms >= max(floor, best) - 1e-12
        cand, dot, norms = cand[hope], dot[hope], norms[hope]
        if not len(cand):
            return cand, dot, norms
        starts = np.frombuffer(self._start, dtype=np.int64)
        after = cand + 1  # a candidate's features end where the next slot's start (or at the end)
        last = after >= len(starts)
        ends = np.where(last, len(self._fs), starts[np.where(last, 0, after)])
        lengths = ends - starts[cand]
        offsets = np.cumsum(lengths) - lengths
        at = np.arange(int(lengths.sum())) - np.repeat(offsets - starts[cand], lengths)
        mine = np.frombuffer(self._fs, dtype=np.int32)[at]
        order = np.argsort(feats)
        sorted_feats, sorted_w = feats[order], w[order]
        pos = np.minimum(np.searchsorted(sorted_feats, mine), len(feats) - 1)
        gain = np.where(sorted_feats[pos] == mine, sorted_w[pos], 0.0)
        owner = np.repeat(np.arange(len(cand)), lengths)
        return cand, dot + np.bincount(owner, weights=gain, minlength=len(cand)), norms

    def _top(
        self,
        cand: npt.NDArray[np.int64],
        score: npt.NDArray[np.float64],
        k: int,
        min_score: float,
        exclude: int | None,
    ) -> list[Match]:
        if exclude is not None and exclude in self._slot_of:
            score[cand == self._slot_of[exclude]] = 0.0
        keep = (score >= min_score) & (score > 0)  # removed opinions score 0
        cand, score = cand[keep], score[keep]
        if len(cand) > k:
            top = np.argpartition(-score, k - 1)[:k]
            cand, score = cand[top], score[top]
        order = np.argsort(-score, kind="stable")
        ids = self._ids
        return [
            Match(ids[slot], min(1.0, s))
            for slot, s in zip(cand[order].tolist(), score[order].tolist(), strict=True)
        ]

    # -- upkeep and persistence -----------------------------------------------------------------

    def _compact(self) -> None:
        """Drop removed documents from the posting lists (after many removals)."""
        codes = np.array(self._codes, dtype=np.uint64)
        fs = np.frombuffer(self._fs, dtype=np.int32)
        live = sorted(self._slot_of.values())
        rows = [(self._ids[s], codes[fs[self._start[s] : self._end(s)]]) for s in live]
        self._reset()
        for oid, feats in rows:
            self.add_features(oid, feats)
        self._renorm()

    def _renorm(self) -> None:
        """Recompute every norm with today's document frequencies (they drift as docs come)."""
        n = len(self._slot_of)
        self._normed_at = n
        if not len(self._ids):
            return
        df = np.frombuffer(self._df, dtype=np.int32).astype(np.float64)
        idf2 = (np.log((n + 1) / (df + 1)) + 1.0) ** 2
        fs = np.frombuffer(self._fs, dtype=np.int32)
        starts = np.frombuffer(self._start, dtype=np.int64)
        sums = np.zeros(len(starts))
        full = starts < len(fs)  # documents with at least one feature (or followed by one)
        if len(fs):
            sums[full] = np.add.reduceat(idf2[fs], starts[full])
        ends = np.append(starts[1:], len(fs))
        sums[ends == starts] = 0.0  # featureless documents: reduceat gave a neighbour's value
        norms = np.where(sums > 0, np.sqrt(sums), np.inf)
        alive = np.zeros(len(starts), dtype=bool)
        alive[list(self._slot_of.values())] = True
        norms[~alive] = np.inf
        self._norm = array("d", norms.tolist())

    def to_bytes(self) -> bytes:
        """The index as bytes (numpy .npz): load it with `from_bytes` to skip segmentation."""
        codes = np.array(self._codes, dtype=np.uint64)
        fs = np.frombuffer(self._fs, dtype=np.int32)
        live = sorted(self._slot_of.values())
        parts = [codes[fs[self._start[s] : self._end(s)]] for s in live]
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            format=np.array([_FORMAT]),
            ids=np.array([self._ids[s] for s in live], dtype=np.int64),
            lengths=np.array([len(p) for p in parts], dtype=np.int64),
            codes=np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> SimilarityIndex:
        """An index written by `to_bytes` (ValueError if the bytes are not one)."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                if int(npz["format"][0]) != _FORMAT:
                    raise ValueError("unknown similarity index format")
                ids, lengths, codes = npz["ids"], npz["lengths"], npz["codes"]
        except (OSError, KeyError, EOFError) as exc:
            raise ValueError(f"not a similarity index ({exc})") from None
        index = cls()
        ends = np.cumsum(lengths).tolist()
        starts = [0, *ends[:-1]]
        index._assemble(ids.tolist(), [codes[a:b] for a, b in zip(starts, ends, strict=True)])
        return index
