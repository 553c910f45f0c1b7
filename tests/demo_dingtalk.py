"""`make demo`, DingTalk part: one real bot process serving both channels. The resident writes on
Telegram (tests/fakebot); the staff group and the representative work in DingTalk
(tests/fakedingtalk, over the Stream WebSocket and the OpenAPI). The transcript shows both.
"""

from __future__ import annotations

import re
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from tests.botproc import TOKEN
from tests.dingtalkproc import DingTalkPeople, buttons, start_both, text_of
from tests.fakebot import FakeBotApi
from tests.fakedingtalk import FakeDingTalk

ADMIN, STAFF, REP = "20001", "20002", "20003"
RESIDENT = 101
STAFF_GROUP = "cidDemoStaff=="
NAMES = {ADMIN: "站长老陈", STAFF: "工作人员小张", REP: "刘代表"}
WHERE = {
    f"group:{STAFF_GROUP}": "钉钉·工作人员群",
    f"user:{STAFF}": "钉钉·小张",
    f"user:{REP}": "钉钉·刘代表",
}


class Script:
    def __init__(self, tg: FakeBotApi, dt: FakeDingTalk) -> None:
        self.tg, self.dt, self.p = tg, dt, DingTalkPeople(dt)
        self.tg_mark = tg.mark()
        self.dt_seen: dict[str, str] = {}

    def flush(self) -> None:
        # Longer than the 1/s pacing of a private chat, so a burst to one person is seen whole.
        self.tg.wait_until_idle(timeout=30, quiet=1.2)
        for record in self.tg.messages():
            if record["version"] > self.tg_mark and record["chat_id"] == RESIDENT:
                print("\n【Telegram·王阿姨】🤖 联络站助手：")
                print(textwrap.indent(record["text"], "    "))
        self.tg_mark = self.tg.mark()
        for record in sorted(self.dt.messages(), key=lambda r: r["seq"]):
            key = str(record.get("outTrackId") or record.get("processQueryKey") or record["seq"])
            shown = text_of(record) + "|" + "|".join(buttons(record))
            if self.dt_seen.get(key) == shown:
                continue
            edited = key in self.dt_seen
            self.dt_seen[key] = shown
            where = WHERE.get(record["conversation"], record["conversation"])
            print(f"\n【{where}】🤖 联络站助手{'（卡片更新）' if edited else ''}：")
            print(textwrap.indent(text_of(record).strip() or "（图片/文件）", "    "))
            if buttons(record):
                print("    " + "  ".join(f"[{b}]" for b in buttons(record)))

    def say(self, who: str, text: str, group: bool = False, at: tuple[str, ...] = ()) -> None:
        self.flush()
        where = WHERE[f"group:{STAFF_GROUP}"] if group else WHERE[f"user:{who}"]
        mentions = "".join(f" @{NAMES[u]}" for u in at)
        print(f"\n【{where}】{NAMES[who]}：\n    {'@联络站助手 ' if group else ''}{text}{mentions}")
        self.p.say(who, text, group=STAFF_GROUP if group else None, at=at)
        self.flush()

    def press(self, who: str, record: dict[str, Any], label: str) -> None:
        self.flush()
        print(f"\n【{WHERE[record['conversation']]}】{NAMES[who]}：（点按钮 [{label}]）")
        self.p.press(who, record, label)
        self.flush()

    def resident(self, text: str, label: str | None = None) -> None:
        self.flush()
        print(
            f"\n【Telegram·王阿姨】王阿姨：\n    {text if label is None else f'（点按钮 [{label}]）'}"
        )
        if label is None:
            self.tg.send_text(RESIDENT, text)
        else:
            record = self.tg.wait_for_message(RESIDENT, lambda m: text in m["text"], timeout=30)
            self.tg.press(RESIDENT, record, label=label)
        self.flush()


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp, FakeBotApi(TOKEN) as tg, FakeDingTalk() as dt:
        tg.add_user(RESIDENT, "王阿姨")
        for staff_id, nick in NAMES.items():
            dt.add_user(staff_id, nick, is_admin=staff_id == ADMIN)
        dt.add_group(STAFF_GROUP, "联络站工作人员群", (ADMIN, STAFF))
        print("启动真实的机器人进程（liaison-bot run），同时连接 Telegram 和钉钉的测试服务器 …")
        try:
            bot = start_both(tg, dt, Path(tmp), admin_ids=f"dingtalk:{ADMIN}")
        except (TimeoutError, RuntimeError) as exc:
            print(exc, file=sys.stderr)
            return 1
        try:
            s = Script(tg, dt)
            s.say(ADMIN, "绑定", group=True)
            s.say(STAFF, "start")
            s.say(ADMIN, "添加工作人员", group=True, at=(STAFF,))
            s.say(STAFF, "生成邀请码")
            code = re.search(r"join ([0-9A-F]{8})", s.p.texts(f"user:{STAFF}")[-1])
            assert code
            s.say(REP, f"加入 {code.group(1)}")
            s.resident("我们小区没有老年食堂，老人吃饭很不方便，希望社区能办一个助餐点。")
            card = s.p.wait(f"group:{STAFF_GROUP}", "新意见")
            s.press(STAFF, card, "确认分类")
            s.press(STAFF, card, "交办")
            s.press(STAFF, card, "刘代表")
            s.press(STAFF, card, "15个工作日")
            task = s.p.wait(f"user:{REP}", "交办事项")
            s.press(REP, task, "签收")
            s.press(REP, task, "反馈进展")
            s.say(REP, "已和街道对接，选址在社区服务中心一楼。")
            s.press(REP, task, "办结")
            s.press(REP, s.p.wait(f"user:{REP}", "哪一类"), "A 已解决")
            s.say(REP, "助餐点已开业，每天中午供应热饭，80岁以上老人每餐补贴3元。")
            s.resident("助餐点已开业", label="满意")
            s.flush()
        finally:
            bot.stop()
    print("\n演示结束（Telegram + 钉钉）。")
    return 0


if __name__ == "__main__":
    sys.exit(main())
