"""The station's ledger (问题清单 / 整改台账) in Excel, and opinions collected offline brought in.

Export: one row per opinion from the live tables, a summary sheet, an all-opinions sheet and one
sheet per theme; resident names masked unless staff ask for them. Import: an .xlsx or a UTF-8 CSV
with a documented Chinese header (docs/ledger-import.md). Every row is checked before anything is
written, and the whole file goes in one transaction, so a file is imported completely or not at
all; a stable key per row makes a second import of the same file add nothing.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import re
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import texts.reports as tr
from domain.lifecycle import Status
from domain.refs import format_ref
from services import outbox
from services.casework import post_triage_card
from services.context import ServiceContext
from services.intake import meaningful_chars
from services.numbering import next_seq
from services.people import (
    default_station,
    is_staff,
    role_of,
    station_by_code,
    station_by_staff_chat,
    station_of,
    upsert_user,
)
from services.types import Reply, Sender
from storage.models import Opinion, OpinionEvent, Station, Task, Unit, User
from texts.assignee import OUTCOME_LABELS
from texts.common import status_name

Progress = Callable[[str, int, int], None]

REAL_NAME_WORDS = frozenset({"实名", "真名", "姓名", "names", "real"})
IMPORT_ACTION = "import"  # OpinionEvent.note holds the row's import key
IMPORT_DETAIL_ACTION = "import_detail"
IMPORT_SOURCE = "import"
IMPORT_TIME = time(12, 0)  # a date without a time: midday, so no time zone moves it a day
MAX_NAME = 50
MAX_CONTACT = 64
MAX_SOURCE = 50
KEY_CHUNK = 500

# ---- export ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerRow:
    ref_no: str
    received: datetime  # station-local, naive (Excel has no time zones)
    resident: str
    contact: str
    theme: str
    theme_label: str
    text: str
    assignee: str
    deadline: date | None
    status: str
    progress: str
    outcome: str
    satisfaction: str
    satisfaction_key: str | None


@dataclass(frozen=True)
class Export:
    """What /export answers: a caption, and the workbook when the caller may have it."""

    reply: Reply
    data: bytes | None = None
    filename: str | None = None
    count: int = 0


def mask_name(name: str | None) -> str:
    """王阿姨 → 王**; nothing known → 匿名群众."""
    name = "".join((name or "").split())  # "王 阿姨" from Telegram's first and last name
    if not name:
        return tr.ANONYMOUS
    return name[0] + "*" * min(max(len(name) - 1, 1), 4)


def _clean(value: str) -> str:
    """Control characters are illegal in xlsx XML; a resident's text may contain them."""
    return str(ILLEGAL_CHARACTERS_RE.sub("", value))


