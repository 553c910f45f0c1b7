"""The durable inbox: every channel stores an incoming event before it acknowledges it.

The pattern, for any channel adapter (Telegram updates, DingTalk stream events, WeChat callbacks):

1. `await inbox.store(key, payload)` *before* the platform is acknowledged (the next getUpdates,
   the webhook's 200, the stream's ack). True: the event is new and leased to this process —
   handle it now. False: it was stored already (a re-delivery) — acknowledge and do nothing;
   whoever holds it handles it, or it is claimed again when that lease runs out.
2. Handle it through `services.inbound.Router` and send the answer, then `await
   inbox.finish(key)`; if handling raised, `await inbox.fail(key, error)` (retried a few times).
3. Periodically `await inbox.renew()` (keeps the leases of events still being handled) and
   `await inbox.claim()`: events stored by a process that died (kill -9, power loss) before it
   finished them, handled again. Handling is idempotent (intake recognises the source message),
   so an event processed twice stores nothing twice and answers again only if the process died
   after answering and before `finish`.
4. `await inbox.release()` on a clean shutdown hands what is still held to the next process at
   once; `prune(keep)` deletes old done rows.
"""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True)
class Stored:
    """An event claimed for (re)processing."""

    key: str
    payload: dict[str, Any]
    attempts: int


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
        self._renewed_at: datetime | None = None

    async def store(self, key: str, payload: dict[str, Any]) -> bool:
        """Store an incoming event, leased to this process; False when it was stored before."""
        now = self.ctx.clock.now()
        async with self.ctx.sessions.begin() as s:
            result = await s.execute(
                prebuilt_for(s, q.insert_once),
                {
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
                },
            )
        added = bool(getattr(result, "rowcount", 0))
        if added:
            self.held.add(key)
        return added

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
        claimed = [Stored(r.key, r.payload, r.attempts) for r in rows if r.key not in self.held]
        self.held.update(c.key for c in claimed)
        if claimed:
            log.info("inbox %s: %d event(s) to process again", self.channel.value, len(claimed))
        return claimed

    async def finish(self, key: str) -> None:
        """The event was handled and answered."""
        self.held.discard(key)
        async with self.ctx.sessions.begin() as s:
            await s.execute(
                q.FINISH,
                {"in_channel": self.channel.value, "in_key": key, "now": self.ctx.clock.now()},
            )

    async def fail(self, key: str, error: str) -> None:
        """Handling raised: try again later, or give up after `max_attempts`."""
        self.held.discard(key)
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
                    "inbox %s %s: gave up after %d attempts", self.channel.value, key, attempts
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
