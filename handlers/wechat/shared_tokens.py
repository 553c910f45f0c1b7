"""The TokenStore of tokens.py over a table every instance shares (storage/access_tokens.py).

The table is passed in (anything with these four coroutines), so this package does not import
storage: bot/ wires `SharedTokenStore(AccessTokenTable(sessions))`.
"""

from __future__ import annotations

from typing import Protocol

from handlers.wechat.tokens import AccessToken


class TokenRows(Protocol):
    async def load(self, app_id: str) -> tuple[str, float] | None: ...

    async def acquire_refresh(self, app_id: str, holder: str, until: float, now: float) -> bool: ...

    async def store(
        self, app_id: str, token: str, expires_at: float, replaces: str | None
    ) -> bool: ...

    async def release_refresh(self, app_id: str, holder: str) -> None: ...


class SharedTokenStore:
    """handlers.wechat.tokens.TokenStore backed by shared rows (the database)."""

    def __init__(self, rows: TokenRows) -> None:
        self.rows = rows

    async def load(self, app_id: str) -> AccessToken | None:
        found = await self.rows.load(app_id)
        return None if found is None else AccessToken(found[0], found[1])

    async def acquire_refresh(self, app_id: str, holder: str, until: float, now: float) -> bool:
        return await self.rows.acquire_refresh(app_id, holder, until, now)

    async def store(self, app_id: str, token: AccessToken, replaces: str | None) -> bool:
        return await self.rows.store(app_id, token.value, token.expires_at, replaces)

    async def release_refresh(self, app_id: str, holder: str) -> None:
        await self.rows.release_refresh(app_id, holder)
