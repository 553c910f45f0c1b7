"""The DingTalk OpenAPI client against the fake platform over real HTTP: token, sends, cards,
media, and every error mapped to its delivery outcome."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from handlers.dingtalk.api import DingTalkApi, DingTalkAuthError
from handlers.dingtalk.config import DingTalkConfig
from handlers.dingtalk.robot_messages import Conversation, RobotMessage, UploadedMedia
from scheduler.delivery import Delivered, Permanent, Retry, Undeliverable
from tests.fakebot import make_png
from tests.fakedingtalk import FakeDingTalk, FakeLimits

GROUP = "cidStaffGroup0001=="
UNIT = "cidUnitGroup0002=="


def config_for(
    fake: FakeDingTalk, card_template_id: str = "tmpl-0001.schema", robot_code: str = ""
) -> DingTalkConfig:
    return DingTalkConfig(
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        robot_code=robot_code,
        api_base_url=fake.url,
        oapi_base_url=fake.url,
        card_template_id=card_template_id,
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingTalk]:
    async with FakeDingTalk() as server:
        server.add_user("staff01", "王科员", is_admin=True)
        server.add_user("rep02", "李代表")
        server.add_group(GROUP, "工作人员群", ("staff01",))
        server.add_group(UNIT, "专题调研组", ("rep02",))
        yield server


@pytest.fixture
async def api(fake: FakeDingTalk) -> AsyncIterator[DingTalkApi]:
    async with DingTalkApi(config_for(fake)) as client:
        yield client


async def test_token_is_fetched_once_and_shared_by_concurrent_callers(
    fake: FakeDingTalk, api: DingTalkApi
) -> None:
    tokens = await asyncio.gather(*(api.access_token() for _ in range(20)))
    assert len(set(tokens)) == 1
    assert api.token_fetches == 1
    assert len(fake.calls("accessToken")) == 1
    assert fake.calls("accessToken")[0]["body"] == {
        "appKey": fake.client_id,
        "appSecret": fake.client_secret,
    }


async def test_token_is_renewed_before_it_expires() -> None:
    now = [1000.0]
    async with FakeDingTalk(token_expire_in=7200, clock=lambda: now[0]) as fake:
        api = DingTalkApi(config_for(fake), clock=lambda: now[0])
        first = await api.access_token()
        now[0] += 7200 - 301  # not yet inside the 5-minute margin
        assert await api.access_token() == first
        now[0] += 2  # inside it: renewed while the old one still works
        second = await api.access_token()
        await api.close()
        assert second != first
        assert api.token_fetches == 2


async def test_expired_token_is_refreshed_and_the_send_retried_once(
    fake: FakeDingTalk, api: DingTalkApi
) -> None:
    assert isinstance(await api.send_group(GROUP, RobotMessage.text("一")), Delivered)
    fake.expire_tokens()
    result = await api.send_group(GROUP, RobotMessage.text("二"))
    assert isinstance(result, Delivered)
    assert api.token_fetches == 2
    sends = fake.calls("groupSend")
    assert len(sends) == 3  # one, the refused one, the retry
    assert [m["params"]["content"] for m in fake.messages(f"group:{GROUP}")] == ["一", "二"]


async def test_concurrent_sends_after_expiry_share_one_refresh(
    fake: FakeDingTalk, api: DingTalkApi
) -> None:
    await api.access_token()
    fake.expire_tokens()
    results = await asyncio.gather(
        *(api.send_group(GROUP, RobotMessage.text(f"第{i}条")) for i in range(8))
    )
    assert all(isinstance(r, Delivered) for r in results)
    assert api.token_fetches == 2


async def test_wrong_credentials_raise_and_sends_wait(fake: FakeDingTalk) -> None:
    bad = DingTalkConfig("dingwrong", "nope", api_base_url=fake.url, oapi_base_url=fake.url)
    async with DingTalkApi(bad) as api:
        with pytest.raises(DingTalkAuthError, match="invalidClientIdOrSecret"):
            await api.access_token()
        result = await api.send_group(GROUP, RobotMessage.text("x"))
    assert isinstance(result, Retry) and result.seconds >= 60
    assert fake.messages() == []


async def test_one_to_one_text_and_markdown(fake: FakeDingTalk, api: DingTalkApi) -> None:
    text = await api.send_private("staff01", RobotMessage.text("您好"))
    md = await api.send(Conversation.private("staff01"), RobotMessage.markdown("标题", "**粗**"))
    assert isinstance(text, Delivered) and isinstance(md, Delivered)
    assert text.message_id != md.message_id and isinstance(text.message_id, str)
    sent = fake.messages("user:staff01")
    assert [(m["msgKey"], m["processQueryKey"]) for m in sent] == [
        ("sampleText", text.message_id),
        ("sampleMarkdown", md.message_id),
    ]
    body = fake.calls("batchSend")[0]["body"]
    assert body["robotCode"] == fake.client_id  # robotCode defaults to the Client ID
    assert body["userIds"] == ["staff01"]
    assert json.loads(body["msgParam"]) == {"content": "您好"}


async def test_group_message(fake: FakeDingTalk, api: DingTalkApi) -> None:
    result = await api.send(Conversation.group(GROUP), RobotMessage.text("新意见 LL-2026-00001"))
    assert isinstance(result, Delivered)
    assert fake.messages(f"group:{GROUP}")[0]["processQueryKey"] == result.message_id


async def test_unknown_user_is_undeliverable(fake: FakeDingTalk, api: DingTalkApi) -> None:
    result = await api.send_private("ghost99", RobotMessage.text("x"))
    assert isinstance(result, Undeliverable)
    assert "invalidStaffIdList" in result.reason


async def test_flow_controlled_user_is_retried(fake: FakeDingTalk, api: DingTalkApi) -> None:
    fake.flow_control("rep02")
    result = await api.send_private("rep02", RobotMessage.text("x"))
    assert isinstance(result, Retry)
    fake.flow_control("rep02", on=False)
    assert isinstance(await api.send_private("rep02", RobotMessage.text("x")), Delivered)


async def test_unknown_group_and_removed_robot_are_undeliverable(
    fake: FakeDingTalk, api: DingTalkApi
) -> None:
    unknown = await api.send_group("cidNoSuchGroup==", RobotMessage.text("x"))
    assert isinstance(unknown, Undeliverable)
    assert "invalid.openConversationId" in unknown.reason
    fake.remove_robot(UNIT)
    removed = await api.send_group(UNIT, RobotMessage.text("x"))
    assert isinstance(removed, Undeliverable)
    assert "invalidParameter.robotCode.notExsit" in removed.reason
    card = await api.send_card(Conversation.group(UNIT), "otid-removed", {"markdown": "x"})
    assert isinstance(card, Undeliverable)


async def test_malformed_message_is_permanent(fake: FakeDingTalk, api: DingTalkApi) -> None:
    result = await api.send_group(GROUP, RobotMessage("sampleNoSuchKey", {"content": "x"}))
    assert isinstance(result, Permanent)
    assert "invalidParameter.msgKey.invalid" in result.reason


async def test_wrong_robot_code_for_one_to_one_is_permanent(fake: FakeDingTalk) -> None:
    async with DingTalkApi(config_for(fake, robot_code="dingother")) as api:
        result = await api.send_private("staff01", RobotMessage.text("x"))
    assert isinstance(result, Permanent)


async def test_throttled_api_answers_retry_after_a_second(fake: FakeDingTalk) -> None:
    fake.set_limits(FakeLimits(api_qps=5))
    async with DingTalkApi(config_for(fake)) as api:
        results = await asyncio.gather(
            *(api.send_group(GROUP, RobotMessage.text(str(i))) for i in range(12))
        )
    delivered = [r for r in results if isinstance(r, Delivered)]
    throttled = [r for r in results if isinstance(r, Retry)]
    assert len(delivered) == 5 and len(throttled) == 7
    assert all(r.seconds == 1.0 and "QpsLimitForApi" in r.reason for r in throttled)
    assert fake.throttled == 7


async def test_card_is_sent_then_updated_in_place(fake: FakeDingTalk, api: DingTalkApi) -> None:
    data = {"title": "新意见", "markdown": "**内容**", "buttons": "[]"}
    sent = await api.send_card(Conversation.group(GROUP), "card-LL-1", data)
    assert sent == Delivered("card-LL-1")
    body = fake.calls("cardCreateAndDeliver")[0]["body"]
    assert body["openSpaceId"] == f"dtv1.card//IM_GROUP.{GROUP}"
    assert body["callbackType"] == "STREAM"
    assert body["imGroupOpenDeliverModel"] == {"robotCode": fake.client_id}
    updated = await api.update_card("card-LL-1", {"markdown": "已交办"})
    assert updated == Delivered("card-LL-1")
    card = fake.card("card-LL-1")
    assert card["data"] == {"title": "新意见", "markdown": "已交办", "buttons": "[]"}
    assert len(fake.messages(f"group:{GROUP}")) == 1  # updated, not sent again


async def test_private_card_and_unknown_card_update(fake: FakeDingTalk, api: DingTalkApi) -> None:
    sent = await api.send_card(Conversation.private("rep02"), "task-7", {"markdown": "任务"})
    assert isinstance(sent, Delivered)
    assert fake.card("task-7")["openSpaceId"] == "dtv1.card//IM_ROBOT.rep02"
    missing = await api.update_card("no-such-card", {"markdown": "x"})
    assert isinstance(missing, Permanent)


async def test_card_without_template_is_permanent(fake: FakeDingTalk) -> None:
    async with DingTalkApi(config_for(fake, card_template_id="")) as api:
        result = await api.send_card(Conversation.group(GROUP), "c1", {"markdown": "x"})
    assert isinstance(result, Permanent)
    assert fake.calls("cardCreateAndDeliver") == []


async def test_chart_and_workbook_are_uploaded_then_sent(
    fake: FakeDingTalk, api: DingTalkApi
) -> None:
    png = make_png(320, 200)
    chart = await api.send_image(Conversation.group(GROUP), png, "stats.png")
    workbook = await api.send_file(Conversation.private("staff01"), b"PK\x03\x04xlsx", "台账.xlsx")
    assert isinstance(chart, Delivered) and isinstance(workbook, Delivered)
    image_msg = fake.messages(f"group:{GROUP}")[0]
    assert image_msg["msgKey"] == "sampleImageMsg"
    assert fake.media(image_msg["params"]["photoURL"])["data"] == png
    file_msg = fake.messages("user:staff01")[0]
    assert file_msg["msgKey"] == "sampleFile"
    assert file_msg["params"]["fileName"] == "台账.xlsx"
    assert file_msg["params"]["fileType"] == "xlsx"
    assert fake.media(file_msg["params"]["mediaId"])["type"] == "file"


async def test_upload_refreshes_an_expired_token(fake: FakeDingTalk, api: DingTalkApi) -> None:
    await api.access_token()
    fake.expire_tokens()
    uploaded = await api.upload_media(make_png(), "a.png", "image")
    assert isinstance(uploaded, UploadedMedia) and uploaded.media_id.startswith("@")
    assert api.token_fetches == 2


async def test_upload_of_a_wrong_file_type_is_permanent(
    fake: FakeDingTalk, api: DingTalkApi
) -> None:
    result = await api.upload_media(b"MZ", "tool.exe", "file")
    assert isinstance(result, Permanent) and "40005" in result.reason


async def test_unreachable_platform_is_retried() -> None:
    async with FakeDingTalk() as fake:
        url = fake.url
    offline = DingTalkConfig("dingx", "s", api_base_url=url, oapi_base_url=url)
    async with DingTalkApi(offline, timeout=2) as api:
        result = await api.send_group(GROUP, RobotMessage.text("x"))
    assert isinstance(result, Retry)


def test_conversation_keys_round_trip() -> None:
    for conv in (Conversation.group("cid+/=="), Conversation.private("0123")):
        assert Conversation.from_key(conv.key) == conv
    with pytest.raises(ValueError):
        Conversation.from_key("chat:1")
