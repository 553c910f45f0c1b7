"""Inference: a linear model stored as plain arrays, evaluated with numpy (no scikit-learn).

A model directory holds `model.json` (classes, themes, feature spec, calibration) and
`weights.npz` (weight matrix, idf, bias, the word vocabulary as a UTF-8 blob and the character
n-grams as integer codes). No pickle: loading needs only numpy and jieba, which keeps the bot's
cold start short and a model file safe to load.
"""

from __future__ import annotations

import json
import math
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise, repeat
from operator import add
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from domain.classifier import segment
from domain.classifier.errors import ClassifierError
from domain.classifier.features import (
    FeatureSpec,
    code_gram,
    has_han,
    lead_end,
    lead_tokens,
    normalize,
    raw_tokens,
    word_features,
    words_of,
)
from domain.classifier.taxonomy import OTHER_ID, OTHER_NAME
from domain.classifier.types import Classification, Theme

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "default_model"
MODEL_JSON = "model.json"
WEIGHTS = "weights.npz"
FORMAT = "liaison-theme-model"
FORMAT_VERSION = 1
MAX_TERMS = 5
# REVIEW_THRESHOLD's default: staff review a verdict the model thinks is more likely wrong than
# right. Chosen on the shipped held-out set and cross-validation (docs/classifier-figures.md).
DEFAULT_THRESHOLD = 0.5
# Words that say nothing about a theme: never shown to staff as the reason.
_NOT_REASONS = frozenset(
    "我们 你们 他们 她们 大家 自己 希望 建议 呼吁 能够 可以 能否 是否 一些 这个 那个 这些 那些 "  # noqa: SIM905
    "没有 什么 怎么 因为 所以 但是 而且 如果 现在 目前 已经 还是 就是 不是 一下 一个 进一步 相关 "
    "有关 问题 情况 方面 进行 很多 非常 比较 特别 同志 代表 领导 政府 老人 老年人 谢谢 感谢 "
    "时候 什么时候 为什么 怎么办 能不能 一直 还是 到底 哪里 这样 那样 一点 太".split()
)

FloatArray = npt.NDArray[np.float32]


def _blob(words: Sequence[str]) -> npt.NDArray[np.uint8]:
    return np.frombuffer("\n".join(words).encode("utf-8"), dtype=np.uint8)


def _unblob(arr: npt.NDArray[np.uint8]) -> list[str]:
    text = arr.tobytes().decode("utf-8")
    return text.split("\n") if text else []


