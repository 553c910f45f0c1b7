"""The account's access_token, shared by every instance through an app-supplied TokenStore.

Why shared: `/cgi-bin/token` hands out a new token on every call and the old one dies (after a
5-minute overlap), so instances that each fetched their own would knock each other out; the
stable-token endpoint (`/cgi-bin/stable_token`) returns the same token to everyone in normal mode,
but its force-refresh mode kills the old token at once and is limited to 20 a day. Either way at
most one instance may fetch at a time, and every instance must use what that one stored.

The `TokenStore` contract (a database row per AppID in production; `MemoryTokenStore` here):

- `load(app_id)` returns the stored token and its expiry (unix seconds), or None.
- `acquire_refresh(app_id, holder, until, now)` takes the refresh lease and returns True if no
  other holder has a lease that is still valid at `now` (a lease held by `holder` itself is
  renewed). It must be atomic: of two instances racing, one wins. SQL:
  `UPDATE wechat_token SET lease_holder=:h, lease_until=:until WHERE app_id=:a AND
  (lease_until IS NULL OR lease_until < :now OR lease_holder = :h)`, rowcount 1 = acquired
  (insert the row first with `ON CONFLICT DO NOTHING`).
- `store(app_id, token, replaces)` saves `token` only if the current value is `replaces` (None:
  no token yet) and returns whether it did (compare-and-set). SQL: `UPDATE … SET token=…,
  expires_at=… WHERE app_id=:a AND token IS NOT DISTINCT FROM :replaces`.
- `release_refresh(app_id, holder)` drops the lease if `holder` holds it.

Leases expire by themselves, so a holder that crashed mid-fetch blocks the others for at most
`lease_seconds`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from domain.clock import Clock, SystemClock


@dataclass(frozen=True)
class AccessToken:
    value: str
    expires_at: float  # unix seconds


class TokenError(Exception):
    """The token endpoint refused (wrong secret, IP not whitelisted, quota) or was unreachable."""

    def __init__(self, errcode: int | None, errmsg: str) -> None:
        super().__init__(f"access_token: {errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class TokenStore(Protocol):
    """Where the shared token lives (see the module docstring for the exact contract)."""

    async def load(self, app_id: str) -> AccessToken | None: ...

    async def acquire_refresh(self, app_id: str, holder: str, until: float, now: float) -> bool: ...

    async def store(self, app_id: str, token: AccessToken, replaces: str | None) -> bool: ...

    async def release_refresh(self, app_id: str, holder: str) -> None: ...


class MemoryTokenStore:
    """The contract in memory: shared by the clients of one process (tests, single instance)."""

    def __init__(self) -> None:
        self._tokens: dict[str, AccessToken] = {}
        self._leases: dict[str, tuple[str, float]] = {}

    async def load(self, app_id: str) -> AccessToken | None:
        return self._tokens.get(app_id)

    async def acquire_refresh(self, app_id: str, holder: str, until: float, now: float) -> bool:
        lease = self._leases.get(app_id)
        if lease is not None and lease[0] != holder and lease[1] >= now:
            return False
        self._leases[app_id] = (holder, until)
        return True

    async def store(self, app_id: str, token: AccessToken, replaces: str | None) -> bool:
        current = self._tokens.get(app_id)
        if (current.value if current else None) != replaces:
            return False
        self._tokens[app_id] = token
        return True

    async def release_refresh(self, app_id: str, holder: str) -> None:
        lease = self._leases.get(app_id)
        if lease is not None and lease[0] == holder:
            del self._leases[app_id]


Fetch = Callable[[bool], Awaitable[AccessToken]]


def default_holder() -> str:
    """Who holds a lease: host, process and a random part (two clients in one process differ)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class AccessTokens:
    """Hands out a valid token; renews it before expiry and after an invalid-token error.

    `fetch(force)` asks WeChat for a token (force: the stable endpoint's force_refresh). Only
    the instance holding the store's lease calls it; the others wait for the stored result.
    """

    def __init__(
        self,
        app_id: str,
        store: TokenStore,
        fetch: Fetch,
        *,
        clock: Clock | None = None,
        holder: str | None = None,
        margin: float = 300.0,
        lease_seconds: float = 15.0,
    ) -> None:
        self.app_id = app_id
        self._store = store
        self._fetch = fetch
        self._clock = clock or SystemClock()
        self.holder = holder or default_holder()
        self.margin = margin
        self.lease_seconds = lease_seconds
        self._lock = asyncio.Lock()
        self.fetches = 0  # how often this instance asked WeChat (tests and logs)

    def _now(self) -> float:
        return self._clock.now().timestamp()

    async def get(self) -> str:
        """A token with more than `margin` seconds left, fetching one if there is none."""
        current = await self._store.load(self.app_id)
        if current is not None and current.expires_at - self._now() > self.margin:
            return current.value
        return await self._obtain(stale=None)

    async def renew(self, bad: str) -> str:
        """WeChat called `bad` invalid (40001, 40014, 42001): get one that is not `bad`."""
        return await self._obtain(stale=bad)

    def _usable(self, token: AccessToken | None, stale: str | None) -> bool:
        if token is None:
            return False
        if stale is not None:
            return token.value != stale and token.expires_at > self._now()
        return token.expires_at - self._now() > self.margin

    async def _obtain(self, stale: str | None) -> str:
        async with self._lock:  # one refresh per process; the lease covers the other processes
            waited = 0.0
            pause = 0.02
            while True:
                current = await self._store.load(self.app_id)
                if self._usable(current, stale):
                    assert current is not None
                    return current.value
                now = self._now()
                if await self._store.acquire_refresh(
                    self.app_id, self.holder, now + self.lease_seconds, now
                ):
                    try:
                        return await self._refresh(stale)
                    finally:
                        await self._store.release_refresh(self.app_id, self.holder)
                if waited > 2 * self.lease_seconds:
                    raise TokenError(None, "another instance holds the refresh lease too long")
                await asyncio.sleep(pause)  # another instance is fetching: wait for its result
                waited += pause
                pause = min(pause * 2, 0.5)

    async def _refresh(self, stale: str | None) -> str:
        current = await self._store.load(self.app_id)  # it may have changed before the lease
        if self._usable(current, stale):
            assert current is not None
            return current.value
        self.fetches += 1
        token = await self._fetch(False)
        if stale is not None and token.value == stale:
            # stable_token's normal mode returned the token WeChat just refused: force a new one
            self.fetches += 1
            token = await self._fetch(True)
        if not await self._store.store(self.app_id, token, current.value if current else None):
            latest = await self._store.load(self.app_id)  # our lease ran out and someone stored
            if latest is not None and self._usable(latest, stale):
                return latest.value
            await self._store.store(self.app_id, token, latest.value if latest else None)
        return token.value
