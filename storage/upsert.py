"""Dialect-aware INSERT ... ON CONFLICT, the same statement shape on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
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


_PREBUILT: dict[tuple[Callable[[Any], Any], str], Any] = {}


def prebuilt_for(s: AsyncSession, build: Callable[[Any], Any]) -> Any:
    """`build(insert)` once per dialect, where `insert` is that dialect's `insert_for`.

    For statements on hot paths: building an INSERT … ON CONFLICT costs more CPU than running
    it; a built statement with bind parameters is reused from SQLAlchemy's compiled cache.
    """
    key = (build, s.get_bind().dialect.name)
    stmt = _PREBUILT.get(key)
    if stmt is None:
        stmt = _PREBUILT[key] = build(lambda table: insert_for(s, table))
    return stmt
