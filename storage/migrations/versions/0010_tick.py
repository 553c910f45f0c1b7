"""the clock's daily digest: opinion events by time

Revision ID: 0010_tick
Revises: 0012_inbox (written on 0007; follows main's 0011_rollups and 0012_inbox since the merge)
Create Date: 2026-12-06

An index only. The staff group's daily digest (services/reports/digest.py) reads the events of
the last day; without an index leading from a time to the events, the first tick after the
reminder time walked every opinion of the station and probed its events (192 ms at 1M opinions
on SQLite, on the event loop's thread while the chat waited).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010_tick"
down_revision: str | None = "0012_inbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_opinion_events_at", "opinion_events", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_opinion_events_at", table_name="opinion_events")
