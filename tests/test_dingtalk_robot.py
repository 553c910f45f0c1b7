"""The custom group robot against the fake webhook: signing, errors, the 20-a-minute limit,
and the pacing data keeping a sender under every limit the fake enforces."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, unquote_plus, urlsplit

import pytest

from domain.channels import Address, Channel
from handlers.dingtalk.api import DingTalkApi
from handlers.dingtalk.config import CustomRobot, DingTalkConfig
from handlers.dingtalk.limits import (
    CUSTOM_ROBOT_LIMITS,
    CUSTOM_ROBOT_PENALTY_SECONDS,
    DINGTALK_LIMITS,
)
from handlers.dingtalk.robot import (
    CustomRobotSender,
    action_card_body,
    markdown_body,
    sign,
    signed_url,
    text_body,
)
from handlers.dingtalk.robot_messages import Conversation, RobotMessage
from scheduler.delivery import Delivered, Permanent, Retry, Undeliverable
from scheduler.pacing import ChatPacer
from tests.fakedingtalk import FakeDingTalk, FakeLimits


class SimClock:
    """Simulated time shared by the fake's windows and the pacer: waits advance it."""

    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def sender() -> AsyncIterator[CustomRobotSender]:
    s = CustomRobotSender()
    yield s
    await s.close()


def test_signature_is_hmac_sha256_of_timestamp_and_secret_base64_urlencoded() -> None:
    secret, ts = "SEC1234567890abcdef", 1700000000000
    raw = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    assert unquote_plus(sign(secret, ts)) == base64.b64encode(raw).decode()
    url = signed_url(CustomRobot("g", "https://x/robot/send?access_token=t", secret), ts)
    query = parse_qs(urlsplit(url).query)
    assert query["timestamp"] == [str(ts)] and query["access_token"] == ["t"]
    assert query["sign"] == [base64.b64encode(raw).decode()]  # parse_qs undoes urlencode
    assert signed_url(CustomRobot("g", "https://x/r?access_token=t"), ts).endswith("=t")


async def test_signed_text_markdown_and_action_card(sender: CustomRobotSender) -> None:
    async with FakeDingTalk() as fake:
        url = fake.add_custom_robot("执法检查组", secret="SECsecret")
        robot = CustomRobot("执法检查组", url, "SECsecret")
        for body in (
            text_body("明天 9:00 开会", at_user_ids=["rep02"]),
            markdown_body("提醒", "**截止**：3 天后"),
            action_card_body("通报", "逾期", [("查看", "https://example.org/a")]),
        ):
            assert isinstance(await sender.send(robot, body), Delivered)
        sent = fake.messages("webhook:执法检查组")
        assert [m["msgtype"] for m in sent] == ["text", "markdown", "actionCard"]
        assert sent[0]["body"]["at"]["atUserIds"] == ["rep02"]


async def test_wrong_secret_and_missing_keyword_are_permanent(sender: CustomRobotSender) -> None:
    async with FakeDingTalk() as fake:
        signed = fake.add_custom_robot("甲", secret="SECright")
        wrong = await sender.send(CustomRobot("甲", signed, "SECwrong"), text_body("x"))
        assert isinstance(wrong, Permanent) and "310000" in wrong.reason
        unsigned = await sender.send(CustomRobot("甲", signed), text_body("x"))
        assert isinstance(unsigned, Permanent)
        keyword = fake.add_custom_robot("乙", keyword="提醒")
        refused = await sender.send(CustomRobot("乙", keyword), text_body("你好"))
        assert isinstance(refused, Permanent) and "keywords" in refused.reason
        ok = await sender.send(CustomRobot("乙", keyword), text_body("会议提醒"))
        assert isinstance(ok, Delivered)


async def test_removed_robot_is_undeliverable(sender: CustomRobotSender) -> None:
    async with FakeDingTalk() as fake:
        url = fake.url + "/robot/send?access_token=" + "0" * 64
        result = await sender.send(CustomRobot("丙", url), text_body("x"))
    assert isinstance(result, Undeliverable) and "300005" in result.reason


async def test_twenty_first_message_in_a_minute_throttles_for_ten_minutes(
    sender: CustomRobotSender,
) -> None:
    clock = SimClock()
    async with FakeDingTalk(clock=clock) as fake:
        robot = CustomRobot("丁", fake.add_custom_robot("丁"))
        for i in range(20):
            assert isinstance(await sender.send(robot, text_body(f"{i}")), Delivered)
        throttled = await sender.send(robot, text_body("21"))
        assert isinstance(throttled, Retry)
        assert throttled.seconds == CUSTOM_ROBOT_PENALTY_SECONDS
        assert "130101" in throttled.reason
        clock.now += 61  # the minute has passed, the penalty has not
        assert isinstance(await sender.send(robot, text_body("22")), Retry)
        clock.now += CUSTOM_ROBOT_PENALTY_SECONDS
        assert isinstance(await sender.send(robot, text_body("23")), Delivered)
        assert fake.throttled == 2


async def test_paced_custom_robot_sends_are_never_throttled(sender: CustomRobotSender) -> None:
    clock = SimClock()
    pacer = ChatPacer(
        group_per_minute=CUSTOM_ROBOT_LIMITS.group_per_minute,
        overall_per_second=CUSTOM_ROBOT_LIMITS.overall_per_second,
        clock=clock,
    )
    async with FakeDingTalk(clock=clock) as fake:
        robot = CustomRobot("戊", fake.add_custom_robot("戊", secret="SECx"), "SECx")
        chat = Address(Channel.DINGTALK, "webhook:戊")
        start = clock.now
        for i in range(45):
            clock.now += pacer.delay(chat, True)  # the dispatcher sleeps this long
            pacer.record(chat)
            assert isinstance(await sender.send(robot, text_body(f"第{i}条")), Delivered)
        assert fake.throttled == 0
        assert len(fake.messages("webhook:戊")) == 45
        assert clock.now - start >= 120  # 45 messages need the third minute


async def test_paced_app_robot_sends_stay_under_every_enforced_limit() -> None:
    """1 a second per person, 20 a minute per group, 18 a second overall (fake: 20 QPS)."""
    clock = SimClock()
    pacer = ChatPacer(
        group_per_minute=DINGTALK_LIMITS.group_per_minute,
        private_per_second=int(DINGTALK_LIMITS.private_per_second),
        overall_per_second=DINGTALK_LIMITS.overall_per_second,
        clock=clock,
    )
    limits = FakeLimits(api_qps=20, group_per_minute=20)
    async with FakeDingTalk(clock=clock, limits=limits) as fake:
        groups = [f"cidG{i:02d}==" for i in range(5)]
        for cid in groups:
            fake.add_group(cid, cid)
        config = DingTalkConfig(
            fake.client_id, fake.client_secret, api_base_url=fake.url, oapi_base_url=fake.url
        )
        async with DingTalkApi(config, clock=clock) as api:
            slot = 0.0
            for i in range(150):  # 30 per group: needs a second minute for each
                cid = groups[i % len(groups)]
                chat = Address(Channel.DINGTALK, Conversation.group(cid).key)
                wait = max(pacer.delay(chat, True), slot - clock.now)
                clock.now += wait
                slot = clock.now + 1.0 / DINGTALK_LIMITS.overall_per_second
                pacer.record(chat)
                result = await api.send(Conversation.group(cid), RobotMessage.text(str(i)))
                assert isinstance(result, Delivered), result
        assert fake.throttled == 0
        assert sum(len(fake.messages(f"group:{c}")) for c in groups) == 150
