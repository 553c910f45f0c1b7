"""The station's ledger in Excel (rows, workbook) and offline opinions imported (importer)."""

from services.ledger.importer import ImportFileError, ImportResult, check_rows, read_table
from services.ledger.rows import Export, LedgerRow, load_ledger_rows, mask_name
from services.ledger.service import LedgerService
from services.ledger.workbook import build_workbook

__all__ = [
    "Export",
    "ImportFileError",
    "ImportResult",
    "LedgerRow",
    "LedgerService",
    "build_workbook",
    "check_rows",
    "load_ledger_rows",
    "mask_name",
    "read_table",
]
