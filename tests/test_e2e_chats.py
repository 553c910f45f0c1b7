"""Chats that change under the bot (issue 13, section 4), through the real process and the fake
Bot API: a staff group upgraded to a supergroup is followed (bindings and queued cards), and a
bot removed from the staff group tells the admins in private, once."""

from __future__ import annotations

import re
from pathlib import Path

from tests.botproc import TOKEN, BotProcess
from tests.fakebot import FakeBotApi
from tests.test_e2e_casework import query

ADMIN, STAFF, RESIDENT = 900, 901, 101
OLD, NEW, UNIT_GROUP, NEW_UNIT = -1001, -1002003004005, -2001, -1002003004006
OPINION = "小区{n}号楼门口的路灯坏了一个星期，晚上老人出门很不安全，请尽快修理。"


def _start(fake: FakeBotApi, tmp: Path, db: str) -> BotProcess:
    for uid, name in ((ADMIN, "站长"), (STAFF, "小张"), (RESIDENT, "王阿姨")):
        fake.add_user(uid, name)
    fake.add_group(OLD, "工作人员群", type="group")
    fake.add_group(UNIT_GROUP, "甲组", type="group")
    bot = BotProcess(fake.base_url, tmp, admin_ids=str(ADMIN), database_url=db).polling(fake)
    for user, text, chat in (
        (ADMIN, "/bind_staff", OLD),
        (ADMIN, "/group_add 甲组", None),
        (ADMIN, "/bind 甲组", UNIT_GROUP),
    ):
        fake.send_text(user, text, chat_id=chat)
        fake.wait_until_idle(timeout=30, quiet=0.3)
    return bot


def _opinion(fake: FakeBotApi, n: int) -> None:
    mark = fake.mark()
    fake.send_text(RESIDENT, OPINION.format(n=n))
    fake.wait_for_message(RESIDENT, lambda r: "受理编号" in r["text"], timeout=30, since=mark)
    fake.wait_until_idle(timeout=30, quiet=0.5)


def _cards(fake: FakeBotApi, chat: int) -> list[str]:
    return [r["text"] for r in fake.messages(chat) if "🆕" in r["text"]]


def test_a_migrated_staff_group_is_followed(tmp_path: Path, bot_db: str) -> None:
    with FakeBotApi(TOKEN) as fake:
        bot = _start(fake, tmp_path, bot_db)
        try:
            _opinion(fake, 1)
            assert len(_cards(fake, OLD)) == 1
            # Upgraded without the bot seeing the service message: the next card meets the
            # 400 with migrate_to_chat_id, and everything follows the new id.
            fake.migrate_group(OLD, NEW, ADMIN, notify=False)
            _opinion(fake, 2)
            fake.wait_for(lambda: len(_cards(fake, NEW)) == 1, timeout=30)
            assert len(_cards(fake, OLD)) == 1
            assert query(bot_db, "select staff_chat_id from stations") == [(str(NEW),)]
            unsent = query(bot_db, "select count(*) from outbox where status <> 'sent'")
            assert unsent == [(0,)]
            # The unit's group upgraded with its service message: its binding moves at once.
            fake.migrate_group(UNIT_GROUP, NEW_UNIT, ADMIN)
            fake.wait_until_idle(timeout=30, quiet=0.5)
            assert query(bot_db, "select chat_id from units") == [(str(NEW_UNIT),)]
            assert "Traceback" not in bot.log()
        finally:
            bot.stop()


def test_a_kicked_bot_tells_the_admins_once(tmp_path: Path, bot_db: str) -> None:
    with FakeBotApi(TOKEN) as fake:
        bot = _start(fake, tmp_path, bot_db)
        try:
            fake.remove_bot_from_group(OLD, STAFF)
            # Told when it happens, before any card fails …
            fake.wait_for(
                lambda: any("无法在" in r["text"] for r in fake.messages(ADMIN)), timeout=30
            )
            # … and not again when the cards meet the 403.
            for n in (1, 2):
                _opinion(fake, n)
            fake.wait_until_idle(timeout=30, quiet=0.5)
            notices = [r["text"] for r in fake.messages(ADMIN) if "无法在" in r["text"]]
            assert len(notices) == 1 and "/bind_staff" in notices[0], notices
            assert _cards(fake, OLD) == []
            # Back in the group and bound again: the cards set aside are sent.
            fake.unblock(OLD)
            fake.send_text(ADMIN, "/bind_staff", chat_id=OLD)
            fake.wait_for(lambda: len(_cards(fake, OLD)) == 2, timeout=30)
            refs = [re.search(r"LL-\d{4}-\d{5}", t) for t in _cards(fake, OLD)]
            assert all(refs) and len({r.group(0) for r in refs if r}) == 2
            assert "Traceback" not in bot.log()
        finally:
            bot.stop()
