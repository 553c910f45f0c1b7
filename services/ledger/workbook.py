"""The ledger workbook: 汇总, 全部意见, then one sheet per theme."""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter

import texts.reports as tr
from domain.lifecycle import Status
from services.ledger.rows import LedgerRow, clean
from texts.common import status_name

Progress = Callable[[str, int, int], None]

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
HEADER_FONT = Font(bold=True)
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")
# Column widths in Excel character units: (minimum, maximum).
WIDTH_LIMITS = {"意见内容": (30, 60), "办理进展": (24, 50)}
DEFAULT_WIDTH_LIMITS = (8, 30)
DATE_COLUMNS = {"受理日期": "yyyy-mm-dd hh:mm", "办理期限": "yyyy-mm-dd"}
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


def _header_cell(ws: Any, value: str, fill: bool = True) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value)
    cell.font = HEADER_FONT
    if fill:
        cell.fill = HEADER_FILL
    return cell


def _cell(ws: Any, value: object, style: StyleArray | None = None) -> WriteOnlyCell:
    """A cell of resident-written data: control characters removed, and a text that starts
    with "=" stays text (never a formula)."""
    if isinstance(value, str):
        value = clean(value)
    cell = WriteOnlyCell(ws, value)
    if style is not None:
        cell._style = StyleArray(style)
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"
    return cell


@dataclass
class Tally:
    """What the summary sheet counts, gathered while the rows stream past."""

    total: int = 0
    themes: Counter[str] = field(default_factory=Counter)
    cross: Counter[tuple[str, str]] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    satisfaction: Counter[str] = field(default_factory=Counter)

    def add(self, r: LedgerRow) -> None:
        self.total += 1
        self.themes[r.theme_label] += 1
        self.cross[(r.theme_label, r.status)] += 1
        self.statuses[r.status] += 1
        if r.satisfaction_key:
            self.satisfaction[r.satisfaction_key] += 1


@dataclass
class _Sheet:
    ws: Any
    rows: int = 0


class LedgerWriter:
    """The workbook in openpyxl's write-only mode: rows go to each sheet's temporary file as they
    come (全部意见 and the row's theme sheet), the summary is written last, so memory stays flat.
    Column widths follow the first chunk of rows."""

    def __init__(self, real_names: bool, theme_order: Sequence[str]) -> None:
        self.wb = Workbook(write_only=True)
        self.header = list(tr.LEDGER_HEADER)
        if real_names:
            self.header.insert(self.header.index("反映人") + 1, tr.CONTACT_HEADER)
        self.real_names = real_names
        self.theme_order = list(theme_order)
        self.summary = self.wb.create_sheet(tr.SUMMARY_SHEET)
        self.used = {tr.SUMMARY_SHEET, tr.ALL_SHEET}
        self.all = _Sheet(self.wb.create_sheet(tr.ALL_SHEET))
        self.by_theme: dict[str, _Sheet] = {}
        self.widths: list[float] | None = None
        self.styles = self._column_styles()
        self.tally = Tally()

    def _column_styles(self) -> list[StyleArray]:
        """One style per column (alignment, date format), registered once, copied per cell."""
        styles = []
        for name in self.header:
            probe = WriteOnlyCell(self.all.ws)
            probe.alignment = WRAP if name in WIDTH_LIMITS else TOP
            if name in DATE_COLUMNS:
                probe.number_format = DATE_COLUMNS[name]
            styles.append(StyleArray(probe._style))
        return styles

    def values(self, r: LedgerRow) -> list[object]:
        values: list[object] = [r.ref_no, r.received, r.resident]
        if self.real_names:
            values.append(r.contact)
        return [
            *values,
            r.theme_label,
            r.text,
            r.assignee,
            r.deadline,
            r.status,
            r.progress,
            r.outcome,
            r.satisfaction,
        ]

    def add(self, rows: Sequence[LedgerRow]) -> None:
        if self.widths is None:
            self.widths = self._widths(rows)
            self._start(self.all)
        for r in rows:
            self.tally.add(r)
            values = self.values(r)
            self._append(self.all, values)
            sheet = self.by_theme.get(r.theme_label)
            if sheet is None:
                sheet = self.by_theme[r.theme_label] = self._theme_sheet(r.theme_label)
            self._append(sheet, values)

    def _append(self, sheet: _Sheet, values: list[object]) -> None:
        ws = sheet.ws
        sheet.ws.append([_cell(ws, v, st) for v, st in zip(values, self.styles, strict=True)])
        sheet.rows += 1

    def _theme_sheet(self, label: str) -> _Sheet:
        sheet = _Sheet(self.wb.create_sheet(_sheet_title(label, self.used)))
        self._start(sheet)
        return sheet

    def _widths(self, rows: Sequence[LedgerRow]) -> list[float]:
        widths = [_display_width(h) for h in self.header]
        for r in rows:
            for i, value in enumerate(self.values(r)):
                widths[i] = max(widths[i], _display_width(value))
        out: list[float] = []
        for name, w in zip(self.header, widths, strict=True):
            lo, hi = WIDTH_LIMITS.get(name, DEFAULT_WIDTH_LIMITS)
            out.append(min(max(w + 2, lo), hi))
        return out

    def _start(self, sheet: _Sheet) -> None:
        """Widths, frozen header and the header row: all before the sheet's first row."""
        ws = sheet.ws
        for col, width in enumerate(self.widths or [], 1):
            ws.column_dimensions[get_column_letter(col)].width = width
        ws.freeze_panes = "B2"
        centered = []
        for name in self.header:
            cell = _header_cell(ws, name)
            cell.alignment = Alignment(vertical="center")
            centered.append(cell)
        ws.append(centered)

    def finish(self, station_name: str, generated: datetime, target: str | IO[bytes]) -> None:
        """Write the summary, put the theme sheets in the taxonomy's order, save."""
        if self.widths is None:
            self.widths = self._widths([])
            self._start(self.all)
        order = {label: i for i, label in enumerate(self.theme_order)}
        labels = sorted(self.by_theme, key=lambda t: (order.get(t, len(order)), t))
        for i, label in enumerate(labels):
            ws = self.by_theme[label].ws
            self.wb.move_sheet(ws.title, 2 + i - self.wb.worksheets.index(ws))
        last = get_column_letter(len(self.header))
        for sheet in (self.all, *self.by_theme.values()):
            sheet.ws.auto_filter.ref = f"A1:{last}{max(sheet.rows + 1, 1)}"
        write_summary(self.summary, station_name, generated, self.tally, self.real_names, labels)
        self.wb.save(target)


