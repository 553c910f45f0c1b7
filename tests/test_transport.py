"""bot/transport.py: PTB's Bot over aiohttp, against the fake Bot API server (real HTTP).

Everything above the transport (error classes from status codes, RetryAfter, uploads) must
behave exactly as with PTB's default httpx transport.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.transport import AiohttpRequest, make_request
from tests.fakebot import FakeBotApi, make_png
from tests.localhttp import serve_post

RES = 1001
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with FakeBotApi() as server:
        server.add_user(RES, "王阿姨", "wang_ayi")
        yield server


@pytest.fixture
async def bot(fake: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(
        fake.token,
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        request=AiohttpRequest(),
        get_updates_request=AiohttpRequest(connection_pool_size=1),
    ) as b:
        yield b


async def test_text_with_html_and_keyboard_round_trips(bot: Bot, fake: FakeBotApi) -> None:
    me = await bot.get_me()
    assert me.is_bot
    kb = InlineKeyboardMarkup([[InlineKeyboardButton("撤回", callback_data="o:w:1")]])
    sent = await bot.send_message(
        RES, "已受理 <b>LL-2026-00001</b> &amp; 谢谢", parse_mode=ParseMode.HTML, reply_markup=kb
    )
    record = fake.last_message(RES)
    assert record is not None and record["message_id"] == sent.message_id
    assert record["text"] == "已受理 LL-2026-00001 & 谢谢"
    assert record["reply_markup"] == kb.to_dict()


async def test_uploads_go_as_multipart(bot: Bot, fake: FakeBotApi) -> None:
    data = "受理编号,主题\nLL-2026-00001,居家社区养老\n".encode()
    doc = await bot.send_document(RES, data, filename="台账.csv", caption="<b>台账</b>")
    assert doc.document is not None
    stored = fake.file(doc.document.file_id)
    assert stored.data == data and stored.file_name == "台账.csv"
    png = make_png(64, 32)
    photo = await bot.send_photo(RES, png, caption="简报")
    assert fake.file(photo.photo[-1].file_id).data == png


async def test_api_errors_keep_their_ptb_classes(bot: Bot, fake: FakeBotApi) -> None:
    with pytest.raises(BadRequest, match="parse entities"):
        await bot.send_message(RES, "<b>没关上", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="too long"):
        await bot.send_message(RES, "长" * 4097)
    fake.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(RES, "限流")
    assert caught.value.retry_after in (7, 7.0) or caught.value.retry_after.total_seconds() == 7  # type: ignore[union-attr]
    fake.block(RES)
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(RES, "您好")


async def test_unreachable_server_is_a_network_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket is closed
    request = AiohttpRequest(connect_timeout=2)
    await request.initialize()
    try:
        with pytest.raises(NetworkError):
            await request.post(f"http://127.0.0.1:{port}/bot123:abc/getMe")
    finally:
        await request.shutdown()


async def test_slow_answer_is_timed_out() -> None:
    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({"ok": True, "result": True})

    request = AiohttpRequest()
    await request.initialize()
    try:
        async with serve_post("/{tail:.*}", slow) as url:
            with pytest.raises(TimedOut):
                await request.post(f"{url}/bot1:a/getMe", read_timeout=0.2)
    finally:
        await request.shutdown()


async def test_plain_calls_go_as_one_json_body() -> None:
    """No files: one application/json body, nested objects as objects (not JSON in a string)."""
    seen: list[tuple[str, str, bytes]] = []
    me = {"id": 1, "is_bot": True, "first_name": "联络站", "username": "liaison_bot"}

    async def capture(request: web.Request) -> web.Response:
        seen.append((request.path, request.content_type, await request.read()))
        if request.path.endswith("/getMe"):
            return web.json_response({"ok": True, "result": me})
        chat = {"id": RES, "type": "private", "first_name": "王阿姨"}
        message = {"message_id": 7, "date": 0, "chat": chat, "from": me, "text": "已受理 & 谢谢"}
        return web.json_response({"ok": True, "result": message})

    kb = InlineKeyboardMarkup([[InlineKeyboardButton("补充说明", callback_data="o:d:1")]])
    async with (
        serve_post("/{tail:.*}", capture) as url,
        Bot("1:a", base_url=f"{url}/bot", request=AiohttpRequest()) as b,
    ):
        sent = await b.send_message(
            RES, "<b>已受理</b> &amp; 谢谢", parse_mode=ParseMode.HTML, reply_markup=kb
        )
    assert sent.message_id == 7
    path, ctype, body = seen[-1]
    assert path.endswith("/sendMessage") and ctype == "application/json"
    assert json.loads(body) == {
        "chat_id": RES,
        "text": "<b>已受理</b> &amp; 谢谢",
        "parse_mode": "HTML",
        "reply_markup": kb.to_dict(),
    }


async def test_not_initialized_and_shutdown_twice() -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/x", "POST")
    await request.initialize()
    await request.shutdown()
    await request.shutdown()  # idempotent, as PTB may call it again on exit


def test_httpx_stays_available() -> None:
    from telegram.request import HTTPXRequest

    assert isinstance(make_request("httpx", 4), HTTPXRequest)
    assert isinstance(make_request("aiohttp", 4), AiohttpRequest)
