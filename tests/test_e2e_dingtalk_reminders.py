"""Deadline reminders on DingTalk with the real `liaison-bot run`: a task assigned to a
representative on DingTalk, the bot started on the morning its case is three working days
overdue (after downtime): the representative gets the latest reminder once, the DingTalk staff
group the overdue report once, and a restart adds nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from domain.channels import Address, Channel, Sender
from domain.classifier import ThemeClassifier
from domain.clock import ManualClock
from services.casework import CaseworkService
from services.intake import IntakeService
from storage.migrate import upgrade
from tests.botproc import TOKEN
from tests.dingtalkproc import DingTalkPeople, start_both
from tests.fakebot import FakeBotApi
from tests.fakedingtalk import FakeDingTalk
from tests.support import code_in, services_on, user_id_of

ADMIN = Sender(Channel.DINGTALK, "20001", "站长")
REP = Sender(Channel.DINGTALK, "20003", "刘代表")
RESIDENT = Sender(Channel.TELEGRAM, "101", "王阿姨")
STAFF_GROUP = "cidStaffGroup=="
# Mon 28 Sept 2026 09:00 Beijing, seven working days: due Tue 13 Oct; the bot comes back on
# Fri 16 Oct 09:30, the third overdue working day.
ASSIGNED_AT = datetime(2026, 9, 28, 1, 0, tzinfo=UTC)
BACK_AT = "2026-10-16T09:30:00+08:00"


async def seed(url: str, classifier: ThemeClassifier) -> None:
    async with services_on(url, classifier, ADMIN, clock=ManualClock(ASSIGNED_AT)) as ctx:
        cw = CaseworkService(ctx)
        await cw.bind_staff_chat(ADMIN, Address(Channel.DINGTALK, STAFF_GROUP), None)
        invite = await cw.create_invite(ADMIN, None, None)
        await cw.join(REP, code_in(invite))
        await IntakeService(ctx).submit_text(
            RESIDENT, RESIDENT.private_chat, "1", "我们小区没有老年食堂，老人吃饭很不方便。", None
        )
        rep_id = await user_id_of(ctx, REP)
        await cw.triage_button(ADMIN, "dl", (1, 1, rep_id, 7))


def test_reminders_once_on_dingtalk_across_a_restart(
    tmp_path: Path, classifier: ThemeClassifier
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'liaison.db'}"
    upgrade(url)
    asyncio.run(seed(url, classifier))
    env = {"LIAISON_CLOCK_START": BACK_AT}
    with FakeBotApi(TOKEN) as tg, FakeDingTalk() as dt:
        dt.add_user(ADMIN.external_id, "站长", is_admin=True)
        dt.add_user(REP.external_id, "刘代表")
        dt.add_group(STAFF_GROUP, "工作人员群", (ADMIN.external_id,))
        p = DingTalkPeople(dt)
        rep, staff = p.conv(REP.external_id), p.conv(group=STAFF_GROUP)
        for _ in range(2):  # started, stopped (SIGTERM), started again at the same moment
            bot = start_both(
                tg, dt, tmp_path, admin_ids="dingtalk:20001", database_url=url, extra_env=env
            )
            try:
                p.wait(rep, "逾期")
                p.wait(staff, "逾期通报")
                tg.wait_until_idle(timeout=10, quiet=1.5)  # a few ticks of the clock
            finally:
                assert bot.stop() == 0
        reminders = [t for t in p.texts(rep) if "逾期" in t]
        reports = [t for t in p.texts(staff) if "逾期通报" in t]
    assert len(reminders) == 1, p.texts(rep)
    assert len(reports) == 1, p.texts(staff)
    assert "王阿姨" not in reminders[0]
