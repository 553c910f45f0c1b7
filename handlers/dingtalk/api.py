"""DingTalk OpenAPI client over aiohttp: access token, robot messages, cards, media upload.

Why aiohttp and not ``alibabacloud-dingtalk``: the project already sends Telegram through
aiohttp; we call six endpoints, while that SDK is 41 MB unpacked (381 files, six Tea runtime
packages), untyped, does not manage the access token, and reports errors as TeaException
that still has to be mapped. The request and answer shapes below come from the official
Python SDK (dingtalk_stream/stream.py, card_replier.py, chatbot.py) and the OpenAPI pages
named next to each call.

Every send ends as a :mod:`scheduler.delivery` outcome; the platform's id of what was sent
(processQueryKey, the card's outTrackId) is returned as text.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

from scheduler.delivery import Delivered, DeliveryResult, Permanent, Retry, Undeliverable

from .answers import (
    CREDENTIALS_WAIT,
    FLOW_CONTROL_WAIT,
    GROUP_GONE_CODES,
    INVALID_TOKEN_CODES,
    INVALID_TOKEN_ERRCODES,
    NETWORK_WAIT,
    USER_GONE_CODES,
    Failure,
    errcode_of,
    error_outcome,
    json_body,
    legacy_outcome,
    send_outcome,
)
from .config import DingTalkConfig
from .robot_messages import Conversation, RobotMessage, UploadedMedia

log = logging.getLogger(__name__)

JSON = dict[str, Any]
MediaKind = Literal["image", "file", "voice", "video"]

TOKEN_PATH = "/v1.0/oauth2/accessToken"
PRIVATE_SEND_PATH = "/v1.0/robot/oToMessages/batchSend"
GROUP_SEND_PATH = "/v1.0/robot/groupMessages/send"
CARD_DELIVER_PATH = "/v1.0/card/instances/createAndDeliver"
CARD_UPDATE_PATH = "/v1.0/card/instances"
MEDIA_UPLOAD_PATH = "/media/upload"  # on the oapi host, token in the query string


class DingTalkAuthError(Exception):
    """The Client ID / Client Secret were refused: nothing can be sent until they are fixed."""


class DingTalkUnavailable(Exception):
    """The token endpoint could not be reached or answered garbage (try again later)."""


@dataclass
class _Token:
    value: str
    refresh_at: float


class DingTalkApi:
    """The app's OpenAPI session: one token cache, one aiohttp session, typed sends.

    The token is fetched once and shared (concurrent callers wait for the same fetch),
    renewed ``refresh_margin`` seconds before it expires, and dropped after an
    invalid-token answer so the call is retried once with a fresh one.
    """

    def __init__(
        self,
        config: DingTalkConfig,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 10.0,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._session = session
        self._own_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()
        self.token_fetches = 0

    async def __aenter__(self) -> DingTalkApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None and self._own_session:
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._own_session = True
        return self._session

    # ------------------------------------------------------------------ token

    async def access_token(self) -> str:
        """A valid token, fetched at most once at a time (raises DingTalkAuthError/Unavailable)."""
        token = self._token
        if token is not None and self._clock() < token.refresh_at:
            return token.value
        async with self._token_lock:
            token = self._token
            if token is not None and self._clock() < token.refresh_at:
                return token.value
            token = await self._fetch_token()
            self._token = token
            return token.value

    def invalidate_token(self, used: str) -> None:
        """Forget ``used`` unless another caller already replaced it."""
        if self._token is not None and self._token.value == used:
            self._token = None

    async def _fetch_token(self) -> _Token:
        # POST /v1.0/oauth2/accessToken {"appKey","appSecret"} → {"accessToken","expireIn"}
        # (dingtalk_stream/stream.py get_access_token; 获取企业内部应用的accessToken).
        url = self.config.api_base_url + TOKEN_PATH
        body = {"appKey": self.config.client_id, "appSecret": self.config.client_secret}
        self.token_fetches += 1
        try:
            async with self._http().post(url, json=body, timeout=self._timeout) as resp:
                status = resp.status
                data = await json_body(resp)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DingTalkUnavailable(f"token endpoint unreachable: {exc}") from exc
        if status == 200 and isinstance(data.get("accessToken"), str):
            expire_in = float(data.get("expireIn") or 7200)
            margin = min(self._refresh_margin, expire_in / 2)
            return _Token(data["accessToken"], self._clock() + expire_in - margin)
        code = str(data.get("code", ""))
        # Observed for wrong credentials: HTTP 400
        # {"requestid":"…","code":"invalidClientIdOrSecret","message":"无效的clientId或者clientSecret"}
        if status in (400, 401, 403) and code:
            raise DingTalkAuthError(f"{code}: {data.get('message', '')}")
        raise DingTalkUnavailable(f"token endpoint answered HTTP {status}: {data}")

    # ------------------------------------------------------------------ transport

    async def _call(
        self,
        method: str,
        url: str,
        body: JSON,
        *,
        classify: Callable[[int, JSON], DeliveryResult],
    ) -> DeliveryResult:
        """One new-API call with the token header; refresh and retry once on a bad token."""
        for attempt in range(2):
            try:
                token = await self.access_token()
            except DingTalkAuthError as exc:
                return Retry(CREDENTIALS_WAIT, f"credentials refused: {exc}")
            except DingTalkUnavailable as exc:
                return Retry(NETWORK_WAIT, str(exc))
            headers = {"x-acs-dingtalk-access-token": token}
            try:
                async with self._http().request(
                    method, url, json=body, headers=headers, timeout=self._timeout
                ) as resp:
                    status = resp.status
                    data = await json_body(resp)
            except (aiohttp.ClientError, TimeoutError) as exc:
                return Retry(NETWORK_WAIT, f"network: {exc}")
            if status != 200 and data.get("code") in INVALID_TOKEN_CODES:
                self.invalidate_token(token)
                if attempt == 0:
                    continue
                return Retry(NETWORK_WAIT, f"token refused twice: {data.get('code')}")
            return classify(status, data)
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ robot messages

    async def send(self, to: Conversation, message: RobotMessage) -> DeliveryResult:
        """Send a robot message to a group or a person."""
        if to.kind == "group":
            return await self.send_group(to.id, message)
        return await self.send_private(to.id, message)

    async def send_private(self, user_id: str, message: RobotMessage) -> DeliveryResult:
        """One-to-one robot message (人与机器人会话): POST /v1.0/robot/oToMessages/batchSend.

        Answer: {"processQueryKey","invalidStaffIdList","flowControlledStaffIdList"}
        (alibabacloud-dingtalk robot_1_0 BatchSendOTOResponseBody).
        """
        body = {
            "robotCode": self.config.robot_code,
            "userIds": [user_id],
            "msgKey": message.msg_key,
            "msgParam": message.msg_param,
        }

        def classify(status: int, data: JSON) -> DeliveryResult:
            if status == 200:
                if user_id in (data.get("invalidStaffIdList") or ()):
                    return Undeliverable(f"user {user_id} not found (invalidStaffIdList)")
                if user_id in (data.get("filteredStaffIdList") or ()):
                    return Undeliverable(f"user {user_id} filtered (filteredStaffIdList)")
                if user_id in (data.get("flowControlledStaffIdList") or ()):
                    return Retry(FLOW_CONTROL_WAIT, "flow control (flowControlledStaffIdList)")
            return send_outcome(status, data, "processQueryKey", gone=USER_GONE_CODES)

        url = self.config.api_base_url + PRIVATE_SEND_PATH
        return await self._call("POST", url, body, classify=classify)

    async def send_group(self, open_conversation_id: str, message: RobotMessage) -> DeliveryResult:
        """Group robot message: POST /v1.0/robot/groupMessages/send → {"processQueryKey"}."""
        body = {
            "robotCode": self.config.robot_code,
            "openConversationId": open_conversation_id,
            "msgKey": message.msg_key,
            "msgParam": message.msg_param,
        }

        def classify(status: int, data: JSON) -> DeliveryResult:
            return send_outcome(status, data, "processQueryKey", gone=GROUP_GONE_CODES)

        url = self.config.api_base_url + GROUP_SEND_PATH
        return await self._call("POST", url, body, classify=classify)

    # ------------------------------------------------------------------ interactive cards

    async def send_card(
        self,
        to: Conversation,
        out_track_id: str,
        card_data: Mapping[str, str],
        *,
        template_id: str | None = None,
    ) -> DeliveryResult:
        """Create and deliver an interactive card whose presses come back over Stream.

        POST /v1.0/card/instances/createAndDeliver (创建并投放卡片), the API the card platform
        recommends for robots and the only one whose callbacks arrive on the Stream topic
        /v1.0/card/instances/callback (``callbackType: STREAM``). Body as in
        dingtalk_stream/card_replier.py create_and_deliver_card. Answer:
        {"success":true,"result":{"outTrackId","deliverResults":[{"spaceType","spaceId",
        "success","errorMsg","carrierId"}]}}. ``out_track_id`` is ours, so a resend after a
        crash addresses the same card; it is returned as the message id.
        """
        template = template_id or self.config.card_template_id
        if not template:
            return Permanent("no card template configured (DINGTALK_CARD_TEMPLATE_ID)")
        body: JSON = {
            "cardTemplateId": template,
            "outTrackId": out_track_id,
            "callbackType": "STREAM",
            "cardData": {"cardParamMap": dict(card_data)},
            "userIdType": 1,
        }
        if to.kind == "group":
            body["openSpaceId"] = f"dtv1.card//IM_GROUP.{to.id}"
            body["imGroupOpenSpaceModel"] = {"supportForward": False}
            body["imGroupOpenDeliverModel"] = {"robotCode": self.config.robot_code}
        else:
            body["openSpaceId"] = f"dtv1.card//IM_ROBOT.{to.id}"
            body["imRobotOpenSpaceModel"] = {"supportForward": False}
            body["imRobotOpenDeliverModel"] = {
                "spaceType": "IM_ROBOT",
                "robotCode": self.config.robot_code,
            }

        def classify(status: int, data: JSON) -> DeliveryResult:
            if status != 200:
                gone = GROUP_GONE_CODES if to.kind == "group" else USER_GONE_CODES
                return error_outcome(status, data, gone=gone)
            result = data.get("result") or {}
            for delivered in result.get("deliverResults") or ():
                if not delivered.get("success", False):
                    return Undeliverable(f"card not delivered: {delivered.get('errorMsg', '')}")
            return Delivered(str(result.get("outTrackId") or out_track_id))

        url = self.config.api_base_url + CARD_DELIVER_PATH
        return await self._call("POST", url, body, classify=classify)

    async def update_card(
        self, out_track_id: str, card_data: Mapping[str, str], *, by_key: bool = True
    ) -> DeliveryResult:
        """Update a delivered card in place: PUT /v1.0/card/instances → {"success","result"}.

        ``by_key`` merges the given keys into the card's data instead of replacing all of it
        (cardUpdateOptions.updateCardDataByKey; 更新卡片 page, card_replier.put_card_data).
        """
        body: JSON = {
            "outTrackId": out_track_id,
            "cardData": {"cardParamMap": dict(card_data)},
            "cardUpdateOptions": {"updateCardDataByKey": by_key},
        }

        def classify(status: int, data: JSON) -> DeliveryResult:
            if status == 200 and data.get("success", True):
                return Delivered(out_track_id)
            return error_outcome(status, data, gone=frozenset())

        url = self.config.api_base_url + CARD_UPDATE_PATH
        return await self._call("PUT", url, body, classify=classify)

    # ------------------------------------------------------------------ media

    async def upload_media(
        self, data: bytes, filename: str, kind: MediaKind = "file"
    ) -> UploadedMedia | Failure:
        """Upload an image or file (上传媒体文件): POST {oapi}/media/upload?access_token=…

        multipart ``type`` + ``media``; answer {"errcode":0,"errmsg":"ok","media_id":"@…",
        "type":…,"created_at":…} (dingtalk_stream/stream.py upload_to_dingtalk). Images and
        files up to 20 MB. The OpenAPI token is accepted on the legacy host too (the SDK
        uses it that way).
        """
        url = self.config.oapi_base_url + MEDIA_UPLOAD_PATH
        for attempt in range(2):
            try:
                token = await self.access_token()
            except DingTalkAuthError as exc:
                return Retry(CREDENTIALS_WAIT, f"credentials refused: {exc}")
            except DingTalkUnavailable as exc:
                return Retry(NETWORK_WAIT, str(exc))
            form = aiohttp.FormData()
            form.add_field("type", kind)
            form.add_field("media", data, filename=filename, content_type=_mime(filename))
            try:
                async with self._http().post(
                    url, params={"access_token": token}, data=form, timeout=self._timeout
                ) as resp:
                    status = resp.status
                    body = await json_body(resp)
            except (aiohttp.ClientError, TimeoutError) as exc:
                return Retry(NETWORK_WAIT, f"network: {exc}")
            errcode = errcode_of(body)
            if errcode in INVALID_TOKEN_ERRCODES:
                self.invalidate_token(token)
                if attempt == 0:
                    continue
                return Retry(NETWORK_WAIT, f"token refused twice: errcode {errcode}")
            if status == 200 and errcode == 0 and body.get("media_id"):
                return UploadedMedia(str(body["media_id"]), str(body.get("type", kind)))
            return legacy_outcome(status, body)
        raise AssertionError("unreachable")

    async def send_image(
        self, to: Conversation, image: bytes, filename: str = "chart.png"
    ) -> DeliveryResult:
        """Upload a picture, then send it as sampleImageMsg (the /stats chart)."""
        uploaded = await self.upload_media(image, filename, "image")
        if not isinstance(uploaded, UploadedMedia):
            return uploaded
        return await self.send(to, RobotMessage.image(uploaded.media_id))

    async def send_file(self, to: Conversation, data: bytes, filename: str) -> DeliveryResult:
        """Upload a file, then send it as sampleFile (the /export workbook)."""
        uploaded = await self.upload_media(data, filename, "file")
        if not isinstance(uploaded, UploadedMedia):
            return uploaded
        return await self.send(to, RobotMessage.file(uploaded.media_id, filename))


def _mime(filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower()
    return {
        "png": "image/png",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "gif": "image/gif",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pdf": "application/pdf",
    }.get(ext, "application/octet-stream")
