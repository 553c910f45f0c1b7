"""bench/scale.py at 10,000 opinions, so the harness the 1M figures come from cannot rot.

No timings are asserted: only that the database holds what the builder says it built and that
every timed function answered sensibly.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bench import scale
from bench import scale_data as sd
from domain.classifier import ThemeClassifier
from domain.clock import ManualClock
from storage.models import Opinion, Rating, Task

SIZE = 10_000


async def test_scale_harness_at_10k(db_url: str, classifier: ThemeClassifier) -> None:
    built, timings = await scale.measure(db_url, SIZE, classifier, reps=3, cli_export=None)
    counts = built.counts
    assert counts["opinions"] == SIZE
    assert counts["users"] >= sd.Shape(SIZE).residents + sd.REPS
    # The shape of the 1M database, scaled: a third of the opinions reach a unit or a
    # representative, most closed cases are rated, every opinion has its events and messages.
    assert 0.30 * SIZE < counts["tasks"] < 0.40 * SIZE
    assert 0.8 * counts["tasks"] < counts["ratings"] + built.open_tasks < counts["tasks"]
    assert counts["opinion_events"] > 2 * SIZE and counts["outbox"] > 2 * SIZE
    assert 0 < built.overdue_tasks < built.open_tasks

    ctx, engine = scale.context(db_url, classifier, ManualClock(sd.NOW))
    try:
        async with ctx.sessions() as s:
            open_now = await s.scalar(select(func.count()).where(Task.status == "open"))
            years = set((await s.execute(select(Opinion.year).distinct())).scalars())
            rated = await s.scalar(select(func.count(Rating.id)))
    finally:
        await engine.dispose()
    assert open_now == built.open_tasks + 3  # and the three timed assignments
    assert years == {2023, 2024, 2025, 2026}
    assert rated == counts["ratings"]

    by_name = {t.name: t for t in timings}
    assert all(len(t.seconds) >= 1 and min(t.seconds) > 0 for t in timings)
    _check_results(by_name, SIZE + 3)  # three more came in through the timed intake


def _check_results(by_name: dict[str, scale.Timing], opinions: int) -> None:
    def plain(name: str) -> str:
        result: Any = by_name[name].result
        message = getattr(result, "reply", result)
        return str(message.plain if hasattr(message, "plain") else message.text.plain)

    assert "LL-" in plain("/my") and "LL-" in plain("/status")
    assert "受理编号" in plain("intake") or "LL-" in plain("intake")
    assert by_name["triage (theme)"].result.edit is not None
    assert by_name["assign"].result.edit is not None and not by_name["assign"].result.alert
    assert "收到意见" in plain("/stats this month (text)")
    assert "收到意见" in plain("/stats all time (text)")
    assert "工作简报" in plain("/briefing (text)")
    assert (
        by_name["stats SQL, all time"].result.received
        >= by_name["stats SQL, this month"].result.received
    )
    assert by_name["chart (worker thread)"].result.startswith(b"\x89PNG")
    data, filename, count = by_name["export (in process)"].result
    assert data.startswith(b"PK") and filename.endswith(".xlsx") and count == opinions
    assert by_name["expire_ratings"].result >= 0
    assert by_name["plan (first)"].result > 0 and by_name["plan (again)"].result == 0
    assert by_name["prune outbox (one tick)"].result >= 0
