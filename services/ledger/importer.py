"""Opinions collected offline brought in: an .xlsx or a UTF-8 CSV with a documented Chinese
header (docs/ledger-import.md). Every row is checked before anything is written."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils.datetime import from_excel
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import texts.ledger as tl
from domain.text import meaningful_chars
from services.kernel.context import ServiceContext
from storage.models import Opinion

Progress = Callable[[str, int, int], None]
IMPORT_TIME = time(12, 0)  # a date without a time: midday, so no time zone moves it a day
MAX_NAME = 50
MAX_CONTACT = 64
MAX_SOURCE = 50
KEY_CHUNK = 500


class ImportFileError(Exception):
    """The file as a whole cannot be read; the message says what to do (plain text)."""


HEADER_ALIASES: dict[str, str] = {
    "日期": "date",
    "受理日期": "date",
    "接待日期": "date",
    "收集日期": "date",
    "反映日期": "date",
    "date": "date",
    "反映人": "name",
    "姓名": "name",
    "群众姓名": "name",
    "name": "name",
    "联系方式": "contact",
    "联系电话": "contact",
    "电话": "contact",
    "手机": "contact",
    "contact": "contact",
    "内容": "text",
    "意见内容": "text",
    "意见建议": "text",
    "反映内容": "text",
    "text": "text",
    "分类": "theme",
    "主题": "theme",
    "类别": "theme",
    "theme": "theme",
    "来源": "source",
    "渠道": "source",
    "source": "source",
}
FIELD_COLUMN = {"date": "日期", "name": "反映人", "contact": "联系方式", "text": "内容"}
FIELD_COLUMN |= {"theme": "分类", "source": "来源"}


@dataclass(frozen=True)
class ImportRow:
    row: int
    received: datetime  # aware UTC
    name: str | None
    contact: str | None
    text: str
    theme: str | None  # theme id given in the file, None: classify
    source: str | None
    key: str


@dataclass(frozen=True)
class ImportResult:
    ok: bool
    message: str  # plain text for a terminal
    added: int = 0
    skipped: int = 0
    duplicates_in_file: int = 0
    errors: list[str] = field(default_factory=list)
    ref_nos: list[str] = field(default_factory=list)


def _header_name(raw: object) -> str:
    text = str(raw or "").strip().lower()
    text = re.sub(r"[（(][^）)]*[）)]", "", text)  # 日期（必填）
    return re.sub(r"[\s*＊:：]", "", text)


def read_table(path: Path, encoding: str | None = None) -> list[tuple[int, list[object]]]:
    """All rows of the file's first sheet as (row number as Excel shows it, cells)."""
    if not path.is_file():
        raise ImportFileError(tl.import_not_found(str(path)))
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        try:
            wb = load_workbook(path, read_only=True, data_only=True)
            try:
                ws = wb.worksheets[0]
                return [(i, list(r)) for i, r in enumerate(ws.iter_rows(values_only=True), 1)]
            finally:
                wb.close()
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
            raise ImportFileError(tl.import_bad_file(str(path), type(exc).__name__)) from None
    if suffix == ".csv":
        enc = encoding or "utf-8-sig"
        try:
            text = path.read_bytes().decode(enc)
        except UnicodeDecodeError:
            raise ImportFileError(tl.import_not_utf8(enc)) from None
        except LookupError:
            raise ImportFileError(
                tl.import_bad_file(str(path), f"unknown encoding {enc}")
            ) from None
        try:
            rows = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
            return [(i, list(r)) for i, r in enumerate(rows, 1)]
        except csv.Error as exc:
            raise ImportFileError(tl.import_bad_file(str(path), str(exc))) from None
    raise ImportFileError(tl.import_unsupported(str(path)))


