"""Training (scikit-learn, imported only here), evaluation, and safe replacement of the active model.

The trained estimator is reduced to a weight matrix and a bias: inference never needs
scikit-learn. Confidence is calibrated on cross-validated scores (a temperature for the themes,
a logistic map for in scope or not), so a confidence of 0.8 is right about 80 % of the time.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from domain.classifier import metrics
from domain.classifier.corpus import SHIPPED_HELDOUT, SHIPPED_TRAIN, Labeled, read_labeled
from domain.classifier.errors import ClassifierError
from domain.classifier.features import Extracted, FeatureSpec
from domain.classifier.model import ModelData, ThemeClassifier, probabilities_of
from domain.classifier.taxonomy import OTHER_ID, label_index, load_taxonomy
from domain.classifier.types import Theme
from domain.classifier.vectorize import extract_all, fit_vocabulary, transform

Progress = Callable[[str], None]


def stderr_progress(msg: str) -> None:
    """Default progress sink: one line per step on stderr (stdout stays for results)."""
    print(msg, file=sys.stderr, flush=True)


def no_progress(msg: str) -> None:
    """Silence progress."""


@dataclass(frozen=True)
class TrainConfig:
    """Choices measured by cross-validation on the shipped corpus (see docs/classifier-figures.md)."""

    spec: FeatureSpec = field(default_factory=FeatureSpec)
    min_df_word: int = 1
    min_df_char: int = 2
    c_lr: float = 20.0  # inverse regularisation of the logistic regression
    c_svm: float = 0.5  # of the linear SVM; 0 disables it
    svm_share: float = 1.0  # ensemble weight of the SVM scores (rescaled to the LR's spread)
    keyword_weight: float = 1.0  # sample weight of each taxonomy keyword as a pseudo-document
    scope_keyword_weight: float = 0.0  # the same, in the scope model (in scope against other)
    balanced: bool = True  # weight classes inversely to their size (macro-F1 on uneven data)
    solver: str = "liblinear"  # the SVM: "liblinear" (LinearSVC) or "sgd" (averaged SGD, faster)
    svm_tol: float = 1e-2  # same accuracy as 1e-4 here (CV), a third of the time
    folds: int = 5  # for calibration and the CV estimate
    large_n: int = 3000  # above this, one 80/20 split instead of folds
    seed: int = 20240601
    # Supervised term weights: each feature's column scaled by 0.5 + (1 - the normalised entropy
    # of its document frequency over the classes) before fitting, folded back into the weights
    # (inference unchanged). +0.6 to +1.0 macro-F1 on the 泰迪杯 messages (5 / 10 splits).
    term_weights: bool = False


@dataclass
class TrainResult:
    model: ModelData
    cv: metrics.Report | None
    seconds: float
    n_examples: int
    problems: list[str] = field(default_factory=list)


TERM_BASE = 0.5  # every feature keeps this much of its weight (0.2 and 1 measured: not better)
TERM_SMOOTH = 0.01  # added to each class's document-frequency share before the entropy


def term_weights(
    x: Any, y: np.ndarray[Any, Any], k: int, w: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """Per feature: TERM_BASE + 1 - H/log k, H the entropy of its classes (by df share).

    A feature seen in one class only gets about 1.5, one spread over every class alike 0.5:
    the SVM's regularisation then costs less on the features that tell classes apart. Computed
    on the training rows only (sample weights count); classes are 0..k-1.
    """
    from scipy import sparse

    n = x.shape[0]
    seen = sparse.csr_matrix(x, copy=True)
    seen.data = (seen.data != 0).astype(np.float64)
    onehot = sparse.csr_matrix((np.asarray(w, dtype=np.float64), (np.arange(n), y)), shape=(n, k))
    df = np.asarray((seen.T @ onehot).todense())
    size = np.asarray(onehot.sum(axis=0)).ravel()
    share = df / np.maximum(size, 1e-12) + TERM_SMOOTH
    p = share / share.sum(axis=1, keepdims=True)
    h = -(p * np.log(p)).sum(axis=1) / math.log(k)
    out: np.ndarray[Any, Any] = TERM_BASE + 1.0 - h
    return out


def _fit_linear(
    x: Any, y: np.ndarray[Any, Any], k: int, w: np.ndarray[Any, Any], cfg: TrainConfig
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Fit LR (+ optional SVM) and return one (features x classes) weight matrix and bias.

    With term weights the columns are scaled before the fit and the scale is folded into the
    returned weights, so a model scores raw feature values as always.
    """
    if not cfg.term_weights:
        return _fit_scaled(x, y, k, w, cfg)
    from scipy import sparse

    tw = term_weights(x, y, k, w)
    weights, bias = _fit_scaled(x @ sparse.diags(tw), y, k, w, cfg)
    return weights * tw[:, None], bias


