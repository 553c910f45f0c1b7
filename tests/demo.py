"""`make demo`: the real bot against the tests' Bot API server, playing a scripted conversation.

No token and no network: residents, staff and a representative are played through the fake
server, and the transcript is printed the way a chat app would show it.
"""

from __future__ import annotations

import re
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from tests import demo_wechat
from tests.botproc import TOKEN, BotProcess, wait_started
from tests.fakebot import FakeBotApi
from tests.fakewechat import FakeWeChat
from tests.wechatproc import endpoint_env

ADMIN, STAFF, REP, RESIDENT = 900, 901, 500, 101
STAFF_GROUP = -1001
NAMES = {ADMIN: "站长老陈", STAFF: "工作人员小张", REP: "刘代表", RESIDENT: "王阿姨"}
CHATS = {
    STAFF_GROUP: "工作人员群",
    ADMIN: "站长老陈",
    STAFF: "小张",
    REP: "刘代表",
    RESIDENT: "王阿姨",
}


def show_user(chat: int, user: int, text: str) -> None:
    where = CHATS[chat]
    print(f"\n【{where}】{NAMES[user]}：")
    print(textwrap.indent(text, "    "))


def show_bot(record: dict[str, Any]) -> None:
    where = CHATS.get(record["chat_id"], str(record["chat_id"]))
    print(f"\n【{where}】🤖 联络站助手：")
    print(textwrap.indent(record["text"], "    "))
    markup = record.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or []
    for row in rows:
        print("    " + "  ".join(f"[{b['text']}]" for b in row))


class Script:
    def __init__(self, fake: FakeBotApi) -> None:
        self.fake = fake
        self.printed = fake.mark()

    def flush(self) -> None:
        self.fake.wait_until_idle(timeout=30, quiet=0.6)
        changed = [r for r in self.fake.messages() if r["version"] > self.printed]
        for record in sorted(changed, key=lambda r: r["version"]):
            if record["seq"] <= self.printed:
                record = {**record, "text": "（修改了上面的消息）\n" + record["text"]}
            show_bot(record)
        self.printed = self.fake.mark()

    def say(self, user: int, text: str, chat: int | None = None) -> None:
        self.flush()
        show_user(chat or user, user, text)
        self.fake.send_text(user, text, chat_id=chat)
        self.flush()

    def press(self, user: int, record: dict[str, Any], label: str, chat: int | None = None) -> None:
        self.flush()
        show_user(chat or user, user, f"（点按钮 [{label}]）")
        self.fake.press(user, record, label=label, chat_id=chat)
        self.flush()

    def reply(self, user: int, record: dict[str, Any], text: str, chat: int) -> None:
        self.flush()
        show_user(chat, user, f"（回复）{text}")
        self.fake.send_text(user, text, chat_id=chat, reply_to=record["message_id"])
        self.flush()

    def last(self, chat: int, contains: str) -> dict[str, Any]:
        for record in reversed(self.fake.messages(chat)):
            if contains in record["text"]:
                return record
        raise LookupError(f"no message with {contains!r} in {chat}")


def main() -> int:
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeBotApi(TOKEN) as fake,
        FakeWeChat(mode="safe") as wx,
    ):
        for uid, name in NAMES.items():
            fake.add_user(uid, name)
        fake.add_group(STAFF_GROUP, "联络站工作人员群")
        print("启动真实的机器人进程（liaison-bot run），连接测试用 Bot API 服务器 …")
        bot = BotProcess(
            fake.base_url, Path(tmp), admin_ids=str(ADMIN), extra_env=endpoint_env(wx)
        ).start()
        try:
            try:
                wait_started(fake, bot.alive)
            except (TimeoutError, RuntimeError):
                print(bot.log(), file=sys.stderr)
                return 1
            s = Script(fake)
            s.say(ADMIN, "/bind_staff", chat=STAFF_GROUP)
            s.say(STAFF, "/start")
            s.say(ADMIN, f"/add_staff {STAFF}")
            s.say(STAFF, "/invite")
            code = re.search(r"/join (\w+)", s.last(STAFF, "邀请码")["text"])
            assert code
            s.say(REP, f"/join {code.group(1)}")
            s.say(RESIDENT, "/start")
            s.say(RESIDENT, "我们小区没有老年食堂，老人吃饭很不方便，希望社区能办一个助餐点。")
            s.press(RESIDENT, s.last(RESIDENT, "受理编号"), "补充说明")
            s.say(RESIDENT, "小区里80岁以上的老人有60多个，很多是独居。")
            card = s.last(STAFF_GROUP, "新意见")
            s.press(STAFF, card, "确认分类", chat=STAFF_GROUP)
            s.press(STAFF, card, "交办", chat=STAFF_GROUP)
            s.press(STAFF, s.last(STAFF_GROUP, "新意见"), "刘代表", chat=STAFF_GROUP)
            s.press(STAFF, s.last(STAFF_GROUP, "新意见"), "15个工作日", chat=STAFF_GROUP)
            task = s.last(REP, "交办事项")
            s.press(REP, task, "签收")
            s.press(REP, task, "反馈进展")
            s.say(REP, "已和街道对接，选址在社区服务中心一楼。")
            s.press(REP, task, "办结")
            s.press(REP, s.last(REP, "哪一类"), "A 已解决")
            s.say(REP, "助餐点已开业，每天中午供应热饭，80岁以上老人每餐补贴3元。")
            s.press(RESIDENT, s.last(RESIDENT, "已办结"), "满意")
            s.say(RESIDENT, "/my")
            s.flush()
            demo_wechat.run(s, wx, STAFF, REP, STAFF_GROUP)
        finally:
            bot.stop()
    print("\n演示结束。")
    return 0


if __name__ == "__main__":
    sys.exit(main())
