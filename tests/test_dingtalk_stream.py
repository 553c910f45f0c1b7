"""Stream mode through real sockets: our receiver (on the SDK's frame model) against the fake
gateway and WebSocket. ACK after the callback, failures, redelivery, reconnects, card presses.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from handlers.dingtalk.api import DingTalkApi, DingTalkAuthError
from handlers.dingtalk.config import DingTalkConfig
from handlers.dingtalk.pushes import CardAction, IncomingDingTalkMessage
from handlers.dingtalk.render import Action, NeutralMessage, to_card_data
from handlers.dingtalk.robot_messages import Conversation
from handlers.dingtalk.stream import BOT_MESSAGE_TOPIC, CARD_CALLBACK_TOPIC, Backoff, DingTalkStream
from tests.fakedingtalk import FakeDingTalk

ROOT = Path(__file__).resolve().parent.parent
GROUP = "cidStaffGroup0001=="
FAST = Backoff(base=0.05, factor=2.0, maximum=0.4, jitter=0.01)


def config_for(fake: FakeDingTalk) -> DingTalkConfig:
    return DingTalkConfig(
        fake.client_id,
        fake.client_secret,
        api_base_url=fake.url,
        oapi_base_url=fake.url,
        card_template_id="tmpl.schema",
    )


@dataclass
class App:
    """The app side: records what the callbacks got; an optional hook runs inside them."""

    messages: list[IncomingDingTalkMessage] = field(default_factory=list)
    actions: list[CardAction] = field(default_factory=list)
    hook: Callable[[IncomingDingTalkMessage], Awaitable[None]] | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_message(self, message: IncomingDingTalkMessage) -> None:
        self.messages.append(message)
        self.changed.set()
        if self.hook is not None:
            await self.hook(message)

    async def on_card_action(self, action: CardAction) -> None:
        self.actions.append(action)
        self.changed.set()

    async def wait(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


@dataclass
class Running:
    fake: FakeDingTalk
    app: App
    stream: DingTalkStream


async def start(fake: FakeDingTalk, app: App) -> tuple[DingTalkStream, asyncio.Task[None]]:
    stream = DingTalkStream(config_for(fake), app.on_message, app.on_card_action, backoff=FAST)
    task = asyncio.create_task(stream.run())
    await fake.wait_for_async(lambda: fake.open_connections == 1)
    return stream, task


def people(fake: FakeDingTalk) -> None:
    fake.add_user("staff01", "王科员", is_admin=True)
    fake.add_user("rep02", "李代表")
    fake.add_group(GROUP, "工作人员群", ("staff01", "rep02"))


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    async with FakeDingTalk() as fake:
        people(fake)
        app = App()
        stream, task = await start(fake, app)
        yield Running(fake, app, stream)
        await stream.stop()
        await asyncio.wait_for(task, 10)


def mid(frame: dict[str, object]) -> str:
    headers = frame["headers"]
    assert isinstance(headers, dict)
    return str(headers["messageId"])


async def test_handshake_subscribes_both_callback_topics(running: Running) -> None:
    (handshake,) = running.fake.handshakes()
    assert handshake["clientId"] == running.fake.client_id
    assert handshake["clientSecret"] == running.fake.client_secret
    assert {(s["type"], s["topic"]) for s in handshake["subscriptions"]} == {
        ("CALLBACK", BOT_MESSAGE_TOPIC),
        ("CALLBACK", CARD_CALLBACK_TOPIC),
    }
    assert BOT_MESSAGE_TOPIC == "/v1.0/im/bot/messages/get"
    assert CARD_CALLBACK_TOPIC == "/v1.0/card/instances/callback"


async def test_private_and_group_messages_reach_on_message_and_are_acked(
    running: Running,
) -> None:
    fake, app = running.fake, running.app
    private = fake.send_text("rep02", "  加入 ABC123  ")
    group = fake.send_text("staff01", "绑定工作群", group=GROUP)
    await app.wait(lambda: len(app.messages) == 2)
    one, two = sorted(app.messages, key=lambda m: m.conversation_type == "group")
    assert (one.conversation_type, one.text, one.sender_staff_id) == (
        "private",
        "加入 ABC123",
        "rep02",
    )
    assert one.at_bot is False and one.sender_nick == "李代表"
    assert one.message_id == json.loads(str(private["data"]))["msgId"]
    assert one.frame_id == mid(private)
    assert (two.conversation_type, two.conversation_id, two.text) == ("group", GROUP, "绑定工作群")
    assert two.at_bot is True and two.is_admin is True and two.conversation_title == "工作人员群"
    assert two.sender_key == "staff01" and two.msgtype == "text"
    for frame in (private, group):

        def acked(f: Any = frame) -> Any:
            return fake.frame(mid(f))["state"] == "acked" and fake.frame(mid(f))

        state = await fake.wait_for_async(acked)
        (ack,) = state["acks"]
        assert ack["code"] == 200 and ack["headers"]["messageId"] == mid(frame)
        assert json.loads(ack["data"]) == {"response": None}


async def test_ack_is_sent_only_after_the_callback_returned(running: Running) -> None:
    fake, app = running.fake, running.app
    gate = asyncio.Event()
    inside = asyncio.Event()

    async def store(_: IncomingDingTalkMessage) -> None:
        inside.set()
        await gate.wait()  # the app is still writing to its database

    app.hook = store
    frame = fake.send_text("staff01", "一条意见")
    await asyncio.wait_for(inside.wait(), 10)
    assert fake.frame(mid(frame))["state"] == "sent"  # no ACK while the callback runs
    assert fake.frame(mid(frame))["acks"] == []
    gate.set()
    await fake.wait_for_async(lambda: fake.frame(mid(frame))["state"] == "acked")


async def test_failing_callback_acks_500_and_a_redelivery_is_handled() -> None:
    async with FakeDingTalk(redeliver_callbacks=True) as fake:
        people(fake)
        app = App()
        failures = [RuntimeError("database is locked")]

        async def store(_: IncomingDingTalkMessage) -> None:
            if failures:
                raise failures.pop()

        app.hook = store
        stream, task = await start(fake, app)
        frame = fake.send_text("staff01", "请修路灯")
        await fake.wait_for_async(lambda: fake.frame(mid(frame))["state"] == "acked")
        state = fake.frame(mid(frame))
        assert [a["code"] for a in state["acks"]] == [500, 200]
        assert state["deliveries"] == 2
        assert len(app.messages) == 2
        assert app.messages[0].message_id == app.messages[1].message_id  # stable: dedupe on it
        assert app.messages[0].frame_id == app.messages[1].frame_id
        await stream.stop()
        await task


async def test_robot_messages_are_fire_and_forget_by_default(running: Running) -> None:
    """The real server does not re-push a robot message whose ACK failed (protocol.md FAQ)."""
    fake, app = running.fake, running.app
    fake.redeliver_delay = 0.0

    async def fail_first(message: IncomingDingTalkMessage) -> None:
        if message.text == "第一条":
            raise RuntimeError("boom")

    app.hook = fail_first
    first = fake.send_text("staff01", "第一条")
    await fake.wait_for_async(lambda: fake.frame(mid(first))["state"] == "failed")
    second = fake.send_text("staff01", "第二条")
    await fake.wait_for_async(lambda: fake.frame(mid(second))["state"] == "acked")
    assert fake.frame(mid(first))["deliveries"] == 1
    assert [m.text for m in app.messages] == ["第一条", "第二条"]


async def test_dropped_socket_reconnects_and_the_unacked_frame_comes_again_once() -> None:
    async with FakeDingTalk(redeliver_callbacks=True) as fake:
        people(fake)
        app = App()
        gate = asyncio.Event()

        async def slow_first(_: IncomingDingTalkMessage) -> None:
            if len(app.messages) == 1:
                await gate.wait()

        app.hook = slow_first
        stream, task = await start(fake, app)
        frame = fake.send_text("rep02", "进展：已联系住建局")
        await app.wait(lambda: len(app.messages) == 1)
        fake.drop_socket()  # while the first callback is still running
        await fake.wait_for_async(lambda: fake.connection_count == 2 and fake.open_connections == 1)
        assert fake.frame(mid(frame))["deliveries"] in (1, 2)
        gate.set()
        await fake.wait_for_async(lambda: fake.frame(mid(frame))["state"] == "acked")
        state = fake.frame(mid(frame))
        assert state["deliveries"] == 2 and state["connection"] == 2
        assert [a["code"] for a in state["acks"]] == [200]  # the first ACK had no socket
        assert [m.message_id for m in app.messages] == [app.messages[0].message_id] * 2
        assert len(stream.delays) == 1 and FAST.base <= stream.delays[0] <= FAST.base + FAST.jitter
        later = fake.send_text("rep02", "再来一条")
        await fake.wait_for_async(lambda: fake.frame(mid(later))["state"] == "acked")
        assert len(app.messages) == 3
        await stream.stop()
        await task


async def test_gateway_outage_is_retried_with_growing_delays(running: Running) -> None:
    fake, stream = running.fake, running.stream
    fake.fail_handshakes(3)
    fake.drop_socket()
    await fake.wait_for_async(lambda: fake.connection_count == 2 and fake.open_connections == 1)
    delays = stream.delays
    assert len(delays) == 4  # after the drop, then after each failed handshake
    assert all(later > earlier for earlier, later in itertools.pairwise(delays))
    assert delays[-1] >= FAST.base * FAST.factor**3
    assert len(fake.handshakes()) == 5


async def test_server_disconnect_reconnects_at_once(running: Running) -> None:
    fake, app, stream = running.fake, running.app, running.stream
    fake.disconnect()
    await fake.wait_for_async(lambda: fake.connection_count == 2 and fake.open_connections == 1)
    assert stream.delays == []
    frame = fake.send_text("staff01", "断线后")
    await fake.wait_for_async(lambda: fake.frame(mid(frame))["state"] == "acked")
    assert app.messages[-1].text == "断线后"


async def test_ping_is_answered_with_its_opaque(running: Running) -> None:
    opaque = running.fake.ping()
    (pong,) = await running.fake.wait_for_async(lambda: running.fake.pongs())
    assert pong["code"] == 200
    assert json.loads(pong["data"]) == {"opaque": opaque}


async def test_card_press_reaches_on_card_action(running: Running) -> None:
    fake, app = running.fake, running.app
    message = NeutralMessage.plain(
        "新意见 LL-2026-00001",
        actions=((Action("交办", "assign:1"), Action("不予受理", "reject:1")),),
    )
    async with DingTalkApi(config_for(fake)) as api:
        await api.send_card(Conversation.group(GROUP), "card-LL-1", to_card_data(message))
    frame = fake.press("staff01", "card-LL-1", label="不予受理")
    await app.wait(lambda: len(app.actions) == 1)
    (action,) = app.actions
    assert action.payload == "reject:1"
    assert action.out_track_id == "card-LL-1"
    assert action.user_id == "staff01" and action.user_id_type == 1
    assert (action.space_type, action.space_id) == ("IM_GROUP", GROUP)
    assert action.action_ids == ("press",) and action.frame_id == mid(frame)
    await fake.wait_for_async(lambda: fake.frame(mid(frame))["state"] == "acked")


async def test_pictures_and_files_carry_download_codes(running: Running) -> None:
    fake, app = running.fake, running.app
    fake.send_picture("rep02")
    fake.send_file("rep02", "现场照片说明.pdf", group=GROUP)
    await app.wait(lambda: len(app.messages) == 2)
    by_type = {m.msgtype: m for m in app.messages}
    assert by_type["picture"].download_codes and by_type["picture"].text == ""
    assert by_type["file"].file_name == "现场照片说明.pdf"
    assert by_type["file"].download_codes[0].startswith("file")


async def test_messages_of_one_conversation_are_handled_in_order(running: Running) -> None:
    fake, app = running.fake, running.app
    order: list[str] = []
    frames: dict[str, str] = {}

    def others_arrived() -> bool:
        return len(frames) == 3 and all(
            fake.frame(frames[t])["state"] == "sent" for t in ("2", "3")
        )

    async def slow_first(message: IncomingDingTalkMessage) -> None:
        if message.text == "1":  # "2" and "3" are on the client before "1" is done
            await fake.wait_for_async(others_arrived)
        order.append(message.text)

    app.hook = slow_first
    for text in ("1", "2", "3"):
        frames[text] = mid(fake.send_text("rep02", text))
    await app.wait(lambda: len(order) == 3)
    assert order == ["1", "2", "3"]


async def test_wrong_credentials_stop_the_stream() -> None:
    async with FakeDingTalk() as fake:
        bad = DingTalkConfig("dingwrong", "nope", api_base_url=fake.url, oapi_base_url=fake.url)
        app = App()
        stream = DingTalkStream(bad, app.on_message, app.on_card_action, backoff=FAST)
        with pytest.raises(DingTalkAuthError, match="invalidClientIdOrSecret"):
            await asyncio.wait_for(stream.run(), 10)


async def test_cancelling_run_stops_it(running: Running) -> None:
    stream = DingTalkStream(
        config_for(running.fake), running.app.on_message, running.app.on_card_action
    )
    task = asyncio.create_task(stream.run())
    await running.fake.wait_for_async(lambda: running.fake.open_connections == 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await running.fake.wait_for_async(lambda: running.fake.open_connections == 1)


SDK_BOT = textwrap.dedent(
    """
    import asyncio, sys
    import dingtalk_stream

    class Echo(dingtalk_stream.ChatbotHandler):
        async def process(self, callback):
            message = dingtalk_stream.ChatbotMessage.from_dict(callback.data)
            print("GOT", message.text.content.strip(), message.sender_staff_id, flush=True)
            return dingtalk_stream.AckMessage.STATUS_OK, "OK"

    # The SDK finds its local IP by "connecting" a UDP socket to 8.8.8.8; no packet is sent,
    # but the test keeps even that lookup on this machine.
    dingtalk_stream.DingTalkStreamClient.get_host_ip = lambda self: "127.0.0.1"
    client = dingtalk_stream.DingTalkStreamClient(
        dingtalk_stream.Credential(sys.argv[1], sys.argv[2])
    )
    client.register_callback_handler(dingtalk_stream.ChatbotMessage.TOPIC, Echo())
    asyncio.run(client.start())
    """
)


def test_the_unmodified_sdk_client_speaks_to_the_fake(tmp_path: Path) -> None:
    """The SDK's own DingTalkStreamClient (its documented DINGTALK_OPENAPI_ENDPOINT setting
    points it here) connects, gets a robot message and ACKs it: the fake speaks its protocol."""
    script = tmp_path / "sdk_bot.py"
    script.write_text(SDK_BOT)
    with FakeDingTalk() as fake:
        people(fake)
        env = {**os.environ, "DINGTALK_OPENAPI_ENDPOINT": fake.url}
        proc = subprocess.Popen(
            [sys.executable, str(script), fake.client_id, fake.client_secret],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            fake.wait_for(lambda: fake.open_connections == 1, timeout=30)
            frame = fake.send_text("staff01", "你好 SDK", group=GROUP)
            fake.wait_for(lambda: fake.frame(mid(frame))["state"] == "acked", timeout=30)
            assert proc.stdout is not None
            assert proc.stdout.readline().split() == ["GOT", "你好", "SDK", "staff01"]
            (ack,) = fake.frame(mid(frame))["acks"]
            assert ack["code"] == 200 and json.loads(ack["data"]) == {"response": "OK"}
            opaque = fake.ping()
            pong = fake.wait_for(lambda: fake.pongs(), timeout=30)[0]
            assert json.loads(pong["data"]) == {"opaque": opaque}
        finally:
            proc.terminate()
            proc.wait(10)
