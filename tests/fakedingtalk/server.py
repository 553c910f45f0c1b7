"""A fake DingTalk platform: Stream gateway and WebSocket, OpenAPI, media upload, custom robots.

The bot under test talks real HTTP and a real WebSocket to it; tests play the people through
the control API and read what the bot sent. Every answer has the platform's shape; the
source of each shape is named next to it:

- [SDK]   the official dingtalk-stream SDK (dingtalk_stream/stream.py, frames.py,
          handlers.py, chatbot.py, card_replier.py, card_callback.py);
- [PROTO] open-dingtalk/developerpedia docs/learn/stream/protocol.md (the Stream protocol);
- [DOC]   open.dingtalk.com / help.dingtalk.io API pages (error tables quoted there);
- [SEEN]  answers recorded from the real endpoints with fake credentials (a public probe log:
          400 invalidClientIdOrSecret, 400 InvalidAuthentication, oapi errcode 40014,
          webhook 300005 / 130101 / 660026);
- [ASSUMED] no public shape found; the closest documented one is used and marked.

Like tests/fakebot it runs in a background thread (:meth:`FakeDingTalk.start`) or in the
caller's loop (:meth:`astart`); the control API is thread-safe and waits wake on changes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import functools
import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import BodyPartReader, WSMsgType, web

from tests.localhttp import LocalServer

JSON = dict[str, Any]
T = TypeVar("T")

DEFAULT_CLIENT_ID = "dingfakeclientid0001"
DEFAULT_CLIENT_SECRET = "fake-client-secret-0123456789abcdef"
DEFAULT_CORP_ID = "dingfakecorp0001"
BOT_TOPIC = "/v1.0/im/bot/messages/get"
CARD_TOPIC = "/v1.0/card/instances/callback"

# Robot message templates (msgKey) and the params each needs [DOC 企业机器人发送消息的消息类型].
MSG_KEYS: dict[str, tuple[str, ...]] = {
    "sampleText": ("content",),
    "sampleMarkdown": ("title", "text"),
    "sampleImageMsg": ("photoURL",),
    "sampleLink": ("text", "title", "picUrl", "messageUrl"),
    "sampleActionCard": ("title", "text", "singleTitle", "singleURL"),
    "sampleActionCard2": ("title", "text"),
    "sampleActionCard3": ("title", "text"),
    "sampleActionCard4": ("title", "text"),
    "sampleActionCard5": ("title", "text"),
    "sampleActionCard6": ("title", "text"),
    "sampleAudio": ("mediaId", "duration"),
    "sampleFile": ("mediaId", "fileName", "fileType"),
    "sampleVideo": ("duration", "videoMediaId", "videoType", "picMediaId"),
}
MEDIA_TYPES = {  # [DOC 上传媒体文件] types, extensions and the 20 MB image/file limit
    "image": ({"jpg", "jpeg", "gif", "png", "bmp"}, 20 * 1024 * 1024),
    "voice": ({"amr", "mp3", "wav"}, 2 * 1024 * 1024),
    "video": ({"mp4"}, 20 * 1024 * 1024),
    "file": ({"doc", "docx", "xls", "xlsx", "ppt", "pptx", "zip", "pdf", "rar"}, 20 * 1024 * 1024),
}


def _requestid() -> str:
    """A request id shaped like the real ones ("01A08FE7-CD6B-79BB-8B2E-35D8768AD457")."""
    return str(uuid.uuid4()).upper()


def _api_error(status: int, code: str, message: str) -> web.Response:
    """New-API error body {"requestid","code","message"} with its HTTP status [SEEN]."""
    return web.json_response(
        {"requestid": _requestid(), "code": code, "message": message}, status=status
    )


def _oapi(body: JSON) -> web.Response:
    """Legacy oapi answers: always HTTP 200 with errcode/errmsg [SEEN][DOC 全局错误码]."""
    return web.json_response(body)


def sign(secret: str, timestamp: str) -> str:
    """The custom robot's 加签 signature (before URL-encoding) [DOC 自定义机器人安全设置]."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


@dataclass
class FakeLimits:
    """What the fake enforces. Defaults are the documented figures (handlers/dingtalk/limits)."""

    api_qps: int | None = 20  # per app per API per second → 403 QpsLimitForApi
    group_per_minute: int | None = None  # app robot per group: no documented figure
    custom_robot_per_minute: int | None = 20  # per custom robot → errcode 130101
    custom_robot_penalty: float = 600.0  # and throttled for 10 minutes


@dataclass
class _User:
    staff_id: str
    nick: str
    dingtalk_id: str
    union_id: str
    is_admin: bool = False


@dataclass
class _Group:
    cid: str
    title: str
    robot_in: bool = True
    members: set[str] = field(default_factory=set)


@dataclass
class _CustomRobot:
    name: str
    token: str
    secret: str
    keyword: str = ""
    sent: deque[float] = field(default_factory=deque)
    penalty_until: float = 0.0


@dataclass
class _Frame:
    message_id: str
    frame: JSON
    redeliver: bool
    state: str = "queued"  # queued | sent | acked | failed | unacked
    connection: int | None = None
    deliveries: int = 0
    acks: list[JSON] = field(default_factory=list)


