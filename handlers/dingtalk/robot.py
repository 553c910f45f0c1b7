"""The custom group robot (自定义机器人): send-only, one webhook per group, no app needed.

For groups that only get reminders and notices. Protocol (open.dingtalk.com
"自定义机器人安全设置" and "自定义机器人发送群消息"):
- POST the webhook URL (``https://oapi.dingtalk.com/robot/send?access_token=…``) with a JSON
  body ``{"msgtype": "text"|"markdown"|"actionCard"|…, …}``;
- with 加签, add ``timestamp`` (ms, within one hour of DingTalk's clock) and ``sign`` =
  urlencode(base64(HmacSHA256(key=secret, msg=f"{timestamp}\\n{secret}")));
- the answer is HTTP 200 ``{"errcode":0,"errmsg":"ok"}`` or an errcode: 130101 "send too
  fast, exceed 20 times per minute" (then throttled for 10 minutes), 310000 keyword/sign/IP
  check failed ("keywords not in content", "sign not match", …), 300005 "token is not exist"
  (robot removed), 300001 token missing/invalid, 400013/400014 robot disabled… .
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote_plus

import aiohttp

from scheduler.delivery import Delivered, DeliveryResult, Permanent, Retry, Undeliverable

from .config import CustomRobot
from .limits import CUSTOM_ROBOT_PENALTY_SECONDS

JSON = dict[str, Any]

# errcode → outcome. Throttled: 130101 (20/min exceeded, 10-minute penalty), 660026 "sending
# too many messages per minute" (seen from the same endpoint); gone: the robot was removed or
# switched off; refused: our request does not pass the robot's security settings.
THROTTLED = frozenset({130101, 660026})
GONE = frozenset({300005, 300001, 400013, 400014, 410100})
SIGN_MISMATCH = 310000


def sign(secret: str, timestamp_ms: int) -> str:
    """The 加签 signature, already URL-encoded, for ``timestamp_ms``."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def signed_url(robot: CustomRobot, timestamp_ms: int) -> str:
    """The webhook URL with ``timestamp`` and ``sign`` when the robot has a secret."""
    if not robot.secret:
        return robot.webhook_url
    sep = "&" if "?" in robot.webhook_url else "?"
    return (
        f"{robot.webhook_url}{sep}timestamp={timestamp_ms}&sign={sign(robot.secret, timestamp_ms)}"
    )


def text_body(content: str, *, at_user_ids: Sequence[str] = (), at_all: bool = False) -> JSON:
    return {
        "msgtype": "text",
        "text": {"content": content},
        "at": {"atUserIds": list(at_user_ids), "isAtAll": at_all},
    }


def markdown_body(title: str, text: str, *, at_user_ids: Sequence[str] = ()) -> JSON:
    return {
        "msgtype": "markdown",
        "markdown": {"title": title, "text": text},
        "at": {"atUserIds": list(at_user_ids), "isAtAll": False},
    }


def action_card_body(title: str, text: str, buttons: Sequence[tuple[str, str]]) -> JSON:
    """An actionCard: markdown plus link buttons (the custom robot has no callbacks)."""
    card: JSON = {"title": title, "text": text}
    if len(buttons) == 1:
        card["singleTitle"], card["singleURL"] = buttons[0]
    else:
        card["btnOrientation"] = "0"
        card["btns"] = [{"title": label, "actionURL": url} for label, url in buttons]
    return {"msgtype": "actionCard", "actionCard": card}


def outcome(status: int, body: JSON) -> DeliveryResult:
    """Map the webhook's answer to a delivery outcome (errors come back as HTTP 200)."""
    try:
        errcode = int(body.get("errcode", -1))
    except (TypeError, ValueError):
        errcode = -1
    errmsg = str(body.get("errmsg", ""))
    reason = f"errcode {errcode}: {errmsg}"
    if status == 200 and errcode == 0:
        # The webhook returns no message id; a time-based id keeps the outbox row traceable.
        return Delivered(f"webhook:{time.time_ns()}")
    if errcode in THROTTLED:
        return Retry(CUSTOM_ROBOT_PENALTY_SECONDS, reason)
    if errcode in GONE:
        return Undeliverable(reason)
    if status >= 500 or status == 0 or errcode == -1:
        return Retry(5.0, f"HTTP {status} {reason}")
    return Permanent(reason)  # 310000 sign/keyword/IP mismatch and malformed bodies


class CustomRobotSender:
    """Posts messages to custom robots' webhooks and maps their answers."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 10.0,
        wall_clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._session = session
        self._own_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._now_ms = wall_clock_ms

    async def close(self) -> None:
        if self._session is not None and self._own_session:
            await self._session.close()
        self._session = None

    async def send(self, robot: CustomRobot, body: JSON) -> DeliveryResult:
        """POST one message body (see the ``*_body`` helpers) to ``robot``."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._own_session = True
        url = signed_url(robot, self._now_ms())
        try:
            async with self._session.post(url, json=body, timeout=self._timeout) as resp:
                status = resp.status
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Retry(5.0, f"network: {exc}")
        try:
            data = json.loads(text)
        except ValueError:
            data = {"errcode": -1, "errmsg": text[:200]}
        return outcome(status, data if isinstance(data, dict) else {"errcode": -1})
