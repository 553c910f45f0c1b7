"""A fake WeChat official-account platform for tests (see :class:`FakeWeChat`).

Tests never talk to WeChat: the bot's API client is pointed at :attr:`FakeWeChat.api_base_url`
and the fake pushes residents' messages to the bot's endpoint (:attr:`FakeWeChat.bot_url`)::

    async with FakeWeChat(mode="safe") as fake:            # serves from the test's loop
        fake.bot_url = endpoint_url                        # the bot's 服务器配置 URL
        openid = fake.add_user()
        push = await fake.send_text(openid, "楼道灯坏了")   # signed, encrypted, retried like WeChat
        assert push.reply and push.reply.text.startswith("已收到")
        await fake.wait_for_delivery(openid, channel="custom")   # wakes on the bot's API call

``with FakeWeChat() as fake`` serves from a background thread instead; then use
``fake.run(fake.send_text(...))`` and ``fake.wait_for_sync(...)`` from synchronous code.
"""

from .protocol import decrypt, encrypt, from_xml, sha1_signature, to_xml
from .server import (
    DEFAULT_AES_KEY,
    DEFAULT_APP_ID,
    DEFAULT_ORIGINAL_ID,
    DEFAULT_SECRET,
    DEFAULT_TOKEN,
    ERRMSG,
    Attempt,
    Delivery,
    FakeWeChat,
    PushResult,
)

__all__ = [
    "DEFAULT_AES_KEY",
    "DEFAULT_APP_ID",
    "DEFAULT_ORIGINAL_ID",
    "DEFAULT_SECRET",
    "DEFAULT_TOKEN",
    "ERRMSG",
    "Attempt",
    "Delivery",
    "FakeWeChat",
    "PushResult",
    "decrypt",
    "encrypt",
    "from_xml",
    "sha1_signature",
    "to_xml",
]
