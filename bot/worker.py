"""`liaison-bot dispatch`: the clock without the chat: plans reminders and drains the outbox.

For deployments that receive updates by webhook on several instances, one or more workers can run
the clock; they share nothing but the database (claims use FOR UPDATE SKIP LOCKED and a lease).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import func, select

from bot.app import build_core
from bot.config import Settings
from domain.clock import Clock
from services.kernel.context import Classifier, ServiceContext
from storage.models import Outbox
from storage.queries.outbox import ACTIVE

log = logging.getLogger(__name__)


async def pending_count(ctx: ServiceContext) -> int:
    async with ctx.sessions() as s:
        return int((await s.execute(select(func.count(Outbox.id)).where(ACTIVE))).scalar_one())


async def run_worker(
    settings: Settings, classifier: Classifier, clock: Clock, *, until_idle: bool = False
) -> int:
    """Tick until stopped (or, with until_idle, until nothing is pending); returns rows sent."""
    core = build_core(settings, classifier, clock)
    await core.start()
    try:
        while True:
            await core.tick()
            if until_idle and await pending_count(core.ctx) == 0:
                return core.dispatcher.sent
            await asyncio.sleep(settings.tick_seconds)
    finally:
        await core.close()
