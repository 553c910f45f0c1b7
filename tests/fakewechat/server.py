"""A fake WeChat official-account platform: it pushes to the bot and serves the API the bot calls.

Platform side of the push protocol: every resident action becomes a signed (and in safe or
compatible mode, encrypted) XML POST to the bot's endpoint, answered within `push_timeout`
(WeChat: 5 s) or pushed again, `push_attempts` times in all. WeChat's docs say "总共重试三次";
what developers observe is three deliveries of one message in all (offu/WeRoBot#781: "我给公众号
发了一条消息，服务器上却打印了3条消息"; chanxuehong/wechat#98: "总的三次"), so the default is 3.

API side: the token, stable_token, customer-service, template, menu, QR-code and media endpoints
with WeChat's answer shapes and error codes (sources next to each handler). The rules it
enforces:
- tokens: `/cgi-bin/token` issues a new token per call and the previous one dies 5 minutes later
  (获取Access token: "中控服务器…5分钟内，新老access_token都可用"); `/cgi-bin/stable_token`
  returns the current token in normal mode and renews it in its last 5 minutes, force_refresh
  kills the old one at once, at most 20 a day and 30 s apart (getStableAccessToken 注意事项);
  an expired token answers 42001, a dead or unknown one 40001, a malformed one 40014;
- the customer-service window (客服消息下发规则, 2023-06 rules): a message from the resident
  opens 5 sends for 48 hours, a follow, a scan or a menu click 3 sends for 1 minute; no open
  window answers 45015, a used-up one 45047; an unknown OpenID 40003;
- template messages go to followers only (43004), with registered template ids (40037) and
  keyword values within their type's limits (47003);
- daily quotas per API (接口调用频次限制说明) answer 45009 when used up.
Time is the wall clock; :meth:`FakeWeChat.advance` makes platform time pass by ageing every stored
moment (tokens, windows, media), so the bot under test needs no clock of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import secrets
import string
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import aiohttp
from aiohttp import web

from tests.fakebot import make_png
from tests.localhttp import LocalServer

from .protocol import decrypt, encrypt, from_xml, sha1_signature, to_xml

T = TypeVar("T")
JSON = dict[str, Any]
Mode = Literal["plain", "compatible", "safe"]
Channel = Literal["passive", "custom", "template"]

DEFAULT_APP_ID = "wx1234567890abcdef"
DEFAULT_SECRET = "0123456789abcdef0123456789abcdef"
DEFAULT_TOKEN = "liaisontesttoken"
DEFAULT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
DEFAULT_ORIGINAL_ID = "gh_1234567890ab"

TOKEN_TTL = 7200.0
TOKEN_OVERLAP = 300.0  # old and new token both work for 5 minutes around a renewal
STABLE_FORCE_PER_DAY = 20
STABLE_FORCE_INTERVAL = 30.0
MEDIA_TTL = 3 * 86400.0
MESSAGE_WINDOW = (48 * 3600.0, 5)  # 客服消息下发规则: 用户发送消息 5条 48小时
EVENT_WINDOW = (60.0, 3)  # 点击自定义菜单 / 关注 / 扫描二维码: 3条 1分钟
MAX_TEXT_BYTES = 2048  # 45002 beyond it (community-measured; the docs give no number)
MAX_IMAGE_BYTES = 2 * 1024 * 1024  # 新增临时素材 注意事项 "图片2MB" (another line says 10M)
PERMANENT_QR_LIMIT = 100_000

# 接口调用频次限制说明, daily quotas of a new account.
DAILY_QUOTAS = {
    "token": 2000,
    "stable_token": 500_000,
    "message/custom/send": 500_000,
    "message/template/send": 100_000,
    "menu/create": 1000,
    "menu/delete": 1000,
    "menu/get": 10_000,
    "qrcode/create": 100_000,
    "media/upload": 100_000,
    "media/get": 200_000,
}

# errmsg texts as WeChat sends them (global return codes page, API pages, community answers).
ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    40004: "invalid media type",
    40007: "invalid media_id",
    40008: "invalid message type",
    40009: "invalid image size",
    40013: "invalid appid",
    40014: "invalid access_token",
    40016: "invalid button size",
    40017: "invalid button type",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40020: "invalid button url size",
    40023: "invalid sub button size",
    40025: "invalid sub button name size",
    40033: "invalid charset. please check your request, if include \\uxxxx will create fail!",
    40035: "invalid parameter",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    40164: "invalid ip, not in whitelist",
    41001: "access_token missing",
    41005: "media data missing",
    42001: "access_token expired",
    43004: "require subscribe",
    44002: "empty post data",
    44004: "empty content",
    45002: "content size out of limit",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit mustslower retry next minute",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
    47003: "argument invalid!",
}

# 类目模板消息 value limits by keyword type (模板消息接口, 类目模板消息参数值内容限制说明).
_CJK = re.compile(r"[\u3400-\u9fff]")
_TIME = re.compile(
    r"^(\d{4}年\d{1,2}月\d{1,2}日 ?)?\d{1,2}:\d{2}(:\d{2})?$|^\d{4}年\d{1,2}月\d{1,2}日$"
)


def _template_value_ok(kind: str, value: str) -> bool:
    if kind in ("thing", "const"):
        return 0 < len(value) <= 20
    if kind == "character_string":
        return 0 < len(value) <= 32 and not _CJK.search(value)
    if kind == "phrase":
        return 0 < len(value) <= 5 and all(_CJK.match(c) for c in value)
    if kind == "number":
        return bool(re.fullmatch(r"\d{1,32}(\.\d+)?", value))
    if kind in ("time", "date"):
        return all(_TIME.match(part.strip()) for part in value.split("~"))
    if kind == "name":
        return 0 < len(value) <= (10 if _CJK.search(value) else 20)
    return 0 < len(value) <= 20


@dataclass
class Delivery:
    """Something the resident saw from the account."""

    seq: int
    openid: str
    channel: Channel
    kind: str  # text, image, template
    text: str = ""
    media_id: str | None = None
    template_id: str | None = None
    data: JSON = field(default_factory=dict)
    msgid: str | None = None
    at: float = 0.0


@dataclass
class Attempt:
    status: int | None  # None: no answer in time, or no connection
    outcome: str  # "timeout", "connection refused", "answered"


@dataclass
class PushResult:
    """One resident action as delivered to the bot, with every attempt WeChat made."""

    kind: str
    openid: str
    msg_id: str | None
    create_time: int
    attempts: list[Attempt]
    outcome: Literal["reply", "success", "error", "timeout"]
    reply: Delivery | None = None
    error: str | None = None

    @property
    def shown_error(self) -> bool:
        """Whether the resident saw "该公众号暂时无法提供服务，请稍后再试"."""
        return self.outcome in ("error", "timeout")


@dataclass
class _Grant:
    expires_at: float
    left: int


@dataclass
class _User:
    openid: str
    nickname: str
    followed: bool
    message_grant: _Grant | None = None
    event_grants: list[_Grant] = field(default_factory=list)


@dataclass
class _Token:
    value: str
    kind: Literal["classic", "stable"]
    expires_at: float
    dies_at: float | None = None  # superseded: dead from this moment


@dataclass
class _Media:
    media_id: str
    kind: str
    content: bytes
    content_type: str
    created_at: float


@dataclass
class _Qr:
    ticket: str
    url: str
    scene: str
    permanent: bool
    expires_at: float | None


class ApiFailure(Exception):
    def __init__(self, errcode: int, errmsg: str | None = None) -> None:
        super().__init__(errcode)
        self.errcode = errcode
        self.errmsg = errmsg or ERRMSG.get(errcode, "error")


def _rid() -> str:
    return "-".join(secrets.token_hex(4) for _ in range(3))


def _error_body(errcode: int, errmsg: str) -> JSON:
    return {"errcode": errcode, "errmsg": f"{errmsg} rid: {_rid()}"}


class FakeWeChat(LocalServer):
    """The platform for tests: serves the API, pushes resident actions to the bot.

    Use ``async with FakeWeChat(...) as fake`` (the caller's loop) or ``with FakeWeChat(...)``
    (a background thread). Point the bot's API client at :attr:`api_base_url` and set
    :attr:`bot_url` to the bot's push endpoint. Resident actions are coroutines
    (``await fake.send_text(openid, "…")``); from synchronous code use ``fake.run(coro)``.
    """

    thread_name = "fakewechat"

    def __init__(
        self,
        *,
        app_id: str = DEFAULT_APP_ID,
        app_secret: str = DEFAULT_SECRET,
        token: str = DEFAULT_TOKEN,
        encoding_aes_key: str | None = None,
        mode: Mode = "plain",
        original_id: str = DEFAULT_ORIGINAL_ID,
        bot_url: str | None = None,
        push_timeout: float = 5.0,
        push_attempts: int = 3,
        template_result_events: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        if mode != "plain" and not encoding_aes_key:
            encoding_aes_key = DEFAULT_AES_KEY
        self.app_id = app_id
        self.app_secret = app_secret
        self.token = token
        self.encoding_aes_key = encoding_aes_key
        self.mode: Mode = mode
        self.original_id = original_id
        self.bot_url = bot_url
        self.push_timeout = push_timeout
        self.push_attempts = push_attempts
        self.template_result_events = template_result_events
        self.ip_whitelisted = True

        self._users: dict[str, _User] = {}
        self._tokens: dict[str, _Token] = {}
        self._stable: _Token | None = None
        self._force_refreshes: deque[float] = deque()
        self._quota: dict[str, int] = dict(DAILY_QUOTAS)
        self._failures: dict[str, deque[ApiFailure]] = {}
        self._calls: list[JSON] = []
        self._deliveries: list[Delivery] = []
        self._pushes: list[PushResult] = []
        self._templates: dict[str, tuple[str, ...]] = {}
        self._template_sends: dict[tuple[str, str], tuple[float, str]] = {}
        self._menu: JSON | None = None
        self._qrcodes: dict[str, _Qr] = {}
        self._media: dict[str, _Media] = {}
        self._seq = 0
        self._next_msg_id = 24_000_000_000_000_000
        self._next_template_msgid = 3_000_000_000
        self._last_create_time = 0

        self._session: aiohttp.ClientSession | None = None
        self._background: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ lifecycle

    @property
    def api_base_url(self) -> str:
        """What the bot uses instead of https://api.weixin.qq.com."""
        return self.url

    async def _open(self) -> None:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        r = app.router
        r.add_get("/cgi-bin/token", self._h_token)
        r.add_post("/cgi-bin/stable_token", self._h_stable_token)
        r.add_post("/cgi-bin/message/custom/send", self._h_custom_send)
        r.add_post("/cgi-bin/message/template/send", self._h_template_send)
        r.add_post("/cgi-bin/menu/create", self._h_menu_create)
        r.add_get("/cgi-bin/menu/delete", self._h_menu_delete)
        r.add_get("/cgi-bin/menu/get", self._h_menu_get)
        r.add_post("/cgi-bin/qrcode/create", self._h_qrcode_create)
        r.add_get("/cgi-bin/media/get", self._h_media_get)
        r.add_post("/cgi-bin/media/upload", self._h_media_upload)
        r.add_get("/mmbiz/{media_id}", self._h_picurl)
        await self._serve(app, shutdown_timeout=1.0)
        self._session = aiohttp.ClientSession()

    async def _close(self) -> None:
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self._unserve()

    async def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the server's loop, whichever loop the caller is on."""
        if self._loop is None:
            coro.close()
            raise RuntimeError("FakeWeChat is not started")
        if asyncio.get_running_loop() is self._loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run a control coroutine from synchronous code (background-thread mode)."""
        if self._loop is None:
            coro.close()
            raise RuntimeError("FakeWeChat is not started")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # ------------------------------------------------------------------ notification and waits

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float = 10.0) -> T:  # noqa: ASYNC109
        """Wait until `predicate()` is truthy (re-checked on every change); return its value."""
        return await self._await(predicate, timeout, "condition not met")

    def wait_for_sync(self, predicate: Callable[[], T | None], timeout: float = 10.0) -> T:
        """:meth:`wait_for` for synchronous code."""
        return self._wait(predicate, timeout, "condition not met")

    def mark(self) -> int:
        """A position in the deliveries: pass as `since` to see only later ones."""
        with self._lock:
            return self._seq

    async def wait_for_delivery(
        self,
        openid: str,
        predicate: Callable[[Delivery], bool] | None = None,
        *,
        channel: Channel | None = None,
        since: int | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> Delivery:
        """The first delivery to `openid` after `since` that matches."""

        def check() -> Delivery | None:
            for d in self._deliveries:
                if d.openid != openid or (since is not None and d.seq <= since):
                    continue
                if channel is not None and d.channel != channel:
                    continue
                if predicate is None or predicate(d):
                    return copy.copy(d)
            return None

        return await self.wait_for(check, timeout)

    def describe(self) -> str:
        with self._lock:
            lines = ["deliveries (latest last):"]
            lines += [
                f"  #{d.seq} {d.openid} {d.channel}/{d.kind}: {d.text[:60]!r}"
                for d in self._deliveries[-12:]
            ] or ["  (none)"]
            failed = [c for c in self._calls if c.get("errcode")][-8:]
            if failed:
                lines.append("failed API calls:")
                lines += [f"  {c['api']} {c['errcode']} {c.get('errmsg', '')}" for c in failed]
            lines.append("pushes:")
            lines += [
                f"  {p.kind} {p.openid} msg_id={p.msg_id} {p.outcome} attempts={len(p.attempts)}"
                for p in self._pushes[-8:]
            ] or ["  (none)"]
            return "\n".join(lines)

    # ------------------------------------------------------------------ control: state

    def add_user(
        self, openid: str | None = None, nickname: str = "居民", *, followed: bool = True
    ) -> str:
        """A WeChat user of this account; returns the OpenID (28 characters, like WeChat's)."""
        alphabet = string.ascii_letters + string.digits + "-_"
        openid = openid or "o" + "".join(secrets.choice(alphabet) for _ in range(27))
        with self._lock:
            self._users[openid] = _User(openid, nickname, followed)
            self._changed()
        return openid

    def add_template(self, template_id: str, keys: tuple[str, ...]) -> None:
        """Register a template (as choosing one in the 公众平台 does) with its keywords."""
        with self._lock:
            self._templates[template_id] = keys

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass on the platform: tokens, windows, media and QR codes age."""
        with self._lock:
            for tok in self._tokens.values():
                tok.expires_at -= seconds
                if tok.dies_at is not None:
                    tok.dies_at -= seconds
            self._force_refreshes = deque(t - seconds for t in self._force_refreshes)
            for user in self._users.values():
                for grant in [user.message_grant, *user.event_grants]:
                    if grant is not None:
                        grant.expires_at -= seconds
            for media in self._media.values():
                media.created_at -= seconds
            for qr in self._qrcodes.values():
                if qr.expires_at is not None:
                    qr.expires_at -= seconds
            self._template_sends = {
                k: (t - seconds, m) for k, (t, m) in self._template_sends.items()
            }
            self._changed()

    def expire_tokens(self) -> None:
        """Every token issued so far expires now (the next call with one answers 42001)."""
        now = time.time()
        with self._lock:
            for tok in self._tokens.values():
                tok.expires_at = min(tok.expires_at, now - 1)

    def invalidate_tokens(self) -> None:
        """Every token issued so far dies now (40001), as after a refresh elsewhere."""
        now = time.time()
        with self._lock:
            for tok in self._tokens.values():
                tok.dies_at = now - 1
            self._stable = None

    def fail_next(self, api: str, errcode: int, errmsg: str | None = None, times: int = 1) -> None:
        """The next `times` calls of `api` (e.g. "message/custom/send") answer `errcode`."""
        with self._lock:
            queue = self._failures.setdefault(api, deque())
            queue.extend(ApiFailure(errcode, errmsg) for _ in range(times))

    def set_quota(self, api: str, remaining: int) -> None:
        """How many calls of `api` are left today (0: the next one answers 45009)."""
        with self._lock:
            self._quota[api] = remaining

    # ------------------------------------------------------------------ control: reading

    def calls(self, api: str | None = None) -> list[JSON]:
        """API calls made so far ({api, errcode, errmsg, ...}), optionally for one API."""
        with self._lock:
            return [dict(c) for c in self._calls if api is None or c["api"] == api]

    def deliveries(
        self, openid: str | None = None, channel: Channel | None = None
    ) -> list[Delivery]:
        with self._lock:
            return [
                copy.copy(d)
                for d in self._deliveries
                if (openid is None or d.openid == openid)
                and (channel is None or d.channel == channel)
            ]

    @property
    def pushes(self) -> list[PushResult]:
        with self._lock:
            return list(self._pushes)

    @property
    def menu(self) -> JSON | None:
        with self._lock:
            return copy.deepcopy(self._menu)

    def qrcode(self, url_or_ticket: str) -> _Qr:
        with self._lock:
            for qr in self._qrcodes.values():
                if url_or_ticket in (qr.url, qr.ticket):
                    return copy.copy(qr)
        raise KeyError(url_or_ticket)

    def media(self, media_id: str) -> _Media:
        with self._lock:
            return copy.copy(self._media[media_id])

    def following(self, openid: str) -> bool:
        with self._lock:
            return self._users[openid].followed

    def window_open(self, openid: str) -> bool:
        """Whether a customer-service message to `openid` would be accepted now."""
        with self._lock:
            user = self._users[openid]
            return user.followed and self._open_grant(user, time.time()) is not None

    def valid_tokens(self) -> list[str]:
        now = time.time()
        with self._lock:
            return [t.value for t in self._tokens.values() if self._token_state(t, now) is None]

    # ------------------------------------------------------------------ resident actions

    def _stamp(self) -> int:
        with self._lock:
            now = int(time.time())
            self._last_create_time = max(now, self._last_create_time + 1)
            return self._last_create_time

    def _msg_id(self) -> str:
        with self._lock:
            self._next_msg_id += 1
            return str(self._next_msg_id)

    def _store_media(self, kind: str, content: bytes, content_type: str) -> str:
        alphabet = string.ascii_letters + string.digits + "-_"
        media_id = "".join(secrets.choice(alphabet) for _ in range(64))
        with self._lock:
            self._media[media_id] = _Media(media_id, kind, content, content_type, time.time())
        return media_id

    def _grant(self, openid: str, window: tuple[float, int], *, message: bool) -> None:
        with self._lock:
            user = self._users[openid]
            grant = _Grant(time.time() + window[0], window[1])
            if message:
                user.message_grant = grant  # a new message renews the window, it does not add
            else:
                user.event_grants = [g for g in user.event_grants if g.expires_at > time.time()]
                user.event_grants.append(grant)

    def _head(self, openid: str, msg_type: str) -> tuple[list[tuple[str, object]], int]:
        create_time = self._stamp()
        return [
            ("ToUserName", self.original_id),
            ("FromUserName", openid),
            ("CreateTime", create_time),
            ("MsgType", msg_type),
        ], create_time

    def _known(self, openid: str) -> _User:
        with self._lock:
            if openid not in self._users:
                raise KeyError(f"unknown user {openid}: add_user() first")
            return self._users[openid]

    async def send_text(self, openid: str, content: str) -> PushResult:
        """The resident types `content` (接收普通消息: 文本消息)."""
        return await self._on_loop(self._message(openid, "text", [("Content", content)]))

    async def send_image(self, openid: str, content: bytes | None = None) -> PushResult:
        """The resident sends a photo: PicUrl and MediaId (图片消息)."""
        media_id = self._store_media("image", content or make_png(64, 48), "image/jpeg")
        pic_url = f"{self.url}/mmbiz/{media_id}"
        return await self._on_loop(
            self._message(openid, "image", [("PicUrl", pic_url), ("MediaId", media_id)])
        )

    async def send_voice(
        self, openid: str, recognition: str | None = None, content: bytes = b"#!AMR\n\x00\x00"
    ) -> PushResult:
        """A voice message (语音消息); Recognition only when 语音识别 is on."""
        media_id = self._store_media("voice", content, "audio/amr")
        fields: list[tuple[str, object]] = [("MediaId", media_id), ("Format", "amr")]
        if recognition is not None:
            fields.append(("Recognition", recognition))
        return await self._on_loop(self._message(openid, "voice", fields))

    async def send_video(self, openid: str, *, short: bool = False) -> PushResult:
        """A video or 小视频 (MsgType shortvideo)."""
        media_id = self._store_media("video", b"\x00\x00\x00\x18ftypmp42", "video/mp4")
        thumb = self._store_media("thumb", make_png(32, 32), "image/jpeg")
        return await self._on_loop(
            self._message(
                openid,
                "shortvideo" if short else "video",
                [("MediaId", media_id), ("ThumbMediaId", thumb)],
            )
        )

    async def send_location(
        self, openid: str, latitude: float, longitude: float, label: str = "", scale: int = 15
    ) -> PushResult:
        """A location (地理位置消息: Location_X is the latitude, Location_Y the longitude)."""
        return await self._on_loop(
            self._message(
                openid,
                "location",
                [
                    ("Location_X", latitude),
                    ("Location_Y", longitude),
                    ("Scale", scale),
                    ("Label", label),
                ],
            )
        )

    async def send_link(self, openid: str, title: str, description: str, url: str) -> PushResult:
        """A shared link (链接消息)."""
        return await self._on_loop(
            self._message(
                openid, "link", [("Title", title), ("Description", description), ("Url", url)]
            )
        )

    async def follow(self, openid: str, scene: str | None = None) -> PushResult:
        """The resident follows the account, through a parametric QR code when `scene` is set."""
        return await self._on_loop(self._follow(openid, scene))

    async def unfollow(self, openid: str) -> PushResult:
        """The resident unfollows (the push is sent; no reply reaches them)."""
        return await self._on_loop(self._unfollow(openid))

    async def scan(self, openid: str, url_or_ticket: str) -> PushResult:
        """The resident scans a QR code the bot created: SCAN if following, else a follow."""
        qr = self.qrcode(url_or_ticket)
        if qr.expires_at is not None and qr.expires_at <= time.time():
            raise ValueError("that temporary QR code has expired")
        if self._known(openid).followed:
            return await self._on_loop(
                self._event(openid, "SCAN", qr.scene, extra=[("Ticket", qr.ticket)])
            )
        return await self.follow(openid, scene=qr.scene)

    async def scan_scene(self, openid: str, scene: str) -> PushResult:
        """The resident scans the station's printed code for `scene` (made here if the bot has not)."""
        with self._lock:
            qr = next((q for q in self._qrcodes.values() if q.scene == scene and q.permanent), None)
            if qr is None:
                ticket = "gQ" + secrets.token_urlsafe(72)
                qr = _Qr(
                    ticket,
                    "http://weixin.qq.com/q/" + secrets.token_urlsafe(22)[:22],
                    scene,
                    True,
                    None,
                )
                self._qrcodes[ticket] = qr
        return await self.scan(openid, qr.url)

    async def click(self, openid: str, key: str) -> PushResult:
        """A click-type menu button (自定义菜单事件 CLICK)."""
        return await self._on_loop(self._event(openid, "CLICK", key))

    async def view(self, openid: str, url: str) -> PushResult:
        """A view-type menu button (VIEW: the page opens; any reply is ignored)."""
        return await self._on_loop(self._event(openid, "VIEW", url, grant=False))

    async def _message(
        self, openid: str, msg_type: str, fields: list[tuple[str, object]]
    ) -> PushResult:
        user = self._known(openid)
        if not user.followed:
            raise ValueError(f"{openid} does not follow the account: follow() first")
        head, create_time = self._head(openid, msg_type)
        msg_id = self._msg_id()
        self._grant(openid, MESSAGE_WINDOW, message=True)
        return await self._push(
            openid, msg_type, [*head, *fields, ("MsgId", msg_id)], msg_id, create_time
        )

    async def _follow(self, openid: str, scene: str | None) -> PushResult:
        with self._lock:
            if openid not in self._users:
                self._users[openid] = _User(openid, "居民", followed=False)
            self._users[openid].followed = True
        extra: list[tuple[str, object]] = []
        key = None
        if scene is not None:
            key = "qrscene_" + scene
            extra.append(("Ticket", self.qrcode_for_scene(scene)))
        return await self._event(openid, "subscribe", key, extra=extra)

    def qrcode_for_scene(self, scene: str) -> str:
        with self._lock:
            for qr in self._qrcodes.values():
                if qr.scene == scene:
                    return qr.ticket
        return "gQ" + secrets.token_urlsafe(40)

    async def _unfollow(self, openid: str) -> PushResult:
        with self._lock:
            user = self._known(openid)
            user.followed = False
            user.message_grant = None
            user.event_grants = []
        return await self._event(openid, "unsubscribe", None, grant=False)

    async def _event(
        self,
        openid: str,
        event: str,
        key: str | None,
        *,
        extra: list[tuple[str, object]] | None = None,
        grant: bool = True,
    ) -> PushResult:
        head, create_time = self._head(openid, "event")
        fields: list[tuple[str, object]] = [*head, ("Event", event)]
        if key is not None:
            fields.append(("EventKey", key))
        fields += extra or []
        if grant and event != "unsubscribe":
            self._grant(openid, EVENT_WINDOW, message=False)
        return await self._push(openid, f"event:{event}", fields, None, create_time)

    # ------------------------------------------------------------------ pushing

    def _signed_request(self, document: bytes) -> tuple[dict[str, str], bytes]:
        timestamp = str(int(time.time()))
        nonce = str(secrets.randbelow(10**10))
        params = {
            "signature": sha1_signature(self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
        }
        if self.mode == "plain":
            return params, document
        assert self.encoding_aes_key is not None
        encrypted = encrypt(document, self.encoding_aes_key, self.app_id)
        params["encrypt_type"] = "aes"
        params["msg_signature"] = sha1_signature(self.token, timestamp, nonce, encrypted)
        if self.mode == "safe":
            body = to_xml([("ToUserName", self.original_id), ("Encrypt", encrypted)])
        else:  # compatible: the plaintext fields and the ciphertext, about 3x the size
            body = (
                document[: -len(b"</xml>")]
                + f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
            )
        return params, body

    async def _push(
        self,
        openid: str,
        kind: str,
        fields: list[tuple[str, object]],
        msg_id: str | None,
        create_time: int,
    ) -> PushResult:
        if self.bot_url is None:
            raise RuntimeError("set fake.bot_url to the bot's push endpoint first")
        assert self._session is not None
        document = to_xml(fields)
        result = PushResult(kind, openid, msg_id, create_time, [], "timeout")
        for _ in range(self.push_attempts):
            params, body = self._signed_request(document)  # each attempt is a fresh request
            try:
                async with self._session.post(
                    self.bot_url,
                    params={**params, "openid": openid},
                    data=body,
                    headers={"Content-Type": "text/xml"},
                    timeout=aiohttp.ClientTimeout(total=self.push_timeout),
                ) as resp:
                    status, answer = resp.status, await resp.read()
            except TimeoutError:
                result.attempts.append(Attempt(None, "timeout"))
                self._record_push(result)
                continue
            except aiohttp.ClientError as exc:
                result.attempts.append(Attempt(None, f"connection: {exc}"))
                self._record_push(result)
                continue
            result.attempts.append(Attempt(status, "answered"))
            self._read_answer(result, status, answer, params)
            break
        self._record_push(result)
        return result

    def _record_push(self, result: PushResult) -> None:
        with self._lock:
            if result not in self._pushes:
                self._pushes.append(result)
            self._changed()

    def _read_answer(
        self, result: PushResult, status: int, answer: bytes, params: dict[str, str]
    ) -> None:
        if status != 200:
            result.outcome, result.error = "error", f"HTTP {status}"
            return
        if answer.strip() in (b"", b"success"):
            result.outcome = "success"
            return
        try:
            fields = from_xml(answer)
            if "Encrypt" in fields:
                if self.encoding_aes_key is None:
                    raise ValueError("an encrypted reply in plain mode")
                encrypted = str(fields["Encrypt"])
                expected = sha1_signature(
                    self.token,
                    str(fields.get("TimeStamp", "")),
                    str(fields.get("Nonce", "")),
                    encrypted,
                )
                if fields.get("MsgSignature") != expected:
                    raise ValueError("reply MsgSignature does not match")
                inner, app_id = decrypt(encrypted, self.encoding_aes_key)
                if app_id != self.app_id:
                    raise ValueError("reply encrypted for another AppID")
                fields = from_xml(inner)
            elif self.mode == "safe":
                raise ValueError("a plain reply in safe mode")
            if (
                fields.get("ToUserName") != result.openid
                or fields.get("FromUserName") != self.original_id
            ):
                raise ValueError("reply addressed wrongly")
            if not str(fields.get("CreateTime", "")).isdigit():
                raise ValueError("reply CreateTime is not an integer")
            msg_type = fields.get("MsgType")
            if msg_type == "text":
                content = str(fields.get("Content", ""))
                if len(content.encode()) > MAX_TEXT_BYTES:
                    raise ValueError("reply text too long")
                delivery = self._deliver(result.openid, "passive", "text", text=content)
            elif msg_type == "image":
                image = fields.get("Image")
                media_id = image.get("MediaId") if isinstance(image, dict) else None
                if not media_id or media_id not in self._media:
                    raise ValueError("reply image has no valid MediaId")
                delivery = self._deliver(result.openid, "passive", "image", media_id=str(media_id))
            else:
                raise ValueError(f"reply MsgType {msg_type!r} not handled by the fake")
        except (ValueError, KeyError) as exc:  # WeChat shows "该公众号暂时无法提供服务"
            result.outcome, result.error = "error", str(exc)
            return
        result.outcome, result.reply = "reply", delivery

    def _deliver(self, openid: str, channel: Channel, kind: str, **fields: Any) -> Delivery:
        with self._lock:
            self._seq += 1
            delivery = Delivery(self._seq, openid, channel, kind, at=time.time(), **fields)
            self._deliveries.append(delivery)
            self._changed()
            return delivery

    async def post_raw(
        self, params: dict[str, str], body: bytes, method: str = "POST"
    ) -> tuple[int, bytes]:
        """Send the bot's endpoint exactly this request (forged signatures, odd bodies)."""
        return await self._on_loop(self._post_raw(params, body, method))

    async def _post_raw(
        self, params: dict[str, str], body: bytes, method: str
    ) -> tuple[int, bytes]:
        assert self._session is not None and self.bot_url is not None
        async with self._session.request(method, self.bot_url, params=params, data=body) as resp:
            return resp.status, await resp.read()

    async def verify_url(self) -> tuple[int, str, str]:
        """What 服务器配置 → 提交 does: GET with signature, timestamp, nonce, echostr.

        Returns (status, body, echostr sent); WeChat accepts the URL if body == echostr.
        """
        timestamp = str(int(time.time()))
        nonce = str(secrets.randbelow(10**10))
        echostr = str(secrets.randbelow(10**19))
        params = {
            "signature": sha1_signature(self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": echostr,
        }
        status, body = await self.post_raw(params, b"", method="GET")
        return status, body.decode(errors="replace"), echostr

    # ------------------------------------------------------------------ API plumbing

    def _token_state(self, tok: _Token, now: float) -> int | None:
        if tok.dies_at is not None and tok.dies_at <= now:
            return 40001
        if tok.expires_at <= now:
            return 42001
        return None

    def _begin(self, api: str, request: web.Request, *, auth: bool = True) -> None:
        """Token check, injected failures, daily quota; raises ApiFailure."""
        with self._lock:
            if auth:
                token = request.query.get("access_token")
                if not token:
                    raise ApiFailure(41001)
                tok = self._tokens.get(token)
                if tok is None:
                    raise ApiFailure(
                        40001 if re.fullmatch(r"[0-9]{2,3}_[A-Za-z0-9_-]{40,}", token) else 40014
                    )
                state = self._token_state(tok, time.time())
                if state is not None:
                    raise ApiFailure(state)
            queue = self._failures.get(api)
            if queue:
                raise queue.popleft()
            left = self._quota.get(api)
            if left is not None:
                if left <= 0:
                    raise ApiFailure(45009)
                self._quota[api] = left - 1

    def _log(self, api: str, errcode: int = 0, errmsg: str = "ok", **extra: Any) -> None:
        with self._lock:
            self._calls.append({"api": api, "errcode": errcode, "errmsg": errmsg, **extra})
            self._changed()

    def _fail(self, api: str, failure: ApiFailure) -> web.Response:
        self._log(api, failure.errcode, failure.errmsg)
        return web.json_response(_error_body(failure.errcode, failure.errmsg))

    async def _json_body(self, request: web.Request) -> JSON:
        raw = await request.read()
        if not raw:
            raise ApiFailure(44002)
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ApiFailure(47001) from None
        if not isinstance(value, dict):
            raise ApiFailure(47001)
        return value

    def _new_token(self, kind: Literal["classic", "stable"]) -> _Token:
        value = f"{secrets.randbelow(90) + 10}_" + secrets.token_urlsafe(96)[:128]
        tok = _Token(value, kind, time.time() + TOKEN_TTL)
        self._tokens[value] = tok
        return tok

    def _check_credentials(self, appid: str | None, secret: str | None) -> None:
        if not self.ip_whitelisted:
            raise ApiFailure(40164, "invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist")
        if appid != self.app_id:
            raise ApiFailure(40013)
        if secret != self.app_secret:
            raise ApiFailure(40125)

    # ------------------------------------------------------------------ API handlers

    async def _h_token(self, request: web.Request) -> web.Response:
        """GET /cgi-bin/token → {"access_token","expires_in":7200} (获取Access token).

        Every call issues a new token; the previous one keeps working for 5 minutes.
        """
        api = "token"
        try:
            q = request.query
            if q.get("grant_type") != "client_credential":
                raise ApiFailure(40002, "invalid grant_type")
            self._check_credentials(q.get("appid"), q.get("secret"))
            self._begin(api, request, auth=False)
            with self._lock:
                now = time.time()
                for tok in self._tokens.values():
                    if tok.kind == "classic" and tok.dies_at is None:
                        tok.dies_at = now + TOKEN_OVERLAP
                tok = self._new_token("classic")
        except ApiFailure as failure:
            return self._fail(api, failure)
        self._log(api)
        return web.json_response({"access_token": tok.value, "expires_in": int(TOKEN_TTL)})

    async def _h_stable_token(self, request: web.Request) -> web.Response:
        """POST /cgi-bin/stable_token {grant_type, appid, secret, force_refresh} (getStableAccessToken).

        Normal mode returns the current token and renews it in its last 5 minutes (old and new
        both work until the old one expires); force_refresh kills the old token at once, 20 a
        day, and within 30 s of the last one it returns the current token unchanged.
        """
        api = "stable_token"
        try:
            body = await self._json_body(request)
            if body.get("grant_type") != "client_credential":
                raise ApiFailure(40002, "invalid grant_type")
            self._check_credentials(body.get("appid"), body.get("secret"))
            self._begin(api, request, auth=False)
            force = body.get("force_refresh") is True
            with self._lock:
                now = time.time()
                current = self._stable
                if current is not None and self._token_state(current, now) is not None:
                    current = None
                if force:
                    recent = [t for t in self._force_refreshes if t > now - 86400]
                    if len(recent) >= STABLE_FORCE_PER_DAY:
                        raise ApiFailure(45009)
                    if current is not None and recent and now - recent[-1] < STABLE_FORCE_INTERVAL:
                        tok = current
                    else:
                        if current is not None:
                            current.dies_at = now
                        tok = self._new_token("stable")
                        self._force_refreshes.append(now)
                elif current is None or current.expires_at - now <= TOKEN_OVERLAP:
                    tok = self._new_token("stable")
                else:
                    tok = current
                self._stable = tok
                expires_in = int(tok.expires_at - now)
        except ApiFailure as failure:
            return self._fail(api, failure)
        self._log(api, force_refresh=force)
        return web.json_response({"access_token": tok.value, "expires_in": expires_in})

    def _open_grant(self, user: _User, now: float) -> _Grant | None:
        grants = [
            g
            for g in [user.message_grant, *user.event_grants]
            if g is not None and g.expires_at > now
        ]
        if not grants:
            return None
        usable = [g for g in grants if g.left > 0]
        if not usable:
            return _Grant(0, 0)  # open but used up
        return min(usable, key=lambda g: g.expires_at)

    async def _h_custom_send(self, request: web.Request) -> web.Response:
        """POST /cgi-bin/message/custom/send → {"errcode":0,"errmsg":"ok"} (客服接口-发消息)."""
        api = "message/custom/send"
        try:
            self._begin(api, request)
            body = await self._json_body(request)
            with self._lock:
                openid = str(body.get("touser", ""))
                user = self._users.get(openid)
                if user is None:
                    raise ApiFailure(40003)
                if not user.followed:
                    raise ApiFailure(45015)
                grant = self._open_grant(user, time.time())
                if grant is None:
                    raise ApiFailure(45015)
                if grant.left <= 0:
                    raise ApiFailure(45047)
                msgtype = body.get("msgtype")
                if msgtype == "text":
                    content = str((body.get("text") or {}).get("content", ""))
                    if not content:
                        raise ApiFailure(44004)
                    if len(content.encode()) > MAX_TEXT_BYTES:
                        raise ApiFailure(45002)
                    fields: JSON = {"kind": "text", "text": content}
                elif msgtype == "image":
                    media_id = str((body.get("image") or {}).get("media_id", ""))
                    media = self._media.get(media_id)
                    if media is None or media.created_at + MEDIA_TTL <= time.time():
                        raise ApiFailure(40007)
                    fields = {"kind": "image", "media_id": media_id}
                else:
                    raise ApiFailure(40008)
                grant.left -= 1
                self._deliver(openid, "custom", **fields)
        except ApiFailure as failure:
            return self._fail(api, failure)
        self._log(api, touser=openid)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _h_template_send(self, request: web.Request) -> web.Response:
        """POST /cgi-bin/message/template/send → {"errcode":0,"errmsg":"ok","msgid":…} (发送模板消息).

        Then, like WeChat, pushes a TEMPLATESENDJOBFINISH event with Status "success".
        """
        api = "message/template/send"
        try:
            self._begin(api, request)
            body = await self._json_body(request)
            with self._lock:
                template_id = str(body.get("template_id", ""))
                keys = self._templates.get(template_id)
                if keys is None:
                    raise ApiFailure(40037)
                openid = str(body.get("touser", ""))
                user = self._users.get(openid)
                if user is None:
                    raise ApiFailure(40003)
                if not user.followed:
                    raise ApiFailure(43004)
                data = body.get("data")
                if not isinstance(data, dict):
                    raise ApiFailure(47001)
                values: dict[str, str] = {}
                for key in keys:
                    entry = data.get(key)
                    value = entry.get("value") if isinstance(entry, dict) else None
                    kind = re.sub(r"\d+$", "", key)
                    if not isinstance(value, str) or not _template_value_ok(kind, value):
                        raise ApiFailure(47003, f"argument invalid! data.{key}.value invalid")
                    values[key] = value
                client_msg_id = body.get("client_msg_id")
                now = time.time()
                if client_msg_id:
                    earlier = self._template_sends.get((openid, str(client_msg_id)))
                    if earlier is not None and earlier[0] > now - 600:
                        self._log(api, touser=openid, duplicate=True)
                        return web.json_response(
                            {"errcode": 0, "errmsg": "ok", "msgid": int(earlier[1])}
                        )
                self._next_template_msgid += 1
                msgid = str(self._next_template_msgid)
                if client_msg_id:
                    self._template_sends[(openid, str(client_msg_id))] = (now, msgid)
                self._deliver(
                    openid,
                    "template",
                    "template",
                    text="\n".join(f"{k}: {v}" for k, v in values.items()),
                    template_id=template_id,
                    data=values,
                    msgid=msgid,
                )
        except ApiFailure as failure:
            return self._fail(api, failure)
        self._log(api, touser=openid, msgid=msgid)
        if self.template_result_events and self.bot_url is not None:
            task = asyncio.ensure_future(self._template_finished(openid, msgid))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": int(msgid)})

    async def _template_finished(self, openid: str, msgid: str) -> None:
        head, create_time = self._head(openid, "event")
        fields = [
            *head,
            ("Event", "TEMPLATESENDJOBFINISH"),
            ("MsgID", msgid),
            ("Status", "success"),
        ]
        await self._push(openid, "event:TEMPLATESENDJOBFINISH", fields, None, create_time)

    async def _h_menu_create(self, request: web.Request) -> web.Response:
        """POST /cgi-bin/menu/create {"button": […]} → {"errcode":0,"errmsg":"ok"} (创建接口)."""
        api = "menu/create"
        try:
            self._begin(api, request)
            raw = await request.read()
            if re.search(rb"\\u[0-9a-fA-F]{4}", raw):
                raise ApiFailure(40033)
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise ApiFailure(47001) from None
            buttons = body.get("button") if isinstance(body, dict) else None
            if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
                raise ApiFailure(40016)
            for button in buttons:
                if len(str(button.get("name", "")).encode()) > 16 or not button.get("name"):
                    raise ApiFailure(40018)
                subs = button.get("sub_button")
                if subs is not None:
                    if not isinstance(subs, list) or not 1 <= len(subs) <= 5:
                        raise ApiFailure(40023)
                    for sub in subs:
                        if len(str(sub.get("name", "")).encode()) > 60 or not sub.get("name"):
                            raise ApiFailure(40025)
                        self._check_button(sub)
                else:
                    self._check_button(button)
            with self._lock:
                self._menu = body
        except ApiFailure as failure:
            return self._fail(api, failure)
        self._log(api)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    @staticmethod
    def _check_button(button: JSON) -> None:
        kind = button.get("type")
        if kind == "click":
            if not button.get("key") or len(str(button["key"]).encode()) > 128:
                raise ApiFailure(40019)
        elif kind == "view":
            if not button.get("url") or len(str(button["url"]).encode()) > 1024:
                raise ApiFailure(40020)
        elif kind not in (
            "scancode_push",
            "scancode_waitmsg",
            "pic_sysphoto",
            "pic_photo_or_album",
            "pic_weixin",
            "location_select",
            "media_id",
            "article_id",
            "article_view_limited",
            "miniprogram",
        ):
            raise ApiFailure(40017)

    async def _h_menu_delete(self, request: web.Request) -> web.Response:
        """GET /cgi-bin/menu/delete → {"errcode":0,"errmsg":"ok"} (删除接口)."""
        api = "menu/delete"
        try:
            self._begin(api, request)
        except ApiFailure as failure:
            return self._fail(api, failure)
        with self._lock:
            self._menu = None
        self._log(api)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _h_menu_get(self, request: web.Request) -> web.Response:
        """GET /cgi-bin/menu/get → {"menu": {"button": […]}} or 46003 "menu no exist"."""
        api = "menu/get"
        try:
            self._begin(api, request)
            with self._lock:
                if self._menu is None:
                    raise ApiFailure(46003, "menu no exist")
                menu = copy.deepcopy(self._menu)
        except ApiFailure as failure:
            return self._fail(api, failure)
        self._log(api)
        return web.json_response({"menu": menu})

    async def _h_qrcode_create(self, request: web.Request) -> web.Response:
        """POST /cgi-bin/qrcode/create → {"ticket","expire_seconds","url"} (生成带参数的二维码).

        Permanent codes answer without expire_seconds; temporary ones default to 60 s and last
        at most 2,592,000 s. The url is http://weixin.qq.com/q/… (the code's content).
        """
        api = "qrcode/create"
        try:
            self._begin(api, request)
            body = await self._json_body(request)
            action = body.get("action_name")
            scene_info = (body.get("action_info") or {}).get("scene") or {}
            if action in ("QR_LIMIT_STR_SCENE", "QR_STR_SCENE"):
                scene = scene_info.get("scene_str")
                if not isinstance(scene, str) or not 1 <= len(scene) <= 64:
                    raise ApiFailure(40035)
            elif action in ("QR_LIMIT_SCENE", "QR_SCENE"):
                scene_id = scene_info.get("scene_id")
                if not isinstance(scene_id, int) or scene_id <= 0:
                    raise ApiFailure(40035)
                if action == "QR_LIMIT_SCENE" and scene_id > 100_000:
                    raise ApiFailure(40035)
                scene = str(scene_id)
            else:
                raise ApiFailure(40035)
            permanent = action.startswith("QR_LIMIT")
            with self._lock:
                if permanent:
                    for qr in self._qrcodes.values():  # the same scene gives the same code
                        if qr.permanent and qr.scene == scene:
                            self._log(api, scene=scene)
                            return web.json_response({"ticket": qr.ticket, "url": qr.url})
                    if sum(q.permanent for q in self._qrcodes.values()) >= PERMANENT_QR_LIMIT:
                        raise ApiFailure(45009)
                seconds = (
                    None
                    if permanent
                    else min(max(int(body.get("expire_seconds") or 60), 1), 2_592_000)
                )
                ticket = "gQ" + secrets.token_urlsafe(72)
                url = "http://weixin.qq.com/q/" + secrets.token_urlsafe(22)[:22]
                self._qrcodes[ticket] = _Qr(
                    ticket,
                    url,
                    scene,
                    permanent,
                    None if seconds is None else time.time() + seconds,
                )
        except ApiFailure as failure:
            return self._fail(api, failure)
        self._log(api, scene=scene)
        answer: JSON = {"ticket": ticket, "url": url}
        if seconds is not None:
            answer = {"ticket": ticket, "expire_seconds": seconds, "url": url}
        return web.json_response(answer)

    async def _h_media_get(self, request: web.Request) -> web.StreamResponse:
        """GET /cgi-bin/media/get?media_id → the file, {"video_url"} for videos, or 40007.

        Headers as the doc shows: Content-Type, Content-disposition: attachment;
        filename="MEDIA_ID.jpg", Cache-Control: no-cache, must-revalidate.
        """
        api = "media/get"
        try:
            self._begin(api, request)
            with self._lock:
                media = self._media.get(request.query.get("media_id", ""))
                if media is None or media.created_at + MEDIA_TTL <= time.time():
                    raise ApiFailure(40007)
        except ApiFailure as failure:
            return self._fail(api, failure)
        self._log(api, media_id=media.media_id)
        if media.kind == "video":
            return web.json_response({"video_url": f"{self.url}/mmbiz/{media.media_id}"})
        extension = {"image/jpeg": "jpg", "audio/amr": "amr"}.get(media.content_type, "bin")
        return web.Response(
            body=media.content,
            headers={
                "Content-Type": media.content_type,
                "Content-disposition": f'attachment; filename="{media.media_id}.{extension}"',
                "Cache-Control": "no-cache, must-revalidate",
            },
        )

    async def _h_media_upload(self, request: web.Request) -> web.Response:
        """POST /cgi-bin/media/upload?type=image, multipart field "media" (新增临时素材).

        → {"type":"image","media_id":…,"created_at":…}; 40004 for another type, 41005 without
        a file, 40009 for an image over 2 MB.
        """
        api = "media/upload"
        try:
            self._begin(api, request)
            kind = request.query.get("type", "")
            if kind not in ("image", "voice", "video", "thumb"):
                raise ApiFailure(40004)
            content = b""
            content_type = "application/octet-stream"
            if request.content_type.startswith("multipart/"):
                reader = await request.multipart()
                async for part in reader:
                    if isinstance(part, aiohttp.BodyPartReader) and part.name == "media":
                        content = bytes(await part.read())
                        content_type = part.headers.get("Content-Type", content_type)
            if not content:
                raise ApiFailure(41005)
            if kind == "image" and len(content) > MAX_IMAGE_BYTES:
                raise ApiFailure(40009)
            media_id = self._store_media(kind, content, content_type)
            created = int(self._media[media_id].created_at)
        except ApiFailure as failure:
            return self._fail(api, failure)
        self._log(api, media_id=media_id)
        return web.json_response({"type": kind, "media_id": media_id, "created_at": created})

    async def _h_picurl(self, request: web.Request) -> web.Response:
        """The PicUrl host (mmbiz.qpic.cn in real life): the picture, no token needed."""
        with self._lock:
            media = self._media.get(request.match_info["media_id"])
        if media is None:
            return web.Response(status=404)
        return web.Response(body=media.content, content_type=media.content_type)
