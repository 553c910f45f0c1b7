"""The shared access token in the database: the TokenStore contract of handlers/wechat/tokens.py
(lease + compare-and-set), in SQL that works the same on SQLite and PostgreSQL.

Values are plain (token, expires_at) pairs; the channel adapter wraps them in its own type.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import AccessTokenRow
from storage.upsert import insert_for


class AccessTokenTable:
    """One row per AppID: the token, its expiry, and the refresh lease."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def load(self, app_id: str) -> tuple[str, float] | None:
        async with self.sessions() as s:
            row = (
                await s.execute(
                    select(AccessTokenRow.token, AccessTokenRow.expires_at).where(
                        AccessTokenRow.app_id == app_id
                    )
                )
            ).first()
        if row is None or row.token is None or row.expires_at is None:
            return None
        return str(row.token), float(row.expires_at)

    async def acquire_refresh(self, app_id: str, holder: str, until: float, now: float) -> bool:
        """Take the lease unless another holder's lease is still valid (atomic UPDATE)."""
        async with self.sessions.begin() as s:
            await s.execute(
                insert_for(s, AccessTokenRow)
                .values(app_id=app_id)
                .on_conflict_do_nothing(index_elements=["app_id"])
            )
            result = await s.execute(
                update(AccessTokenRow)
                .where(
                    AccessTokenRow.app_id == app_id,
                    or_(
                        AccessTokenRow.lease_until.is_(None),
                        AccessTokenRow.lease_until < now,
                        AccessTokenRow.lease_holder == holder,
                    ),
                )
                .values(lease_holder=holder, lease_until=until)
            )
            return bool(getattr(result, "rowcount", 0))

    async def store(self, app_id: str, token: str, expires_at: float, replaces: str | None) -> bool:
        """Compare-and-set: save only if the stored token is still `replaces`."""
        same = (
            AccessTokenRow.token.is_(None) if replaces is None else AccessTokenRow.token == replaces
        )
        async with self.sessions.begin() as s:
            await s.execute(
                insert_for(s, AccessTokenRow)
                .values(app_id=app_id)
                .on_conflict_do_nothing(index_elements=["app_id"])
            )
            result = await s.execute(
                update(AccessTokenRow)
                .where(and_(AccessTokenRow.app_id == app_id, same))
                .values(token=token, expires_at=expires_at)
            )
            return bool(getattr(result, "rowcount", 0))

    async def release_refresh(self, app_id: str, holder: str) -> None:
        async with self.sessions.begin() as s:
            await s.execute(
                update(AccessTokenRow)
                .where(AccessTokenRow.app_id == app_id, AccessTokenRow.lease_holder == holder)
                .values(lease_holder=None, lease_until=None)
            )
