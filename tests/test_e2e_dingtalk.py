"""DingTalk as a channel of the real `liaison-bot run`: the resident on Telegram (tests/fakebot),
staff, the representative and the working group on DingTalk (tests/fakedingtalk, through the
Stream WebSocket and the OpenAPI). Start-up checks, the casework loop, refused presses."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

from tests.botproc import ROOT, TOKEN
from tests.dingtalkproc import DingTalkPeople, buttons, dingtalk_env, start_both, text_of
from tests.fakebot import FakeBotApi
from tests.fakedingtalk import FakeDingTalk

JSON = dict[str, Any]

ADMIN, STAFF, REP, OUTSIDER, MEMBER = "20001", "20002", "20003", "20009", "20004"
STAFF_GROUP, WORK_GROUP = "cidStaffGroup==", "cidWorkGroup=="
RESIDENT = 101


def run_cli(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    full = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'liaison.db'}",
        "DATA_DIR": str(tmp_path / "data"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_refused_credentials_one_line_exit_2(tmp_path: Path) -> None:
    with FakeDingTalk() as dt:
        env = dingtalk_env(dt, DINGTALK_CLIENT_SECRET="wrong-secret")
        done = run_cli(env, tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "DINGTALK_CLIENT_ID" in lines[0] and "invalidClientIdOrSecret" in lines[0]


def test_malformed_webhooks_one_line_exit_2(tmp_path: Path) -> None:
    with FakeDingTalk() as dt:
        done = run_cli(dingtalk_env(dt, DINGTALK_WEBHOOKS="工作组=not-a-url"), tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "DINGTALK_WEBHOOKS" in done.stderr


def people(dt: FakeDingTalk) -> None:
    for staff_id, nick, admin in (
        (ADMIN, "站长", True),
        (STAFF, "小张", False),
        (REP, "刘代表", False),
        (OUTSIDER, "路人", False),
        (MEMBER, "执法组老李", False),
    ):
        dt.add_user(staff_id, nick, is_admin=admin)
    dt.add_group(STAFF_GROUP, "工作人员群", (ADMIN, STAFF, OUTSIDER))
    dt.add_group(WORK_GROUP, "执法检查组", (MEMBER, STAFF))


def setup_station(p: DingTalkPeople) -> None:
    """Admin binds the staff group, makes 小张 staff; 小张 invites 刘代表, who joins."""
    p.say(ADMIN, "绑定", group=STAFF_GROUP)
    p.wait(p.conv(group=STAFF_GROUP), "工作人员")
    p.say(STAFF, "start")
    p.say(ADMIN, "添加工作人员", group=STAFF_GROUP, at=(STAFF,))
    p.wait(p.conv(group=STAFF_GROUP), "小张")
    p.say(STAFF, "生成邀请码")
    invite = text_of(p.wait(p.conv(STAFF), "邀请码"))
    code = re.search(r"join ([0-9A-F]{8})", invite)
    assert code, invite
    p.say(REP, f"加入 {code.group(1)}")
    p.wait(p.conv(REP), "欢迎")


HOSTILE_NAME = "**王阿姨** [点我](http://evil.example) <b>x</b> #"


def test_resident_on_telegram_staff_on_dingtalk(tmp_path: Path) -> None:
    """A resident with a hostile display name: the triage card reaches the DingTalk staff group
    with the name as text, never as markdown (no bold, no link, no HTML)."""
    with FakeBotApi(TOKEN) as tg, FakeDingTalk() as dt:
        tg.add_user(RESIDENT, HOSTILE_NAME)
        people(dt)
        bot = start_both(tg, dt, tmp_path, admin_ids=f"dingtalk:{ADMIN}")
        try:
            p = DingTalkPeople(dt)
            setup_station(p)
            tg.send_text(
                RESIDENT, "社区卫生服务站只有一个医生，老人排队量血压要等一上午，希望增加医生。"
            )
            tg.wait_until_idle(timeout=30, quiet=0.4)
            card = p.wait(p.conv(group=STAFF_GROUP), "新意见")
            assert card["api"] == "card" and "📤 交办" in buttons(card)
            markdown = card["data"]["markdown"]
            for raw in ("**王阿姨**", "[点我]", "](http", "<b>", " #"):
                assert raw not in markdown, markdown
            assert HOSTILE_NAME in unicodedata.normalize("NFKC", markdown)
        finally:
            bot.stop()


def query(db: Path | str, sql: str) -> list[tuple[object, ...]]:
    """Read the bot's database: a SQLite file, or a database URL (either engine)."""
    if isinstance(db, Path):
        with sqlite3.connect(db) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]
    from tests.test_e2e_casework import query as by_url

    return [tuple(str(v) if isinstance(v, date) else v for v in r) for r in by_url(db, sql)]


