"""jieba, set up once per process: our own Tokenizer, the domain user dictionary, a cache file.

jieba's global tokenizer writes its cache to /tmp and knows none of 助餐点, 适老化, 长期护理保险;
a private `jieba.Tokenizer` with the cache in the data folder fixes both. Paddle mode is never
used (enabling it runs pip at run time).

`cut` is jieba's precise mode without HMM on that tokenizer's dictionary. Its inner loop (build
the DAG, then the best route) is done here in one pass over plain lists instead of jieba's
dict-of-lists and generator `max`: the same arithmetic in the same order, so the same words
(tests compare it with `Tokenizer.cut` on every corpus), in about half the time. Segmentation
is most of the cost of classifying a message, so this is where speed comes from.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
USER_DICT = DATA_DIR / "userdict.txt"
CACHE_NAME = "jieba.cache"

_lock = threading.Lock()
_tokenizer: Any = None
_cache_file: Path | None = None
_freq: dict[str, int] = {}
_logtotal = 0.0
# jieba's own block patterns (re_han_default, re_skip_default, re_eng), taken at init_jieba.
_RE_HAN: re.Pattern[str] = re.compile("(?!)")
_RE_SKIP: re.Pattern[str] = re.compile("(?!)")
_RE_ENG: re.Pattern[str] = re.compile("(?!)")


def _writable_dir(cache_dir: Path | None) -> Path:
    """The folder for jieba's cache: the data folder if we can write there, else the temp dir.

    jieba logs a traceback when it cannot write its cache; checking first keeps that away.
    """
    if cache_dir is not None:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            if os.access(cache_dir, os.W_OK | os.X_OK):
                return cache_dir
        except OSError:
            pass
    return Path(tempfile.gettempdir())


def init_jieba(cache_dir: Path | None = None) -> None:
    """Load jieba's dictionary (from `<cache_dir>/jieba.cache` when present) and our user dict.

    Idempotent: the first call in a process wins; later calls (any cache_dir) do nothing.
    """
    global _tokenizer, _cache_file, _freq, _logtotal, _RE_HAN, _RE_SKIP, _RE_ENG, fast
    if _tokenizer is not None:
        return
    with _lock:
        if _tokenizer is not None:
            return
        import jieba

        jieba.setLogLevel(logging.WARNING)
        folder = _writable_dir(cache_dir)
        tok = jieba.Tokenizer()
        tok.tmp_dir = str(folder)
        tok.cache_file = CACHE_NAME
        tok.initialize()
        tok.load_userdict(str(USER_DICT))
        _cache_file = folder / CACHE_NAME
        _freq, _logtotal = tok.FREQ, math.log(tok.total)
        _RE_HAN, _RE_SKIP, _RE_ENG = jieba.re_han_default, jieba.re_skip_default, jieba.re_eng
        if _RE_HAN.groups != 1 or _RE_SKIP.groups != 1 or _RE_ENG.pattern != "[a-zA-Z0-9]":
            fast = False  # another jieba than the one the fast loop was written against
        _tokenizer = tok


def tokenizer() -> Any:
    """The process tokenizer (initialised with the temp-dir cache if nobody called init_jieba)."""
    if _tokenizer is None:
        init_jieba(None)
    return _tokenizer


def cache_file() -> Path | None:
    """Where jieba's cache lives for this process (None before init_jieba)."""
    return _cache_file


def cut(text: str, hmm: bool = False) -> list[str]:
    """jieba precise-mode segmentation with the user dictionary (punctuation included)."""
    if hmm or not fast:
        return list(tokenizer().cut(text, HMM=hmm))
    return list(_cut_recent(text))


def forget() -> None:
    """Drop the remembered segmentations (a benchmark timing each text as new calls this)."""
    _cut_recent.cache_clear()


@lru_cache(maxsize=16)
def _cut_recent(text: str) -> tuple[str, ...]:
    """The fast path, remembering the last few texts: a new opinion is segmented by the
    classifier, then by the duplicate finder and the routing model (the same words)."""
    if _tokenizer is None:
        init_jieba(None)
    out: list[str] = []
    # Both patterns have one group, so split() alternates: text between matches at even
    # places, the matches at odd ones. A part between matches cannot start with a match (it
    # would have joined the match before it), so this is jieba's `if re.match(part)` without
    # matching again.
    for i, blk in enumerate(_RE_HAN.split(text)):
        if i & 1:
            out += _cut_block(blk)
        elif blk:
            for j, x in enumerate(_RE_SKIP.split(blk)):
                if j & 1:
                    out.append(x)
                else:
                    out += x
    return tuple(out)


_ENG = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
fast = True  # False: use jieba's Tokenizer.cut itself (bench/classify.py compares both)


def _cut_block(s: str) -> list[str]:
    """jieba's `__cut_DAG_NO_HMM` for one block: best route by dictionary log-frequency.

    jieba computes, right to left, max over dictionary words s[k:x+1] of
    (log(freq or 1) - log(total) + best[x+1], x); ties go to the longer word. Same here.
    """
    n = len(s)
    get = _freq.get
    lt = _logtotal
    log = math.log
    best = [0.0] * (n + 1)
    nxt = [0] * n
    for k in range(n - 1, -1, -1):
        bp = -math.inf
        bx = -1
        i = k + 1
        f = get(s[k])
        while f is not None:
            if f:
                p = log(f) - lt + best[i]
                if p >= bp:
                    bp, bx = p, i - 1
            if i >= n:
                break
            i += 1
            f = get(s[k:i])
        if bx < 0:  # no dictionary word starts here: the single character, log(1)
            bp, bx = 0.0 - lt + best[k + 1], k
        best[k] = bp
        nxt[k] = bx
    out: list[str] = []
    x = 0
    buf = ""
    while x < n:
        y = nxt[x] + 1
        w = s[x:y]
        if y - x == 1 and w in _ENG:  # jieba: re_eng.match(w), one ASCII letter or digit
            buf += w
        else:
            if buf:
                out.append(buf)
                buf = ""
            out.append(w)
        x = y
    if buf:
        out.append(buf)
    return out
