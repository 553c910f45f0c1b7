"""kill -9 while residents' opinions arrive, in polling and in webhook mode, on both engines:
nothing lost, nothing stored twice, every stored opinion receipted, a receipt doubled only when
the process died with it in flight, and then at most one per kill (bench/killnine.py runs the
10-kill version)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import empty_database
from tests.killnine import run

OPINIONS, KILLS, RESIDENTS = 60, 3, 20


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_kill_9_during_intake_loses_nothing(
    mode: str, engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = empty_database(request, tmp_path, "liaison.db", engine)
    figures = run(mode, url, tmp_path, opinions=OPINIONS, kills=KILLS, residents=RESIDENTS)
    print(figures.line())
    assert figures.sent == OPINIONS
    assert (figures.lost, figures.duplicated, figures.unreceipted) == (0, 0, 0), figures.line()
    # A receipt is sent twice only when the process died with it on its way: never twice by
    # one process, and at most one per kill (replies go out one at a time and each is recorded
    # as sent before the next: services.kernel.reply_gate). The kill comes right after Telegram
    # was told the whole chunk arrived, with many replies still to send.
    assert figures.within_a_life == 0, figures.line()
    assert figures.worst_kill <= 1, figures.line()
    assert figures.other_messages == 0, figures.line()
