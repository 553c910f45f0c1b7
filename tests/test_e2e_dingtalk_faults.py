"""DingTalk faults with the real `liaison-bot run`: kill -9 while cards and notices are in flight,
each notice exactly once over a restart, a dropped Stream socket that reconnects (and a pushed-
twice message handled once), a group the robot was removed from (staff told once)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from domain.channels import Address, Channel, Sender
from domain.classifier import ThemeClassifier
from services.casework import CaseworkService
from services.intake import IntakeService
from storage.migrate import upgrade
from tests.botproc import TOKEN, dispatchers, finished
from tests.dingtalkproc import DingTalkPeople, dingtalk_env, start_both, text_of
from tests.fakebot import FakeBotApi
from tests.fakedingtalk import FakeDingTalk, FakeLimits
from tests.support import groups_with_notices, services_on

ADMIN = Sender(Channel.DINGTALK, "20001", "站长")
STAFF_GROUP = "cidStaffGroup=="
RESIDENT = 101


def dt_chat(cid: str) -> Address:
    return Address(Channel.DINGTALK, cid)


def seed(
    url: str, classifier: ThemeClassifier, groups: int, notices: int, opinions: int
) -> list[str]:
    """A DingTalk staff group, `groups` working groups on DingTalk with `notices` notices each,
    and `opinions` residents' opinions from Telegram (each a triage card for the staff group)."""

    async def run() -> list[str]:
        cids = [f"cidGroup{g}==" for g in range(groups)]
        async with services_on(url, classifier, ADMIN) as ctx:
            await CaseworkService(ctx).bind_staff_chat(ADMIN, dt_chat(STAFF_GROUP), None)
            await groups_with_notices(ctx, ADMIN, [dt_chat(c) for c in cids], notices)
            intake = IntakeService(ctx)
            for n in range(opinions):
                who = Sender(Channel.TELEGRAM, str(RESIDENT + n), f"居民{n}")
                text = f"第{n}号意见：小区路灯坏了三个月，晚上老人出门不安全。"
                await intake.submit_text(who, who.private_chat, "1", text)
        return cids

    upgrade(url)
    return asyncio.run(run())


def delivered(dt: FakeDingTalk, convs: set[str]) -> Counter[tuple[str, str]]:
    return Counter(
        (r["conversation"], text_of(r)) for r in dt.messages() if r["conversation"] in convs
    )


def wait_until(dt: FakeDingTalk, predicate: Callable[[], bool], timeout: float) -> None:
    dt.wait_for(predicate, timeout)


def fake_dingtalk(cids: list[str]) -> FakeDingTalk:
    dt = FakeDingTalk()
    dt.add_user(ADMIN.external_id, "站长", is_admin=True)
    dt.add_group(STAFF_GROUP, "工作人员群", (ADMIN.external_id,))
    for cid in cids:
        dt.add_group(cid, cid, (ADMIN.external_id,))
    return dt


def test_kill_9_with_cards_and_notices_in_flight(
    tmp_path: Path, classifier: ThemeClassifier, bot_db: str
) -> None:
    url = bot_db
    cids = seed(url, classifier, groups=4, notices=8, opinions=6)
    convs = {f"group:{c}" for c in [*cids, STAFF_GROUP]}
    total = len(cids) * 8 + 6
    env = {"DINGTALK_RATE_PER_SECOND": "5", "OUTBOX_LEASE_SECONDS": "4"}
    with FakeBotApi(TOKEN) as tg, fake_dingtalk(cids) as dt:
        admin = f"dingtalk:{ADMIN.external_id}"
        bot = start_both(tg, dt, tmp_path, admin_ids=admin, database_url=url, extra_env=env)
        wait_until(dt, lambda: sum(delivered(dt, convs).values()) >= 10, 60)
        bot.kill()  # SIGKILL in the middle of the dispatch
        got_before = sum(delivered(dt, convs).values())
        assert got_before < total, "the dispatch finished before the kill; slow it down"
        bot = start_both(tg, dt, tmp_path, admin_ids=admin, database_url=url, extra_env=env)
        try:
            wait_until(dt, lambda: len(delivered(dt, convs)) >= total, 120)
            tg.wait_until_idle(timeout=10, quiet=1.0)
            counts = delivered(dt, convs)
        finally:
            bot.stop()
    assert len(counts) == total  # nothing lost
    assert sum(counts.values()) - total <= 1  # at most the one in flight doubled
    cards = [r for r in dt.messages(f"group:{STAFF_GROUP}") if r["api"] == "card"]
    assert len({text_of(c) for c in cards}) == 6


def test_each_notice_exactly_once_across_a_restart(
    tmp_path: Path, classifier: ThemeClassifier
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'liaison.db'}"
    cids = seed(url, classifier, groups=3, notices=6, opinions=0)
    convs = {f"group:{c}" for c in cids}
    total = len(cids) * 6
    env = {"DINGTALK_RATE_PER_SECOND": "5"}
    with FakeBotApi(TOKEN) as tg, fake_dingtalk(cids) as dt:
        admin = f"dingtalk:{ADMIN.external_id}"
        bot = start_both(tg, dt, tmp_path, admin_ids=admin, database_url=url, extra_env=env)
        wait_until(dt, lambda: sum(delivered(dt, convs).values()) >= 5, 60)
        assert bot.stop() == 0  # SIGTERM, as systemd stops it
        bot = start_both(tg, dt, tmp_path, admin_ids=admin, database_url=url, extra_env=env)
        try:
            wait_until(dt, lambda: sum(delivered(dt, convs).values()) >= total, 120)
            # Ticks go on; nothing more may arrive.
            time_to_settle = dt.messages()
            tg.wait_until_idle(timeout=10, quiet=1.5)
            assert len(dt.messages()) == len(time_to_settle)
        finally:
            bot.stop()
        counts = delivered(dt, convs)
    assert len(counts) == total and sum(counts.values()) == total
    assert dt.throttled == 0


