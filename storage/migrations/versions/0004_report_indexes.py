"""report indexes: /stats, /briefing and the ledger export aggregate in SQL

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

Indexes only, no data moves. Each lets a /stats figure be counted from an index alone:
- opinions (station_id, created_at, theme, status): a period's opinions by theme and status;
- opinions (station_id, status, theme), replacing (station_id, status): the same for all time,
  read in group order (no sort);
- tasks (station_id, assigned_at, opinion_id) and (station_id, closed_at, status, opinion_id):
  tasks assigned, closed or bounced in a period, and first assignments / last closures;
- tasks (station_id, assignee_unit_id, assignee_user_id, status): per-assignee counts;
- ratings (at, value, opinion_id): ratings given in a period.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_opinions_station_created", "opinions", ["station_id", "created_at", "theme", "status"]),
    ("ix_opinions_station_status_theme", "opinions", ["station_id", "status", "theme"]),
    ("ix_tasks_station_assigned", "tasks", ["station_id", "assigned_at", "opinion_id"]),
    ("ix_tasks_station_closed", "tasks", ["station_id", "closed_at", "status", "opinion_id"]),
    (
        "ix_tasks_station_assignee",
        "tasks",
        ["station_id", "assignee_unit_id", "assignee_user_id", "status"],
    ),
    ("ix_ratings_at", "ratings", ["at", "value", "opinion_id"]),
)
REPLACED = ("ix_opinions_station_status", "opinions", ["station_id", "status"])


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)
    op.drop_index(REPLACED[0], table_name=REPLACED[1])


def downgrade() -> None:
    op.create_index(REPLACED[0], REPLACED[1], REPLACED[2], unique=False)
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
