"""Outbox dispatcher: claims due rows with a lease, sends them, records the result.

It runs when the JobQueue ticks and whenever a transaction that wrote outbox rows commits (kick).
Everything it knows comes from the database, so a restart or a second instance simply continues.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import timedelta

from scheduler.delivery import Delivered, Outbound, Permanent, Retry, Undeliverable
from services import outbox
from services.context import ServiceContext

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        ctx: ServiceContext,
        outbound: Outbound,
        *,
        batch: int = 50,
        lease: timedelta = timedelta(seconds=120),
    ) -> None:
        self.ctx = ctx
        self.outbound = outbound
        self.batch = batch
        self.lease = lease
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._running: asyncio.Task[None] | None = None
        self._again = False

    def kick(self) -> None:
        """Ask for a drain soon; safe to call from SQLAlchemy's after_commit hook."""
        if self._running is not None and not self._running.done():
            self._again = True
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._running = loop.create_task(self._drain_loop())

    async def tick(self) -> None:
        """One clock tick: drain everything due (used by the JobQueue)."""
        if self._running is not None and not self._running.done():
            self._again = True
            return
        self._running = asyncio.current_task()  # type: ignore[assignment]
        try:
            await self._drain_loop()
        finally:
            self._running = None

    async def _drain_loop(self) -> None:
        while True:
            self._again = False
            sent = await self.drain_once()
            if sent == 0 and not self._again:
                return

    async def drain_once(self) -> int:
        """Claim one batch and deliver it; returns how many rows were handled."""
        rows = await outbox.claim_due(self.ctx, self.owner, self.batch, self.lease)
        for row in rows:
            result = await self.outbound.send(row.chat_id, row.text, row.markup)
            if isinstance(result, Delivered):
                await outbox.finish(
                    self.ctx, row.id, self.owner, outbox.SENT, message_id=result.message_id
                )
            elif isinstance(result, Retry):
                retry_at = self.ctx.clock.now() + timedelta(seconds=max(result.seconds, 1.0))
                await outbox.release(self.ctx, row.id, self.owner, retry_at, result.reason)
            elif isinstance(result, Undeliverable):
                log.warning("outbox %s undeliverable: %s", row.key, result.reason)
                await outbox.finish(
                    self.ctx, row.id, self.owner, outbox.UNDELIVERABLE, error=result.reason
                )
            elif isinstance(result, Permanent):
                log.error("outbox %s refused by the server: %s", row.key, result.reason)
                await outbox.finish(
                    self.ctx, row.id, self.owner, outbox.FAILED, error=result.reason
                )
        return len(rows)
