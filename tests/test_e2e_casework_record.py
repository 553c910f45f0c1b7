"""代录 and phone 回访 end to end, through the real process and the fake Bot API; on the way, what
users see of issue 15's fixes: the expected date, used keyboards removed, a stale press answered.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.botproc import TOKEN, BotProcess
from tests.fakebot import FakeBotApi
from tests.test_e2e_casework import Chat, query

ADMIN, STAFF, REP, RESIDENT = 900, 901, 500, 101
STAFF_GROUP = -1001
TEXT = "楼道的灯坏了一个多月，晚上老人上下楼看不见，希望尽快修好。"


def setup(c: Chat) -> None:
    c.say(ADMIN, "/bind_staff", chat=STAFF_GROUP)
    c.say(STAFF, "/start")
    c.say(ADMIN, f"/add_staff {STAFF}")
    c.say(STAFF, "/invite")
    code = re.search(r"/join (\w+)", c.last(STAFF, "邀请码")["text"])
    assert code
    c.say(REP, f"/join {code.group(1)}")


def assign(c: Chat, ref: str) -> None:
    card = c.last(STAFF_GROUP, ref)
    c.press(STAFF, card, "交办", chat=STAFF_GROUP)
    c.press(STAFF, c.last(STAFF_GROUP, ref), "刘代表", chat=STAFF_GROUP)
    c.press(STAFF, c.last(STAFF_GROUP, ref), "✅", chat=STAFF_GROUP)  # the preselected kind


def test_record_phone_revisit_and_claim(tmp_path: Path, bot_db: str) -> None:
    with FakeBotApi(TOKEN) as fake:
        for uid, name in ((ADMIN, "站长"), (STAFF, "小张"), (REP, "刘代表"), (RESIDENT, "王阿姨")):
            fake.add_user(uid, name)
        fake.add_group(STAFF_GROUP, "工作人员群")
        bot = BotProcess(
            fake.base_url,
            tmp_path,
            admin_ids=str(ADMIN),
            extra_env={"LIAISON_CLOCK_START": "2026-09-28T10:00:00+08:00"},
            database_url=bot_db,
        ).polling(fake)
        try:
            c = Chat(fake)
            setup(c)

            # 1. A phone call: staff record it in the staff group.
            c.say(STAFF, f"/record 张大爷 13800001111 {TEXT}", chat=STAFF_GROUP)
            receipt = c.last(STAFF_GROUP, "已代录")["text"]
            ref = re.search(r"LL-2026-\d{5}", receipt)
            assert ref and "认领码" in receipt
            assert "张大爷" in c.last(STAFF_GROUP, "新意见")["text"]
            assign(c, ref.group(0))

            # 2. The representative signs and closes; the A/B/C/D menu loses its keyboard.
            task = c.last(REP, "交办事项")
            assert "13800001111" not in task["text"]
            c.press(REP, task, "签收")
            c.press(REP, c.last(REP, "交办事项"), "办结")
            menu = c.last(REP, "哪一类")
            c.press(REP, menu, "A 已解决")
            menu = c.last(REP, "办结类别：A")
            assert not menu["message"].get("reply_markup")
            answers = len(fake.callback_answers)
            data = task["message"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
            c.say(REP, "已更换楼道灯，晚上亮了。")
            # The task card is edited: done, no more buttons; a stale press changes nothing.
            card = next(m for m in fake.messages(REP) if m["message_id"] == task["message_id"])
            assert "已办结" in card["text"] and not card["message"].get("reply_markup")
            c.press_data(REP, card, data)
            stale = fake.callback_answers[answers:]
            assert stale and "已结束" in (stale[-1].get("text") or "")

            # 3. Nobody to tell in a chat: a call item for staff; one tap records the answer.
            item = c.last(STAFF_GROUP, "电话回访")
            assert "13800001111" in item["text"]
            c.press(STAFF, item, "满意", chat=STAFF_GROUP)
            assert "小张 记录" in c.last(STAFF_GROUP, "电话回访")["text"]
            rows = query(bot_db, "select value, recorded_by_id is not null from ratings")
            assert [(v, bool(b)) for v, b in rows] == [("satisfied", True)]
            assert query(bot_db, "select status from opinions") == [("rated",)]

            # 4. A walk-in resident claims her case with the code on the paper receipt.
            c.say(STAFF, f"/record 王阿姨 {TEXT}（三号楼）", chat=STAFF_GROUP)
            receipt = c.last(STAFF_GROUP, "已代录 王阿姨")["text"]
            found = re.search(r"(LL-2026-\d{5})\s+认领码\s+(\d{6})", receipt)
            assert found, receipt
            c.say(RESIDENT, f"/start {found.group(1)} {found.group(2)}")
            assert "已认领" in c.last(RESIDENT, found.group(1))["text"]
            assign(c, found.group(1))
            told = c.last(RESIDENT, "已交办给")["text"]
            assert "预计" in told and "前给您答复" in told  # the expected date
            c.say(RESIDENT, f"/status {found.group(1)}")
            assert "预计答复" in c.last(RESIDENT, "状态")["text"]
        finally:
            bot.stop()