async def load_ledger_rows(
    s: AsyncSession, ctx: ServiceContext, station_id: int, real_names: bool
) -> list[LedgerRow]:
    """Every opinion of the station as a ledger row, oldest first."""
    ops = list(
        (
            await s.execute(
                select(Opinion)
                .where(Opinion.station_id == station_id)
                .order_by(Opinion.created_at, Opinion.id)
            )
        ).scalars()
    )
    tasks = list(
        (
            await s.execute(select(Task).where(Task.station_id == station_id).order_by(Task.id))
        ).scalars()
    )
    latest: dict[int, Task] = {}
    latest_closed: dict[int, Task] = {}
    for t in tasks:
        latest[t.opinion_id] = t
        if t.status == "closed":
            latest_closed[t.opinion_id] = t
    user_ids = {op.resident_id for op in ops if op.resident_id is not None}
    user_ids |= {t.assignee_user_id for t in tasks if t.assignee_user_id is not None}
    users = (
        {u.id: u for u in (await s.execute(select(User).where(User.id.in_(user_ids)))).scalars()}
        if user_ids
        else {}
    )
    units = {
        u.id: u
        for u in (await s.execute(select(Unit).where(Unit.station_id == station_id))).scalars()
    }
    notes: dict[int, list[str]] = defaultdict(list)
    contacts: dict[int, str] = {}
    events = await s.execute(
        select(OpinionEvent.opinion_id, OpinionEvent.action, OpinionEvent.at, OpinionEvent.note)
        .join(Opinion, Opinion.id == OpinionEvent.opinion_id)
        .where(
            Opinion.station_id == station_id,
            OpinionEvent.action.in_(("progress", IMPORT_DETAIL_ACTION)),
        )
        .order_by(OpinionEvent.at, OpinionEvent.id)
    )
    for opinion_id, action, at, note in events.all():
        if action == "progress" and note:
            notes[opinion_id].append(tr.progress_line(at.astimezone(ctx.tz).date(), note))
        elif action == IMPORT_DETAIL_ACTION and note:
            contact = _detail_field(note, "联系方式")
            if contact:
                contacts[opinion_id] = contact

    rows: list[LedgerRow] = []
    for op in ops:
        resident = users.get(op.resident_id) if op.resident_id is not None else None
        name = resident.display_name if resident else op.on_behalf_of
        if real_names:
            shown = name or tr.ANONYMOUS
        elif op.anonymous and resident is not None:
            shown = tr.ANONYMOUS
        else:
            shown = mask_name(name)
        contact = ""
        if real_names:
            contact = (resident.phone if resident and resident.phone else "") or contacts.get(
                op.id, ""
            )
        task = latest.get(op.id)
        assignee = ""
        if task is not None:
            if task.assignee_unit_id is not None and task.assignee_unit_id in units:
                assignee = units[task.assignee_unit_id].name
            elif task.assignee_user_id is not None and task.assignee_user_id in users:
                assignee = users[task.assignee_user_id].display_name
            if task.status == "bounced":
                assignee = tr.bounced_assignee(assignee)
        closed = latest_closed.get(op.id)
        outcome = (
            OUTCOME_LABELS.get(closed.outcome, closed.outcome) if closed and closed.outcome else ""
        )
        rows.append(
            LedgerRow(
                ref_no=op.ref_no,
                received=op.created_at.astimezone(ctx.tz).replace(tzinfo=None),
                resident=shown,
                contact=contact,
                theme=op.theme,
                theme_label=ctx.theme_label(op.theme),
                text=op.text,
                assignee=assignee,
                # A bounced task's deadline no longer binds anyone.
                deadline=task.due_date if task is not None and task.status != "bounced" else None,
                status=status_name(op.status),
                progress="\n".join(notes.get(op.id, [])),
                outcome=outcome or "",
                satisfaction=tr.satisfaction_label(op.satisfaction),
                satisfaction_key=op.satisfaction,
            )
        )
    return rows


def _detail_field(note: str, name: str) -> str:
    for part in note.split("\n"):
        key, _, value = part.partition("：")
        if key == name:
            return value
    return ""


HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
HEADER_FONT = Font(bold=True)
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")
# Column widths in Excel character units: (minimum, maximum).
WIDTH_LIMITS = {"意见内容": (30, 60), "办理进展": (24, 50)}
DEFAULT_WIDTH_LIMITS = (8, 30)
INVALID_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def _display_width(value: object) -> int:
    """Characters as Excel lays them out: a CJK character is about two Latin ones wide."""
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    text = str(value or "")
    longest = max((line for line in text.split("\n")), key=len, default="")
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in longest)


def _sheet_title(name: str, used: set[str]) -> str:
    base = INVALID_SHEET_CHARS.sub("_", name).strip("'") or tr.OTHER_THEME
    base = base[:31]
    title, n = base, 2
    while title in used:
        suffix = f"({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(title)
    return title


def _set(ws: Worksheet, row: int, col: int, value: object) -> Any:
    if isinstance(value, str):
        value = _clean(value)
    cell = ws.cell(row=row, column=col, value=value)
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"  # a resident's "=HYPERLINK(...)" stays text, never a formula
    return cell


def _write_ledger_sheet(
    ws: Worksheet, rows: Sequence[LedgerRow], real_names: bool, progress: Progress | None
) -> None:
    header = list(tr.LEDGER_HEADER)
    if real_names:
        header.insert(header.index("反映人") + 1, tr.CONTACT_HEADER)
    for col, name in enumerate(header, 1):
        cell = _set(ws, 1, col, name)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(vertical="center")
    widths = [_display_width(h) for h in header]
    for i, r in enumerate(rows, 2):
        values: list[object] = [r.ref_no, r.received, r.resident]
        if real_names:
            values.append(r.contact)
        values += [
            r.theme_label,
            r.text,
            r.assignee,
            r.deadline,
            r.status,
            r.progress,
            r.outcome,
            r.satisfaction,
        ]
        for col, value in enumerate(values, 1):
            cell = _set(ws, i, col, value)
            if isinstance(value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(value, date):
                cell.number_format = "yyyy-mm-dd"
            name = header[col - 1]
            cell.alignment = WRAP if name in WIDTH_LIMITS else TOP
            widths[col - 1] = max(widths[col - 1], _display_width(value))
        if progress is not None and (i - 1) % 200 == 0:
            progress(tr.CLI_STAGE_EXPORT, i - 1, len(rows))
    for col, name in enumerate(header, 1):
        lo, hi = WIDTH_LIMITS.get(name, DEFAULT_WIDTH_LIMITS)
        ws.column_dimensions[get_column_letter(col)].width = min(max(widths[col - 1] + 2, lo), hi)
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}{max(len(rows) + 1, 1)}"


