"""Calls to the official-account API over aiohttp, with the shared access_token.

Every call carries `access_token` as a query parameter; an invalid-token answer (40001, 40014,
42001) renews the token through the shared store and repeats the call once. Sends return a
`SendResult` (never raise); the administrative calls (menu, QR code, media) raise `WeChatError`.

Request and answer shapes, with their doc pages (developers.weixin.qq.com/doc/offiaccount/…):
- token: GET /cgi-bin/token?grant_type=client_credential&appid&secret → {access_token,
  expires_in} (Basic_Information/Get_access_token.html); stable: POST /cgi-bin/stable_token
  {grant_type, appid, secret, force_refresh} → same (Basic_Information/getStableAccessToken.html)
- customer service: POST /cgi-bin/message/custom/send {touser, msgtype: text, text: {content}}
  or {msgtype: image, image: {media_id}} → {errcode: 0, errmsg: "ok"}
  (Message_Management/Service_Center_messages.html)
- template: POST /cgi-bin/message/template/send {touser, template_id, url?, data:
  {key: {value}}, client_msg_id?} → {errcode: 0, errmsg: "ok", msgid}
  (Message_Management/Template_Message_Interface.html)
- menu: POST /cgi-bin/menu/create {button: […]}, GET /cgi-bin/menu/delete → {errcode: 0}
- QR code: POST /cgi-bin/qrcode/create {expire_seconds?, action_name, action_info: {scene:
  {scene_str}}} → {ticket, expire_seconds?, url} (Account_Management/Generating_a_Parametric_QR_Code.html)
- media: GET /cgi-bin/media/get?media_id → the file (Content-disposition names it), or
  {video_url} for a video, or an error JSON; POST /cgi-bin/media/upload?type=image multipart
  field "media" → {type, media_id, created_at} (Asset_Management/…Temporary_Materials)
JSON bodies go out as UTF-8 text, never with \\uXXXX escapes (errcode 40033 refuses those).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

from domain.clock import Clock, SystemClock
from handlers.wechat.config import WeChatConfig
from handlers.wechat.menu import Menu
from handlers.wechat.outcomes import INVALID_TOKEN, SendResult, outcome_for
from handlers.wechat.tokens import AccessToken, AccessTokens, TokenError, TokenStore
from scheduler.delivery import Delivered, Retry

log = logging.getLogger(__name__)

MediaKind = Literal["image", "voice", "video", "thumb"]
_FILENAME_RE = re.compile(r'filename="?([^";]+)"?')


class WeChatError(Exception):
    """A non-zero errcode from an administrative call (menu, QR code, media)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"wechat {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass(frozen=True)
class QrTicket:
    ticket: str
    url: str  # what the code encodes: draw it with handlers.wechat.qr.qr_png
    expire_seconds: int | None  # None: permanent (QR_LIMIT_STR_SCENE)


@dataclass(frozen=True)
class Media:
    content: bytes
    content_type: str
    filename: str | None


@dataclass(frozen=True)
class VideoLink:
    """media/get answers a video with a download URL instead of the bytes."""

    url: str


@dataclass(frozen=True)
class UploadedMedia:
    media_id: str
    kind: str
    created_at: int


@dataclass(frozen=True)
class _File:
    content: bytes
    content_type: str
    disposition: str


