"""The push endpoint against the fake platform, over real sockets, in all three modes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from handlers.wechat.config import Mode, WeChatConfig
from handlers.wechat.messages import (
    ImageMessage,
    Inbound,
    LinkMessage,
    LocationMessage,
    MenuClickEvent,
    ScanEvent,
    SubscribeEvent,
    TemplateSendResultEvent,
    TextMessage,
    UnsubscribeEvent,
    VideoMessage,
    VoiceMessage,
)
from handlers.wechat.replies import ImageReply, PassiveReply, TextReply
from tests.fakewechat import (
    DEFAULT_AES_KEY,
    DEFAULT_APP_ID,
    DEFAULT_SECRET,
    DEFAULT_TOKEN,
    FakeWeChat,
    encrypt,
    sha1_signature,
    to_xml,
)
from tests.fakewechat.harness import Recorder, running_endpoint

ROOT = Path(__file__).resolve().parent.parent


def config(mode: Mode = "plain", **overrides: object) -> WeChatConfig:
    values: dict[str, object] = {
        "app_id": DEFAULT_APP_ID,
        "app_secret": DEFAULT_SECRET,
        "token": DEFAULT_TOKEN,
        "encoding_aes_key": None if mode == "plain" else DEFAULT_AES_KEY,
        "mode": mode,
    }
    values.update(overrides)
    return WeChatConfig(**values)  # type: ignore[arg-type]


async def test_url_check_echoes_echostr_and_refuses_a_wrong_token() -> None:
    recorder = Recorder()
    async with FakeWeChat() as fake, running_endpoint(config(), recorder) as url:
        fake.bot_url = url
        status, body, echostr = await fake.verify_url()
        assert (status, body) == (200, echostr)
        fake.token = "someoneelsestoken"
        status, body, _ = await fake.verify_url()
        assert status == 403
        assert recorder.seen == []


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
async def test_text_round_trip_with_passive_reply(mode: Mode) -> None:
    recorder = Recorder()
    async with FakeWeChat(mode=mode) as fake, running_endpoint(config(mode), recorder) as url:
        fake.bot_url = url
        openid = fake.add_user()
        push = await fake.send_text(openid, "楼道的灯坏了三天了 <a href='x'>]]>")
        assert push.outcome == "reply", push.error
        assert push.reply is not None and push.reply.channel == "passive"
        assert push.reply.text == "已收到：楼道的灯坏了三天了 <a href='x'>]]>"
        assert len(push.attempts) == 1
        (seen,) = recorder.seen
        assert isinstance(seen, TextMessage)
        assert (seen.from_user, seen.to_user, seen.msg_id) == (
            openid,
            fake.original_id,
            push.msg_id,
        )


@pytest.mark.parametrize("mode", ["plain", "safe"])
async def test_every_kind_of_push_reaches_the_app(mode: Mode) -> None:
    recorder = Recorder()
    async with FakeWeChat(mode=mode) as fake, running_endpoint(config(mode), recorder) as url:
        fake.bot_url = url
        openid = fake.add_user(followed=False)
        await fake.follow(openid)
        await fake.send_image(openid)
        await fake.send_voice(openid, recognition="路灯不亮")
        await fake.send_video(openid)
        await fake.send_video(openid, short=True)
        await fake.send_location(openid, 31.2304, 121.4737, "上海市黄浦区")
        await fake.send_link(openid, "通知", "社区通知", "https://example.org/n")
        await fake.click(openid, "MY_OPINIONS")
        await fake.unfollow(openid)
        kinds = [type(i) for i in recorder.seen]
        assert kinds == [
            SubscribeEvent,
            ImageMessage,
            VoiceMessage,
            VideoMessage,
            VideoMessage,
            LocationMessage,
            LinkMessage,
            MenuClickEvent,
            UnsubscribeEvent,
        ]
        image = recorder.seen[1]
        assert isinstance(image, ImageMessage) and image.pic_url.startswith(fake.url)
        voice = recorder.seen[2]
        assert isinstance(voice, VoiceMessage) and voice.recognition == "路灯不亮"
        assert [v.short for v in recorder.seen[3:5] if isinstance(v, VideoMessage)] == [False, True]
        assert all(p.outcome == "success" for p in fake.pushes)
        keys = [i.idempotency_key for i in recorder.seen]
        assert len(set(keys)) == len(keys)


async def test_follow_through_a_qr_code_then_scan_again() -> None:
    recorder = Recorder()
    async with FakeWeChat() as fake, running_endpoint(config(), recorder) as url:
        fake.bot_url = url
        openid = fake.add_user(followed=False)
        await fake.follow(openid, scene="station-12")
        follow = recorder.seen[-1]
        assert isinstance(follow, SubscribeEvent) and follow.scene == "station-12"
        await fake.scan_scene(openid, "station-12")  # already following: SCAN, bare scene
        scan = recorder.seen[-1]
        assert isinstance(scan, ScanEvent) and scan.scene == "station-12" and scan.ticket


async def test_forged_or_stale_requests_get_403_and_reach_nobody() -> None:
    recorder = Recorder()
    async with FakeWeChat() as fake, running_endpoint(config(), recorder) as url:
        fake.bot_url = url
        body = to_xml(
            [
                ("ToUserName", fake.original_id),
                ("FromUserName", "oAttacker"),
                ("CreateTime", int(time.time())),
                ("MsgType", "text"),
                ("Content", "伪造的意见"),
                ("MsgId", 1),
            ]
        )
        now = str(int(time.time()))
        forged = {
            "signature": sha1_signature("guessed-token", now, "1"),
            "timestamp": now,
            "nonce": "1",
        }
        assert (await fake.post_raw(forged, body))[0] == 403
        assert (await fake.post_raw({"timestamp": now, "nonce": "1"}, body))[0] == 403
        old = str(int(time.time()) - 3600)
        stale = {
            "signature": sha1_signature(DEFAULT_TOKEN, old, "1"),
            "timestamp": old,
            "nonce": "1",
        }
        assert (await fake.post_raw(stale, body))[0] == 403
        # a right signature over the wrong Encrypt text (safe-mode envelope, plain signature)
        enc = encrypt(body, DEFAULT_AES_KEY, DEFAULT_APP_ID)
        wrapped = to_xml([("ToUserName", fake.original_id), ("Encrypt", enc)])
        bad_msg_signature = {
            **{
                "signature": sha1_signature(DEFAULT_TOKEN, now, "1"),
                "timestamp": now,
                "nonce": "1",
            },
            "encrypt_type": "aes",
            "msg_signature": sha1_signature(DEFAULT_TOKEN, now, "1", "other"),
        }
        assert (await fake.post_raw(bad_msg_signature, wrapped))[0] == 403
        assert recorder.seen == []


async def test_safe_mode_refuses_plain_pushes_and_bad_ciphertext() -> None:
    recorder = Recorder()
    async with FakeWeChat(mode="plain") as fake, running_endpoint(config("safe"), recorder) as url:
        fake.bot_url = url
        openid = fake.add_user()
        push = await fake.send_text(openid, "明文")
        assert push.outcome == "error" and push.error == "HTTP 400"
        # signed correctly but encrypted with another key: 400, nothing stored
        now = str(int(time.time()))
        enc = encrypt(b"<xml/>", "B" * 43, DEFAULT_APP_ID)
        params = {
            "timestamp": now,
            "nonce": "7",
            "encrypt_type": "aes",
            "msg_signature": sha1_signature(DEFAULT_TOKEN, now, "7", enc),
        }
        status, _ = await fake.post_raw(params, to_xml([("Encrypt", enc)]))
        assert status == 400
        assert recorder.seen == []


async def test_slow_handler_gets_success_then_the_late_reply() -> None:
    recorder = Recorder(gate=asyncio.Event())
    cfg = config("safe", reply_deadline=0.2)
    async with (
        FakeWeChat(mode="safe") as fake,
        running_endpoint(cfg, recorder, on_late=recorder.on_late) as url,
    ):
        fake.bot_url = url
        openid = fake.add_user()
        push = await fake.send_text(openid, "慢慢处理")
        assert push.outcome == "success"  # in time, no error shown, no retry
        assert len(push.attempts) == 1 and not push.shown_error
        assert recorder.late == []
        assert recorder.gate is not None
        recorder.gate.set()
        await recorder.wait(lambda: recorder.late)
        ((inbound, reply),) = recorder.late
        assert isinstance(inbound, TextMessage) and inbound.msg_id == push.msg_id
        assert reply == TextReply("已收到：慢慢处理")


async def test_wechat_retries_a_late_answer_with_the_same_msgid() -> None:
    recorder = Recorder(gate=asyncio.Event())
    async with (
        FakeWeChat(push_timeout=0.3) as fake,
        running_endpoint(config(), recorder, on_late=recorder.on_late) as url,
    ):
        fake.bot_url = url
        openid = fake.add_user()
        push = await fake.send_text(openid, "重试也只算一条")  # the handler never answers in time
        assert len(recorder.seen) == 3
        assert recorder.gate is not None
        recorder.gate.set()
        assert [a.outcome for a in push.attempts] == ["timeout"] * 3
        assert push.outcome == "timeout" and push.shown_error
        ids = {(i.msg_id, i.idempotency_key) for i in recorder.seen if isinstance(i, TextMessage)}
        assert len(ids) == 1 and next(iter(ids))[0] == push.msg_id


async def test_handler_failure_answers_500() -> None:
    async def broken(_: Inbound) -> PassiveReply | None:
        raise RuntimeError("database is down")

    async with FakeWeChat() as fake, running_endpoint(config(), broken) as url:
        fake.bot_url = url
        push = await fake.send_text(fake.add_user(), "存不进去")
        assert push.outcome == "error" and push.error == "HTTP 500"
        assert push.shown_error


async def test_image_passive_reply_and_template_result_event() -> None:
    async def answer_with_image(inbound: Inbound) -> PassiveReply | None:
        if isinstance(inbound, ImageMessage):
            return ImageReply(inbound.media_id)
        return None

    async with (
        FakeWeChat(mode="safe") as fake,
        running_endpoint(config("safe"), answer_with_image) as url,
    ):
        fake.bot_url = url
        openid = fake.add_user()
        push = await fake.send_image(openid)
        assert push.outcome == "reply" and push.reply is not None
        assert push.reply.kind == "image" and push.reply.media_id


async def test_template_result_event_is_parsed() -> None:
    recorder = Recorder()
    async with FakeWeChat() as fake, running_endpoint(config(), recorder) as url:
        fake.bot_url = url
        openid = fake.add_user()
        await fake._template_finished(openid, "424242")
        (event,) = recorder.seen
        assert isinstance(event, TemplateSendResultEvent)
        assert (event.msg_id, event.status, event.delivered) == ("424242", "success", True)


async def test_fake_runs_as_a_program() -> None:
    """`python -m tests.fakewechat` pushes typed lines and prints what the resident sees."""
    import sys

    recorder = Recorder()
    async with running_endpoint(config("safe"), recorder) as url:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.fakewechat",
            "--bot-url",
            url,
            "--port",
            "0",
            "--exit-on-eof",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        out, err = await asyncio.wait_for(
            proc.communicate("你好\n!click MY_OPINIONS\n".encode()), 60
        )
    assert proc.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert "WECHAT_MODE=safe" in lines
    assert "[passive] 已收到：你好" in lines
    assert [type(i).__name__ for i in recorder.seen] == ["TextMessage", "MenuClickEvent"]


def test_nothing_below_handlers_imports_the_wechat_package() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for layer in ("services", "storage", "domain", "scheduler", "texts")
        for path in (ROOT / layer).rglob("*.py")
        if "handlers.wechat" in path.read_text(encoding="utf-8")
        or "handlers import wechat" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