def _write_summary(
    ws: Worksheet,
    station_name: str,
    generated: datetime,
    rows: Sequence[LedgerRow],
    real_names: bool,
    theme_order: Sequence[str],
) -> None:
    line = 1
    for label, value in tr.summary_rows(station_name, generated, len(rows), real_names):
        _set(ws, line, 1, label).font = HEADER_FONT
        _set(ws, line, 2, value)
        line += 1
    line += 1
    # Theme x status cross table, with totals.
    statuses = [s.value for s in Status if any(r.status == status_name(s) for r in rows)]
    themes: Counter[str] = Counter(r.theme_label for r in rows)
    order = {label: i for i, label in enumerate(theme_order)}
    theme_labels = sorted(themes, key=lambda t: (order.get(t, len(order)), t))
    cross: Counter[tuple[str, str]] = Counter((r.theme_label, r.status) for r in rows)
    header = [tr.SUMMARY_THEME_HEADER[0], *[status_name(s) for s in statuses], "合计"]
    for col, name in enumerate(header, 1):
        cell = _set(ws, line, col, name)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
    line += 1
    for label in theme_labels:
        _set(ws, line, 1, label)
        for col, status in enumerate(statuses, 2):
            _set(ws, line, col, cross[(label, status_name(status))])
        _set(ws, line, len(header), themes[label])
        line += 1
    _set(ws, line, 1, "合计").font = HEADER_FONT
    for col, status in enumerate(statuses, 2):
        _set(ws, line, col, sum(1 for r in rows if r.status == status_name(status)))
    _set(ws, line, len(header), len(rows))
    line += 2
    # Satisfaction of the opinions in the ledger (their latest rating).
    sat = Counter(r.satisfaction_key for r in rows if r.satisfaction_key)
    for col, name in enumerate(tr.SUMMARY_SATISFACTION_HEADER, 1):
        cell = _set(ws, line, col, name)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
    line += 1
    for key, label in tr.SATISFACTION_LABELS.items():
        _set(ws, line, 1, label)
        _set(ws, line, 2, sat.get(key, 0))
        line += 1
    rated = sat["satisfied"] + sat["basic"] + sat["unsatisfied"]
    _set(ws, line, 1, tr.SUMMARY_RATE).font = HEADER_FONT
    if rated:
        rate = _set(ws, line, 2, (sat["satisfied"] + sat["basic"]) / rated)
        rate.number_format = "0.0%"
    else:
        _set(ws, line, 2, "—")
    ws.column_dimensions["A"].width = (
        max([_display_width(tr.SUMMARY_RATE)] + [_display_width(t) for t in theme_labels]) + 2
    )
    for col in range(2, len(header) + 1):
        ws.column_dimensions[get_column_letter(col)].width = 12


def build_workbook(
    station_name: str,
    generated: datetime,
    rows: Sequence[LedgerRow],
    real_names: bool,
    theme_order: Sequence[str],
    progress: Progress | None = None,
) -> bytes:
    """The .xlsx: 汇总, 全部意见, then one sheet per theme (in the taxonomy's order)."""
    wb = Workbook()
    summary = wb.active
    assert summary is not None
    summary.title = tr.SUMMARY_SHEET
    _write_summary(summary, station_name, generated, rows, real_names, theme_order)
    used = {tr.SUMMARY_SHEET, tr.ALL_SHEET}
    _write_ledger_sheet(wb.create_sheet(tr.ALL_SHEET), rows, real_names, progress)
    by_theme: dict[str, list[LedgerRow]] = defaultdict(list)
    for r in rows:
        by_theme[r.theme_label].append(r)
    order = {label: i for i, label in enumerate(theme_order)}
    for label in sorted(by_theme, key=lambda t: (order.get(t, len(order)), t)):
        ws = wb.create_sheet(_sheet_title(label, used))
        _write_ledger_sheet(ws, by_theme[label], real_names, None)
    buf = io.BytesIO()
    wb.save(buf)
    if progress is not None:
        progress(tr.CLI_STAGE_EXPORT, len(rows), len(rows))
    return buf.getvalue()


