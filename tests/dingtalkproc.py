"""The real `liaison-bot run` serving Telegram (tests/fakebot) and DingTalk (tests/fakedingtalk)
side by side, and helpers to act as DingTalk people and read what the bot sent them."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

from tests.botproc import BotProcess, wait_while_alive
from tests.fakebot import FakeBotApi
from tests.fakedingtalk import FakeDingTalk

JSON = dict[str, Any]
TEMPLATE = "liaison.card.v1.schema"


def dingtalk_env(fake: FakeDingTalk, *, template: str = TEMPLATE, **extra: str) -> dict[str, str]:
    return {
        "DINGTALK_CLIENT_ID": fake.client_id,
        "DINGTALK_CLIENT_SECRET": fake.client_secret,
        "DINGTALK_API_BASE_URL": fake.url,
        "DINGTALK_OAPI_BASE_URL": fake.url,
        "DINGTALK_CARD_TEMPLATE_ID": template,
        **extra,
    }


def start_both(
    tg: FakeBotApi,
    dt: FakeDingTalk,
    workdir: Path,
    *,
    admin_ids: str,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    template: str = TEMPLATE,
) -> BotProcess:
    """Start the bot against both fakes; return once it polls Telegram and holds a Stream."""
    bot = BotProcess(
        tg.base_url,
        workdir,
        admin_ids=admin_ids,
        database_url=database_url,
        extra_env={**dingtalk_env(dt, template=template), **(extra_env or {})},
    ).polling(tg)
    wait_stream(dt, bot)
    return bot


def wait_stream(dt: FakeDingTalk, bot: BotProcess, timeout: float = 60) -> None:
    def connected() -> bool:
        return dt.open_connections > 0

    what = "the bot did not open a DingTalk Stream connection"
    try:
        wait_while_alive(dt.wait_for, connected, bot.alive, timeout, what)
    except RuntimeError:
        raise RuntimeError("the bot exited:\n" + bot.log()[-3000:]) from None


def text_of(record: JSON) -> str:
    """What a DingTalk person reads in one thing the bot sent (NFKC folds the escaping back)."""
    if record["api"] == "card":
        data = record["data"]
        text = data.get("markdown", "") + "\n" + data.get("status", "")
    elif record["api"] == "customRobot":
        body = record["body"]
        inner = body.get(body.get("msgtype"), {})
        text = inner.get("text") or inner.get("content") or ""
    else:
        params = record["params"]
        text = params.get("content") or params.get("text") or json.dumps(params)
    return unicodedata.normalize("NFKC", text).replace("  \n", "\n").replace("**", "")


def buttons(record: JSON) -> list[str]:
    if record["api"] != "card":
        return []
    return [b["text"] for b in json.loads(record["data"].get("buttons", "[]"))]


class DingTalkPeople:
    """Act as DingTalk users: say things, press card buttons, wait for the bot's answers."""

    def __init__(self, fake: FakeDingTalk, timeout: float = 30.0) -> None:
        self.fake = fake
        self.timeout = timeout

    def conv(self, who: str | None = None, group: str | None = None) -> str:
        return f"group:{group}" if group else f"user:{who}"

    def say(self, who: str, text: str, group: str | None = None, at: tuple[str, ...] = ()) -> str:
        """Send and wait until the bot has handled it (its Stream ACK); returns the msgId."""
        frame = self.fake.send_text(who, text, group=group, at=at)
        self._acked(frame["headers"]["messageId"])
        return str(json.loads(frame["data"])["msgId"])

    def press(self, who: str, record: JSON, label: str) -> None:
        """Press the button of the card (as it is now) whose text contains ``label``."""
        card = self.fake.card(record["outTrackId"])
        found = [b for b in json.loads(card["data"].get("buttons", "[]")) if label in b["text"]]
        assert found, (label, buttons(card))
        frame = self.fake.press(who, record["outTrackId"], found[0]["payload"])
        self._acked(frame["headers"]["messageId"])

    def press_payload(self, who: str, record: JSON, payload: str) -> None:
        frame = self.fake.press(who, record["outTrackId"], payload)
        self._acked(frame["headers"]["messageId"])

    def _acked(self, message_id: str) -> None:
        self.fake.wait_for(
            lambda: self.fake.frame(message_id)["state"] in ("acked", "failed"), self.timeout
        )
        assert self.fake.frame(message_id)["state"] == "acked", self.fake.frame(message_id)

    def records(self, conv: str, since: int = 0) -> list[JSON]:
        return [r for r in self.fake.messages(conv) if r["seq"] > since]

    def texts(self, conv: str, since: int = 0) -> list[str]:
        return [text_of(r) for r in self.records(conv, since)]

    def wait(self, conv: str, contains: str, since: int = 0) -> JSON:
        """The newest record in ``conv`` whose text contains ``contains`` (waits for it)."""

        def find() -> JSON:
            for record in reversed(self.records(conv, since)):
                if contains in text_of(record):
                    return record
            return {}

        try:
            return self.fake.wait_for(find, self.timeout)
        except TimeoutError:
            seen = "\n---\n".join(self.texts(conv))
            raise AssertionError(f"no {contains!r} in {conv}; it has:\n{seen}") from None

    def mark(self) -> int:
        records = self.fake.messages()
        return max((r["seq"] for r in records), default=0)
