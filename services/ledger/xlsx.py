"""A streaming .xlsx writer for the ledger: each sheet's rows are written as XML text to a
temporary file as they come, and the files are zipped into the workbook at the end.

openpyxl's write-only mode streams too, but builds a cell object and an XML element for every
value: at a million rows (two sheets each) that was over an hour of CPU here. This writer only
formats strings, so memory stays flat and time grows with the bytes written. It knows the few
things the ledger uses: inline strings, numbers, dates, a handful of fixed styles, column widths,
a frozen header and an auto filter. openpyxl and Excel read the result (tests/test_ledger.py).
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import IO
from xml.sax.saxutils import quoteattr

from openpyxl.utils.datetime import to_excel


class Style:
    """Cell formats (indexes into styles.xml's cellXfs below)."""

    PLAIN = 0
    HEADER = 1  # bold on a blue fill, vertically centred
    BOLD = 2
    TOP = 3
    WRAP = 4  # wrapped, top
    DATETIME = 5  # yyyy-mm-dd hh:mm, top
    DATE = 6  # yyyy-mm-dd, top
    PERCENT = 7  # 0.0%


STYLES_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="3"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd"/><numFmt numFmtId="166" formatCode="0.0%"/>'
    "</numFmts>"
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="00DDEBF7"/><bgColor rgb="00DDEBF7"/>'
    "</patternFill></fill></fills>"
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="8">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1"'
    ' applyAlignment="1"><alignment vertical="center"/></xf>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1">'
    '<alignment vertical="top"/></xf>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1">'
    '<alignment vertical="top" wrapText="1"/></xf>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"'
    ' applyAlignment="1"><alignment vertical="top"/></xf>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"'
    ' applyAlignment="1"><alignment vertical="top"/></xf>'
    '<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"


def cell_xml(value: object, style: int) -> str:
    """One <c> element, positioned by its order in the row (no reference, so one row's cells
    serve every sheet it goes to)."""
    s = f' s="{style}"' if style else ""
    if isinstance(value, str) and value:
        text = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        keep = ' xml:space="preserve"' if "\n" in text or text != text.strip() else ""
        return f'<c{s} t="inlineStr"><is><t{keep}>{text}</t></is></c>'
    if value is None or value == "":
        return f"<c{s}/>"  # an empty cell, as openpyxl writes "" too
    if isinstance(value, bool):
        return f'<c{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        return f"<c{s}><v>{value!r}</v></c>"
    if isinstance(value, (datetime, date)):
        return f"<c{s}><v>{to_excel(value)!r}</v></c>"
    return cell_xml(str(value), style)


def cells_xml(values: Iterable[object], styles: Sequence[int] | int = 0) -> str:
    if isinstance(styles, int):
        return "".join(cell_xml(v, styles) for v in values)
    return "".join(cell_xml(v, st) for v, st in zip(values, styles, strict=False))


class Sheet:
    """One worksheet, its rows streamed to a temporary file."""

    def __init__(self, title: str, widths: Sequence[float] = (), freeze: str | None = None):
        self.title = title
        self.rows = 0
        self.auto_filter: str | None = None
        fd, self.path = tempfile.mkstemp(prefix="ledger-sheet-", suffix=".xml")
        self.out: IO[str] = os.fdopen(fd, "w", encoding="utf-8", buffering=1 << 20)
        self.out.write(
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
        )
        self.out.write(_views(freeze) + _cols(widths) + "<sheetData>")

    def append(self, values: Iterable[object], styles: Sequence[int] | int = 0) -> None:
        self.write_row(cells_xml(values, styles))

    def write_row(self, cells: str) -> None:
        """A row of cells already formatted by `cells_xml`."""
        self.rows += 1
        self.out.write(f'<row r="{self.rows}">{cells}</row>')

    def close(self) -> None:
        tail = "</sheetData>"
        if self.auto_filter:
            tail += f'<autoFilter ref="{self.auto_filter}"/>'
        self.out.write(tail + "</worksheet>")
        self.out.close()

    def discard(self) -> None:
        if not self.out.closed:
            self.out.close()
        os.unlink(self.path)


def _views(freeze: str | None) -> str:
    if not freeze:
        return '<sheetViews><sheetView workbookViewId="0"/></sheetViews>'
    col = "".join(ch for ch in freeze if ch.isalpha())
    row = int("".join(ch for ch in freeze if ch.isdigit()))
    x = f' xSplit="{_col_index(col) - 1}"' if _col_index(col) > 1 else ""
    y = f' ySplit="{row - 1}"' if row > 1 else ""
    return (
        f'<sheetViews><sheetView workbookViewId="0"><pane{x}{y} topLeftCell="{freeze}"'
        ' activePane="bottomRight" state="frozen"/>'
        f'<selection pane="bottomRight" activeCell="{freeze}" sqref="{freeze}"/>'
        "</sheetView></sheetViews>"
    )


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch.upper()) - 64
    return n


def _cols(widths: Sequence[float]) -> str:
    if not widths:
        return ""
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>' for i, w in enumerate(widths, 1)
    )
    return f"<cols>{cols}</cols>"


def save(sheets: Sequence[Sheet], target: str | IO[bytes]) -> None:
    """Close the sheets and zip them, in this order, into the workbook; the temp files go."""
    try:
        for sheet in sheets:
            sheet.close()
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
            for name, text in _package(sheets):
                z.writestr(name, text)
            for i, sheet in enumerate(sheets, 1):
                z.write(sheet.path, f"xl/worksheets/sheet{i}.xml")
    finally:
        for sheet in sheets:
            sheet.discard()


def _package(sheets: Sequence[Sheet]) -> list[tuple[str, str]]:
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{SHEET_TYPE}"/>'
        for i in range(1, len(sheets) + 1)
    )
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    types = (
        f'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{ct}.sheet.main+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{ct}.styles+xml"/>'
        f"{overrides}</Types>"
    )
    office = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    root_rels = (
        f'<Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1" '
        f'Type="{office}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    entries = "".join(
        f'<sheet name={quoteattr(s.title)} sheetId="{i}" r:id="rId{i}"/>'
        for i, s in enumerate(sheets, 1)
    )
    workbook = (
        f'<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><sheets>{entries}</sheets></workbook>'
    )
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{office}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    n = len(sheets) + 1
    rels += f'<Relationship Id="rId{n}" Type="{office}/styles" Target="styles.xml"/>'
    return [
        ("[Content_Types].xml", head + types),
        ("_rels/.rels", head + root_rels),
        ("xl/workbook.xml", head + workbook),
        (
            "xl/_rels/workbook.xml.rels",
            head + f'<Relationships xmlns="{PKG_REL_NS}">{rels}</Relationships>',
        ),
        ("xl/styles.xml", STYLES_XML),
    ]
