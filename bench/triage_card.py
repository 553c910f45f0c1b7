"""What the duplicate suggestions cost intake: the opinion path with the staff card, in process.

    python bench/triage_card.py [--open 2000] [--opinions 600] [--rounds 3]

A test database (SQLite in a temporary folder) with a staff group bound and --open opinions
already open (bench/similarity.py's synthetic texts); then --opinions more submitted through
`IntakeService.submit_text` by 100 residents, each with its triage card queued. Rounds
alternate between the product as it is (the station's open opinions indexed, every card asks
for likely originals, every opinion is added) and the baseline measured in the same run: a
finder that suggests nothing and keeps nothing (the path before issue 16). CPU time per opinion.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.similarity import synthetic  # noqa: E402
from domain.channels import Address, Channel, Sender  # noqa: E402
from domain.classifier import ThemeClassifier, init_jieba  # noqa: E402
from services.casework import CaseworkService  # noqa: E402
from services.intake import IntakeService  # noqa: E402
from services.kernel.context import Limits, ServiceContext  # noqa: E402
from services.kernel.duplicates import OpenOpinions, Suggested  # noqa: E402


class NoSuggestions(OpenOpinions):
    """The baseline: nothing indexed, nothing suggested."""

    def add(self, station_id: int, opinion_id: int, text: str) -> None:
        return None

    async def suggest(self, *args: Any, **kwargs: Any) -> list[Suggested]:
        return []


async def _cards_with_suggestions(ctx: ServiceContext) -> int:
    from sqlalchemy import select

    from storage.models import Outbox

    async with ctx.sessions() as s:
        cards = (await s.execute(select(Outbox.message))).scalars().all()
    return sum("可能与" in json.dumps(m, ensure_ascii=False) for m in cards)


async def run(n_open: int, n_new: int, rounds: int) -> dict[str, Any]:
    from storage.db import make_engine, make_sessionmaker
    from storage.migrate import upgrade

    init_jieba(Path(tempfile.mkdtemp(prefix="jieba-bench-")))
    clf = ThemeClassifier.load(None)
    texts = synthetic(n_open + n_new * rounds * 2, seed=5)
    per: dict[str, list[float]] = {"with suggestions": [], "baseline": []}
    msg = itertools.count(1)
    with tempfile.TemporaryDirectory(prefix="triage-") as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/liaison.db"
        await asyncio.to_thread(upgrade, url)
        engine = make_engine(url)
        ctx = await ServiceContext(
            make_sessionmaker(engine),
            clf,
            limits=Limits(10**6, 1, 5000),
            admin_ids=frozenset({("telegram", "1")}),
        ).prepare()
        admin = Sender(Channel.TELEGRAM, "1", "站长")
        await CaseworkService(ctx).bind_staff_chat(admin, Address(Channel.TELEGRAM, "-100"), None)
        intake = IntakeService(ctx)
        residents = [Sender(Channel.TELEGRAM, str(1000 + i), f"居民{i}") for i in range(100)]

        async def submit(text: str) -> None:
            who = residents[next(msg) % 100]
            await intake.submit_text(
                who, Address(Channel.TELEGRAM, who.external_id), str(next(msg)), text, None
            )

        for text in texts[:n_open]:
            await submit(text)
        real = OpenOpinions()
        await real.warm(ctx.sessions)
        rest = iter(texts[n_open:])
        for r in range(rounds * 2):
            name = "with suggestions" if r % 2 == 0 else "baseline"
            ctx.duplicates = real if r % 2 == 0 else NoSuggestions()
            t0 = time.process_time()
            for _ in range(n_new):
                await submit(next(rest))
            per[name].append((time.process_time() - t0) / n_new * 1000)
        suggested = await _cards_with_suggestions(ctx)
        indexed = len(real)
        await engine.dispose()
    mean = {k: statistics.mean(v) for k, v in per.items()}
    return {
        "open_opinions_at_start": n_open,
        "opinions_per_round": n_new,
        "ms_per_opinion": {k: [round(x, 2) for x in v] for k, v in per.items()},
        "ratio_with_over_baseline": round(mean["with suggestions"] / mean["baseline"], 2),
        "cards_with_a_suggestion": suggested,
        "indexed_at_end": indexed,
        "cpu_note": "process time, event loop and SQLite in one thread",
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--open", type=int, default=2000)
    p.add_argument("--opinions", type=int, default=600)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    print(
        json.dumps(
            asyncio.run(run(args.open, args.opinions, args.rounds)), ensure_ascii=False, indent=1
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
