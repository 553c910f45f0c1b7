"""DingTalk as a channel of the real `liaison-bot run`: the resident on Telegram (tests/fakebot),
staff, the representative and the working group on DingTalk (tests/fakedingtalk, through the
Stream WebSocket and the OpenAPI). Start-up checks, the casework loop, refused presses."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.botproc import ROOT, TOKEN
from tests.dingtalkproc import DingTalkPeople, buttons, dingtalk_env, start_both, text_of
from tests.fakebot import FakeBotApi
from tests.fakedingtalk import FakeDingTalk

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


def test_resident_on_telegram_staff_on_dingtalk(tmp_path: Path) -> None:
    with FakeBotApi(TOKEN) as tg, FakeDingTalk() as dt:
        tg.add_user(RESIDENT, "王阿姨")
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
        finally:
            bot.stop()
