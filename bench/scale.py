"""The project's own service functions on a city's worth of data, against a small baseline.

Builds a database per size (bench/scale_data.py: one station, three years, residents, opinions,
tasks, events, ratings, outbox rows) on the real schema and migrations, then times /my, /status,
intake, triage, assign, /stats (this month, all time), /briefing, the ledger export and the
clock's steps (expire ratings, plan reminders). Prints the median per function per size and the
ratio to the baseline (the first size) measured in the same run.

    python bench/scale.py [--sizes 10000,1000000] [--engines sqlite,postgresql]
                          [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres] [--keep]

SQLite files go to a temporary directory; PostgreSQL databases are named liaison_reports_<size>
and dropped afterwards (unless --keep).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import scale_data as sd  # noqa: E402
from bench.scale_db import analyze, database, drop, kept  # noqa: E402
from domain.channels import Address, Channel  # noqa: E402
from domain.clock import ManualClock  # noqa: E402
from services.kernel.context import Limits, ServiceContext, StationDefaults  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
PARTS = frozenset({"interactive", "aggregate", "clock"})


@dataclass
class Timing:
    name: str
    seconds: list[float] = field(default_factory=list)
    result: Any = None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


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
        admin_ids=frozenset({("telegram", sd.ADMIN.external_id)}),
    )
    return ctx, engine


async def _timed(
    t: Timing,
    fn: Callable[[int], Awaitable[Any]],
    reps: int,
    after: Callable[[], Awaitable[Any]] | None = None,
) -> Timing:
    """`reps` calls of fn; `after` runs between them, untimed (a chart that follows its text
    is drawn before the next call, as between two staff requests)."""
    for i in range(reps):
        started = time.perf_counter()
        t.result = await fn(i)
        t.seconds.append(time.perf_counter() - started)
        if after is not None:
            await after()
    return t


async def pick(ctx: ServiceContext, built: sd.Built) -> dict[str, Any]:
    """Rows the interactive actions work on: a busy resident, untriaged opinions."""
    from sqlalchemy import func, select

    from storage.models import Opinion

    async with ctx.sessions() as s:
        busy = (
            await s.execute(
                select(Opinion.resident_id, func.count())
                .group_by(Opinion.resident_id)
                .order_by(func.count().desc())
                .limit(1)
            )
        ).one()
        assert busy[0] is not None
        ref = (
            await s.execute(select(Opinion.ref_no).where(Opinion.resident_id == busy[0]).limit(1))
        ).scalar_one()
        waiting = list(
            (
                await s.execute(
                    select(Opinion.id)
                    .where(Opinion.status == "received")
                    .order_by(Opinion.id.desc())
                    .limit(40)
                )
            ).scalars()
        )
    n = busy[0] - built.first_resident
    return {"resident": sd.resident_sender(n), "ref": ref, "waiting": waiting}


async def interactive(ctx: ServiceContext, built: sd.Built, reps: int) -> list[Timing]:
    """What a resident or staff member waits for in the chat."""
    from services.casework import CaseworkService
    from services.intake import IntakeService

    rows = await pick(ctx, built)
    intake, cw = IntakeService(ctx), CaseworkService(ctx)
    resident = rows["resident"]
    waiting = rows["waiting"]
    reps = min(reps, len(waiting) // 2)
    units = built.setup.unit_ids

    async def submit(i: int) -> Any:
        who = sd.resident_sender(built.counts["opinions"] % 1000 + i)
        chat = Address(Channel.TELEGRAM, who.external_id)
        return await intake.submit_text(who, chat, f"bench-{i}", sd.SNIPPETS[i % 8], None)

    return [
        await _timed(Timing("/my"), lambda i: intake.my_list(resident, 0), reps),
        await _timed(Timing("/status"), lambda i: intake.status(resident, rows["ref"]), reps),
        await _timed(Timing("intake"), submit, reps),
        await _timed(
            Timing("triage (theme)"),
            lambda i: cw.triage_button(sd.STAFF, "st", (waiting[i], 1)),
            reps,
        ),
        await _timed(
            Timing("assign"),
            lambda i: cw.triage_button(
                sd.STAFF, "dl", (waiting[reps + i], 2, units[i % len(units)], 7)
            ),
            reps,
        ),
    ]


async def aggregate(ctx: ServiceContext, built: sd.Built, reps: int) -> list[Timing]:
    """/stats and /briefing for the staff chat; the statistics alone, and the chart alone."""
    from services.reports import Period, ReportsService, compute_stats
    from services.reports.stats import render_chart

    reports = ReportsService(ctx, chart_wait=0.1)  # CHART_WAIT_SECONDS, the default
    staff = Address(Channel.TELEGRAM, sd.STAFF_CHAT)
    station = built.setup.station_id
    month = Period.this_month(sd.NOW.astimezone(ctx.tz).date())
    stats = await compute_stats(ctx, station, month)
    return [
        await _timed(
            Timing("stats SQL, this month"),
            lambda i: compute_stats(ctx, station, month),
            reps,
        ),
        await _timed(
            Timing("stats SQL, all time"),
            lambda i: compute_stats(ctx, station, Period.all_time()),
            reps,
        ),
        await _timed(Timing("chart (worker thread)"), lambda i: render_chart(stats), reps),
        await _timed(
            Timing("/stats this month (text)"),
            lambda i: reports.stats(sd.STAFF, "本月", staff),
            reps,
            reports.charts_followed,
        ),
        await _timed(
            Timing("/stats all time (text)"),
            lambda i: reports.stats(sd.STAFF, "全部", staff),
            reps,
            reports.charts_followed,
        ),
        await _timed(
            Timing("/briefing (text)"),
            lambda i: reports.briefing(sd.STAFF, "", staff),
            reps,
            reports.charts_followed,
        ),
    ]


async def clock_steps(ctx: ServiceContext) -> list[Timing]:
    """The tick's steps (the clock's, as on main): the first plan() inserts what is due, the
    second finds nothing new; each prune deletes one tick's batches of old sent rows."""
    from datetime import timedelta

    from services.casework import CaseworkService
    from services.kernel.retention import prune_outbox
    from services.reminders import ReminderPlanner

    planner = ReminderPlanner(ctx)
    return [
        await _timed(Timing("expire_ratings"), lambda i: CaseworkService(ctx).expire_ratings(), 3),
        await _timed(Timing("plan (first)"), lambda i: planner.plan(), 1),
        await _timed(Timing("plan (again)"), lambda i: planner.plan(), 1),
        await _timed(
            Timing("prune outbox (one tick)"),
            lambda i: prune_outbox(ctx, timedelta(days=90)),
            3,
        ),
    ]


