"""`liaison-bot classify | train | evaluate`: the theme classifier from the command line.

Also runnable alone: `python -m bot.classifier_cli classify 我们小区没有助餐点`. Results go to
stdout, progress and problems to stderr; a problem is one line saying what to do, exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from domain.classifier.errors import ClassifierError

Handler = Callable[[argparse.Namespace], int]


def default_data_dir() -> Path:
    return Path(os.environ.get("DATA_DIR") or "./data")


DEFAULT_THRESHOLD = 0.5  # domain.classifier.DEFAULT_THRESHOLD (not imported: keeps --help fast)


def default_threshold() -> float:
    raw = os.environ.get("REVIEW_THRESHOLD")
    try:
        return float(raw) if raw else DEFAULT_THRESHOLD
    except ValueError:
        return DEFAULT_THRESHOLD


def active_model(data_dir: Path) -> Path | None:
    """$MODEL_DIR, else `<data-dir>/model` when a trained model is there, else None (packaged)."""
    env = os.environ.get("MODEL_DIR")
    if env:
        return Path(env)
    folder = data_dir / "model"
    return folder if (folder / "model.json").is_file() else None


def _err(msg: str) -> int:
    print(msg, file=sys.stderr)
    return 2


def _guard(func: Handler) -> Handler:
    """Turn expected problems into one line on stderr and exit code 2 (never a traceback)."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except ClassifierError as exc:
            return _err(f"错误: {exc}")
        except BrokenPipeError:  # `... | head`
            sys.stderr.close()
            return 0
        except MemoryError:
            return _err("错误: 内存不足，请减少数据量后再试 (out of memory)")

    run.__name__ = func.__name__
    run.__doc__ = func.__doc__
    return run


def _load(args: argparse.Namespace) -> Any:
    from domain.classifier import ThemeClassifier, init_jieba

    data_dir: Path = args.data_dir
    init_jieba(data_dir)
    model = args.model if args.model is not None else active_model(data_dir)
    return ThemeClassifier.load(model, threshold=args.threshold, cache_dir=data_dir)


def _read_stdin_lines(stream: TextIO) -> list[str]:
    try:
        return [line.rstrip("\r\n") for line in stream if line.strip()]
    except UnicodeDecodeError:
        raise ClassifierError(
            "标准输入不是 UTF-8 编码，请转换为 UTF-8 后再试 (stdin is not UTF-8)"
        ) from None


@_guard
def cmd_classify(args: argparse.Namespace) -> int:
    """Classify texts given as arguments, or one per line on stdin."""
    texts: list[str] = list(args.texts) or _read_stdin_lines(sys.stdin)
    clf = _load(args)
    for text, v in zip(texts, clf.classify_many(texts), strict=True):
        if args.json:
            row = {
                "text": text,
                "category": v.category,
                "label": v.label,
                "confidence": round(v.confidence, 4),
                "terms": list(v.terms),
                "needs_review": v.needs_review,
                "out_of_scope": v.out_of_scope,
            }
            print(json.dumps(row, ensure_ascii=False))
        else:
            flag = "  [需复核 needs review]" if v.needs_review else ""
            terms = "、".join(v.terms) or "—"
            print(f"{v.label} ({v.category}) {v.confidence:.2f} 依据: {terms}{flag}\t{text[:60]}")
    return 0


TRAIN_EXTRA = ("sklearn", "scipy", "threadpoolctl")
TRAIN_HINT = (
    "训练需要额外的依赖，请先安装：pip install 'liaison-bot[train]'"
    "（training needs the [train] extra: scikit-learn, scipy）"
)


def training_available() -> bool:
    """Whether the [train] extra is installed (a plain install only classifies)."""
    import importlib

    try:
        for name in TRAIN_EXTRA:
            importlib.import_module(name)
    except ImportError:
        return False
    return True


@_guard
def cmd_train(args: argparse.Namespace) -> int:
    """Train a model from a CSV (--data … --out …) or retrain the active model."""
    if not training_available():
        print(TRAIN_HINT, file=sys.stderr)
        return 2
    from domain.classifier.training import stderr_progress

    if args.data is None:
        from domain.classifier.training import retrain_active

        extra: list[tuple[str, str]] = list(getattr(args, "extra_examples", None) or [])
        if args.extra is not None:
            extra += _read_csv(args.extra, None).examples
        target: Path = args.out or args.data_dir / "model"
        report = retrain_active(extra, target, stderr_progress, force=args.force)
        print(report.render())
        return 0 if report.replaced else 1
    if args.out is None:
        return _err("错误: 请用 --out DIR 指定新模型的输出目录 (train --data needs --out)")
    from domain.classifier.taxonomy import label_index, load_taxonomy
    from domain.classifier.training import train_model

    themes = load_taxonomy(args.taxonomy) if args.taxonomy is not None else None
    data = _read_csv(args.data, label_index(themes) if themes else None)
    if not data.examples:
        return _err(f"错误: {args.data} 没有可用的数据行，请检查文件内容 (no usable rows)")
    config = None
    if args.lead or args.term_weights:
        from dataclasses import replace

        from domain.classifier.training import TrainConfig, with_spec

        config = replace(
            with_spec(TrainConfig(), lead=args.lead), term_weights=bool(args.term_weights)
        )
    result = train_model(data.examples, themes, config, progress=stderr_progress)
    for p in result.problems:
        print(p, file=sys.stderr)
    out: Path = args.out
    _save_atomically(result.model, out)
    cv = result.cv
    summary = f"模型已保存到 {out}（{result.n_examples} 条样本，{len(result.model.classes)} 类，用时 {result.seconds:.1f} 秒）"
    if cv is not None:
        method = cv.extra.get("method", "CV")
        summary += f"\n交叉验证 {method}: accuracy {cv.accuracy:.4f}, macro-F1 {cv.macro_f1:.4f}"
    print(summary)
    return 0


