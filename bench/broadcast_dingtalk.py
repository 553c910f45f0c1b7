"""`bench/broadcast.py --channel dingtalk`: 1,000 reminders to 50 DingTalk groups through the real
bot, against the fake DingTalk's limits.

The fake (tests/fakedingtalk) enforces DingTalk's documented 20 calls per second per app per API
(403 Forbidden.AccessDenied.QpsLimitForApi past it) and, switched on here, 20 messages a minute
per group (as the custom robot's documented limit; the app robot names none). A refused send is
not delivered. Notices are created through the services into groups bound on DingTalk, then the
real `liaison-bot run` (serving Telegram and DingTalk) delivers them from its outbox.

Theoretical minimum first→last: the first 20 sends fit the first second, every further 20 need
one more: (total − 20) / 20 s; and a group past 20 messages waits whole minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

from domain.channels import Address, Channel, Sender
from domain.classifier import ThemeClassifier, init_jieba
from services.casework import CaseworkService
from services.kernel.context import ServiceContext
from services.meetings import MeetingService
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade
from tests.botproc import TOKEN
from tests.dingtalkproc import start_both
from tests.fakebot import FakeBotApi
from tests.fakedingtalk import FakeDingTalk, FakeLimits

ADMIN = Sender(Channel.DINGTALK, "20001", "站长")
STAFF_GROUP = "cidBenchStaff=="
API_QPS = 20
GROUP_PER_MINUTE = 20


def group_id(g: int) -> str:
    return f"cidBenchGroup{g:03d}=="


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
    cw = CaseworkService(ctx)
    await cw.bind_staff_chat(ADMIN, Address(Channel.DINGTALK, STAFF_GROUP), None)
    for g in range(groups):
        await cw.add_unit(ADMIN, "group", f"工作组{g + 1:02d}")
        await cw.bind_unit_chat(ADMIN, Address(Channel.DINGTALK, group_id(g)), f"工作组{g + 1:02d}")
    meetings = MeetingService(ctx)
    for k in range(per_group):
        reply = await meetings.announce(ADMIN, f"全部 第{k + 1}号提醒：请于本周五前报送整改台账。")
        assert "发送到" in reply.text, reply.text
    await engine.dispose()


def theoretical_minimum(total: int, per_group: int) -> float:
    overall = max(0, total - API_QPS) / API_QPS
    rounds = (per_group - 1) // GROUP_PER_MINUTE
    return max(overall, rounds * 60.0)


def run(args: argparse.Namespace) -> None:
    total = args.groups * args.per_group
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        url = args.database_url or f"sqlite+aiosqlite:///{work / 'liaison.db'}"
        print(f"seeding {total} reminders over {args.groups} DingTalk groups …", file=sys.stderr)
        upgrade(url)
        asyncio.run(seed(url, work / "data", args.groups, args.per_group))
        limits = FakeLimits(api_qps=API_QPS, group_per_minute=GROUP_PER_MINUTE)
        with FakeBotApi(TOKEN) as tg, FakeDingTalk(limits=limits) as dt:
            dt.add_user(ADMIN.external_id, "站长", is_admin=True)
            dt.add_group(STAFF_GROUP, "工作人员群")
            convs = {f"group:{group_id(g)}" for g in range(args.groups)}
            for g in range(args.groups):
                dt.add_group(group_id(g), f"工作组{g + 1:02d}")
            counter = {"n": 0}

            def on_send(record: dict[str, object]) -> None:
                if record["conversation"] in convs:
                    counter["n"] += 1

            dt.add_listener(on_send)
            env = {"LOG_LEVEL": "WARNING"}
            if args.rate:
                env["DINGTALK_RATE_PER_SECOND"] = str(args.rate)
            bot = start_both(
                tg, dt, work, admin_ids="", database_url=url, extra_env=env, template=""
            )
            started = time.perf_counter()
            last_report = started
            try:
                while counter["n"] < total and time.perf_counter() - started < 900:
                    if not bot.alive():
                        raise SystemExit("bot exited:\n" + bot.log())
                    with contextlib.suppress(TimeoutError):
                        dt.wait_for(lambda: counter["n"] >= total, timeout=5.0)
                    if time.perf_counter() - last_report > 5:
                        last_report = time.perf_counter()
                        print(f"  delivered {counter['n']}/{total}", file=sys.stderr)
                tg.wait_until_idle(timeout=30, quiet=2.0)
            finally:
                bot.stop()
            report(dt, convs, total, args, url)


def report(
    dt: FakeDingTalk, convs: set[str], total: int, args: argparse.Namespace, url: str
) -> None:
    msgs = [r for r in dt.messages() if r["conversation"] in convs]
    times = sorted(float(r["at"]) for r in msgs)
    counts = Counter(
        (r["conversation"], unicodedata.normalize("NFKC", str(r["params"]))) for r in msgs
    )
    duplicates = sum(c - 1 for c in counts.values() if c > 1)
    span = times[-1] - times[0] if times else float("nan")
    minimum = theoretical_minimum(total, args.per_group)
    engine = "PostgreSQL" if "postgresql" in url else "SQLite"
    print(
        f"\nDingTalk broadcast ({engine}, one bot process): {total} reminders, {args.groups} groups"
    )
    print(f"delivered        {len(msgs)}")
    print(f"first→last       {span:.1f} s")
    print(
        f"theoretical min  {minimum:.1f} s ({API_QPS}/s per API, {GROUP_PER_MINUTE}/min per group)"
    )
    print(f"ratio            {span / minimum:.2f} (target <= 1.15)")
    print(f"throttled        {dt.throttled}")
    print(f"lost             {total - len(counts)}")
    print(f"duplicated       {duplicates}")
