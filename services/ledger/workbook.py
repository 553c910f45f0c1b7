"""The ledger workbook: 汇总, 全部意见, then one sheet per theme."""

from __future__ import annotations

import io
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

import texts.rates as rtx
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
        value = clean(value)
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
    rates: Sequence[Sequence[Any]] | None = None,
) -> bytes:
    """The .xlsx: 汇总, 全部意见, one sheet per theme (in the taxonomy's order), then 三率."""
    wb = Workbook()
    summary = wb.active
    assert summary is not None
    summary.title = tr.SUMMARY_SHEET
    _write_summary(summary, station_name, generated, rows, real_names, theme_order)
    used = {tr.SUMMARY_SHEET, tr.ALL_SHEET, rtx.RATES_SHEET}
    _write_ledger_sheet(wb.create_sheet(tr.ALL_SHEET), rows, real_names, progress)
    by_theme: dict[str, list[LedgerRow]] = defaultdict(list)
    for r in rows:
        by_theme[r.theme_label].append(r)
    order = {label: i for i, label in enumerate(theme_order)}
    for label in sorted(by_theme, key=lambda t: (order.get(t, len(order)), t)):
        ws = wb.create_sheet(_sheet_title(label, used))
        _write_ledger_sheet(ws, by_theme[label], real_names, None)
    if rates is not None:
        from services.ledger.rates_sheet import write_rates_sheet

        write_rates_sheet(wb.create_sheet(rtx.RATES_SHEET), rates)
    buf = io.BytesIO()
    wb.save(buf)
    if progress is not None:
        progress(tr.CLI_STAGE_EXPORT, len(rows), len(rows))
    return buf.getvalue()
