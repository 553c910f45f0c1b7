"""Text -> feature strings, shared verbatim by training and inference so they can never drift.

Two blocks: jieba words (+ adjacent word pairs) carry meaning and give readable reasons;
character n-grams inside runs of CJK/alphanumerics survive typos, homophones and words the
dictionary splits differently. Full-width ASCII is folded to half-width and text is lower-cased
first. The generators use map() over C-level operations: this runs once per message, next to
jieba, and must cost much less than jieba itself.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from itertools import repeat
from operator import add
from typing import Any

import numpy as np
import numpy.typing as npt

from domain.classifier import segment

# CJK unified ideographs (incl. extension A and compatibility) plus ASCII letters and digits.
_RUN = re.compile(r"[0-9a-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Code points as used in n-gram codes: the characters of _RUN keep their value, every other one
# becomes OFF, a 21-bit value no real character has, so an n-gram touching it matches nothing.
OFF = 0x1FFFFF
_SHIFT = np.uint64(21)
_CODE = np.full(0x10000, OFF, dtype=np.uint64)  # index 0xFFFF (a non-character) stands for > BMP
for _lo, _hi in ((0x30, 0x39), (0x61, 0x7A), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)):
    _CODE[_lo : _hi + 1] = np.arange(_lo, _hi + 1, dtype=np.uint64)
_WIDE = re.compile(r"[\u3000\uff01-\uff5e]")
_FOLD = {0x3000: 0x20, **{c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}}
_FOLD_STR = {chr(k): chr(v) for k, v in _FOLD.items()}


@dataclass(frozen=True)
class FeatureSpec:
    """How a text becomes features; stored in model.json so a model always reads text its way."""

    hmm: bool = False  # jieba's HMM for unknown words (char n-grams cover those anyway)
    word_bigrams: bool = False  # pairs of neighbouring words: no gain measured, more cost
    char_min: int = 1
    char_max: int = 2  # 1-3-grams scored the same (CV), at half again the cost
    # "occ": each occurrence adds idf, norm over occurrences (cheapest at run time);
    # "binary": presence; "sublinear": 1 + log(count). Blocks are L2-normalised either way.
    tf: str = "occ"
    word_weight: float = 1.0  # each block is L2-normalised, then scaled by its weight
    char_weight: float = 1.0
    # The first sentence (up to 。！？; or a line break, at most lead_max characters) counts
    # `lead` more times: a message's title or opening states its matter, the rest is detail.
    lead: int = 0
    lead_max: int = 40

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureSpec:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        spec = cls(**known)
        if spec.tf not in ("occ", "binary", "sublinear"):
            raise ValueError(f"unknown tf mode {spec.tf!r}")
        return spec


@dataclass(frozen=True)
class Extracted:
    """One text's features as counts (training side): words, and character n-gram codes."""

    tokens: list[str]
    words: Counter[str]
    char_codes: npt.NDArray[np.uint64]  # distinct n-gram codes, ascending
    char_counts: npt.NDArray[np.int64]  # how often each occurs
    han_chars: int


def normalize(text: str) -> str:
    """Fold full-width ASCII ('ＡＢＣ１２３', '，' stays) and lower-case: same features either way.

    One str.replace per distinct full-width character (a message has a few: ，！？) instead of
    str.translate, which looks every character up in a dict: a third of the time, same text.
    """
    wide = _WIDE.findall(text)
    if wide:
        for ch in set(wide):
            text = text.replace(ch, _FOLD_STR[ch])
    return text.lower()


def has_han(text: str) -> bool:
    """Whether a text has any Chinese character (one without is not something we can sort)."""
    return _HAN.search(text) is not None


def count_han(text: str) -> int:
    """How many Chinese characters a text has (a text with none is not something we can sort)."""
    return len(_HAN.findall(text))


def char_grams(norm: str, lo: int, hi: int) -> list[str]:
    """Character n-grams (lo..hi <= 3) inside runs of CJK/alphanumerics; none spans a comma."""
    out: list[str] = []
    for run in _RUN.findall(norm):
        if lo <= 1:
            out += run
        if hi >= 2 and len(run) > 1:
            pairs = list(map(add, run, run[1:]))
            if lo <= 2:
                out += pairs
            if hi >= 3 and len(run) > 2:
                out += map(add, pairs, run[2:])
    return out


