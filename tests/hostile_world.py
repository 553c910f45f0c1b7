"""The station the hostile-input suite plays against: one fake Bot API server and one real
`liaison-bot run` process, set up once (staff group bound, staff, a representative, a resident
with an opinion assigned), and the runner that sends one input and collects what came back."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.kernel.actions import ActionCodec
from tests.botproc import TOKEN, BotProcess
from tests.conftest import reset_pg_schema
from tests.fakebot import FakeBotApi
from tests.test_e2e_casework import query

ADMIN, STAFF, REP, RESIDENT, OUTSIDER = 900, 901, 500, 101, 666
STAFF_GROUP, RESIDENTS_GROUP = -1001, -2002
OPINION = "社区卫生服务站只有一个医生，老人排队量血压要等一上午，希望增加医生。"
CJK = re.compile(r"[\u4e00-\u9fff]")
JSON = dict[str, Any]


@dataclass
class World:
    fake: FakeBotApi
    bot: BotProcess
    db: str
    codec: ActionCodec = field(default_factory=ActionCodec)
    ids: dict[str, int] = field(default_factory=dict)
    records: dict[str, JSON] = field(default_factory=dict)
    next_user: int = 7000
    sentinels: int = 0

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return query(self.db, sql)

    def sign(self, scope: str, action: str, *args: int) -> str:
        return self.codec.encode(scope, action, *args)

    def user(self, name: str) -> int:
        """A fresh user with this display name (each case its own, so state never leaks)."""
        self.next_user += 1
        self.fake.add_user(self.next_user, name)
        return self.next_user

    def settle(self, chat: int, user: int) -> int:
        """Everything sent before now in `chat` has been handled: a /help sent after it is
        answered only once the chat's earlier updates are done (updates of a chat run in order).
        Returns the id of the answer to that /help."""
        mark = self.fake.mark()
        self.sentinels += 1
        if chat == user:  # private replies do not quote: a unique word marks the answer
            token = f"哨兵{self.sentinels}"
            self.fake.send_text(user, f"/status {token}")
            reply = self.fake.wait_for_message(
                chat, lambda r: token in r["text"], timeout=10, since=mark
            )
        else:
            sent = self.fake.send_text(user, "/help", chat_id=chat)
            reply = self.fake.wait_for_message(
                chat, lambda r: r["reply_to"] == sent["message_id"], timeout=10, since=mark
            )
        self.fake.wait_until_idle(timeout=30, quiet=0.05)
        return int(reply["message_id"])

    def say(self, user: int, text: str, chat: int | None = None) -> JSON:
        mark = self.fake.mark()
        sent = self.fake.send_text(user, text, chat_id=chat)
        if chat is None:
            self.fake.wait_for_message(user, timeout=10, since=mark)
        else:
            self.fake.wait_for_message(
                chat, lambda r: r["reply_to"] == sent["message_id"], timeout=10, since=mark
            )
        self.fake.wait_until_idle(timeout=30, quiet=0.05)
        return sent

    def last(self, chat: int, contains: str) -> JSON:
        for record in reversed(self.fake.messages(chat)):
            if contains in record["text"]:
                return record
        raise AssertionError(f"no {contains!r} in chat {chat}:\n{self.fake.describe()}")


@dataclass
class Seen:
    """What one input produced."""

    replies: list[str]  # the bot's messages in the chat (sent or edited), the sentinel's excluded
    answers: list[str]  # callback answers' texts
    failed: list[str]  # Bot API calls the server refused
    errors: list[str]  # log lines of unhandled exceptions

    @property
    def said(self) -> list[str]:
        return [t for t in self.replies + self.answers if t]


def run_input(w: World, act: Callable[[World], Any], chat: int, user: int) -> Seen:
    log_at = len(w.bot.log())
    calls_at = len(w.fake.calls())
    answers_at = len(w.fake.callback_answers)
    mark = w.fake.mark()
    act(w)
    sentinel = w.settle(chat, user)
    replies = [
        r["text"]
        for r in w.fake.messages(chat)
        if r["version"] > mark and r["message_id"] != sentinel
    ]
    answers = [a.get("text") or "" for a in w.fake.callback_answers[answers_at:]]
    failed = [
        f"{c['method']} {c['status']} {c.get('description')}"
        for c in w.fake.calls()[calls_at:]
        if c.get("status") not in (None, 200) and not c.get("cancelled")
    ]
    tail = w.bot.log()[log_at:]
    errors = [line for line in tail.splitlines() if "Traceback" in line or " ERROR " in line]
    return Seen(replies, answers, failed, errors)


def start_world(tmp: Path, engine: str, pg: str | None) -> Iterator[World]:
    if engine == "sqlite":
        db = f"sqlite+aiosqlite:///{tmp / 'liaison.db'}"
    else:
        assert pg is not None
        reset_pg_schema(pg)
        db = pg
    fake = FakeBotApi(TOKEN).start()
    for uid, name in ((ADMIN, "站长"), (STAFF, "小张"), (REP, "刘代表"), (RESIDENT, "王阿姨")):
        fake.add_user(uid, name)
    fake.add_user(OUTSIDER, "路人")
    fake.add_group(STAFF_GROUP, "工作人员群")
    fake.add_group(RESIDENTS_GROUP, "幸福小区居民群")
    bot = BotProcess(
        fake.base_url, tmp, admin_ids=str(ADMIN), database_url=db, extra_env={"LOG_LEVEL": "INFO"}
    ).polling(fake)
    try:
        w = World(fake, bot, db)
        _populate(w)
        yield w
    finally:
        bot.stop()
        fake.stop()


def _populate(w: World) -> None:
    """Staff group, a staff member, a representative, and the resident's opinion assigned."""
    w.say(ADMIN, "/bind_staff", chat=STAFF_GROUP)
    w.say(STAFF, "/start")
    w.say(ADMIN, f"/add_staff {STAFF}")
    w.say(STAFF, "/invite")
    code = re.search(r"/join (\w+)", w.last(STAFF, "邀请码")["text"])
    assert code
    w.say(REP, f"/join {code.group(1)}")
    w.say(RESIDENT, "/start")
    sent = w.say(RESIDENT, OPINION)
    w.ids["source"] = int(sent["message_id"])
    w.records["receipt"] = w.last(RESIDENT, "受理编号")
    secret = w.rows("select value from bot_settings where key = 'action_secret'")[0][0]
    w.codec = ActionCodec(bytes.fromhex(secret))
    w.ids["opinion"] = int(w.rows("select max(id) from opinions")[0][0])
    rep = w.rows(
        f"select user_id from identities where channel = 'telegram' and external_id = '{REP}'"
    )
    w.ids["rep"] = int(rep[0][0])
    deadline = time.monotonic() + 30
    while not [r for r in w.fake.messages(STAFF_GROUP) if "新意见" in r["text"]]:
        assert time.monotonic() < deadline, w.fake.describe()
        w.fake.wait_until_idle(timeout=30, quiet=0.1)
    w.records["card"] = w.last(STAFF_GROUP, "新意见")
    op = w.ids["opinion"]
    w.fake.press(STAFF, w.records["card"], w.sign("t", "dl", op, 1, w.ids["rep"], 3), check=False)
    w.settle(STAFF_GROUP, STAFF)
    w.ids["task"] = int(w.rows("select max(id) from tasks")[0][0])
    w.fake.wait_until_idle(timeout=30, quiet=0.2)
    w.records["task_card"] = w.last(REP, "交办事项")
