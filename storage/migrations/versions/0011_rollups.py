"""report_days: /stats figures per day, kept by triggers; report_cache; an open-overdue index

Revision ID: 0011_rollups
Revises: 0007

Triggers on opinions, tasks, ratings and co-signers mark the UTC hours whose figures a change
touches (`report_dirty`), in the changing transaction, whatever code made the change; the
reports recompute those days (storage/rollup.py). The upgrade fills report_days from the
existing rows, a month of days per statement set, in the bot's TIMEZONE (`liaison-bot db
upgrade` passes it; default Asia/Shanghai): a bot started with another zone rebuilds it once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0011_rollups"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status = 'open'"
OPINION_COLS = ("theme", "status", "created_at", "station_id")
TASK_COLS = (
    "opinion_id", "station_id", "assignee_unit_id", "assignee_user_id", "assigned_at", "status",
    "acknowledged_at", "closed_at", "outcome", "respond_by",
)  # fmt: skip
RATING_COLS = ("opinion_id", "task_id", "user_id", "value", "at")
COSIGNER_COLS = ("opinion_id", "user_id")


def upgrade() -> None:
    op.create_table(
        "report_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("span", sa.String(1), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(8), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("k1", sa.String(64), nullable=False),
        sa.Column("k2", sa.String(16), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("m", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_days")),
    )
    op.create_index("ix_report_days_station_span_day", "report_days", ["station_id", "span", "day"])
    op.create_table(
        "report_dirty",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_dirty")),
    )
    op.create_table(
        "report_cache",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("stamp", sa.String(64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_cache")),
        sa.UniqueConstraint(
            "station_id", "kind", "period", name=op.f("uq_report_cache_station_id_kind_period")
        ),
    )
    # Overdue now (not additive over days): the open tasks by due date, and nothing else.
    op.create_index(
        "ix_tasks_open_due",
        "tasks",
        ["station_id", "due_date", "assignee_unit_id", "assignee_user_id"],
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )
    bind = op.get_bind()
    statements = _pg_triggers() if bind.dialect.name == "postgresql" else _sqlite_triggers()
    for sql in statements:
        op.execute(sql)

    from storage.rollup import rebuild

    from alembic import context

    tz = context.config.attributes.get("timezone") or os.environ.get("TIMEZONE")
    rebuild(bind, ZoneInfo(tz or "Asia/Shanghai"))


def downgrade() -> None:
    bind = op.get_bind()
    for table, name in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if _is_pg(bind) else ""))
    if _is_pg(bind):
        for fn in ("opinion", "task", "rating", "cosigner"):
            op.execute(f"DROP FUNCTION IF EXISTS report_dirty_{fn}()")
    op.drop_index("ix_tasks_open_due", table_name="tasks")
    op.drop_table("report_cache")
    op.drop_table("report_dirty")
    op.drop_index("ix_report_days_station_span_day", table_name="report_days")
    op.drop_table("report_days")
    op.execute("DELETE FROM bot_settings WHERE key = 'report_days_tz'")


def _is_pg(bind: sa.engine.Connection) -> bool:
    return bind.dialect.name == "postgresql"


_TRIGGERS = [
    (table, f"trg_report_{table}_{when}")
    for table in ("opinions", "tasks", "ratings", "cosigners")
    for when in ("ins", "upd", "del")
]


# ---- SQLite -------------------------------------------------------------------------------------

_S_HOUR = "strftime('%Y-%m-%d %H:00:00.000000', {})"


def _s_opinion_hours(ref: str) -> str:
    """Every hour the figures of opinion `ref` (NEW/OLD.opinion_id) depend on: its tasks'
    assignments and closures, its ratings."""
    h = _S_HOUR
    return (
        f"SELECT station_id, {h.format('assigned_at')} FROM tasks WHERE opinion_id = {ref} "
        f"UNION SELECT station_id, {h.format('closed_at')} FROM tasks "
        f"WHERE opinion_id = {ref} AND closed_at IS NOT NULL "
        f"UNION SELECT o.station_id, {h.format('r.at')} FROM ratings r "
        f"JOIN opinions o ON o.id = r.opinion_id WHERE r.opinion_id = {ref}"
    )


def _s_changed(cols: Sequence[str]) -> str:
    return " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in cols)


def _sqlite_triggers() -> list[str]:
    ins = "INSERT INTO report_dirty (station_id, hour) "
    h = _S_HOUR
    out: list[str] = []

    def trig(table: str, when: str, event: str, body: str, cond: str = "") -> None:
        where = f" WHEN {cond}" if cond else ""
        out.append(
            f"CREATE TRIGGER trg_report_{table}_{when} AFTER {event} ON {table} "
            f"FOR EACH ROW{where} BEGIN {body}; END"
        )

    def own(row: str) -> str:
        return f"{ins}VALUES ({row}.station_id, {h.format(row + '.created_at')})"

    trig("opinions", "ins", "INSERT", own("NEW"))
    trig(
        "opinions", "upd", f"UPDATE OF {', '.join(OPINION_COLS)}",
        f"{own('OLD')}; {own('NEW')}", _s_changed(OPINION_COLS),
    )  # fmt: skip
    trig("opinions", "del", "DELETE", own("OLD"))

    def task_old() -> str:
        return (
            f"{ins}VALUES (OLD.station_id, {h.format('OLD.assigned_at')}); "
            f"{ins}SELECT OLD.station_id, {h.format('OLD.closed_at')} WHERE OLD.closed_at IS NOT NULL"
        )

    trig("tasks", "ins", "INSERT", ins + _s_opinion_hours("NEW.opinion_id"))
    trig(
        "tasks", "upd", f"UPDATE OF {', '.join(TASK_COLS)}",
        f"{task_old()}; {ins}{_s_opinion_hours('NEW.opinion_id')}; "
        f"{ins}{_s_opinion_hours('OLD.opinion_id')}",
        _s_changed(TASK_COLS),
    )  # fmt: skip
    trig("tasks", "del", "DELETE", f"{task_old()}; {ins}{_s_opinion_hours('OLD.opinion_id')}")

    def rating_old() -> str:
        return (
            f"{ins}SELECT o.station_id, {h.format('OLD.at')} FROM opinions o "
            f"WHERE o.id = OLD.opinion_id"
        )

    trig("ratings", "ins", "INSERT", ins + _s_opinion_hours("NEW.opinion_id"))
    trig(
        "ratings", "upd", f"UPDATE OF {', '.join(RATING_COLS)}",
        f"{rating_old()}; {ins}{_s_opinion_hours('NEW.opinion_id')}; "
        f"{ins}{_s_opinion_hours('OLD.opinion_id')}",
        _s_changed(RATING_COLS),
    )  # fmt: skip
    trig("ratings", "del", "DELETE", f"{rating_old()}; {ins}{_s_opinion_hours('OLD.opinion_id')}")
    trig("cosigners", "ins", "INSERT", ins + _s_opinion_hours("NEW.opinion_id"))
    trig(
        "cosigners", "upd", f"UPDATE OF {', '.join(COSIGNER_COLS)}",
        f"{ins}{_s_opinion_hours('NEW.opinion_id')}; {ins}{_s_opinion_hours('OLD.opinion_id')}",
        _s_changed(COSIGNER_COLS),
    )  # fmt: skip
    trig("cosigners", "del", "DELETE", ins + _s_opinion_hours("OLD.opinion_id"))
    return out


# ---- PostgreSQL ---------------------------------------------------------------------------------

_P_HOUR = "(date_trunc('hour', {} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"


def _p_opinion_hours(ref: str) -> str:
    h = _P_HOUR
    return (
        f"INSERT INTO report_dirty (station_id, hour) "
        f"SELECT station_id, {h.format('assigned_at')} FROM tasks WHERE opinion_id = {ref} "
        f"UNION SELECT station_id, {h.format('closed_at')} FROM tasks "
        f"WHERE opinion_id = {ref} AND closed_at IS NOT NULL "
        f"UNION SELECT o.station_id, {h.format('r.at')} FROM ratings r "
        f"JOIN opinions o ON o.id = r.opinion_id WHERE r.opinion_id = {ref};"
    )


def _p_function(name: str, old: str, new: str) -> str:
    return (
        f"CREATE FUNCTION report_dirty_{name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP <> 'INSERT' THEN {old} END IF; "
        f"IF TG_OP <> 'DELETE' THEN {new} END IF; "
        f"RETURN NULL; END $$"
    )


def _pg_triggers() -> list[str]:
    h = _P_HOUR
    ins = "INSERT INTO report_dirty (station_id, hour) "

    def own(row: str) -> str:
        return f"{ins}VALUES ({row}.station_id, {h.format(row + '.created_at')});"

    task_old = (
        f"{ins}VALUES (OLD.station_id, {h.format('OLD.assigned_at')}); "
        f"IF OLD.closed_at IS NOT NULL THEN "
        f"{ins}VALUES (OLD.station_id, {h.format('OLD.closed_at')}); END IF; "
        + _p_opinion_hours("OLD.opinion_id")
    )
    rating_old = (
        f"{ins}SELECT o.station_id, {h.format('OLD.at')} FROM opinions o "
        f"WHERE o.id = OLD.opinion_id; " + _p_opinion_hours("OLD.opinion_id")
    )
    out = [
        _p_function("opinion", own("OLD"), own("NEW")),
        _p_function("task", task_old, _p_opinion_hours("NEW.opinion_id")),
        _p_function("rating", rating_old, _p_opinion_hours("NEW.opinion_id")),
        _p_function(
            "cosigner", _p_opinion_hours("OLD.opinion_id"), _p_opinion_hours("NEW.opinion_id")
        ),
    ]
    tables = (
        ("opinions", "opinion", OPINION_COLS),
        ("tasks", "task", TASK_COLS),
        ("ratings", "rating", RATING_COLS),
        ("cosigners", "cosigner", COSIGNER_COLS),
    )
    for table, fn, cols in tables:
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in cols)
        for when, event, cond in (
            ("ins", "INSERT", ""),
            ("upd", f"UPDATE OF {', '.join(cols)}", f" WHEN ({changed})"),
            ("del", "DELETE", ""),
        ):
            out.append(
                f"CREATE TRIGGER trg_report_{table}_{when} AFTER {event} ON {table} "
                f"FOR EACH ROW{cond} EXECUTE FUNCTION report_dirty_{fn}()"
            )
    return out
