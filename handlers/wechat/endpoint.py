"""The 服务器配置 URL: WeChat's URL check (GET) and its message pushes (POST), on aiohttp.

A push is answered within WeChat's 5 seconds, always:
- a request whose signature or timestamp does not check out gets 403 and the app never hears of
  it (nothing is stored);
- otherwise `store(inbound)` (the app's durable inbox, when given) runs first, with no deadline:
  nothing is answered before the push is stored (a slow database means WeChat hears nothing and
  pushes again, never a "success" for a push a crash could lose; a failure answers 500);
- then the app's `handle(inbound)` runs and returns the receipt as a passive reply, or None;
- if `handle` has not finished after `reply_deadline` (default 4 s), the answer is "success" so
  WeChat neither retries nor shows the resident an error. `handle` keeps running; when it
  returns a reply later, `on_late(inbound, reply)` gets it, to send by the customer-service API;
- if `handle` raises, the answer is 500: nothing was stored, and the resident sees WeChat's
  "该公众号暂时无法提供服务，请稍后再试" and can send again, which beats a silent "success".

WeChat pushes a message again only when it got no answer at all within 5 s; the deadline keeps
that from happening, and when it happens anyway (a dropped connection) the retry carries the
same MsgId: deduplicating is the app's part, on `Inbound.idempotency_key`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from domain.clock import Clock, SystemClock
from handlers.wechat import xml
from handlers.wechat.config import WeChatConfig
from handlers.wechat.crypto import DecryptError, MessageCipher, sign, signature_ok, timestamp_fresh
from handlers.wechat.messages import Inbound, ParseError, parse_inbound
from handlers.wechat.replies import SUCCESS, PassiveReply, encrypted_envelope, reply_xml

log = logging.getLogger(__name__)

Handler = Callable[[Inbound], Awaitable[PassiveReply | None]]
LateReply = Callable[[Inbound, PassiveReply], Awaitable[None]]
Store = Callable[[Inbound], Awaitable[None]]

MAX_BODY = 256 * 1024  # a push is a few KB; anything near this is not from WeChat
DRAIN_SECONDS = 10.0  # on shutdown, how long late handlers get to finish storing


class WeChatEndpoint:
    """Serves one account's push URL; mount with :meth:`add_routes` or use :func:`create_app`."""

    def __init__(
        self,
        config: WeChatConfig,
        handle: Handler,
        *,
        on_late: LateReply | None = None,
        clock: Clock | None = None,
        store: Store | None = None,
    ) -> None:
        self.config = config
        self._handle = handle
        self._on_late = on_late
        self._store = store
        self._clock = clock or SystemClock()
        self._cipher = (
            MessageCipher(config.encoding_aes_key, config.app_id)
            if config.encoding_aes_key
            else None
        )
        self._pending: set[asyncio.Task[None]] = set()

    def add_routes(self, app: web.Application) -> None:
        """Serve GET and POST at the configured path; drain late handlers on cleanup."""
        app.router.add_get(self.config.endpoint_path, self.verify_url)
        app.router.add_post(self.config.endpoint_path, self.receive)
        app.on_cleanup.append(self._drain)

    @property
    def pending(self) -> int:
        """Handlers still running after their push was answered."""
        return len(self._pending)

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _fresh(self, timestamp: str | None) -> bool:
        return timestamp_fresh(timestamp, self._now(), self.config.timestamp_window)

    async def verify_url(self, request: web.Request) -> web.Response:
        """GET: echo `echostr` when the signature over token/timestamp/nonce matches."""
        q = request.query
        timestamp, nonce = q.get("timestamp"), q.get("nonce", "")
        echostr = q.get("echostr")
        expected = sign(self.config.token, timestamp or "", nonce)
        if (
            echostr is None
            or not self._fresh(timestamp)
            or not signature_ok(expected, q.get("signature"))
        ):
            log.warning("wechat: refused a URL check from %s", request.remote)
            return web.Response(status=403, text="forbidden")
        return web.Response(text=echostr, content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        """POST: check, decrypt, parse, hand to the app, answer in time."""
        q = request.query
        timestamp, nonce = q.get("timestamp"), q.get("nonce", "")
        if not self._fresh(timestamp):
            log.warning("wechat: refused a push with a stale or missing timestamp")
            return web.Response(status=403, text="forbidden")
        assert timestamp is not None
        encrypted = q.get("encrypt_type", "").lower() == "aes"
        fields = await self._checked_fields(request, timestamp, nonce, encrypted)
        if isinstance(fields, web.Response):
            return fields
        try:
            inbound = parse_inbound(fields)
        except ParseError as exc:
            log.warning("wechat: push could not be read: %s", exc)
            return web.Response(status=400, text="bad request")
        arrived = self._clock.now().timestamp()
        if self._store is not None:
            # Stored before anything is answered: "success" for a push that is not stored yet
            # would let a crash lose it. While the database is slow WeChat hears nothing and
            # pushes again (and a re-delivery is recognised once it is stored).
            try:
                await self._store(inbound)
            except Exception:
                log.exception("wechat: storing %s failed; answered 500", inbound.idempotency_key)
                return web.Response(status=500, text="error")
        spent = self._clock.now().timestamp() - arrived
        reply = await self._dispatch(inbound, max(0.05, self.config.reply_deadline - spent))
        if isinstance(reply, web.Response):
            return reply
        if reply is not None and request.transport is None:
            # WeChat hung up before the answer was ready (it pushes again after 5 s without
            # one): nobody will read this reply, so it goes the late way.
            log.info("wechat: %s: the push's connection closed first", inbound.idempotency_key)
            done: asyncio.Future[PassiveReply | None] = asyncio.get_running_loop().create_future()
            done.set_result(reply)
            self._adopt(inbound, done)
            return web.Response(body=SUCCESS, content_type="text/plain")
        if reply is None:
            return web.Response(body=SUCCESS, content_type="text/plain")
        return self._passive(inbound, reply, encrypted, nonce)

    async def _checked_fields(
        self, request: web.Request, timestamp: str, nonce: str, encrypted: bool
    ) -> dict[str, xml.XmlValue] | web.Response:
        """The push's XML fields once its signature holds (decrypted in safe mode), or the
        refusal to answer."""
        q = request.query
        try:
            fields = xml.parse(await request.read())
        except xml.XmlError as exc:
            log.warning("wechat: refused a push that is not WeChat XML: %s", exc)
            return web.Response(status=400, text="bad request")
        if encrypted:
            document = self._open_encrypted(fields, timestamp, nonce, q.get("msg_signature"))
            if isinstance(document, web.Response):
                return document
            try:
                return xml.parse(document)
            except xml.XmlError as exc:
                log.warning("wechat: decrypted push is not XML: %s", exc)
                return web.Response(status=400, text="bad request")
        expected = sign(self.config.token, timestamp, nonce)
        if not signature_ok(expected, q.get("signature")):
            log.warning("wechat: refused a push with a bad signature from %s", request.remote)
            return web.Response(status=403, text="forbidden")
        if self.config.mode == "safe":
            log.error("wechat: a plain push arrived but WECHAT_MODE=safe; check 消息加解密方式")
            return web.Response(status=400, text="encryption required")
        return fields

    def _passive(
        self, inbound: Inbound, reply: PassiveReply, encrypted: bool, nonce: str
    ) -> web.Response:
        """The passive reply in the push's own answer, encrypted if the push was."""
        document = reply_xml(
            reply, openid=inbound.from_user, account=inbound.to_user, create_time=int(self._now())
        )
        if encrypted and self._cipher is not None:
            document = encrypted_envelope(
                document,
                cipher=self._cipher,
                token=self.config.token,
                timestamp=str(int(self._now())),
                nonce=nonce or None,
            )
        return web.Response(body=document, content_type="application/xml", charset="utf-8")

    def _open_encrypted(
        self, fields: dict[str, xml.XmlValue], timestamp: str, nonce: str, msg_signature: str | None
    ) -> bytes | web.Response:
        encrypt = xml.text(fields, "Encrypt")
        if encrypt is None:
            return web.Response(status=400, text="bad request")
        if not signature_ok(sign(self.config.token, timestamp, nonce, encrypt), msg_signature):
            log.warning("wechat: refused an encrypted push with a bad msg_signature")
            return web.Response(status=403, text="forbidden")
        if self._cipher is None:
            log.error("wechat: an encrypted push arrived but WECHAT_AES_KEY is not set")
            return web.Response(status=400, text="encryption not configured")
        try:
            return self._cipher.decrypt(encrypt)
        except DecryptError as exc:
            log.error(
                "wechat: signed push does not decrypt (EncodingAESKey or AppID wrong?): %s", exc
            )
            return web.Response(status=400, text="bad request")

    async def _dispatch(
        self, inbound: Inbound, deadline: float
    ) -> PassiveReply | web.Response | None:
        task = asyncio.ensure_future(self._handle(inbound))
        try:
            done, _ = await asyncio.wait({task}, timeout=deadline)
        except asyncio.CancelledError:  # the connection went away: finish storing anyway
            self._adopt(inbound, task)
            raise
        if not done:
            log.info(
                "wechat: %s still running after %.1fs; answered success",
                inbound.idempotency_key,
                deadline,
            )
            self._adopt(inbound, task)
            return None
        exc = task.exception()
        if exc is not None:
            log.error(
                "wechat: handling %s failed; answered 500",
                inbound.idempotency_key,
                exc_info=exc,
            )
            return web.Response(status=500, text="error")
        return task.result()

    def _adopt(self, inbound: Inbound, task: asyncio.Future[PassiveReply | None]) -> None:
        async def finish() -> None:
            try:
                reply = await task
            except Exception:
                log.exception("wechat: late handling of %s failed", inbound.idempotency_key)
                return
            if reply is not None and self._on_late is not None:
                try:
                    await self._on_late(inbound, reply)
                except Exception:
                    log.exception(
                        "wechat: sending the late reply to %s failed", inbound.idempotency_key
                    )

        runner = asyncio.ensure_future(finish())
        self._pending.add(runner)
        runner.add_done_callback(self._pending.discard)

    async def _drain(self, _app: web.Application) -> None:
        if not self._pending:
            return
        _, still = await asyncio.wait(set(self._pending), timeout=DRAIN_SECONDS)
        for task in still:
            task.cancel()
        for task in still:
            with contextlib.suppress(asyncio.CancelledError):
                await task


ENDPOINT = web.AppKey("wechat_endpoint", WeChatEndpoint)


def create_app(
    config: WeChatConfig,
    handle: Handler,
    *,
    on_late: LateReply | None = None,
    clock: Clock | None = None,
) -> web.Application:
    """An aiohttp application serving only the push URL (run it behind the TLS proxy)."""
    app = web.Application(client_max_size=MAX_BODY)
    endpoint = WeChatEndpoint(config, handle, on_late=on_late, clock=clock)
    endpoint.add_routes(app)
    app[ENDPOINT] = endpoint
    return app
