"""Application assembly: settings + database + classifier + handlers + clock, wired once."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ContextTypes,
    Defaults,
    ExtBot,
)

from bot.concurrency import PerChatUpdateProcessor
from bot.config import Settings
from bot.context import make_context
from bot.runtime import settle_heap
from bot.transport import make_request
from domain.clock import Clock
from domain.workdays import WorkCalendar
from handlers.telegram.app import publish_commands, register
from handlers.telegram.outbound import TELEGRAM_LIMITS, TelegramOutbound
from scheduler.dispatcher import Dispatcher
from services.casework import CaseworkService
from services.inbound.router import Router
from services.kernel.context import Classifier, ServiceContext
from services.kernel.outbox import on_commit_with_outbox
from services.reminders import ReminderPlanner, ReminderPolicy

log = logging.getLogger(__name__)


@dataclass
class Assembly:
    app: Application  # type: ignore[type-arg]
    ctx: ServiceContext
    dispatcher: Dispatcher


@dataclass
class Core:
    """Everything below Telegram's update handling: shared by `run` and `dispatch`."""

    engine: AsyncEngine
    ctx: ServiceContext
    calendar: WorkCalendar
    bulk_bot: ExtBot[int]
    dispatcher: Dispatcher
    planner: ReminderPlanner
    casework: CaseworkService

    async def start(self) -> None:
        """Before serving: the signing secret from the database, the bulk bot's connection."""
        await self.ctx.prepare()
        indexed = await self.ctx.duplicates.warm(self.ctx.sessions)
        log.info("duplicate finder: %d open opinions indexed", indexed)
        await self.bulk_bot.initialize()

    async def tick(self) -> None:
        """One clock tick: the clock only asks the database what is due."""
        await self.casework.expire_ratings()
        await self.ctx.duplicates.catch_up(self.ctx.sessions)
        await self.planner.plan()
        await self.dispatcher.tick()


def defaults_for(settings: Settings) -> Defaults:
    return Defaults(
        parse_mode=ParseMode.HTML,
        tzinfo=settings.tz,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )


def build_core(settings: Settings, classifier: Classifier, clock: Clock) -> Core:
    app_ctx = make_context(settings, classifier, clock)
    engine, ctx = app_ctx.engine, app_ctx.ctx
    sessions = ctx.sessions
    bulk_bot: ExtBot[int] = ExtBot(
        settings.bot_token,
        base_url=settings.telegram_base_url,
        base_file_url=settings.base_file_url,
        defaults=defaults_for(settings),
        # The dispatcher paces bulk sends itself (evenly spaced overall slots, 20/min per group,
        # 1/s per private chat) before each send and inside the row's lease; PTB's limiter is
        # kept for what it does best here: waiting out a 429 and retrying.
        rate_limiter=AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3),
        request=make_request(settings.telegram_http_client, pool_size=64),
    )
    limits = replace(TELEGRAM_LIMITS, overall_per_second=settings.bulk_rate_per_second)
    dispatcher = Dispatcher(
        ctx,
        [TelegramOutbound(bulk_bot, limits)],
        lease=timedelta(seconds=settings.outbox_lease_seconds),
    )
    on_commit_with_outbox(sessions, dispatcher.kick)
    calendar = ctx.calendar
    planner = ReminderPlanner(
        ctx,
        calendar,
        ReminderPolicy(
            send_time=settings.reminder_time,
            days_before=settings.reminder_days_before,
            report_after=settings.overdue_report_after,
        ),
    )
    return Core(engine, ctx, calendar, bulk_bot, dispatcher, planner, CaseworkService(ctx))


def build(settings: Settings, classifier: Classifier, clock: Clock) -> Assembly:
    """Build the PTB application; services start in post_init like PTB's own examples."""
    core = build_core(settings, classifier, clock)
    ctx = core.ctx
    # Replies to the person who just wrote are not bulk traffic: only retries on 429 apply to
    # them. Bulk sends (outbox) use their own bot with the 30/s limit and per-chat pacing.
    app = (
        ApplicationBuilder()
        .token(settings.bot_token)
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.base_file_url)
        .defaults(defaults_for(settings))
        .request(make_request(settings.telegram_http_client, pool_size=256))
        .get_updates_request(make_request(settings.telegram_http_client, pool_size=1))
        .rate_limiter(AIORateLimiter(overall_max_rate=0, max_retries=3))
        .concurrent_updates(
            PerChatUpdateProcessor(settings.concurrent_updates)
            if settings.concurrent_updates > 1
            else False
        )
        .build()
    )
    register(app, Router.build(ctx))

    async def tick(_: ContextTypes.DEFAULT_TYPE) -> None:
        await core.tick()

    async def post_init(application: Application) -> None:  # type: ignore[type-arg]
        await core.start()
        await publish_commands(application)
        assert application.job_queue is not None, "install python-telegram-bot[job-queue]"
        application.job_queue.run_repeating(
            tick, interval=settings.tick_seconds, first=0.2, name="clock"
        )
        settle_heap()
        log.info("liaison-bot started as @%s", application.bot.username)

    async def post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
        await core.bulk_bot.shutdown()
        await core.engine.dispose()

    app.post_init = post_init
    app.post_shutdown = post_shutdown
    return Assembly(app, ctx, core.dispatcher)
