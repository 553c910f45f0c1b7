"""The whole loop through the real process and the fake Bot API: submit, correct the theme,
assign with 3 working days across National Day, acknowledge, progress, close, 不满意 → reopened,
close again, 满意. Each party receives exactly the messages it should; an outsider changes nothing."""

from __future__ import annotations

import re
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

from tests.botproc import TOKEN, BotProcess
from tests.fakebot import FakeBotApi

ADMIN, STAFF, REP, RESIDENT, OUTSIDER = 900, 901, 500, 101, 666
STAFF_GROUP = -1001
JSON = dict[str, Any]


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Read the bot's database from the test, whichever engine it runs on."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split(":///", 1)[1]) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]
    import asyncio

    import asyncpg

    async def run() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return [tuple(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()

    return asyncio.run(run())


class Chat:
    """Helpers to act as a user and wait for the bot's answers."""

    def __init__(self, fake: FakeBotApi) -> None:
        self.fake = fake

    def say(
        self, user: int, text: str, chat: int | None = None, reply_to: int | None = None
    ) -> None:
        self.fake.send_text(user, text, chat_id=chat, reply_to=reply_to)
        self.fake.wait_until_idle(timeout=30, quiet=0.4)

    def press(self, user: int, record: JSON, label: str, chat: int | None = None) -> None:
        self.fake.press(user, record, label=label, chat_id=chat)
        self.fake.wait_until_idle(timeout=30, quiet=0.4)

    def press_data(self, user: int, record: JSON, data: str, chat: int | None = None) -> None:
        self.fake.press(user, record, data, chat_id=chat, check=False)
        self.fake.wait_until_idle(timeout=30, quiet=0.4)

    def last(self, chat: int, contains: str) -> JSON:
        """The latest message in chat containing the text, waiting for one if none is there yet.

        The fake counts an update as handled once it is confirmed, and the durable inbox
        confirms an update when it is stored, before it is answered: a slow answer (a loaded
        machine, PostgreSQL) can come after `wait_until_idle`'s quiet period."""

        def found() -> JSON | None:
            for record in reversed(self.fake.messages(chat)):
                if contains in record["text"]:
                    return record
            return None

        try:
            record = self.fake.wait_for(found, timeout=30)
        except TimeoutError:
            raise AssertionError(
                f"no message with {contains!r} in chat {chat}:\n{self.fake.describe()}"
            ) from None
        assert record is not None  # wait_for returns only a truthy value
        return record

    def texts(self, chat: int, since: int = 0) -> list[str]:
        return [m["text"] for m in self.fake.messages(chat) if m["seq"] > since]


def test_full_casework_loop(tmp_path: Path, bot_db: str) -> None:
    def rows(_: Path, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(str(v) if isinstance(v, date) else v for v in r) for r in query(bot_db, sql)]

    with FakeBotApi(TOKEN) as fake:
        for uid, name in (
            (ADMIN, "站长"),
            (STAFF, "小张"),
            (REP, "刘代表"),
            (RESIDENT, "王阿姨"),
            (OUTSIDER, "路人"),
        ):
            fake.add_user(uid, name)
        fake.add_group(STAFF_GROUP, "工作人员群")
        # Wednesday 30 September 2026, 10:00 in Beijing: National Day is next.
        bot = BotProcess(
            fake.base_url,
            tmp_path,
            admin_ids=str(ADMIN),
            extra_env={"LIAISON_CLOCK_START": "2026-09-30T10:00:00+08:00"},
            database_url=bot_db,
        ).polling(fake)
        try:
            c = Chat(fake)
            c.say(ADMIN, "/bind_staff", chat=STAFF_GROUP)
            c.say(STAFF, "/start")
            c.say(ADMIN, f"/add_staff {STAFF}")
            c.say(STAFF, "/invite")
            code = re.search(r"/join (\w+)", c.last(STAFF, "邀请码")["text"])
            assert code
            c.say(REP, f"/join {code.group(1)}")
            start = fake.mark()

            # 1. The resident submits; the classifier says 居家社区养老.
            c.say(RESIDENT, "社区卫生服务站只有一个医生，老人排队量血压要等一上午，希望增加医生。")
            receipt = c.last(RESIDENT, "受理编号")
            ref = re.search(r"LL-2026-\d{5}", receipt["text"])
            assert ref
            card = c.last(STAFF_GROUP, "新意见")

            # An outsider forging staff buttons changes nothing.
            op_id = rows(tmp_path, "select id from opinions")[0][0]
            answers = len(fake.callback_answers)
            before = rows(tmp_path, "select status, theme, theme_confirmed from opinions")
            for data in (
                f"t:ok:{op_id}",
                f"t:st:{op_id}:3",
                f"t:dl:{op_id}:1:1:3",
                f"t:rj:{op_id}",
            ):
                c.press_data(OUTSIDER, card, data, chat=STAFF_GROUP)
            refusals = fake.callback_answers[answers:]
            assert len(refusals) == 4 and all("权限" in (a.get("text") or "") for a in refusals)
            assert rows(tmp_path, "select status, theme, theme_confirmed from opinions") == before
            assert before[0][0] == "received" and before[0][2] == 0
            assert rows(tmp_path, "select count(*) from tasks") == [(0,)]

            # 2. Staff set the theme to 人才培育 (a correction: it feeds the training set), then
            # to 医养结合, and assign with 3 working days.
            c.press(STAFF, card, "改分类", chat=STAFF_GROUP)
            c.press(STAFF, c.last(STAFF_GROUP, "新意见"), "人才培育", chat=STAFF_GROUP)
            c.press(STAFF, c.last(STAFF_GROUP, "新意见"), "改分类", chat=STAFF_GROUP)
            c.press(STAFF, c.last(STAFF_GROUP, "新意见"), "医养结合", chat=STAFF_GROUP)
            corrections = rows(tmp_path, "select new_theme from theme_corrections order by id")
            assert corrections[-1] == ("medical_care",) and ("workforce",) in corrections
            assert rows(tmp_path, "select theme, theme_confirmed from opinions") == [
                ("medical_care", 1)
            ]
            c.press(STAFF, c.last(STAFF_GROUP, "新意见"), "交办", chat=STAFF_GROUP)
            c.press(STAFF, c.last(STAFF_GROUP, "新意见"), "刘代表", chat=STAFF_GROUP)
            c.press(STAFF, c.last(STAFF_GROUP, "新意见"), "3个工作日", chat=STAFF_GROUP)
            assigned = c.last(STAFF_GROUP, "已交办")
            # 1–7 Oct are holidays; Thu 8, Fri 9 and the make-up Saturday 10 Oct are working days.
            assert "2026-10-10" in assigned["text"]
            assert rows(tmp_path, "select due_date from tasks") == [("2026-10-10",)]

            # 3. The representative acknowledges, reports progress, closes with code A.
            task = c.last(REP, "交办事项")
            assert "王阿姨" not in task["text"]  # anonymous by default
            c.press(REP, task, "签收")
            task = c.last(REP, "交办事项")
            c.press(REP, task, "反馈进展")
            c.say(REP, "已协调街道卫生院，每周二、四增派一名医生坐诊。")
            c.press(REP, task, "办结")
            c.press(REP, c.last(REP, "哪一类"), "A 已解决")
            c.say(REP, "已增派医生，排队时间缩短到半小时以内。")

            # 4. Not satisfied: the case goes back to staff.
            closed = c.last(RESIDENT, "已办结")
            c.press(RESIDENT, closed, "不满意")
            c.say(RESIDENT, "只增加了两天，其他时间还是排长队。")
            assert rows(tmp_path, "select status, reopen_count from opinions") == [("reopened", 1)]
            reopened = c.last(STAFF_GROUP, "重新办理")

            # 5. Assigned again, closed again, and this time 满意.
            c.press(STAFF, reopened, "交办", chat=STAFF_GROUP)
            c.press(STAFF, c.last(STAFF_GROUP, "重新办理"), "刘代表", chat=STAFF_GROUP)
            c.press(STAFF, c.last(STAFF_GROUP, "重新办理"), "7个工作日", chat=STAFF_GROUP)
            task2 = c.last(REP, "交办事项")
            assert task2["message_id"] != task["message_id"]
            c.press(REP, task2, "签收")
            c.press(REP, c.last(REP, "交办事项"), "办结")
            c.press(REP, c.last(REP, "哪一类"), "A 已解决")
            c.say(REP, "卫生服务站新招聘一名全科医生，工作日每天坐诊。")
            c.press(RESIDENT, c.last(RESIDENT, "新招聘"), "满意")
            assert rows(tmp_path, "select status, satisfaction from opinions") == [
                ("rated", "satisfied")
            ]

            # Exactly the messages each party should have received, in order.
            resident = c.texts(RESIDENT, start)
            # A rating button edits the closing message into the rating given, so it reads so.
            expect_resident = [
                "受理编号",
                "已交办给",
                "承办方已签收",
                "办理进展",
                "您的评价：😞 不满意",
                "很抱歉没有让您满意",
                "已把您的意见转告",
                "已交办给",
                "承办方已签收",
                "您的评价：😊 满意",
                "还有什么想说的",
            ]
            assert len(resident) == len(expect_resident), resident
            for text, needle in zip(resident, expect_resident, strict=True):
                assert needle in text, (needle, text)
            rep_texts = c.texts(REP, start)
            assert sum("交办事项" in t for t in rep_texts) == 2
            assert not any("王阿姨" in t for t in rep_texts)
            staff_texts = c.texts(STAFF_GROUP, start)
            # Triage cards are edited in place into the assignment record.
            assert sum("📤 已交办" in t for t in staff_texts) == 2
            # Events fold into the case's card, edited in place (the default noise setting).
            for needle in (
                "签收（刘代表）",
                "进展（刘代表）",
                "🏁 办结（刘代表）：A",
                "只增加了两天",
                "群众评价（王阿姨）：满意",
            ):
                assert any(needle in t for t in staff_texts), (needle, staff_texts)
            assert c.texts(OUTSIDER, start) == []
            events = [r[0] for r in rows(tmp_path, "select action from opinion_events order by id")]
            assert events.count("assign") == 2 and events.count("close") == 2
            assert events.count("rate_unsatisfied") == 1 and events.count("rate") == 1
        finally:
            bot.stop()


def test_suggested_duplicate_merged_with_one_tap(tmp_path: Path, bot_db: str) -> None:
    """The triage card of a second wording names the first ("可能与 … 重复（相似 0.xx）") and
    merges it with one tap; the second resident is told, the original gains a co-signer."""
    neighbour = 102
    with FakeBotApi(TOKEN) as fake:
        for uid, name in (
            (ADMIN, "站长"),
            (STAFF, "小张"),
            (RESIDENT, "王阿姨"),
            (neighbour, "李大爷"),
        ):
            fake.add_user(uid, name)
        fake.add_group(STAFF_GROUP, "工作人员群")
        bot = BotProcess(
            fake.base_url, tmp_path, admin_ids=str(ADMIN), database_url=bot_db
        ).polling(fake)
        try:
            c = Chat(fake)
            c.say(ADMIN, "/bind_staff", chat=STAFF_GROUP)
            c.say(STAFF, "/start")
            c.say(ADMIN, f"/add_staff {STAFF}")
            c.say(RESIDENT, "我们小区没有老年食堂，老人吃饭很不方便，希望社区能办一个助餐点。")
            ref = re.search(r"LL-\d{4}-\d{5}", c.last(RESIDENT, "受理编号")["text"])
            assert ref
            first_card = c.last(STAFF_GROUP, ref.group(0))
            assert "可能与" not in first_card["text"]
            c.say(neighbour, "小区里没有老年食堂，老人们吃饭不方便，建议社区开个助餐点。")
            card = c.last(STAFF_GROUP, "可能与")
            assert re.search(rf"可能与 {ref.group(0)} 重复（相似 0\.\d\d）", card["text"])

            c.press(STAFF, card, f"并入 {ref.group(0)}", chat=STAFF_GROUP)

            assert "已合并到" in c.last(STAFF_GROUP, "已合并到")["text"]
            assert "合并" in c.last(neighbour, "合并")["text"]
            statuses = query(bot_db, "select status, duplicate_of_id from opinions order by id")
            assert statuses[0][0] == "received" and statuses[1][0] == "duplicate"
            assert query(bot_db, "select count(*) from cosigners") == [(1,)]
        finally:
            bot.stop()