def _delimiter(text: str) -> str:
    """Comma, unless the header line plainly uses tabs or semicolons (no guessing from content)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    for candidate in (",", "\t", ";"):
        if candidate in first:
            return candidate
    return ","


def _blank(cells: Sequence[object]) -> bool:
    return all(c is None or str(c).strip() == "" for c in cells)


def parse_date_cell(value: object) -> datetime | date | None:
    """A date as Excel or a person writes it; a naive datetime keeps the time given."""
    if isinstance(value, datetime):
        return value.date() if value.time() == time(0) else value.replace(tzinfo=None)
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 20000 < value < 80000:
        converted = from_excel(value)
        return converted if isinstance(converted, datetime | date) else None
    text = str(value or "").strip()
    m = re.fullmatch(
        r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[\sT]+(\d{1,2})[:：](\d{2})(?::(\d{2}))?)?",
        text,
    ) or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text)
    if not m:
        return None
    try:
        day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if m.re.groups > 3 and m.group(4) is not None:
            return datetime.combine(day, time(int(m.group(4)), int(m.group(5))))
    except ValueError:
        return None
    return day


def import_key(station_id: int, received: date, name: str | None, text: str) -> str:
    """Stable per (station, date received, name, text): the same row imported again matches."""
    flat = " ".join(text.split())
    raw = f"{station_id}\x1f{received.isoformat()}\x1f{(name or '').strip()}\x1f{flat}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


HEADER_SEARCH_ROWS = 5


def _map_header(cells: Sequence[object]) -> tuple[dict[str, int], list[str], list[str]]:
    """(field -> column index, header texts found, header texts ignored)."""
    columns: dict[str, int] = {}
    found: list[str] = []
    ignored: list[str] = []
    for i, raw in enumerate(cells):
        if raw is None or str(raw).strip() == "":
            continue
        found.append(str(raw).strip())
        key = HEADER_ALIASES.get(_header_name(raw))
        if key is None:
            ignored.append(str(raw).strip())
            continue
        if key in columns:
            raise ImportFileError(tl.import_duplicate_column(str(raw).strip()))
        columns[key] = i
    return columns, found, ignored


def _header_ok(cells: Sequence[object]) -> bool:
    keys = {HEADER_ALIASES.get(_header_name(c)) for c in cells if c is not None}
    return {"date", "text"} <= keys


@dataclass
class _Checked:
    rows: list[ImportRow]
    errors: list[str]
    duplicates: int
    ignored_columns: list[str]
    total: int


def _text_of(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone number Excel turned into 13800138000.0
    return str(value).strip()


def _locate_header(
    table: list[tuple[int, list[object]]],
) -> tuple[dict[str, int], list[str], list[tuple[int, list[object]]]]:
    """(column of each field, ignored headers, the data rows); ImportFileError for a bad file."""
    body = [(n, cells) for n, cells in table if not _blank(cells)]
    if not body:
        raise ImportFileError(tl.import_empty())
    # The header is the first row naming both required columns (a title row such as
    # "2026年9月接待日意见汇总" may come first); if none does, the first row is reported.
    header_at = next(
        (i for i, (_, cells) in enumerate(body[:HEADER_SEARCH_ROWS]) if _header_ok(cells)), 0
    )
    columns, found, ignored = _map_header(body[header_at][1])
    missing = [FIELD_COLUMN[k] for k in ("date", "text") if k not in columns]
    if missing:
        raise ImportFileError(tl.import_missing_columns(missing, found))
    data = body[header_at + 1 :]
    if not data:
        raise ImportFileError(tl.import_empty())
    return columns, ignored, data


@dataclass
class _RowCheck:
    """One data row's checks; `problems` empty means it can be imported."""

    ctx: ServiceContext
    columns: dict[str, int]
    themes: dict[str, str]
    today: date

    def cell(self, cells: list[object], key: str) -> object:
        idx = self.columns.get(key)
        return cells[idx] if idx is not None and idx < len(cells) else None

    def when(self, cells: list[object], problems: list[str]) -> date | datetime | None:
        raw = self.cell(cells, "date")
        when = parse_date_cell(raw)
        if when is None:
            problems.append(tl.bad_date(_text_of(raw)))
            return None
        day = when.date() if isinstance(when, datetime) else when
        if day > self.today:
            problems.append(tl.future_date(day))
        elif day.year < 2000:
            problems.append(tl.bad_date(_text_of(raw)))
        return when

    def text(self, cells: list[object], problems: list[str]) -> str:
        text, limits = _text_of(self.cell(cells, "text")), self.ctx.limits
        if not text:
            problems.append(tl.missing_text())
        elif len(text) > limits.max_chars:
            problems.append(tl.text_too_long(len(text), limits.max_chars))
        elif len(text) < limits.min_chars or meaningful_chars(text) < 2:
            problems.append(tl.text_too_short(limits.min_chars))
        return text

    def fields(self, cells: list[object], problems: list[str]) -> tuple[str | None, ...]:
        """(name, contact, source), each checked against its length."""
        values = []
        for key, column, limit in (
            ("name", "反映人", MAX_NAME),
            ("contact", "联系方式", MAX_CONTACT),
            ("source", "来源", MAX_SOURCE),
        ):
            value = _text_of(self.cell(cells, key)) or None
            if value is not None and len(value) > limit:
                problems.append(tl.field_too_long(column, limit))
            values.append(value)
        return tuple(values)

    def theme(self, cells: list[object], problems: list[str]) -> str | None:
        raw = _text_of(self.cell(cells, "theme"))
        if not raw:
            return None
        theme = self.themes.get(raw) or self.themes.get(raw.lower())
        if theme is None:
            problems.append(tl.unknown_theme(raw, [t.name for t in self.ctx.classifier.themes]))
        return theme


