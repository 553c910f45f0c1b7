"""Receiving over DingTalk Stream mode: robot messages and card presses as two async callbacks.

Protocol (developerpedia docs/learn/stream/protocol.md; dingtalk_stream/stream.py, frames.py):
1. ``POST {gateway}`` with clientId, clientSecret and the subscribed topics answers
   ``{"endpoint": "wss://…/connect", "ticket": "…"}`` (a ticket is good for one connection,
   90 seconds).
2. A WebSocket to ``endpoint?ticket=…`` carries JSON frames
   ``{"specVersion","type": SYSTEM|EVENT|CALLBACK,"headers": {topic, messageId, contentType,
   time,…},"data": "<JSON text>"}``; every frame is answered with an ACK
   ``{"code": 200|…,"headers": {messageId, contentType},"message","data"}``.
3. SYSTEM ``ping`` is acknowledged with its data; SYSTEM ``disconnect`` announces that the
   server closes the socket about 10 s later, so we reconnect at once.

What is ours and what is the SDK's: the frame and ACK model, the robot-message and
card-callback models and the topic names are the official ``dingtalk-stream`` SDK's
(frames.py, handlers.py, chatbot.py, card_callback.py). The connection loop is ours, because
the released SDK's (0.24.3, ``DingTalkStreamClient.start``) opens the connection with a
blocking ``requests.post`` without a timeout on the event loop's thread, reconnects after a
fixed 3–10 s or at once after a clean close, swallows task cancellation, reads the gateway
URL from ``DINGTALK_OPENAPI_ENDPOINT`` once at import, and sends each ACK on whatever
socket is current when the handler finishes. Here the handshake is async with a timeout and
a settable URL, reconnects back off exponentially with jitter (1 s doubling to 60 s, reset
once a connection delivers a frame, as the SDK's own next release does), cancellation stops
the loop, and an ACK goes back on the socket its frame came from.

ACK semantics for the durable inbox: a frame is acknowledged with 200 only after the app's
callback returned (it has stored the message). If the callback raises, the ACK carries 500
(as the Java SDK answers a failed callback; the Python SDK sends no ACK at all). What the
server does then: for EVENT pushes it re-pushes un-ACKed/failed frames; robot messages are
"fire-forget" and are *not* re-pushed (protocol.md, 常见问题), and duplicates can still
arrive. So the app must (a) store before it returns and (b) be idempotent on
:attr:`IncomingDingTalkMessage.message_id` (the platform's msgId) and, for card presses, on
:attr:`CardAction.frame_id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import aiohttp
import websockets
from dingtalk_stream import (
    AckMessage,
    CallbackHandler,
    CallbackMessage,
    ChatbotMessage,
    SystemHandler,
    SystemMessage,
)
from dingtalk_stream.version import VERSION_STRING

from .api import DingTalkAuthError
from .config import DingTalkConfig
from .pushes import CardAction, IncomingDingTalkMessage, parse_card_action, parse_message

log = logging.getLogger(__name__)

JSON = dict[str, Any]

BOT_MESSAGE_TOPIC: str = ChatbotMessage.TOPIC  # /v1.0/im/bot/messages/get
CARD_CALLBACK_TOPIC: str = CallbackHandler.TOPIC_CARD_CALLBACK  # /v1.0/card/instances/callback


MessageCallback = Callable[[IncomingDingTalkMessage], Awaitable[None]]
CardActionCallback = Callable[[CardAction], Awaitable[None]]


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: ``base * factor**attempt`` capped at ``maximum``, plus jitter."""

    base: float = 1.0
    factor: float = 2.0
    maximum: float = 60.0
    jitter: float = 1.0

    def delay(self, attempt: int) -> float:
        step = min(self.base * self.factor ** min(attempt, 30), self.maximum)
        return min(step + random.uniform(0, self.jitter), self.maximum + self.jitter)


class StreamHandshakeError(Exception):
    """The gateway did not hand out an endpoint (network trouble, 5xx): retried."""


