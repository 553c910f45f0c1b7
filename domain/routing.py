"""Routing suggestions (派单建议): which units should handle an opinion, best first, and why.

Two kinds of evidence, combined as independent chances (1 - (1 - a)(1 - b)):

- the station's 权责清单 (duty list): which unit handles which matters, as keywords and themes;
  a keyword found in the opinion is evidence for its unit, the more so the fewer units list it
  ("依据：权责清单 路灯");
- the station's past assignments (opinion text -> unit): a naive Bayes profile per unit over
  the words and characters of what it was given before ("依据：以往交办 12 次": similar past
  opinions that went to the unit).

Pure: parsing takes bytes, learning takes pairs; the caller reads files and the database.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from domain.classifier.features import normalize
from domain.similarity import SimilarityIndex, features

_SPLIT = re.compile(r"[、,，;；|/\s]+")
_UNIT_COLS = ("单位", "责任单位", "承办单位", "部门", "unit")
_KEYWORD_COLS = ("事项", "职责", "权责事项", "关键词", "关键字", "keywords", "matters")
_THEME_COLS = ("主题", "专题", "theme", "themes")
_NOTE_COLS = ("说明", "备注", "note")
MAX_ROWS = 5000
# Past assignments: a naive Bayes profile per unit over the similarity features (words,
# bigrams, characters; idf-weighted, smoothing ALPHA), its log-odds divided by TEMPERATURE
# (summed over ~100 features they are far too sure) and counted at HISTORY_WEIGHT against the
# duty list. Similar past opinions (SIMILAR or more) are counted for the reason shown to staff.
# Chosen on bench/routing.py's folds (docs/classifier-figures.md).
ALPHA = 0.1
TEMPERATURE = 10.0
HISTORY_WEIGHT = 0.5
SIMILAR = 0.15


class RoutingError(Exception):
    """A duty list that cannot be used; str(exc) is one line saying how to fix the file."""


@dataclass(frozen=True)
class DutyRule:
    """One unit of the duty list: the matters (keywords) and themes it handles."""

    unit: str
    keywords: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()  # theme ids or names, as the station wrote them
    note: str = ""


@dataclass
class DutyList:
    """Parsed rules and one line per row that was skipped (to show the operator)."""

    rules: list[DutyRule] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Suggestion:
    """A unit for an opinion, a score in [0, 1] (not a calibrated probability) and the reason."""

    unit: str
    score: float
    reason: str


@dataclass(frozen=True)
class _RuleHit:
    """What the duty list says for one unit and one opinion."""

    score: float
    words: list[str]  # the keywords found, strongest first
    theme: str  # the opinion's theme the unit lists, if any


# -- the duty list file -----------------------------------------------------------------------------


def parse_duty_list(data: bytes, filename: str) -> DutyList:
    """A 权责清单 from a CSV (UTF-8 or GBK) or xlsx file's bytes; RoutingError if unusable."""
    lower = filename.lower()
    if lower.endswith(".xlsx"):
        rows = _xlsx_rows(data, filename)
    elif lower.endswith(".xls"):
        raise RoutingError(
            f"{filename} 是旧版 Excel (.xls) 文件，请在 Excel 中“另存为” .xlsx 或 .csv 后再导入"
        )
    else:
        rows = _csv_rows(_decode(data, filename), filename)
    return parse_duty_rows(rows, filename)


def _decode(data: bytes, source: str) -> str:
    for enc in ("utf-8-sig", "gb18030"):  # Excel in Chinese saves CSV as GBK
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise RoutingError(
        f"{source} 不是 UTF-8 或 GBK 编码的文本，请用 Excel 另存为 CSV (UTF-8) 后再导入"
    )


