"""One clock tick as independent steps: a step that fails is logged and the others still run.

A tick expires unanswered ratings, plans reminders and briefings, prunes the outbox and drains
it. Before, one IntegrityError in the first step aborted the tick for everybody, every tick.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence

log = logging.getLogger(__name__)

Step = tuple[str, Callable[[], Awaitable[object]]]


class ClockTick:
    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = list(steps)
        self.last_seconds: dict[str, float] = {}

    async def run(self) -> list[str]:
        """Run every step in order; returns the names of those that failed."""
        failed: list[str] = []
        for name, step in self.steps:
            started = time.perf_counter()
            try:
                await step()
            except Exception:
                log.exception("clock step %r failed; the other steps still run", name)
                failed.append(name)
            finally:
                self.last_seconds[name] = time.perf_counter() - started
        return failed
