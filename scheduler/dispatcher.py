"""Outbox dispatcher: claims due rows with a lease, sends them, records the result.

It runs when the clock ticks and whenever a transaction that wrote outbox rows commits (kick).
Everything it knows comes from the database, so a restart or a second instance simply continues.
It holds one outbound adapter per configured channel and paces each channel with its own
limits; rows of a channel this process does not serve stay pending for one that does.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta

from domain.channels import Address, Channel
from domain.states import MessageKind, OutboxStatus
from scheduler.delivery import (
    Delivered,
    Held,
    Moved,
    OutboundChannel,
    Permanent,
    Retry,
    Undeliverable,
)
from scheduler.edits import send_edit
from scheduler.pacing import ChatPacer
from services.kernel import chats, outbox, questions
from services.kernel.context import ServiceContext
from services.kernel.held import NOTIFIED
from services.kernel.obsolete import drop_obsolete
from texts.reminders import LATE_NOTE

log = logging.getLogger(__name__)

LATE_AFTER = timedelta(hours=1)
GROUP_WINDOW = timedelta(seconds=60)
LATE_KINDS = frozenset({"reminder"})


class Dispatcher:
    def __init__(
        self,
        ctx: ServiceContext,
        channels: Iterable[OutboundChannel],
        *,
        batch: int = 60,
        lease: timedelta = timedelta(seconds=60),
        owner: str | None = None,
        pacers: dict[Channel, ChatPacer] | None = None,
    ) -> None:
        self.ctx = ctx
        self.outbound: dict[Channel, OutboundChannel] = {a.channel: a for a in channels}
        self.pacers = pacers or {}
        for channel, adapter in self.outbound.items():
            if channel not in self.pacers:
                limits = adapter.limits
                self.pacers[channel] = ChatPacer(
                    limits.group_per_minute, limits.private_per_second, limits.overall_per_second
                )
        self.batch = batch
        self.lease = lease
        # Never start a send in the last quarter of the lease: the HTTP call must finish while
        # the row is still ours, or another dispatcher could claim and send it as well.
        self.margin = lease / 4
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self._running: asyncio.Task[None] | None = None
        self._again = False
        self._told: set[str] = set()
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
        await self._tell_unserved()
        if self._running is not None and not self._running.done():
            self._again = True
            await asyncio.shield(self._running)
            return
        task = asyncio.ensure_future(self._drain_loop())
        self._running = task
        await task

    async def _tell_unserved(self) -> None:
        """Rows for a channel this process does not serve wait; say so once per channel."""
        waiting = await outbox.pending_channels(self.ctx)
        for name in sorted(waiting - {c.value for c in self.outbound} - self._told):
            self._told.add(name)
            log.warning("outbox rows for channel %r wait: it is not configured here", name)

    async def _drain_loop(self) -> None:
        while True:
            self._again = False
            handled = await self.drain_once()
            if handled == 0 and not self._again:
                return

    async def drain_once(self) -> int:
        """Claim one batch and deliver it; returns how many rows were handled."""
        rows = await outbox.claim_due(
            self.ctx, self.owner, self.batch, self.lease, self.outbound.keys()
        )
        handled = len(rows)
        rows = await drop_obsolete(self.ctx, rows, self.owner)  # reminders whose task moved on
        by_chat: dict[Address, list[outbox.Claimed]] = defaultdict(list)
        for row in rows:
            by_chat[row.to].append(row)
        await self._seed_groups(by_chat.keys())
        await asyncio.gather(*(self._send_chat(chat_rows) for chat_rows in by_chat.values()))
        return handled

    async def _seed_groups(self, chats: Iterable[Address]) -> None:
        """Pace each group by its sends in the table (other dispatchers' too), not ours alone."""
        for channel, adapter in self.outbound.items():
            groups = {c.id: c for c in chats if c.channel is channel and adapter.is_group(c)}
            if not groups:
                continue
            ages = await outbox.recent_sends_to(self.ctx, channel, groups.keys(), GROUP_WINDOW)
            for chat_id, chat_ages in ages.items():
                self.pacers[channel].seed(groups[chat_id], chat_ages)

    async def _send_chat(self, rows: list[outbox.Claimed]) -> None:
        for row in rows:
            try:
                adapter = self.outbound[row.to.channel]
                pacer = self.pacers[row.to.channel]
                wait = pacer.delay(row.to, adapter.is_group(row.to))
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
                await pacer.overall_slot()
                pacer.record(row.to)
                await self._send(adapter, row)
            except Exception:  # one bad row must not stop the others; its lease will expire
                log.exception("outbox %s: unexpected error", row.key)

    async def _send(self, adapter: OutboundChannel, row: outbox.Claimed) -> None:
        now = self.ctx.clock.now()
        if row.expires_at is not None and row.expires_at <= now:
            await outbox.finish(
                self.ctx, row.id, self.owner, OutboxStatus.DROPPED, error="expired before sending"
            )
            return
        message = row.message
        if row.kind in LATE_KINDS and now - row.due_at > LATE_AFTER:
            message = replace(message, text=LATE_NOTE + message.text)
        # The send must end while the row is still ours: past the lease another dispatcher may
        # claim and send it too. A send cut short is retried (it may have arrived: at most
        # this one message is doubled, as when the process dies mid-send).
        budget = (row.lease_until - self.margin / 2 - now).total_seconds()
        try:
            if row.kind == MessageKind.EDIT:  # an edit of a message sent earlier
                edited = await send_edit(self.ctx, adapter, row, self.owner)
                if edited is None:
                    return
                result = edited
            else:
                result = await asyncio.wait_for(adapter.send(row.to, message), timeout=budget)
        except TimeoutError:
            result = Retry(5.0, f"send took over {budget:.1f} s, the rest of the lease")
        delivered_at = self.ctx.clock.now()  # before our own writes: a quick reply is not older
        if isinstance(result, Delivered):
            self.sent += 1
            await outbox.finish(
                self.ctx, row.id, self.owner, OutboxStatus.SENT, message_id=result.message_id
            )
            if not adapter.buttons:
                await questions.remember(self.ctx, row.to, message, result.message_id, delivered_at)
        elif isinstance(result, Retry):
            retry_at = self.ctx.clock.now() + timedelta(seconds=max(result.seconds, 1.0))
            await outbox.release(self.ctx, row.id, self.owner, retry_at, result.reason)
        elif isinstance(result, Undeliverable):
            log.warning("outbox %s undeliverable: %s", row.key, result.reason)
            lost = await outbox.undeliverable(
                self.ctx, row, self.owner, result.reason, is_group=adapter.is_group(row.to)
            )
            if lost is not None:  # the staff chat itself: its admins hear it in private
                await chats.tell_admins_staff_chat_lost(self.ctx, lost, row.to, result.reason)
        elif isinstance(result, Moved):
            log.info("outbox %s: chat %s moved to %s", row.key, row.to.key, result.to.key)
            await chats.moved(self.ctx, row.to, result.to)
        elif isinstance(result, Held):
            log.info("outbox %s held until the person writes: %s", row.key, result.reason)
            note = (NOTIFIED if result.notified else "") + result.reason
            await outbox.finish(self.ctx, row.id, self.owner, OutboxStatus.HELD, error=note)
        elif isinstance(result, Permanent):
            log.error("outbox %s refused by the server: %s", row.key, result.reason)
            await outbox.finish(
                self.ctx, row.id, self.owner, OutboxStatus.FAILED, error=result.reason
            )
