"""The channels served beside Telegram (DingTalk today): built from the settings, checked once
before start (a refused credential is one line and exit code 2), opened with the bot, closed
with it.

A side channel gives the dispatcher its outbound adapter and, once the router exists, starts
receiving; `liaison-bot dispatch` uses only the outbound half.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Protocol

from bot.config import Settings
from domain.channels import Channel
from handlers.dingtalk.api import DingTalkApi, DingTalkAuthError, DingTalkUnavailable
from handlers.dingtalk.config import (
    OFFICIAL_API_BASE_URL,
    OFFICIAL_OAPI_BASE_URL,
    DingTalkConfig,
    DingTalkConfigError,
    parse_webhooks,
)
from handlers.dingtalk.inbound import DingTalkInbound
from handlers.dingtalk.outbound import DingTalkOutbound
from handlers.dingtalk.robot import CustomRobotSender
from handlers.dingtalk.stream import DingTalkStream
from scheduler.delivery import OutboundChannel
from services.inbound.router import Router
from services.kernel.context import ServiceContext
from services.kernel.inbox import Inbox

log = logging.getLogger(__name__)


class SideChannel(Protocol):
    name: str

    @property
    def outbound(self) -> OutboundChannel: ...

    def serve(self, router: Router) -> None:
        """Start receiving (a background task)."""
        ...

    async def tick(self) -> None:
        """On the clock: handle again what was received but not finished."""
        ...

    async def close(self) -> None: ...


def dingtalk_config(settings: Settings) -> DingTalkConfig | None:
    """DINGTALK_* settings as the channel's config; None when DingTalk is not set up."""
    webhooks = parse_webhooks(settings.dingtalk_webhooks)
    if not settings.dingtalk_client_id and not settings.dingtalk_client_secret:
        if webhooks:
            raise DingTalkConfigError(
                "DINGTALK_WEBHOOKS 需要同时配置 DINGTALK_CLIENT_ID/DINGTALK_CLIENT_SECRET"
            )
        return None
    return DingTalkConfig(
        client_id=settings.dingtalk_client_id.strip(),
        client_secret=settings.dingtalk_client_secret.strip(),
        robot_code=settings.dingtalk_robot_code.strip(),
        api_base_url=settings.dingtalk_api_base_url.strip() or OFFICIAL_API_BASE_URL,
        oapi_base_url=settings.dingtalk_oapi_base_url.strip() or OFFICIAL_OAPI_BASE_URL,
        gateway_url=settings.dingtalk_gateway_url.strip(),
        card_template_id=settings.dingtalk_card_template_id.strip(),
        custom_robots=webhooks,
    )


def channels_problem(settings: Settings) -> str | None:
    """Why a configured channel cannot start (one line), or None. Network trouble is not a
    problem here: the channel retries once it runs. (WeChat's credentials are tried after the
    migrations: its token is shared in the database, bot.wechat.credentials_problem.)"""
    from bot.wechat import environment
    from bot.wechat import problem as wechat_problem

    wechat = wechat_problem(environment())
    if wechat:
        return wechat
    try:
        config = dingtalk_config(settings)
    except DingTalkConfigError as exc:
        return f"钉钉配置有误：{exc} (bad DingTalk settings)"
    if config is None:
        return None
    return asyncio.run(_dingtalk_problem(config))


async def _dingtalk_problem(config: DingTalkConfig) -> str | None:
    async with DingTalkApi(config, timeout=10.0) as api:
        try:
            await api.access_token()
        except DingTalkAuthError as exc:
            return (
                "钉钉应用凭证无效，请核对 DINGTALK_CLIENT_ID / DINGTALK_CLIENT_SECRET"
                f"（开发者后台 凭证与基础信息）：{exc} (DingTalk credentials refused)"
            )
        except DingTalkUnavailable as exc:
            log.warning("DingTalk not reachable at start, will retry: %s", exc)
    return None


class DingTalkChannel:
    """The DingTalk app robot: outbound for the dispatcher, Stream mode for receiving."""

    name = "dingtalk"

    def __init__(
        self, config: DingTalkConfig, rate_per_second: float, inbox_lease: timedelta
    ) -> None:
        self.config = config
        self.inbox_lease = inbox_lease
        self.outbound: DingTalkOutbound = DingTalkOutbound(
            DingTalkApi(config), CustomRobotSender(), rate_per_second=rate_per_second
        )
        self.stream: DingTalkStream | None = None
        self.inbound: DingTalkInbound | None = None
        self._task: asyncio.Task[None] | None = None

    def serve(self, router: Router) -> None:
        # Each robot message and card press is stored in the durable inbox before its ACK.
        store = Inbox(router.ctx, Channel.DINGTALK, lease=self.inbox_lease)
        self.inbound = DingTalkInbound(router, self.outbound, store)
        self.stream = DingTalkStream(
            self.config, self.inbound.on_message, self.inbound.on_card_action
        )
        self._task = asyncio.create_task(self._receive(self.stream), name="dingtalk-stream")

    async def tick(self) -> None:
        if self.inbound is not None:
            await self.inbound.redo()

    async def _receive(self, stream: DingTalkStream) -> None:
        try:
            await stream.run()
        except DingTalkAuthError as exc:
            log.error("DingTalk Stream refused the app's credentials; not receiving: %s", exc)

    async def close(self) -> None:
        if self.stream is not None:
            await self.stream.stop()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.inbound is not None and self.inbound.store is not None:
            await self.inbound.store.release()
        await self.outbound.close()


def side_channels(settings: Settings, ctx: ServiceContext) -> list[SideChannel]:
    """Every channel besides Telegram that the settings configure (checked before: see
    `channels_problem`)."""
    from bot.wechat import WeChatChannel, environment

    side: list[SideChannel] = []
    config = dingtalk_config(settings)
    if config is not None:
        lease = timedelta(seconds=settings.inbox_lease_seconds)
        side.append(DingTalkChannel(config, settings.dingtalk_rate_per_second, lease))
    wechat = WeChatChannel.build(environment(), ctx)
    if wechat is not None:
        side.append(wechat)
    return side
