"""Telegram updates through the durable inbox (services.kernel.inbox).

PTB hands every update it receives to the Application's update queue — the Updater's polling
loop before its next getUpdates confirms the batch, the webhook handler before it answers 200.
`DurableUpdates` is that queue: `put` stores the update first, so what Telegram considers
delivered is always in the database. `InboxProcessor` marks it done once the handlers (and the
reply) are through, and `TelegramInbox.recover` feeds back what a process that died left
unfinished (after its lease), and what failed, to be handled again — idempotently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError
from telegram.ext import Application, BaseUpdateProcessor, ContextTypes

from services.kernel.inbox import Inbox

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=1)


def key_of(update: Update) -> str:
    return str(update.update_id)


class DurableUpdates(asyncio.Queue[object]):
    """The Application's update queue: an update is in the inbox before `put` returns."""

    def __init__(self, inbox: Inbox) -> None:
        super().__init__()
        self.inbox = inbox

    async def put(self, item: object) -> None:
        if isinstance(item, Update):
            try:
                new = await self.inbox.store(key_of(item), item.to_dict())
            except Exception as exc:
                # A TelegramError: PTB's polling loop retries the batch without confirming it
                # (anything else would end the loop); the webhook answers 500, Telegram resends.
                log.exception("could not store update %s", item.update_id)
                raise NetworkError(f"inbox unavailable: {exc.__class__.__name__}") from exc
            if not new:
                log.info("update %s was stored before: not handled twice", item.update_id)
                return
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
        try:
            if error is None:
                await self.inbox.finish(key_of(update))
            else:
                await self.inbox.fail(key_of(update), error)
        except Exception:  # its lease runs out and it is handled again
            log.exception("could not record update %s as handled", update.update_id)

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()


class TelegramInbox:
    """Recovery for the Telegram channel: run on the clock, and `release` on a clean stop."""

    def __init__(self, inbox: Inbox, keep: timedelta) -> None:
        self.inbox = inbox
        self.keep = keep
        self._pruned_at: datetime | None = None

    async def recover(self, app: Application) -> int:  # type: ignore[type-arg]
        """Renew our leases; queue what is due again (a dead process's, a retry's)."""
        await self.inbox.renew()
        claimed = await self.inbox.claim()
        for row in claimed:
            update = Update.de_json(row.payload, app.bot)
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
