"""What a process killed mid-update leaves in the inbox, picked up by the real `liaison-bot run`:
an update stored but never handled is handled; one whose opinion was stored but whose receipt
never went out gets its receipt, once, and no second opinion; a finished one is not touched,
though Telegram (never told) delivers all three again."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from domain.channels import Channel
from domain.classifier import ThemeClassifier
from services.intake import IntakeService
from services.kernel.inbox import Inbox
from storage.migrate import upgrade
from storage.models import InboxEntry, Opinion
from tests.botproc import TOKEN, BotProcess
from tests.fakebot import FakeBotApi
from tests.support import chat, count_rows, services_on, tg

RESIDENT = 4242
TEXTS = {
    "never_handled": "3号楼的路灯坏了一个月了，晚上老人出门很危险，请尽快修好。",
    "no_receipt": "菜市场门口的下水道堵了，一下雨就积水，希望尽快疏通。",
    "finished": "小区健身器材坏了好几件，孩子玩的时候容易受伤，请派人维修。",
}


async def seed(url: str, classifier: ThemeClassifier, updates: dict[str, Any]) -> dict[str, str]:
    """The state a process killed at three different moments leaves behind."""
    refs: dict[str, str] = {}
    async with services_on(url, classifier) as ctx:
        dead = Inbox(ctx, Channel.TELEGRAM, owner="dead:1", lease=timedelta(seconds=-1))
        intake = IntakeService(ctx)
        for name, update in updates.items():
            await dead.store(str(update["update_id"]), update)
            if name == "never_handled":
                continue
            msg = update["message"]
            reply = await intake.submit_text(
                tg(RESIDENT, "王阿姨"), chat(RESIDENT), str(msg["message_id"]), msg["text"], None
            )
            found = re.search(r"[A-Z]+-\d{4}-\d{5}", reply.text.plain)
            assert found is not None
            refs[name] = found.group(0)
            if name == "finished":
                await dead.finish(str(update["update_id"]))
    return refs


def test_unfinished_updates_are_handled_again_once(
    tmp_path: Path, classifier: ThemeClassifier
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'liaison.db'}"
    upgrade(url)
    with FakeBotApi(TOKEN) as fake:
        fake.add_user(RESIDENT, "王阿姨")
        updates = {}
        for name, body in TEXTS.items():
            sent = fake.send_text(RESIDENT, body)
            updates[name] = next(
                u for u in fake.updates() if u["message"]["message_id"] == sent["message_id"]
            )
        refs = asyncio.run(seed(url, classifier, updates))
        with BotProcess(fake.base_url, tmp_path, database_url=url):
            fake.wait_for(lambda: len(fake.messages(RESIDENT)) >= 2, timeout=90)
            fake.wait_until_idle(timeout=30, quiet=1.0)
            got = [m["text"] for m in fake.messages(RESIDENT)]
    assert len(got) == 2, got
    assert sum(refs["no_receipt"] in text for text in got) == 1
    assert not any(refs["finished"] in text for text in got)
    assert sum(TEXTS["never_handled"] not in text and "受理编号" in text for text in got) == 2
    assert asyncio.run(count_rows(url, Opinion)) == 3  # one each, none twice
    done = asyncio.run(
        count_rows(url, select(InboxEntry).where(InboxEntry.state == "done").subquery())
    )
    assert done == 3
