"""End to end, the WeChat edges, with the real `liaison-bot run` (plain mode, no templates):
the URL check, a forged push (403, nothing stored), bad input, a slow answer retried by WeChat
(one receipt), held updates without a template, unfollow and refollow, a restart, and wrong
credentials (one line, exit 2)."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.botproc import ROOT, TOKEN, BotProcess
from tests.fakebot import FakeBotApi
from tests.fakewechat import DEFAULT_APP_ID, FakeWeChat, to_xml
from tests.localhttp import free_port
from tests.test_e2e_casework import Chat
from tests.test_e2e_wechat import ADMIN, REP, STAFF, STAFF_GROUP, assign, staff_setup
from tests.wechatproc import Resident, endpoint_env, rows, wechat_env

OPINION = "我们小区没有老年食堂，老人吃饭很不方便，希望社区能办一个助餐点。"
SECOND = "小区门口的路灯坏了一个多月了，晚上老人出门很不安全，希望尽快修好。"
THIRD = "社区活动室周末不开门，希望周末也能开放，方便上班的家长带孩子去。"


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")


def opinions(db: Path) -> list[str]:
    return [r[0] for r in rows(db, "select text from opinions order by id")]


def endpoint_up(wx: FakeWeChat, bot: BotProcess) -> None:
    """Once the bot says its endpoint listens, WeChat's URL check (服务器配置 → 提交) passes."""
    bot.wait_log("wechat: serving")
    status, body, echostr = wx.run(wx.verify_url())
    assert status == 200 and body == echostr, (status, body)


def test_wechat_edges(tmp_path: Path) -> None:
    db = tmp_path / "liaison.db"
    with FakeBotApi(TOKEN) as tg, FakeWeChat(mode="plain") as wx:
        for uid, name in ((ADMIN, "站长"), (STAFF, "小张"), (REP, "刘代表")):
            tg.add_user(uid, name)
        tg.add_group(STAFF_GROUP, "工作人员群")
        env = endpoint_env(wx, templates=False)
        bot = BotProcess(tg.base_url, tmp_path, admin_ids=str(ADMIN), extra_env=env).polling(tg)
        try:
            endpoint_up(wx, bot)
            c = Chat(tg)
            staff_setup(c)
            resident = Resident(wx)

            # A push without a valid signature: 403, nothing stored, nobody answered.
            forged = to_xml(
                [
                    ("ToUserName", wx.original_id),
                    ("FromUserName", resident.openid),
                    ("CreateTime", int(time.time())),
                    ("MsgType", "text"),
                    ("Content", OPINION),
                    ("MsgId", "1"),
                ]
            )
            params = {"signature": "0" * 40, "timestamp": str(int(time.time())), "nonce": "1"}
            status, _ = wx.run(wx.post_raw(params, forged))
            assert status == 403
            assert opinions(db) == []
            assert rows(db, "select count(*) from identities where channel = 'wechat'") == [(0,)]

            # Bad input gets plain answers and stores nothing.
            assert resident.follow().reply is not None
            video = wx.run(wx.send_video(resident.openid))
            assert video.reply is not None and "视频" in video.reply.text
            emoji = resident.say("😀😀😀")
            assert emoji.reply is not None and "表情" in emoji.reply.text
            long = resident.say("楼" * 2100)
            assert long.reply is not None and "2100" in long.reply.text
            assert opinions(db) == []

            # A slow database: nothing is answered before the push is stored, so WeChat gives up
            # on each attempt and pushes again; once stored, the one receipt goes by 客服消息.
            mark = wx.mark()
            wx.push_timeout = 1.0
            lock = sqlite3.connect(db, timeout=30, isolation_level=None)
            lock.execute("BEGIN IMMEDIATE")  # the database is busy for a while
            pushed = threading.Thread(target=resident.say, args=(OPINION,))
            pushed.start()
            try:
                wx.wait_for_sync(lambda: any(len(p.attempts) == 3 for p in wx.pushes), 30)
                assert not any(p.outcome == "success" for p in wx.pushes if p.msg_id)
            finally:
                lock.execute("ROLLBACK")
                lock.close()
            pushed.join()
            wx.push_timeout = 5.0
            receipt = resident.sees("受理编号", mark, channel="custom")
            assert opinions(db) == [OPINION]
            assert [t for t in resident.texts(mark) if "受理编号" in t] == [receipt.text]

            # No template configured: an update after the window closed is held, then given
            # with the answer to the resident's next message.
            wx.advance(49 * 3600.0)
            assign(c, "新意见", "3个工作日")
            c.fake.wait_until_idle(timeout=30, quiet=0.5)
            wx.wait_for_sync(lambda: held(db) > 0, 30)
            mark = wx.mark()
            second = resident.say(SECOND)
            assert second.reply is not None and "受理编号" in second.reply.text
            resident.sees("您有 1 条新进展", mark, channel="custom")
            assert held(db) == 0

            # Unfollow and refollow: everything stays, held updates wait for the return.
            wx.run(wx.unfollow(resident.openid))
            c.press(REP, c.last(REP, "交办事项"), "签收")
            wx.wait_for_sync(lambda: held(db) > 0, 30)
            mark = wx.mark()
            back = resident.follow()
            assert back.reply is not None
            resident.sees("承办方已签收", mark, channel="custom")
            mine = resident.say("我的意见")
            assert mine.reply is not None and "LL-" in mine.reply.text
            assert opinions(db) == [OPINION, SECOND]

            # A restart: a message in the first seconds after it is stored and answered.
            assert bot.stop() == 0
            bot.start()
            endpoint_up(wx, bot)
            third = resident.say(THIRD)
            assert third.reply is not None and "受理编号" in third.reply.text
            assert opinions(db) == [OPINION, SECOND, THIRD]
        finally:
            bot.stop()


def held(db: Path) -> int:
    return int(rows(db, "select count(*) from outbox where status = 'held'")[0][0])


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"WECHAT_APP_SECRET": "wrong"}, "AppSecret"),
        ({"WECHAT_TOKEN": "a b"}, "WECHAT_TOKEN"),
    ],
)
def test_bad_wechat_settings_exit_2_with_one_line(
    tmp_path: Path, env: dict[str, str], needle: str
) -> None:
    with FakeWeChat() as wx:
        full = {**wechat_env(wx, free_port(), templates=False), **env}
        full["WECHAT_APP_ID"] = DEFAULT_APP_ID
        proc = BotProcess("http://127.0.0.1:9/bot", tmp_path, extra_env=full)
        out = subprocess.run(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=ROOT,
            env=proc.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert out.returncode == 2, out.stderr
    # Besides the log (migrations ran before the credentials could be tried): one line.
    said = [line for line in out.stderr.splitlines() if line and not LOG_LINE.match(line)]
    assert len(said) == 1 and needle in said[0], out.stderr