async def export_inprocess(ctx: ServiceContext) -> Timing:
    from services.ledger import LedgerService

    t = Timing("export (in process)")
    return await _timed(t, lambda i: LedgerService(ctx).export_station(), 1)


def export_cli(url: str, workdir: Path) -> Timing:
    """`liaison-bot export` as an operator runs it: wall time and the process's peak RSS."""
    out = workdir / "ledger.xlsx"
    env = dict(os.environ, DATABASE_URL=url, DATA_DIR=str(workdir / "data"))
    env["LIAISON_CLOCK_START"] = sd.NOW.isoformat()
    env["STATION_NAME"] = "城区联络站"
    cli = Path(sys.executable).parent / "liaison-bot"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(cli), "export", "--out", str(out)],
        env=env,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = [0]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], _vm_hwm_kb(proc.pid))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    seconds = time.perf_counter() - started
    stdout = proc.stdout.read() if proc.stdout else ""
    stderr = proc.stderr.read() if proc.stderr else ""
    if status != 0:
        raise RuntimeError(f"export failed: {stderr[-2000:]}")
    # ru_maxrss would count the harness's own pages the child had between fork and exec.
    rss_mb = peak[0] / 1024
    cpu = usage.ru_utime + usage.ru_stime
    note = f"{rss_mb:.0f} MB peak RSS, {cpu:.0f} s CPU"
    t = Timing("liaison-bot export", [seconds], stdout.strip(), note)
    out.unlink(missing_ok=True)
    return t


