"""The real `liaison-bot run` with its WeChat endpoint, against tests/fakewechat and tests/fakebot."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

from tests.fakewechat import (
    DEFAULT_AES_KEY,
    DEFAULT_APP_ID,
    DEFAULT_SECRET,
    DEFAULT_TOKEN,
    Delivery,
    FakeWeChat,
    PushResult,
)
from tests.localhttp import free_port

PROGRESS_TEMPLATE = "TPLprogress0001"
PROGRESS_KEYS = ("character_string1", "thing2", "time3")
CHOICE_RE = re.compile(r"^回复 (\d+)\u3000(.+)$", re.MULTILINE)


def wechat_env(fake: FakeWeChat, port: int, *, templates: bool = True) -> dict[str, str]:
    env = {
        "WECHAT_APP_ID": DEFAULT_APP_ID,
        "WECHAT_APP_SECRET": DEFAULT_SECRET,
        "WECHAT_TOKEN": DEFAULT_TOKEN,
        "WECHAT_BASE_URL": fake.api_base_url,
        "WECHAT_HOST": "127.0.0.1",
        "WECHAT_PORT": str(port),
    }
    if fake.mode != "plain":
        env["WECHAT_ENCODING_AES_KEY"] = fake.encoding_aes_key or DEFAULT_AES_KEY
        env["WECHAT_MODE"] = fake.mode
    if templates:
        fake.add_template(PROGRESS_TEMPLATE, PROGRESS_KEYS)
        env["WECHAT_TEMPLATE_PROGRESS"] = (
            f"{PROGRESS_TEMPLATE};character_string1=ref,thing2=title,time3=when"
        )
    return env


def endpoint_env(fake: FakeWeChat, *, templates: bool = True) -> dict[str, str]:
    """`wechat_env` on a free port, with the fake pushing to the endpoint there."""
    port = free_port()
    fake.bot_url = f"http://127.0.0.1:{port}/wechat"
    return wechat_env(fake, port, templates=templates)


class Resident:
    """A WeChat user of the account, played through the fake platform from synchronous code."""

    def __init__(self, fake: FakeWeChat, nickname: str = "王阿姨") -> None:
        self.fake = fake
        self.openid = fake.add_user(nickname=nickname, followed=False)

    def follow(self, scene: str | None = None) -> PushResult:
        return self.fake.run(self.fake.follow(self.openid, scene))

    def say(self, text: str) -> PushResult:
        return self.fake.run(self.fake.send_text(self.openid, text))

    def photo(self) -> PushResult:
        return self.fake.run(self.fake.send_image(self.openid))

    def sees(
        self, needle: str, since: int, channel: str | None = None, timeout: float = 30
    ) -> Delivery:
        """The first message after `since` that contains `needle` (waits for it)."""
        return self.fake.run(
            self.fake.wait_for_delivery(
                self.openid,
                lambda d: needle in d.text or needle in str(d.data),
                channel=channel,  # type: ignore[arg-type]
                since=since,
                timeout=timeout,
            ),
            timeout=timeout + 5,
        )

    def texts(self, since: int = 0) -> list[str]:
        return [d.text for d in self.fake.deliveries(self.openid) if d.seq > since]


def number_for(text: str, label: str) -> str:
    """The number to reply for the choice whose label contains `label` (exactly one must)."""
    found = [n for n, shown in CHOICE_RE.findall(text) if shown.split()[-1] == label]
    assert len(found) == 1, (label, text)
    return str(found[0])


def rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()
