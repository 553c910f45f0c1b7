"""DingTalk without a card template: choices are numbered and answered with the number (@robot
in a group); a send-only group reached by its custom robot (加签) gets the unit's tasks and
notices; an outsider's number changes nothing."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

from tests.botproc import TOKEN
from tests.dingtalkproc import DingTalkPeople, start_both, text_of
from tests.fakebot import FakeBotApi
from tests.fakedingtalk import FakeDingTalk
from tests.test_e2e_dingtalk import (
    ADMIN,
    OUTSIDER,
    REP,
    RESIDENT,
    STAFF,
    STAFF_GROUP,
    people,
    query,
    setup_station,
)


def tap(params: dict[str, str], label: str) -> str:
    """What tapping the ActionCard button labelled ``label`` sends (dtmd sendMessage)."""
    for key, title in params.items():
        if key.startswith(("actionTitle", "singleTitle")) and label in title:
            url = params[key.replace("Title", "URL")]
            assert url.startswith("dtmd://dingtalkclient/sendMessage?content="), url
            return unquote(url.partition("content=")[2])
    raise AssertionError((label, params))


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
            bind_send_only_group(p)
            start = p.mark()

            tg.send_text(RESIDENT, "小区门口的早餐摊占道经营，早高峰电动车和行人挤在一起很危险。")
            tg.wait_until_idle(timeout=30, quiet=0.4)
            card = p.wait(staff_group, "新意见", start)
            assert card["api"] == "groupSend" and "回复 1" in p.texts(staff_group)[-1]

            before = query(db, "select status, theme, theme_confirmed from opinions")
            p.say(OUTSIDER, number_of(p.texts(staff_group)[-1], "不予受理"), group=STAFF_GROUP)
            assert "权限" in p.texts(staff_group)[-1]
            assert query(db, "select status, theme, theme_confirmed from opinions") == before

            question = text_of(p.wait(staff_group, "新意见", start))  # not the refusal
            for label in ("交办", "执法检查组", "3个工作日"):
                p.say(STAFF, number_of(question, label), group=STAFF_GROUP)
                question = p.texts(staff_group)[-1]
            task = p.wait(send_only, "交办事项", start)
            assert "王阿姨" not in task["body"]["markdown"]["text"]
            assert query(db, "select count(*) from tasks") == [(1,)]

            p.say(STAFF, "发通知 执法检查组 周五下午三点到站里开会。", group=STAFF_GROUP)
            p.wait(send_only, "周五下午三点", start)
            assert dt.throttled == 0

            representative_taps(tg, p, db, start)
        finally:
            bot.stop()


def bind_send_only_group(p: DingTalkPeople) -> None:
    """绑定机器人: an unknown name gets the usage (naming the configured robots), a known one
    binds the custom robot's group to the unit."""
    p.say(STAFF, "添加工作组 执法检查组")
    p.say(STAFF, "绑定机器人 执法检查组 没有这个")
    assert "执法组群" in p.texts(p.conv(STAFF))[-1]
    p.say(STAFF, "绑定机器人 执法检查组 执法组群")
    assert "执法检查组" in p.texts(p.conv(STAFF))[-1]


def representative_taps(tg: FakeBotApi, p: DingTalkPeople, db: Path, start: int) -> None:
    """One-to-one without a template: the task is an ActionCard whose buttons send the number."""
    staff_group = p.conv(group=STAFF_GROUP)
    tg.send_text(RESIDENT, "公交站的候车亭顶棚漏雨，下雨天老人只能站在雨里等车。")
    tg.wait_until_idle(timeout=30, quiet=0.4)
    p.wait(staff_group, "候车亭", start)
    for label in ("交办", "刘代表", "3个工作日"):
        p.say(STAFF, number_of(p.texts(staff_group)[-1], label), group=STAFF_GROUP)
    task = p.wait(p.conv(REP), "交办事项", start)
    assert task["msgKey"].startswith("sampleActionCard"), task["msgKey"]
    asked = f"select message_id from chat_questions where chat_id = '{REP}'"
    p.fake.wait_for(lambda: query(db, asked) == [(task["processQueryKey"],)], 30)
    p.say(REP, tap(task["params"], "签收"))
    signed = p.wait(p.conv(REP), "已签收", start)
    acknowledged = "select count(*) from tasks where acknowledged_at is not null"
    assert query(db, acknowledged) == [(1,)]
    # 退回 with a reason: the staff group hears it, the task is bounced.
    since = p.mark()
    p.say(REP, tap(signed["params"], "退回"))
    p.say(REP, "这件事属于公交公司管理，不在我的联系范围。")
    p.wait(p.conv(REP), "已退回", since)
    p.wait(staff_group, "公交公司", since)
    assert ("bounced",) in query(db, "select status from tasks")
