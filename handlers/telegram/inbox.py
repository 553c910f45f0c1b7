"""Telegram updates through the durable inbox (services.kernel.inbox).

An update is in the database before Telegram hears that it arrived, stored as Telegram sent it:
- polling: `InboxBot.get_updates` stores the whole batch in one transaction before it returns
  it to PTB's Updater, whose next getUpdates confirms it;
- webhook: `handlers.telegram.webhook` stores the update before it answers 200.

Only then is it parsed (`UpdateIntake`). One that python-telegram-bot cannot parse (a newer Bot
API shape, say) stays stored raw and is set aside after a few attempts: it is confirmed like any
other, so it never holds up the updates after it. `InboxProcessor` marks an update done once
the handlers are through (the reply itself is recorded as it is sent: services.kernel.reply_gate),
and `TelegramInbox.recover` feeds back what a process that died left unfinished (after its
lease), and what failed, to be handled again — idempotently.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
from collections.abc import Awaitable, Sequence
from datetime import datetime, timedelta
from typing import Any

from telegram import Bot, Update
from telegram._utils.defaultvalue import DEFAULT_NONE, DefaultValue
from telegram._utils.types import ODVInput, TimePeriod
from telegram.error import BadRequest, Forbidden, NetworkError
from telegram.ext import Application, BaseUpdateProcessor, ContextTypes, ExtBot
from telegram.request import BaseRequest

from services.kernel.inbox import Inbox

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=1)
JSON = dict[str, Any]


def key_of(update: Update) -> str:
    return str(update.update_id)


class BatchEnd(Update):
    """Not an update: it only carries the batch's last update_id, so that the Updater confirms
    the whole batch even when its last update is not handled here (stored before, set aside)."""


class UpdateIntake:
    """Store raw updates, then parse what is new; unparseable ones are set aside."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.stored: set[int] = set()  # parsed and stored, on their way to the update queue

    async def take(self, raw: Sequence[JSON], bot: Bot) -> list[Update]:
        """Store a batch (one transaction); the new, parseable updates, to be queued."""
        events = [(str(item.get("update_id")), item) for item in raw]
        try:
            new = await self.inbox.store_many(events)
        except Exception as exc:
            # A TelegramError: PTB's polling loop retries without confirming the batch; the
            # webhook answers 500 and Telegram sends the update again.
            log.exception("could not store %d update(s)", len(events))
            raise NetworkError(f"inbox unavailable: {exc.__class__.__name__}") from exc
        parsed: list[Update] = []
        for key, item in events:
            if key not in new:
                log.info("update %s was stored before: not handled twice", key)
                continue
            update = await self.parse(key, item, bot)
            if update is not None:
                self.stored.add(update.update_id)
                parsed.append(update)
        return parsed

    async def parse(self, key: str, item: JSON, bot: Bot) -> Update | None:
        """The update, or None: it cannot be parsed (recorded as a failed attempt)."""
        try:
            update = Update.de_json(item, bot)
        except Exception as exc:
            log.debug("update %s cannot be parsed", key, exc_info=True)
            await self.inbox.fail(key, f"unparseable update: {exc!r}")
            return None
        if isinstance(bot, ExtBot):
            bot.insert_callback_data(update)
        return update


class InboxBot(ExtBot[Any]):
    """The application's bot: getUpdates answers are stored before the Updater sees them."""

    def __init__(self, token: str, intake: UpdateIntake, **kwargs: Any) -> None:
        super().__init__(token, **kwargs)
        with self._unfrozen():  # PTB objects refuse new attributes once built
            self.intake = intake

    async def get_updates(
        self,
        offset: int | None = None,
        limit: int | None = None,
        timeout: TimePeriod | None = None,  # noqa: ASYNC109 (PTB's signature)
        allowed_updates: Sequence[str] | None = None,
        *,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
        api_kwargs: JSON | None = None,
    ) -> tuple[Update, ...]:
        data: JSON = {
            "timeout": timeout,
            "offset": offset,
            "limit": limit,
            "allowed_updates": allowed_updates,
        }
        raw: list[JSON] = await self._post(
            "getUpdates",
            data,
            read_timeout=self._poll_read_timeout(read_timeout, timeout),
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
            api_kwargs=api_kwargs,
        )
        if not raw:
            return ()
        updates = await self.intake.take(raw, self)
        last = int(raw[-1]["update_id"])
        if not updates or updates[-1].update_id != last:
            updates.append(BatchEnd(update_id=last))
        return tuple(updates)

    def _poll_read_timeout(self, given: ODVInput[float], timeout: TimePeriod | None) -> float:
        """As PTB's get_updates: the request's read timeout plus the long-poll timeout."""
        request: BaseRequest = self._request[0]
        if isinstance(given, DefaultValue):
            base = float(request.read_timeout or 0)
        else:
            base = float(given or 0)
        if isinstance(timeout, dtm.timedelta):
            return base + timeout.total_seconds()
        return base + float(timeout or 0)


