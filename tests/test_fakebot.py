"""The fake Bot API server, driven by the real python-telegram-bot: shapes, errors and waits.

If PTB parses every answer and raises the same exceptions here as against Telegram, the bot's
end-to-end tests exercise its real error handling without ever touching the network.
"""

from __future__ import annotations

import asyncio
import html
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    ChatMemberRestricted,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MenuButtonCommands,
    ReplyKeyboardMarkup,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.fakebot import (
    FakeBotApi,
    FloodLimits,
    HtmlParseError,
    html_to_text,
    make_png,
    parse_html,
    utf16_len,
)
from tests.localhttp import serve_post

ROOT = Path(__file__).resolve().parent.parent
RES = 1001  # a resident, private chat
GROUP = -1002003004005  # a staff supergroup
OLD_GROUP = -4005  # a basic group

# PTB warns about its own int -> timedelta migration whenever it builds a RetryAfter.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


class ManualClock:
    """A monotonic clock the test moves by hand, so flood windows are exact."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def seconds(value: int | timedelta) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on PTB_TIMEDELTA."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def retry_after(exc: RetryAfter) -> float:
    return seconds(exc.retry_after)


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with FakeBotApi() as server:
        server.add_user(RES, "王阿姨", "wang_ayi")
        server.add_group(GROUP, "联络站工作群")
        yield server


@pytest.fixture
async def bot(fake: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as b:
        yield b


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d)] for t, d in pairs])


# ---------------------------------------------------------------------------- html_check


def test_html_nesting_and_entities_in_utf16() -> None:
    parsed = parse_html(
        "😀 <b>粗<i>斜</i></b> <a href='https://example.org/x?a=1&amp;b=2'>链接</a>"
    )
    assert parsed.text == "😀 粗斜 链接"
    assert parsed.entities == [
        {"offset": 3, "length": 2, "type": "bold"},  # the emoji counts 2 UTF-16 units
        {"offset": 4, "length": 1, "type": "italic"},
        {"offset": 6, "length": 2, "type": "text_link", "url": "https://example.org/x?a=1&b=2"},
    ]
    assert utf16_len("😀a") == 3


def test_html_decodes_only_telegram_entities() -> None:
    assert html_to_text("  &lt;b&gt; &amp; &quot;x&quot; &#39; &#x597D;\n") == '<b> & "x" \' 好'
    # Telegram keeps unknown entities and a bare ">" literally; strict mode calls them bugs.
    assert parse_html("a > b &nbsp; AT&T", strict=False).text == "a > b &nbsp; AT&T"
    for bug in ("a > b", "&nbsp;", "AT&T 公司", "&#0;"):
        with pytest.raises(HtmlParseError):
            parse_html(bug)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("你好<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 6'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("ab <b", "Unclosed start tag at byte offset 3"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ('<a href="x"y">z</a>', 'Empty attribute name in the tag "a" at byte offset 0'),
        ('<tg-emoji emoji-id="abc">👍</tg-emoji>', "Invalid custom emoji identifier specified"),
        # TDLib's own test vectors: byte offsets count UTF-8 bytes of emoji and entities.
        ("🏟 🏟&lt;<abac aba>", 'Unsupported start tag "abac" at byte offset 13'),
        ("🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
        ("🏟 🏟&lt;<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"),
    ],
)
def test_html_errors_word_and_offsets_like_telegram(source: str, reason: str) -> None:
    with pytest.raises(HtmlParseError) as info:
        parse_html(source, strict=False)
    assert info.value.reason == reason
    assert info.value.description == "Bad Request: can't parse entities: " + reason


def test_html_supported_tags() -> None:
    parsed = parse_html(
        '<strong>1</strong><em>2</em><ins>3</ins><del>4</del><span class="tg-spoiler">5</span>'
        '<tg-spoiler>6</tg-spoiler><code>7</code><pre><code class="language-python">8</code></pre>'
        '<blockquote expandable>9</blockquote><tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
    )
    assert parsed.text == "123456789👍"
    kinds = [(e["type"], e.get("language")) for e in parsed.entities]
    assert kinds == [
        ("bold", None),
        ("italic", None),
        ("underline", None),
        ("strikethrough", None),
        ("spoiler", None),
        ("spoiler", None),
        ("code", None),
        ("pre", "python"),
        ("expandable_blockquote", None),
        ("custom_emoji", None),
    ]


# ---------------------------------------------------------------------------- Bot API via PTB


async def test_get_me_and_html_message(bot: Bot, fake: FakeBotApi) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.first_name) == (123456, "liaison_test_bot", "联络站助手")
    msg = await bot.send_message(RES, "<b>已收到</b>，编号 <code>LL-1</code>", parse_mode="HTML")
    assert msg.text == "已收到，编号 LL-1"
    assert [(e.type, e.offset, e.length) for e in msg.entities] == [
        ("bold", 0, 3),
        ("code", 7, 4),
    ]
    assert msg.from_user is not None and msg.from_user.id == me.id
    assert msg.chat.type == "private" and msg.chat.first_name == "王阿姨"
    assert isinstance(msg.date.timestamp(), float)
    record = fake.messages(RES)[0]
    assert record["raw_text"] == "<b>已收到</b>，编号 <code>LL-1</code>"
    assert record["text"] == "已收到，编号 LL-1" and record["method"] == "sendMessage"
    second = await bot.send_message(GROUP, "工作群第一条")
    third = await bot.send_message(RES, "第二条")
    assert (msg.message_id, third.message_id, second.message_id) == (1, 2, 1)  # ids per chat


async def test_bad_html_is_refused_and_not_delivered(bot: Bot, fake: FakeBotApi) -> None:
    with pytest.raises(BadRequest, match="Can't parse entities: unmatched end tag at byte offset"):
        await bot.send_message(RES, "<b>意见</i>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities: unsupported start tag"):
        await bot.send_message(RES, "你好 <br> 再见", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(RES, "1 < 2", parse_mode=ParseMode.HTML)
    assert fake.messages() == []
    assert [c["status"] for c in fake.calls("sendMessage")] == [400, 400, 400]
    # Without parse_mode the same characters are plain text.
    msg = await bot.send_message(RES, "1 < 2 <b>")
    assert msg.text == "1 < 2 <b>"


async def test_lengths_count_utf16_after_parsing(bot: Bot) -> None:
    await bot.send_message(RES, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")  # tags are free
    await bot.send_message(RES, "😀" * 2048)  # 4096 UTF-16 units
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(RES, "😀" * 2048 + "a")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(RES, "a" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(RES, "<b> \n </b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
        await bot.send_document(RES, b"x", filename="a.txt", caption="长" * 1025)


async def test_callback_data_limit_is_64_utf8_bytes(bot: Bot) -> None:
    await bot.send_message(RES, "ok", reply_markup=keyboard(("是", "x" * 64)))
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(RES, "no", reply_markup=keyboard(("是", "x" * 65)))
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(RES, "no", reply_markup=keyboard(("是", "好" * 22)))  # 66 bytes


async def test_blocked_kicked_and_unknown_chats(bot: Bot, fake: FakeBotApi) -> None:
    fake.add_group(OLD_GROUP, "老群", type="group")
    fake.block(RES)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(RES, "提醒")
    fake.block(OLD_GROUP)
    with pytest.raises(Forbidden, match="bot was kicked from the group chat"):
        await bot.send_message(OLD_GROUP, "提醒")
    fake.block(GROUP)
    with pytest.raises(Forbidden, match="bot is not a member of the supergroup chat"):
        await bot.send_message(GROUP, "提醒")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "谁")
    fake.add_user(2002, "没点开始的人", started=False)
    with pytest.raises(Forbidden, match="bot can't initiate conversation"):
        await bot.send_message(2002, "你好")
    fake.unblock(RES)
    await bot.send_message(RES, "恢复")
    assert [m["text"] for m in fake.messages()] == ["恢复"]


async def test_flood_limits_refuse_with_retry_after() -> None:
    clock = ManualClock()
    limits = FloodLimits(global_per_second=3, group_per_minute=2, private_per_second=1)
    async with FakeBotApi(flood=limits, clock=clock) as fake:
        fake.add_user(RES, "王阿姨")
        fake.add_user(1002, "李叔")
        fake.add_group(GROUP, "工作群")
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            await bot.send_message(RES, "1")
            with pytest.raises(RetryAfter) as info:
                await bot.send_message(RES, "2")
            assert retry_after(info.value) == 1
            clock.now += 1.0
            await bot.send_message(RES, "2")

            await bot.send_message(GROUP, "a")
            clock.now += 10
            await bot.send_message(GROUP, "b")
            with pytest.raises(RetryAfter) as info:
                await bot.send_message(GROUP, "c")
            assert retry_after(info.value) == 50  # the first send leaves the window at 60 s

            fake.add_user(1003, "赵姐")
            await bot.send_message(1002, "x")
            await bot.send_message(1003, "z")
            with pytest.raises(RetryAfter) as info:  # 3 per second across all chats
                await bot.send_message(RES, "3")
            assert retry_after(info.value) == 1
        assert fake.count_429 == 3
        assert [m["text"] for m in fake.messages(GROUP)] == ["a", "b"]  # refused = not delivered
        call = fake.calls("sendMessage")[1]
        assert call["status"] == 429 and call["description"] == "Too Many Requests: retry after 1"


async def test_fail_next_injects_one_error(bot: Bot, fake: FakeBotApi) -> None:
    fake.fail_next("sendMessage", 429, retry_after=7)
    fake.fail_next("sendMessage", 502, "Bad Gateway")
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(RES, "a")
    assert retry_after(info.value) == 7
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(RES, "a")
    await bot.send_message(RES, "a")
    assert fake.count_429 == 1
    assert len(fake.messages(RES)) == 1


async def test_long_poll_returns_as_soon_as_an_update_arrives(bot: Bot, fake: FakeBotApi) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=20, allowed_updates=Update.ALL_TYPES))
    await fake.wait_for_async(lambda: fake.waiting_pollers == 1, timeout=5)
    started = time.monotonic()
    sent = fake.send_text(RES, "/start 邀请码123")
    updates = await asyncio.wait_for(poll, 5)
    assert time.monotonic() - started < 2
    assert len(updates) == 1
    message = updates[0].message
    assert message is not None and message.text == "/start 邀请码123"
    assert message.message_id == sent["message_id"]
    assert [(e.type, e.offset, e.length) for e in message.entities] == [("bot_command", 0, 6)]
    assert fake.updates(pending_only=True) != []  # fetched but not confirmed yet
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()
    assert fake.updates(pending_only=True) == []


async def test_second_poller_terminates_the_first(bot: Bot, fake: FakeBotApi) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=20))
    await fake.wait_for_async(lambda: fake.waiting_pollers == 1, timeout=5)
    async with Bot(fake.token, base_url=fake.base_url) as other:
        assert await other.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first


async def test_edit_message_text(bot: Bot, fake: FakeBotApi) -> None:
    markup = keyboard(("采纳", "ok:1"))
    msg = await bot.send_message(RES, "<b>待处理</b>", parse_mode="HTML", reply_markup=markup)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("<b>待处理</b>", RES, msg.message_id, parse_mode="HTML",
                                    reply_markup=markup)  # fmt: skip
    # Same text, different markup is a modification; so is plain vs bold.
    edited = await bot.edit_message_text("待处理", RES, msg.message_id, reply_markup=markup)
    assert isinstance(edited, type(msg)) and edited.entities == () and edited.edit_date
    edited = await bot.edit_message_text("已处理", RES, msg.message_id)
    assert isinstance(edited, type(msg)) and edited.reply_markup is None  # markup dropped
    record = fake.messages(RES)[0]
    assert record["text"] == "已处理" and record["edits"] == 2
    assert record["history"] == ["待处理", "待处理"]
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", RES, 999)
    user_msg = fake.send_text(RES, "我的消息")
    with pytest.raises(BadRequest, match=r"(?i)message can't be edited"):
        await bot.edit_message_text("x", RES, user_msg["message_id"])
    again = await bot.edit_message_reply_markup(RES, msg.message_id, reply_markup=markup)
    assert isinstance(again, type(msg)) and again.reply_markup == markup
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(RES, msg.message_id, reply_markup=markup)
    assert await bot.delete_message(RES, msg.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(RES, msg.message_id)
    assert fake.messages(RES)[0]["deleted"]


async def test_document_round_trip(bot: Bot, fake: FakeBotApi) -> None:
    content = "序号,意见\n1,加装电梯\n".encode()
    msg = await bot.send_document(
        GROUP,
        content,
        filename="台账.csv",
        caption="<b>本周台账</b>",
        parse_mode="HTML",
        reply_markup=keyboard(("收到", "ack")),
    )
    doc = msg.document
    assert doc is not None
    assert (doc.file_name, doc.file_size, doc.mime_type) == ("台账.csv", len(content), "text/csv")
    assert msg.caption == "本周台账" and msg.reply_markup == keyboard(("收到", "ack"))
    assert fake.documents[doc.file_id] == content
    assert fake.messages(GROUP)[0]["document"]["file_name"] == "台账.csv"
    tg_file = await bot.get_file(doc.file_id)
    assert tg_file.file_path is not None and tg_file.file_path.startswith(fake.base_file_url)
    assert bytes(await tg_file.download_as_bytearray()) == content
    resent = await bot.send_document(RES, doc.file_id)  # by file_id, as bots forward files
    assert resent.document is not None and resent.document.file_unique_id == doc.file_unique_id
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_document(RES, "no-such-file-id")


async def test_photos_and_user_media(bot: Bot, fake: FakeBotApi) -> None:
    msg = await bot.send_photo(RES, make_png(1000, 500), caption="统计图")
    sizes = [(p.width, p.height) for p in msg.photo]
    assert sizes[-1] == (1000, 500) and sizes[0] == (90, 45)
    with pytest.raises(BadRequest, match=r"(?i)IMAGE_PROCESS_FAILED"):
        await bot.send_photo(RES, b"not an image")
    sent = fake.send_photo(RES, caption="路灯坏了")
    big = sent["photo"][-1]
    photo_file = await bot.get_file(big["file_id"])
    assert bytes(await photo_file.download_as_bytearray())[:4] == b"\x89PNG"
    voice = fake.send_voice(RES, duration=12)["voice"]
    assert voice["duration"] == 12 and voice["mime_type"] == "audio/ogg"
    doc = fake.send_document(RES, b"%PDF-1.4", "申请.pdf")["document"]
    assert doc["mime_type"] == "application/pdf"
    loc = fake.send_location(RES, 31.23, 121.47)
    assert loc["location"] == {"latitude": 31.23, "longitude": 121.47}
    sticker = fake.send_sticker(RES)
    gif = fake.send_animation(RES)
    updates = await bot.get_updates()
    kinds = [u.message.effective_attachment.__class__.__name__ for u in updates if u.message]
    assert kinds == ["tuple", "Voice", "Document", "Location", "Sticker", "Animation"]
    assert updates[4].message and updates[4].message.message_id == sticker["message_id"]
    assert updates[5].message and updates[5].message.document is not None
    assert gif["animation"]["file_id"] == gif["document"]["file_id"]


async def test_buttons_callbacks_and_answers(bot: Bot, fake: FakeBotApi) -> None:
    await bot.send_message(
        RES, "请评价", reply_markup=keyboard(("满意", "rate:5"), ("不满意", "rate:1"))
    )
    record = fake.wait_for_message(RES)
    query_id = fake.press(RES, record, label="不满意")
    updates = await bot.get_updates()
    query = updates[-1].callback_query
    assert query is not None and query.id == query_id and query.data == "rate:1"
    assert query.message is not None and query.message.message_id == record["message_id"]
    assert await bot.answer_callback_query(query_id, "谢谢评价")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query("123")
    assert fake.callback_answers[0]["text"] == "谢谢评价"
    assert fake.callback_answers[0]["data"] == "rate:1"
    with pytest.raises(KeyError, match="no button"):
        fake.press(RES, record, "rate:9")


async def test_chat_members_parse_for_every_status(bot: Bot, fake: FakeBotApi) -> None:
    expected = {
        "creator": ChatMemberOwner,
        "administrator": ChatMemberAdministrator,
        "member": ChatMemberMember,
        "restricted": ChatMemberRestricted,
        "left": ChatMemberLeft,
        "kicked": ChatMemberBanned,
    }
    for n, (status, cls) in enumerate(expected.items()):
        fake.add_user(3000 + n, f"成员{n}")
        fake.set_member_status(GROUP, 3000 + n, status)
        member = await bot.get_chat_member(GROUP, 3000 + n)
        assert isinstance(member, cls) and member.status == status
    me = await bot.get_chat_member(GROUP, fake.bot_user["id"])
    assert isinstance(me, ChatMemberAdministrator)
    fake.add_user(3100, "新人")
    assert isinstance(await bot.get_chat_member(GROUP, 3100), ChatMemberMember)  # default
    with pytest.raises(BadRequest, match=r"(?i)user not found"):
        await bot.get_chat_member(GROUP, 999999)
    chat = await bot.get_chat(GROUP)
    assert (chat.type, chat.title) == ("supergroup", "联络站工作群")
    admins = await bot.get_chat_administrators(GROUP)
    assert {a.user.id for a in admins} == {fake.bot_user["id"], 3000, 3001}


async def test_commands_menu_actions_and_leaving(bot: Bot, fake: FakeBotApi) -> None:
    staff = [BotCommand("today", "今日待办"), BotCommand("report", "统计")]
    assert await bot.set_my_commands([BotCommand("start", "开始")])
    assert await bot.set_my_commands(staff, scope=BotCommandScopeChat(GROUP), language_code="zh")
    assert await bot.get_my_commands(scope=BotCommandScopeChat(GROUP), language_code="zh") == tuple(
        staff
    )
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    assert fake.my_commands()[0]["command"] == "start"
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Bad-Command", "x")])
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    assert await bot.set_chat_menu_button(RES, MenuButtonCommands())
    assert isinstance(await bot.get_chat_menu_button(RES), MenuButtonCommands)
    assert await bot.send_chat_action(RES, ChatAction.TYPING)
    assert await bot.leave_chat(GROUP)
    with pytest.raises(Forbidden, match="not a member of the supergroup chat"):
        await bot.send_message(GROUP, "还在吗")
    update = (await bot.get_updates())[-1]
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "left"
    assert await bot.log_out() and await bot.close()


async def test_replies_group_joins_and_raw_updates(bot: Bot, fake: FakeBotApi) -> None:
    question = fake.send_text(RES, "请问办事时间？")
    answer = await bot.send_message(
        RES, "工作日 9:00-17:00", reply_parameters=ReplyParameters(question["message_id"])
    )
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.text == "请问办事时间？"
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(RES, "x", reply_parameters=ReplyParameters(999))
    await bot.send_message(RES, "x", reply_markup=ReplyKeyboardMarkup([["提交意见"]]))
    assert fake.messages(RES)[-1]["reply_markup"] == {"keyboard": [[{"text": "提交意见"}]]}
    fake.add_bot_to_group(-1009, "新工作群", by_user=RES, status="administrator")
    fake.send_text(RES, "/bind@liaison_test_bot", chat_id=-1009, reply_to=None)
    fake.inject_raw({"message": {"message_id": 7, "date": 1, "chat": {"id": -77, "type": "group",
                     "title": "外部群"}, "text": "hello"}})  # fmt: skip
    updates = await bot.get_updates()
    joined, command, raw = updates[-3:]
    assert joined.my_chat_member is not None
    assert joined.my_chat_member.new_chat_member.status == "administrator"
    assert command.message is not None and command.message.chat.type == "supergroup"
    assert command.message.entities[0].type == "bot_command"
    assert raw.update_id == command.update_id + 1
    await bot.send_message(-77, "raw updates make chats known")
    assert [u.update_id for u in updates] == sorted(u.update_id for u in updates)


async def test_bot_rights_in_groups(bot: Bot, fake: FakeBotApi) -> None:
    bot_id = fake.bot_user["id"]
    post = fake.send_text(RES, "群里的一条消息", chat_id=GROUP)
    fake.set_member_status(GROUP, bot_id, "member")
    with pytest.raises(BadRequest, match=r"(?i)message can't be deleted"):
        await bot.delete_message(GROUP, post["message_id"])
    own = await bot.send_message(GROUP, "机器人自己的消息")
    assert await bot.delete_message(GROUP, own.message_id)  # its own: always allowed
    fake.set_member_status(GROUP, bot_id, "restricted")
    with pytest.raises(BadRequest, match=r"(?i)not enough rights"):
        await bot.send_message(GROUP, "x")
    fake.set_member_status(GROUP, bot_id, "kicked")
    with pytest.raises(Forbidden, match="not a member of the supergroup chat"):
        await bot.send_message(GROUP, "x")
    edited = fake.edit_text(RES, post["message_id"], "改过的消息", chat_id=GROUP)
    update = (await bot.get_updates())[-1]
    assert update.edited_message is not None and update.edited_message.text == "改过的消息"
    assert edited["edit_date"] >= post["date"]


async def test_outage_restart_keeps_url_and_state(bot: Bot, fake: FakeBotApi) -> None:
    await bot.send_message(RES, "停机前")
    url = fake.base_url
    await asyncio.to_thread(fake.stop)
    with pytest.raises(NetworkError):
        await bot.send_message(RES, "停机中")
    await asyncio.to_thread(fake.start)
    assert fake.base_url == url
    await bot.send_message(RES, "恢复后")
    assert [m["text"] for m in fake.messages(RES)] == ["停机前", "恢复后"]


async def test_wrong_token_and_unknown_method(fake: FakeBotApi) -> None:
    async with Bot(fake.token, base_url=fake.base_url) as good:
        with pytest.raises(EndPointNotFound):
            await good.do_api_request("sendTelepathy")
    with pytest.raises(InvalidToken, match="Unauthorized"):
        await Bot("123456:wrong-token-abcdef", base_url=fake.base_url).get_me()
    async with httpx.AsyncClient() as client:
        resp = await client.get(f"{fake.base_url}{fake.token}/nope")
        assert (resp.status_code, resp.json()) == (
            404,
            {"ok": False, "error_code": 404, "description": "Not Found"},
        )
        # Other clients post JSON bodies; method names are case-insensitive as on Telegram.
        resp = await client.post(
            f"{fake.base_url}{fake.token}/SENDMESSAGE", json={"chat_id": RES, "text": "json"}
        )
        assert resp.json()["result"]["text"] == "json"


async def test_webhook_delivery_with_secret_and_retries(bot: Bot, fake: FakeBotApi) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    failures = [500]  # the first delivery fails, Telegram retries

    async def hook(request: web.Request) -> web.Response:
        if failures:
            return web.Response(status=failures.pop())
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.Response()

    fake.webhook_retry_delay = 0.05
    async with serve_post("/hook", hook) as url:
        assert await bot.set_webhook(f"{url}/hook", secret_token="s3cret")
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        fake.send_text(RES, "一")
        fake.send_text(RES, "二")
        await fake.wait_for_async(lambda: len(received) == 2, timeout=5)
        assert [secret for secret, _ in received] == ["s3cret", "s3cret"]
        assert [u["message"]["text"] for _, u in received] == ["一", "二"]
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 0
        assert (
            info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
        )
        assert await bot.delete_webhook()
        assert await bot.get_updates() == ()


async def test_ptb_application_polling_answers_start(fake: FakeBotApi) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_user is not None
        name = html.escape(update.effective_user.first_name)
        await update.effective_message.reply_text(
            f"您好，<b>{name}</b>！邀请码：{html.escape(' '.join(context.args or []))}",
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(("提交意见", "intake")),
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("请直接输入您的意见")
        await query.edit_message_text("请输入意见：")

    app = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=10)
    try:
        fake.send_text(RES, "/start abc")
        reply = await fake.wait_for_message_async(RES, timeout=5)
        assert reply["text"] == "您好，王阿姨！邀请码：abc"
        fake.press(RES, reply, "intake")
        edited = await fake.wait_for_message_async(RES, lambda m: m["edits"] == 1, timeout=5)
        assert edited["text"] == "请输入意见：" and edited["reply_markup"] is None
        await fake.wait_until_idle_async(timeout=5)
        assert fake.updates(pending_only=True) == []
        assert fake.callback_answers[0]["text"] == "请直接输入您的意见"
    finally:
        started = time.monotonic()
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        assert time.monotonic() - started < 3  # the parked long poll does not hold shutdown
    # The poll PTB abandoned on stop was dropped, not "terminated by other getUpdates" (409).
    assert {c["status"] for c in fake.calls()} <= {200, 499}


async def test_stopping_the_server_releases_long_polls() -> None:
    fake = FakeBotApi().start()
    async with Bot(fake.token, base_url=fake.base_url) as bot:
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await fake.wait_for_async(lambda: fake.waiting_pollers == 1, timeout=5)
        started = time.monotonic()
        await asyncio.to_thread(fake.stop)
        assert await asyncio.wait_for(poll, 5) == ()  # answered (empty) before closing
        assert time.monotonic() - started < 3


async def test_in_loop_server_and_deadlock_guard() -> None:
    async with FakeBotApi() as fake:
        fake.add_user(RES, "王阿姨")
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            await bot.send_message(RES, "同一个事件循环")
        assert (await fake.wait_for_message_async(RES))["text"] == "同一个事件循环"
        with pytest.raises(RuntimeError, match="deadlock"):
            fake.wait_for_message(RES, timeout=1)


def test_sync_waits_wake_on_sends_from_other_threads(fake: FakeBotApi) -> None:
    url = f"{fake.base_url}{fake.token}/sendMessage"

    def send(text: str) -> None:
        httpx.post(url, data={"chat_id": str(RES), "text": text, "parse_mode": "HTML"})

    threading.Thread(target=send, args=("<i>第一条</i>",)).start()
    first = fake.wait_for_message(RES, timeout=5)
    assert first["text"] == "第一条"
    mark = fake.mark()
    threading.Thread(target=send, args=("第二条",)).start()
    second = fake.wait_for_message(RES, lambda m: "二" in m["text"], timeout=5, since=mark)
    assert second["message_id"] == first["message_id"] + 1
    fake.wait_until_idle(timeout=5, quiet=0.05)
    with pytest.raises(TimeoutError, match="第二条") as info:
        fake.wait_for_message(RES, timeout=0.2)  # both were returned already
    assert "no new bot message in chat 1001" in str(info.value)


def test_module_runs_standalone() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakebot", "--port", "0", "--quiet"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().split()
        assert first[0] == "base_url" and first[1].startswith("http://127.0.0.1:")
        resp = httpx.get(f"{first[1]}123456:TEST-token-abcdefghij/getMe", timeout=5)
        assert resp.json()["result"]["username"] == "liaison_test_bot"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
