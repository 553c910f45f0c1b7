"""clock: next-reminder columns, partial indexes for what the clock asks each tick

Revision ID: 0003
Revises: 0002_channels
Create Date: 2026-12-06

- tasks.next_remind_at / meetings.next_remind_at: the moment the planner next has something to
  do for the row (NULL: nothing, ever). The planner reads only rows whose moment has come, through
  a partial index, instead of re-deriving every open task each tick. Existing open tasks and
  active meetings are backfilled with a moment already past (their assigned_at / created_at), so
  the first tick after the upgrade plans each once, as the old planner did every tick, and sets
  its real next moment.
- ix_outbox_due covers only pending and sending rows (the dispatcher's claim), not the sent and
  dropped rows that are most of the table.
- ix_opinions_closed: opinions waiting for a rating (status closed), for the 未评价 expiry.
Columns are added in place (no table rebuild on SQLite): the upgrade is quick on a large database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0003"
down_revision: str | None = "0002_channels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE_OUTBOX = "status IN ('pending', 'sending')"
CLOSED_OPINION = "status = 'closed'"


def _where(sql: str) -> dict[str, Any]:
    return {"sqlite_where": sa.text(sql), "postgresql_where": sa.text(sql)}


def upgrade() -> None:
    moment = storage.models.UTCDateTime()
    op.add_column("tasks", sa.Column("next_remind_at", moment, nullable=True))
    op.add_column("meetings", sa.Column("next_remind_at", moment, nullable=True))
    op.execute("UPDATE tasks SET next_remind_at = assigned_at WHERE status = 'open'")
    op.execute("UPDATE meetings SET next_remind_at = created_at WHERE active")
    op.create_index(
        "ix_tasks_next_remind_at",
        "tasks",
        ["next_remind_at"],
        **_where("next_remind_at IS NOT NULL"),
    )
    op.create_index(
        "ix_meetings_next_remind_at",
        "meetings",
        ["next_remind_at"],
        **_where("next_remind_at IS NOT NULL"),
    )
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.create_index("ix_outbox_due", "outbox", ["status", "due_at"], **_where(ACTIVE_OUTBOX))
    op.create_index("ix_opinions_closed", "opinions", ["closed_at"], **_where(CLOSED_OPINION))


def downgrade() -> None:
    op.drop_index("ix_opinions_closed", table_name="opinions")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.create_index("ix_outbox_due", "outbox", ["status", "due_at"])
    op.drop_index("ix_meetings_next_remind_at", table_name="meetings")
    op.drop_index("ix_tasks_next_remind_at", table_name="tasks")
    op.drop_column("meetings", "next_remind_at")
    op.drop_column("tasks", "next_remind_at")
