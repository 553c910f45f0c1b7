"""revisions: two edits of one message within one second are two revisions

Revision ID: 0006
Revises: 0009
Create Date: 2026-12-06

Telegram dates edits to the second. `revisions` was unique on (opinion_id, edit_date), so a second
edit in the same second could not be stored. A `seq` column (0 for every existing row) tells
them apart: unique (opinion_id, edit_date, seq).

Downgrade: the older schema holds one revision per second; the later ones of a second
(seq > 0) are folded into the first (its new_text becomes the last text of that second).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("revisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), server_default="0", nullable=False))
        batch_op.drop_constraint("uq_revisions_opinion_id_edit_date", type_="unique")
        batch_op.create_unique_constraint(
            "uq_revisions_opinion_id_edit_date_seq", ["opinion_id", "edit_date", "seq"]
        )


def downgrade() -> None:
    conn = op.get_bind()
    later = conn.execute(
        sa.text(
            "SELECT opinion_id, edit_date, new_text FROM revisions WHERE seq > 0"
            " ORDER BY opinion_id, edit_date, seq"
        )
    ).all()
    for opinion_id, edit_date, new_text in later:  # the last of each second wins
        conn.execute(
            sa.text(
                "UPDATE revisions SET new_text = :t"
                " WHERE opinion_id = :o AND edit_date = :d AND seq = 0"
            ),
            {"t": new_text, "o": opinion_id, "d": edit_date},
        )
    conn.execute(sa.text("DELETE FROM revisions WHERE seq > 0"))
    with op.batch_alter_table("revisions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_revisions_opinion_id_edit_date_seq", type_="unique")
        batch_op.create_unique_constraint(
            "uq_revisions_opinion_id_edit_date", ["opinion_id", "edit_date"]
        )
        batch_op.drop_column("seq")
