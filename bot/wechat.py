"""Wiring the official account into one deployment: its settings, its outbound adapter for the
dispatcher, and its push endpoint served beside Telegram (and DingTalk) by `liaison-bot run`.

Settings come from the environment and `.env`, like bot/config.py's (see README, 配置):
WECHAT_APP_ID (turns the channel on), WECHAT_APP_SECRET, WECHAT_TOKEN, WECHAT_ENCODING_AES_KEY
(or WECHAT_AES_KEY), WECHAT_MODE, WECHAT_PATH, WECHAT_HOST / WECHAT_PORT (where the endpoint
listens, behind the TLS proxy), WECHAT_BASE_URL (tests), WECHAT_TEMPLATE_PROGRESS / _RATING.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping

from aiohttp import web
from dotenv import dotenv_values

from domain.channels import Channel
from domain.clock import SystemClock
from handlers.wechat.api import WeChatApi
from handlers.wechat.config import WeChatConfig, from_env
from handlers.wechat.endpoint import WeChatEndpoint
from handlers.wechat.inbound import WeChatInbound
from handlers.wechat.outbound import WeChatOutbound
from handlers.wechat.shared_tokens import SharedTokenStore
from handlers.wechat.tokens import TokenError
from services.inbound.router import Router
from services.kernel.context import ServiceContext
from services.kernel.inbox import Inbox
from storage.access_tokens import AccessTokenTable

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090
# Token-endpoint answers that mean the AppID or AppSecret is wrong (全局返回码说明).
BAD_CREDENTIALS = frozenset({40001, 40002, 40013, 40125, 41002, 41004})


def environment() -> dict[str, str]:
    """`.env` then the real environment (which wins), as pydantic-settings reads them."""
    values = {k: v for k, v in dotenv_values(".env").items() if v is not None}
    return {**values, **os.environ}


def read_config(env: Mapping[str, str]) -> WeChatConfig | None:
    """The account's config, or None when WECHAT_APP_ID is unset; ValueError names the fault."""
    env = dict(env)
    if not env.get("WECHAT_AES_KEY") and env.get("WECHAT_ENCODING_AES_KEY"):
        env["WECHAT_AES_KEY"] = env["WECHAT_ENCODING_AES_KEY"]
    return from_env(env)


def listen_address(env: Mapping[str, str]) -> tuple[str, int]:
    host = env.get("WECHAT_HOST", "").strip() or DEFAULT_HOST
    raw = env.get("WECHAT_PORT", "").strip() or str(DEFAULT_PORT)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError("WECHAT_PORT must be a port number (1–65535)")
    return host, int(raw)


def problem(env: Mapping[str, str]) -> str | None:
    """One line for stderr when the WeChat settings cannot work, else None."""
    try:
        read_config(env)
        listen_address(env)
    except ValueError as exc:
        return f"微信公众号配置有误 (WeChat settings): {exc}"
    return None


class WeChatChannel:
    """The official account of this deployment, a side channel beside Telegram (bot/channels.py):
    API client, outbox adapter, and the push endpoint with its durable inbox."""

    name = "wechat"

    def __init__(
        self,
        config: WeChatConfig,
        ctx: ServiceContext,
        host: str,
        port: int,
    ) -> None:
        self.config = config
        self.ctx = ctx
        self.host = host
        self.port = port
        store = SharedTokenStore(AccessTokenTable(ctx.sessions))
        # WeChat's times (tokens, push timestamps) are real time, whatever clock the core uses.
        self.api = WeChatApi(config, store, clock=SystemClock())
        self.outbound: WeChatOutbound = WeChatOutbound(self.api, ctx.tz)
        self.inbox = Inbox(ctx, Channel.WECHAT)
        self.inbound: WeChatInbound | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    def build(cls, env: Mapping[str, str], ctx: ServiceContext) -> WeChatChannel | None:
        config = read_config(env)
        if config is None:
            return None
        host, port = listen_address(env)
        return cls(config, ctx, host, port)

    def serve(self, router: Router) -> None:
        """Start the push endpoint (the 服务器配置 URL, behind the TLS proxy) and the inbox's
        recovery of pushes a dead process left unfinished."""
        self.inbound = WeChatInbound(
            self.ctx, router, reply_deadline=self.config.reply_deadline, inbox=self.inbox
        )
        self._tasks = [asyncio.create_task(self._listen(self.inbound), name="wechat-endpoint")]

    async def _listen(self, inbound: WeChatInbound) -> None:
        endpoint = WeChatEndpoint(
            self.config,
            inbound.handle,
            on_late=inbound.on_late,
            clock=SystemClock(),
            store=inbound.store,
        )
        app = web.Application(client_max_size=256 * 1024)
        endpoint.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        log.info(
            "wechat: serving %s on %s:%d (%s mode)",
            self.config.endpoint_path,
            self.host,
            self.port,
            self.config.mode,
        )

    async def tick(self) -> None:
        """On the clock: handle again the pushes a dead process left unfinished."""
        if self.inbound is not None:
            await self.inbound.recover()

    async def close(self) -> None:
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._runner is not None:
            await self._runner.cleanup()  # lets pushes being handled finish storing
            self._runner = None
        await self.inbox.release()
        await self.api.close()


def credentials_problem(database_url: str, env: Mapping[str, str]) -> str | None:
    """For `run` before it starts: one line when the account's AppID or AppSecret is wrong.

    Uses the shared token (fetching one only if none is stored), on its own engine and loop.
    """
    config = read_config(env)
    if config is None:
        return None
    from storage.db import make_engine, make_sessionmaker

    async def run() -> str | None:
        engine = make_engine(database_url)
        store = SharedTokenStore(AccessTokenTable(make_sessionmaker(engine)))
        api = WeChatApi(config, store, clock=SystemClock())
        try:
            try:
                await api.access_token()
            except TokenError as exc:
                if exc.errcode in BAD_CREDENTIALS:
                    return (
                        f"微信公众号 AppID 或 AppSecret 不正确 (WeChat {exc.errcode}: {exc.errmsg})"
                    )
                log.warning("wechat: no access_token yet (%s); sends wait and retry", exc)
            return None
        finally:
            await api.close()
            await engine.dispose()

    return asyncio.run(run())