def write_summary(
    ws: Any,
    station_name: str,
    generated: datetime,
    tally: Tally,
    real_names: bool,
    theme_labels: Sequence[str],
) -> None:
    """汇总: the station, the theme × status table with totals, and the satisfaction counts."""
    ws.column_dimensions["A"].width = (
        max([_display_width(tr.SUMMARY_RATE)] + [_display_width(t) for t in theme_labels]) + 2
    )
    statuses = [st.value for st in Status if tally.statuses[status_name(st)]]
    header = [tr.SUMMARY_THEME_HEADER[0], *[status_name(st) for st in statuses], "合计"]
    for col in range(2, len(header) + 1):
        ws.column_dimensions[get_column_letter(col)].width = 12
    for label, value in tr.summary_rows(station_name, generated, tally.total, real_names):
        ws.append([_header_cell(ws, label, fill=False), _cell(ws, value)])
    ws.append([])
    ws.append([_header_cell(ws, name) for name in header])
    for label in theme_labels:
        counts = [tally.cross[(label, status_name(st))] for st in statuses]
        ws.append([_cell(ws, label), *counts, tally.themes[label]])
    totals = [tally.statuses[status_name(st)] for st in statuses]
    ws.append([_header_cell(ws, "合计", fill=False), *totals, tally.total])
    ws.append([])
    _write_satisfaction(ws, tally.satisfaction)


def _write_satisfaction(ws: Any, sat: Counter[str]) -> None:
    """Satisfaction of the opinions in the ledger (their latest rating) and the rate."""
    ws.append([_header_cell(ws, name) for name in tr.SUMMARY_SATISFACTION_HEADER])
    for key, label in tr.SATISFACTION_LABELS.items():
        ws.append([label, sat.get(key, 0)])
    rated = sat["satisfied"] + sat["basic"] + sat["unsatisfied"]
    if rated:
        rate = WriteOnlyCell(ws, (sat["satisfied"] + sat["basic"]) / rated)
        rate.number_format = "0.0%"
    else:
        rate = WriteOnlyCell(ws, "—")
    ws.append([_header_cell(ws, tr.SUMMARY_RATE, fill=False), rate])


def build_workbook(
    station_name: str,
    generated: datetime,
    rows: Sequence[LedgerRow],
    real_names: bool,
    theme_order: Sequence[str],
    progress: Progress | None = None,
) -> bytes:
    """The .xlsx: 汇总, 全部意见, then one sheet per theme (in the taxonomy's order)."""
    writer = LedgerWriter(real_names, theme_order)
    writer.add(rows)
    buf = io.BytesIO()
    writer.finish(station_name, generated, buf)
    if progress is not None:
        progress(tr.CLI_STAGE_EXPORT, len(rows), len(rows))
    return buf.getvalue()
