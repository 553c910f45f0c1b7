"""Application assembly: settings + database + classifier + handlers + clock, wired once."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
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
    SimpleUpdateProcessor,
)

from bot.channels import SideChannel, side_channels
from bot.concurrency import PerChatUpdateProcessor
from bot.config import Settings
from bot.context import make_context
from bot.runtime import settle_heap
from bot.transport import make_request
from domain.channels import Channel
from domain.clock import Clock
from domain.workdays import WorkCalendar
from handlers.telegram.app import publish_commands, register
from handlers.telegram.inbox import (
    DurableUpdates,
    InboxBot,
    InboxProcessor,
    TelegramInbox,
    UpdateIntake,
)
from handlers.telegram.outbound import TELEGRAM_LIMITS, TelegramOutbound
from scheduler.clock import ClockTick
from scheduler.dispatcher import Dispatcher
from services.casework import CaseworkService
from services.inbound.router import Router
from services.kernel.context import Classifier, ServiceContext
from services.kernel.inbox import Inbox
from services.kernel.outbox import on_commit_with_outbox
from services.kernel.reply_gate import Replies
from services.kernel.retention import prune_outbox
from services.reminders import ReminderPlanner, ReminderPolicy

log = logging.getLogger(__name__)


@dataclass
class Assembly:
    app: Application  # type: ignore[type-arg]
    ctx: ServiceContext
    dispatcher: Dispatcher
    intake: UpdateIntake  # raw updates into the inbox (the webhook endpoint stores through it)


@dataclass
class Core:
    """Everything below Telegram's update handling: shared by `run` and `dispatch`."""

    engine: AsyncEngine
    ctx: ServiceContext
    calendar: WorkCalendar
    bulk_bot: ExtBot[None]
    dispatcher: Dispatcher
    planner: ReminderPlanner
    casework: CaseworkService
    side: list[SideChannel] = field(default_factory=list)  # DingTalk, … beside Telegram
    outbox_retention: timedelta = timedelta(days=90)

    async def start(self) -> None:
        """Before serving: the signing secret from the database, the bulk bot's connection."""
        await self.ctx.prepare()
        indexed = await self.ctx.duplicates.warm(self.ctx.sessions)
        log.info("duplicate finder: %d open opinions indexed", indexed)
        await self.bulk_bot.initialize()

    async def tick(self) -> None:
        """One clock tick: the clock only asks the database what is due.

        Each step runs even when another failed (logged): a bad row in one must not stop
        reminders and deliveries for everybody.
        """
        await self.clock_tick().run()

    def clock_tick(self) -> ClockTick:
        return ClockTick(
            [
                ("expire ratings", self.casework.expire_ratings),
                ("open opinions", self.catch_up_duplicates),
                ("plan", self.planner.plan),
                ("drain", self.dispatcher.tick),
                *((f"{c.name} inbox", c.tick) for c in self.side),
                ("prune outbox", self.prune_outbox),
            ]
        )

    async def catch_up_duplicates(self) -> int:
        """Open opinions other processes took in, into this process's duplicate finder."""
        return await self.ctx.duplicates.catch_up(self.ctx.sessions)

    async def prune_outbox(self) -> int:
        return await prune_outbox(self.ctx, self.outbox_retention)

    async def close(self) -> None:
        """After serving: the channels beside Telegram, the bulk bot, the database."""
        for channel in self.side:
            await channel.close()
        await self.bulk_bot.shutdown()
        await self.engine.dispose()


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
    bulk_bot: ExtBot[None] = ExtBot(
        settings.bot_token,
        base_url=settings.telegram_base_url,
        base_file_url=settings.base_file_url,
        defaults=defaults_for(settings),
        # The dispatcher paces bulk sends itself (evenly spaced overall slots, 20/min per group,
        # 1/s per private chat) before each send and inside the row's lease, and a 429 hands
        # the row back with its retry_after (Retry): no rate limiter here, whose retries slept
        # past the lease while another dispatcher sent the same row.
        request=make_request(settings.telegram_http_client, pool_size=64),
    )
    limits = replace(TELEGRAM_LIMITS, overall_per_second=settings.bulk_rate_per_second)
    side = side_channels(settings, ctx)
    dispatcher = Dispatcher(
        ctx,
        [TelegramOutbound(bulk_bot, limits), *(c.outbound for c in side)],
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
    return Core(
        engine,
        ctx,
        calendar,
        bulk_bot,
        dispatcher,
        planner,
        CaseworkService(ctx),
        side,
        timedelta(days=settings.outbox_retention_days),
    )


def build(settings: Settings, classifier: Classifier, clock: Clock) -> Assembly:
    """Build the PTB application; services start in post_init like PTB's own examples."""
    core = build_core(settings, classifier, clock)
    ctx = core.ctx
    # Every update is stored before Telegram hears it was received (the bot's getUpdates, the
    # webhook endpoint), marked done when handled (the processor), each reply recorded as it
    # is sent (the reply gate); the clock hands back what a dead process left unfinished.
    inbox = Inbox(ctx, Channel.TELEGRAM, lease=timedelta(seconds=settings.inbox_lease_seconds))
    intake = UpdateIntake(inbox)
    processor = InboxProcessor(
        PerChatUpdateProcessor(settings.concurrent_updates)
        if settings.concurrent_updates > 1
        else SimpleUpdateProcessor(1),
        inbox,
    )
    recovery = TelegramInbox(inbox, intake, keep=timedelta(hours=settings.inbox_keep_hours))
    bot = InboxBot(
        settings.bot_token,
        intake,
        base_url=settings.telegram_base_url,
        base_file_url=settings.base_file_url,
        defaults=defaults_for(settings),
        request=make_request(settings.telegram_http_client, pool_size=256),
        get_updates_request=make_request(settings.telegram_http_client, pool_size=1),
        # Replies to the person who just wrote are not bulk traffic: only retries on 429 apply
        # to them. Bulk sends (outbox) use their own bot with the 30/s limit and pacing.
        rate_limiter=AIORateLimiter(overall_max_rate=0, max_retries=3),
    )
    app = (
        ApplicationBuilder()
        .bot(bot)
        .update_queue(DurableUpdates(intake))
        .concurrent_updates(processor)
        .build()
    )
    app.bot_data["replies"] = Replies(inbox, settings.replies_in_flight)
    router = Router.build(ctx)
    register(app, router)
    app.add_error_handler(processor.note_error)

    async def tick(_: ContextTypes.DEFAULT_TYPE) -> None:
        await core.tick()

    async def recover(_: ContextTypes.DEFAULT_TYPE) -> None:
        await recovery.recover(app)

    async def post_init(application: Application) -> None:  # type: ignore[type-arg]
        await core.start()
        for channel in core.side:
            channel.serve(router)
            log.info("channel %s started beside Telegram", channel.name)
        await publish_commands(application)
        assert application.job_queue is not None, "install python-telegram-bot[job-queue]"
        application.job_queue.run_repeating(
            tick, interval=settings.tick_seconds, first=0.2, name="clock"
        )
        application.job_queue.run_repeating(
            recover, interval=settings.tick_seconds, first=0.1, name="inbox"
        )
        settle_heap()
        log.info("liaison-bot started as @%s", application.bot.username)

    async def post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
        await core.close()

    async def post_stop(application: Application) -> None:  # type: ignore[type-arg]
        await recovery.release()

    app.post_init = post_init
    app.post_stop = post_stop
    app.post_shutdown = post_shutdown
    return Assembly(app, ctx, core.dispatcher, intake)
