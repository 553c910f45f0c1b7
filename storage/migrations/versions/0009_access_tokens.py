"""access_tokens: a platform token shared by every instance (the WeChat access_token)

Revision ID: 0009
Revises: 0005

A new table, and a partial index for staff's /unreached (outbox rows held for a person who
must write again, or undeliverable); no data moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNREACHED_OUTBOX = "status IN ('held', 'undeliverable')"


def _where(sql: str) -> dict[str, Any]:
    return {"sqlite_where": sa.text(sql), "postgresql_where": sa.text(sql)}


def upgrade() -> None:
    op.create_table(
        "access_tokens",
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("token", sa.String(512), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.Column("lease_holder", sa.String(128), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("app_id", name=op.f("pk_access_tokens")),
    )
    op.create_index("ix_outbox_unreached", "outbox", ["station_id"], **_where(UNREACHED_OUTBOX))


def downgrade() -> None:
    op.drop_index("ix_outbox_unreached", table_name="outbox")
    op.drop_table("access_tokens")