def test_dropped_socket_reconnects_and_a_repush_is_handled_once(tmp_path: Path) -> None:
    with FakeBotApi(TOKEN) as tg, FakeDingTalk() as dt:
        dt.add_user("20005", "老周")
        bot = start_both(tg, dt, tmp_path, admin_ids="")
        try:
            people = DingTalkPeople(dt)
            dt.drop_socket()
            dt.wait_for(lambda: dt.connection_count >= 2 and dt.open_connections == 1, 60)
            text = "菜市场门口的下水道堵了，一下雨就积水，希望尽快疏通。"
            msg_id = people.say("20005", text)
            people.wait(people.conv("20005"), "受理编号")
            # The same message pushed again (as after a reconnect): ACKed, handled once.
            frame = dt.send_text("20005", text, msg_id=msg_id)
            dt.wait_for(lambda: dt.frame(frame["headers"]["messageId"])["state"] == "acked", 30)
            people.say("20005", "使用说明")
            people.wait(people.conv("20005"), "怎么用")
            receipts = [t for t in people.texts(people.conv("20005")) if "受理编号" in t]
            assert len(receipts) == 1
            rows = query(tmp_path / "liaison.db", "select count(*) from opinions")
            assert rows == [(1,)]
        finally:
            bot.stop()
        assert bot.log().count("DingTalk stream connected") >= 2


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return [tuple(r) for r in conn.execute(sql).fetchall()]


def test_robot_removed_from_group_staff_told_once(
    tmp_path: Path, classifier: ThemeClassifier
) -> None:
    db = tmp_path / "liaison.db"
    url = f"sqlite+aiosqlite:///{db}"
    cids = seed(url, classifier, groups=2, notices=0, opinions=0)
    gone = f"select count(*) from outbox where chat_id = '{cids[0]}' and status = 'undeliverable'"
    with FakeBotApi(TOKEN) as tg, fake_dingtalk(cids) as dt:
        dt.remove_robot(cids[0])
        admin = f"dingtalk:{ADMIN.external_id}"
        bot = start_both(tg, dt, tmp_path, admin_ids=admin, database_url=url)
        try:
            people = DingTalkPeople(dt)
            staff = people.conv(group=STAFF_GROUP)
            people.say(ADMIN.external_id, "发通知 全部 周五下午三点开会。", group=STAFF_GROUP)
            people.wait(f"group:{cids[1]}", "周五下午三点开会")
            people.wait(staff, "无法向")
            people.say(ADMIN.external_id, "发通知 全部 周六上午九点再开一次会。", group=STAFF_GROUP)
            people.wait(f"group:{cids[1]}", "周六上午九点")
            dt.wait_for(lambda: query(db, gone) == [(2,)], 30)
            pending = "select count(*) from outbox where status in ('pending', 'sending')"
            dt.wait_for(lambda: query(db, pending) == [(0,)], 30)
            told = [t for t in people.texts(staff) if "无法向" in t]
            assert len(told) == 1 and "组0" in told[0], people.texts(staff)
        finally:
            bot.stop()


def test_throttled_sends_are_retried_and_nothing_is_lost(
    tmp_path: Path, classifier: ThemeClassifier
) -> None:
    """DingTalk allowing far fewer calls than we pace for (3 a second per API): the refusals
    (403 QpsLimitForApi) are retried after their wait; every notice arrives exactly once."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'liaison.db'}"
    cids = seed(url, classifier, groups=3, notices=5, opinions=0)
    convs = {f"group:{c}" for c in cids}
    total = len(cids) * 5
    with FakeBotApi(TOKEN) as tg, fake_dingtalk(cids) as dt:
        dt.set_limits(FakeLimits(api_qps=3))
        admin = f"dingtalk:{ADMIN.external_id}"
        bot = start_both(tg, dt, tmp_path, admin_ids=admin, database_url=url)
        try:
            wait_until(dt, lambda: sum(delivered(dt, convs).values()) >= total, 120)
            tg.wait_until_idle(timeout=10, quiet=1.5)
        finally:
            bot.stop()
        counts = delivered(dt, convs)
    assert dt.throttled > 0  # the limit was really hit
    assert len(counts) == total and sum(counts.values()) == total


def test_dispatch_worker_sends_dingtalk_rows(tmp_path: Path, classifier: ThemeClassifier) -> None:
    """`liaison-bot dispatch --until-idle` (the clock without receiving) serves DingTalk too."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'liaison.db'}"
    cids = seed(url, classifier, groups=2, notices=3, opinions=0)
    convs = {f"group:{c}" for c in cids}
    with FakeBotApi(TOKEN) as tg, fake_dingtalk(cids) as dt:
        procs = dispatchers(1, tg.base_url, tmp_path, url, **dingtalk_env(dt))
        [(out, err)] = finished(procs, timeout=180)
        counts = delivered(dt, convs)
    assert procs[0].returncode == 0, err[-2000:]
    assert out.strip().endswith("sent 6")
    assert len(counts) == 6 and sum(counts.values()) == 6
    assert dt.open_connections == 0 and dt.connection_count == 0  # no Stream: it only sends
