"""Run the real `liaison-bot run` process against the fake Bot API server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:TEST-token-abcdefghij"


class BotProcess:
    """The bot as users get it: a separate process talking HTTP to `base_url`."""

    def __init__(
        self,
        base_url: str,
        workdir: Path,
        *,
        admin_ids: str = "",
        extra_env: dict[str, str] | None = None,
        database_url: str | None = None,
        args: list[str] | None = None,
        root: Path = ROOT,
    ) -> None:
        self.workdir = workdir
        self.root = root  # the source tree to run (bench/killnine.py runs an older one too)
        self.args = args or []
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "bot.log"
        self.env = {
            **os.environ,
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": base_url,
            "DATABASE_URL": database_url or f"sqlite+aiosqlite:///{workdir / 'liaison.db'}",
            "DATA_DIR": str(workdir / "data"),
            "ADMIN_IDS": admin_ids,
            "TICK_SECONDS": "0.3",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self._output: Output | None = None

    def start(self) -> BotProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", *self.args],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert self.proc.stdout is not None
        self._output = Output(self.proc.stdout, self.log_path)
        return self

    def wait_log(self, needle: str, timeout: float = 120) -> str:
        """The first line of this run's log containing `needle`, once the bot has written it
        (a readiness signal such as "wechat: serving"); AssertionError with the log if it exits
        or times out first."""
        assert self._output is not None
        line = self._output.wait_for(needle, timeout)
        if line is None:
            raise AssertionError(f"the bot did not log {needle!r}:\n{self.log()[-3000:]}")
        return line

    def polling(self, fake: Any, timeout: float = 120) -> BotProcess:
        """Start, and return once the bot long-polls `fake`; a bot that does not get there is
        stopped and its log shown."""
        self.start()
        try:
            wait_started(fake, self.alive, timeout)
        except (TimeoutError, RuntimeError) as exc:
            self.stop()
            raise AssertionError(f"{exc}:\n{self.log()}") from None
        return self

    def stop(self, timeout: float = 20) -> int:
        """Graceful stop (SIGTERM, as systemd does); returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._drained()
        return int(self.proc.returncode)

    def kill(self) -> None:
        """kill -9: no chance to clean up."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self._drained()

    def _drained(self) -> None:
        """The exited process's last lines are in the log file."""
        if self._output is not None:
            self._output.join()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def __enter__(self) -> BotProcess:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def dispatchers(
    n: int, base_url: str, workdir: Path, database_url: str, **env: str
) -> list[subprocess.Popen[str]]:
    """`n` processes of `liaison-bot dispatch --until-idle` (the clock without receiving) on one
    database; read them with `finished`."""
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_BASE_URL": base_url,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(workdir / "data"),
        "TICK_SECONDS": "0.2",
        **env,
    }
    command = [sys.executable, "-m", "bot.cli", "dispatch", "--until-idle"]
    return [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(n)
    ]


def finished(procs: list[subprocess.Popen[str]], timeout: float) -> list[tuple[str, str]]:
    """Each process's (stdout, stderr) once it has exited; any still running is then killed."""
    try:
        return [p.communicate(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


class Output:
    """A process's output copied line by line to its log file, with waits that wake on each line
    (the bot's own readiness signals, instead of polling what it serves)."""

    def __init__(self, stream: IO[bytes], path: Path) -> None:
        self._cond = threading.Condition()
        self._lines: list[str] = []
        self._ended = False
        self._thread = threading.Thread(
            target=self._copy, args=(stream, path), name="bot-output", daemon=True
        )
        self._thread.start()

    def _copy(self, stream: IO[bytes], path: Path) -> None:
        with stream, path.open("ab") as log:
            for line in iter(stream.readline, b""):
                log.write(line)
                log.flush()
                with self._cond:
                    self._lines.append(line.decode("utf-8", errors="replace"))
                    self._cond.notify_all()
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def wait_for(self, needle: str, timeout: float) -> str | None:
        """The first line containing `needle`; None if the output ended or `timeout` passed."""
        seen = 0

        def found() -> str | None:
            nonlocal seen
            for line in self._lines[seen:]:
                if needle in line:
                    return line
            seen = len(self._lines)
            return None

        with self._cond:
            self._cond.wait_for(lambda: self._ended or found() is not None, timeout)
            return found()

    def join(self, timeout: float = 10) -> None:
        self._thread.join(timeout)


def wait_started(fake: Any, alive: Callable[[], bool], timeout: float = 120) -> None:
    """Wait until the bot long-polls the fake server; fail fast if the process died."""

    def polls() -> bool:
        return bool(fake.waiting_pollers > 0)

    wait_while_alive(fake.wait_for, polls, alive, timeout, "the bot did not start polling")


def wait_while_alive(
    wait_for: Callable[[Callable[[], bool], float], object],
    ready: Callable[[], bool],
    alive: Callable[[], bool],
    timeout: float,
    what: str,
) -> None:
    """Wait for `ready()` through a fake's `wait_for` (woken by the fake's changes), checking
    every second that the bot still runs: RuntimeError if it exited, else TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("the bot process exited during start-up")
        try:
            wait_for(ready, 1.0)
            return
        except TimeoutError:
            continue
    raise TimeoutError(f"{what} within {timeout} s")
