"""The taxonomy as a data file (JSON or CSV), so a station can replace the default five themes.

JSON: {"themes": [{"id": "...", "name": "...", "keywords": ["...", ...]}, ...]} (a bare list of
themes works too). CSV: header `id,name,keywords`, keywords separated by spaces, 、 , ; or |.

Every taxonomy has one out-of-scope outcome ("其他（非本专题）"): the theme with id `other`, or
the one marked `"out_of_scope": true` in JSON. A file without one gets it added with the default
name, so a station renames it by listing `{"id": "other", "name": "…"}` itself.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from domain.classifier.errors import ClassifierError
from domain.classifier.types import Theme

DEFAULT_TAXONOMY = Path(__file__).resolve().parent / "data" / "taxonomy.json"
OTHER_ID = "other"
OTHER_NAME = "其他（非本专题）"
_KW_SPLIT = re.compile(r"[\s、,，;；|/]+")


def read_text(path: Path, what: str) -> str:
    """A UTF-8 file's text (BOM allowed), or one line saying how to fix the file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ClassifierError(f"找不到{what}文件 {path}，请检查路径 (file not found)") from None
    except IsADirectoryError:
        raise ClassifierError(f"{path} 是文件夹，请给出{what}文件 (is a directory)") from None
    except OSError as exc:
        raise ClassifierError(f"无法读取{what}文件 {path}: {exc.strerror}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ClassifierError(
            f"{path} 第 {line} 行不是 UTF-8 编码，请用“另存为 → UTF-8”重新保存后再试 "
            "(file is not UTF-8; re-save it as UTF-8)"
        ) from None


def _theme(entry: Any, where: str) -> Theme:
    if not isinstance(entry, dict):
        raise ClassifierError(
            f"分类表{where}应为对象，含 id、name、keywords (theme must be an object)"
        )
    tid = str(entry.get("id") or "").strip()
    name = str(entry.get("name") or tid).strip()
    if not tid:
        raise ClassifierError(f"分类表{where}缺少 id，请补上主题编号 (theme without id)")
    kws = entry.get("keywords") or []
    if isinstance(kws, str):
        kws = _KW_SPLIT.split(kws)
    covers = entry.get("covers") or []
    if not isinstance(kws, list) or not isinstance(covers, list):
        raise ClassifierError(f"分类表{where}的 keywords 应为列表 (keywords must be a list)")
    # What a theme covers ("助餐与老年食堂") is evidence too: it joins the keywords.
    words = (str(x).strip() for x in [*kws, *covers])
    flag = entry.get("out_of_scope")
    out = tid == OTHER_ID or flag is True or str(flag).strip().lower() in {"true", "1", "yes", "是"}
    return Theme(tid, name, tuple(dict.fromkeys(k for k in words if k)), out)


def parse_taxonomy(text: str, fmt: str, source: str = "taxonomy") -> tuple[Theme, ...]:
    """Themes from JSON or CSV text; checks ids are unique and there are at least two."""
    themes: list[Theme] = []
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ClassifierError(
                f"{source} 第 {exc.lineno} 行 JSON 格式错误: {exc.msg}，请修正后再试 (invalid JSON)"
            ) from None
        entries = data.get("themes") if isinstance(data, dict) else data
        if not isinstance(entries, list):
            raise ClassifierError(f"{source} 中没有 themes 列表 (expected a 'themes' list)")
        themes = [_theme(e, f"第 {i + 1} 项") for i, e in enumerate(entries)]
    else:
        reader = csv.DictReader(io.StringIO(text))
        fields = [f.strip().lower() for f in reader.fieldnames or []]
        if "id" not in fields:
            raise ClassifierError(
                f"{source} 缺少 id 列：表头应为 id,name,keywords (taxonomy CSV needs an id column)"
            )
        reader.fieldnames = fields
        for row in reader:
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue
            themes.append(_theme(row, f"第 {reader.line_num} 行"))
    seen: set[str] = set()
    for t in themes:
        if t.id in seen:
            raise ClassifierError(
                f"{source} 中主题 {t.id} 出现了两次，请删去重复的一项 (duplicate id)"
            )
        seen.add(t.id)
    outs = [t.id for t in themes if t.out_of_scope]
    if len(outs) > 1:
        raise ClassifierError(
            f"{source} 中有多个“非本专题”主题（{'、'.join(outs)}），只能保留一个 "
            "(only one out-of-scope theme)"
        )
    if sum(1 for t in themes if not t.out_of_scope) < 2:
        raise ClassifierError(f"{source} 至少需要 2 个主题 (a taxonomy needs at least two themes)")
    return with_other(themes)


def with_other(themes: Iterable[Theme]) -> tuple[Theme, ...]:
    """The themes plus the out-of-scope outcome (added last, default name) if none is listed."""
    out = tuple(themes)
    if any(t.out_of_scope for t in out):
        return out
    return (*out, Theme(OTHER_ID, OTHER_NAME, (), True))


def other_theme(themes: Iterable[Theme]) -> Theme | None:
    """The out-of-scope theme of a taxonomy (None for a model trained without one)."""
    return next((t for t in themes if t.out_of_scope), None)


def load_taxonomy(path: Path | None = None) -> tuple[Theme, ...]:
    """Read a taxonomy file (default: the packaged five elderly-care themes)."""
    path = path or DEFAULT_TAXONOMY
    fmt = "csv" if path.suffix.lower() in {".csv", ".tsv"} else "json"
    return parse_taxonomy(read_text(path, "分类表"), fmt, str(path))


def label_index(themes: Iterable[Theme]) -> dict[str, str]:
    """Map what a CSV may write (theme id or Chinese name) to the theme id."""
    themes = tuple(themes)
    index: dict[str, str] = {}
    for t in themes:
        index.setdefault(t.name, t.id)
    for t in themes:
        index[t.id] = t.id
    other = other_theme(themes)
    if other is not None:  # what people write for "not this campaign's"
        for alias in (OTHER_ID, OTHER_NAME, "其他", "非本专题", "其它"):
            index.setdefault(alias, other.id)
    return index


def themes_to_json(themes: Sequence[Theme]) -> list[dict[str, Any]]:
    return [
        {
            "id": t.id,
            "name": t.name,
            "keywords": list(t.keywords),
            **({"out_of_scope": True} if t.out_of_scope else {}),
        }
        for t in themes
    ]
