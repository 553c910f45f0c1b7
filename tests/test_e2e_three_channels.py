"""Several channels in one deployment, one real `liaison-bot run`: a resident on the WeChat
official account (tests/fakewechat), another on Telegram (tests/fakebot), staff and the
representative on DingTalk (tests/fakedingtalk). Each hears of their case on their channel."""

from __future__ import annotations

from pathlib import Path

from tests.botproc import TOKEN
from tests.dingtalkproc import DingTalkPeople, start_both, text_of
from tests.fakebot import FakeBotApi
from tests.fakedingtalk import FakeDingTalk
from tests.fakewechat import FakeWeChat
from tests.test_e2e_dingtalk import ADMIN, REP, STAFF, STAFF_GROUP, people, setup_station
from tests.wechatproc import Resident, endpoint_env, number_for, rows

TG_RESIDENT = 101
WECHAT_OPINION = "小区门口的路灯坏了一个多月了，晚上老人出门很不安全，希望尽快修好。"
TG_OPINION = "社区活动室周末不开门，希望周末也能开放，方便上班的家长带孩子去。"


def test_wechat_resident_dingtalk_staff_telegram_resident(tmp_path: Path) -> None:
    with FakeBotApi(TOKEN) as tg, FakeDingTalk() as dt, FakeWeChat(mode="safe") as wx:
        tg.add_user(TG_RESIDENT, "王阿姨")
        people(dt)
        bot = start_both(
            tg, dt, tmp_path, admin_ids=f"dingtalk:{ADMIN}", extra_env=endpoint_env(wx)
        )
        try:
            p = DingTalkPeople(dt)
            staff_group = p.conv(group=STAFF_GROUP)
            setup_station(p)
            start = p.mark()

            resident = Resident(wx, "李大爷")
            resident.follow(scene="default")
            receipt = resident.say(WECHAT_OPINION)
            assert receipt.reply is not None and "受理编号" in receipt.reply.text
            tg.send_text(TG_RESIDENT, TG_OPINION)
            tg.wait_until_idle(timeout=30, quiet=0.4)
            assert "受理编号" in tg.messages(TG_RESIDENT)[-1]["text"]

            # Both cards reach the DingTalk staff group; the WeChat one is assigned.
            p.wait(staff_group, "周末", start)
            card = p.wait(staff_group, "路灯", start)
            mark = wx.mark()
            p.press(STAFF, card, "交办")
            p.press(STAFF, card, "刘代表")
            p.press(STAFF, card, "3个工作日")
            resident.sees("已交办给", mark, channel="custom")

            rep = p.conv(REP)
            task = p.wait(rep, "交办事项", start)
            assert "李大爷" not in text_of(task) and "微信用户" not in text_of(task)
            p.press(REP, task, "签收")
            p.press(REP, task, "办结")
            p.press(REP, p.wait(rep, "哪一类", start), "A 已解决")
            p.say(REP, "路灯已更换，晚上已经亮了。")
            closing = resident.sees("路灯已更换", mark, channel="custom")
            rated = resident.say(number_for(closing.text, "满意"))
            assert rated.reply is not None and "满意" in rated.reply.text
            p.wait(staff_group, "满意", start)
            db = tmp_path / "liaison.db"
            assert sorted(rows(db, "select src_channel, status from opinions")) == [
                ("telegram", "received"),
                ("wechat", "rated"),
            ]
            assert not any("路灯" in m["text"] for m in tg.messages(TG_RESIDENT))
        finally:
            bot.stop()
