"""The API client and the shared token against the fake platform, over real sockets."""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from domain.clock import ManualClock
from handlers.wechat.api import Media, VideoLink, WeChatApi, WeChatError
from handlers.wechat.config import WeChatConfig
from handlers.wechat.menu import Menu, MenuButton
from handlers.wechat.messages import (
    ImageMessage,
    ScanEvent,
    SubscribeEvent,
    TemplateSendResultEvent,
    VideoMessage,
)
from handlers.wechat.outcomes import WindowClosed
from handlers.wechat.qr import qr_modules, qr_png
from handlers.wechat.tokens import AccessToken, AccessTokens, MemoryTokenStore, TokenError
from scheduler.delivery import Delivered, Permanent, Retry, Undeliverable
from tests.fakebot import make_png
from tests.fakewechat import DEFAULT_APP_ID, DEFAULT_SECRET, DEFAULT_TOKEN, FakeWeChat
from tests.fakewechat.harness import Recorder, running_endpoint

HOUR = 3600.0


@dataclass
class Platform:
    fake: FakeWeChat
    config: WeChatConfig
    store: MemoryTokenStore
    recorder: Recorder
    openid: str  # a follower who has just written: the window is open

    def api(self, **overrides: object) -> WeChatApi:
        return WeChatApi(replace(self.config, **overrides), self.store)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def platform() -> AsyncIterator[Platform]:
    async with FakeWeChat() as fake:
        config = WeChatConfig(
            app_id=DEFAULT_APP_ID,
            app_secret=DEFAULT_SECRET,
            token=DEFAULT_TOKEN,
            api_base_url=fake.api_base_url,
        )
        recorder = Recorder()
        async with running_endpoint(config, recorder) as url:
            fake.bot_url = url
            openid = fake.add_user()
            await fake.send_text(openid, "你好")
            yield Platform(fake, config, MemoryTokenStore(), recorder, openid)


def token_calls(fake: FakeWeChat, api: str = "stable_token") -> int:
    return len([c for c in fake.calls(api) if c["errcode"] == 0])


# ---------------------------------------------------------------------- the shared token


@pytest.mark.parametrize("token_api", ["stable", "classic"])
async def test_instances_share_one_token_fetch(platform: Platform, token_api: str) -> None:
    first, second = platform.api(token_api=token_api), platform.api(token_api=token_api)
    async with first, second:
        results = await asyncio.gather(
            *(
                client.send_text(platform.openid, "并发")
                for client in (first, second, first, second)
            )
        )
    # the window allows 5 sends after a message; all four arrive, with one token fetch
    assert results == [Delivered("")] * 4
    assert token_calls(platform.fake, "stable_token" if token_api == "stable" else "token") == 1
    assert first.tokens.fetches + second.tokens.fetches == 1


async def test_invalid_token_is_renewed_and_the_send_repeated(platform: Platform) -> None:
    async with platform.api() as api:
        assert await api.send_text(platform.openid, "一") == Delivered("")
        platform.fake.invalidate_tokens()  # e.g. someone force-refreshed elsewhere
        assert await api.send_text(platform.openid, "二") == Delivered("")
        platform.fake.expire_tokens()
        assert await api.send_text(platform.openid, "三") == Delivered("")
    codes = [c["errcode"] for c in platform.fake.calls("message/custom/send")]
    assert codes == [0, 40001, 0, 42001, 0]
    assert token_calls(platform.fake) == 3
    assert [d.text for d in platform.fake.deliveries(platform.openid, "custom")] == [
        "一",
        "二",
        "三",
    ]


async def test_stable_token_refused_but_still_handed_out_is_force_refreshed(
    platform: Platform,
) -> None:
    async with platform.api() as api:
        old = await api.access_token()
        platform.fake.fail_next(
            "message/custom/send", 40001
        )  # WeChat refuses a token it still hands out
        assert await api.send_text(platform.openid, "强制刷新") == Delivered("")
        new = await api.access_token()
    modes = [c["force_refresh"] for c in platform.fake.calls("stable_token")]
    assert modes == [False, False, True]
    assert new != old and old not in platform.fake.valid_tokens()


async def test_token_still_refused_after_renewal_is_retried_later(platform: Platform) -> None:
    platform.fake.fail_next("message/custom/send", 40014, times=2)
    async with platform.api() as api:
        result = await api.send_text(platform.openid, "还是不行")
    assert isinstance(result, Retry) and "40014" in result.reason


