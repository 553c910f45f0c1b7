"""Broadcast under Telegram's flood limits: 1,000 reminders over 50 groups through the real bot.

The fake Bot API server enforces about 30 messages a second overall and 20 a minute per group
(a send past a window gets 429 retry_after and is not delivered). The reminders are created the
way staff create them (notices to all groups) in the bot's database, then the real `liaison-bot
run` process is started and delivers them through its outbox dispatcher.

Prints the time from first to last delivery against the theoretical minimum under the limits
(target <= 1.25x), the 429 count, and lost or duplicated messages (target 0).

    python bench/broadcast.py [--groups 50] [--per-group 20] [--database-url URL]
    python bench/broadcast.py --channel dingtalk   (bench/broadcast_dingtalk.py)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from domain.classifier import ThemeClassifier, init_jieba  # noqa: E402
from services.casework import CaseworkService  # noqa: E402
from services.kernel.context import ServiceContext  # noqa: E402
from services.meetings import MeetingService  # noqa: E402
from storage.db import make_engine, make_sessionmaker  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from tests.botproc import ROOT as REPO  # noqa: E402
from tests.botproc import TOKEN, BotProcess  # noqa: E402
from tests.fakebot import FakeBotApi, FloodLimits  # noqa: E402
from tests.support import bind_staff, chat, tg  # noqa: E402

ADMIN = tg(900, "站长")
STAFF_CHAT = -999
GLOBAL_PER_SECOND = 30
GROUP_PER_MINUTE = 20


async def seed(url: str, data_dir: Path, groups: int, per_group: int) -> None:
    init_jieba(data_dir)
    engine = make_engine(url)
    ctx = ServiceContext(
        sessions=make_sessionmaker(engine),
        classifier=ThemeClassifier.load(None, cache_dir=data_dir),
        tz=ZoneInfo("Asia/Shanghai"),
        admin_ids=frozenset({ADMIN.identity}),
    )
    await ctx.prepare()
    await bind_staff(ctx, ADMIN, STAFF_CHAT)
    cw = CaseworkService(ctx)
    for g in range(groups):
        await cw.add_unit(ADMIN, "group", f"工作组{g + 1:02d}")
        await cw.bind_unit_chat(ADMIN, chat(-5000 - g), f"工作组{g + 1:02d}")
    meetings = MeetingService(ctx)
    for k in range(per_group):
        reply = await meetings.announce(ADMIN, f"全部 第{k + 1}号提醒：请于本周五前报送整改台账。")
        assert "发送到" in reply.text, reply.text
    await engine.dispose()


def theoretical_minimum(total: int, groups: int, per_group: int) -> float:
    """Seconds from first to last delivery that the two windows allow at best."""
    overall = max(0, total - GLOBAL_PER_SECOND) / GLOBAL_PER_SECOND
    rounds = (per_group - 1) // GROUP_PER_MINUTE  # full minutes a single group must wait
    return max(overall, rounds * 60.0)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--groups", type=int, default=50)
    p.add_argument("--per-group", type=int, default=20)
    p.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="0: one `liaison-bot run`; N: N `liaison-bot dispatch` workers sharing the database "
        "(each gets BULK_RATE_PER_SECOND = 28/N, the overall limit being per bot)",
    )
    p.add_argument("--channel", choices=("telegram", "dingtalk"), default="telegram")
    p.add_argument("--rate", type=float, default=0.0, help="dingtalk: DINGTALK_RATE_PER_SECOND")
    args = p.parse_args()
    if args.channel == "dingtalk":
        from bench.broadcast_dingtalk import run

        run(args)
        return
    total = args.groups * args.per_group
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        url = args.database_url or f"sqlite+aiosqlite:///{work / 'liaison.db'}"
        print(f"seeding {total} reminders over {args.groups} groups …", file=sys.stderr)
        upgrade(url)
        asyncio.run(seed(url, work / "data", args.groups, args.per_group))
        limits = FloodLimits(
            global_per_second=GLOBAL_PER_SECOND,
            group_per_minute=GROUP_PER_MINUTE,
            private_per_second=1,
        )
        with FakeBotApi(TOKEN, flood=limits) as fake:
            fake.add_group(STAFF_CHAT, "工作人员群")
            chats = [-5000 - g for g in range(args.groups)]
            for g, chat in enumerate(chats):
                fake.add_group(chat, f"工作组{g + 1:02d}")
            workers: list[subprocess.Popen[bytes]] = []
            if args.workers:
                env = {
                    **os.environ,
                    "BOT_TOKEN": TOKEN,
                    "TELEGRAM_BASE_URL": fake.base_url,
                    "DATABASE_URL": url,
                    "DATA_DIR": str(work / "data"),
                    "LOG_LEVEL": "WARNING",
                    "TICK_SECONDS": "0.5",
                    "BULK_RATE_PER_SECOND": str(28 / args.workers),
                }
                cmd = [sys.executable, "-m", "bot.cli", "dispatch"]
                workers = [subprocess.Popen(cmd, cwd=REPO, env=env) for _ in range(args.workers)]
            bot = BotProcess(
                fake.base_url, work, database_url=url, extra_env={"LOG_LEVEL": "WARNING"}
            )
            if not workers:
                bot.start()
            started = time.perf_counter()
            try:
                chat_set = set(chats)
                # Count deliveries from the server's own callback: polling messages() would
                # deep-copy the whole history under the server's lock and stall it.
                counter = {"n": 0}

                def on_send(record: dict[str, object]) -> None:
                    if record["chat_id"] in chat_set and record["method"] == "sendMessage":
                        counter["n"] += 1

                fake.add_listener(on_send)
                last_report = time.perf_counter()
                while counter["n"] < total:
                    if not workers and not bot.alive():
                        raise SystemExit("bot exited:\n" + bot.log())
                    if time.perf_counter() - started > 600:
                        break
                    time.sleep(0.5)
                    if time.perf_counter() - last_report > 5:
                        last_report = time.perf_counter()
                        print(f"  delivered {counter['n']}/{total}", file=sys.stderr)
                fake.wait_until_idle(timeout=30, quiet=1.0)
            finally:
                if workers:
                    for w in workers:
                        w.terminate()
                        w.wait(30)
                else:
                    bot.stop()
            msgs = [m for m in fake.messages() if m["chat_id"] in chat_set]
            times = sorted(m["time"] for m in msgs)
            counts = Counter((m["chat_id"], m["text"]) for m in msgs)
            duplicates = sum(c - 1 for c in counts.values() if c > 1)
            lost = total - len(counts)
            span = times[-1] - times[0] if times else float("nan")
            minimum = theoretical_minimum(total, args.groups, args.per_group)
            engine = "PostgreSQL" if "postgresql" in url else "SQLite"
            how = f"{args.workers} dispatch workers" if args.workers else "one bot process"
            print(
                f"\nbroadcast benchmark ({engine}, {how}): {total} reminders over {args.groups} groups"
            )
            print(f"delivered        {len(msgs)}")
            print(f"first→last       {span:.1f} s")
            print(f"theoretical min  {minimum:.1f} s (30/s overall, 20/min per group)")
            print(f"ratio            {span / minimum:.2f} (target <= 1.25)")
            print(f"429 responses    {fake.count_429}")
            flooded = [c for c in fake.calls() if c.get("status") == 429]
            if flooded:
                first = flooded[0]
                print(
                    f"  first 429: {first['method']} chat {first['params'].get('chat_id')}: {first.get('description')}"
                )
            print(f"lost             {lost}")
            print(f"duplicated       {duplicates}")


if __name__ == "__main__":
    main()
