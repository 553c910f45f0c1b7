"""A fake Telegram Bot API server for end-to-end tests (see :class:`FakeBotApi`).

Tests must never talk to Telegram: the bot under test is pointed at this server through
``base_url``/``base_file_url`` and the test plays the users through the control API::

    with FakeBotApi() as fake:                      # background thread, OS-chosen port
        fake.add_user(101, "王阿姨")
        fake.add_group(-1001, "工作人员群")
        bot = BotProcess(fake.base_url, tmp_path).start()   # or ApplicationBuilder().base_url(...)
        mark = fake.mark()
        fake.send_text(101, "/start")
        reply = fake.wait_for_message(101, since=mark)      # wakes on the bot's sendMessage
        fake.press(101, reply, label="提交意见")            # callback_query update
        fake.wait_until_idle()

In async tests whose event loop also runs the bot, use the ``*_async`` waits (or
``async with FakeBotApi() as fake`` to serve from that same loop).
"""

from .html_check import HtmlParseError, ParsedText, html_to_text, parse_html, utf16_len
from .server import (
    DEFAULT_TOKEN,
    ApiError,
    FakeBotApi,
    FloodLimits,
    StoredFile,
    detect_entities,
    image_size,
    make_png,
    member_json,
)

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "FakeBotApi",
    "FloodLimits",
    "HtmlParseError",
    "ParsedText",
    "StoredFile",
    "detect_entities",
    "html_to_text",
    "image_size",
    "make_png",
    "member_json",
    "parse_html",
    "utf16_len",
]