async def test_token_is_renewed_before_it_expires() -> None:
    store = MemoryTokenStore()
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    issued: list[str] = []

    async def fetch(force: bool) -> AccessToken:
        issued.append(f"t{len(issued)}")
        return AccessToken(issued[-1], clock.now().timestamp() + 7200)

    tokens = AccessTokens("wx1", store, fetch, clock=clock, margin=300)
    assert await tokens.get() == "t0"
    clock.advance(timedelta(seconds=6800))  # 400 s left: still fine
    assert await tokens.get() == "t0"
    clock.advance(timedelta(seconds=200))  # 200 s left: inside the margin
    assert await tokens.get() == "t1"
    assert tokens.fetches == 2


async def test_an_instance_waits_for_the_lease_holder_instead_of_fetching() -> None:
    store = MemoryTokenStore()
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    now = clock.now().timestamp()

    async def fetch(force: bool) -> AccessToken:
        raise AssertionError("must not fetch while another instance holds the lease")

    assert await store.acquire_refresh("wx1", "other-instance", now + 60, now)
    tokens = AccessTokens("wx1", store, fetch, clock=clock)
    waiting = asyncio.ensure_future(tokens.get())
    await asyncio.sleep(0)
    assert await store.store("wx1", AccessToken("from-other", now + 7200), replaces=None)
    await store.release_refresh("wx1", "other-instance")
    assert await waiting == "from-other"
    assert tokens.fetches == 0


async def test_an_expired_lease_is_taken_over() -> None:
    store = MemoryTokenStore()
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    now = clock.now().timestamp()

    async def fetch(force: bool) -> AccessToken:
        return AccessToken("mine", now + 7200)

    assert await store.acquire_refresh("wx1", "crashed-instance", now - 1, now - 20)
    tokens = AccessTokens("wx1", store, fetch, clock=clock)
    assert await tokens.get() == "mine"
    assert (
        not await store.acquire_refresh("wx1", "third", now + 5, now) or True
    )  # released after use
    assert (await store.load("wx1")) == AccessToken("mine", now + 7200)


async def test_token_errors_become_retries_and_admin_calls_raise(platform: Platform) -> None:
    async with platform.api(app_secret="wrong-secret") as api:
        result = await api.send_text(platform.openid, "密钥错了")
        assert isinstance(result, Retry) and "40125" in result.reason and result.seconds == 300
        with pytest.raises(TokenError) as raised:
            await api.delete_menu()
        assert raised.value.errcode == 40125
    platform.fake.ip_whitelisted = False
    async with platform.api() as api:
        result = await api.send_text(platform.openid, "白名单")
        assert isinstance(result, Retry) and "40164" in result.reason
    async with platform.api(api_base_url="http://127.0.0.1:9") as api:  # nothing listens there
        result = await api.send_text(platform.openid, "连不上")
        assert isinstance(result, Retry) and "network" in result.reason


# ---------------------------------------------------------------------- customer service window


async def test_window_closes_after_48_hours_and_reopens_when_they_write(platform: Platform) -> None:
    fake = platform.fake
    async with platform.api() as api:
        fake.advance(48 * HOUR - 60)
        assert await api.send_text(platform.openid, "还在窗口内") == Delivered("")
        fake.advance(120)
        closed = await api.send_text(platform.openid, "窗口已关")
        assert isinstance(closed, WindowClosed) and closed.errcode == 45015
        assert "response out of time limit" in closed.reason
        await fake.send_text(platform.openid, "我又来了")
        assert await api.send_text(platform.openid, "窗口又开了") == Delivered("")


async def test_a_window_allows_five_messages(platform: Platform) -> None:
    async with platform.api() as api:
        for n in range(5):
            assert await api.send_text(platform.openid, f"第{n + 1}条") == Delivered("")
        used_up = await api.send_text(platform.openid, "第6条")
    assert isinstance(used_up, WindowClosed) and used_up.errcode == 45047


async def test_a_follow_opens_three_messages_for_a_minute(platform: Platform) -> None:
    fake = platform.fake
    newcomer = fake.add_user(followed=False)
    async with platform.api() as api:
        assert isinstance(await api.send_text(newcomer, "未关注"), WindowClosed)
        await fake.follow(newcomer)
        assert await api.send_text(newcomer, "欢迎") == Delivered("")
        fake.advance(61)
        late = await api.send_text(newcomer, "一分钟后")
        assert isinstance(late, WindowClosed) and late.errcode == 45015


