"""The ledger workbook: 汇总, 全部意见, then one sheet per theme, written as the rows stream."""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO

from openpyxl.utils import get_column_letter

import texts.ledger as tl
import texts.reports as tr
from domain.lifecycle import Status
from services.ledger.rows import LedgerRow, clean
from services.ledger.xlsx import Sheet, Style, cells_xml, save
from texts.common import status_name

Progress = Callable[[str, int, int], None]

# Column widths in Excel character units: (minimum, maximum).
WIDTH_LIMITS = {"意见内容": (30, 60), "办理进展": (24, 50)}
DEFAULT_WIDTH_LIMITS = (8, 30)
DATE_COLUMNS = {"受理日期": Style.DATETIME, "办理期限": Style.DATE}
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
    base = INVALID_SHEET_CHARS.sub("_", name).strip("'") or tl.OTHER_THEME
    base = base[:31]
    title, n = base, 2
    while title in used:
        suffix = f"({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(title)
    return title


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


class LedgerWriter:
    """Rows go to 全部意见 and to their theme's sheet as they come (each sheet streams to a
    temporary file, services.ledger.xlsx); the summary is written last and put first, the theme
    sheets in the taxonomy's order. Column widths follow the first chunk of rows."""

    def __init__(self, real_names: bool, theme_order: Sequence[str]) -> None:
        self.header = list(tl.LEDGER_HEADER)
        if real_names:
            self.header.insert(self.header.index("反映人") + 1, tl.CONTACT_HEADER)
        self.real_names = real_names
        self.theme_order = list(theme_order)
        self.used = {tl.SUMMARY_SHEET, tl.ALL_SHEET}
        self.all: Sheet | None = None
        self.by_theme: dict[str, Sheet] = {}
        self.widths: list[float] = []
        self.styles = [
            DATE_COLUMNS.get(name, Style.WRAP if name in WIDTH_LIMITS else Style.TOP)
            for name in self.header
        ]
        self.tally = Tally()

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
        if self.all is None:
            self.widths = self._widths(rows)
            self.all = self._sheet(tl.ALL_SHEET)
        for r in rows:
            self.tally.add(r)
            values = [clean(v) if isinstance(v, str) else v for v in self.values(r)]
            cells = cells_xml(values, self.styles)  # formatted once, written to both sheets
            self.all.write_row(cells)
            sheet = self.by_theme.get(r.theme_label)
            if sheet is None:
                title = _sheet_title(r.theme_label, self.used)
                sheet = self.by_theme[r.theme_label] = self._sheet(title)
            sheet.write_row(cells)

    def _sheet(self, title: str) -> Sheet:
        sheet = Sheet(title, self.widths, freeze="B2")
        sheet.append(self.header, Style.HEADER)
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

    def finish(
        self,
        station_name: str,
        generated: datetime,
        target: str | IO[bytes],
        rates: Sequence[Sequence[object]] | None = None,
    ) -> None:
        """Write the summary (and the 三率 sheet) and save the workbook into `target`."""
        if self.all is None:
            self.add([])
        assert self.all is not None
        order = {label: i for i, label in enumerate(self.theme_order)}
        labels = sorted(self.by_theme, key=lambda t: (order.get(t, len(order)), t))
        last = get_column_letter(len(self.header))
        for sheet in (self.all, *self.by_theme.values()):
            sheet.auto_filter = f"A1:{last}{max(sheet.rows, 1)}"
        summary = summary_sheet(station_name, generated, self.tally, self.real_names, labels)
        sheets = [summary, self.all, *(self.by_theme[label] for label in labels)]
        if rates is not None:
            from services.ledger.rates_sheet import rates_sheet

            sheets.append(rates_sheet(rates))
        save(sheets, target)

    def discard(self) -> None:
        """Remove the temporary files of a workbook that will not be saved."""
        for sheet in (self.all, *self.by_theme.values()):
            if sheet is not None:
                sheet.discard()


def summary_sheet(
    station_name: str,
    generated: datetime,
    tally: Tally,
    real_names: bool,
    theme_labels: Sequence[str],
) -> Sheet:
    """汇总: the station, the theme × status table with totals, and the satisfaction counts."""
    statuses = [st.value for st in Status if tally.statuses[status_name(st)]]
    header = [tl.SUMMARY_THEME_HEADER[0], *[status_name(st) for st in statuses], "合计"]
    first = max([_display_width(tl.SUMMARY_RATE)] + [_display_width(t) for t in theme_labels]) + 2
    ws = Sheet(tl.SUMMARY_SHEET, [first] + [12] * (len(header) - 1))
    for label, value in tl.summary_rows(station_name, generated, tally.total, real_names):
        ws.append([label, clean(value)], [Style.BOLD, Style.PLAIN])
    ws.append([])
    ws.append(header, Style.HEADER)
    for label in theme_labels:
        counts = [tally.cross[(label, status_name(st))] for st in statuses]
        ws.append([clean(label), *counts, tally.themes[label]])
    totals = [tally.statuses[status_name(st)] for st in statuses]
    ws.append(["合计", *totals, tally.total], [Style.BOLD] + [Style.PLAIN] * (len(header) - 1))
    ws.append([])
    _write_satisfaction(ws, tally.satisfaction)
    return ws


def _write_satisfaction(ws: Sheet, sat: Counter[str]) -> None:
    """Satisfaction of the opinions in the ledger (their latest rating) and the rate."""
    ws.append(tl.SUMMARY_SATISFACTION_HEADER, Style.HEADER)
    for key, label in tr.SATISFACTION_LABELS.items():
        ws.append([label, sat.get(key, 0)])
    rated = sat["satisfied"] + sat["basic"] + sat["unsatisfied"]
    if rated:
        ws.append(
            [tl.SUMMARY_RATE, (sat["satisfied"] + sat["basic"]) / rated],
            [Style.BOLD, Style.PERCENT],
        )
    else:
        ws.append([tl.SUMMARY_RATE, "—"], [Style.BOLD, Style.PLAIN])


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
        progress(tl.CLI_STAGE_EXPORT, len(rows), len(rows))
    return buf.getvalue()