def outsider_changes_nothing(p: DingTalkPeople, db: str, card: JSON, start: int) -> list[str]:
    """An outsider's presses on the triage card (real buttons and forged payloads): each is
    refused to them alone and nothing changes; returns the refusals."""
    op_id = query(db, "select id from opinions")[0][0]
    before = query(db, "select status, theme, theme_confirmed from opinions")
    p.press(OUTSIDER, card, "交办")
    p.press(OUTSIDER, card, "不予受理")
    for forged in (f"t:ok:{op_id}", f"t:rj:{op_id}.AAAAAAAAAAA", "garbage"):
        p.press_payload(OUTSIDER, card, forged)
    refusals = p.texts(p.conv(OUTSIDER), start)
    assert len(refusals) == 5, refusals
    assert sum("权限" in t for t in refusals) >= 4, refusals
    assert query(db, "select status, theme, theme_confirmed from opinions") == before
    assert query(db, "select count(*) from tasks") == [(0,)]
    assert buttons(p.fake.card(card["outTrackId"])) == buttons(card)
    return refusals


def staff_assign(p: DingTalkPeople, db: str, card: JSON, start: int) -> None:
    """Staff correct the theme and assign with 3 working days: the card changes in place."""
    p.press(STAFF, card, "改分类")
    p.press(STAFF, card, "医养结合")
    assert query(db, "select theme, theme_confirmed from opinions") == [("medical_care", 1)]
    p.press(STAFF, card, "交办")
    p.press(STAFF, card, "刘代表")
    p.press(STAFF, card, "3个工作日")
    assigned = text_of(p.fake.card(card["outTrackId"]))
    assert "已交办" in assigned and "2026-10-10" in assigned, assigned
    assert query(db, "select due_date from tasks") == [("2026-10-10",)]
    cards = [r for r in p.records(p.conv(group=STAFF_GROUP), start) if r["api"] == "card"]
    assert len(cards) == 1  # edited in place, never re-sent


def representative_closes(p: DingTalkPeople, start: int) -> None:
    """The representative, one-to-one with the robot: acknowledge, progress, close (A)."""
    rep = p.conv(REP)
    task = p.wait(rep, "交办事项", start)
    assert "王阿姨" not in text_of(task)  # anonymous by default
    p.press(REP, task, "签收")
    p.press(REP, task, "反馈进展")
    p.say(REP, "已协调街道卫生院，每周二、四增派一名医生坐诊。")
    p.press(REP, task, "办结")
    p.press(REP, p.wait(rep, "哪一类", start), "A 已解决")
    p.say(REP, "卫生服务站新招聘一名全科医生，工作日每天坐诊。")


def test_casework_loop_across_channels(tmp_path: Path, bot_db: str) -> None:
    """Resident on Telegram; triage in the DingTalk staff group, the task with the representative
    in a one-to-one DingTalk chat; progress and the result reach the resident; outsiders and
    forged callbacks change nothing; the representative never sees the resident's name."""
    db = bot_db
    with FakeBotApi(TOKEN) as tg, FakeDingTalk() as dt:
        tg.add_user(RESIDENT, "王阿姨")
        people(dt)
        bot = start_both(
            tg,
            dt,
            tmp_path,
            admin_ids=f"dingtalk:{ADMIN}",
            database_url=bot_db,
            extra_env={"LIAISON_CLOCK_START": "2026-09-30T10:00:00+08:00"},
        )
        try:
            p = DingTalkPeople(dt)
            staff_group = p.conv(group=STAFF_GROUP)
            setup_station(p)
            start = p.mark()
            tg.send_text(
                RESIDENT, "社区卫生服务站只有一个医生，老人排队量血压要等一上午，希望增加医生。"
            )
            tg.wait_until_idle(timeout=30, quiet=0.4)
            card = p.wait(staff_group, "新意见", start)

            refusals = outsider_changes_nothing(p, db, card, start)
            staff_assign(p, db, card, start)
            representative_closes(p, start)
            # The resident hears all of it on Telegram, and rates it.
            tg.wait_until_idle(timeout=30, quiet=0.4)
            closed = tg.wait_for_message(RESIDENT, lambda m: "新招聘" in m["text"], timeout=30)
            tg.press(RESIDENT, closed, label="满意")
            tg.wait_until_idle(timeout=30, quiet=0.4)
            assert query(db, "select status, satisfaction from opinions") == [
                ("rated", "satisfied")
            ]
            resident = [m["text"] for m in tg.messages(RESIDENT)]
            for needle in ("受理编号", "已交办给", "承办方已签收", "办理进展", "您的评价：😊 满意"):
                assert any(needle in t for t in resident), (needle, resident)
            assert not any("20003" in t or "刘代表" in t for t in resident[:1])
            staff_texts = p.texts(staff_group, start)
            for needle in ("已由 刘代表 签收", "增派一名医生", "办结(A 类)", "群众评价:😊 满意"):
                assert any(needle in t for t in staff_texts), (needle, staff_texts)
            rep_texts = p.texts(p.conv(REP), start)
            assert not any("王阿姨" in t for t in rep_texts), rep_texts
            assert p.texts(p.conv(OUTSIDER), start) == refusals
        finally:
            bot.stop()