@dataclass
class ModelData:
    """Everything a model directory holds, in memory (written by training, read by load)."""

    classes: list[str]
    themes: tuple[Theme, ...]
    spec: FeatureSpec
    word_vocab: list[str]
    char_codes: npt.NDArray[np.uint64]  # character n-grams as codes (features.gram_code), ascending
    idf: FloatArray  # (n_word + n_char,)
    weights: FloatArray  # (n_word + n_char, n_classes)
    bias: FloatArray  # (n_classes,)
    temperature: float = 1.0
    meta: dict[str, Any] | None = None
    # Two-stage model: the last class is the out-of-scope outcome and its column holds a scope
    # score (positive: in scope); P(in scope) = sigmoid(a * score + b) with scope = (a, b), and
    # the themes share P(in scope) by their tempered softmax. None: one softmax over all classes.
    scope: tuple[float, float] | None = None

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        info = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "classes": self.classes,
            "themes": [
                {
                    "id": t.id,
                    "name": t.name,
                    "keywords": list(t.keywords),
                    **({"out_of_scope": True} if t.out_of_scope else {}),
                }
                for t in self.themes
            ],
            "features": self.spec.to_json(),
            "temperature": self.temperature,
            **({"scope": {"platt": list(self.scope)}} if self.scope else {}),
            "n_word": len(self.word_vocab),
            "n_char": len(self.char_codes),
            "meta": self.meta or {},
        }
        (folder / MODEL_JSON).write_text(
            json.dumps(info, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        with (folder / WEIGHTS).open("wb") as fh:
            np.savez_compressed(
                fh,
                weights=self.weights.astype(np.float32),
                idf=self.idf.astype(np.float32),
                bias=self.bias.astype(np.float32),
                word_vocab=_blob(self.word_vocab),
                char_codes=self.char_codes.astype(np.uint64),
            )

    @classmethod
    def read(cls, folder: Path) -> ModelData:
        hint = "请重新运行 liaison-bot train 生成模型，或去掉 --model 使用默认模型"
        try:
            info = json.loads((folder / MODEL_JSON).read_text(encoding="utf-8"))
            with np.load(folder / WEIGHTS, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except FileNotFoundError as exc:
            raise ClassifierError(
                f"模型目录 {folder} 不完整（缺少 {Path(exc.filename or '').name}），{hint}"
            ) from None
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise ClassifierError(f"模型目录 {folder} 无法读取 ({exc})，{hint}") from None
        if not isinstance(info, dict) or info.get("format") != FORMAT:
            raise ClassifierError(f"{folder} 不是本程序训练的主题模型，{hint}")
        if int(info.get("version", 0)) > FORMAT_VERSION:
            raise ClassifierError(f"{folder} 的模型版本较新，请升级 liaison-bot 或重新训练")
        try:
            themes = tuple(
                Theme(
                    str(t["id"]),
                    str(t.get("name") or t["id"]),
                    tuple(t.get("keywords") or ()),
                    bool(t.get("out_of_scope", False)),
                )
                for t in info.get("themes", [])
            )
            data = cls(
                classes=[str(c) for c in info["classes"]],
                themes=themes,
                spec=FeatureSpec.from_json(info.get("features", {})),
                word_vocab=_unblob(arrays["word_vocab"]),
                char_codes=arrays["char_codes"].astype(np.uint64),
                idf=arrays["idf"].astype(np.float32),
                weights=arrays["weights"].astype(np.float32),
                bias=arrays["bias"].astype(np.float32),
                temperature=float(info.get("temperature", 1.0)),
                meta=dict(info.get("meta") or {}),
                scope=_platt_of(info.get("scope")),
            )
        except (KeyError, TypeError, ValueError, AttributeError, UnicodeDecodeError) as exc:
            raise ClassifierError(f"模型目录 {folder} 内容有误 ({exc!r})，{hint}") from None
        n = len(data.word_vocab) + len(data.char_codes)
        if (
            len(data.classes) < (3 if data.scope else 2)
            or data.weights.shape != (n, len(data.classes))
            or data.idf.shape != (n,)
        ):
            raise ClassifierError(f"模型目录 {folder} 的文件互不匹配，{hint}")
        return data


def _platt_of(raw: Any) -> tuple[float, float] | None:
    if not raw:
        return None
    a, b = raw["platt"]
    return float(a), float(b)


def probabilities_of(
    z: npt.NDArray[Any], temperature: float, scope: tuple[float, float] | None
) -> npt.NDArray[np.float64]:
    """Calibrated probabilities from raw scores, one row per text (training and evaluation)."""
    z = np.atleast_2d(np.asarray(z, dtype=np.float64))
    if scope is None:
        return _softmax2(z * temperature)
    p_in = 1.0 / (1.0 + np.exp(-(scope[0] * z[:, -1] + scope[1])))
    out = np.empty_like(z)
    out[:, :-1] = _softmax2(z[:, :-1] * temperature) * p_in[:, None]
    out[:, -1] = 1.0 - p_in
    return out


def _softmax2(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    out: npt.NDArray[np.float64] = e / e.sum(axis=1, keepdims=True)
    return out


class ThemeClassifier:
    """Sorts a text into a theme: jieba + char n-gram TF-IDF, a linear model, calibrated softmax."""

    def __init__(self, data: ModelData, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.data = data
        self.threshold = threshold
        self.spec = data.spec
        self.classes = list(data.classes)
        by_id = {t.id: t for t in data.themes}
        # A custom model without a taxonomy: each label is its own theme, named as written.
        themes = [by_id.get(c) or _label_theme(c) for c in self.classes]
        # The out-of-scope outcome exists for every model: a class when training had examples
        # of it, otherwise only for texts without usable evidence (listed last, never scored).
        if data.scope is not None and not themes[-1].out_of_scope:
            themes[-1] = Theme(themes[-1].id, themes[-1].name, themes[-1].keywords, True)
        other = next((t for t in themes if t.out_of_scope), None)
        self._other_class: int | None = None if other is None else themes.index(other)
        if other is None:
            other = next((t for t in data.themes if t.out_of_scope), None) or Theme(
                OTHER_ID, OTHER_NAME, (), True
            )
            themes.append(other)
        self.other: Theme = other
        self.themes: tuple[Theme, ...] = tuple(themes)
        self._names = [t.name for t in themes[: len(self.classes)]]
        self._n_word = n_word = len(data.word_vocab)
        # Word rows that may be shown as a reason (pairs: either word may be).
        self._showable = np.array([" " in w or _showable(w) for w in data.word_vocab], dtype=bool)
        self._feature = data.word_vocab  # word row -> its string (pairs: "a b")
        # Words: a dict for single words; a pair "a b" becomes the integer row(a) * m + row(b),
        # found by binary search, so no pair string is built at run time. A pair's words are
        # always in the vocabulary too (each is in at least as many documents as the pair).
        self._uni = {w: i for i, w in enumerate(data.word_vocab) if " " not in w}
        self._m = m = n_word + 1  # row n_word stands for an unknown word: its pairs match nothing
        pair_codes: list[int] = []
        pair_rows: list[int] = []
        self._pairs_by_string: dict[str, int] | None = None
        for i, w in enumerate(data.word_vocab):
            a, sep, b = w.partition(" ")
            if sep:
                ra, rb = self._uni.get(a), self._uni.get(b)
                if ra is None or rb is None:  # not from our trainer: look pairs up as strings
                    self._pairs_by_string = {w: i for i, w in enumerate(data.word_vocab)}
                    break
                pair_codes.append(ra * m + rb)
                pair_rows.append(i)
        self._pair = dict(zip(pair_codes, pair_rows, strict=True))
        n_all = n_word + len(data.char_codes)
        # Row `n_all` is all zeros: every word or n-gram the model does not know maps to it, so
        # lookups need no filtering (dict.get with a default, at C speed) and add nothing.
        self._zero = n_all
        # Character n-grams by their string: a dict lookup per n-gram is cheaper than encoding
        # the text and hashing codes with numpy for the short texts a bot gets.
        grams = list(map(code_gram, data.char_codes.tolist()))
        self._grams = dict(zip(grams, range(n_word, n_all), strict=True))
        idf = np.asarray(data.idf, dtype=np.float32)
        wts = np.asarray(data.weights, dtype=np.float32)
        # A feature's value is idf (times a tf factor) over its block's norm: fold idf into the
        # weights once, so scoring is one gather and two sums per message.
        # The last column is idf², for the block norms: one gather and one sum give both.
        iw = np.column_stack([wts * idf[:, None], idf * idf])
        self._iw = np.ascontiguousarray(np.vstack([iw, np.zeros((1, iw.shape[1]), np.float32)]))
        # Evidence for class c against the others (weights minus the per-feature mean), by class.
        # Two-stage: themes against themes; out of scope is evidence against the scope score.
        self._scope = data.scope
        if data.scope is None:
            rel = (wts - wts.mean(axis=1, keepdims=True)) * idf[:, None]
        else:
            th = wts[:, :-1]
            rel = np.column_stack([th - th.mean(axis=1, keepdims=True), -wts[:, -1]])
            rel *= idf[:, None]
        rel = np.vstack([rel, np.zeros((1, rel.shape[1]), np.float32)])
        rel_t = np.ascontiguousarray(rel.T)  # per class, over the feature rows
        # For reasons, per class and word row: the word's own evidence and that of the
        # character n-grams inside it, side by side in one flat array (0 where a word may not
        # be shown). A message has a dozen words: indexing beats numpy calls at that size, and
        # the two numbers share a cache line (jieba has just evicted everything else).
        shown = np.zeros(n_all + 1, dtype=bool)
        shown[:n_word] = self._showable
        crel = self._inner_gram_evidence(rel_t, n_word)
        self._word_ev = [
            array("d", np.column_stack([r * shown, cr * shown]).astype(np.float64).tobytes())
            for r, cr in zip(rel_t, crel, strict=True)
        ]
        self._has_pairs = bool(self._pair) or self._pairs_by_string is not None
        # Per class, the character n-grams' evidence (reasons for words the model lacks).
        self._gram_rel = [dict(zip(grams, r[n_word:n_all].tolist(), strict=True)) for r in rel_t]
        self._b = [float(v) for v in data.bias]
        self._t = float(data.temperature)
        self._k = len(self.classes)
        self._block_w = (float(data.spec.word_weight), float(data.spec.char_weight))

    @classmethod
    def load(
        cls,
        model_dir: Path | None = None,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        cache_dir: Path | None = None,
    ) -> ThemeClassifier:
        """Load a trained model (None: the packaged default model) and jieba, once."""
        if not 0.0 <= threshold <= 1.0:
            raise ClassifierError(
                f"复核阈值 {threshold} 应在 0 到 1 之间 (threshold must be in [0, 1])"
            )
        segment.init_jieba(cache_dir)
        folder = model_dir or DEFAULT_MODEL_DIR
        if not folder.is_dir():
            raise ClassifierError(
                f"模型目录 {folder} 不存在，请先运行 liaison-bot train 或检查 --model"
            )
        return cls(ModelData.read(folder), threshold)

    # -- vectors ---------------------------------------------------------------------------------

    def _vector(self, norm: str, tokens: list[str]) -> _Vector:
        """A text's known features: the maths of `vectorize.transform` (a test holds them equal).

        This runs next to jieba for every message and must cost little beside it (numpy calls
        cost microseconds each here, so there are three): words, word pairs and character
        n-grams go through dicts (unknown ones to the zero row), and scoring is one gather and
        one sum per block. With the default tf ("occ") a repeated feature is simply one more
        row.
        """
        spec = self.spec
        wrows = self._word_rows(tokens)
        crows = self._char_rows(norm)
        if spec.lead:  # the first sentence's features once more per `lead` (features.extract)
            end = lead_end(norm, spec.lead_max)
            if end < len(norm):
                wrows += self._word_rows(lead_tokens(tokens, end)) * spec.lead
                crows += self._char_rows(norm[:end]) * spec.lead
        tf: FloatArray | None = None
        if spec.tf != "occ":
            wcount = Counter(wrows)
            wrows = list(wcount)
            ccount = Counter(crows)
            crows = list(ccount)
            if spec.tf == "sublinear":
                cnt = np.array([*wcount.values(), *ccount.values()], dtype=np.float32)
                tf = np.log(cnt, dtype=np.float32) + np.float32(1.0)
        n_w = len(wrows)
        rows = np.array(wrows + crows, dtype=np.intp)
        g = self._iw.take(rows, axis=0)
        if tf is not None:
            g[:, :-1] *= tf[:, None]
            g[:, -1] *= tf * tf
        zero = [0.0] * (self._k + 1)
        if 0 < n_w < len(rows):
            words, chars = np.add.reduceat(g, [0, n_w]).tolist()
        elif n_w:
            words, chars = g.sum(axis=0).tolist(), zero
        else:
            words, chars = zero, g.sum(axis=0).tolist()
        ww, cw = self._block_w
        # idf >= 1 for every known feature, so a block's sum of idf² is 0 only if none is known.
        known = words[-1] > 0 or chars[-1] > 0
        a = ww / math.sqrt(words[-1]) if words[-1] > 0 else 0.0
        b = cw / math.sqrt(chars[-1]) if chars[-1] > 0 else 0.0
        z = [bias + a * x + b * y for bias, x, y in zip(self._b, words, chars, strict=False)]
        return _Vector(wrows, a, b, tf, z, known)

    def _char_rows(self, norm: str) -> list[int]:
        """Rows of the text's character n-grams (unknown ones: the zero row).

        N-grams touching punctuation or emoji are never in the vocabulary (it holds only
        n-grams inside runs of CJK/alphanumerics), so every position can be looked up as is:
        the known rows are exactly those `features.char_codes` finds (the scores equal training's:
        test_inference_vectors_equal_training_vectors).
        """
        spec = self.spec
        get = self._grams.get
        z = repeat(self._zero)
        out: list[int] = list(map(get, norm, z)) if spec.char_min <= 1 else []
        if spec.char_max >= 2 and len(norm) > 1:
            pairs = list(map(add, norm, norm[1:]))
            if spec.char_min <= 2:
                out += map(get, pairs, z)
            if spec.char_max >= 3 and len(norm) > 2:
                out += map(get, map(add, pairs, norm[2:]), z)
        return out

    def _word_rows(self, tokens: list[str]) -> list[int]:
        """Vocabulary rows of the words (unknown ones and punctuation: the zero row), and of
        their pairs when the model uses pairs (known pairs only)."""
        if not self.spec.word_bigrams:
            # A token that is not a word (punctuation, space, emoji) is never in the vocabulary.
            return list(map(self._uni.get, tokens, repeat(self._zero)))
        words = words_of(tokens)
        n_word = self._n_word
        uid = list(map(self._uni.get, words, repeat(n_word)))
        wrows = [u for u in uid if u != n_word]
        if len(words) > 1:
            if self._pairs_by_string is None:
                m = self._m
                codes = [a * m + b for a, b in pairwise(uid)]
                wrows += [j for j in map(self._pair.get, codes) if j is not None]
            else:
                pairs = word_features(words, True)[len(words) :]
                wrows += [j for j in map(self._pairs_by_string.get, pairs) if j is not None]
        return wrows

    def scores(self, text: str) -> FloatArray:
        """Raw linear scores per class (before calibration); for evaluation and debugging."""
        norm = normalize(text)
        vec = self._vector(norm, raw_tokens(norm, self.spec.hmm))
        return np.array(vec.z, dtype=np.float32)

    def probabilities(self, text: str) -> FloatArray:
        """Calibrated class probabilities, in the order of `classes`."""
        p: FloatArray = probabilities_of(self.scores(text), self._t, self._scope)[0].astype(
            np.float32
        )
        return p

    # -- verdicts --------------------------------------------------------------------------------

    def classify(self, text: str) -> Classification:
        """Theme, confidence and reason for one text; never raises on odd input."""
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        norm = normalize(text)
        tokens = raw_tokens(norm, self.spec.hmm)
        vec = self._vector(norm, tokens)
        if not vec.known:  # nothing the model knows: out of scope, and staff should look
            o = self.other
            return Classification(o.id, o.name, 0.0, (), True, True)
        t = self._t
        if self._scope is None:
            z = [v * t for v in vec.z]
            top = max(z)
            e = [math.exp(v - top) for v in z]
            c = e.index(1.0)
            conf = 1.0 / sum(e)
        else:  # P(in scope) shared out by the themes' softmax; else out of scope
            z = [v * t for v in vec.z[:-1]]
            top = max(z)
            e = [math.exp(v - top) for v in z]
            a, b = self._scope
            p_in = 1.0 / (1.0 + math.exp(min(700.0, -(a * vec.z[-1] + b))))
            c = e.index(1.0)
            conf = p_in / sum(e)
            if 1.0 - p_in > conf:
                c, conf = len(z), 1.0 - p_in
        terms = self._reasons(tokens, vec, c)
        review = conf < self.threshold or not has_han(norm)
        return Classification(
            self.classes[c], self._names[c], conf, terms, review, c == self._other_class
        )

    def classify_many(self, texts: Sequence[str]) -> list[Classification]:
        return [self.classify(t) for t in texts]

    def _reasons(self, tokens: list[str], vec: _Vector, c: int) -> tuple[str, ...]:
        """Words that pushed the text into class c, best first (jieba words, readable).

        A word's evidence is its own weight plus that of the character n-grams inside it
        (both precomputed per vocabulary word; a word pair counts for both words), so a word
        the model knows mostly through its characters still ranks right; a word the model does
        not know as a word (a typo, a new compound) speaks through its n-grams alone. Plain
        Python over a dozen words: numpy calls would cost more than the arithmetic here.
        """
        score: dict[str, float] = {}
        ev = self._word_ev[c]
        feature = self._feature
        ws, cs = vec.word_scale, vec.char_scale
        tf = vec.tf.tolist() if vec.tf is not None else None
        zero = self._zero
        pairs = self._has_pairs
        rows = vec.word_rows
        # Without pairs, lead or repeated rows merged, word rows are the tokens one to one.
        aligned = not pairs and len(rows) == len(tokens) and cs > 0.0
        for i, row in enumerate(rows):
            if row == zero:
                if aligned:
                    w = tokens[i]
                    if len(w) > 1 and _showable(w):
                        self._unknown_word(w, c, cs, score)
                continue
            v = ev[row + row] * ws + ev[row + row + 1] * cs
            if tf is not None:
                v *= tf[i]
            if v > 0.0:
                w = feature[row]
                if pairs and " " in w:
                    a, b = w.split(" ")
                    score[a] = score.get(a, 0.0) + v / 2
                    score[b] = score.get(b, 0.0) + v / 2
                else:
                    score[w] = score.get(w, 0.0) + v
        if not aligned and cs > 0.0:
            uni = self._uni
            for w in tokens:
                if len(w) > 1 and w not in uni and _showable(w):
                    self._unknown_word(w, c, cs, score)
        ranked = sorted(((v, w) for w, v in score.items()), reverse=True)
        return tuple(w for _, w in ranked[:MAX_TERMS])

    def _unknown_word(self, w: str, c: int, scale: float, score: dict[str, float]) -> None:
        """A word the model lacks speaks through its character n-grams' evidence for c."""
        grel = self._gram_rel[c]
        v = sum(map(grel.get, self._token_grams(w), repeat(0.0))) * scale
        if v > 0.0:
            score[w] = score.get(w, 0.0) + v

    def _token_grams(self, word: str) -> list[str]:
        """A word's own character n-grams, as the model's spec counts them."""
        lo, hi = self.spec.char_min, self.spec.char_max
        out = list(word) if lo <= 1 else []
        if hi >= 2:
            pairs = list(map(add, word, word[1:]))
            if lo <= 2:
                out += pairs
            if hi >= 3:
                out += map(add, pairs, word[2:])
        return out

    def _inner_gram_evidence(self, rel_t: FloatArray, n_word: int) -> FloatArray:
        """Per class and feature row, the summed evidence of the n-grams inside each word
        (rows past the words: 0); computed once, when the model is loaded."""
        zero = self._zero
        rows: list[int] = []
        starts: list[int] = []
        for w in self._feature:
            starts.append(len(rows))
            rows += map(self._grams.get, self._token_grams(w), repeat(zero))
            rows.append(zero)  # every word gets at least one row (a zero one)
        out = np.zeros_like(rel_t)
        if starts:
            out[:, :n_word] = np.add.reduceat(rel_t[:, rows], starts, axis=1)
        return out


def _showable(word: str) -> bool:
    """Whether a word may be shown to staff as a reason (two characters or more, not filler)."""
    return len(word) > 1 and word not in _NOT_REASONS and not word.isdigit()


def _label_theme(label: str) -> Theme:
    """A class of a model trained without taxonomy: its label is its name ("other" is scope)."""
    if label == OTHER_ID:
        return Theme(OTHER_ID, OTHER_NAME, (), True)
    return Theme(label, label, ())


class _Vector(NamedTuple):
    """One text's features and scores (a tuple: built for every message, kept cheap)."""

    word_rows: list[int]  # the word block's rows (unknown words: the zero row)
    word_scale: float  # block weight / block norm: a row's value is idf * tf * its scale
    char_scale: float
    tf: FloatArray | None  # tf factor per row (sublinear only; otherwise 1)
    z: list[float]  # raw scores per class
    known: bool  # whether the model knows any of the text's features
