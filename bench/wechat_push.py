"""WeChat pushes through the whole channel: signed, encrypted XML from the fake platform to the
real endpoint, the durable inbox, the core's intake and the passive receipt back (safe mode),
against the same opinions handed straight to the core's Router (the baseline, same run).

The question is WeChat's 5-second rule: how long a resident's push takes to be answered, and how
much the channel adds to the core's own work. Residents write one opinion each; first one after
another (latency), then `--concurrency` at a time (a burst after a poster goes up).

    python bench/wechat_push.py [--residents 200] [--concurrency 20] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.context import make_context  # noqa: E402
from bot.runtime import load_classifier, settle_heap  # noqa: E402
from bot.wechat import read_config  # noqa: E402
from domain.channels import Channel, Sender  # noqa: E402
from domain.clock import SystemClock  # noqa: E402
from handlers.wechat.inbound import WeChatInbound  # noqa: E402
from services.inbound.router import Router  # noqa: E402
from services.inbound.types import Inbound  # noqa: E402
from services.kernel.context import ServiceContext  # noqa: E402
from services.kernel.inbox import Inbox  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from tests.fakewechat import FakeWeChat  # noqa: E402
from tests.fakewechat.harness import running_endpoint  # noqa: E402
from tests.wechatproc import wechat_env  # noqa: E402

CORPUS = ROOT / "domain/classifier/data/corpus_heldout.csv"


def opinions(n: int) -> list[str]:
    with CORPUS.open(encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f) if len(row["text"]) >= 8]
    return [f"{texts[i % len(texts)]}（第{i + 1}条）" for i in range(n)]


def settings_for(url: str, workdir: Path) -> Settings:
    settings = Settings(database_url=url, data_dir=workdir / "data", opinions_per_hour=1000)
    settings.ensure_dirs()
    upgrade(url)  # before the event loop (alembic runs its own)
    return settings


async def timed(calls: list[Callable[[], Awaitable[bool]]], concurrency: int) -> list[float]:
    """Seconds per call (each must return True: answered properly)."""
    gate = asyncio.Semaphore(concurrency)
    took: list[float] = []

    async def one(call: Callable[[], Awaitable[bool]]) -> None:
        async with gate:
            start = time.perf_counter()
            ok = await call()
            took.append(time.perf_counter() - start)
            assert ok, "a push was not answered with its receipt"

    await asyncio.gather(*(one(c) for c in calls))
    return took


async def through_wechat(ctx: ServiceContext, texts: list[str], concurrency: int) -> list[float]:
    await ctx.prepare()
    async with FakeWeChat(mode="safe") as fake:
        config = read_config(wechat_env(fake, 1, templates=False))
        assert config is not None
        inbound = WeChatInbound(
            ctx,
            Router.build(ctx),
            reply_deadline=config.reply_deadline,
            inbox=Inbox(ctx, Channel.WECHAT),
        )
        async with running_endpoint(config, inbound.handle, on_late=inbound.on_late) as url:
            fake.bot_url = url
            users = [fake.add_user() for _ in texts]

            def push(openid: str, text: str) -> Callable[[], Awaitable[bool]]:
                async def call() -> bool:
                    result = await fake.send_text(openid, text)
                    return result.reply is not None and "受理编号" in result.reply.text

                return call

            return await timed([push(u, t) for u, t in zip(users, texts, strict=True)], concurrency)


async def straight(ctx: ServiceContext, texts: list[str], concurrency: int) -> list[float]:
    await ctx.prepare()
    router = Router.build(ctx)

    def submit(n: int, text: str) -> Callable[[], Awaitable[bool]]:
        sender = Sender(Channel.WECHAT, f"oBaseline{n:019d}", "居民")
        inbound = Inbound(sender, sender.private_chat, str(n), buttons=False)

        async def call() -> bool:
            outcome = await router.text(inbound, text)
            return any("受理编号" in m.plain for m in outcome.messages)

        return call

    return await timed([submit(n, t) for n, t in enumerate(texts)], concurrency)


def summary(name: str, took: list[float]) -> tuple[float, str]:
    ms = sorted(t * 1000 for t in took)
    p50 = statistics.median(ms)
    p95 = ms[int(len(ms) * 0.95) - 1]
    return p50, f"{name:<40} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   max {ms[-1]:7.1f} ms"


RUNS = [
    (road, label, concurrency)
    for label, concurrency in (("one after another", 1), ("at a time", 0))
    for road in ("core only (baseline)", "WeChat push, safe mode")
]


async def run(args: argparse.Namespace, runs: list[tuple[str, int, Settings]]) -> None:
    texts = opinions(args.residents)
    classifier = load_classifier(runs[0][2])
    settle_heap()  # as `liaison-bot run` does once everything is loaded
    results: list[tuple[str, int, list[float], float]] = []
    for tag, concurrency, settings in runs:
        app = make_context(settings, classifier, SystemClock())
        fn = straight if tag.startswith("core") else through_wechat
        start = time.perf_counter()
        took = await fn(app.ctx, texts, concurrency)
        results.append((tag, concurrency, took, time.perf_counter() - start))
        await app.close()
    print(f"{args.residents} residents, one opinion each (receipt checked on every one)")
    base_p50 = base_rate = 0.0
    for tag, concurrency, took, wall in results:
        rate = len(took) / wall
        if concurrency == 1:
            p50, line = summary(tag, took)
        else:  # the core runs to completion without yielding: only the rate compares
            p50, line = 0.0, f"{tag:<40}"
        line += f"   {rate:6.1f} /s"
        if tag.startswith("core"):
            base_p50, base_rate = p50, rate
            print(line)
        elif concurrency == 1:
            print(f"{line}   ratio {p50 / base_p50:4.2f} (p50) vs the core")
        else:
            print(f"{line}   ratio {base_rate / rate:4.2f} (time per opinion) vs the core")
    worst = max(max(t) for _, _, t, _ in results)
    print(f"slowest answer {worst * 1000:.0f} ms; WeChat waits 5,000 ms, the endpoint 4,000 ms")


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--residents", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--database-url", help="a PostgreSQL URL (each run starts from what is there)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs: list[tuple[str, int, Settings]] = []
        for n, (road, label, concurrency) in enumerate(RUNS):
            level = concurrency or args.concurrency
            when = label if concurrency else f"{level} at a time"
            url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / f'run{n}.db'}"
            runs.append((f"{road}, {when}", level, settings_for(url, Path(tmp))))
        asyncio.run(run(args, runs))


if __name__ == "__main__":
    main()
