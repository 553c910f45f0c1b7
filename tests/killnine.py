"""Residents' opinions arriving while the real `liaison-bot run` is killed with SIGKILL, again
and again: what was lost, stored twice, or never receipted. Used by tests/test_e2e_killnine.py
(small) and bench/killnine.py (300 opinions, 10 kills)."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text

from storage.db import make_engine
from tests.botproc import ROOT, TOKEN, BotProcess
from tests.fakebot import FakeBotApi
from tests.localhttp import free_port

REF = re.compile(r"受理编号：\s*([A-Z]+-\d{4}-\d{5})")
FIRST_RESIDENT = 5000
PLACES = ("路灯", "下水道", "楼道灯", "垃圾桶", "健身器材", "人行道", "公交站牌", "消防通道")


@dataclass(frozen=True)
class Figures:
    mode: str
    engine: str
    kills: int
    sent: int
    stored: int
    lost: int
    duplicated: int  # opinions stored more than once (extra rows)
    unreceipted: int  # stored opinions whose receipt never arrived
    duplicate_receipts: int  # receipts sent more than once (extra messages)
    within_a_life: int  # of those, sent twice by one process (a kill explains none of them)
    worst_kill: int  # the most duplicate messages one kill caused
    other_messages: int  # anything else the residents got (error messages)
    seconds: float

    def line(self) -> str:
        return (
            f"{self.mode:8} {self.engine:10} kills {self.kills:2}  sent {self.sent:4}  "
            f"stored {self.stored:4}  lost {self.lost:3}  duplicated {self.duplicated:3}  "
            f"unreceipted {self.unreceipted:3}  duplicate messages {self.duplicate_receipts:3} "
            f"(not across a kill {self.within_a_life}, most for one kill {self.worst_kill})  "
            f"other {self.other_messages:3}  ({self.seconds:.0f} s)"
        )


def opinion_text(i: int) -> str:
    place = PLACES[i % len(PLACES)]
    return f"第{i}号：小区{i % 37 + 1}号楼旁边的{place}坏了好几天，老人晚上出门很不方便，希望尽快修好。"


class Receipts:
    """What the residents got, counted as the fake server records it (a listener)."""

    def __init__(self, residents: set[int]) -> None:
        self.residents = residents
        self.lock = threading.Lock()
        self.by_message: dict[tuple[int, int], tuple[str | None, int]] = {}

    def __call__(self, record: dict[str, Any]) -> None:
        if record["chat_id"] not in self.residents:
            return
        found = REF.search(record.get("text") or "")
        key = (record["chat_id"], record["message_id"])
        with self.lock:
            if key not in self.by_message:
                self.by_message[key] = (found.group(1) if found else None, record["seq"])

    def refs(self) -> Counter[str]:
        with self.lock:
            return Counter(ref for ref, _ in self.by_message.values() if ref is not None)

    def others(self) -> int:
        with self.lock:
            return sum(1 for ref, _ in self.by_message.values() if ref is None)

    def _pairs(self) -> list[tuple[int, int]]:
        """(first, again) sequence numbers of every receipt sent once more."""
        seqs: dict[str, list[int]] = {}
        with self.lock:
            for ref, seq in self.by_message.values():
                if ref is not None:
                    seqs.setdefault(ref, []).append(seq)
        return [
            (a, b)
            for ref_seqs in seqs.values()
            for a, b in zip(sorted(ref_seqs), sorted(ref_seqs)[1:], strict=False)
        ]

    def within_a_life(self, kills: list[int]) -> int:
        """Second receipts sent by the same process as the first (no kill in between)."""
        return sum(1 for a, b in self._pairs() if not any(a <= k < b for k in kills))

    def per_kill(self, kills: list[int]) -> Counter[int]:
        """Second receipts by the kill that explains them: the first after the first receipt
        (the process that sent it died before recording it)."""
        return Counter(
            next(n for n, k in enumerate(kills) if a <= k < b)
            for a, b in self._pairs()
            if any(a <= k < b for k in kills)
        )


def stored_opinions(url: str) -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(text("SELECT text, ref_no FROM opinions"))
                return [(r[0], r[1]) for r in rows]
        finally:
            await engine.dispose()

    return asyncio.run(read())


class Runner:
    """One run: the fake Bot API, the bot process (restarted after each kill), the residents."""

    def __init__(
        self, mode: str, url: str, workdir: Path, residents: int, lease: float, root: Path
    ) -> None:
        self.mode, self.url, self.workdir, self.root = mode, url, workdir, root
        self.residents = [FIRST_RESIDENT + r for r in range(residents)]
        self.env = {
            "INBOX_LEASE_SECONDS": str(lease),
            "OPINIONS_PER_HOUR": "1000",
            "TICK_SECONDS": "0.3",
            "LOG_LEVEL": "INFO",
        }
        self.port = free_port()
        self.bot: BotProcess | None = None

    def start(self, fake: FakeBotApi) -> BotProcess:
        args: list[str] = []
        if self.mode == "webhook":
            url = f"http://127.0.0.1:{self.port}/tg"
            args = ["--webhook-url", url, "--listen", f"127.0.0.1:{self.port}"]
        self.bot = BotProcess(
            fake.base_url,
            self.workdir,
            extra_env=self.env,
            database_url=self.url,
            args=args,
            root=self.root,
        ).start()
        return self.bot

    def wait(self, fake: FakeBotApi, done: Any, timeout: float) -> bool:
        """Wait for `done()` while the bot lives; False on timeout."""
        bot = self.bot
        assert bot is not None
        try:
            fake.wait_for(lambda: done() or not bot.alive(), timeout=timeout)
        except TimeoutError:
            return False
        if not bot.alive():
            raise RuntimeError(f"the bot died by itself:\n{bot.log()[-3000:]}")
        return True


def run(
    mode: str,
    url: str,
    workdir: Path,
    *,
    opinions: int,
    kills: int,
    residents: int,
    lease: float = 2.0,
    settle: float = 120.0,
    root: Path = ROOT,
) -> Figures:
    """Send `opinions` in kills+1 chunks; kill -9 the bot as soon as it has taken each chunk
    from the Bot API and restart it at once (the next chunk arrives while it starts)."""
    runner = Runner(mode, url, workdir, residents, lease, root)
    receipts = Receipts(set(runner.residents))
    texts = [opinion_text(i) for i in range(opinions)]
    chunks = [texts[k :: kills + 1] for k in range(kills + 1)]
    began = time.monotonic()
    with FakeBotApi(TOKEN) as fake:
        fake.add_listener(receipts)
        for r in runner.residents:
            fake.add_user(r, f"居民{r}")
        runner.start(fake)
        sent = 0
        kill_marks: list[int] = []
        try:
            for k, chunk in enumerate(chunks):
                for body in chunk:
                    fake.send_text(runner.residents[sent % len(runner.residents)], body)
                    sent += 1
                if k == kills:
                    break
                # The moment Telegram forgets them: every update of the chunk confirmed (the
                # next getUpdates, or the webhook's 200) while the bot is still handling them.
                if not runner.wait(fake, lambda: not fake.updates(pending_only=True), 120):
                    raise TimeoutError(f"kill {k + 1}: the bot did not take the updates")
                assert runner.bot is not None
                runner.bot.kill()
                kill_marks.append(fake.mark())
                runner.start(fake)
            runner.wait(fake, lambda: len(receipts.refs()) >= sent, settle)
            fake.wait_until_idle(timeout=30, quiet=1.0)
        finally:
            if runner.bot is not None:
                runner.bot.stop()
    rows = stored_opinions(url)
    by_text = Counter(body for body, _ in rows)
    got = receipts.refs()
    return Figures(
        mode=mode,
        engine="postgresql" if url.startswith("postgresql") else "sqlite",
        kills=kills,
        sent=sent,
        stored=len(by_text),
        lost=sum(1 for body in texts if by_text[body] == 0),
        duplicated=sum(n - 1 for n in by_text.values() if n > 1),
        unreceipted=sum(1 for _, ref in rows if got[ref] == 0),
        duplicate_receipts=sum(n - 1 for n in got.values() if n > 1),
        within_a_life=receipts.within_a_life(kill_marks),
        worst_kill=max(receipts.per_kill(kill_marks).values(), default=0),
        other_messages=receipts.others(),
        seconds=time.monotonic() - began,
    )
