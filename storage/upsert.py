"""Dialect-aware INSERT ... ON CONFLICT, the same statement shape on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(s: AsyncSession, table: Any) -> Any:
    """Return an Insert that supports on_conflict_do_nothing/do_update for the session's engine."""
    name = s.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database dialect {name!r}: use SQLite or PostgreSQL")
