"""Reference numbers: the per-station, per-year counter every way in (chat, import) shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import RefCounter
from storage.upsert import prebuilt_for

_table = RefCounter.__table__


def _bump(insert: Callable[[Any], Any]) -> Any:
    return (
        insert(_table)
        .values(station_id=bindparam("station_id"), year=bindparam("year"), last_seq=1)
        .on_conflict_do_update(
            index_elements=["station_id", "year"],
            set_={"last_seq": _table.c.last_seq + 1},
        )
        .returning(_table.c.last_seq)
    )


async def next_seq(s: AsyncSession, station_id: int, year: int) -> int:
    """Bump the counter in one atomic INSERT … ON CONFLICT DO UPDATE … RETURNING."""
    result = await s.execute(prebuilt_for(s, _bump), {"station_id": station_id, "year": year})
    return int(result.scalar_one())