async def test_unfollowed_and_unknown_users(platform: Platform) -> None:
    fake = platform.fake
    async with platform.api() as api:
        await fake.unfollow(platform.openid)
        gone = await api.send_text(platform.openid, "取关了")
        assert isinstance(gone, WindowClosed) and gone.errcode == 45015
        unknown = await api.send_text("oNotAUserOfThisAccount000000", "谁")
        assert isinstance(unknown, Undeliverable) and "40003" in unknown.reason


async def test_other_errors_map_to_outcomes(platform: Platform) -> None:
    fake = platform.fake
    async with platform.api() as api:
        too_long = await api.send_text(platform.openid, "长" * 700)  # 2100 bytes
        assert isinstance(too_long, Permanent) and "45002" in too_long.reason
        fake.fail_next("message/custom/send", -1)
        busy = await api.send_text(platform.openid, "系统繁忙")
        assert isinstance(busy, Retry) and busy.seconds == 5
        fake.set_quota("message/custom/send", 0)
        quota = await api.send_text(platform.openid, "额度用完")
        assert isinstance(quota, Retry) and "45009" in quota.reason and quota.seconds == 3600
        fake.fail_next("message/custom/send", 45011)
        fake.set_quota("message/custom/send", 10)
        minute = await api.send_text(platform.openid, "每分钟")
        assert isinstance(minute, Retry) and minute.seconds == 60


# ---------------------------------------------------------------------- template messages


async def test_template_message_reaches_them_outside_the_window(platform: Platform) -> None:
    fake = platform.fake
    fake.add_template("TPL_PROGRESS", ("character_string1", "thing2", "time3"))
    data = {
        "character_string1": {"value": "LL-2026-00042"},
        "thing2": {"value": "已交办给张代表"},
        "time3": {"value": "2026年3月1日 15:01"},
    }
    fake.advance(49 * HOUR)
    async with platform.api() as api:
        assert isinstance(await api.send_text(platform.openid, "客服消息"), WindowClosed)
        sent = await api.send_template(
            platform.openid, "TPL_PROGRESS", data, client_msg_id="outbox-7"
        )
        assert isinstance(sent, Delivered) and sent.message_id.isdigit()
        again = await api.send_template(
            platform.openid, "TPL_PROGRESS", data, client_msg_id="outbox-7"
        )
        assert again == sent  # WeChat drops the repeat within 10 minutes
    (delivery,) = fake.deliveries(platform.openid, "template")
    assert (
        delivery.data["character_string1"] == "LL-2026-00042" and delivery.msgid == sent.message_id
    )
    recorder = platform.recorder
    await recorder.wait(lambda: any(isinstance(i, TemplateSendResultEvent) for i in recorder.seen))
    (event,) = [i for i in recorder.seen if isinstance(i, TemplateSendResultEvent)]
    assert event.msg_id == sent.message_id and event.delivered


async def test_template_errors(platform: Platform) -> None:
    fake = platform.fake
    fake.add_template("TPL", ("character_string1",))
    async with platform.api() as api:
        bad_id = await api.send_template(
            platform.openid, "NOPE", {"character_string1": {"value": "x"}}
        )
        assert isinstance(bad_id, Permanent) and "40037" in bad_id.reason
        chinese = await api.send_template(
            platform.openid, "TPL", {"character_string1": {"value": "中文"}}
        )
        assert isinstance(chinese, Permanent) and "47003" in chinese.reason
        await fake.unfollow(platform.openid)
        unfollowed = await api.send_template(
            platform.openid, "TPL", {"character_string1": {"value": "x"}}
        )
        assert isinstance(unfollowed, Undeliverable) and "43004" in unfollowed.reason


# ---------------------------------------------------------------------- menu, QR code, media


async def test_menu_is_installed_and_deleted(platform: Platform) -> None:
    menu = Menu(
        (
            MenuButton("提意见", key="HOW_TO"),
            MenuButton(
                "我的",
                kind="group",
                children=(
                    MenuButton("我的意见", key="MY_OPINIONS"),
                    MenuButton("查询进度", key="STATUS"),
                ),
            ),
            MenuButton("使用说明", kind="view", url="https://example.org/help"),
        )
    )
    async with platform.api() as api:
        await api.create_menu(menu)
        assert platform.fake.menu == menu.as_json()  # Chinese names arrived unescaped (no 40033)
        await api.delete_menu()
        assert platform.fake.menu is None
        with pytest.raises(ValueError, match="top-level"):
            await api.create_menu(Menu(tuple(MenuButton(f"b{i}", key=f"k{i}") for i in range(4))))
        with pytest.raises(ValueError, match="16 bytes"):
            await api.create_menu(Menu((MenuButton("一二三四五六", key="k"),)))
        platform.fake.fail_next("menu/create", 40018)
        with pytest.raises(WeChatError) as raised:
            await api.create_menu(menu)
        assert raised.value.errcode == 40018


