"""Labeled CSV files (`label,text`): read them forgivingly, report bad rows by line number."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from domain.classifier.errors import ClassifierError
from domain.classifier.taxonomy import read_text

DATA_DIR = Path(__file__).resolve().parent / "data"
SHIPPED_TRAIN = DATA_DIR / "corpus_train.csv"
SHIPPED_HELDOUT = DATA_DIR / "corpus_heldout.csv"

_LABEL_COLS = ("label", "category", "标签", "类别", "主题", "一级分类")
_TEXT_COLS = ("text", "content", "文本", "内容", "留言", "意见")


@dataclass
class Labeled:
    """Rows that can be used, and one line per row that could not (to show the operator)."""

    examples: list[tuple[str, str]] = field(default_factory=list)  # (label, text)
    problems: list[str] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return [lab for lab, _ in self.examples]

    @property
    def texts(self) -> list[str]:
        return [txt for _, txt in self.examples]


def _column(fields: list[str], names: tuple[str, ...]) -> int | None:
    low = [f.strip().lower().lstrip("\ufeff") for f in fields]
    for name in names:
        if name in low:
            return low.index(name)
    return None


def parse_labeled(text: str, source: str, label_map: dict[str, str] | None = None) -> Labeled:
    """Rows of a `label,text` CSV; label_map (from a taxonomy) maps names/ids to theme ids.

    A missing column is an error (nothing can be read); a bad row is skipped and reported.
    """
    out = Labeled()
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ClassifierError(
            f"{source} 是空文件：需要表头 label,text 和数据行 (empty CSV)"
        ) from None
    except csv.Error as exc:
        raise ClassifierError(f"{source} 第 1 行无法解析 ({exc})，请检查 CSV 格式") from None
    li, ti = _column(header, _LABEL_COLS), _column(header, _TEXT_COLS)
    if li is None or ti is None:
        missing = "label" if li is None else "text"
        raise ClassifierError(
            f"{source} 缺少 {missing} 列：第 1 行应为表头 label,text（当前为 {','.join(header)[:60]}）"
            f" (missing column '{missing}')"
        )
    line = reader.line_num
    while True:
        start = line + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            out.problems.append(f"第 {start} 行: CSV 格式错误 ({exc})，已跳过")
            line = reader.line_num
            continue
        line = reader.line_num
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(li, ti):
            out.problems.append(f"第 {start} 行: 列数不足（需要 label 和 text 两列），已跳过")
            continue
        label, body = row[li].strip(), row[ti].strip()
        if len(row) > len(header) and ti == len(header) - 1:
            # An unquoted comma inside the text: keep the rest of the line as text.
            body = ",".join(row[ti:]).strip()
        if not label:
            out.problems.append(f"第 {start} 行: 缺少标签，已跳过")
            continue
        if not body:
            out.problems.append(f"第 {start} 行: 文本为空，已跳过")
            continue
        if label_map is not None:
            mapped = label_map.get(label)
            if mapped is None:
                out.problems.append(
                    f"第 {start} 行: 标签“{label}”不在分类表中，已跳过（请在分类表中加入该主题或改正标签）"
                )
                continue
            label = mapped
        out.examples.append((label, body))
    return out


def read_labeled(path: Path, label_map: dict[str, str] | None = None) -> Labeled:
    """Read a UTF-8 `label,text` CSV file (see parse_labeled)."""
    return parse_labeled(read_text(path, "数据"), str(path), label_map)