def code_gram(code: int) -> str:
    """The n-gram an integer code stands for (inverse of gram_code)."""
    if code < 1 << 21:
        return chr(code)
    if code < 1 << 42:
        return chr(code >> 21) + chr(code & OFF)
    return chr(code >> 42) + chr((code >> 21) & OFF) + chr(code & OFF)


def gram_code(gram: str) -> int:
    """A character n-gram (n <= 3) as one integer: 21 bits per code point, so no two collide."""
    code = 0
    for ch in gram:
        code = (code << 21) | ord(ch)
    return code


def char_codes(norm: str, lo: int, hi: int) -> npt.NDArray[np.uint64]:
    """Integer codes of the n-grams at every position, computed with numpy (inference path).

    Includes codes of n-grams that touch a non-run character (punctuation, emoji): those contain
    OFF and match no vocabulary entry, so the known codes found are exactly those of
    `char_grams` (a test holds them equal), without building a string per n-gram.
    """
    c = _CODE[np.minimum(np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32), 0xFFFF)]
    keys = [c] if lo <= 1 else []
    if hi >= 2 and len(c) > 1:
        c2 = (c[:-1] << _SHIFT) | c[1:]
        if lo <= 2:
            keys.append(c2)
        if hi >= 3 and len(c) > 2:
            keys.append((c2[:-1] << _SHIFT) | c[2:])
    return np.concatenate(keys) if keys else c[:0]


_LEAD_END = re.compile(r"[。！？!?；;\n]")


def lead_end(norm: str, limit: int) -> int:
    """Where the first sentence ends (its terminator excluded), within `limit` characters."""
    m = _LEAD_END.search(norm, 0, limit)
    return m.start() if m else min(len(norm), limit)


def lead_tokens(tokens: list[str], end: int) -> list[str]:
    """The tokens that lie wholly before position `end` (jieba never joins across 。 or ，)."""
    out: list[str] = []
    at = 0
    for t in tokens:
        at += len(t)
        if at > end:
            break
        out.append(t)
    return out


def raw_tokens(norm: str, hmm: bool) -> list[str]:
    """jieba's precise-mode output, punctuation included (positions add up to the text)."""
    return segment.cut(norm, hmm)


def words_of(tokens: list[str]) -> list[str]:
    """Words only: drop whitespace, punctuation and emoji (their first char isn't alnum/CJK)."""
    return [t for t in tokens if t[:1].isalnum()]


def word_features(words: list[str], bigrams: bool) -> list[str]:
    """Words plus 'a b' pairs of neighbouring words (the space never occurs inside a word)."""
    if not bigrams or len(words) < 2:
        return words
    return words + list(map(add, map(add, words, repeat(" ")), words[1:]))


def real_codes(codes: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Only the codes of n-grams inside runs (drop those touching punctuation or emoji)."""
    off = np.uint64(OFF)
    keep = (codes & off) != off
    keep &= ((codes >> _SHIFT) & off) != off
    keep &= ((codes >> np.uint64(42)) & off) != off
    out: npt.NDArray[np.uint64] = codes[keep]
    return out


def extract(text: str, spec: FeatureSpec) -> Extracted:
    """Counted features of one raw text (training and tests; inference looks codes up directly).

    Character n-grams come from `char_codes`, the function inference uses, so the two cannot
    disagree about which n-grams a text has.
    """
    norm = normalize(text)
    tokens = raw_tokens(norm, spec.hmm)
    toks = words_of(tokens)
    feats = word_features(toks, spec.word_bigrams)
    codes = char_codes(norm, spec.char_min, spec.char_max)
    if spec.lead:
        end = lead_end(norm, spec.lead_max)
        if end < len(norm):  # one sentence only: repeating all of it changes nothing
            feats = (
                feats
                + word_features(words_of(lead_tokens(tokens, end)), spec.word_bigrams) * spec.lead
            )
            lead_codes = char_codes(norm[:end], spec.char_min, spec.char_max)
            codes = np.concatenate([codes, *([lead_codes] * spec.lead)])
    uniq, counts = np.unique(real_codes(codes), return_counts=True)
    return Extracted(toks, Counter(feats), uniq, counts.astype(np.int64), count_han(norm))
