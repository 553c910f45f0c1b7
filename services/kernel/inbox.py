"""The durable inbox: every channel stores an incoming event before it acknowledges it.

The pattern, for any channel adapter (Telegram updates, DingTalk stream events, WeChat callbacks):

1. `await inbox.store(key, payload)` *before* the platform is acknowledged (the next getUpdates,
   the webhook's 200, the stream's ack). True: the event is new and leased to this process —
   handle it now. False: it was stored already (a re-delivery) — acknowledge and do nothing;
   whoever holds it handles it, or it is claimed again when that lease runs out.
   `store_many` does the same for a batch (a whole getUpdates answer) in one transaction.
2. Handle it through `services.inbound.Router` and send the answer, then `await
   inbox.finish(key)`; if handling raised, `await inbox.fail(key, error)` (retried a few times).
   Each message of the answer is recorded as sent right after the platform accepted it
   (`reply_sent`, its own small transaction; the last one also marks the row done), so an event
   handled again after a crash does not send it twice (services.kernel.reply_gate keeps that
   window to one message per process). Events that sent nothing are marked done in groups
   (`finish_soon`): a crash before that only handles them again, which sends nothing.
3. Periodically `await inbox.renew()` (keeps the leases of events still being handled) and
   `await inbox.claim()`: events stored by a process that died (kill -9, power loss) before it
   finished them, handled again. Handling is idempotent (intake recognises the source message),
   so an event processed twice stores nothing twice and answers again only if the process died
   after answering and before `finish`.
4. `await inbox.release()` on a clean shutdown hands what is still held to the next process at
   once; `prune(keep)` deletes old done rows.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.channels import Channel
from domain.states import InboxState
from services.kernel.context import ServiceContext
from storage.queries import inbox as q
from storage.upsert import prebuilt_for

log = logging.getLogger(__name__)

RENEW_CHUNK = 500
BATCH_ROWS = 100  # a getUpdates answer holds at most 100 updates
GROUP_WAIT = 0.05  # seconds a done-mark waits for others to share its transaction


@dataclass(frozen=True, slots=True)
class Stored:
    """An event claimed for (re)processing."""

    key: str
    payload: dict[str, Any]
    attempts: int
    replied: int = 0  # messages of its answer already sent before it was handed back


class Inbox:
    """One channel's inbox rows, as one process sees them (its leases are `owner`'s)."""

    def __init__(
        self,
        ctx: ServiceContext,
        channel: Channel,
        *,
        owner: str | None = None,
        lease: timedelta = timedelta(seconds=30),
        max_attempts: int = 3,
        retry_after: timedelta = timedelta(seconds=5),
    ) -> None:
        self.ctx = ctx
        self.channel = channel
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.lease = lease
        self.max_attempts = max_attempts
        self.retry_after = retry_after
        self.held: set[str] = set()  # keys this process stored or claimed and has not finished
        self.replied: dict[str, int] = {}  # claimed keys whose answer was partly sent before
        self._answered: set[str] = set()  # done with their last reply, before `finish`
        self._done: list[str] = []  # handled, nothing sent: done-marks waiting for a group
        self._flusher: asyncio.Task[None] | None = None
        self._renewed_at: datetime | None = None

    def _row(self, key: str, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
        return {
            "channel": self.channel.value,
            "key": key,
            "payload": payload,
            "state": InboxState.PROCESSING.value,
            "attempts": 1,
            "lease_owner": self.owner,
            "lease_until": now + self.lease,
            "last_error": None,
            "received_at": now,
            "finished_at": None,
            "replied": 0,
        }

    async def store(self, key: str, payload: dict[str, Any]) -> bool:
        """Store an incoming event, leased to this process; False when it was stored before."""
        now = self.ctx.clock.now()
        async with self.ctx.sessions.begin() as s:
            result = await s.execute(prebuilt_for(s, q.insert_once), self._row(key, payload, now))
        added = bool(getattr(result, "rowcount", 0))
        if added:
            self.held.add(key)
        return added

    async def store_many(self, events: list[tuple[str, dict[str, Any]]]) -> set[str]:
        """Store a batch in one transaction; returns the keys that are new (leased to this
        process), the others were stored before. For one consumer's batches (a getUpdates
        answer): what another process stores at the same moment is kept once, but may be
        handled by both (idempotently)."""
        if len(events) == 1:
            key, payload = events[0]
            return {key} if await self.store(key, payload) else set()
        now = self.ctx.clock.now()
        keys = [key for key, _ in events]
        async with self.ctx.sessions.begin() as s:
            params = {"in_channel": self.channel.value, "in_keys": keys}
            seen = set((await s.execute(q.STORED_KEYS, params)).scalars())
            rows = [self._row(k, p, now) for k, p in events if k not in seen]
            if rows:
                await s.execute(prebuilt_for(s, q.insert_once), rows)
        new = {row["key"] for row in rows}
        self.held.update(new)
        return new

    async def claim(self, limit: int = 100) -> list[Stored]:
        """Lease due events (retries, and those of a process that died), oldest first."""
        now = self.ctx.clock.now()
        params = {"in_channel": self.channel.value, "now": now, "limit": limit}
        async with self.ctx.sessions.begin() as s:
            pick = q.PICK_DUE
            if s.get_bind().dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            ids = list((await s.execute(pick, params)).scalars())
            if not ids:
                return []
            rows = (
                await s.execute(
                    q.CLAIM,
                    {"ids": ids, "now": now, "in_owner": self.owner, "until": now + self.lease},
                )
            ).all()
        # What this process still holds is being handled (a stalled loop missed a renewal):
        # leased to us again, not handed out a second time.
        claimed = [
            Stored(r.key, r.payload, r.attempts, r.replied) for r in rows if r.key not in self.held
        ]
        self.held.update(c.key for c in claimed)
        self.replied.update((c.key, c.replied) for c in claimed if c.replied)
        if claimed:
            log.info("inbox %s: %d event(s) to process again", self.channel.value, len(claimed))
        return claimed

    async def finish(self, key: str) -> None:
        """The event was handled and answered."""
        self.held.discard(key)
        self.replied.pop(key, None)
        if key in self._answered:
            self._answered.discard(key)  # its last reply marked it done already
            return
        async with self.ctx.sessions.begin() as s:
            await s.execute(
                q.FINISH,
                {"in_channel": self.channel.value, "in_key": key, "now": self.ctx.clock.now()},
            )

    async def reply_sent(self, key: str, count: int, *, last: bool) -> None:
        """`count` messages of the event's answer were sent: recorded at once, alone (the
        last one marks the event done too), so that handling it again does not resend them."""
        stmt = q.REPLIED_AND_DONE if last else q.REPLIED
        params = {
            "in_channel": self.channel.value,
            "in_key": key,
            "replied": count,
            "now": self.ctx.clock.now(),
        }
        async with self.ctx.sessions.begin() as s:
            await s.execute(stmt, params)
        self.replied[key] = count
        if last:
            self._answered.add(key)

    def finish_soon(self, key: str) -> None:
        """`finish`, shared: done-marks within GROUP_WAIT go in one transaction. For events
        whose answer is recorded (`reply_sent`): handled again after a crash, they send
        nothing, so a done-mark lost with the process costs only that work."""
        self.replied.pop(key, None)
        if key in self._answered:
            self._answered.discard(key)
            self.held.discard(key)
            return
        self._done.append(key)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon(), name="inbox-done-marks")

    async def _flush_soon(self) -> None:
        await asyncio.sleep(GROUP_WAIT)
        await self.flush()

    async def flush(self) -> None:
        """Write the waiting done-marks (on a failure their leases run out: handled again)."""
        while self._done:
            keys, self._done = self._done[:RENEW_CHUNK], self._done[RENEW_CHUNK:]
            params = {"in_channel": self.channel.value, "in_keys": keys}
            try:
                async with self.ctx.sessions.begin() as s:
                    await s.execute(q.FINISH_MANY, {**params, "now": self.ctx.clock.now()})
            except Exception:
                log.exception(
                    "inbox %s: could not mark %d event(s) done", self.channel.value, len(keys)
                )
            self.held.difference_update(keys)

    async def fail(self, key: str, error: str) -> None:
        """Handling raised: try again later, or give up after `max_attempts`."""
        self.held.discard(key)
        self.replied.pop(key, None)
        self._answered.discard(key)
        now = self.ctx.clock.now()
        params = {
            "in_channel": self.channel.value,
            "in_owner": self.owner,
            "in_key": key,
            "now": now,
            "retry_at": now + self.retry_after,
            "error": error[:2000],
        }
        async with self.ctx.sessions.begin() as s:
            attempts = (await s.execute(q.RETRY_LATER, params)).scalar_one_or_none()
            if attempts is not None and attempts >= self.max_attempts:
                await s.execute(q.GIVE_UP, params)
                log.error(
                    "inbox %s %s: set aside after %d attempts (state failed): %s",
                    self.channel.value,
                    key,
                    attempts,
                    error[:500],
                )

    async def renew(self) -> None:
        """Extend the leases of the events this process still holds (once a third of the lease
        has gone by since the last time: cheap to call on every tick)."""
        now = self.ctx.clock.now()
        if self._renewed_at is not None and now - self._renewed_at < self.lease / 3:
            return
        self._renewed_at = now
        keys = sorted(self.held)
        until = now + self.lease
        for i in range(0, len(keys), RENEW_CHUNK):
            async with self.ctx.sessions.begin() as s:
                await s.execute(
                    q.RENEW,
                    {
                        "in_channel": self.channel.value,
                        "in_owner": self.owner,
                        "in_keys": keys[i : i + RENEW_CHUNK],
                        "until": until,
                    },
                )

    async def release(self) -> None:
        """On a clean shutdown: what is still held is due again at once, for any process."""
        await self.flush()
        keys = sorted(self.held)
        self.held.clear()
        for i in range(0, len(keys), RENEW_CHUNK):
            async with self.ctx.sessions.begin() as s:
                await s.execute(
                    q.RELEASE,
                    {
                        "in_channel": self.channel.value,
                        "in_owner": self.owner,
                        "in_keys": keys[i : i + RENEW_CHUNK],
                        "now": self.ctx.clock.now(),
                    },
                )

    async def prune(self, keep: timedelta) -> int:
        """Delete done rows older than `keep` (every channel's); returns how many."""
        async with self.ctx.sessions.begin() as s:
            result = await s.execute(q.PRUNE, {"before": self.ctx.clock.now() - keep})
        return int(getattr(result, "rowcount", 0) or 0)
