"""bench/tick.py's harness on a small station, so it cannot rot (the 1M run is not a test)."""

from __future__ import annotations

import asyncio
from typing import Any

from bench import tick


def test_tick_bench_runs_on_a_small_station(db_url: str, classifier: Any) -> None:
    r = asyncio.run(tick.measure(db_url, 2_000, classifier, plans=True))
    built = r["built"]
    assert built.opinions == 2_000 and built.open_tasks > built.overdue_tasks > 0
    # Every overdue task's daily reminder was planned on the next working day.
    assert r["day_added"] >= built.overdue_tasks
    assert len(r["idle"]) == 30 and set(r["idle_steps"]) == {
        "expire ratings",
        "plan",
        "drain",
        "prune outbox",
    }
    assert r["my_alone"] and r["my_during"]
    assert any(
        "ix_tasks_next_remind_at" in line
        for line in r["explain"]["planner after: rows whose moment has come"]
    )
    tick.report({"engine": [r]})