def _dumps(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class WeChatApi:
    """One account's API client. Share the TokenStore (not the client) between instances."""

    def __init__(
        self,
        config: WeChatConfig,
        store: TokenStore,
        *,
        session: aiohttp.ClientSession | None = None,
        clock: Clock | None = None,
        holder: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.config = config
        self._base = config.api_base_url.rstrip("/")
        self._clock = clock or SystemClock()
        self._own_session = session is None
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.tokens = AccessTokens(
            config.app_id, store, self._fetch_token, clock=self._clock, holder=holder
        )

    async def __aenter__(self) -> WeChatApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    # ------------------------------------------------------------------ token

    async def _fetch_token(self, force: bool) -> AccessToken:
        """Ask WeChat for a token (only ever called by the lease holder, see tokens.py)."""
        cfg = self.config
        try:
            if cfg.token_api == "stable":
                body: dict[str, Any] = {
                    "grant_type": "client_credential",
                    "appid": cfg.app_id,
                    "secret": cfg.app_secret,
                }
                if force:
                    body["force_refresh"] = True
                async with self._http().post(
                    self._base + "/cgi-bin/stable_token",
                    data=_dumps(body),
                    headers={"Content-Type": "application/json"},
                ) as resp:
                    answer = await self._json(resp)
            else:
                params = {
                    "grant_type": "client_credential",
                    "appid": cfg.app_id,
                    "secret": cfg.app_secret,
                }
                async with self._http().get(self._base + "/cgi-bin/token", params=params) as resp:
                    answer = await self._json(resp)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TokenError(None, f"network: {exc!r}") from exc
        if answer.get("errcode") or "access_token" not in answer:
            raise TokenError(int(answer.get("errcode", -1)), str(answer.get("errmsg", "")))
        expires_in = float(answer.get("expires_in", 7200))
        log.info("wechat: fetched an access_token (%s), valid %.0fs", cfg.token_api, expires_in)
        return AccessToken(str(answer["access_token"]), self._clock.now().timestamp() + expires_in)

    async def access_token(self) -> str:
        """The shared token (fetched or renewed as needed)."""
        return await self.tokens.get()

    # ------------------------------------------------------------------ plumbing

    @staticmethod
    async def _json(resp: aiohttp.ClientResponse) -> dict[str, Any]:
        raw = await resp.read()
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return {"errcode": -1, "errmsg": f"HTTP {resp.status}: not JSON"}
        if not isinstance(value, dict):
            return {"errcode": -1, "errmsg": f"HTTP {resp.status}: unexpected JSON"}
        return value

    async def _call(
        self,
        method: str,
        path: str,
        *,
        payload: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        raw: bool = False,
    ) -> dict[str, Any] | _File:
        """One call with the token; renews it once on 40001/40014/42001.

        Returns the JSON answer; with `raw`, a non-JSON answer (a file) comes back as _File.
        Raises WeChatError on a non-zero errcode, TokenError, or aiohttp errors.
        """
        for attempt in (1, 2):
            token = await self.tokens.get()
            query = {**(params or {}), "access_token": token}
            kwargs: dict[str, Any] = {"params": query}
            if payload is not None:
                kwargs["data"] = _dumps(payload)
                kwargs["headers"] = {"Content-Type": "application/json"}
            elif form is not None:
                kwargs["data"] = form()  # a FormData is spent once sent: build one per attempt
            async with self._http().request(method, self._base + path, **kwargs) as resp:
                ctype = resp.headers.get("Content-Type", "")
                if raw and "json" not in ctype and "text/plain" not in ctype:
                    return _File(
                        await resp.read(), ctype, resp.headers.get("Content-disposition", "")
                    )
                answer = await self._json(resp)
            errcode = int(answer.get("errcode", 0) or 0)
            if errcode in INVALID_TOKEN and attempt == 1:
                log.info("wechat: token refused (%s); renewing", errcode)
                await self.tokens.renew(token)
                continue
            if errcode:
                raise WeChatError(errcode, str(answer.get("errmsg", "")))
            return answer
        raise AssertionError("unreachable")

    async def _send(self, path: str, payload: Mapping[str, Any]) -> SendResult:
        try:
            answer = await self._call("POST", path, payload=payload)
        except WeChatError as exc:
            return outcome_for(exc.errcode, exc.errmsg)
        except TokenError as exc:
            return Retry(
                300.0 if exc.errcode else 10.0, f"wechat token: {exc.errcode} {exc.errmsg}"
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Retry(5.0, f"wechat network: {exc!r}")
        assert isinstance(answer, dict)
        return Delivered(str(answer.get("msgid", "")))

    # ------------------------------------------------------------------ sending

    async def send_text(self, openid: str, content: str) -> SendResult:
        """A customer-service text (客服消息): only inside the resident's window."""
        return await self._send(
            "/cgi-bin/message/custom/send",
            {"touser": openid, "msgtype": "text", "text": {"content": content}},
        )

    async def send_image(self, openid: str, media_id: str) -> SendResult:
        """A customer-service image, uploaded before with :meth:`upload_media`."""
        return await self._send(
            "/cgi-bin/message/custom/send",
            {"touser": openid, "msgtype": "image", "image": {"media_id": media_id}},
        )

    async def send_template(
        self,
        openid: str,
        template_id: str,
        data: Mapping[str, Mapping[str, str]],
        *,
        url: str | None = None,
        client_msg_id: str | None = None,
    ) -> SendResult:
        """A template message (模板消息): outside the window too; Delivered carries WeChat's msgid.

        `client_msg_id` makes WeChat drop a second send with the same id for ten minutes: pass
        the outbox row's key so a retry after a lost answer is not delivered twice.
        """
        payload: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": data}
        if url:
            payload["url"] = url
        if client_msg_id:
            payload["client_msg_id"] = client_msg_id[:64]
        return await self._send("/cgi-bin/message/template/send", payload)

    # ------------------------------------------------------------------ administration

    async def create_menu(self, menu: Menu) -> None:
        """Install the custom menu (replaces the current one; clients see it within minutes)."""
        problems = menu.problems()
        if problems:
            raise ValueError("; ".join(problems))
        await self._call("POST", "/cgi-bin/menu/create", payload=menu.as_json())

    async def delete_menu(self) -> None:
        await self._call("GET", "/cgi-bin/menu/delete")

    async def create_qrcode(self, scene: str, *, expire_seconds: int | None = None) -> QrTicket:
        """A parametric QR code for `scene` (1–64 chars): permanent unless `expire_seconds`.

        Permanent codes (QR_LIMIT_STR_SCENE) are limited to 100,000 per account; temporary ones
        (QR_STR_SCENE) live at most 2,592,000 s (30 days).
        """
        if not 1 <= len(scene) <= 64:
            raise ValueError("a scene string has 1 to 64 characters")
        payload: dict[str, Any] = {
            "action_name": "QR_LIMIT_STR_SCENE" if expire_seconds is None else "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene}},
        }
        if expire_seconds is not None:
            payload["expire_seconds"] = min(max(expire_seconds, 60), 2_592_000)
        answer = await self._call("POST", "/cgi-bin/qrcode/create", payload=payload)
        assert isinstance(answer, dict)
        expires = answer.get("expire_seconds")
        return QrTicket(
            ticket=str(answer["ticket"]),
            url=str(answer["url"]),
            expire_seconds=int(expires) if expires is not None else None,
        )

    async def download_media(self, media_id: str) -> Media | VideoLink:
        """A resident's photo or voice by media_id (kept 3 days by WeChat), for staff."""
        answer = await self._call(
            "GET", "/cgi-bin/media/get", params={"media_id": media_id}, raw=True
        )
        if isinstance(answer, dict):
            if "video_url" in answer:
                return VideoLink(str(answer["video_url"]))
            raise WeChatError(-1, "media/get answered JSON without a file")
        match = _FILENAME_RE.search(answer.disposition)
        return Media(
            content=answer.content,
            content_type=answer.content_type or "application/octet-stream",
            filename=match.group(1) if match else None,
        )

    async def upload_media(
        self, kind: MediaKind, content: bytes, filename: str, content_type: str
    ) -> UploadedMedia:
        """Upload a temporary file (3 days) to send with :meth:`send_image`."""

        def form() -> aiohttp.FormData:
            data = aiohttp.FormData()
            data.add_field("media", content, filename=filename, content_type=content_type)
            return data

        answer = await self._call("POST", "/cgi-bin/media/upload", params={"type": kind}, form=form)
        assert isinstance(answer, dict)
        return UploadedMedia(
            media_id=str(answer["media_id"]),
            kind=str(answer.get("type", kind)),
            created_at=int(answer.get("created_at", 0)),
        )