def _fit_scaled(
    x: Any, y: np.ndarray[Any, Any], k: int, w: np.ndarray[Any, Any], cfg: TrainConfig
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """_fit_linear on columns as given."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    def full(
        coef: np.ndarray[Any, Any], icpt: np.ndarray[Any, Any]
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        if coef.shape[0] == 1 and k == 2:  # binary: sklearn keeps only the positive class
            return np.vstack([np.zeros_like(coef[0]), coef[0]]).T, np.array([0.0, icpt[0]])
        return coef.T.copy(), icpt.copy()

    cw = "balanced" if cfg.balanced else None
    if cfg.svm_share < 1:
        lr = LogisticRegression(C=cfg.c_lr, max_iter=3000, tol=1e-4, class_weight=cw)
        lr.fit(x, y, sample_weight=w)
        weights, bias = full(lr.coef_, lr.intercept_)
    if cfg.c_svm > 0 and cfg.svm_share > 0:
        if cfg.solver == "sgd":
            from sklearn.linear_model import SGDClassifier

            svm = SGDClassifier(
                loss="hinge",
                alpha=1.0 / (cfg.c_svm * x.shape[0]),
                max_iter=20,
                tol=None,
                average=True,
                class_weight=cw,
                random_state=0,
            )
        else:
            svm = LinearSVC(
                C=cfg.c_svm, tol=cfg.svm_tol, max_iter=5000, class_weight=cw, random_state=0
            )
        svm.fit(x, y, sample_weight=w)
        sw, sb = full(svm.coef_, svm.intercept_)
        if k == 2:
            sw, sb = sw - sw.mean(axis=1, keepdims=True), sb - sb.mean()
        if cfg.svm_share >= 1:
            return sw, sb
        # Put both on the same scale before mixing: the spread of their training scores.
        s_lr = float(np.std(x @ weights + bias)) or 1.0
        s_svm = float(np.std(x @ sw + sb)) or 1.0
        a = cfg.svm_share
        weights = (1 - a) * weights + a * sw * (s_lr / s_svm)
        bias = (1 - a) * bias + a * sb * (s_lr / s_svm)
    return weights, bias


def _temperature(scores: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> float:
    """The softmax temperature that minimises the log-loss of out-of-fold scores."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        z = scores * math.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(y)), y].mean())

    res = minimize_scalar(nll, bounds=(-5.0, 5.0), method="bounded")
    return float(math.exp(res.x))


def train_model(
    examples: Sequence[tuple[str, str]],
    themes: Sequence[Theme] | None = None,
    config: TrainConfig | None = None,
    progress: Progress = stderr_progress,
    meta: dict[str, Any] | None = None,
) -> TrainResult:
    """Train on (label, text) pairs; with themes, labels are theme ids and keywords join in.

    Without themes the classes are the labels exactly as written (a station's own taxonomy).
    One BLAS thread: faster than several for these small sparse problems, and the budget is
    stated for one core.
    """
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    with threadpool_limits(limits=1):
        return _train_model(examples, themes, config, progress, meta)


def _train_model(
    examples: Sequence[tuple[str, str]],
    themes: Sequence[Theme] | None,
    config: TrainConfig | None,
    progress: Progress,
    meta: dict[str, Any] | None,
) -> TrainResult:
    cfg = config or TrainConfig()
    started = time.perf_counter()
    counts = Counter(lab for lab, _ in examples)
    problems: list[str] = []
    if themes:
        classes = [t.id for t in themes if counts[t.id] > 0 or t.keywords]
        for t in themes:
            if counts[t.id] == 0 and t.out_of_scope:
                problems.append(
                    f"没有“{t.name}”的样本：模型只把无法识别的文本判为{t.name}，"
                    "如需识别本专题以外的意见，请在数据中加入标为 other 的样本"
                )
            elif counts[t.id] == 0:
                problems.append(
                    f"主题 {t.id}（{t.name}）没有训练样本，"
                    + ("只能靠关键词识别" if t.keywords else "已略去：请为它补充样本或关键词")
                )
    else:
        classes = list(dict.fromkeys(lab for lab, _ in examples))
    if len(classes) < 2 or sum(1 for c in classes if counts[c] > 0) < 1:
        raise ClassifierError(
            f"至少需要 2 个类别的样本才能训练（现有 {len(classes)} 个），请检查 label 列 "
            "(need examples of at least two labels)"
        )
    # Out-of-scope examples present: a two-stage model (themes, then in scope or not), with
    # the out-of-scope class last. Taxonomy keywords never teach the scope model: words such
    # as 收费 or 电梯 are theme evidence, yet occur just as much in other matters.
    other_id = next((t.id for t in themes or () if t.out_of_scope), None)
    if other_id is None and not themes and OTHER_ID in classes:
        other_id = OTHER_ID
    scoped = other_id is not None and counts[other_id] > 0 and other_id in classes
    if scoped:
        classes = [c for c in classes if c != other_id] + [str(other_id)]
        if len(classes) < 3:
            raise ClassifierError(
                "除“其他（非本专题）”外至少需要 2 个主题的样本才能训练 "
                "(need examples of at least two themes besides other)"
            )
    pos = {c: i for i, c in enumerate(classes)}
    rows = [(lab, txt) for lab, txt in examples if lab in pos]
    texts = [txt for _, txt in rows]
    y = np.array([pos[lab] for lab, _ in rows], dtype=np.int64)
    weight = np.ones(len(rows))
    kw_theme = {t.id: t for t in themes or ()}
    if cfg.keyword_weight > 0 and themes:
        for c in classes:
            for kw in kw_theme[c].keywords:
                texts.append(kw)
                y = np.append(y, pos[c])
                weight = np.append(weight, cfg.keyword_weight)
    n_real = len(rows)
    progress(f"分词与特征 segmenting {len(texts)} texts ({n_real} examples) …")
    docs = extract_all(
        texts, cfg.spec, lambda i, n: progress(f"  分词 segmented {i}/{n}") if n >= 2000 else None
    )
    vocab = fit_vocabulary(docs, cfg.min_df_word, cfg.min_df_char)
    x = transform(docs, vocab, cfg.spec)
    progress(
        f"词表 vocabulary: {len(vocab.words)} words/pairs + {len(vocab.chars)} char n-grams; "
        f"training on {x.shape[0]} rows …"
    )
    fit = _Fit(x, y, weight, len(classes), n_real, scoped, cfg)
    cv_report, temperature, scope = _cross_validate(fit, classes, progress)
    progress("拟合最终模型 fitting the final model …")
    w, b = fit.fit(np.arange(x.shape[0]))
    model = ModelData(
        classes=classes,
        themes=(
            tuple(kw_theme[c] for c in classes)
            + tuple(t for t in themes if t.out_of_scope and t.id not in pos)
            if themes
            else ()
        ),
        spec=cfg.spec,
        word_vocab=vocab.words,
        char_codes=vocab.chars,
        idf=vocab.idf,
        weights=w.astype(np.float32),
        bias=b.astype(np.float32),
        temperature=temperature,
        scope=scope if scoped else None,
        meta={
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "examples": n_real,
            "per_class": {c: counts[c] for c in classes},
            "config": {k: v for k, v in asdict(cfg).items() if k != "spec"},
            **({"cv": cv_report.to_json()} if cv_report else {}),
            **(meta or {}),
        },
    )
    seconds = time.perf_counter() - started
    progress(f"训练完成 trained in {seconds:.1f} s")
    return TrainResult(model, cv_report, seconds, n_real, problems)


@dataclass
class _Fit:
    """The rows of one training run and how a model is fitted on a subset of them.

    Rows past n_real are taxonomy keywords (pseudo-documents). Flat: one linear model over all
    classes. Scoped: a theme model on in-scope rows (keywords included) and a scope model, in
    scope against out, on the real rows only; its score (in minus out) is the last column.
    """

    x: Any
    y: np.ndarray[Any, Any]
    weight: np.ndarray[Any, Any]
    k: int
    n_real: int
    scoped: bool
    cfg: TrainConfig

    def fit(self, idx: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        x, y, w = self.x[idx], self.y[idx], self.weight[idx]
        if not self.scoped:
            return _fit_present(x, y, self.k, w, self.cfg)
        o = self.k - 1
        theme = y != o
        wt, bt = _fit_present(x[theme], y[theme], o, w[theme], self.cfg)
        real = idx < self.n_real
        inside = (y[real] != o).astype(np.int64)
        if inside.min() == inside.max():  # a part without both kinds: no scope evidence
            return np.column_stack([wt, np.zeros(x.shape[1])]), np.append(bt, 10.0)
        if self.cfg.scope_keyword_weight > 0:
            real = np.ones(len(idx), dtype=bool)
            inside = (y != o).astype(np.int64)
            w = np.where(idx < self.n_real, w, w * self.cfg.scope_keyword_weight)
        ws, bs = _fit_linear(x[real], inside, 2, w[real], self.cfg)
        return np.column_stack([wt, ws[:, 1] - ws[:, 0]]), np.append(bt, bs[1] - bs[0])


def _fit_present(
    x: Any, y: np.ndarray[Any, Any], k: int, w: np.ndarray[Any, Any], cfg: TrainConfig
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """_fit_linear, where a class missing from this part gets weights that never win."""
    present = np.unique(y)
    if len(present) == k:
        return _fit_linear(x, y, k, w, cfg)
    sub_w, sub_b = _fit_linear(x, np.searchsorted(present, y), len(present), w, cfg)
    full_w = np.zeros((x.shape[1], k))
    full_b = np.full(k, -1e3)
    full_w[:, present], full_b[present] = sub_w, sub_b
    return full_w, full_b


def _platt(scores: np.ndarray[Any, Any], inside: np.ndarray[Any, Any]) -> tuple[float, float]:
    """Logistic calibration a * score + b of the scope score on out-of-fold scores."""
    from scipy.optimize import minimize

    t = inside.astype(np.float64)

    def nll(p: np.ndarray[Any, Any]) -> float:
        z = p[0] * scores + p[1]
        return float(np.mean(np.logaddexp(0, -z) * t + np.logaddexp(0, z) * (1 - t)))

    res = minimize(nll, np.array([1.0, 0.0]), method="Nelder-Mead")
    return float(res.x[0]), float(res.x[1])


def _cross_validate(
    fit: _Fit, classes: list[str], progress: Progress
) -> tuple[metrics.Report | None, float, tuple[float, float] | None]:
    """Out-of-fold scores of the real examples: a CV estimate and the calibration.

    Calibration: a softmax temperature for the themes and, for a scoped model, a logistic
    (Platt) map of the scope score, both fitted on out-of-fold scores, so the confidence of a
    verdict is a probability (reliability and ECE in the report). The vocabulary is shared by
    all folds (a small optimism, much faster than re-segmenting). Keyword pseudo-documents are
    always in the training part.
    """
    y, k, n_real, cfg = fit.y, fit.k, fit.n_real, fit.cfg
    per_class = np.bincount(y[:n_real], minlength=k)
    folds = min(cfg.folds, int(per_class[per_class > 0].min()))
    if folds < 2:
        progress("样本太少，跳过交叉验证与置信度校准 (too few examples to cross-validate)")
        return None, 1.0, (1.0, 0.0)
    from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

    if n_real > cfg.large_n:
        # Plenty of data: one 80/20 split gives enough scores and keeps training within budget.
        splits: Any = StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=cfg.seed)
        what = "held-out 20%"
    else:
        splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=cfg.seed)
        what = f"{folds}-fold CV"
    scores = np.zeros((n_real, k))
    scored = np.zeros(n_real, dtype=bool)
    extra = np.arange(n_real, fit.x.shape[0])
    for i, (tr, te) in enumerate(splits.split(np.zeros(n_real), y[:n_real])):
        progress(f"交叉验证 {what}: fit {i + 1} …")
        w, b = fit.fit(np.concatenate([tr, extra]))
        scores[te] = fit.x[te] @ w + b
        scored[te] = True
    scores, gold = scores[scored], y[:n_real][scored]
    scope: tuple[float, float] | None = None
    if fit.scoped:
        inside = gold != k - 1
        temperature = _temperature(scores[inside][:, :-1], gold[inside])
        scope = _platt(scores[:, -1], inside)
    else:
        temperature = _temperature(scores, gold)
    proba = probabilities_of(scores, temperature, scope)
    pred = proba.argmax(axis=1)
    report = metrics.score([classes[i] for i in gold], [classes[i] for i in pred], classes)
    rel = metrics.reliability(proba.max(axis=1).tolist(), (pred == gold).tolist())
    report.extra = {"method": what, "ece": round(rel.ece, 4)}
    progress(
        f"交叉验证 {what}: accuracy {report.accuracy:.4f}, macro-F1 {report.macro_f1:.4f}; "
        f"temperature {temperature:.3f}"
        + (f", scope {scope[0]:.2f}·s{scope[1]:+.2f}" if scope else "")
        + f"; ECE {rel.ece:.4f}"
    )
    return report, temperature, scope


def evaluate(
    clf: ThemeClassifier, examples: Sequence[tuple[str, str]], review: bool = True
) -> metrics.Report:
    """Score a classifier on labeled examples (labels are class ids of that classifier)."""
    verdicts = clf.classify_many([t for _, t in examples])
    report = metrics.score(
        [lab for lab, _ in examples], [v.category for v in verdicts], clf.classes
    )
    ok = [v.category == lab for v, (lab, _) in zip(verdicts, examples, strict=True)]
    report.reliability = metrics.reliability([v.confidence for v in verdicts], ok)
    report.extra = {"ece": round(report.reliability.ece, 4)}
    if review:
        flagged = [v.needs_review for v in verdicts]
        auto = [o for o, f in zip(ok, flagged, strict=True) if not f]
        report.extra |= {
            "needs_review_share": round(sum(flagged) / len(flagged), 4) if flagged else 0.0,
            "accuracy_not_flagged": round(sum(auto) / len(auto), 4) if auto else None,
        }
        other = next((t.id for t in clf.themes if t.out_of_scope), None)
        gold_in = [lab != other for lab, _ in examples]
        marked = [v.out_of_scope or v.needs_review for v in verdicts]
        n_in = sum(gold_in)
        if other is not None and n_in < len(examples):
            report.extra |= {
                "out_of_scope_marked": round(
                    sum(m for m, g in zip(marked, gold_in, strict=True) if not g)
                    / (len(examples) - n_in),
                    4,
                ),
                "in_scope_marked": round(
                    sum(m for m, g in zip(marked, gold_in, strict=True) if g) / n_in, 4
                )
                if n_in
                else None,
            }
    return report


def map_labels(clf: ThemeClassifier, data: Labeled) -> Labeled:
    """Map theme names to ids for this model; rows with labels it does not know are reported."""
    index = label_index(clf.themes)
    out = Labeled(problems=list(data.problems))
    unknown: Counter[str] = Counter()
    for lab, txt in data.examples:
        cid = index.get(lab)
        if cid is None:
            unknown[lab] += 1
        else:
            out.examples.append((cid, txt))
    for lab, n in unknown.items():
        out.problems.append(f"标签“{lab}”（{n} 行）不是此模型的类别，未计入评估")
    return out


# -- the active model ----------------------------------------------------------------------------


@dataclass
class RetrainReport:
    """What `liaison-bot train` shows before (and whether) it replaced the active model."""

    old: metrics.Report | None
    new: metrics.Report
    replaced: bool
    reason: str
    model_dir: Path
    n_train: int
    n_extra: int
    skipped: list[str]
    seconds: float
    names: dict[str, str] = field(default_factory=dict)

    @property
    def delta_accuracy(self) -> float | None:
        return None if self.old is None else self.new.accuracy - self.old.accuracy

    def render(self) -> str:
        lines = [
            f"训练样本 {self.n_train} 条（其中人工更正 {self.n_extra} 条），用时 {self.seconds:.1f} 秒",
        ]
        if self.old is not None:
            lines.append(
                f"留出集 held-out ({self.new.n} 条): accuracy {self.old.accuracy:.4f} → "
                f"{self.new.accuracy:.4f} ({self.new.accuracy - self.old.accuracy:+.4f}), macro-F1 "
                f"{self.old.macro_f1:.4f} → {self.new.macro_f1:.4f} "
                f"({self.new.macro_f1 - self.old.macro_f1:+.4f})"
            )
            lines.append(
                "各类召回 recall: "
                + ", ".join(
                    f"{self.names.get(c, c)} {self.old.recall.get(c, 0):.2f}→{self.new.recall[c]:.2f}"
                    for c in self.new.classes
                )
            )
        else:
            lines.append(
                f"留出集 held-out ({self.new.n} 条): accuracy {self.new.accuracy:.4f}, "
                f"macro-F1 {self.new.macro_f1:.4f}"
            )
        lines.extend(self.skipped[:20])
        if len(self.skipped) > 20:
            lines.append(f"……另有 {len(self.skipped) - 20} 条未采用")
        lines.append(self.reason)
        return "\n".join(lines)


def shipped_corpus(
    train: Path = SHIPPED_TRAIN, heldout: Path = SHIPPED_HELDOUT
) -> tuple[Labeled, Labeled]:
    """The labeled corpus the project ships (training part and held-out part), as theme ids."""
    index = label_index(load_taxonomy())
    for path in (train, heldout):
        if not path.is_file():
            raise ClassifierError(f"找不到随程序发布的语料 {path}，请重新安装 liaison-bot")
    return read_labeled(train, index), read_labeled(heldout, index)


def replace_dir(new: Path, target: Path) -> Path | None:
    """Put `new` at `target` by rename; the previous target is kept as `<target>.prev`.

    Both renames stay inside one folder, so a reader sees the old model or the new one,
    never a half-written directory.
    """
    backup = target.with_name(target.name + ".prev")
    moved: Path | None = None
    if target.exists():
        if backup.exists():
            shutil.rmtree(backup)
        os.replace(target, backup)
        moved = backup
    os.replace(new, target)
    return moved


def retrain_active(
    extra_examples: list[tuple[str, str]],
    model_dir: Path,
    progress: Progress = stderr_progress,
    *,
    force: bool = False,
    config: TrainConfig | None = None,
    train_csv: Path = SHIPPED_TRAIN,
    heldout_csv: Path = SHIPPED_HELDOUT,
) -> RetrainReport:
    """Train on the shipped corpus plus staff corrections; replace `model_dir` if not worse.

    extra_examples are (label, text) with label a theme id or Chinese name of the default
    taxonomy. The old active model is `model_dir` if it holds a model, else the packaged one.
    The new model replaces it only when its held-out accuracy is not lower, unless force.
    """
    started = time.perf_counter()
    themes = load_taxonomy()
    index = label_index(themes)
    train, heldout = shipped_corpus(train_csv, heldout_csv)
    skipped = [f"语料 {train_csv.name} {p}" for p in train.problems]
    extra: list[tuple[str, str]] = []
    for i, (lab, txt) in enumerate(extra_examples, start=1):
        cid = index.get((lab or "").strip())
        if cid is None:
            skipped.append(f"更正第 {i} 条: 标签“{lab}”不在分类表中，未采用")
        elif not (txt or "").strip():
            skipped.append(f"更正第 {i} 条: 文本为空，未采用")
        else:
            extra.append((cid, txt.strip()))
    examples = train.examples + extra
    progress(f"训练 training on {len(train.examples)} corpus examples + {len(extra)} corrections")
    result = train_model(examples, themes, config, progress, meta={"corrections": len(extra)})
    new_clf = ThemeClassifier(result.model)
    progress("在留出集上比较新旧模型 evaluating old and new models on the held-out set …")
    new_report = evaluate(new_clf, heldout.examples)
    old_report: metrics.Report | None = None
    has_old = (model_dir / "model.json").is_file()
    try:
        old_clf = ThemeClassifier.load(model_dir if has_old else None)
        if set(old_clf.classes) == set(new_clf.classes):
            old_report = evaluate(old_clf, heldout.examples)
    except ClassifierError as exc:
        progress(f"旧模型无法加载，直接替换 (old model unreadable: {exc})")
    worse = old_report is not None and new_report.accuracy < old_report.accuracy
    names = {t.id: t.name for t in themes}
    if worse and not force:
        reason = (
            f"新模型在留出集上更差，未替换 {model_dir}；如确需替换请加 --force "
            "(new model is worse on the held-out set; not replaced)"
        )
        replaced = False
    else:
        model_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{model_dir.name}.new-", dir=model_dir.parent))
        tmp.chmod(0o755)  # mkdtemp makes it private; the bot may run as another user
        result.model.save(tmp)
        replace_dir(tmp, model_dir)
        replaced = True
        reason = f"已替换当前模型 active model replaced: {model_dir}"
        if worse:
            reason += "（--force：新模型在留出集上更差）"
    return RetrainReport(
        old=old_report,
        new=new_report,
        replaced=replaced,
        reason=reason,
        model_dir=model_dir,
        n_train=len(examples),
        n_extra=len(extra),
        skipped=skipped,
        seconds=time.perf_counter() - started,
        names=names,
    )


def with_spec(cfg: TrainConfig, **changes: Any) -> TrainConfig:
    """A config with some feature settings changed (for experiments and benchmarks)."""
    return replace(cfg, spec=replace(cfg.spec, **changes))


__all__ = [
    "Extracted",
    "RetrainReport",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "map_labels",
    "retrain_active",
    "shipped_corpus",
    "stderr_progress",
    "train_model",
]


def source_digests() -> dict[str, str]:
    """sha256 of the files the packaged model is built from (a test compares them)."""
    import hashlib

    from domain.classifier.segment import USER_DICT
    from domain.classifier.taxonomy import DEFAULT_TAXONOMY

    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (SHIPPED_TRAIN, DEFAULT_TAXONOMY, USER_DICT)
    }


