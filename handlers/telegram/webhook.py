"""The webhook endpoint: an update is stored raw before Telegram gets its 200.

PTB's own webhook server parses an update before anything else and answers 400 when it cannot,
so Telegram sends that update again and again and the ones after it wait. Here the raw JSON is
stored first (handlers.telegram.inbox.UpdateIntake): an update PTB cannot parse is kept and set
aside, answered 200 like the others, and the updates behind it keep flowing.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from aiohttp import web
from telegram.ext import Application

from handlers.telegram.inbox import UpdateIntake

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookEndpoint:
    """POST `path`: the secret checked, the update stored, parsed and queued."""

    def __init__(
        self,
        app: Application,  # type: ignore[type-arg]
        intake: UpdateIntake,
        secret: str | None,
    ) -> None:
        self.app = app
        self.intake = intake
        self.secret = secret

    def web_app(self, path: str) -> web.Application:
        server = web.Application(client_max_size=4 * 1024 * 1024)
        server.router.add_post("/" + path.strip("/"), self.receive)
        return server

    async def receive(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return web.Response(status=403)
        given = request.headers.get(SECRET_HEADER, "")
        if self.secret is not None and not hmac.compare_digest(given, self.secret):
            return web.Response(status=403)
        try:
            raw: Any = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400, text="not JSON")
        if not isinstance(raw, dict) or not isinstance(raw.get("update_id"), int):
            return web.Response(status=400, text="not an update")
        try:
            updates = await self.intake.take([raw], self.app.bot)
        except Exception:  # not stored: Telegram sends it again
            return web.Response(status=500)
        for update in updates:
            self.intake.stored.discard(update.update_id)
            self.app.update_queue.put_nowait(update)
        return web.Response(status=200)
