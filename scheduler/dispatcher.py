"""Outbox dispatcher: claims due rows with a lease, sends them, records the result.

It runs when the JobQueue ticks and whenever a transaction that wrote outbox rows commits (kick).
Everything it knows comes from the database, so a restart or a second instance simply continues.
Rows of one batch go out concurrently across chats and in order within a chat; the bulk bot's
rate limiter spaces them (30/s overall, 20/min per group).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import defaultdict
from datetime import timedelta

from scheduler.delivery import Delivered, Outbound, Permanent, Retry, Undeliverable
from scheduler.pacing import ChatPacer
from services import outbox
from services.context import ServiceContext
from texts.reminders import LATE_NOTE

log = logging.getLogger(__name__)

LATE_AFTER = timedelta(hours=1)
LATE_KINDS = frozenset({"reminder"})


class Dispatcher:
    def __init__(
        self,
        ctx: ServiceContext,
        outbound: Outbound,
        *,
        batch: int = 60,
        lease: timedelta = timedelta(seconds=60),
        owner: str | None = None,
        pacer: ChatPacer | None = None,
    ) -> None:
        self.ctx = ctx
        self.outbound = outbound
        self.batch = batch
        self.lease = lease
        # Never start a send in the last quarter of the lease: the HTTP call must finish while
        # the row is still ours, or another dispatcher could claim and send it as well.
        self.margin = lease / 4
        self.pacer = pacer or ChatPacer()
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self._running: asyncio.Task[None] | None = None
        self._again = False
        self.sent = 0

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
            await asyncio.shield(self._running)
            return
        task = asyncio.ensure_future(self._drain_loop())
        self._running = task
        await task

    async def _drain_loop(self) -> None:
        while True:
            self._again = False
            handled = await self.drain_once()
            if handled == 0 and not self._again:
                return

    async def drain_once(self) -> int:
        """Claim one batch and deliver it; returns how many rows were handled."""
        rows = await outbox.claim_due(self.ctx, self.owner, self.batch, self.lease)
        by_chat: dict[int, list[outbox.Claimed]] = defaultdict(list)
        for row in rows:
            by_chat[row.chat_id].append(row)
        await asyncio.gather(*(self._send_chat(chat_rows) for chat_rows in by_chat.values()))
        return len(rows)

    async def _send_chat(self, rows: list[outbox.Claimed]) -> None:
        for row in rows:
            try:
                wait = self.pacer.delay(row.chat_id)
                deadline = row.lease_until - self.margin
                if wait > 0 and self.ctx.clock.now() + timedelta(seconds=wait) >= deadline:
                    # This chat is at its limit for longer than our lease: hand the row back.
                    retry_at = self.ctx.clock.now() + timedelta(seconds=wait)
                    await outbox.release(self.ctx, row.id, self.owner, retry_at, "paced")
                    continue
                if wait > 0:
                    await asyncio.sleep(wait)
                if self.ctx.clock.now() >= deadline:
                    continue  # too late to send safely; the row is claimable again soon
                await self.pacer.overall_slot()
                self.pacer.record(row.chat_id)
                await self._send(row)
            except Exception:  # one bad row must not stop the others; its lease will expire
                log.exception("outbox %s: unexpected error", row.key)

    async def _send(self, row: outbox.Claimed) -> None:
        now = self.ctx.clock.now()
        if row.expires_at is not None and row.expires_at <= now:
            await outbox.finish(
                self.ctx, row.id, self.owner, outbox.DROPPED, error="expired before sending"
            )
            return
        text = row.text
        if row.kind in LATE_KINDS and now - row.due_at > LATE_AFTER:
            text = LATE_NOTE + text
        result = await self.outbound.send(row.chat_id, text, row.markup, row.photo)
        if isinstance(result, Delivered):
            self.sent += 1
            await outbox.finish(
                self.ctx,
                row.id,
                self.owner,
                outbox.SENT,
                message_id=int(result.message_id) if result.message_id.isdigit() else None,
            )
        elif isinstance(result, Retry):
            retry_at = self.ctx.clock.now() + timedelta(seconds=max(result.seconds, 1.0))
            await outbox.release(self.ctx, row.id, self.owner, retry_at, result.reason)
        elif isinstance(result, Undeliverable):
            log.warning("outbox %s undeliverable: %s", row.key, result.reason)
            await outbox.undeliverable(self.ctx, row, self.owner, result.reason)
        elif isinstance(result, Permanent):
            log.error("outbox %s refused by the server: %s", row.key, result.reason)
            await outbox.finish(self.ctx, row.id, self.owner, outbox.FAILED, error=result.reason)