def check_rows(
    ctx: ServiceContext,
    station_id: int,
    table: list[tuple[int, list[object]]],
    progress: Progress | None = None,
) -> _Checked:
    """Validate every row; nothing is written here. Raises ImportFileError for a bad file."""
    columns, ignored, data = _locate_header(table)
    themes = {t.name: t.id for t in ctx.classifier.themes}
    themes |= {t.id.lower(): t.id for t in ctx.classifier.themes}
    check = _RowCheck(ctx, columns, themes, ctx.clock.now().astimezone(ctx.tz).date())
    rows: list[ImportRow] = []
    errors: list[str] = []
    seen: set[str] = set()
    duplicates = 0
    for done, (n, cells) in enumerate(data, 1):
        problems: list[str] = []
        when = check.when(cells, problems)
        text = check.text(cells, problems)
        name, contact, source = check.fields(cells, problems)
        theme = check.theme(cells, problems)
        if progress is not None and (done % 100 == 0 or done == len(data)):
            progress(tl.CLI_STAGE_CHECK, done, len(data))
        if problems:
            errors.append(tl.import_row_error(n, "；".join(problems)))
            continue
        assert when is not None
        if isinstance(when, datetime):
            local = when.replace(tzinfo=ctx.tz)
        else:
            local = datetime.combine(when, IMPORT_TIME, tzinfo=ctx.tz)
        key = import_key(station_id, local.date(), name, text)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        rows.append(ImportRow(n, local.astimezone(UTC), name, contact, text, theme, source, key))
    return _Checked(rows, errors, duplicates, ignored, len(data))


async def existing_keys(s: AsyncSession, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(keys), KEY_CHUNK):
        chunk = list(keys[i : i + KEY_CHUNK])
        notes = await s.execute(select(Opinion.import_key).where(Opinion.import_key.in_(chunk)))
        found |= {k for k in notes.scalars() if k}
    return found


def detail_note(row: ImportRow, filename: str) -> str:
    parts = [f"文件：{filename} 第 {row.row} 行"]
    if row.source:
        parts.append(f"来源：{row.source}")
    if row.contact:
        parts.append(f"联系方式：{row.contact}")
    return "\n".join(parts)
