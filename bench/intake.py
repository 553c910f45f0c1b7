"""Intake throughput and latency: 1,000 opinions from 100 residents through the real bot process.

Each simulated resident sends an opinion, waits for the receipt, then sends the next (a closed
loop, like people). Latency is measured from the moment the update is handed to the Bot API
server to the moment the bot's receipt arrives there. The same load then runs against a bare
python-telegram-bot echo bot on the same fake server: the framework's own ceiling.

    python bench/intake.py [--residents 100] [--per-resident 10] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import queue
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.botproc import TOKEN, BotProcess, wait_started  # noqa: E402
from tests.fakebot import FakeBotApi  # noqa: E402

TEXTS = [
    "我们小区没有老年食堂，老人吃饭很不方便，希望社区能办一个助餐点。",
    "社区卫生站没有全科医生，老人量血压都要跑到镇上，希望派医生。",
    "高龄津贴已经三个月没到账了，问了街道也说不清楚，请帮忙查一下。",
    "养老院的护理员工资太低，干不了几个月就走，老人没人照顾。",
    "老旧小区加装电梯审批太慢，跑了半年手续还没办下来。",
]


@dataclass
class Result:
    name: str
    total: int
    seconds: float
    latencies_ms: list[float]

    @property
    def per_second(self) -> float:
        return self.total / self.seconds

    def pct(self, p: float) -> float:
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, round(p / 100 * (len(data) - 1)))]


def drive(fake: FakeBotApi, residents: int, per_resident: int, label: str) -> Result:
    users = list(range(10_000, 10_000 + residents))
    for uid in users:
        fake.add_user(uid, f"居民{uid}")
    events: queue.Queue[tuple[int, float]] = queue.Queue()
    user_set = set(users)

    def on_send(record: dict[str, Any]) -> None:
        if record["chat_id"] in user_set and record["method"] == "sendMessage":
            events.put((record["chat_id"], time.perf_counter()))

    fake.add_listener(on_send)
    sent_at: dict[int, float] = {}
    remaining = {uid: per_resident for uid in users}
    latencies: list[float] = []
    total = residents * per_resident

    def send(uid: int) -> None:
        n = per_resident - remaining[uid]
        remaining[uid] -= 1
        sent_at[uid] = time.perf_counter()
        fake.send_text(uid, f"{TEXTS[(uid + n) % len(TEXTS)]}（第{n + 1}条）")

    start = time.perf_counter()
    for uid in users:
        send(uid)
    done = 0
    last_report = start
    while done < total:
        try:
            uid, at = events.get(timeout=60)
        except queue.Empty:
            raise SystemExit(f"{label}: no reply for 60 s after {done}/{total}") from None
        latencies.append((at - sent_at[uid]) * 1000)
        done += 1
        if remaining[uid] > 0:
            send(uid)
        if time.perf_counter() - last_report > 2:
            last_report = time.perf_counter()
            print(f"  {label}: {done}/{total}", file=sys.stderr)
    return Result(label, total, time.perf_counter() - start, latencies)


def wait_ready(fake: FakeBotApi, alive: Any) -> None:
    try:
        wait_started(fake, alive)
    except (TimeoutError, RuntimeError) as exc:
        raise SystemExit(str(exc)) from None


def run_liaison(args: argparse.Namespace, workdir: Path) -> Result:
    with FakeBotApi(TOKEN) as fake:
        env = {"OPINIONS_PER_HOUR": "100000", "LOG_LEVEL": "WARNING"}
        bot = BotProcess(fake.base_url, workdir, extra_env=env, database_url=args.database_url)
        bot.start()
        try:
            wait_ready(fake, bot.alive)
            return drive(fake, args.residents, args.per_resident, "liaison-bot")
        finally:
            bot.stop()


def run_echo(args: argparse.Namespace, concurrent: bool) -> Result:
    with FakeBotApi(TOKEN) as fake:
        env = {**os.environ, "BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": fake.base_url}
        cmd = [sys.executable, str(ROOT / "bench" / "echo_bot.py")]
        if concurrent:
            cmd.append("--concurrent")
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(fake, lambda: proc.poll() is None)
            label = "echo (concurrent 64)" if concurrent else "echo (default)"
            return drive(fake, args.residents, args.per_resident, label)
        finally:
            proc.terminate()
            proc.wait(30)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--residents", type=int, default=100)
    p.add_argument("--per-resident", type=int, default=10)
    p.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ours = run_liaison(args, Path(tmp))
    echo_default = run_echo(args, concurrent=False)
    echo_conc = run_echo(args, concurrent=True)
    ceiling = max(echo_default, echo_conc, key=lambda r: r.per_second)
    engine = "PostgreSQL" if args.database_url and "postgresql" in args.database_url else "SQLite"
    print(f"\nintake benchmark: {ours.total} opinions from {args.residents} residents, {engine}")
    print(f"{'run':<24}{'msg/s':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    for r in (ours, echo_default, echo_conc):
        print(
            f"{r.name:<24}{r.per_second:>10.1f}{r.pct(50):>10.1f}{r.pct(95):>10.1f}{r.pct(99):>10.1f}"
        )
    ratio = ours.per_second / ceiling.per_second
    print(f"\nthroughput ratio liaison-bot / best echo = {ratio:.2f} (target >= 0.50)")
    print(f"p95 latency = {ours.pct(95):.1f} ms (target < 100 ms)")


if __name__ == "__main__":
    main()
