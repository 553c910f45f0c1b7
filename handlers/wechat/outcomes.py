"""What a WeChat send ended as: scheduler/delivery.py's outcomes plus WindowClosed.

WindowClosed is the one WeChat-specific outcome: the customer-service channel to this resident
is shut until they interact again. The app then sends a template message (if the station
configured one for the purpose) or holds the message and delivers it, summed up, the next time
the resident writes. It is deliberately not a Retry (retrying cannot help before the resident
writes) nor Undeliverable (the resident is still there).

errcode → outcome (errmsg texts as WeChat sends them; sources: 全局返回码说明, the API pages, and
real answers quoted in the developer community):

| errcode | errmsg | outcome |
|---|---|---|
| -1 | system error | Retry 5 s |
| 40001 | invalid credential, access_token is invalid or not latest | renew the token, send once more; then Retry 30 s |
| 40014 | invalid access_token | as 40001 |
| 42001 | access_token expired | as 40001 |
| 45009 | reach max api daily quota limit / api freq out of limit | Retry 1 h |
| 45011 | api minute-quota reach limit mustslower retry next minute | Retry 60 s |
| 45015 | response out of time limit or subscription is canceled | WindowClosed (48 h window over) |
| 45047 | out of response count limit | WindowClosed (the window's 5 messages used) |
| 43004 | require subscribe | Undeliverable (not following) |
| 40003 | invalid openid | Undeliverable |
| 43019 | require remove blacklist | Undeliverable (the account blocked them) |
| 40164 | invalid ip …, not in whitelist | Retry 5 min (a setup fault; every send waits for the fix) |
| anything else (45002 content too long, 40037 invalid template_id, 47003 argument invalid, 40007 invalid media_id, 48001 api unauthorized, …) | | Permanent |

45047 differs from the brief's "retry later": the quota of a window is only refilled by the
resident's next message (客服消息下发规则: 5 messages per 48 h after a message, 3 per minute after
a follow, a scan or a menu click), so a retry would fail until the window closes.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.delivery import DeliveryResult, Permanent, Retry, Undeliverable

INVALID_TOKEN = frozenset({40001, 40014, 42001})
WINDOW_EXPIRED = 45015
WINDOW_QUOTA = 45047


@dataclass(frozen=True)
class WindowClosed:
    """No customer-service message can reach this resident until they write (or click) again."""

    errcode: int  # 45015: the 48 hours are over or they unfollowed; 45047: the quota is used
    reason: str


SendResult = DeliveryResult | WindowClosed

_RETRY_SECONDS = {-1: 5.0, 45009: 3600.0, 45011: 60.0, 40164: 300.0}
_UNDELIVERABLE = frozenset({43004, 40003, 43019})


def reason(errcode: int, errmsg: str) -> str:
    """The reason text every outcome carries: 'wechat <errcode>: <errmsg>'."""
    return f"wechat {errcode}: {errmsg}"


def outcome_for(errcode: int, errmsg: str) -> SendResult:
    """Map a non-zero errcode of a send to what the dispatcher should do (table above)."""
    why = reason(errcode, errmsg)
    if errcode in (WINDOW_EXPIRED, WINDOW_QUOTA):
        return WindowClosed(errcode, why)
    if errcode in _UNDELIVERABLE:
        return Undeliverable(why)
    if errcode in _RETRY_SECONDS:
        return Retry(_RETRY_SECONDS[errcode], why)
    if errcode in INVALID_TOKEN:
        return Retry(30.0, why + " (still refused after renewing the token)")
    return Permanent(why)
