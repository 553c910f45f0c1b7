"""DingTalk's send limits as data, for the dispatcher's per-channel pacing.

Sources (each figure is cited where it is set):
- OpenAPI call frequency: every app is limited per API per second; DingTalk's own answer in
  its developer community gives 20 QPS for the standard edition (40 professional, 60
  dedicated), and a refusal is HTTP 403 ``Forbidden.AccessDenied.QpsLimitForApi`` /
  ``QpsLimitForAppkeyAndApi`` (developer.aliyun.com/ask/615474; open.dingtalk.com
  "调用频率限制", help.dingtalk.io/open/development/call-frequency-limit). Per egress IP all
  APIs together: 10,000 calls in 20 s, past it a 5-minute ban (same page).
- App robot sends: the robot APIs name no per-conversation figure; a one-to-one send reports
  per-user flow control in ``flowControlledStaffIdList`` ("推送频繁，被限流的用户userId列表",
  alibabacloud-dingtalk robot_1_0 BatchSendOTOResponseBody). We pace groups like the custom
  robot (20 a minute) and private chats at one a second, which is what Telegram needs too, so
  a group never sees a burst and one pacing shape serves both channels.
- Custom robot (自定义机器人): "每个机器人每分钟最多发送20条消息到群里，如果超过20条，会限流
  10分钟" (open.dingtalk.com/document/robots/custom-robot-access, 消息发送频率限制).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChannelLimits:
    """How fast one channel may send: overall, per group chat, per private chat."""

    overall_per_second: float
    group_per_minute: int
    private_per_second: float
    # Past the group window the platform refuses for this long (None: only the window).
    group_penalty_seconds: float | None = None


# App robot (企业内部应用机器人) through the OpenAPI. 20 QPS per API on the standard edition;
# we stay under it: the dispatcher spaces sends evenly at 19/s (measured between actual sends,
# so a stalled loop never bunches them), and handlers/dingtalk/outbound.ApiWindow allows at
# most 19 calls per API in any second, direct replies included.
DINGTALK_LIMITS = ChannelLimits(
    overall_per_second=19.0,
    group_per_minute=20,
    private_per_second=1.0,
)

# The custom group robot: 20 a minute per robot (one robot = one group), 10 minutes of
# throttling past it (errcode 130101 "send too fast, exceed 20 times per minute").
CUSTOM_ROBOT_LIMITS = ChannelLimits(
    overall_per_second=18.0,
    group_per_minute=20,
    private_per_second=0.0,
    group_penalty_seconds=600.0,
)

# What the platform itself enforces (the fake server uses these, the pacer the ones above).
DINGTALK_API_QPS = 20
CUSTOM_ROBOT_PER_MINUTE = 20
CUSTOM_ROBOT_PENALTY_SECONDS = 600.0
BATCH_SEND_MAX_USERS = 20  # oToMessages/batchSend: userIds, at most 20 per call
