"""The ledger workbook's 三率 sheet: the three rates, all time, per assignee in ranking order,
then the station's total (definitions: docs/casework.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.ext.asyncio import AsyncSession

import texts.rates as rtx
from services.kernel.context import ServiceContext
from services.kernel.settings import policy_for
from services.reports.rates import compute_rates
from services.reports.rates_view import sheet_rows

RATE_COLUMNS = (6, 9, 12)  # 响应率, 解决率, 满意率 (1-based)


async def rates_rows(s: AsyncSession, ctx: ServiceContext, station_id: int) -> list[list[Any]]:
    today = ctx.clock.now().astimezone(ctx.tz).date()
    policy = await policy_for(s, ctx, station_id)
    return sheet_rows(await compute_rates(s, station_id, None, None, today, policy))


def write_rates_sheet(ws: Worksheet, rows: Sequence[Sequence[Any]]) -> None:
    fill = PatternFill("solid", fgColor="DDEBF7")
    for col, name in enumerate(rtx.RATES_COLUMNS, start=1):
        cell = ws.cell(row=1, column=col, value=name)
        cell.font = Font(bold=True)
        cell.fill = fill
    for r, values in enumerate(rows, start=2):
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row=r, column=col, value=value)
            if col in RATE_COLUMNS and value is not None:
                cell.number_format = "0.0%"
    ws.column_dimensions["B"].width = 20
    ws.freeze_panes = "A2"