def decode_png(png: bytes) -> tuple[int, int, list[list[bool]]]:
    """Width, height and dark pixels of a greyscale PNG (bit depth 1 or 8, any filter)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        assert struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])[0] == zlib.crc32(
            kind + body
        )
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert color == 0 and depth in (1, 8)
    stride = (width * depth + 7) // 8
    raw, rows, prev = zlib.decompress(idat), [], bytearray(stride)
    for y in range(height):
        ftype, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        bpp = max(1, depth // 8)
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            pred = {
                0: 0,
                1: a,
                2: b,
                3: (a + b) // 2,
                4: min((a, b, c), key=lambda p: abs(a + b - c - p)),
            }[ftype]
            line[i] = (line[i] + pred) & 0xFF
        prev = line
        if depth == 1:
            rows.append([not (line[x // 8] >> (7 - x % 8)) & 1 for x in range(width)])
        else:
            rows.append([line[x] < 128 for x in range(width)])
    return width, height, rows


async def test_parametric_qr_code_png_and_scans(platform: Platform) -> None:
    fake, recorder = platform.fake, platform.recorder
    async with platform.api() as api:
        ticket = await api.create_qrcode("station-7")
        assert ticket.expire_seconds is None and ticket.url.startswith("http://weixin.qq.com/q/")
        assert (await api.create_qrcode("station-7")).url == ticket.url  # one code per scene
        temporary = await api.create_qrcode("visit-1", expire_seconds=600)
        assert temporary.expire_seconds == 600
        with pytest.raises(ValueError):
            await api.create_qrcode("x" * 65)
    png = qr_png(ticket.url, scale=4, border=2)
    width, height, pixels = decode_png(png)
    modules = qr_modules(ticket.url)
    side = len(modules)
    assert width == height == (side + 4) * 4
    assert [
        [pixels[(2 + r) * 4 + 1][(2 + c) * 4 + 1] for c in range(side)] for r in range(side)
    ] == modules
    assert not any(pixels[0]) and not any(row[0] for row in pixels)  # a light quiet zone

    await fake.scan(platform.openid, ticket.url)
    scan = recorder.seen[-1]
    assert (
        isinstance(scan, ScanEvent) and scan.scene == "station-7" and scan.ticket == ticket.ticket
    )
    newcomer = fake.add_user(followed=False)
    await fake.scan(newcomer, ticket.url)
    follow = recorder.seen[-1]
    assert isinstance(follow, SubscribeEvent) and follow.scene == "station-7"


async def test_media_download_video_link_and_expiry(platform: Platform) -> None:
    fake, recorder = platform.fake, platform.recorder
    photo = make_png(40, 30)
    await fake.send_image(platform.openid, photo)
    await fake.send_video(platform.openid)
    image = next(i for i in recorder.seen if isinstance(i, ImageMessage))
    video = next(i for i in recorder.seen if isinstance(i, VideoMessage))
    async with platform.api() as api:
        media = await api.download_media(image.media_id)
        assert isinstance(media, Media)
        assert media.content == photo and media.content_type == "image/jpeg"
        assert media.filename == f"{image.media_id}.jpg"
        link = await api.download_media(video.media_id)
        assert isinstance(link, VideoLink) and link.url.startswith(fake.url)
        fake.advance(3 * 24 * HOUR + 1)
        with pytest.raises(WeChatError) as raised:
            await api.download_media(image.media_id)
        assert raised.value.errcode == 40007


async def test_upload_then_send_an_image(platform: Platform) -> None:
    async with platform.api() as api:
        uploaded = await api.upload_media("image", make_png(20, 20), "chart.png", "image/png")
        assert uploaded.kind == "image" and uploaded.created_at > 0
        assert await api.send_image(platform.openid, uploaded.media_id) == Delivered("")
        with pytest.raises(WeChatError) as raised:
            await api.upload_media("image", b"x" * (2 * 1024 * 1024 + 1), "big.jpg", "image/jpeg")
        assert raised.value.errcode == 40009
        missing = await api.send_image(platform.openid, "no-such-media")
        assert isinstance(missing, Permanent) and "40007" in missing.reason
    (delivery,) = platform.fake.deliveries(platform.openid, "custom")
    assert (delivery.kind, delivery.media_id) == ("image", uploaded.media_id)
    assert platform.fake.media(uploaded.media_id).content_type == "image/png"
