"""Rebuild bench/gov7.py's CSVs from the 泰迪杯 2020 C 题 spreadsheets (kept outside the repo).

    python bench/gov7_data.py RESULTS.xlsx SAMPLE.xlsx OUT_DIR

RESULTS.xlsx: 结果数据/分类结果.xlsx of the public repository Syucryingstar/NLP_tipdm (921
messages of 附件2 with their 一级标签; its model's column is ignored) -> OUT_DIR/gov7.csv.
SAMPLE.xlsx: 示例数据/2.xlsx of the same repository (a 495-row sample of 附件2, 一级分类)
-> OUT_DIR/gov7_extra.csv, without the messages (by 留言编号) RESULTS already has. Each row is
label, 留言主题 + "。" + 留言详情, runs of whitespace folded to one space. The data has no
licence to ship, so only this recipe is in the repository.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

Row = tuple[str, str, str]  # id, label, text


def read(path: Path, label_column: str) -> list[Row]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    rows = book.worksheets[0].iter_rows(values_only=True)
    head = [str(c) for c in next(rows)]
    at = {name: head.index(name) for name in ("留言编号", "留言主题", "留言详情", label_column)}
    out: list[Row] = []
    for r in rows:
        if not r or r[0] is None:
            continue
        title, detail = (
            re.sub(r"\s+", " ", str(r[at[c]] or "")).strip() for c in ("留言主题", "留言详情")
        )
        out.append((str(r[at["留言编号"]]), str(r[at[label_column]]).strip(), f"{title}。{detail}"))
    return out


def write(path: Path, rows: list[Row]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["label", "text"])
        w.writerows((label, text) for _, label, text in rows)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    results, sample, out = Path(argv[0]), Path(argv[1]), Path(argv[2])
    first = read(results, "一级标签")
    seen = {i for i, _, _ in first}
    extra: list[Row] = []
    for row in read(sample, "一级分类"):
        if row[0] not in seen:
            seen.add(row[0])
            extra.append(row)
    out.mkdir(parents=True, exist_ok=True)
    write(out / "gov7.csv", first)
    write(out / "gov7_extra.csv", extra)
    print(f"gov7.csv {len(first)} rows, gov7_extra.csv {len(extra)} rows -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
