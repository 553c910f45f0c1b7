"""Intake throughput and latency: 1,000 opinions from 100 residents through the real bot process.

Two runs per bot. Throughput: all 1,000 opinions are waiting at once and the clock stops at the
last receipt; three such bursts, the median counts. Latency: the residents write at a steady
--rate (open loop, as people do; default 20 a second, far above a station's real peak), measured
from the moment the update is handed to the Bot API server to the moment the bot's receipt
arrives there. The same runs then go against a
bare python-telegram-bot echo bot on the same fake server: the framework's own ceiling.

    python bench/intake.py [--residents 100] [--per-resident 10] [--bursts 3]
                           [--database-url URL] [--staff-chat] [--instances N]
                           [--env NAME VALUE] [--baseline-rev REV | --variant-env NAME VALUE]
                           [--rounds N]

--baseline-rev: the same bursts against another tree (`git archive REV`), alternating with this
one (A B, B A, …, --rounds times each, no echo bot), each with the bot's own CPU per opinion
read from /proc: on a shared machine the CPU figure moves far less than the wall clock.
--variant-env: the same, this tree without and with one more setting.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

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
    bursts: list[float]  # seconds per burst: all messages queued at once, until the last receipt
    latencies_ms: list[float]  # paced: update handed over -> receipt arrived
    cpu_ms: float | None = None  # the bot process's CPU per opinion over the bursts

    @property
    def cpu(self) -> str:
        return "" if self.cpu_ms is None else f"{self.cpu_ms:.2f}"

    @property
    def per_second(self) -> float:
        """The median burst: one burst lasts a few seconds, and a shared machine's hiccups
        moved single bursts by ±20 %."""
        return self.total / statistics.median(self.bursts)

    @property
    def each(self) -> str:
        return " ".join(f"{self.total / b:.0f}" for b in self.bursts)

    def pct(self, p: float) -> float:
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, round(p / 100 * (len(data) - 1)))]


def _listen(fake: FakeBotApi, users: set[int]) -> queue.Queue[tuple[int, float]]:
    events: queue.Queue[tuple[int, float]] = queue.Queue()

    def on_send(record: dict[str, Any]) -> None:
        if record["chat_id"] in users and record["method"] == "sendMessage":
            events.put((record["chat_id"], time.perf_counter()))

    fake.add_listener(on_send)
    return events


def burst(
    fake: FakeBotApi, residents: int, per_resident: int, label: str, first_user: int = 10_000
) -> tuple[int, float]:
    """Throughput: every resident's messages are waiting at once; time until the last receipt."""
    users = list(range(first_user, first_user + residents))
    for uid in users:
        fake.add_user(uid, f"居民{uid}")
    events = _listen(fake, set(users))
    total = residents * per_resident
    start = time.perf_counter()
    for n in range(per_resident):
        for uid in users:
            fake.send_text(uid, f"{TEXTS[(uid + n) % len(TEXTS)]}（第{n + 1}条）")
    for done in range(total):
        try:
            events.get(timeout=60)
        except queue.Empty:
            raise SystemExit(f"{label}: no reply for 60 s after {done}/{total}") from None
        if done % 200 == 199:
            print(f"  {label} burst: {done + 1}/{total}", file=sys.stderr)
    return total, time.perf_counter() - start


def paced(
    fake: FakeBotApi, residents: int, per_resident: int, rate: float, label: str
) -> list[float]:
    """Latency: residents write at `rate` messages a second overall (open loop, like real use)."""
    users = list(range(20_000, 20_000 + residents))
    for uid in users:
        fake.add_user(uid, f"居民{uid}")
    events = _listen(fake, set(users))
    sent_at: dict[int, list[float]] = {uid: [] for uid in users}
    got: dict[int, int] = dict.fromkeys(users, 0)
    latencies: list[float] = []
    total = residents * per_resident

    def take(timeout: float) -> bool:
        try:
            chat, at = events.get(timeout=timeout)
        except queue.Empty:
            return False
        latencies.append((at - sent_at[chat][got[chat]]) * 1000)
        got[chat] += 1
        return True

    start = time.perf_counter()
    for i, (n, uid) in enumerate((n, uid) for n in range(per_resident) for uid in users):
        due = start + i / rate
        while (left := due - time.perf_counter()) > 0:
            take(left)
        sent_at[uid].append(time.perf_counter())
        fake.send_text(uid, f"{TEXTS[(uid + n) % len(TEXTS)]}（第{n + 1}条）")
        if i % 200 == 199:
            print(f"  {label} paced: {i + 1}/{total}", file=sys.stderr)
    while len(latencies) < total:
        if not take(60):
            raise SystemExit(f"{label}: no reply for 60 s after {len(latencies)}/{total}")
    return latencies


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    fake: FakeBotApi,
    args: argparse.Namespace,
    label: str,
    pid: int | None = None,
    paced_run: bool = True,
) -> Result:
    bursts: list[float] = []
    total = 0
    cpu_before = cpu_seconds(pid) if pid else 0.0
    for n in range(args.bursts):
        # New residents each time: every burst is made of first-time and returning senders alike.
        total, seconds = burst(fake, args.residents, args.per_resident, label, 100_000 * (n + 1))
        bursts.append(seconds)
    cpu = (cpu_seconds(pid) - cpu_before) * 1000 / (total * args.bursts) if pid else None
    lat = paced(fake, args.residents, args.per_resident, args.rate, label) if paced_run else []
    return Result(label, total, bursts, lat or [0.0], cpu)


