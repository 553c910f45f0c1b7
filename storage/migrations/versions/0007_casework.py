"""casework as 接诉即办 runs it: station settings, case kinds, 代录 claim codes, phone ratings

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

Adds only nullable columns, so existing rows keep their meaning:
- stations.settings: the station's overrides of the casework policy (time limits by kind,
  response limit, what counts as solved, the staff group's noise), NULL = the defaults;
- tasks.case_kind: 咨询/求助/投诉/建议 chosen at 交办 (NULL for tasks made before);
- tasks.respond_by: the end of the response limit (响应率), set at 交办 (NULL before: such
  tasks stay out of 响应率);
- opinions.claim_code: the code printed on a 代录 paper receipt, with which the resident
  claims the case in the bot; NULL once claimed or for opinions the resident wrote;
- ratings.recorded_by_id: the staff member who recorded a rating given on the phone (回访).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stations") as batch:
        batch.add_column(sa.Column("settings", sa.JSON(), nullable=True))
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("case_kind", sa.String(16), nullable=True))
        batch.add_column(
            sa.Column("respond_by", storage.models.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("opinions") as batch:
        batch.add_column(sa.Column("claim_code", sa.String(16), nullable=True))
    with op.batch_alter_table("ratings") as batch:
        batch.add_column(sa.Column("recorded_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_ratings_recorded_by_id_users", "users", ["recorded_by_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("ratings") as batch:
        batch.drop_constraint("fk_ratings_recorded_by_id_users", type_="foreignkey")
        batch.drop_column("recorded_by_id")
    with op.batch_alter_table("opinions") as batch:
        batch.drop_column("claim_code")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("respond_by")
        batch.drop_column("case_kind")
    with op.batch_alter_table("stations") as batch:
        batch.drop_column("settings")
