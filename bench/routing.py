"""Routing suggestions (派单建议): top-1 / top-3 on held-out past assignments.

    python bench/routing.py

Data (bench/data/routing/, see its README): the sample 权责清单.csv (17 units) and
assignments.csv, 320 opinions each assigned by hand to the unit that should handle it. Five
folds (seeded): each fold's opinions are the held-out "new" opinions, the other four folds are
the station's past assignments. Three matchers: the duty list alone, past assignments alone,
both. The opinion's theme is what the packaged classifier says (as at 交办 time).

    python bench/routing.py --services

The same folds through the product: per fold a fresh test database (SQLite in a temporary
folder), the duty list loaded with `import_duty_file` (as `liaison-bot units import`), every
past opinion submitted by a resident through intake and assigned by staff with the 交办 buttons,
then each held-out opinion submitted and the 交办 menu opened: the units it lists first (👍,
with their reasons) are the suggestions counted for top-1 / top-3.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from domain.classifier import ThemeClassifier, init_jieba  # noqa: E402
from domain.routing import RoutingModel, parse_duty_list, top_k_accuracy  # noqa: E402

DATA = ROOT / "bench" / "data" / "routing"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--services", action="store_true", help="also run the folds through the bot")
    args = p.parse_args(argv)
    cache = Path(tempfile.mkdtemp(prefix="jieba-bench-"))
    init_jieba(cache)
    clf = ThemeClassifier.load(None, cache_dir=cache)
    duty = parse_duty_list((DATA / "权责清单.csv").read_bytes(), "权责清单.csv")
    with (DATA / "assignments.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    cases: list[tuple[str, str, tuple[str, ...]]] = []
    for r in rows:
        v = clf.classify(r["text"])
        cases.append((r["text"], r["unit"], (v.category, v.label)))
    order = list(range(len(cases)))
    random.Random(16).shuffle(order)
    folds = [order[i::5] for i in range(5)]
    results: dict[str, list[dict[int, float]]] = {"rules": [], "history": [], "both": []}
    rank_ms: list[float] = []
    for f, held in enumerate(folds):
        past = [cases[i] for j, fold in enumerate(folds) if j != f for i in fold]
        test = [cases[i] for i in held]
        models = {
            "rules": RoutingModel.from_rules(duty.rules),
            "history": RoutingModel(),
            "both": RoutingModel.from_rules(duty.rules),
        }
        models["history"].learn((t, u) for t, u, _ in past)
        models["both"].learn((t, u) for t, u, _ in past)
        for name, model in models.items():
            results[name].append(top_k_accuracy(model, test))
        for t, _, th in test:
            t0 = time.perf_counter()
            models["both"].rank(t, th)
            rank_ms.append((time.perf_counter() - t0) * 1000)
    out: dict[str, Any] = {
        "opinions": len(cases),
        "units_in_duty_list": len(duty.rules),
        "folds": 5,
        "past_assignments_per_fold": len(cases) - len(folds[0]),
    }
    for name, per in results.items():
        out[name] = {f"top{k}": round(statistics.mean(p[k] for p in per), 3) for k in (1, 3)} | {
            "top1_per_fold": [round(p[1], 3) for p in per]
        }
    out["rank_ms_median"] = round(statistics.median(rank_ms), 2)
    out["examples"] = examples(clf, duty.rules, cases)
    if args.services:
        out["through_services"] = asyncio.run(through_services(clf, cases, folds))
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


def examples(
    clf: Any, rules: Sequence[Any], cases: list[tuple[str, str, tuple[str, ...]]]
) -> dict[str, list[list[Any]]]:
    model = RoutingModel.from_rules(rules)
    model.learn((t, u) for t, u, _ in cases)
    return {
        text: [[s.unit, s.score, s.reason] for s in model.rank(text, clf.classify(text).label)]
        for text in (
            "建议修一下东环路的路灯，晚上太黑",
            "退休金什么时候涨",
            "小区没有老年食堂，希望社区办一个助餐点",
            "我妈被人拉去听保健品讲座，花了一万多",
        )
    }


async def through_services(
    clf: Any, cases: list[tuple[str, str, tuple[str, ...]]], folds: list[list[int]]
) -> dict[str, Any]:
    """Top-1 / top-3 of the 交办 menu's suggested units, fold by fold, in fresh databases."""
    hits = {1: 0, 3: 0}
    menu_ms: list[float] = []
    for f, held in enumerate(folds):
        past = [cases[i] for j, fold in enumerate(folds) if j != f for i in fold]
        with tempfile.TemporaryDirectory(prefix="routing-") as tmp:
            h1, h3, ms = await _fold(
                clf, f"sqlite+aiosqlite:///{tmp}/liaison.db", past, [cases[i] for i in held]
            )
        hits[1] += h1
        hits[3] += h3
        menu_ms += ms
    n = len(cases)
    return {
        "top1": round(hits[1] / n, 3),
        "top3": round(hits[3] / n, 3),
        "menu_ms_median": round(statistics.median(menu_ms), 1),
    }


