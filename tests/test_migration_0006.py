"""0006: two edits within one second are two revisions; the downgrade folds them into one.
On both engines, with data."""

from __future__ import annotations

import json

from alembic import command
from alembic.script import ScriptDirectory

from storage.migrate import alembic_config, upgrade
from tests.test_migration_data import CARD, MARKUP, PNG, REPLY, SEED, _rows, _run

REV = "INSERT INTO revisions (id, opinion_id, old_text, new_text, edit_date, created_at"


def _before_0006(url: str) -> str:
    """The revision 0006 follows (branches are re-chained when they merge)."""
    found = ScriptDirectory.from_config(alembic_config(url)).get_revision("0006")
    assert found is not None and isinstance(found.down_revision, str)
    return found.down_revision


def test_0006_numbers_edits_within_a_second_and_folds_them_back(db_url_0001: str) -> None:
    url = db_url_0001
    _run(url, SEED, {"card": CARD, "markup": json.dumps(MARKUP), "png": PNG, "reply": REPLY})
    upgrade(url, _before_0006(url))
    _run(url, [f"{REV}) VALUES (1, 1, '正文', '改一', 1700000000, '2026-09-28 01:00:00')"], {})
    upgrade(url, "0006")
    assert _rows(url, "SELECT id, new_text, seq FROM revisions") == [(1, "改一", 0)]
    _run(url, [f"{REV}, seq) VALUES (2, 1, '改一', '改二', 1700000000, '2026-09-28', 1)"], {})
    assert len(_rows(url, "SELECT id FROM revisions")) == 2

    command.downgrade(alembic_config(url), _before_0006(url))
    assert _rows(url, "SELECT id, old_text, new_text, edit_date FROM revisions") == [
        (1, "正文", "改二", 1700000000)
    ]
    upgrade(url)
    assert _rows(url, "SELECT id, new_text, seq FROM revisions") == [(1, "改二", 0)]