def _save_atomically(model: Any, out: Path) -> None:
    import tempfile

    from domain.classifier.training import replace_dir

    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise ClassifierError(f"{out} 已存在且不是目录，请换一个 --out (output is a file)")
    if out.is_dir() and any(out.iterdir()) and not (out / "model.json").is_file():
        raise ClassifierError(
            f"{out} 不是空目录也不是模型目录，请换一个 --out (refusing to overwrite)"
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
        tmp.chmod(0o755)  # mkdtemp makes it private; the bot may run as another user
        model.save(tmp)
        replace_dir(tmp, out)
        prev = out.with_name(out.name + ".prev")
        if prev.is_dir():
            import shutil

            shutil.rmtree(prev, ignore_errors=True)
    except OSError as exc:
        raise ClassifierError(f"无法写入 {out}: {exc.strerror}，请检查目录权限") from None


def _read_csv(path: Path, label_map: dict[str, str] | None) -> Any:
    from domain.classifier.corpus import read_labeled

    data = read_labeled(path, label_map)
    for p in data.problems[:50]:
        print(f"{path}: {p}", file=sys.stderr)
    if len(data.problems) > 50:
        print(f"{path}: ……另有 {len(data.problems) - 50} 行有问题", file=sys.stderr)
    if data.problems:
        print(
            f"{path}: 共 {len(data.problems)} 行未采用，{len(data.examples)} 行可用",
            file=sys.stderr,
        )
    return data


@_guard
def cmd_evaluate(args: argparse.Namespace) -> int:
    """Accuracy, macro-F1, per-class precision/recall and the confusion matrix on a CSV."""
    from domain.classifier.corpus import read_labeled
    from domain.classifier.training import evaluate, map_labels

    clf = _load(args)
    data = map_labels(clf, read_labeled(args.data))
    for p in data.problems[:50]:
        print(f"{args.data}: {p}", file=sys.stderr)
    if not data.examples:
        return _err(
            f"错误: {args.data} 中没有此模型认识的标签行，无法评估 (no rows with known labels)"
        )
    report = evaluate(clf, data.examples)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        print(report.render({t.id: t.name for t in clf.themes}))
        share = report.extra.get("needs_review_share")
        if share is not None:
            print(
                f"\n需复核比例 needs_review {share:.2%}；未标复核的准确率 "
                f"{report.extra.get('accuracy_not_flagged')}"
            )
        oos = report.extra.get("out_of_scope_marked")
        if oos is not None:
            print(
                f"非本专题意见被判为非本专题或需复核 {oos:.2%}；"
                f"本专题意见被如此标记 {report.extra.get('in_scope_marked', 0):.2%}"
            )

    return 0


def _data_dir_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        type=Path,
        default=default_data_dir(),
        help="data folder: jieba cache and the active model (default: $DATA_DIR or ./data)",
    )


def _model_args(p: argparse.ArgumentParser) -> None:
    _data_dir_arg(p)
    p.add_argument(
        "--model",
        type=Path,
        help="trained model directory (default: $MODEL_DIR, else <data-dir>/model, else packaged)",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=default_threshold(),
        help="calibrated probability under which needs_review is set "
        "(default: $REVIEW_THRESHOLD or 0.5)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add classify, train and evaluate to the `liaison-bot` command."""
    c = subparsers.add_parser("classify", help="sort texts into themes (arguments or stdin lines)")
    c.add_argument("texts", nargs="*", help="texts to classify; none: read one per line from stdin")
    c.add_argument("--json", action="store_true", help="one JSON object per line")
    _model_args(c)
    c.set_defaults(func=cmd_classify)

    t = subparsers.add_parser(
        "train", help="train a model from a label,text CSV, or retrain the active model"
    )
    t.add_argument("--data", type=Path, help="UTF-8 CSV with header label,text (any labels)")
    t.add_argument("--taxonomy", type=Path, help="taxonomy file (JSON or CSV id,name,keywords)")
    t.add_argument("--out", type=Path, help="output model directory")
    t.add_argument("--extra", type=Path, help="(no --data) extra label,text examples to add")
    t.add_argument("--force", action="store_true", help="replace the active model even if worse")
    t.add_argument(
        "--lead",
        type=int,
        default=0,
        choices=range(0, 5),
        metavar="N",
        help="(with --data) the first sentence counts N times more: for messages that start with "
        "a title, as 留言主题 + 留言详情 (2 is measured; 0, the default, for chat-style opinions)",
    )
    t.add_argument(
        "--term-weights",
        action="store_true",
        help="(with --data) weight each word or n-gram by how few classes it occurs in before "
        "fitting (long messages, many classes: +0.6 to +1.0 macro-F1 on government messages)",
    )
    _data_dir_arg(t)
    t.set_defaults(func=cmd_train)

    e = subparsers.add_parser(
        "evaluate", help="accuracy, macro-F1, per-class P/R, confusion matrix"
    )
    e.add_argument("--data", type=Path, required=True, help="UTF-8 CSV with header label,text")
    e.add_argument("--json", action="store_true", help="print the report as JSON")
    _model_args(e)
    e.set_defaults(func=cmd_evaluate)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="liaison-bot", description="主题分类 theme classifier")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
