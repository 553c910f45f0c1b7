"""One place that turns settings into the services' context: `run`, `dispatch` and every CLI
command build it here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from domain.clock import Clock
from domain.workdays import WorkCalendar
from services.kernel.actions import ActionCodec
from services.kernel.context import Classifier, Limits, ServiceContext, StationDefaults
from storage.db import make_engine, make_sessionmaker


@dataclass
class AppContext:
    ctx: ServiceContext
    engine: AsyncEngine

    async def close(self) -> None:
        await self.engine.dispose()


def make_context(settings: Settings, classifier: Classifier, clock: Clock) -> AppContext:
    """Engine, sessions and the ServiceContext; `await app.ctx.prepare()` before serving."""
    engine = make_engine(settings.database_url)
    secret = bytes.fromhex(settings.action_secret) if settings.action_secret else None
    ctx = ServiceContext(
        sessions=make_sessionmaker(engine),
        classifier=classifier,
        tz=settings.tz,
        clock=clock,
        station=StationDefaults(settings.station_code, settings.station_name, settings.ref_prefix),
        limits=Limits(
            settings.opinions_per_hour,
            settings.min_opinion_chars,
            settings.max_opinion_chars,
            timedelta(minutes=settings.prompt_ttl_minutes),
            chart_wait=settings.chart_wait_seconds,
        ),
        admin_ids=settings.admin_ids,
        calendar=WorkCalendar.from_file(settings.holidays_file),
        actions=ActionCodec(secret),
    )
    return AppContext(ctx, engine)