@dataclass
class _Connection:
    id: int
    ws: web.WebSocketResponse
    request: web.Request
    wake: asyncio.Event
    open: bool = True


class FakeDingTalk(LocalServer):
    """DingTalk for tests: point the bot's API/oapi/gateway base URLs at :attr:`url`."""

    thread_name = "fakedingtalk"

    def __init__(
        self,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        *,
        robot_code: str | None = None,
        corp_id: str = DEFAULT_CORP_ID,
        limits: FakeLimits | None = None,
        token_expire_in: int = 7200,
        redeliver_callbacks: bool = False,
        redeliver_delay: float = 0.05,
        disconnect_grace: float = 0.2,
        ping_interval: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(host, port)
        self.client_id = client_id
        self.client_secret = client_secret
        self.robot_code = robot_code or client_id
        self.corp_id = corp_id
        self.limits = limits or FakeLimits()
        self.token_expire_in = token_expire_in
        # Robot messages are "fire-forget": the real server does not re-push them when the
        # ACK is missing or failed [PROTO 常见问题]. EVENT pushes are re-pushed. Tests that
        # need the worst case (a duplicate push) switch this on for CALLBACK frames too.
        self.redeliver_callbacks = redeliver_callbacks
        self.redeliver_delay = redeliver_delay
        self.disconnect_grace = disconnect_grace
        self.ping_interval = ping_interval
        self._clock = clock

        self._listeners: list[Callable[[JSON], None]] = []

        self.robot_dingtalk_id = (
            "$:LWCP_v1:$" + base64.b64encode(b"robot-" + client_id.encode()).decode()
        )
        self._users: dict[str, _User] = {}
        self._groups: dict[str, _Group] = {}
        self._custom: dict[str, _CustomRobot] = {}
        self._tokens: dict[str, float] = {}  # token -> expires at (clock)
        self._tickets: dict[str, float] = {}
        self._handshakes: list[JSON] = []
        self._frames: dict[str, _Frame] = {}
        self._queue: deque[str] = deque()
        self._connections: dict[int, _Connection] = {}
        self._conn_ids = itertools.count(1)
        self._pongs: list[JSON] = []
        self._records: list[JSON] = []  # everything the bot sent, in order
        self._cards: dict[str, JSON] = {}
        self._media: dict[str, JSON] = {}
        self._calls: list[JSON] = []
        self._api_windows: dict[str, deque[float]] = {}
        self._group_windows: dict[str, deque[float]] = {}
        self._flow_controlled: set[str] = set()
        self._throttled = 0
        self._failing_handshakes = 0
        self._seq = itertools.count(1)

        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ lifecycle

    @property
    def gateway_url(self) -> str:
        return self.url + "/v1.0/gateway/connections/open"

    async def _open(self) -> None:
        app = web.Application(client_max_size=25 * 1024 * 1024)
        app.router.add_post("/v1.0/gateway/connections/open", self._h_open_connection)
        app.router.add_get("/connect", self._h_websocket)
        app.router.add_post("/v1.0/oauth2/accessToken", self._h_access_token)
        app.router.add_post("/v1.0/robot/oToMessages/batchSend", self._h_batch_send)
        app.router.add_post("/v1.0/robot/groupMessages/send", self._h_group_send)
        app.router.add_post("/v1.0/card/instances/createAndDeliver", self._h_card_deliver)
        app.router.add_put("/v1.0/card/instances", self._h_card_update)
        app.router.add_post("/media/upload", self._h_media_upload)
        app.router.add_post("/robot/send", self._h_custom_robot)
        await self._serve(app, shutdown_timeout=0.5)
        if self.ping_interval:
            self._spawn(self._ping_loop(self.ping_interval))

    async def _close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for conn in list(self._connections.values()):
            with contextlib.suppress(Exception):
                await conn.ws.close()
        await self._unserve()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _in_loop(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the server's loop (from any thread)."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("FakeDingTalk is not started")
        if threading.get_ident() == self._server_thread_id:
            fn()
        else:
            loop.call_soon_threadsafe(fn)

    # ------------------------------------------------------------------ notification

    def add_listener(self, callback: Callable[[JSON], None]) -> None:
        """Call ``callback(record)`` for everything the bot sends (server thread)."""
        with self._lock:
            self._listeners.append(callback)

    def _record(self, record: JSON) -> JSON:
        with self._lock:
            record["seq"] = next(self._seq)
            record["at"] = self._clock()
            self._records.append(record)
            self._changed()
            listeners = list(self._listeners)
        for listener in listeners:
            listener(copy.deepcopy(record))
        return record

    # ------------------------------------------------------------------ Stream: handshake

    async def _h_open_connection(self, request: web.Request) -> web.Response:
        """POST /v1.0/gateway/connections/open → {"endpoint","ticket"} [PROTO 步骤一][SDK]."""
        body = await _json(request)
        with self._lock:
            self._handshakes.append(copy.deepcopy(body))
            self._changed()
            failing = self._failing_handshakes > 0
            self._failing_handshakes -= failing
        if failing:
            return _api_error(
                503, "ServiceUnavailable", "系统繁忙"
            )  # an outage, for back-off tests
        if body.get("clientId") != self.client_id or body.get("clientSecret") != self.client_secret:
            # [ASSUMED] the gateway's refusal is not documented; the token endpoint's is [SEEN].
            return _api_error(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
        subs = body.get("subscriptions")
        if not isinstance(subs, list) or not subs:
            return _api_error(
                400, "invalidParameter", "subscriptions is mandatory for this action."
            )
        ticket = str(uuid.uuid4())
        with self._lock:
            self._tickets[ticket] = self._clock() + 90.0  # 90 s, one connection [PROTO]
        return web.json_response(
            {"endpoint": f"ws://{self._host}:{self.port}/connect", "ticket": ticket}
        )

    # ------------------------------------------------------------------ Stream: socket

    async def _h_websocket(self, request: web.Request) -> web.StreamResponse:
        """GET /connect?ticket=… upgrades to the Stream WebSocket [PROTO 步骤二]."""
        ticket = request.query.get("ticket", "")
        with self._lock:
            expires = self._tickets.pop(ticket, None)
        if expires is None or self._clock() > expires:
            return web.json_response(
                {"code": "InvalidTicket", "message": "ticket is invalid"}, status=401
            )
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _Connection(next(self._conn_ids), ws, request, asyncio.Event())
        with self._lock:
            self._connections[conn.id] = conn
            self._changed()
        writer = asyncio.ensure_future(self._writer(conn))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_ack(conn, msg.data)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self._connection_closed(conn)
        return ws

    async def _writer(self, conn: _Connection) -> None:
        """Push queued frames on the newest open connection."""
        while conn.open:
            conn.wake.clear()
            while True:
                with self._lock:
                    if self._newest_open() is not conn or not self._queue:
                        break
                    mid = self._queue.popleft()
                    frame = self._frames[mid]
                    frame.state = "sent"
                    frame.connection = conn.id
                    frame.deliveries += 1
                    text = json.dumps(frame.frame, ensure_ascii=False)
                    self._changed()
                try:
                    await conn.ws.send_str(text)
                except (ConnectionError, RuntimeError):
                    with self._lock:
                        frame.state = "queued"
                        self._queue.appendleft(mid)
                    return
            await conn.wake.wait()

    def _newest_open(self) -> _Connection | None:
        live = [c for c in self._connections.values() if c.open and not c.ws.closed]
        return max(live, key=lambda c: c.id) if live else None

    def _wake_writers(self) -> None:
        def wake() -> None:
            for conn in list(self._connections.values()):
                conn.wake.set()

        if self._loop is not None:
            self._in_loop(wake)

    def _connection_closed(self, conn: _Connection) -> None:
        with self._lock:
            conn.open = False
            for frame in self._frames.values():
                if frame.connection == conn.id and frame.state == "sent":
                    if frame.redeliver:
                        frame.state = "queued"
                        self._queue.append(frame.message_id)
                    else:
                        frame.state = "unacked"
            self._changed()
        self._wake_writers()

    def _on_ack(self, conn: _Connection, text: str) -> None:
        """An ACK {"code","headers":{"messageId"},"message","data"} [PROTO 通用字段说明]."""
        try:
            ack = json.loads(text)
        except ValueError:
            return
        if not isinstance(ack, dict):
            return
        mid = (ack.get("headers") or {}).get("messageId")
        with self._lock:
            ack["connection"] = conn.id
            if isinstance(mid, str) and mid.startswith("ping-"):
                self._pongs.append(ack)
                self._changed()
                return
            frame = self._frames.get(mid or "")
            if frame is None:
                self._changed()
                return
            frame.acks.append(ack)
            if ack.get("code") == 200:
                frame.state = "acked"
            else:
                frame.state = "failed"
                if frame.redeliver and self._loop is not None:
                    self._loop.call_later(
                        self.redeliver_delay, functools.partial(self._requeue, str(mid))
                    )
            self._changed()

    def _requeue(self, mid: str) -> None:
        with self._lock:
            frame = self._frames.get(mid)
            if frame is None or frame.state != "failed":
                return
            frame.state = "queued"
            self._queue.append(mid)
            self._changed()
        self._wake_writers()

    async def _ping_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.ping()

    # ------------------------------------------------------------------ Stream: pushes

    def _push(self, topic: str, payload: JSON, *, redeliver: bool | None = None) -> JSON:
        """Queue a CALLBACK frame exactly as the server sends one [PROTO 回调推送][SDK frames]."""
        mid = f"{secrets.token_hex(4)}_{secrets.randbelow(999)}_{secrets.token_hex(5)}_{secrets.token_hex(2)}"
        frame = {
            "specVersion": "1.0",
            "type": "CALLBACK",
            "headers": {
                "appId": str(uuid.uuid5(uuid.NAMESPACE_URL, self.client_id)),
                "contentType": "application/json",
                "messageId": mid,
                "time": str(int(time.time() * 1000)),
                "topic": topic,
            },
            "data": json.dumps(payload, ensure_ascii=False),
        }
        with self._lock:
            again = self.redeliver_callbacks if redeliver is None else redeliver
            self._frames[mid] = _Frame(mid, frame, again)
            self._queue.append(mid)
            self._changed()
        self._wake_writers()
        return copy.deepcopy(frame)

    def _system(self, topic: str, data: JSON, *, message_id: str | None = None) -> JSON:
        headers: JSON = {"contentType": "application/json", "topic": topic}
        if message_id:
            headers["messageId"] = message_id
            headers["time"] = str(int(time.time() * 1000))
        return {
            "specVersion": "1.0",
            "type": "SYSTEM",
            "headers": headers,
            "data": json.dumps(data),
        }

    def ping(self) -> str:
        """Send SYSTEM ping {"opaque": …} on every open socket; returns the opaque [PROTO]."""
        opaque = str(uuid.uuid4())
        frame = self._system("ping", {"opaque": opaque}, message_id=f"ping-{opaque}")

        def send() -> None:
            for conn in list(self._connections.values()):
                if conn.open and not conn.ws.closed:
                    self._spawn(conn.ws.send_str(json.dumps(frame)))

        self._in_loop(send)
        return opaque

    def disconnect(self, reason: str = "connection is expired") -> None:
        """SYSTEM disconnect, then close the socket after the grace period [PROTO disconnect]."""
        frame = self._system("disconnect", {"reason": reason})

        async def run() -> None:
            for conn in list(self._connections.values()):
                if conn.open and not conn.ws.closed:
                    await conn.ws.send_str(json.dumps(frame))
            await asyncio.sleep(self.disconnect_grace)
            for conn in list(self._connections.values()):
                with contextlib.suppress(Exception):
                    await conn.ws.close()

        self._in_loop(lambda: self._spawn(run()))

    def drop_socket(self) -> None:
        """Cut every Stream socket without a close frame, as a network fault does."""

        def cut() -> None:
            for conn in list(self._connections.values()):
                transport = conn.request.transport
                if conn.open and transport is not None:
                    transport.abort()

        self._in_loop(cut)

    # ------------------------------------------------------------------ people and groups

    def add_user(self, staff_id: str, nick: str, *, is_admin: bool = False) -> JSON:
        with self._lock:
            user = _User(
                staff_id,
                nick,
                "$:LWCP_v1:$" + base64.b64encode(("u-" + staff_id).encode()).decode(),
                "union" + hashlib.sha1(staff_id.encode()).hexdigest()[:20],
                is_admin,
            )
            self._users[staff_id] = user
            return {
                "staffId": user.staff_id,
                "dingtalkId": user.dingtalk_id,
                "unionId": user.union_id,
            }

    def add_group(
        self, cid: str, title: str, members: tuple[str, ...] = (), *, robot_in: bool = True
    ) -> None:
        with self._lock:
            self._groups[cid] = _Group(cid, title, robot_in, set(members))

    def remove_robot(self, cid: str) -> None:
        """The robot is taken out of the group: sends there fail from now on."""
        with self._lock:
            self._groups[cid].robot_in = False
            self._changed()

    def add_custom_robot(self, name: str, *, secret: str = "", keyword: str = "") -> str:
        """A custom robot for a group; returns its webhook URL (with access_token)."""
        token = secrets.token_hex(32)
        with self._lock:
            self._custom[token] = _CustomRobot(name, token, secret, keyword)
        return f"{self.url}/robot/send?access_token={token}"

    def flow_control(self, staff_id: str, on: bool = True) -> None:
        """Make batchSend report this user in flowControlledStaffIdList."""
        with self._lock:
            (self._flow_controlled.add if on else self._flow_controlled.discard)(staff_id)

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working (as after expiry or a reset)."""
        with self._lock:
            self._tokens.clear()
            self._changed()

    def fail_handshakes(self, count: int) -> None:
        """The next ``count`` gateway handshakes answer 503 (a gateway outage)."""
        with self._lock:
            self._failing_handshakes = count

    def set_limits(self, limits: FakeLimits) -> None:
        with self._lock:
            self.limits = limits

    # ------------------------------------------------------------------ playing people

    def _user(self, staff_id: str) -> _User:
        user = self._users.get(staff_id)
        if user is None:
            raise KeyError(f"unknown user {staff_id}; add_user() first")
        return user

    def send_text(
        self,
        staff_id: str,
        text: str,
        *,
        group: str | None = None,
        at_bot: bool = True,
        msg_id: str | None = None,
        at: tuple[str, ...] = (),
    ) -> JSON:
        """A person writes to the robot (one-to-one, or in ``group`` @-mentioning it, and the
        people in ``at`` too: DingTalk keeps their @name in the text)."""
        names = "".join(f"@{self._user(u).nick} " for u in at)
        content: JSON = {
            "msgtype": "text",
            "text": {"content": (" " if group else "") + text + (" " + names if names else "")},
        }
        if at:
            content["atUsers"] = [
                {"dingtalkId": self._user(u).dingtalk_id, "staffId": u} for u in at
            ]
        return self.send_message(staff_id, content, group=group, at_bot=at_bot, msg_id=msg_id)

    def send_picture(self, staff_id: str, *, group: str | None = None) -> JSON:
        code = "pic" + secrets.token_hex(12)
        content = {
            "msgtype": "picture",
            "content": {"downloadCode": code, "pictureDownloadCode": code},
        }
        return self.send_message(staff_id, content, group=group)

    def send_file(self, staff_id: str, file_name: str, *, group: str | None = None) -> JSON:
        content = {
            "msgtype": "file",
            "content": {"downloadCode": "file" + secrets.token_hex(12), "fileName": file_name},
        }
        return self.send_message(staff_id, content, group=group)

    def send_message(
        self,
        staff_id: str,
        content: JSON,
        *,
        group: str | None = None,
        at_bot: bool = True,
        msg_id: str | None = None,
    ) -> JSON:
        """Push a robot-message CALLBACK; returns the frame (its data holds ``msgId``).

        Data fields as in the robot-message sample [PROTO 回调推送一] and the SDK's
        ChatbotMessage; group messages reach the robot only when it is @-mentioned.
        """
        with self._lock:
            user = self._user(staff_id)
            now = int(time.time() * 1000)
            data: JSON = {
                "conversationId": group
                or ("cid" + base64.b64encode(("p2p-" + staff_id).encode()).decode()),
                "chatbotCorpId": self.corp_id,
                "chatbotUserId": self.robot_dingtalk_id,
                "msgId": msg_id or "msg" + base64.b64encode(secrets.token_bytes(12)).decode(),
                "senderNick": user.nick,
                "isAdmin": user.is_admin,
                "senderStaffId": user.staff_id,
                "sessionWebhookExpiredTime": now + 90 * 60 * 1000,
                "createAt": now,
                "senderCorpId": self.corp_id,
                "conversationType": "2" if group else "1",
                "senderId": user.dingtalk_id,
                "sessionWebhook": f"{self.url}/robot/sendBySession?session={secrets.token_hex(16)}",
                "robotCode": self.robot_code,
                **content,
            }
            if group:
                g = self._groups.get(group)
                if g is None:
                    raise KeyError(f"unknown group {group}; add_group() first")
                if not g.robot_in or not at_bot:
                    raise ValueError(
                        "DingTalk pushes group messages only when the robot is @-mentioned"
                    )
                data["conversationTitle"] = g.title
                data["isInAtList"] = True
                data["atUsers"] = [
                    {"dingtalkId": self.robot_dingtalk_id},
                    *content.get("atUsers", []),
                ]
        return self._push(BOT_TOPIC, data)

    def press(
        self,
        staff_id: str,
        out_track_id: str,
        payload: str | None = None,
        *,
        label: str | None = None,
        action_id: str = "press",
        params: JSON | None = None,
    ) -> JSON:
        """A person presses a button on a card we sent; pushes the card CALLBACK.

        Data as CardCallbackMessage / the card examples' model [SDK card_callback.py]:
        content is JSON text {"cardPrivateData": {"actionIds": […], "params": {…}}}.
        ``label`` finds the button by its text in the card's current ``buttons`` data.
        """
        with self._lock:
            user = self._user(staff_id)
            card = self._cards.get(out_track_id)
            if card is None:
                raise KeyError(f"no card {out_track_id}")
            if label is not None:
                buttons = json.loads(card["data"].get("buttons", "[]"))
                match = [b for b in buttons if b.get("text") == label]
                if not match:
                    raise KeyError(f"no button {label!r} on card {out_track_id}: {buttons}")
                payload = match[0]["payload"]
            space_type, _, space_id = card["openSpaceId"].removeprefix("dtv1.card//").partition(".")
        data = {
            "extension": "{}",
            "corpId": self.corp_id,
            "spaceType": space_type,
            "userIdType": 1,
            "type": "actionCallback",
            "userId": user.staff_id,
            "content": json.dumps(
                {
                    "cardPrivateData": {
                        "actionIds": [action_id],
                        "params": params or {"payload": payload},
                    }
                },
                ensure_ascii=False,
            ),
            "spaceId": space_id,
            "outTrackId": out_track_id,
        }
        return self._push(CARD_TOPIC, data)

    def push_raw(self, topic: str, data: JSON) -> JSON:
        """Push any CALLBACK payload (a forged or malformed one, for negative tests)."""
        return self._push(topic, data)

    # ------------------------------------------------------------------ OpenAPI: token

    async def _h_access_token(self, request: web.Request) -> web.Response:
        """POST /v1.0/oauth2/accessToken {"appKey","appSecret"} → {"accessToken","expireIn"} [SDK]."""
        body = await _json(request)
        self._log_call("accessToken", body)
        if body.get("appKey") != self.client_id or body.get("appSecret") != self.client_secret:
            return _api_error(
                400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret"
            )  # [SEEN]
        token = secrets.token_hex(16)
        with self._lock:
            self._tokens[token] = self._clock() + self.token_expire_in
            self._changed()
        return web.json_response({"accessToken": token, "expireIn": self.token_expire_in})

    def _token_error(self, token: str | None) -> web.Response | None:
        if not token:
            return _api_error(
                400,
                "AuthenticationFailed.MissingParameter",
                "缺少参数：x-acs-dingtalk-access-token",
            )  # [SEEN]
        with self._lock:
            expires = self._tokens.get(token)
        if expires is None or self._clock() >= expires:
            return _api_error(400, "InvalidAuthentication", "不合法的access_token")  # [SEEN]
        return None

    def _qps_error(self, api: str) -> web.Response | None:
        """Per app per API per second [DOC 调用频率限制] → 403 QpsLimitForApi [SEEN in clients]."""
        limit = self.limits.api_qps
        if limit is None:
            return None
        now = self._clock()
        with self._lock:
            window = self._api_windows.setdefault(api, deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= limit:
                self._throttled += 1
                self._changed()
                return _api_error(
                    403,
                    "Forbidden.AccessDenied.QpsLimitForApi",
                    "您的应用调用该接口的频率超过了限制",
                )  # [ASSUMED] message text; code and status as clients handle them
            window.append(now)
        return None

    def _log_call(self, api: str, body: JSON) -> None:
        with self._lock:
            self._calls.append({"api": api, "body": copy.deepcopy(body), "at": self._clock()})
            self._changed()

    async def _api_preamble(
        self, request: web.Request, api: str
    ) -> tuple[JSON, web.Response | None]:
        body = await _json(request)
        self._log_call(api, body)
        error = self._token_error(request.headers.get("x-acs-dingtalk-access-token"))
        if error is None:
            error = self._qps_error(api)
        return body, error

    def _msg_error(self, body: JSON) -> tuple[JSON, web.Response | None]:
        """Validate robotCode, msgKey and msgParam [DOC robot send error tables][SEEN]."""
        if body.get("robotCode") != self.robot_code:
            return {}, _api_error(
                400,
                "invalidParameter.robotCode.notExsit",
                "错误描述: robot 不存在；解决方案:请确认 robotCode 是否正确；",
            )
        key = body.get("msgKey")
        if not key:
            return {}, _api_error(400, "invalidParameter.msgKey.empty", "缺少msgKey")
        if key not in MSG_KEYS:
            return {}, _api_error(400, "invalidParameter.msgKey.invalid", "无效的msgKey")
        try:
            params = json.loads(body.get("msgParam") or "")
        except (TypeError, ValueError):
            return {}, _api_error(
                400, "invalidParameter.msgParam.invalid", "msgParam必须是json格式"
            )
        if not isinstance(params, dict) or any(p not in params for p in MSG_KEYS[key][:1]):
            return {}, _api_error(
                400, "invalidParameter.msgParam.invalid", "msgParam必须是json格式"
            )
        if len(body.get("msgParam", "").encode()) > 15000:  # [DOC] msgParam ≤ 15,000 bytes
            return {}, _api_error(400, "invalidParameter.msgParam.tooLong", "msgParam超出长度限制")
        photo = str(params.get("photoURL", ""))
        if key == "sampleImageMsg" and photo.startswith("@") and photo not in self._media:
            return {}, _api_error(400, "invalidParameter.param.invalid", "参数不合法")
        if key == "sampleFile" and params.get("mediaId") not in self._media:
            return {}, _api_error(400, "invalidParameter.param.invalid", "参数不合法")
        return params, None

    # ------------------------------------------------------------------ OpenAPI: robot sends

    async def _h_batch_send(self, request: web.Request) -> web.Response:
        """POST /v1.0/robot/oToMessages/batchSend → {"processQueryKey", invalid…/flowControlled…}."""
        body, error = await self._api_preamble(request, "batchSend")
        if error is not None:
            return error
        params, error = self._msg_error(body)
        if error is not None:
            return error
        user_ids = body.get("userIds")
        if not isinstance(user_ids, list) or not user_ids:
            return _api_error(400, "invalidParameter.userIds.empty", "用户userId列表为空")
        if len(user_ids) > 20:
            return _api_error(400, "invalidParameter.userIds.overMax", "用户userId列表超过最大限制")
        key = base64.b64encode(secrets.token_bytes(24)).decode()
        invalid, limited = [], []
        for uid in user_ids:
            with self._lock:
                known = uid in self._users
                throttled = uid in self._flow_controlled
            if not known:
                invalid.append(uid)
            elif throttled:
                limited.append(uid)
            else:
                self._record(
                    {
                        "conversation": f"user:{uid}",
                        "api": "batchSend",
                        "msgKey": body["msgKey"],
                        "params": params,
                        "processQueryKey": key,
                    }
                )
        # [DOC] BatchSendOTOResponseBody: processQueryKey, invalidStaffIdList, flowControlledStaffIdList
        return web.json_response(
            {
                "processQueryKey": key,
                "invalidStaffIdList": invalid,
                "flowControlledStaffIdList": limited,
            }
        )

    async def _h_group_send(self, request: web.Request) -> web.Response:
        """POST /v1.0/robot/groupMessages/send → {"processQueryKey"} [DOC send-group-message]."""
        body, error = await self._api_preamble(request, "groupSend")
        if error is not None:
            return error
        params, error = self._msg_error(body)
        if error is not None:
            return error
        cid = body.get("openConversationId")
        with self._lock:
            group = self._groups.get(str(cid))
        if group is None:
            return _api_error(
                400, "invalid.openConversationId", "无效的openConversationId"
            )  # [DOC]
        if not group.robot_in:
            # [DOC] error table: invalidParameter.robotCode.notExsit "机器人不存在,请检查机器人是否在群内"
            return _api_error(
                400, "invalidParameter.robotCode.notExsit", "机器人不存在，请检查机器人是否在群内"
            )
        if self.limits.group_per_minute is not None:
            now = self._clock()
            with self._lock:
                window = self._group_windows.setdefault(group.cid, deque())
                while window and window[0] <= now - 60.0:
                    window.popleft()
                full = len(window) >= self.limits.group_per_minute
                if full:
                    self._throttled += 1
                else:
                    window.append(now)
            if full:
                return _api_error(
                    403, "Forbidden.AccessDenied.QpsLimitForApi", "群消息发送过于频繁"
                )
        key = base64.b64encode(secrets.token_bytes(24)).decode()
        self._record(
            {
                "conversation": f"group:{group.cid}",
                "api": "groupSend",
                "msgKey": body["msgKey"],
                "params": params,
                "processQueryKey": key,
            }
        )
        return web.json_response({"processQueryKey": key})

    # ------------------------------------------------------------------ OpenAPI: cards

    async def _h_card_deliver(self, request: web.Request) -> web.Response:
        """POST /v1.0/card/instances/createAndDeliver [SDK card_replier][DOC 创建并投放卡片]."""
        body, error = await self._api_preamble(request, "cardCreateAndDeliver")
        if error is not None:
            return error
        if not body.get("cardTemplateId"):
            return _api_error(
                400, "param.cardTemplateIdEmpty", "param.cardTemplateIdEmpty"
            )  # [DOC]
        otid = body.get("outTrackId")
        if not otid:
            return _api_error(400, "param.outTrackIdEmpty", "param.outTrackIdEmpty")  # [DOC]
        space = str(body.get("openSpaceId", ""))
        space_type, _, space_id = space.removeprefix("dtv1.card//").partition(".")
        if (
            not space.startswith("dtv1.card//")
            or space_type not in ("IM_GROUP", "IM_ROBOT")
            or not space_id
        ):
            return _api_error(
                400,
                "param.openSpaceIdInvalid",
                "openSpaceId does not conform to the specification.",
            )
        data = (body.get("cardData") or {}).get("cardParamMap")
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            return _api_error(
                400, "param.cardPublicDataEmpty", "param.cardPublicDataEmpty"
            )  # [DOC]
        ok, error_msg = True, ""
        with self._lock:
            if space_type == "IM_GROUP":
                group = self._groups.get(space_id)
                if group is None or not group.robot_in:
                    # [ASSUMED] per-space failure reported inside deliverResults
                    ok, error_msg = False, "机器人不在群内或群不存在"
            elif space_id not in self._users:
                ok, error_msg = False, "用户不存在"
        result = {
            "outTrackId": otid,
            "deliverResults": [
                {
                    "spaceType": space_type,
                    "spaceId": space_id,
                    "success": ok,
                    "errorMsg": error_msg,
                    "carrierId": secrets.token_hex(8) if ok else "",
                }
            ],
        }
        if ok:
            card = {
                "conversation": ("group:" if space_type == "IM_GROUP" else "user:") + space_id,
                "api": "card",
                "outTrackId": otid,
                "templateId": body["cardTemplateId"],
                "openSpaceId": space,
                "callbackType": body.get("callbackType"),
                "data": dict(data),
                "updates": [],
            }
            with self._lock:
                self._cards[otid] = card
            self._record(card)
        return web.json_response({"success": True, "result": result})

    async def _h_card_update(self, request: web.Request) -> web.Response:
        """PUT /v1.0/card/instances → {"success": true, "result": true} [SDK put_card_data]."""
        body, error = await self._api_preamble(request, "cardUpdate")
        if error is not None:
            return error
        otid = body.get("outTrackId")
        with self._lock:
            card = self._cards.get(str(otid))
        if card is None:
            return _api_error(400, "param.outTrackIdNotExist", "卡片不存在")  # [ASSUMED]
        data = (body.get("cardData") or {}).get("cardParamMap") or {}
        by_key = (body.get("cardUpdateOptions") or {}).get("updateCardDataByKey", False)
        with self._lock:
            card["data"] = {**card["data"], **data} if by_key else dict(data)
            card["updates"].append(dict(data))
            card["seq"] = next(self._seq)
            self._changed()
        return web.json_response({"success": True, "result": True})

    # ------------------------------------------------------------------ oapi: media

    async def _h_media_upload(self, request: web.Request) -> web.Response:
        """POST /media/upload?access_token=… multipart type+media [SDK upload_to_dingtalk]."""
        token = request.query.get("access_token")
        with self._lock:
            expires = self._tokens.get(token or "")
        self._log_call("mediaUpload", {"query": dict(request.query)})
        if not token:
            return _oapi({"errcode": 40014, "errmsg": "不合法的access_token"})
        if expires is None or self._clock() >= expires:
            return _oapi({"errcode": 40014, "errmsg": "不合法的access_token"})  # [SEEN] 40014
        kind, data, filename = "", b"", ""
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "type":
                kind = (await part.read()).decode()
            elif part.name == "media":
                filename = part.filename or ""
                data = await part.read()
        if kind not in MEDIA_TYPES:
            return _oapi({"errcode": 40004, "errmsg": "不合法的媒体文件类型"})
        extensions, max_size = MEDIA_TYPES[kind]
        if filename.rsplit(".", 1)[-1].lower() not in extensions:
            return _oapi({"errcode": 40005, "errmsg": "不合法的文件类型"})
        if not data or len(data) > max_size:
            return _oapi({"errcode": 40006, "errmsg": "不合法的文件大小"})
        media_id = "@lA" + base64.b64encode(secrets.token_bytes(18)).decode().replace("/", "_")
        with self._lock:
            self._media[media_id] = {"type": kind, "data": data, "filename": filename}
            self._changed()
        return _oapi(
            {
                "errcode": 0,
                "errmsg": "ok",
                "media_id": media_id,
                "created_at": int(time.time() * 1000),
                "type": kind,
            }
        )

    # ------------------------------------------------------------------ custom robot

    async def _h_custom_robot(self, request: web.Request) -> web.Response:
        """POST /robot/send?access_token=…[&timestamp&sign] [DOC 自定义机器人][SEEN]."""
        token = request.query.get("access_token", "")
        with self._lock:
            robot = self._custom.get(token)
        if not token:
            return _oapi({"errcode": 300001, "errmsg": "缺少参数 access_token"})
        if robot is None:
            return _oapi({"errcode": 300005, "errmsg": "token is not exist"})  # [SEEN]
        if robot.secret:
            timestamp = request.query.get("timestamp", "")
            given = request.query.get("sign", "")  # aiohttp has URL-decoded it already
            try:
                skew = abs(time.time() * 1000 - int(timestamp))
            except ValueError:
                skew = float("inf")
            if skew > 3600 * 1000 or not hmac.compare_digest(given, sign(robot.secret, timestamp)):
                return _oapi(
                    {
                        "errcode": 310000,
                        "errmsg": "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]",
                    }
                )
        body = await _json(request)
        msgtype = body.get("msgtype")
        if msgtype not in ("text", "markdown", "link", "actionCard", "feedCard"):
            return _oapi({"errcode": 40035, "errmsg": "缺少参数 json"})
        text = json.dumps(body.get(msgtype, {}), ensure_ascii=False)
        if robot.keyword and robot.keyword not in text:
            return _oapi({"errcode": 310000, "errmsg": "keywords not in content"})  # [SEEN]
        limit = self.limits.custom_robot_per_minute
        now = self._clock()
        with self._lock:
            if limit is not None:
                if now < robot.penalty_until:
                    self._throttled += 1
                    self._changed()
                    return _oapi(
                        {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
                    )
                while robot.sent and robot.sent[0] <= now - 60.0:
                    robot.sent.popleft()
                if len(robot.sent) >= limit:
                    robot.penalty_until = now + self.limits.custom_robot_penalty
                    self._throttled += 1
                    self._changed()
                    return _oapi(
                        {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
                    )
                robot.sent.append(now)
        self._record(
            {
                "conversation": f"webhook:{robot.name}",
                "api": "customRobot",
                "msgtype": msgtype,
                "body": body,
            }
        )
        return _oapi({"errcode": 0, "errmsg": "ok"})

    # ------------------------------------------------------------------ reading results

    def messages(self, conversation: str | None = None) -> list[JSON]:
        """What the bot sent (``group:<cid>``, ``user:<staffId>``, ``webhook:<name>``)."""
        with self._lock:
            return [
                copy.deepcopy(r) for r in self._records if conversation in (None, r["conversation"])
            ]

    def card(self, out_track_id: str) -> JSON:
        with self._lock:
            return copy.deepcopy(self._cards[out_track_id])

    def media(self, media_id: str) -> JSON:
        with self._lock:
            return copy.deepcopy(self._media[media_id])

    def calls(self, api: str | None = None) -> list[JSON]:
        with self._lock:
            return [copy.deepcopy(c) for c in self._calls if api in (None, c["api"])]

    def frame(self, message_id: str) -> JSON:
        """A pushed frame's state: queued | sent | acked | failed | unacked, deliveries, acks."""
        with self._lock:
            f = self._frames[message_id]
            return {
                "state": f.state,
                "deliveries": f.deliveries,
                "acks": copy.deepcopy(f.acks),
                "connection": f.connection,
            }

    def handshakes(self) -> list[JSON]:
        with self._lock:
            return copy.deepcopy(self._handshakes)

    def pongs(self) -> list[JSON]:
        with self._lock:
            return copy.deepcopy(self._pongs)

    @property
    def connection_count(self) -> int:
        """Sockets ever opened."""
        with self._lock:
            return len(self._connections)

    @property
    def open_connections(self) -> int:
        with self._lock:
            return sum(1 for c in self._connections.values() if c.open and not c.ws.closed)

    @property
    def throttled(self) -> int:
        """How many requests the fake refused for going too fast."""
        with self._lock:
            return self._throttled

    # ------------------------------------------------------------------ waiting

    def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """Block until ``predicate()`` is truthy (re-checked on every change, and every 0.5 s for
        conditions on the clock)."""
        return self._wait(predicate, timeout, "condition not met", poll=0.5)

    async def wait_for_async(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:  # noqa: ASYNC109
        """:meth:`wait_for` for async code (the bot may run in the same loop)."""
        return await self._await(predicate, timeout, "condition not met", poll=0.5)


async def _json(request: web.Request) -> JSON:
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}
