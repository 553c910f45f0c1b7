"""The three rates of 接诉即办 (响应率, 解决率, 满意率), per case, as SQL aggregates.

Definitions (docs/casework.md):
- 响应率: of the tasks assigned (交办) in the period, the share signed (签收) within the
  station's response limit (default 1 working day after 交办). A case assigned twice counts
  each assignment; the limit is checked against the working-day calendar.
- 解决率: of the cases closed (办结) in the period (a case once: its latest closure), the share
  whose outcome counts as solved (default A; a station may count A and B).
- 满意率: of the cases whose final rating (the resident's latest, or the rating staff recorded
  on the phone) was given in the period, the share 满意 or 基本满意. 未评价 is no answer and
  stays out. A case rated 不满意 and then 满意 counts once, as 满意.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Opinion, Rating

RATED_KEYS = ("satisfied", "basic", "unsatisfied")


def _in(column: Any, lo: datetime | None, hi: datetime | None) -> list[Any]:
    conds: list[Any] = []
    if lo is not None:
        conds.append(column >= lo)
    if hi is not None:
        conds.append(column < hi)
    return conds


def final_ratings() -> Any:
    """The id of each case's final rating: the latest of its resident's (or recorded) ones."""
    return (
        select(func.max(Rating.id))
        .join(Opinion, Opinion.id == Rating.opinion_id)
        .where(or_(Rating.user_id == Opinion.resident_id, Opinion.resident_id.is_(None)))
        .group_by(Rating.opinion_id)
    )


async def final_rating_counts(
    s: AsyncSession, station_id: int, lo: datetime | None, hi: datetime | None
) -> dict[str, int]:
    """Cases by their final rating, for final ratings given in [lo, hi)."""
    rows = await s.execute(
        select(Rating.value, func.count(Rating.id))
        .join(Opinion, Opinion.id == Rating.opinion_id)
        .where(
            Opinion.station_id == station_id,
            Rating.id.in_(final_ratings()),
            *_in(Rating.at, lo, hi),
        )
        .group_by(Rating.value)
    )
    return {str(value): int(n) for value, n in rows.all()}