def test_working_group_in_a_dingtalk_group_stats_and_export(tmp_path: Path) -> None:
    """A working group bound to its DingTalk group: the task card goes there, only members may
    act on it, a member's typed progress (@robot) reaches the resident; /stats sends its chart
    and /export its workbook as uploaded media; an expired token is renewed on the way."""
    db = tmp_path / "liaison.db"
    with FakeBotApi(TOKEN) as tg, FakeDingTalk() as dt:
        tg.add_user(RESIDENT, "王阿姨")
        people(dt)
        bot = start_both(tg, dt, tmp_path, admin_ids=f"dingtalk:{ADMIN}")
        try:
            p = DingTalkPeople(dt)
            setup_station(p)
            work = p.conv(group=WORK_GROUP)
            bind_working_group(p)
            start = p.mark()

            tg.send_text(RESIDENT, "小区门口的早餐摊占道经营，早高峰电动车和行人挤在一起很危险。")
            tg.wait_until_idle(timeout=30, quiet=0.4)
            card = p.wait(p.conv(group=STAFF_GROUP), "新意见", start)
            p.press(STAFF, card, "交办")
            p.press(STAFF, card, "执法检查组")
            p.press(STAFF, card, "3个工作日")
            task = p.wait(work, "交办事项", start)
            assert "王阿姨" not in text_of(task)

            state = "select status, acknowledged_at, acknowledged_by_id, due_date from tasks"
            before = query(db, state)
            p.press(REP, task, "签收")  # not a member of this group
            assert any("权限" in t or "无权" in t for t in p.texts(p.conv(REP), start))
            assert query(db, state) == before
            dt.expire_tokens()
            p.press(MEMBER, task, "签收")
            p.press(MEMBER, task, "反馈进展")
            p.wait(work, "进展", start)
            p.say(MEMBER, "已约谈摊主，早餐摊移到小区内侧空地。", group=WORK_GROUP)
            tg.wait_for_message(RESIDENT, lambda m: "早餐摊移到" in m["text"], timeout=30)
            assert len(dt.calls("accessToken")) >= 2  # renewed after the expiry

            extension_decided(p, db, task, start)
            stats_and_export(p, start)
        finally:
            bot.stop()


def bind_working_group(p: DingTalkPeople) -> None:
    """Staff add 执法检查组, bind its DingTalk group, and invite 老李, who joins it."""
    p.say(STAFF, "添加工作组 执法检查组")
    p.say(STAFF, "绑定群 执法检查组", group=WORK_GROUP)
    p.wait(p.conv(group=WORK_GROUP), "执法检查组")
    p.say(STAFF, "生成邀请码 执法检查组")
    code = re.search(r"join ([0-9A-F]{8})", p.texts(p.conv(STAFF))[-1])
    assert code, p.texts(p.conv(STAFF))
    p.say(MEMBER, f"加入 {code.group(1)}")


def extension_decided(p: DingTalkPeople, db: Path, task: JSON, start: int) -> None:
    """申请延期 in the working group; the staff's decision in the staff group (a member's
    press on the decision is refused and changes nothing)."""
    work = p.conv(group=WORK_GROUP)
    due_before = query(db, "select due_date from tasks")
    p.press(MEMBER, task, "申请延期")
    p.press(MEMBER, p.wait(work, "需要延长多久", start), "延长7个工作日")
    p.say(MEMBER, "摊主需要时间找新摊位，街道正在协调。", group=WORK_GROUP)
    decision = p.wait(p.conv(group=STAFF_GROUP), "延期申请", start)
    p.press(MEMBER, decision, "同意延期")
    assert query(db, "select due_date from tasks") == due_before
    p.press(STAFF, decision, "同意延期")
    assert query(db, "select due_date from tasks") != due_before
    p.wait(work, "延期", start)


def stats_and_export(p: DingTalkPeople, start: int) -> None:
    """/stats sends its chart and /export its workbook, each uploaded as media first; /units,
    /tasks (a member's, in the group) and /briefing answer where they were asked."""
    p.say(STAFF, "单位列表", group=STAFF_GROUP)
    p.wait(p.conv(group=STAFF_GROUP), "工作组与责任单位", start)
    p.say(MEMBER, "待办", group=WORK_GROUP)
    p.wait(p.conv(group=WORK_GROUP), "待办事项", start)
    p.say(STAFF, "简报", group=STAFF_GROUP)
    p.wait(p.conv(group=STAFF_GROUP), "工作简报", start)
    p.say(STAFF, "统计", group=STAFF_GROUP)
    p.say(STAFF, "导出台账", group=STAFF_GROUP)
    sent = p.records(p.conv(group=STAFF_GROUP), start)
    keys = [r.get("msgKey") for r in sent]
    assert "sampleImageMsg" in keys and "sampleFile" in keys, keys
    image = next(r for r in sent if r.get("msgKey") == "sampleImageMsg")
    assert p.fake.media(image["params"]["photoURL"])["data"].startswith(b"\x89PNG")
    workbook = next(r for r in sent if r.get("msgKey") == "sampleFile")
    assert workbook["params"]["fileName"].endswith(".xlsx")
    assert p.fake.media(workbook["params"]["mediaId"])["data"].startswith(b"PK")
