"""Local HTTP servers for tests: a one-route aiohttp server for tests that need to see raw HTTP,
and the lifecycle and waits the fake platforms (tests/fakebot, fakedingtalk, fakewechat) share."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Self, TypeVar

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def free_port() -> int:
    """A local TCP port nothing listens on now (for a server another process starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serve_post(path: str, handler: Handler) -> AsyncIterator[str]:
    """Serve POST `path` with `handler`; yields http://127.0.0.1:PORT (no trailing slash)."""
    app = web.Application()
    app.router.add_post(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


T = TypeVar("T")


class LocalServer:
    """What the fake platforms share: serving on a local port from a background thread
    (``with fake``) or in the caller's loop (``async with fake``), and waits that wake when the
    fake's state changes.

    A subclass's `_open` builds its app and ends with `_serve`; its `_close` does its own
    clean-up, then `_unserve`. It calls `_changed` (lock held) after every change.
    """

    thread_name = "fake-server"

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server_thread_id: int | None = None
        self._runner: web.AppRunner | None = None
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    @property
    def port(self) -> int:
        """The TCP port (known once started)."""
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._port

    @property
    def url(self) -> str:
        """Root URL of the server."""
        return f"http://{self._host}:{self.port}"

    # ------------------------------------------------------------------ lifecycle

    async def _open(self) -> None:
        raise NotImplementedError

    async def _close(self) -> None:
        await self._unserve()

    async def _serve(self, app: web.Application, **runner: Any) -> None:
        """Serve `app` on the requested port; a restart (simulated outage) keeps the URL."""
        self._loop = asyncio.get_running_loop()
        self._server_thread_id = threading.get_ident()
        self._runner = web.AppRunner(app, access_log=None, **runner)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._requested_port))
        self._port = self._requested_port = int(sock.getsockname()[1])
        await web.SockSite(self._runner, sock).start()

    async def _unserve(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._loop = None
        self._server_thread_id = None

    def start(self) -> Self:
        """Serve from a background thread with its own event loop; returns self once listening."""
        if self._thread is not None or self._loop is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._open())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name=self.thread_name, daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop the background server."""
        thread, loop = self._thread, self._loop
        if thread is None and loop is not None:
            raise RuntimeError("started with astart(); use astop()")
        if thread is None or loop is None:
            return
        if threading.get_ident() == self._server_thread_id:
            raise RuntimeError("stop() called from the server's own thread")
        asyncio.run_coroutine_threadsafe(self._close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        self._thread = None

    async def astart(self) -> Self:
        """Serve in the running event loop (for async tests that own the loop)."""
        if self._thread is not None or self._loop is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        await self._open()
        return self

    async def astop(self) -> None:
        """Stop a server started with :meth:`astart`."""
        if self._thread is not None:
            raise RuntimeError("started with start(); use stop()")
        if self._loop is not None:
            await self._close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await self.astart()

    async def __aexit__(self, *exc: object) -> None:
        await self.astop()

    # ------------------------------------------------------------------ waiting

    def describe(self) -> str:
        """What the fake saw, for a wait's timeout message."""
        return ""

    def _changed(self) -> None:
        """Wake every waiter (lock held): sync waits and async waits on any loop."""
        self._cond.notify_all()
        for loop, event in list(self._async_waiters):
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop is closed
                self._async_waiters.discard((loop, event))

    def _timed_out(self, what: str, timeout: float) -> TimeoutError:
        seen = self.describe()
        return TimeoutError(f"{what} within {timeout}s" + (f"\n{seen}" if seen else ""))

    def _wait(
        self, check: Callable[[], T | None], timeout: float, what: str, poll: float | None = None
    ) -> T:
        """Block until `check()` is truthy (re-checked on every change); return its value."""
        if threading.get_ident() == self._server_thread_id:
            raise RuntimeError(
                "a blocking wait in the server's own thread would deadlock: use the async variant"
            )
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = check()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._timed_out(what, timeout)
                self._cond.wait(min(remaining, poll) if poll else remaining)

    async def _await(
        self,
        check: Callable[[], T | None],
        timeout: float,  # noqa: ASYNC109 - the async waits mirror the sync ones
        what: str,
        poll: float | None = None,
    ) -> T:
        """:meth:`_wait` for async code (the bot may run in the same loop)."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        waiter = (loop, event)
        with self._lock:
            self._async_waiters.add(waiter)
        try:
            deadline = loop.time() + timeout
            while True:
                with self._lock:
                    event.clear()
                    value = check()
                if value:
                    return value
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise self._timed_out(what, timeout)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        event.wait(), min(remaining, poll) if poll else remaining
                    )
        finally:
            with self._lock:
                self._async_waiters.discard(waiter)
