"""Accuracy, macro-F1, per-class precision/recall and the confusion matrix, without scikit-learn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Report:
    """Scores of predictions against gold labels; `classes` fixes the matrix order."""

    classes: list[str]
    accuracy: float
    macro_f1: float
    precision: dict[str, float]
    recall: dict[str, float]
    f1: dict[str, float]
    support: dict[str, int]
    confusion: list[list[int]]  # rows: gold, columns: predicted
    n: int
    extra: dict[str, Any] = field(default_factory=dict)
    reliability: Reliability | None = None  # confidence against accuracy (evaluate fills it)

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "classes": self.classes,
            "precision": {k: round(v, 4) for k, v in self.precision.items()},
            "recall": {k: round(v, 4) for k, v in self.recall.items()},
            "f1": {k: round(v, 4) for k, v in self.f1.items()},
            "support": self.support,
            "confusion": self.confusion,
            **({"reliability": self.reliability.to_json()} if self.reliability else {}),
            **self.extra,
        }

    def render(self, names: dict[str, str] | None = None) -> str:
        """A plain-text table for the terminal."""
        names = names or {}
        shown = [names.get(c, c) for c in self.classes]
        width = max([8, *(_width(s) for s in shown)])
        lines = [
            f"样本数 n={self.n}  准确率 accuracy={self.accuracy:.4f}  宏平均F1 macro-F1={self.macro_f1:.4f}",
            "",
            _pad("类别 class", width) + "  precision  recall     f1  support",
        ]
        for c, s in zip(self.classes, shown, strict=True):
            lines.append(
                f"{_pad(s, width)}  {self.precision[c]:9.4f}  {self.recall[c]:6.4f}  "
                f"{self.f1[c]:5.4f}  {self.support[c]:7d}"
            )
        lines += ["", "混淆矩阵 confusion matrix (行 gold → 列 predicted):"]
        heads = [f"{i} {s}" for i, s in enumerate(shown)]
        hw = max(_width(h) for h in heads)
        lines.append(_pad("", hw) + " " + " ".join(f"{i:>5d}" for i in range(len(self.classes))))
        for head, row in zip(heads, self.confusion, strict=True):
            lines.append(_pad(head, hw) + " " + " ".join(f"{v:>5d}" for v in row))
        if self.reliability is not None:
            lines += ["", self.reliability.render()]
        return "\n".join(lines)


def _width(s: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in s)


def _pad(s: str, width: int) -> str:
    return s + " " * max(0, width - _width(s))


def score(gold: Sequence[str], pred: Sequence[str], classes: Sequence[str] | None = None) -> Report:
    """Compare predictions with gold labels (classes: model classes; unseen gold labels appended)."""
    order = list(classes or [])
    for lab in [*gold, *pred]:
        if lab not in order:
            order.append(lab)
    pos = {c: i for i, c in enumerate(order)}
    k = len(order)
    cm = [[0] * k for _ in range(k)]
    for g, p in zip(gold, pred, strict=True):
        cm[pos[g]][pos[p]] += 1
    n = len(gold)
    correct = sum(cm[i][i] for i in range(k))
    prec: dict[str, float] = {}
    rec: dict[str, float] = {}
    f1: dict[str, float] = {}
    support: dict[str, int] = {}
    for i, c in enumerate(order):
        tp = cm[i][i]
        col = sum(cm[r][i] for r in range(k))
        row = sum(cm[i])
        prec[c] = tp / col if col else 0.0
        rec[c] = tp / row if row else 0.0
        f1[c] = 2 * prec[c] * rec[c] / (prec[c] + rec[c]) if prec[c] + rec[c] else 0.0
        support[c] = row
    # As scikit-learn: average over labels that occur in gold or predictions.
    seen = set(gold) | set(pred)
    present = [c for c in order if c in seen] or order
    macro = sum(f1[c] for c in present) / len(present) if present else 0.0
    return Report(order, correct / n if n else 0.0, macro, prec, rec, f1, support, cm, n)


@dataclass(frozen=True)
class ReliabilityBin:
    """Verdicts whose confidence falls in (lo, hi]: how many, how sure, how often right."""

    lo: float
    hi: float
    count: int
    mean_confidence: float
    accuracy: float


@dataclass(frozen=True)
class Reliability:
    """A reliability table and the expected calibration error (ECE) it adds up to.

    ECE = sum over bins of (share of verdicts) * |accuracy - mean confidence|: 0.03 means the
    stated confidence is off by three points on average, weighted by how often it is stated.
    """

    bins: tuple[ReliabilityBin, ...]
    ece: float
    n: int

    def to_json(self) -> dict[str, Any]:
        return {
            "ece": round(self.ece, 4),
            "bins": [
                {
                    "range": [round(b.lo, 2), round(b.hi, 2)],
                    "count": b.count,
                    "mean_confidence": round(b.mean_confidence, 4),
                    "accuracy": round(b.accuracy, 4),
                }
                for b in self.bins
            ],
        }

    def render(self) -> str:
        lines = [
            f"可靠性 reliability (n={self.n})  期望校准误差 ECE={self.ece:.4f}",
            "置信度区间 bin      count  mean confidence  accuracy",
        ]
        for b in self.bins:
            lines.append(
                f"({b.lo:.1f}, {b.hi:.1f}]      {b.count:6d}  {b.mean_confidence:15.4f}  {b.accuracy:8.4f}"
            )
        return "\n".join(lines)


def reliability(
    confidence: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> Reliability:
    """Equal-width confidence bins over [0, 1] (a confidence of 0 joins the first bin)."""
    n = len(confidence)
    rows: list[ReliabilityBin] = []
    ece = 0.0
    for i in range(bins):
        lo, hi = i / bins, (i + 1) / bins
        members = [
            (c, ok)
            for c, ok in zip(confidence, correct, strict=True)
            if (lo < c <= hi) or (i == 0 and c <= lo)
        ]
        if not members:
            continue
        mean_c = sum(c for c, _ in members) / len(members)
        acc = sum(1 for _, ok in members if ok) / len(members)
        ece += len(members) / n * abs(acc - mean_c)
        rows.append(ReliabilityBin(lo, hi, len(members), mean_c, acc))
    return Reliability(tuple(rows), ece, n)