class _AppHandler(CallbackHandler):  # type: ignore[misc]
    """Runs one app callback for a CALLBACK frame and says how to ACK it."""

    def __init__(self, run: Callable[[CallbackMessage], Awaitable[None]]) -> None:
        super().__init__()
        self._run = run

    async def process(self, message: CallbackMessage) -> tuple[int, Any]:
        try:
            await self._run(message)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("DingTalk callback failed for %s", message.headers.message_id)
            return AckMessage.STATUS_SYSTEM_EXCEPTION, "internal error"
        return AckMessage.STATUS_OK, None


class DingTalkStream:
    """One Stream connection, kept up until :meth:`stop`; hands frames to two callbacks.

    ``await stream.run()`` raises :class:`DingTalkAuthError` when the gateway refuses the
    credentials (the CLI prints one line and exits 2); everything else is retried.
    """

    def __init__(
        self,
        config: DingTalkConfig,
        on_message: MessageCallback,
        on_card_action: CardActionCallback,
        *,
        backoff: Backoff | None = None,
        session: aiohttp.ClientSession | None = None,
        max_in_flight: int = 100,
        handshake_timeout: float = 10.0,
    ) -> None:
        self.config = config
        self.backoff = backoff or Backoff()
        self._on_message = on_message
        self._on_card_action = on_card_action
        self._session = session
        self._own_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=handshake_timeout)
        self._slots = asyncio.Semaphore(max_in_flight)
        # Frames of one conversation (or card) run in arrival order: key -> (lock, users).
        self._order: dict[str, tuple[asyncio.Lock, int]] = {}
        self._handlers: dict[str, CallbackHandler] = {
            BOT_MESSAGE_TOPIC: _AppHandler(self._deliver_message),
            CARD_CALLBACK_TOPIC: _AppHandler(self._deliver_card_action),
        }
        self._system = SystemHandler()
        self._stopping = asyncio.Event()
        self._ws: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0  # sockets opened so far
        self.failed_attempts = 0  # handshakes or sockets that failed, in a row
        self.delays: list[float] = []  # reconnect waits taken (for tests and logs)
        self._served_frames = False

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Connect, serve frames, reconnect with back-off; return once :meth:`stop` is called."""
        attempt = 0
        try:
            while not self._stopping.is_set():
                immediate = False
                try:
                    endpoint, ticket = await self._open_connection()
                    immediate = await self._serve(endpoint, ticket)
                    if self._served_frames:
                        attempt = 0
                except DingTalkAuthError:
                    raise
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # network, handshake, socket errors: retry
                    log.warning("DingTalk stream connection failed: %s", exc)
                    self.failed_attempts += 1
                if self._stopping.is_set():
                    break
                if immediate:
                    continue
                delay = self.backoff.delay(attempt)
                attempt += 1
                self.delays.append(delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
        finally:
            await self._drain()
            if self._own_session and self._session is not None:
                await self._session.close()
                self._session = None

    async def stop(self) -> None:
        """Stop reconnecting and close the socket; :meth:`run` returns soon after."""
        self._stopping.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()

    async def drop_connection(self) -> None:
        """Close the current socket as a network fault would (the loop reconnects)."""
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()

    async def _drain(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------ handshake

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._own_session = True
        return self._session

    async def _open_connection(self) -> tuple[str, str]:
        """POST the gateway for an endpoint and a one-use ticket (body as the SDK sends it)."""
        body = {
            "clientId": self.config.client_id,
            "clientSecret": self.config.client_secret,
            "subscriptions": [{"type": "CALLBACK", "topic": topic} for topic in self._handlers],
            "ua": f"liaison-bot dingtalk-sdk-python/v{VERSION_STRING}",
            "localIp": "",
        }
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        async with self._http().post(
            self.config.gateway_url, json=body, headers=headers, timeout=self._timeout
        ) as resp:
            text = await resp.text()
            status = resp.status
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            data = {}
        if status == 200 and data.get("endpoint") and data.get("ticket"):
            return str(data["endpoint"]), str(data["ticket"])
        if 400 <= status < 500 and status != 429:
            raise DingTalkAuthError(
                f"Stream gateway refused the app (HTTP {status}): "
                f"{data.get('code', '')} {data.get('message', text[:200])}".strip()
            )
        raise StreamHandshakeError(f"gateway answered HTTP {status}: {text[:200]}")

    # ------------------------------------------------------------------ socket

    async def _serve(self, endpoint: str, ticket: str) -> bool:
        """Serve one socket until it closes; True if the server asked us to reconnect."""
        self._served_frames = False
        uri = f"{endpoint}?ticket={quote_plus(ticket)}"
        async with websockets.connect(uri, open_timeout=self._timeout.total) as ws:
            self._ws = ws
            self.connections += 1
            self.failed_attempts = 0
            log.info("DingTalk stream connected (%s)", endpoint)
            reconnect = False
            try:
                async for raw in ws:
                    self._served_frames = True
                    try:
                        frame = json.loads(raw)
                    except (TypeError, ValueError):
                        log.warning("DingTalk stream: not JSON: %r", raw[:200])
                        continue
                    if not isinstance(frame, dict):
                        continue
                    if frame.get("type") == SystemMessage.TYPE:
                        reconnect = await self._system_frame(ws, frame) or reconnect
                        continue
                    await self._slots.acquire()
                    task = asyncio.create_task(self._callback_frame(ws, frame))
                    self._tasks.add(task)
                    task.add_done_callback(self._finished)
            finally:
                if self._ws is ws:
                    self._ws = None
            return reconnect

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def _system_frame(self, ws: Any, frame: JSON) -> bool:
        """ACK ping (echoing its data); on disconnect ACK, close and ask for a reconnect."""
        msg = SystemMessage.from_dict(frame)
        ack = await self._system.raw_process(msg)
        with contextlib.suppress(websockets.exceptions.ConnectionClosed):
            await ws.send(json.dumps(ack.to_dict()))
        if msg.headers.topic == SystemMessage.TOPIC_DISCONNECT:
            log.info("DingTalk stream: server asked to reconnect (%s)", msg.data)
            await ws.close()
            return True
        return False

    async def _callback_frame(self, ws: Any, frame: JSON) -> None:
        """Run the app's callback for one frame, in order per conversation, then ACK."""
        if frame.get("type") != CallbackMessage.TYPE:
            # EVENT frames: we subscribe to none; answer "not implemented" as the SDK does.
            ack = _ack(frame, AckMessage.STATUS_NOT_IMPLEMENT, "not implement")
            with contextlib.suppress(websockets.exceptions.ConnectionClosed):
                await ws.send(json.dumps(ack.to_dict()))
            return
        msg = CallbackMessage.from_dict(frame)
        handler = self._handlers.get(msg.headers.topic or "")
        if handler is None:
            ack = _ack(frame, AckMessage.STATUS_NOT_IMPLEMENT, "unknown topic")
        else:
            key = _order_key(msg)
            lock, users = self._order.get(key, (asyncio.Lock(), 0))
            self._order[key] = (lock, users + 1)
            try:
                async with lock:
                    ack = await handler.raw_process(msg)
            finally:
                lock, users = self._order[key]
                if users <= 1:
                    del self._order[key]
                else:
                    self._order[key] = (lock, users - 1)
        with contextlib.suppress(websockets.exceptions.ConnectionClosed):
            await ws.send(json.dumps(ack.to_dict()))

    async def _deliver_message(self, message: CallbackMessage) -> None:
        data = message.data if isinstance(message.data, dict) else {}
        await self._on_message(parse_message(data, str(message.headers.message_id or "")))

    async def _deliver_card_action(self, message: CallbackMessage) -> None:
        data = message.data if isinstance(message.data, dict) else {}
        await self._on_card_action(parse_card_action(data, str(message.headers.message_id or "")))


def _order_key(msg: CallbackMessage) -> str:
    data = msg.data if isinstance(msg.data, dict) else {}
    return str(data.get("conversationId") or data.get("outTrackId") or msg.headers.message_id)


def _ack(frame: JSON, code: int, message: str) -> AckMessage:
    ack = AckMessage()
    ack.code = code
    ack.headers.message_id = (frame.get("headers") or {}).get("messageId")
    ack.headers.content_type = "application/json"
    ack.message = message
    return ack