# ---- import ----------------------------------------------------------------------------------


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
        raise ImportFileError(tr.import_not_found(str(path)))
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
            raise ImportFileError(tr.import_bad_file(str(path), type(exc).__name__)) from None
    if suffix == ".csv":
        enc = encoding or "utf-8-sig"
        try:
            text = path.read_bytes().decode(enc)
        except UnicodeDecodeError:
            raise ImportFileError(tr.import_not_utf8(enc)) from None
        except LookupError:
            raise ImportFileError(
                tr.import_bad_file(str(path), f"unknown encoding {enc}")
            ) from None
        try:
            rows = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
            return [(i, list(r)) for i, r in enumerate(rows, 1)]
        except csv.Error as exc:
            raise ImportFileError(tr.import_bad_file(str(path), str(exc))) from None
    raise ImportFileError(tr.import_unsupported(str(path)))


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
            raise ImportFileError(tr.import_duplicate_column(str(raw).strip()))
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


def check_rows(
    ctx: ServiceContext,
    station_id: int,
    table: list[tuple[int, list[object]]],
    progress: Progress | None = None,
) -> _Checked:
    """Validate every row; nothing is written here. Raises ImportFileError for a bad file."""
    body = [(n, cells) for n, cells in table if not _blank(cells)]
    if not body:
        raise ImportFileError(tr.import_empty())
    # The header is the first row naming both required columns (a title row such as
    # "2026年9月接待日意见汇总" may come first); if none does, the first row is reported.
    header_at = next(
        (i for i, (_, cells) in enumerate(body[:HEADER_SEARCH_ROWS]) if _header_ok(cells)), 0
    )
    columns, found, ignored = _map_header(body[header_at][1])
    missing = [FIELD_COLUMN[k] for k in ("date", "text") if k not in columns]
    if missing:
        raise ImportFileError(tr.import_missing_columns(missing, found))
    body = body[header_at:]
    data = body[1:]
    if not data:
        raise ImportFileError(tr.import_empty())

    themes = {t.name: t.id for t in ctx.classifier.themes}
    themes |= {t.id.lower(): t.id for t in ctx.classifier.themes}
    today = ctx.clock.now().astimezone(ctx.tz).date()
    limits = ctx.limits
    rows: list[ImportRow] = []
    errors: list[str] = []
    seen: set[str] = set()
    duplicates = 0

    def cell(cells: list[object], key: str) -> object:
        idx = columns.get(key)
        return cells[idx] if idx is not None and idx < len(cells) else None

    def text_of(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # a phone number Excel turned into 13800138000.0
        return str(value).strip()

    for done, (n, cells) in enumerate(data, 1):
        problems: list[str] = []
        raw_date = cell(cells, "date")
        when = parse_date_cell(raw_date)
        if when is None:
            problems.append(tr.bad_date(text_of(raw_date)))
        else:
            day = when.date() if isinstance(when, datetime) else when
            if day > today:
                problems.append(tr.future_date(day))
            elif day.year < 2000:
                problems.append(tr.bad_date(text_of(raw_date)))
        text = text_of(cell(cells, "text"))
        if not text:
            problems.append(tr.missing_text())
        elif len(text) > limits.max_chars:
            problems.append(tr.text_too_long(len(text), limits.max_chars))
        elif len(text) < limits.min_chars or meaningful_chars(text) < 2:
            problems.append(tr.text_too_short(limits.min_chars))
        name = text_of(cell(cells, "name")) or None
        contact = text_of(cell(cells, "contact")) or None
        source = text_of(cell(cells, "source")) or None
        for column, value, limit in (
            ("反映人", name, MAX_NAME),
            ("联系方式", contact, MAX_CONTACT),
            ("来源", source, MAX_SOURCE),
        ):
            if value is not None and len(value) > limit:
                problems.append(tr.field_too_long(column, limit))
        raw_theme = text_of(cell(cells, "theme"))
        theme = None
        if raw_theme:
            theme = themes.get(raw_theme) or themes.get(raw_theme.lower())
            if theme is None:
                problems.append(
                    tr.unknown_theme(raw_theme, [t.name for t in ctx.classifier.themes])
                )
        if progress is not None and (done % 100 == 0 or done == len(data)):
            progress(tr.CLI_STAGE_CHECK, done, len(data))
        if problems:
            errors.append(tr.import_row_error(n, "；".join(problems)))
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


async def _existing_keys(s: AsyncSession, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(keys), KEY_CHUNK):
        chunk = list(keys[i : i + KEY_CHUNK])
        notes = await s.execute(select(Opinion.import_key).where(Opinion.import_key.in_(chunk)))
        found |= {k for k in notes.scalars() if k}
    return found


def _detail_note(row: ImportRow, filename: str) -> str:
    parts = [f"文件：{filename} 第 {row.row} 行"]
    if row.source:
        parts.append(f"来源：{row.source}")
    if row.contact:
        parts.append(f"联系方式：{row.contact}")
    return "\n".join(parts)


# ---- the service -------------------------------------------------------------------------------


@dataclass
class LedgerService:
    ctx: ServiceContext

    def _theme_order(self) -> list[str]:
        return [t.name for t in self.ctx.classifier.themes]

    async def export(self, sender: Sender, raw: str = "", chat_id: int | None = None) -> Export:
        """`/export [实名]` for staff: the whole ledger as .xlsx (names masked unless asked)."""
        words = set(raw.split())
        if words - REAL_NAME_WORDS:
            return Export(Reply(tr.export_usage()))
        real_names = bool(words & REAL_NAME_WORDS)
        async with self.ctx.sessions.begin() as s:
            user = await upsert_user(s, sender)
            station = await station_by_staff_chat(s, chat_id) if chat_id is not None else None
            if station is None:
                station = await station_of(s, self.ctx, user)
            if not is_staff(await role_of(s, self.ctx, user, station.id)):
                return Export(Reply(tr.only_staff()))
            rows = await load_ledger_rows(s, self.ctx, station.id, real_names)
            name = station.name
        data, filename = await self._workbook(name, rows, real_names, None)
        return Export(Reply(tr.export_caption(len(rows), real_names)), data, filename, len(rows))

    async def _workbook(
        self, station_name: str, rows: list[LedgerRow], real_names: bool, progress: Progress | None
    ) -> tuple[bytes, str]:
        now = self.ctx.clock.now().astimezone(self.ctx.tz)
        data = await asyncio.to_thread(
            build_workbook,
            station_name,
            now.replace(tzinfo=None),
            rows,
            real_names,
            self._theme_order(),
            progress,
        )
        return data, tr.export_filename(now.date())

    async def export_station(
        self,
        station_code: str | None = None,
        real_names: bool = False,
        progress: Progress | None = None,
    ) -> tuple[bytes, str, int]:
        """The same workbook for the command line (the operator is trusted): bytes, name, count."""
        async with self.ctx.sessions.begin() as s:
            station = await self._station(s, station_code)
            rows = await load_ledger_rows(s, self.ctx, station.id, real_names)
            name = station.name
        data, filename = await self._workbook(name, rows, real_names, progress)
        return data, filename, len(rows)

    async def _station(self, s: AsyncSession, code: str | None) -> Station:
        if code:
            station = await station_by_code(s, code)
            if station is None:
                raise LookupError(tr.cli_station_unknown(code))
            return station
        return await default_station(s, self.ctx)

    async def import_file(
        self,
        path: Path,
        *,
        station_code: str | None = None,
        encoding: str | None = None,
        notify_staff: bool = True,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> ImportResult:
        """Check every row, then import all of them in one transaction, or none.

        `dry_run` stops after the checks and says what an import would do.
        """
        try:
            table = await asyncio.to_thread(read_table, path, encoding)
        except ImportFileError as exc:
            return ImportResult(False, str(exc))
        async with self.ctx.sessions.begin() as s:
            station = await self._station(s, station_code)
            station_id = station.id
        try:
            checked = check_rows(self.ctx, station_id, table, progress)
        except ImportFileError as exc:
            return ImportResult(False, str(exc))
        if checked.errors:
            return ImportResult(
                False, tr.import_failed(checked.errors, checked.total), errors=checked.errors
            )
        async with self.ctx.sessions() as s:
            known = await _existing_keys(s, [r.key for r in checked.rows])
        todo = [r for r in checked.rows if r.key not in known]
        if dry_run:
            return ImportResult(
                True,
                tr.import_checked(
                    len(todo), len(known), checked.duplicates, checked.ignored_columns
                ),
                skipped=len(known),
                duplicates_in_file=checked.duplicates,
            )
        verdicts = await asyncio.to_thread(self._classify, todo, progress)
        try:
            added, skipped, refs = await self._insert(
                station_id, todo, verdicts, path.name, notify_staff, progress
            )
        except IntegrityError:
            return ImportResult(False, tr.import_race())
        skipped += len(checked.rows) - len(todo)
        return ImportResult(
            True,
            tr.import_done(added, skipped, checked.duplicates, checked.ignored_columns),
            added=added,
            skipped=skipped,
            duplicates_in_file=checked.duplicates,
            ref_nos=refs,
        )

    def _classify(
        self, rows: Sequence[ImportRow], progress: Progress | None
    ) -> list[tuple[str, float, list[str], bool, bool]]:
        """(theme, confidence, terms, needs_review, confirmed) for each row."""
        out: list[tuple[str, float, list[str], bool, bool]] = []
        for i, row in enumerate(rows, 1):
            if row.theme is not None:
                out.append((row.theme, 1.0, [], False, True))
            else:
                v = self.ctx.classifier.classify(row.text)
                out.append(
                    (v.category, float(v.confidence), list(v.terms), bool(v.needs_review), False)
                )
            if progress is not None and (i % 50 == 0 or i == len(rows)):
                progress(tr.CLI_STAGE_CLASSIFY, i, len(rows))
        return out

    async def _insert(
        self,
        station_id: int,
        rows: Sequence[ImportRow],
        verdicts: Sequence[tuple[str, float, list[str], bool, bool]],
        filename: str,
        notify_staff: bool,
        progress: Progress | None,
    ) -> tuple[int, int, list[str]]:
        if not rows:
            return 0, 0, []
        now = self.ctx.clock.now()
        year = now.astimezone(self.ctx.tz).year
        refs: list[str] = []
        async with self.ctx.sessions.begin() as s:
            station = await s.get(Station, station_id)
            assert station is not None
            # Checked again inside the write transaction: another import may have run meanwhile.
            known = await _existing_keys(s, [r.key for r in rows])
            created: list[Opinion] = []
            for i, (row, (theme, conf, terms, review, confirmed)) in enumerate(
                zip(rows, verdicts, strict=True), 1
            ):
                if row.key in known:
                    continue
                known.add(row.key)
                seq = await next_seq(s, station.id, year)
                op = Opinion(
                    station_id=station.id,
                    ref_no=format_ref(station.ref_prefix, year, seq),
                    year=year,
                    seq=seq,
                    resident_id=None,
                    source=IMPORT_SOURCE,
                    on_behalf_of=row.name,
                    contact=row.contact,
                    import_key=row.key,
                    text=row.text,
                    theme=theme,
                    theme_confidence=conf,
                    theme_terms=terms,
                    needs_review=review,
                    theme_confirmed=confirmed,
                    anonymous=row.name is None,
                    status=Status.RECEIVED,
                    created_at=row.received,
                    updated_at=now,
                )
                s.add(op)
                await s.flush()
                s.add_all(
                    [
                        OpinionEvent(
                            opinion_id=op.id,
                            action=IMPORT_ACTION,
                            to_status=op.status,
                            note=row.key,
                            at=now,
                        ),
                        OpinionEvent(
                            opinion_id=op.id,
                            action=IMPORT_DETAIL_ACTION,
                            note=_detail_note(row, filename),
                            at=now,
                        ),
                    ]
                )
                created.append(op)
                refs.append(op.ref_no)
                if progress is not None and (i % 50 == 0 or i == len(rows)):
                    progress(tr.CLI_STAGE_SAVE, i, len(rows))
            if notify_staff and created and station.staff_chat_id is not None:
                await self._tell_staff(s, station, created, filename, now)
        return len(created), len(rows) - len(created), refs

    async def _tell_staff(
        self,
        s: AsyncSession,
        station: Station,
        created: Sequence[Opinion],
        filename: str,
        now: datetime,
    ) -> None:
        """A summary, then the usual triage card per opinion so staff can assign them."""
        assert station.staff_chat_id is not None
        await outbox.enqueue(
            s,
            key=f"staff:import:{created[0].id}:{created[-1].id}",
            chat_id=station.staff_chat_id,
            text=tr.import_summary_for_staff(len(created), filename),
            kind="staff",
            due_at=now,
            station_id=station.id,
        )
        for op in created:
            await post_triage_card(s, self.ctx, station.id, op, now + timedelta(microseconds=1))
