"""What DingTalk's answers mean: the error codes, and the delivery outcome (scheduler.delivery)
each answer is, with how long to wait before trying again."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from scheduler.delivery import Delivered, DeliveryResult, Permanent, Retry, Undeliverable

JSON = dict[str, Any]
Failure = Retry | Undeliverable | Permanent

# New-API error codes that mean "this access token is not (or no longer) valid". Observed
# answer: HTTP 400 {"code":"InvalidAuthentication","message":"不合法的access_token",...};
# legacy oapi answers errcode 40014 (or 88 with sub_code 40014), 42001 when expired.
INVALID_TOKEN_CODES = frozenset(
    {"InvalidAuthentication", "invalidParameter.token.invalid", "token.notExisted"}
)
INVALID_TOKEN_ERRCODES = frozenset({40014, 42001})
# Legacy oapi rate limits: 90002 all apps on one API, 90018/90019 per app/organisation.
THROTTLED_ERRCODES = frozenset({90002, 90006, 90018, 90019})
# Group sends: the robot is not (or no longer) in that group, or the group is unknown.
# "invalidParameter.robotCode.notExsit" is documented for groupMessages/send as
# "机器人不存在，请检查机器人是否在群内" (robot send-group-message page, error table).
GROUP_GONE_CODES = frozenset(
    {
        "invalidParameter.robotCode.notExsit",
        "invalidParameter.invalid",
        "invalid.openConversationId",
        "openConversationId.notExisted",
        "bot.stopped",
    }
)
# One-to-one sends: the person is not (or no longer) someone the robot can write to.
USER_GONE_CODES = frozenset(
    {"staffId.notExisted", "illegal.receivers", "robot.oto.notExist", "chatbotId.notAllow.sendOTO"}
)
THROTTLE_WAIT = 1.0  # the QPS windows are one second long (call-frequency-limit page)
FLOW_CONTROL_WAIT = 30.0  # per-user flow control in batchSend; no figure is documented
QUOTA_WAIT = 3600.0  # monthly API quota used up (Forbidden.AccessDenied.ApiCountLimitForOrg)
NETWORK_WAIT = 5.0
CREDENTIALS_WAIT = 300.0


def send_outcome(status: int, data: JSON, id_field: str, *, gone: frozenset[str]) -> DeliveryResult:
    if status == 200 and data.get(id_field):
        return Delivered(str(data[id_field]))
    if status == 200:
        return Permanent(f"answer without {id_field}: {data}")
    return error_outcome(status, data, gone=gone)


def error_outcome(status: int, data: JSON, *, gone: frozenset[str]) -> Failure:
    """Map a new-API error answer {"code","message","requestid"} to an outcome."""
    code = str(data.get("code", ""))
    message = str(data.get("message", ""))
    reason = f"HTTP {status} {code}: {message}".strip()
    if status == 429 or code.startswith("Forbidden.AccessDenied.QpsLimit"):
        return Retry(THROTTLE_WAIT, reason)
    if code == "Forbidden.AccessDenied.ApiCountLimitForOrg":
        return Retry(QUOTA_WAIT, reason)
    if code in gone:
        return Undeliverable(reason)
    if status >= 500 or status == 0:
        return Retry(NETWORK_WAIT, reason)
    return Permanent(reason)


def legacy_outcome(status: int, body: JSON) -> Failure:
    """Map a legacy oapi answer {"errcode","errmsg"} (HTTP 200 even for errors)."""
    errcode = errcode_of(body)
    reason = f"HTTP {status} errcode {errcode}: {body.get('errmsg', '')}"
    if errcode in THROTTLED_ERRCODES:
        return Retry(THROTTLE_WAIT, reason)
    if errcode == -1 or status >= 500:
        return Retry(NETWORK_WAIT, reason)
    return Permanent(reason)


def errcode_of(body: JSON) -> int:
    try:
        errcode = int(body.get("errcode", 0))
    except (TypeError, ValueError):
        return -1
    if errcode == 88:  # "鉴权异常": the real reason is in sub_code
        try:
            return int(body.get("sub_code", 88))
        except (TypeError, ValueError):
            return 88
    return errcode


async def json_body(resp: aiohttp.ClientResponse) -> JSON:
    text = await resp.text()
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {"code": "", "message": text[:200]}
    return data if isinstance(data, dict) else {"code": "", "message": str(data)[:200]}
