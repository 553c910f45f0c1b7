"""`liaison-bot run --webhook-url`: the application served behind our own webhook endpoint
(handlers.telegram.webhook), in the order PTB's run_webhook keeps: initialize, post_init,
the webhook registered and served, start; on SIGTERM or SIGINT the reverse."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence

from aiohttp import web

from bot.app import Assembly
from handlers.telegram.webhook import WebhookEndpoint


def run_webhook(
    assembly: Assembly,
    *,
    listen: str,
    port: int,
    path: str,
    url: str,
    secret: str,
    allowed_updates: Sequence[str],
) -> None:
    endpoint = WebhookEndpoint(assembly.app, assembly.intake, secret)
    asyncio.run(
        _serve(assembly, endpoint.web_app(path), listen, port, url, secret, allowed_updates)
    )


async def _serve(
    assembly: Assembly,
    server: web.Application,
    listen: str,
    port: int,
    url: str,
    secret: str,
    allowed_updates: Sequence[str],
) -> None:
    app = assembly.app
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        runner = web.AppRunner(server, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, listen, port).start()
        await app.bot.set_webhook(url, secret_token=secret, allowed_updates=allowed_updates)
        await app.start()
        await _until_signalled()
        await runner.cleanup()
        await app.stop()
        if app.post_stop is not None:
            await app.post_stop(app)
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
