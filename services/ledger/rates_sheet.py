"""The ledger workbook's 三率 sheet: the three rates for the exported period, per assignee in
ranking order, then the station's total (definitions: docs/casework.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import texts.rates as rtx
from services.kernel.context import ServiceContext
from services.kernel.settings import policy_for
from services.ledger.xlsx import Sheet, Style
from services.reports import daily
from services.reports.rates_view import sheet_rows

RATE_COLUMNS = (5, 8, 11)  # 响应率, 解决率, 满意率 (0-based)


async def rates_rows(
    ctx: ServiceContext, station_id: int, lo: datetime | None = None, hi: datetime | None = None
) -> list[list[Any]]:
    today = ctx.clock.now().astimezone(ctx.tz).date()
    async with ctx.sessions.begin() as s:  # brings report_days up to date
        policy = await policy_for(s, ctx, station_id)
        return sheet_rows(await daily.rates(s, ctx, station_id, lo, hi, today, policy))


def rates_sheet(rows: Sequence[Sequence[Any]]) -> Sheet:
    sheet = Sheet(rtx.RATES_SHEET, [6, 20, 10] + [9] * 10, freeze="A2")
    sheet.append(rtx.RATES_COLUMNS, Style.HEADER)
    styles = [Style.PERCENT if i in RATE_COLUMNS else Style.PLAIN for i in range(13)]
    for row in rows:
        sheet.append(row, styles)
    return sheet
