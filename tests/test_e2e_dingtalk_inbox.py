"""The durable inbox on DingTalk with the real `liaison-bot run`: a robot message a killed process
stored (and ACKed) but never handled is handled after the restart, once; one it finished is not
touched; a second push of either is ACKed and changes nothing."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from domain.channels import Channel
from domain.classifier import ThemeClassifier
from services.kernel.inbox import Inbox
from storage.migrate import upgrade
from storage.models import InboxEntry, Opinion
from tests.botproc import TOKEN
from tests.dingtalkproc import DingTalkPeople, start_both
from tests.fakebot import FakeBotApi
from tests.fakedingtalk import FakeDingTalk
from tests.support import count_rows, services_on

PERSON = "20005"
TEXTS = {
    "never_handled": "3号楼的路灯坏了一个月了，晚上老人出门很危险，请尽快修好。",
    "finished": "小区健身器材坏了好几件，孩子玩的时候容易受伤，请派人维修。",
}


def robot_message(dt: FakeDingTalk, msg_id: str, text: str) -> dict[str, Any]:
    """A one-to-one robot message as the Stream pushes it (the fake's own field set)."""
    return {
        "conversationId": "cidp2p" + PERSON,
        "chatbotCorpId": dt.corp_id,
        "chatbotUserId": dt.robot_dingtalk_id,
        "msgId": msg_id,
        "senderNick": "老周",
        "isAdmin": False,
        "senderStaffId": PERSON,
        "createAt": int(time.time() * 1000),
        "senderCorpId": dt.corp_id,
        "conversationType": "1",
        "senderId": "$:LWCP_v1:$person",
        "robotCode": dt.robot_code,
        "msgtype": "text",
        "text": {"content": text},
    }


async def seed(url: str, classifier: ThemeClassifier, dt: FakeDingTalk) -> None:
    """What a process killed after storing two messages leaves: one handled, one not."""
    async with services_on(url, classifier) as ctx:
        dead = Inbox(ctx, Channel.DINGTALK, owner="dead:1", lease=timedelta(seconds=-1))
        for name, text in TEXTS.items():
            data = robot_message(dt, f"msg-{name}", text)
            await dead.store(f"m:msg-{name}", {"kind": "message", "frame": name, "data": data})
        await dead.finish("m:msg-finished")


def acked(dt: FakeDingTalk, message_id: str) -> None:
    dt.wait_for(lambda: dt.frame(message_id)["state"] == "acked", 30)


def test_stored_robot_messages_are_handled_again_once(
    tmp_path: Path, classifier: ThemeClassifier
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'liaison.db'}"
    upgrade(url)
    with FakeBotApi(TOKEN) as tg, FakeDingTalk() as dt:
        dt.add_user(PERSON, "老周")
        asyncio.run(seed(url, classifier, dt))
        bot = start_both(tg, dt, tmp_path, admin_ids="", database_url=url)
        try:
            people = DingTalkPeople(dt)
            people.wait(people.conv(PERSON), "受理编号")
            # DingTalk pushes both again (it never re-pushes robot messages, but a duplicate
            # push can happen): ACKed, nothing done twice.
            for name, text in TEXTS.items():
                frame = dt.send_text(PERSON, text, msg_id=f"msg-{name}")
                acked(dt, frame["headers"]["messageId"])
            people.say(PERSON, "使用说明")
            people.wait(people.conv(PERSON), "怎么用")
            receipts = [t for t in people.texts(people.conv(PERSON)) if "受理编号" in t]
        finally:
            bot.stop()
    assert len(receipts) == 1, receipts
    # Only the unfinished one became an opinion: a finished event is never handled again.
    assert asyncio.run(count_rows(url, Opinion)) == 1
    done = select(InboxEntry).where(InboxEntry.channel == "dingtalk", InboxEntry.state == "done")
    assert asyncio.run(count_rows(url, done.subquery())) == 3  # two stored, plus 使用说明
