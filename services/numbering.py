"""Reference numbers: the per-station, per-year counter every way in (chat, import) shares."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import RefCounter
from storage.upsert import insert_for


async def next_seq(s: AsyncSession, station_id: int, year: int) -> int:
    """Bump the counter in one atomic INSERT … ON CONFLICT DO UPDATE … RETURNING."""
    stmt = (
        insert_for(s, RefCounter)
        .values(station_id=station_id, year=year, last_seq=1)
        .on_conflict_do_update(
            index_elements=["station_id", "year"],
            set_={"last_seq": RefCounter.last_seq + 1},
        )
        .returning(RefCounter.last_seq)
    )
    return int((await s.execute(stmt)).scalar_one())
