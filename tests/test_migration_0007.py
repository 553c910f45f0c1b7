"""0007 (casework) adds nullable columns only: rows written before keep their meaning, and the
downgrade gives the 0006 schema back with the rows intact, on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command

from storage.migrate import alembic_config, upgrade
from tests.conftest import empty_database, run_sql

T0 = "2026-09-28 01:00:00"
SEED = [
    "INSERT INTO stations (id, code, name, ref_prefix, staff_channel, staff_chat_id, created_at)"
    f" VALUES (1, 'default', '站', 'LL', 'telegram', '-1001', '{T0}')",
    "INSERT INTO users (id, first_name, station_id, subscribed, created_at, updated_at)"
    f" VALUES (1, '王阿姨', 1, false, '{T0}', '{T0}'), (2, '刘代表', 1, false, '{T0}', '{T0}')",
    "INSERT INTO opinions (id, station_id, ref_no, year, seq, resident_id, source, text, theme,"
    " theme_confidence, theme_terms, needs_review, theme_confirmed, anonymous, status,"
    " reopen_count, created_at, updated_at) VALUES (1, 1, 'LL-2026-00001', 2026, 1, 1,"
    f" 'resident', '正文', 'elderly_care', 0.9, '[]', false, false, true, 'rated', 0, '{T0}', '{T0}')",
    "INSERT INTO tasks (id, opinion_id, station_id, assignee_user_id, assigned_at, working_days,"
    " due_date, deadline_uncertain, status, outcome) VALUES"
    f" (1, 1, 1, 2, '{T0}', 15, '2026-10-20', false, 'closed', 'A')",
    "INSERT INTO ratings (id, opinion_id, task_id, user_id, value, comment, at)"
    f" VALUES (1, 1, 1, 1, 'satisfied', '好', '{T0}')",
]
CHECK = {
    "stations": "SELECT id, name, staff_chat_id FROM stations",
    "tasks": "SELECT id, status, outcome, working_days FROM tasks",
    "opinions": "SELECT id, ref_no, status FROM opinions",
    "ratings": "SELECT id, value, comment FROM ratings",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url = empty_database(request, tmp_path, "old.db")
    upgrade(url, "0006")
    yield url


def test_0007_keeps_rows_and_downgrades(old_db: str) -> None:
    run_sql(old_db, SEED)
    before = run_sql(old_db, list(CHECK.values()))
    upgrade(old_db, "0007")
    assert run_sql(old_db, list(CHECK.values())) == before
    added = run_sql(
        old_db,
        [
            "SELECT settings FROM stations",
            "SELECT case_kind FROM tasks",
            "SELECT respond_by FROM tasks",
            "SELECT claim_code FROM opinions",
            "SELECT recorded_by_id FROM ratings",
        ],
    )
    assert added == [[(None,)]] * 5
    run_sql(
        old_db, ["UPDATE tasks SET case_kind = 'consult'", "UPDATE ratings SET recorded_by_id = 2"]
    )
    command.downgrade(alembic_config(old_db), "0006")
    assert run_sql(old_db, list(CHECK.values())) == before
