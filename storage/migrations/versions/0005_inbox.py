"""inbox: incoming platform events stored before they are acknowledged; outbox sends by chat

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

A new table and a new index (a group's recent sends, for pacing shared by several dispatchers);
nothing existing moves.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("received_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("channel", "key", name=op.f("uq_inbox_channel_key")),
    )
    active = sa.text("state IN ('pending', 'processing')")
    op.create_index(
        "ix_inbox_due",
        "inbox",
        ["channel", "lease_until"],
        sqlite_where=active,
        postgresql_where=active,
    )
    op.create_index(
        "ix_outbox_chat_sent", "outbox", ["channel", "chat_id", "sent_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_chat_sent", table_name="outbox")
    op.drop_index("ix_inbox_due", table_name="inbox")
    op.drop_table("inbox")