def _csv_rows(text: str, source: str) -> list[list[str]]:
    try:
        return [row for row in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as exc:
        raise RoutingError(f"{source} 不是有效的 CSV 文件（{exc}），请检查引号和分隔符") from None


def _xlsx_rows(data: bytes, source: str) -> list[list[str]]:
    try:
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        raise RoutingError(
            f"{source} 不是有效的 xlsx 文件（{type(exc).__name__}），请用 Excel 打开后另存为 .xlsx 或 .csv"
        ) from None
    try:
        sheet = book.worksheets[0]
        return [
            ["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)
        ]
    finally:
        book.close()


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    low = [h.strip().lower().lstrip("\ufeff") for h in header]
    for name in names:
        if name in low:
            return low.index(name)
    return None


def parse_duty_rows(rows: Sequence[Sequence[str]], source: str = "权责清单") -> DutyList:
    """Rules from table rows (first row: header). Units listed twice are merged."""
    table = [[c or "" for c in r] for r in rows if any((c or "").strip() for c in r)]
    if not table:
        raise RoutingError(f"{source} 是空的：第 1 行应为表头，如 单位,事项,主题")
    if len(table) > MAX_ROWS + 1:
        raise RoutingError(
            f"{source} 有 {len(table) - 1} 行，超过 {MAX_ROWS} 行的上限，请拆分后导入"
        )
    header = table[0]
    ui, ki = _column(header, _UNIT_COLS), _column(header, _KEYWORD_COLS)
    ti, ni = _column(header, _THEME_COLS), _column(header, _NOTE_COLS)
    shown = ",".join(h.strip() for h in header)[:60]
    if ui is None:
        raise RoutingError(
            f"{source} 缺少“单位”列：第 1 行应为表头 单位,事项,主题（当前为 {shown}）"
        )
    if ki is None and ti is None:
        raise RoutingError(
            f"{source} 缺少“事项”列：第 1 行应为表头 单位,事项,主题（当前为 {shown}）"
        )
    out = DutyList()
    merged: dict[str, tuple[list[str], list[str], list[str]]] = {}

    def cell(row: list[str], i: int | None) -> str:
        return (row[i] if i is not None and i < len(row) else "").strip()

    for n, row in enumerate(table[1:], start=2):
        unit = cell(row, ui)
        kws = [k for k in _SPLIT.split(cell(row, ki)) if k]
        themes = [t for t in _SPLIT.split(cell(row, ti)) if t]
        if not unit:
            out.problems.append(f"第 {n} 行: 缺少单位名称，已跳过")
            continue
        if not kws and not themes:
            out.problems.append(f"第 {n} 行: 单位“{unit}”没有填写事项或主题，已跳过")
            continue
        if len(unit) > 60:
            out.problems.append(f"第 {n} 行: 单位名称过长（{len(unit)} 字），已跳过")
            continue
        have = merged.setdefault(unit, ([], [], []))
        have[0].extend(kws)
        have[1].extend(themes)
        if cell(row, ni):
            have[2].append(cell(row, ni))
    if not merged:
        raise RoutingError(f"{source} 中没有可用的行：每行需要单位名称和至少一个事项")
    out.rules = [
        DutyRule(unit, tuple(dict.fromkeys(k)), tuple(dict.fromkeys(t)), "；".join(n))
        for unit, (k, t, n) in merged.items()
    ]
    return out


# -- the matcher ----------------------------------------------------------------------------------


class RoutingModel:
    """Ranks units for an opinion from the duty list and the station's past assignments."""

    def __init__(self, rules: Iterable[DutyRule] = ()) -> None:
        self.rules: list[DutyRule] = list(rules)
        # A keyword listed by several units says less about each: weight 1 / (units listing it).
        listed: Counter[str] = Counter()
        for r in self.rules:
            listed.update({normalize(k) for k in r.keywords if k})
        self._keywords: list[tuple[str, list[tuple[str, float, str]]]] = []
        for r in self.rules:
            kws = []
            for k in dict.fromkeys(r.keywords):
                norm = normalize(k)
                if norm:
                    base = 0.6 if len(norm) >= 3 else 0.5 if len(norm) == 2 else 0.25
                    kws.append((norm, base / listed[norm], k))
            self._keywords.append((r.unit, kws))
        self._themes = {r.unit: set(r.themes) for r in self.rules}
        self._docs: Counter[str] = Counter()  # unit -> past assignments
        self._feat: dict[str, Counter[int]] = defaultdict(Counter)  # unit -> feature counts
        self._total: Counter[str] = Counter()  # unit -> features counted
        self._df: Counter[int] = Counter()  # feature -> past opinions that have it
        self._history = SimilarityIndex()
        self._unit_of: list[str] = []

    @classmethod
    def from_rules(cls, rules: Iterable[DutyRule]) -> RoutingModel:
        return cls(rules)

    @property
    def units(self) -> list[str]:
        """Units the model knows: from the duty list, then from past assignments."""
        seen = dict.fromkeys(r.unit for r in self.rules)
        seen.update(dict.fromkeys(self._docs))
        return list(seen)

    def learn(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Add past assignments: (opinion text, unit it was assigned to)."""
        for text, unit in pairs:
            self.learn_one(text, unit)

    def learn_one(self, text: str, unit: str) -> None:
        """Add one past assignment (call it when staff assign an opinion)."""
        unit = (unit or "").strip()
        if not unit or not (text or "").strip():
            return
        codes = features(text)
        keys = codes.tolist()
        self._docs[unit] += 1
        self._feat[unit].update(keys)
        self._total[unit] += len(keys)
        self._df.update(keys)
        self._history.add_features(len(self._unit_of), codes)
        self._unit_of.append(unit)

    def _history_scores(self, keys: list[int]) -> dict[str, float]:
        """P(unit | text) from the naive Bayes profiles, softened by TEMPERATURE."""
        n = len(self._unit_of)
        if not n:
            return {}
        known = [(f, math.log((n + 1) / (self._df[f] + 1)) + 1.0) for f in keys if f in self._df]
        vocab = len(self._df)
        logp: dict[str, float] = {}
        for unit, docs in self._docs.items():
            counts = self._feat[unit]
            denom = math.log(self._total[unit] + ALPHA * vocab)
            s = math.log(docs / n)
            for f, idf in known:
                s += idf * (math.log(counts.get(f, 0) + ALPHA) - denom)
            logp[unit] = s / TEMPERATURE
        top = max(logp.values())
        z = sum(math.exp(v - top) for v in logp.values())
        return {u: math.exp(v - top) / z for u, v in logp.items()}

    def rank(
        self, text: str, theme: str | Iterable[str] | None = None, k: int = 3
    ) -> list[Suggestion]:
        """The k best units for an opinion, best first.

        theme: the opinion's theme as the duty list may write it: an id, a name, or both
        (("funding", "经济支撑")); a unit listing it gets a little evidence.
        """
        norm = normalize(text or "")
        rules = self._rule_evidence(norm, {theme} if isinstance(theme, str) else set(theme or ()))
        codes = features(norm)
        history = self._history_scores(codes.tolist())
        similar: Counter[str] = Counter(
            self._unit_of[m.id]
            for m in self._history.query_features(codes, k=30, min_score=SIMILAR)
        )
        out: list[Suggestion] = []
        for unit in dict.fromkeys([*rules, *history]):
            rule = rules.get(unit)
            r = rule.score if rule else 0.0
            h = HISTORY_WEIGHT * history.get(unit, 0.0)
            score = 1.0 - (1.0 - r) * (1.0 - h)
            if score < 0.01:
                continue
            why: list[str] = []
            if rule and rule.words:
                why.append("权责清单 " + "、".join(rule.words[:3]))
            elif rule:
                why.append(f"权责清单 主题 {rule.theme}")
            if similar[unit]:
                why.append(f"以往交办 {similar[unit]} 次")
            elif h > 0:
                why.append(f"以往交办 {self._docs[unit]} 次（用词相近）")
            if h > r and len(why) == 2:
                why.reverse()
            out.append(Suggestion(unit, round(score, 4), "依据：" + "；".join(why)))
        out.sort(key=lambda s: (-s.score, s.unit))
        return out[:k]

    def _rule_evidence(self, norm: str, wanted: set[str]) -> dict[str, _RuleHit]:
        """Each unit whose duty-list keywords appear in the text, or that lists its theme."""
        found: dict[str, _RuleHit] = {}
        for unit, kws in self._keywords:
            hits = [(w, shown) for norm_kw, w, shown in kws if norm_kw in norm]
            # A keyword inside a longer one that also matched (养老 in 养老院) adds nothing.
            hits = [
                (w, s)
                for w, s in hits
                if not any(s != o and normalize(s) in normalize(o) for _, o in hits)
            ]
            miss = 1.0
            for w, _ in hits:
                miss *= 1.0 - min(w, 0.95)
            listed = wanted & self._themes.get(unit, set())
            if listed:
                miss *= 0.7
            if miss < 1.0:
                words = [s for _, s in sorted(hits, key=lambda h: -h[0])]
                found[unit] = _RuleHit(1.0 - miss, words, min(listed) if listed else "")
        return found


def top_k_accuracy(
    model: RoutingModel,
    cases: Sequence[tuple[str, str, Sequence[str]]],
    ks: Sequence[int] = (1, 3),
) -> dict[int, float]:
    """Share of (text, gold unit, theme) cases whose gold unit is among the top k suggestions."""
    hits = dict.fromkeys(ks, 0)
    for text, unit, theme in cases:
        ranked = [s.unit for s in model.rank(text, theme, k=max(ks))]
        for kk in ks:
            hits[kk] += unit in ranked[:kk]
    return {kk: hits[kk] / len(cases) if cases else math.nan for kk in ks}
