"""End to end with the real `liaison-bot run`: a WeChat resident (tests/fakewechat, safe mode)
and Telegram staff and representative (tests/fakebot) in one deployment.

The resident follows through the station's QR code, submits, adds a photo, is told of the
assignment and the progress by 客服消息; the 48-hour window closes, so the closing message goes
as a template pointer and is held; the next message brings it, summed up, with numbered
choices; 不满意 reopens the case; the second closing is rated 满意.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.botproc import TOKEN, BotProcess
from tests.fakebot import FakeBotApi
from tests.fakewechat import FakeWeChat
from tests.test_e2e_casework import Chat, query
from tests.wechatproc import PROGRESS_TEMPLATE, Resident, endpoint_env, number_for

ADMIN, STAFF, REP = 900, 901, 500
STAFF_GROUP = -1001
OPINION = "社区卫生服务站只有一个医生，老人排队量血压要等一上午，希望增加医生。"
REF_RE = re.compile(r"LL-\d{4}-\d{5}")
HOURS_49 = 49 * 3600.0


def start(tg: FakeBotApi, wx: FakeWeChat, workdir: Path, database_url: str) -> BotProcess:
    return BotProcess(
        tg.base_url,
        workdir,
        admin_ids=str(ADMIN),
        extra_env=endpoint_env(wx),
        database_url=database_url,
    ).polling(tg)


def staff_setup(c: Chat) -> None:
    c.say(ADMIN, "/bind_staff", chat=STAFF_GROUP)
    c.say(STAFF, "/start")
    c.say(ADMIN, f"/add_staff {STAFF}")
    c.say(STAFF, "/invite")
    code = re.search(r"/join (\w+)", c.last(STAFF, "邀请码")["text"])
    assert code
    c.say(REP, f"/join {code.group(1)}")


def assign(c: Chat, card_word: str, days: str) -> None:
    c.press(STAFF, c.last(STAFF_GROUP, card_word), "交办", chat=STAFF_GROUP)
    c.press(STAFF, c.last(STAFF_GROUP, card_word), "刘代表", chat=STAFF_GROUP)
    c.press(STAFF, c.last(STAFF_GROUP, card_word), days, chat=STAFF_GROUP)


def close_task(c: Chat, note: str) -> None:
    c.press(REP, c.last(REP, "交办事项"), "办结")
    c.press(REP, c.last(REP, "哪一类"), "A 已解决")
    c.say(REP, note)


def test_wechat_resident_through_the_whole_case(tmp_path: Path, bot_db: str) -> None:
    def rows(_: str, sql: str) -> list[tuple[Any, ...]]:
        return query(bot_db, sql)

    db = bot_db
    with FakeBotApi(TOKEN) as tg, FakeWeChat(mode="safe") as wx:
        for uid, name in ((ADMIN, "站长"), (STAFF, "小张"), (REP, "刘代表")):
            tg.add_user(uid, name)
        tg.add_group(STAFF_GROUP, "工作人员群")
        bot = start(tg, wx, tmp_path, bot_db)
        try:
            c = Chat(tg)
            staff_setup(c)
            resident = Resident(wx)

            # Following through the station's printed code binds to it and greets.
            hello = resident.follow(scene="default")
            assert hello.reply is not None and "我的意见" in hello.reply.text
            assert "/my" not in hello.reply.text

            # The opinion: the receipt is the passive reply, with numbered choices.
            push = resident.say(OPINION)
            assert push.outcome == "reply" and push.reply is not None, wx.describe()
            ref = REF_RE.search(push.reply.text)
            assert ref and "回复 1" in push.reply.text
            card = tg.wait_for_message(STAFF_GROUP, lambda m: ref.group(0) in m["text"], timeout=30)
            assert "新意见" in card["text"]

            # A photo joins it; the media id is kept, nothing is downloaded.
            photo = resident.photo()
            assert photo.reply is not None and ref.group(0) in photo.reply.text
            media = rows(db, "select kind, file_id, opinion_id from attachments")
            assert len(media) == 1 and media[0][0] == "photo" and len(media[0][1]) == 64
            assert wx.calls("media/get") == []

            # Assigned on Telegram; the resident hears of it by 客服消息.
            mark = wx.mark()
            assign(c, "新意见", "3个工作日")
            resident.sees("已交办给", mark, channel="custom")
            c.press(REP, c.last(REP, "交办事项"), "签收")
            c.press(REP, c.last(REP, "交办事项"), "反馈进展")
            c.say(REP, "已协调街道卫生院，每周二、四增派一名医生坐诊。")
            resident.sees("增派一名医生", mark, channel="custom")

            # Two days pass: the window is closed. The closing goes as a template pointer and
            # is held; staff can see who is waiting.
            wx.advance(HOURS_49)
            mark = wx.mark()
            close_task(c, "已增派医生，排队时间缩短到半小时以内。")
            pointer = resident.sees(ref.group(0), mark, channel="template")
            assert pointer.template_id == PROGRESS_TEMPLATE
            c.fake.wait_until_idle(timeout=30, quiet=0.5)
            held = rows(db, "select count(*) from outbox where channel='wechat' and status='held'")
            assert held[0][0] >= 1
            c.say(STAFF, "/unreached")
            assert "微信用户" in c.last(STAFF, "未送达")["text"]

            # The resident writes again: the held updates come, summed up, with the rating.
            mark = wx.mark()
            ping = resident.say("查看")
            assert ping.outcome == "success"
            summary = resident.sees("条新进展", mark, channel="custom")
            assert "已办结" in summary.text and "满意" in summary.text
            assert rows(db, "select count(*) from outbox where status='held'") == [(0,)]

            # 不满意 reopens the case.
            answer = resident.say(number_for(summary.text, "不满意"))
            assert answer.reply is not None and "哪里不满意" in answer.reply.text
            resident.say("只增加了两天，其他时间还是排长队。")
            assert rows(db, "select status, reopen_count from opinions") == [("reopened", 1)]

            # Assigned again, closed again (the window is open: 客服消息), and 满意.
            mark = wx.mark()
            assign(c, "重新办理", "7个工作日")
            c.press(REP, c.last(REP, "交办事项"), "签收")
            close_task(c, "卫生服务站新招聘一名全科医生，工作日每天坐诊。")
            closing = resident.sees("新招聘", mark, channel="custom")
            rated = resident.say(number_for(closing.text, "满意"))
            assert rated.reply is not None and "满意" in rated.reply.text
            assert "还有什么想说的" in rated.reply.text  # two answers, one passive reply
            assert rows(db, "select status, satisfaction from opinions") == [("rated", "satisfied")]
            # One receipt in all, and nothing is left owed.
            receipts = [t for t in resident.texts() if "受理编号" in t]
            assert len(receipts) == 1, resident.texts()
            stuck = "select key from outbox where status in ('held', 'failed', 'undeliverable')"
            assert rows(db, stuck) == []
        finally:
            bot.stop()
