"""bot/runtime.py settle_heap(): start-up objects leave the collector's generations."""

from __future__ import annotations

import gc

from bot.runtime import GC_THRESHOLDS, settle_heap


def test_settle_heap_freezes_what_is_loaded_and_raises_the_thresholds() -> None:
    before = gc.get_threshold()
    loaded = [{"word": n} for n in range(1_000)]  # stands in for the dictionary and the model
    try:
        settle_heap()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() >= len(loaded)
        young = [{"new": n} for n in range(10)]
        assert gc.get_count()[0] >= len(young)  # new objects still start young
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
