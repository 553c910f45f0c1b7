"""inbox.replied: the messages of an update's answer already sent

Revision ID: 0012_inbox
Revises: 0011_rollups
Create Date: 2026-12-06

A handled update's reply is recorded as sent right after Telegram accepted it, so that after a
kill -9 the update is handled again without sending that reply a second time. One integer
column (0 for every existing row); nothing else moves.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_inbox"
down_revision: str | None = "0011_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replied", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_column("replied")
