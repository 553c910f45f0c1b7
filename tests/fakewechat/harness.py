"""The bot side of a WeChat test: the real endpoint on a free port, a recording handler."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from handlers.wechat.config import WeChatConfig
from handlers.wechat.endpoint import Handler, LateReply, create_app
from handlers.wechat.messages import Inbound, TextMessage
from handlers.wechat.replies import PassiveReply, TextReply


@asynccontextmanager
async def running_endpoint(
    config: WeChatConfig, handle: Handler, *, on_late: LateReply | None = None
) -> AsyncIterator[str]:
    """Serve the endpoint on 127.0.0.1 (OS-chosen port); yields the full push URL."""
    runner = web.AppRunner(create_app(config, handle, on_late=on_late), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}{config.endpoint_path}"
    finally:
        await runner.cleanup()


@dataclass
class Recorder:
    """A handler that stores what it got and answers texts with a receipt.

    `gate`, when set, is awaited before answering (a slow handler the test releases).
    """

    seen: list[Inbound] = field(default_factory=list)
    late: list[tuple[Inbound, PassiveReply]] = field(default_factory=list)
    gate: asyncio.Event | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, inbound: Inbound) -> PassiveReply | None:
        self.seen.append(inbound)
        self.changed.set()
        if self.gate is not None:
            await self.gate.wait()
        if isinstance(inbound, TextMessage):
            return TextReply(f"已收到：{inbound.content}")
        return None

    async def on_late(self, inbound: Inbound, reply: PassiveReply) -> None:
        self.late.append((inbound, reply))
        self.changed.set()

    async def wait(self, predicate: object, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until predicate() is true, re-checked whenever the handler records something."""
        assert callable(predicate)
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()