def _vm_hwm_kb(pid: int) -> int:
    """The process's peak resident set since its exec (VmHWM), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


@dataclass
class Run:
    engine: str
    size: int
    built: sd.Built
    timings: list[Timing]


def _progress(stage: str, done: int, total: int) -> None:
    if done == total or done % (total // 10 or 1) < sd.CHUNK:
        print(f"  {stage} {done:,}/{total:,}", file=sys.stderr, flush=True)


async def measure(
    url: str,
    size: int,
    classifier: Any,
    reps: int,
    cli_export: Path | None,
    reuse: bool = False,
    export: bool = True,
    parts: frozenset[str] = PARTS,
) -> tuple[sd.Built, list[Timing]]:
    """Build `size` opinions at `url` (migrated, empty; or `reuse` what an earlier
    --build-only left there) and time every function on it."""
    clock = ManualClock(sd.NOW)
    ctx, engine = context(url, classifier, clock)
    try:
        await ctx.prepare()
        if reuse:
            built = await sd.existing(ctx)
        else:
            built = await sd.build(ctx, clock, sd.Shape(size), _progress)
            await analyze(url)
        timings = await interactive(ctx, built, reps) if "interactive" in parts else []
        if "aggregate" in parts:
            timings += await aggregate(ctx, built, max(reps // 5, 2))
        if cli_export is None and export:
            timings.append(await export_inprocess(ctx))
        if "clock" in parts:
            timings += await clock_steps(ctx)
    finally:
        await engine.dispose()
    if cli_export is not None and export:
        timings.append(await asyncio.to_thread(export_cli, url, cli_export))
    return built, timings


async def build_only(url: str, size: int, classifier: Any) -> None:
    clock = ManualClock(sd.NOW)
    ctx, engine = context(url, classifier, clock)
    try:
        await ctx.prepare()
        built = await sd.build(ctx, clock, sd.Shape(size), _progress)
    finally:
        await engine.dispose()
    await analyze(url)
    print(f"built in {built.seconds:.0f} s: {built.counts}", file=sys.stderr)


def report(runs: list[Run]) -> None:
    for engine in dict.fromkeys(r.engine for r in runs):
        mine = [r for r in runs if r.engine == engine]
        base = mine[0]
        print(f"\n## {engine}")
        for r in mine:
            c = r.built.counts
            print(
                f"{r.size:,} opinions: built in {r.built.seconds:.0f} s; "
                + ", ".join(f"{k} {v:,}" for k, v in c.items())
                + f"; open tasks {r.built.open_tasks:,}, overdue {r.built.overdue_tasks:,}"
            )
        sizes = " | ".join(f"{r.size:,}" for r in mine)
        print(f"| function | {sizes} | ratio |\n|---|{'---|' * len(mine)}---|")
        for i, t in enumerate(base.timings):
            cells = [_fmt(r.timings[i]) for r in mine]
            ratio = mine[-1].timings[i].median / t.median if t.median else float("nan")
            print(f"| {t.name} | {' | '.join(cells)} | {ratio:.1f}× |")


def _fmt(t: Timing) -> str:
    m = t.median
    text = f"{m * 1000:.1f} ms" if m < 1 else f"{m:.2f} s"
    return f"{text} ({t.note})" if t.note else text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--pg", default=os.environ.get("LIAISON_BENCH_PG", PG_DEFAULT))
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--workdir", type=Path, help="where SQLite files go (default: a tmp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument(
        "--build-only", action="store_true", help="build and keep the databases, time nothing"
    )
    parser.add_argument(
        "--reuse",
        default="",
        help="sizes whose databases an earlier --build-only kept (same --workdir): migrated to "
        "head and timed again, not rebuilt, kept",
    )
    parser.add_argument("--no-export", action="store_true", help="leave the ledger export out")
    parser.add_argument(
        "--parts",
        default=",".join(sorted(PARTS)),
        help="what to time besides the export: interactive, aggregate, clock (comma-separated)",
    )
    args = parser.parse_args()
    reuse = {int(x) for x in args.reuse.split(",") if x}
    parts = frozenset(p for p in args.parts.split(",") if p)
    from domain.classifier import ThemeClassifier, init_jieba

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="liaison-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    init_jieba(workdir)
    classifier = ThemeClassifier.load(None, threshold=0.45, cache_dir=workdir)
    runs: list[Run] = []
    for engine in args.engines.split(","):
        for size in (int(x) for x in args.sizes.split(",")):
            print(f"{engine}: {size:,} opinions …", file=sys.stderr, flush=True)
            if size in reuse:
                url = kept(engine, size, args.pg, workdir)
                built, timings = asyncio.run(
                    measure(
                        url, size, classifier, args.reps, workdir, True, not args.no_export, parts
                    )
                )
                runs.append(Run(engine, size, built, timings))
                report(runs[-1:])
                continue
            url = database(engine, size, args.pg, workdir)
            if args.build_only:
                asyncio.run(build_only(url, size, classifier))
                print(url)
                continue
            try:
                built, timings = asyncio.run(
                    measure(
                        url, size, classifier, args.reps, workdir, False, not args.no_export, parts
                    )
                )
            finally:
                if not args.keep:
                    drop(engine, size, args.pg, workdir)
            runs.append(Run(engine, size, built, timings))
            report(runs[-1:])
    report(runs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n(harness peak RSS {peak:.0f} MB; SQLite files in {workdir})")


if __name__ == "__main__":
    main()
