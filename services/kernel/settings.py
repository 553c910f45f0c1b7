"""A station's casework policy: the defaults (ServiceContext.casework) with its overrides."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.context import ServiceContext
from services.kernel.policy import CaseworkPolicy
from storage.models import Station


async def policy_for(s: AsyncSession, ctx: ServiceContext, station_id: int) -> CaseworkPolicy:
    station = await s.get(Station, station_id)
    return ctx.casework.with_overrides(station.settings if station is not None else None)


async def override(s: AsyncSession, station_id: int, **values: Any) -> None:
    """Store overrides (see CaseworkPolicy.with_overrides for the keys)."""
    station = await s.get(Station, station_id)
    if station is None:
        raise LookupError(f"no station {station_id}")
    station.settings = {**(station.settings or {}), **values}
