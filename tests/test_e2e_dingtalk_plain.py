"""DingTalk without a card template: choices are numbered and answered with the number (@robot
in a group); a send-only group reached by its custom robot (加签) gets the unit's tasks and
notices; an outsider's number changes nothing."""

from __future__ import annotations

import re
from pathlib import Path

from tests.botproc import TOKEN
from tests.dingtalkproc import DingTalkPeople, start_both
from tests.fakebot import FakeBotApi
from tests.fakedingtalk import FakeDingTalk
from tests.test_e2e_dingtalk import (
    ADMIN,
    OUTSIDER,
    RESIDENT,
    STAFF,
    STAFF_GROUP,
    people,
    query,
    setup_station,
)


def number_of(text: str, label: str) -> str:
    found = re.search(rf"回复 (\d+) [^\n]*{label}", text)
    assert found, (label, text)
    return found.group(1)


def test_numbered_replies_and_a_send_only_group(tmp_path: Path) -> None:
    db = tmp_path / "liaison.db"
    with FakeBotApi(TOKEN) as tg, FakeDingTalk() as dt:
        tg.add_user(RESIDENT, "王阿姨")
        people(dt)
        webhook = dt.add_custom_robot("执法组群", secret="SECtest0123456789")
        bot = start_both(
            tg,
            dt,
            tmp_path,
            admin_ids=f"dingtalk:{ADMIN}",
            template="",
            extra_env={"DINGTALK_WEBHOOKS": f"执法组群={webhook}|SECtest0123456789"},
        )
        try:
            p = DingTalkPeople(dt)
            staff_group = p.conv(group=STAFF_GROUP)
            send_only = "webhook:执法组群"
            setup_station(p)
            p.say(STAFF, "添加工作组 执法检查组")
            p.say(STAFF, "绑定机器人 执法检查组 没有这个")
            assert "执法组群" in p.texts(p.conv(STAFF))[-1]  # the usage names configured robots
            p.say(STAFF, "绑定机器人 执法检查组 执法组群")
            assert "执法检查组" in p.texts(p.conv(STAFF))[-1]
            start = p.mark()

            tg.send_text(RESIDENT, "小区门口的早餐摊占道经营，早高峰电动车和行人挤在一起很危险。")
            tg.wait_until_idle(timeout=30, quiet=0.4)
            card = p.wait(staff_group, "新意见", start)
            assert card["api"] == "groupSend" and "回复 1" in p.texts(staff_group)[-1]

            before = query(db, "select status, theme, theme_confirmed from opinions")
            p.say(OUTSIDER, number_of(p.texts(staff_group)[-1], "不予受理"), group=STAFF_GROUP)
            assert "权限" in p.texts(staff_group)[-1]
            assert query(db, "select status, theme, theme_confirmed from opinions") == before

            p.say(
                STAFF,
                number_of(p.wait(staff_group, "新意见", start)["params"]["text"], "交办"),
                group=STAFF_GROUP,
            )
            p.say(STAFF, number_of(p.texts(staff_group)[-1], "执法检查组"), group=STAFF_GROUP)
            p.say(STAFF, number_of(p.texts(staff_group)[-1], "3个工作日"), group=STAFF_GROUP)
            task = p.wait(send_only, "交办事项", start)
            assert "王阿姨" not in task["body"]["markdown"]["text"]
            assert query(db, "select count(*) from tasks") == [(1,)]

            p.say(STAFF, "发通知 执法检查组 周五下午三点到站里开会。", group=STAFF_GROUP)
            p.wait(send_only, "周五下午三点", start)
            assert dt.throttled == 0
        finally:
            bot.stop()