def build_default_model(out: Path | None = None, progress: Progress = stderr_progress) -> Path:
    """(Re)build the packaged model from the shipped training corpus: `python -m ...training`.

    Trained on corpus_train.csv only, so the held-out comparison of `liaison-bot train` is fair.
    """
    from domain.classifier.model import DEFAULT_MODEL_DIR

    target = out or DEFAULT_MODEL_DIR
    train, heldout = shipped_corpus()
    result = train_model(train.examples, load_taxonomy(), progress=progress)
    report = evaluate(ThemeClassifier(result.model), heldout.examples)
    assert result.model.meta is not None
    result.model.meta["heldout"] = {
        "n": report.n,
        "accuracy": round(report.accuracy, 4),
        "macro_f1": round(report.macro_f1, 4),
    }
    result.model.meta["sources"] = source_digests()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    tmp.chmod(0o755)
    result.model.save(tmp)
    replace_dir(tmp, target)
    shutil.rmtree(target.with_name(target.name + ".prev"), ignore_errors=True)
    progress(f"held-out accuracy {report.accuracy:.4f}, macro-F1 {report.macro_f1:.4f} -> {target}")
    return target


if __name__ == "__main__":
    from domain.classifier.segment import init_jieba

    init_jieba(Path(tempfile.gettempdir()))
    build_default_model(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