async def _station(clf: Any, url: str) -> tuple[Any, Any, Any, Any, Any, dict[str, int]]:
    """A fresh station in a migrated database: engine, context, casework, intake, staff, units."""
    from sqlalchemy import select

    from domain.channels import Address, Channel, Sender
    from services.casework import CaseworkService
    from services.casework.duties import import_duty_file
    from services.intake import IntakeService
    from services.kernel.context import Limits, ServiceContext
    from storage.db import make_engine, make_sessionmaker
    from storage.migrate import upgrade
    from storage.models import Unit

    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    ctx = await ServiceContext(
        make_sessionmaker(engine),
        clf,
        limits=Limits(10**6, 1, 5000),
        admin_ids=frozenset({("telegram", "1")}),
    ).prepare()
    admin, staff = (Sender(Channel.TELEGRAM, str(i), n) for i, n in ((1, "站长"), (2, "工作人员")))
    cw, intake = CaseworkService(ctx), IntakeService(ctx)
    await cw.bind_staff_chat(admin, Address(Channel.TELEGRAM, "-100"), None)
    await intake.start(staff, None)
    await cw.add_staff(admin, "2", None)
    await import_duty_file(ctx, (DATA / "权责清单.csv").read_bytes(), "权责清单.csv")
    async with ctx.sessions() as s:
        unit_id = {u.name: u.id for u in (await s.execute(select(Unit))).scalars()}
    return engine, ctx, cw, intake, staff, unit_id


async def _fold(
    clf: Any,
    url: str,
    past: list[tuple[str, str, tuple[str, ...]]],
    new: list[tuple[str, str, tuple[str, ...]]],
) -> tuple[int, int, list[float]]:
    from sqlalchemy import select

    from domain.channels import Address, Channel, Sender
    from storage.models import Opinion

    engine, ctx, cw, intake, staff, unit_id = await _station(clf, url)
    res = Sender(Channel.TELEGRAM, "3", "居民")
    msg = itertools.count(1)

    async def submit(text: str) -> int:
        mid = str(next(msg))
        await intake.submit_text(res, Address(Channel.TELEGRAM, "3"), mid, text, None)
        async with ctx.sessions() as s:
            found = await s.execute(select(Opinion.id).where(Opinion.src_message_id == mid))
            return int(found.scalar_one())

    for text, unit, _ in past:
        await cw.triage_button(staff, "dl", (await submit(text), 2, unit_id[unit], 15))
    h1 = h3 = 0
    ms: list[float] = []
    for text, unit, _ in new:
        oid = await submit(text)
        t0 = time.perf_counter()
        menu = await cw.triage_button(staff, "as", (oid,))
        ms.append((time.perf_counter() - t0) * 1000)
        assert menu.edit is not None
        shown = [a.label for a in menu.edit.choices() if a.label.startswith("👍")]
        top = [label.split("：", 1)[1].split("（", 1)[0] for label in shown]
        h1 += unit in top[:1]
        h3 += unit in top[:3]
    await engine.dispose()
    return h1, h3, ms


if __name__ == "__main__":
    sys.exit(main())