def wait_ready(fake: FakeBotApi, alive: Any) -> None:
    try:
        wait_started(fake, alive)
    except (TimeoutError, RuntimeError) as exc:
        raise SystemExit(str(exc)) from None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RoundRobin:
    """A minimal load balancer for webhook POSTs, in a thread: backend n, n+1, ... in turn."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.turn = 0

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        backend = self.backends[self.turn % len(self.backends)]
        self.turn += 1
        headers = {
            k: v for k, v in request.headers.items() if k.lower().startswith(("content-type", "x-"))
        }
        async with self.session.post(backend, data=body, headers=headers) as resp:
            return web.Response(status=resp.status, body=await resp.read())

    async def _start(self) -> None:
        self.session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_post("/tg", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def start(self) -> str:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return f"http://127.0.0.1:{self.port}/tg"

    def stop(self) -> None:
        async def close() -> None:
            await self.session.close()
            await self.runner.cleanup()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def wait_port(port: int, alive: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise SystemExit("a bot instance exited during start-up")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"nothing listens on {port}")


ADMIN = 9_000
STAFF_GROUP = -100_900


def run_instances(args: argparse.Namespace, workdir: Path) -> Result:
    """N webhook instances behind a round-robin balancer, sharing one database."""
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'liaison.db'}"
    with FakeBotApi(TOKEN) as fake:
        env = bot_env(args)
        ports = [free_port() for _ in range(args.instances)]
        balancer = RoundRobin([f"http://127.0.0.1:{p}/tg" for p in ports])
        public = balancer.start()
        bots = [
            BotProcess(
                fake.base_url,
                workdir / f"i{n}",
                extra_env={**env, "DATA_DIR": str(workdir / "data")},
                database_url=url,
                args=["--webhook-url", public, "--listen", f"127.0.0.1:{port}"],
            )
            for n, port in enumerate(ports)
        ]
        try:
            for bot, port in zip(bots, ports, strict=True):
                bot.start()
                wait_port(port, bot.alive)
            fake.wait_for(lambda: fake.webhook_info().get("url") == public, timeout=60)
            return measure(fake, args, f"liaison-bot ×{args.instances}")
        finally:
            for bot in bots:
                bot.stop()
            balancer.stop()


def bot_env(args: argparse.Namespace) -> dict[str, str]:
    """What every liaison-bot process in a run gets: no hourly limit, quiet logs, an admin."""
    return {
        "OPINIONS_PER_HOUR": "100000",
        "LOG_LEVEL": "WARNING",
        "ADMIN_IDS": str(ADMIN),
        **dict(args.env or []),
    }


def bind_staff_chat(fake: FakeBotApi) -> None:
    """As a station admin, bind a staff group: every opinion then also queues a staff card."""
    fake.add_user(ADMIN, "站长")
    fake.add_group(STAFF_GROUP, "联络站工作人员群")
    fake.send_text(ADMIN, "/bind_staff", chat_id=STAFF_GROUP)
    fake.wait_for_message(STAFF_GROUP, timeout=60)


def run_liaison(
    args: argparse.Namespace,
    workdir: Path,
    root: Path = ROOT,
    label: str = "liaison-bot",
    paced_run: bool = True,
) -> Result:
    with FakeBotApi(TOKEN) as fake:
        env = bot_env(args)
        bot = BotProcess(
            fake.base_url, workdir, extra_env=env, database_url=args.database_url, root=root
        )
        bot.start()
        try:
            wait_ready(fake, bot.alive)
            if args.staff_chat:
                bind_staff_chat(fake)
                label += " +staff"
            assert bot.proc is not None
            return measure(fake, args, label, bot.proc.pid, paced_run)
        finally:
            bot.stop()


def export_tree(rev: str, into: Path) -> Path:
    """`git archive rev` of this repository, unpacked into `into`."""
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def alternate(args: argparse.Namespace) -> None:
    """Two variants, alternating (A B, B A, …), bursts only; CPU per opinion beside msg/s:
    this tree against --baseline-rev, or this tree without and with --variant-env."""
    variants: list[tuple[str, Path, dict[str, str]]]
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline_rev:
            base = export_tree(args.baseline_rev, Path(tmp) / "base")
            variants = [(f"before {args.baseline_rev}", base, {}), ("this tree", ROOT, {})]
        else:
            name, value = args.variant_env
            variants = [("this tree", ROOT, {}), (f"{name}={value}", ROOT, {name: value})]
        results: dict[str, list[Result]] = {name: [] for name, _, _ in variants}
        for r in range(args.rounds):
            for name, root, env in variants if r % 2 == 0 else variants[::-1]:
                work = Path(tmp) / f"{r}-{len(results[name])}-{root.name}-{len(env)}"
                run_args = argparse.Namespace(
                    **{**vars(args), "env": [*(args.env or []), *env.items()]}
                )
                res = run_liaison(run_args, work, root, name, paced_run=False)
                results[name].append(res)
                print(
                    f"round {r + 1} {name:<22} {res.per_second:7.1f} msg/s  bursts {res.each}"
                    f"  CPU {res.cpu} ms/opinion  load {load_average()}",
                    flush=True,
                )
    print(f"\n{'variant':<24}{'msg/s (median)':>16}{'CPU ms/opinion (median)':>26}")
    medians = {}
    for name, rs in results.items():
        rate = statistics.median(r.per_second for r in rs)
        cpu = statistics.median(r.cpu_ms or 0.0 for r in rs)
        medians[name] = (rate, cpu)
        print(f"{name:<24}{rate:>16.1f}{cpu:>26.2f}")
    (a, (a_rate, a_cpu)), (b, (b_rate, b_cpu)) = medians.items()
    print(f"{b} / {a}: throughput {b_rate / a_rate:.2f}, CPU per opinion {b_cpu / a_cpu:.2f}")


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
            return measure(fake, args, label, proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--residents", type=int, default=100)
    p.add_argument("--per-resident", type=int, default=10)
    p.add_argument(
        "--env", nargs=2, action="append", metavar=("NAME", "VALUE"), help="extra bot setting"
    )
    p.add_argument(
        "--instances",
        type=int,
        default=0,
        help="0: one polling process; N: N webhook instances behind a round-robin balancer",
    )
    p.add_argument("--rate", type=float, default=20.0, help="messages/s for the latency run")
    p.add_argument(
        "--bursts", type=int, default=3, help="throughput bursts per bot; the median is reported"
    )
    p.add_argument(
        "--staff-chat",
        action="store_true",
        help="bind a staff group first: each opinion also queues its staff card (outbox)",
    )
    p.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    p.add_argument("--baseline-rev", default=None, help="alternate with this git revision")
    p.add_argument(
        "--variant-env", nargs=2, metavar=("NAME", "VALUE"), help="alternate without and with"
    )
    p.add_argument("--rounds", type=int, default=3, help="alternating: runs per variant")
    p.add_argument("--tree", default=None, help="run this git revision's bot instead")
    args = p.parse_args()
    if args.baseline_rev or args.variant_env:
        alternate(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.tree:  # another revision of this repository, with the echo bots of its run
            root = export_tree(args.tree, Path(tmp) / "tree")
            ours = run_liaison(args, Path(tmp) / "work", root, f"liaison-bot {args.tree}")
        else:
            runner = run_instances if args.instances else run_liaison
            ours = runner(args, Path(tmp))
    echo_default = run_echo(args, concurrent=False)
    echo_conc = run_echo(args, concurrent=True)
    ceiling = max(echo_default, echo_conc, key=lambda r: r.per_second)
    engine = "PostgreSQL" if args.database_url and "postgresql" in args.database_url else "SQLite"
    print(f"\nintake benchmark: {ours.total} opinions from {args.residents} residents, {engine}")
    print(
        f"throughput: all {ours.total} queued at once, median of {args.bursts} bursts;"
        f" latency: paced at {args.rate:g} msg/s"
    )
    print(
        f"{'run':<24}{'msg/s':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'CPU ms':>8}"
        "   bursts msg/s"
    )
    for r in (ours, echo_default, echo_conc):
        print(
            f"{r.name:<24}{r.per_second:>10.1f}{r.pct(50):>10.1f}{r.pct(95):>10.1f}"
            f"{r.pct(99):>10.1f}{r.cpu:>8}   {r.each}"
        )
    ratio = ours.per_second / ceiling.per_second
    print(f"\nthroughput ratio liaison-bot / best echo = {ratio:.2f} (target >= 0.50)")
    print(f"p95 latency = {ours.pct(95):.1f} ms (target < 100 ms); load average {load_average()}")


if __name__ == "__main__":
    main()
