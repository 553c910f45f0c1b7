"""report indexes: /stats, /briefing and the ledger export aggregate in SQL

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

Indexes only, no data moves:
- opinions (station_id, created_at, theme, status): the period's opinions by theme and status
  from the index alone (the period count went from a scan of the table to a range of the index);
- tasks (station_id, assigned_at) and (station_id, closed_at): tasks assigned, closed or bounced
  in a period;
- ratings (at): ratings given in a period.
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
    ("ix_tasks_station_assigned", "tasks", ["station_id", "assigned_at"]),
    ("ix_tasks_station_closed", "tasks", ["station_id", "closed_at"]),
    ("ix_ratings_at", "ratings", ["at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
