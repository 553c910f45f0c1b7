"""The clock on a large station: a tick with nothing new, a tick with a day's reminders, and the
chat (`/my`) while a tick runs, on SQLite and PostgreSQL, against a 10k baseline.

Builds each database with bench/tick_data.py on the real migrations, then:
- catch-up: the first tick after the upgrade (every open task planned once);
- prune: the first tick's outbox retention on 30 days of backlog;
- idle: 30 ticks with nothing due (expire, plan, drain, prune), median and p95;
- day: the tick at 09:00:30 on the next working day (every overdue task's daily reminder);
  sending is paced at 28/s and runs after it, so this tick's drain only claims (no channel
  here serves the rows);
- /my: p50/p95 alone, and while a day's tick runs (next working day again).
Prints figures and the ratio to the first size, then EXPLAIN (QUERY PLAN) of the clock's
queries on the largest database.

    python bench/tick.py [--sizes 10000,1000000] [--engines sqlite,postgresql]
                         [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres] [--keep]
                         [--reuse --workdir DIR] [--prefix NAME]
--reuse builds each database once and keeps a pristine copy (SQLite: a file in --workdir;
PostgreSQL: a template database); later runs copy it instead of building (a 1M build takes
13-20 minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import tick_data as td  # noqa: E402
from bench.tick_explain import explain  # noqa: E402
from bot.runtime import settle_heap  # noqa: E402
from domain.channels import Address, Channel  # noqa: E402
from domain.clock import ManualClock  # noqa: E402
from domain.message import Message  # noqa: E402
from scheduler.clock import ClockTick  # noqa: E402
from scheduler.delivery import ChannelLimits, Delivered, DeliveryResult  # noqa: E402
from services.kernel.context import Limits, ServiceContext, StationDefaults  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


class Instant:
    """An outbound channel that delivers at once (the platform is not what is measured)."""

    limits = ChannelLimits(100_000, 100_000, 100_000)
    buttons = True

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    def is_group(self, to: Address) -> bool:
        return to.id.startswith("-")

    async def send(self, to: Address, message: Message) -> DeliveryResult:
        return Delivered("1")


def context(url: str, classifier: Any, clock: ManualClock) -> tuple[ServiceContext, Any]:
    from storage.db import make_engine, make_sessionmaker

    engine = make_engine(url)
    ctx = ServiceContext(
        sessions=make_sessionmaker(engine),
        classifier=classifier,
        tz=TZ,
        clock=clock,
        station=StationDefaults("default", "城区联络站", "LL"),
        limits=Limits(opinions_per_hour=10, min_chars=5, max_chars=2000),
        admin_ids=frozenset({("telegram", td.ADMIN.external_id)}),
    )
    return ctx, engine


def clock_tick(ctx: ServiceContext, channel: Channel = Channel.TELEGRAM) -> ClockTick:
    """The tick `Core.clock_tick` builds, with an instant channel."""
    from datetime import timedelta

    from scheduler.dispatcher import Dispatcher
    from services.casework import CaseworkService
    from services.kernel.retention import prune_outbox
    from services.reminders import ReminderPlanner

    dispatcher = Dispatcher(ctx, [Instant(channel)])

    async def prune() -> int:
        return await prune_outbox(ctx, timedelta(days=90))

    return ClockTick(
        [
            ("expire ratings", CaseworkService(ctx).expire_ratings),
            ("plan", ReminderPlanner(ctx, ctx.calendar).plan),
            ("drain", dispatcher.tick),
            ("prune outbox", prune),
        ]
    )


async def timed_tick(tick: ClockTick) -> tuple[float, dict[str, float]]:
    started = time.perf_counter()
    failed = await tick.run()
    assert not failed, failed
    return time.perf_counter() - started, dict(tick.last_seconds)


async def mark_delivered(ctx: ServiceContext) -> int:
    """What the dispatcher would have sent by the next reminder time."""
    from sqlalchemy import update

    from storage.models import Outbox

    async with ctx.sessions.begin() as s:
        done = await s.execute(
            update(Outbox)
            .where(Outbox.status == "pending", Outbox.due_at <= ctx.clock.now())
            .values(status="sent", sent_at=ctx.clock.now())
        )
        return int(getattr(done, "rowcount", 0))


async def my_latencies(
    ctx: ServiceContext, busy: list[int], *, n: int = 0, until: Any = None, every: float = 0.05
) -> list[float]:
    """`/my` from residents in turn, open loop: a request arrives every `every` seconds and is
    handled on its own task (as the bot handles updates concurrently); its latency runs from
    its arrival (a loop blocked by the tick counts) to its answer. `n` requests, or requests
    until `until` (a task) is done."""
    from services.intake import IntakeService

    intake = IntakeService(ctx)
    loop = asyncio.get_running_loop()
    out: list[float] = []

    async def one(k: int, due: float) -> None:
        await intake.my_list(td.resident(busy[k % len(busy)]), 1)
        out.append(loop.time() - due)

    pending: list[asyncio.Task[None]] = []
    start = loop.time()
    k = 0
    while (until is None and k < n) or (until is not None and not until.done()):
        due = start + k * every
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
        pending.append(asyncio.ensure_future(one(k, due)))
        k += 1
    await asyncio.gather(*pending)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def build_only(url: str, n: int, classifier: Any) -> td.Built:
    """Migrate and fill a database (the part `--reuse` keeps between runs)."""
    from storage.migrate import upgrade

    await asyncio.to_thread(upgrade, url)
    clock = ManualClock(td.NOW)
    ctx, engine = context(url, classifier, clock)
    try:
        await ctx.prepare()
        built = await td.build(ctx, clock, n)
        await analyze(url)
    finally:
        await engine.dispose()
    return built


async def measure(
    url: str, n: int, classifier: Any, plans: bool = False, built: td.Built | None = None
) -> dict[str, Any]:
    """Build (unless `built` says the database at `url` already holds the station) and time."""
    from datetime import timedelta

    if built is None:
        built = await build_only(url, n, classifier)
    else:  # a kept database: migrations added since it was built
        from storage.migrate import upgrade

        await asyncio.to_thread(upgrade, url)
    clock = ManualClock(td.NOW)
    ctx, engine = context(url, classifier, clock)
    r: dict[str, Any] = {"size": n, "built": built}
    try:
        await ctx.prepare()
        settle_heap()  # as the bot does once started (bot/runtime.py)
        tick = clock_tick(ctx)
        # Planned, not sent (sending is paced and follows the tick): a channel no row uses.
        r["catchup"], r["catchup_steps"] = await timed_tick(clock_tick(ctx, Channel.DINGTALK))
        r["delivered"] = await mark_delivered(ctx)
        clock.advance(timedelta(minutes=1))
        r["prune_first"], steps = await timed_tick(tick)
        r["prune_first_step"] = steps["prune outbox"]
        for _ in range(200):  # the rest of the backlog, as later ticks would
            if await _prune_all(ctx) == 0:
                break
        idle = []
        for _ in range(30):
            clock.advance(timedelta(seconds=10))
            idle.append(await timed_tick(tick))
        r["idle"] = [t for t, _ in idle]
        r["idle_steps"] = {k: statistics.median(s[k] for _, s in idle) for k in idle[0][1]}
        busy = list(range(0, built.residents, max(built.residents // 50, 1)))
        r["my_alone"] = await my_latencies(ctx, busy, n=200)
        clock.set(td.workday_after(td.NOW.date(), 1))
        foreign = clock_tick(ctx, Channel.DINGTALK)  # plans and claims; sends nothing
        cpu = time.process_time()
        r["day"], r["day_steps"] = await timed_tick(foreign)
        r["day_cpu"] = time.process_time() - cpu
        r["day_added"] = await _reminders_today(ctx)
        await mark_delivered(ctx)
        clock.set(td.workday_after(td.NOW.date(), 2))
        cpu = time.process_time()
        running = asyncio.ensure_future(timed_tick(clock_tick(ctx, Channel.DINGTALK)))
        r["my_during"] = await my_latencies(ctx, busy, until=running)
        r["day2"], _ = await running
        r["day2_cpu"] = time.process_time() - cpu  # the tick's and the /my calls' CPU
        if plans:
            r["explain"] = await explain(ctx)
    finally:
        await engine.dispose()
    return r


async def _prune_all(ctx: ServiceContext) -> int:
    from datetime import timedelta

    from services.kernel.retention import prune_outbox

    return await prune_outbox(ctx, timedelta(days=90), batch=5000, batches=20)


async def _reminders_today(ctx: ServiceContext) -> int:
    from sqlalchemy import func, select

    from storage.models import Outbox

    async with ctx.sessions() as s:
        q = select(func.count()).where(Outbox.kind == "reminder", Outbox.status == "pending")
        return int((await s.execute(q)).scalar_one())


async def analyze(url: str) -> None:
    """PostgreSQL: what autovacuum would have done by now. SQLite runs as the bot runs it."""
    if url.startswith("postgresql"):
        await _pg_admin(url, "VACUUM ANALYZE")


async def _pg_admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def report(results: dict[str, list[dict[str, Any]]]) -> None:
    def ms(x: float) -> str:
        return f"{x * 1000:.1f} ms" if x < 10 else f"{x:.1f} s"

    for engine, runs in results.items():
        print(f"\n## {engine}")
        for r in runs:
            b = r["built"]
            print(
                f"{r['size']:>9,} opinions: built in {b.seconds:.0f} s ({b.residents:,} residents,"
                f" {b.tasks:,} tasks, {b.open_tasks:,} open, {b.overdue_tasks:,} overdue,"
                f" {b.outbox:,} outbox rows)"
            )
        rows: list[tuple[str, Callable[[dict[str, Any]], float]]] = [
            ("catch-up tick (first after the upgrade)", lambda r: r["catchup"]),
            ("first prune tick (30 days of backlog)", lambda r: r["prune_first_step"]),
            ("idle tick, median", lambda r: statistics.median(r["idle"])),
            ("idle tick, p95", lambda r: pct(r["idle"], 0.95)),
            ("day tick (a working day's reminders)", lambda r: r["day"]),
            ("/my alone, p50", lambda r: statistics.median(r["my_alone"])),
            ("/my alone, p95", lambda r: pct(r["my_alone"], 0.95)),
            ("/my during a day tick, p50", lambda r: statistics.median(r["my_during"])),
            ("/my during a day tick, p95", lambda r: pct(r["my_during"], 0.95)),
            ("/my during a day tick, max", lambda r: max(r["my_during"])),
        ]
        head = " | ".join(f"{r['size']:,}" for r in runs)
        print(f"| measure | {head} | ratio |")
        print("|---|" + "---|" * (len(runs) + 1))
        for name, get in rows:
            vals = [get(r) for r in runs]
            ratio = vals[-1] / vals[0] if vals[0] else float("nan")
            print(f"| {name} | " + " | ".join(ms(v) for v in vals) + f" | {ratio:.1f}× |")
        for r in runs:
            steps = ", ".join(f"{k} {ms(v)}" for k, v in r["idle_steps"].items())
            day = ", ".join(f"{k} {ms(v)}" for k, v in r["day_steps"].items())
            print(f"- {r['size']:,}: idle steps (median): {steps}")
            print(
                f"- {r['size']:,}: day tick steps: {day}; {r['day_added']:,} reminders;"
                f" /my calls during the tick: {len(r['my_during'])}; second day tick"
                f" {ms(r['day2'])}; process CPU: day tick {ms(r['day_cpu'])}, second day"
                f" tick with /my {ms(r['day2_cpu'])}"
            )
        for r in runs:
            for title, plan in r.get("explain", {}).items():
                print(f"\n{engine} {r['size']:,} — {title}:")
                for line in plan:
                    print("    " + line)


async def _pg_database(base: str, name: str, create: bool, template: str | None = None) -> str:
    root = base.rsplit("/", 1)[0]
    await _pg_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if create:
        like = f' TEMPLATE "{template}"' if template else ""
        await _pg_admin(base, f'CREATE DATABASE "{name}"{like}')
    return f"{root}/{name}"


async def _pg_exists(base: str, name: str) -> bool:
    import asyncpg

    conn = await asyncpg.connect(base.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


def _copy_db(work: Path, source: str, target: str) -> None:
    """An SQLite database with its -wal/-shm files, if any (every connection closed)."""
    for p in work.glob(target + ".db*"):
        p.unlink()
    for p in work.glob(source + ".db*"):
        copy = work / (target + p.name[len(source) :])
        shutil.copyfile(p, copy)
        with copy.open("rb+") as f:  # on disk before the clock runs, not written back meanwhile
            os.fsync(f.fileno())


def _save_built(path: Path, built: td.Built) -> None:
    path.write_text(json.dumps(dataclasses.asdict(built)))


def _load_built(path: Path) -> td.Built | None:
    return td.Built(**json.loads(path.read_text())) if path.exists() else None


def prepared(engine: str, n: int, args: argparse.Namespace, work: Path, classifier: Any) -> Any:
    """The URL of a freshly built database, and its Built (None: measure builds it).

    With --reuse the first run keeps a pristine copy (a file next to it on SQLite, a template
    database on PostgreSQL) and later runs start from a copy of it instead of building again."""
    name = f"{args.prefix}_{n}"
    pristine = f"{name}_pristine"
    meta = work / f"{engine}_{pristine}.json"
    if engine == "sqlite":
        path = work / f"{name}.db"
        for p in work.glob(name + ".db*"):
            p.unlink()
        url = f"sqlite+aiosqlite:///{path}"
        if not args.reuse:
            return url, None
        built = _load_built(meta)
        if built is None or not (work / f"{pristine}.db").exists():
            built = asyncio.run(build_only(url, n, classifier))
            _copy_db(work, name, pristine)
            _save_built(meta, built)
        else:
            _copy_db(work, pristine, name)
        return url, built
    if not args.reuse:
        return asyncio.run(_pg_database(args.pg, name, True)), None
    built = _load_built(meta)
    if built is None or not asyncio.run(_pg_exists(args.pg, pristine)):
        url = asyncio.run(_pg_database(args.pg, name, True))
        built = asyncio.run(build_only(url, n, classifier))
        asyncio.run(_pg_database(args.pg, pristine, True, template=name))
        _save_built(meta, built)
        return url, built
    url = asyncio.run(_pg_database(args.pg, name, True, template=pristine))
    asyncio.run(_pg_admin(args.pg, "CHECKPOINT"))  # the copy on disk before the clock runs
    return url, built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--pg", default=PG_DEFAULT)
    parser.add_argument("--keep", action="store_true", help="keep the databases measured")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="build each database once (pristine copy in --workdir / a PG template) and"
        " start later runs from a copy of it",
    )
    parser.add_argument("--workdir", type=Path, help="SQLite files and --reuse notes")
    parser.add_argument("--prefix", default="liaison_clock", help="database names")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    from domain.classifier import ThemeClassifier, init_jieba

    work = args.workdir or Path(tempfile.mkdtemp(prefix="liaison_clock_"))
    work.mkdir(parents=True, exist_ok=True)
    init_jieba(work)
    classifier = ThemeClassifier.load(None, threshold=0.45, cache_dir=work)
    results: dict[str, list[dict[str, Any]]] = {}
    for engine in args.engines.split(","):
        for n in sizes:
            name = f"{args.prefix}_{n}"
            url, built = prepared(engine, n, args, work, classifier)
            print(f"{engine} {n:,} … (load average {os.getloadavg()[0]:.1f})", flush=True)
            try:
                run = asyncio.run(measure(url, n, classifier, plans=n == max(sizes), built=built))
                results.setdefault(engine, []).append(run)
                print(f"  done (load average {os.getloadavg()[0]:.1f})", flush=True)
            finally:
                if engine == "postgresql" and not args.keep:
                    asyncio.run(_pg_database(args.pg, name, False))
                elif engine == "sqlite" and not args.keep:
                    for p in work.glob(name + ".db*"):
                        p.unlink()
    report(results)


if __name__ == "__main__":
    main()