class DurableUpdates(asyncio.Queue[object]):
    """The Application's update queue: an update is in the inbox before `put` returns."""

    def __init__(self, intake: UpdateIntake) -> None:
        super().__init__()
        self.intake = intake

    async def put(self, item: object) -> None:
        if isinstance(item, BatchEnd):
            return  # confirmed by the Updater, nothing to handle
        if isinstance(item, Update):
            if item.update_id in self.intake.stored:
                self.intake.stored.discard(item.update_id)
            else:  # from elsewhere than the intake (PTB's own webhook server): store it now
                await self.intake.take([item.to_dict()], item.get_bot())
                if item.update_id not in self.intake.stored:
                    return  # stored before: whoever holds it handles it
                self.intake.stored.discard(item.update_id)
        self.put_nowait(item)


class InboxProcessor(BaseUpdateProcessor):
    """Wraps the update processor: the inbox row is finished when handling is through."""

    def __init__(self, inner: BaseUpdateProcessor, inbox: Inbox) -> None:
        super().__init__(inner.max_concurrent_updates)
        self.inner = inner
        self.inbox = inbox
        self.failures: dict[int, str] = {}

    async def note_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An error handler: a failure worth another attempt is remembered for `finish`."""
        error = context.error
        if not isinstance(update, Update) or isinstance(error, Forbidden | BadRequest):
            return  # a blocked user or a refused message: trying again changes nothing
        self.failures[update.update_id] = repr(error)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        # Cancelled (a stop): the row stays held, released on stop or taken over after its lease.
        try:
            await self.inner.do_process_update(update, coroutine)
        except Exception as exc:  # PTB hands handler errors to the error handlers: rare
            if isinstance(update, Update):
                self.failures[update.update_id] = repr(exc)
                await self._finish(update)
            raise
        if isinstance(update, Update):
            await self._finish(update)

    async def _finish(self, update: Update) -> None:
        error = self.failures.pop(update.update_id, None)
        if error is None:
            self.inbox.finish_soon(key_of(update))  # grouped: its reply is recorded already
            return
        try:
            await self.inbox.fail(key_of(update), error)
        except Exception:  # its lease runs out and it is handled again
            log.exception("could not record update %s as failed", update.update_id)

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()


class TelegramInbox:
    """Recovery for the Telegram channel: run on the clock, and `release` on a clean stop."""

    def __init__(self, inbox: Inbox, intake: UpdateIntake, keep: timedelta) -> None:
        self.inbox = inbox
        self.intake = intake
        self.keep = keep
        self._pruned_at: datetime | None = None

    async def recover(self, app: Application) -> int:  # type: ignore[type-arg]
        """Renew our leases; queue what is due again (a dead process's, a retry's)."""
        await self.inbox.renew()
        claimed = await self.inbox.claim()
        for row in claimed:
            update = await self.intake.parse(row.key, row.payload, app.bot)
            if update is not None:
                app.update_queue.put_nowait(update)  # stored already: straight to the handlers
        now = self.inbox.ctx.clock.now()
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            pruned = await self.inbox.prune(self.keep)
            if pruned:
                log.info("inbox: %d handled update(s) pruned", pruned)
        return len(claimed)

    async def release(self) -> None:
        await self.inbox.release()
