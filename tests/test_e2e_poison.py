"""An update python-telegram-bot cannot parse (a newer Bot API field shape) among normal ones,
through the real process in polling and webhook mode: stored raw, set aside after its attempts
with one log line, and the updates around it are handled as usual; nothing stalls."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tests.botproc import TOKEN, BotProcess
from tests.fakebot import FakeBotApi
from tests.localhttp import free_port

RESIDENT = 7301
REF = re.compile(r"[A-Z]+-\d{4}-\d{5}")
BEFORE = "小区门口的路灯坏了半个月，晚上老人出门看不清路，希望尽快修好。"
AFTER = (
    "菜市场旁边的下水道堵了，一下雨就积水，希望派人疏通一下。",
    "公交站牌上的字看不清了，希望换一块新的。",
)


def poisoned(message_id: int) -> dict[str, object]:
    """A message whose date is an ISO string: PTB's Update.de_json raises on it."""
    return {
        "message": {
            "message_id": message_id,
            "date": "2026-12-06T10:00:00Z",
            "chat": {"id": RESIDENT, "type": "private", "first_name": "李大爷"},
            "from": {"id": RESIDENT, "is_bot": False, "first_name": "李大爷"},
            "text": "这条消息的格式是新版本的，旧的解析器读不懂。",
        }
    }


def inbox_state(db: Path, key: int) -> tuple[str, int, str] | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT state, attempts, payload FROM inbox WHERE channel = 'telegram' AND key = ?",
            (str(key),),
        ).fetchone()
    return None if row is None else (str(row[0]), int(row[1]), str(row[2]))


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_an_unparseable_update_is_set_aside_and_the_rest_flows(mode: str, tmp_path: Path) -> None:
    args: list[str] = []
    port = free_port()
    if mode == "webhook":
        args = ["--webhook-url", f"http://127.0.0.1:{port}/tg", "--listen", f"127.0.0.1:{port}"]
    with FakeBotApi(TOKEN) as fake:
        fake.add_user(RESIDENT, "李大爷")
        with BotProcess(fake.base_url, tmp_path, args=args) as bot:
            mark = fake.mark()
            fake.send_text(RESIDENT, BEFORE)
            fake.wait_for_message(RESIDENT, since=mark, timeout=90)
            bad = fake.inject_raw(poisoned(900_001))
            for body in AFTER:
                fake.send_text(RESIDENT, body)
            fake.wait_for(lambda: len(fake.messages(RESIDENT)) >= 3, timeout=60)
            assert not fake.updates(pending_only=True)  # confirmed, the bad one too
            db, key = tmp_path / "liaison.db", bad["update_id"]
            fake.wait_for_outside(lambda: (inbox_state(db, key) or ("",))[0] == "failed", 60)
            state = inbox_state(db, key)
            assert state is not None
            log = bot.log()
    receipts = [m["text"] for m in fake.messages(RESIDENT)]
    assert len(receipts) == 3 and all(REF.search(text) for text in receipts), receipts
    assert "2026-12-06T10:00:00Z" in state[2]  # kept as Telegram sent it
    assert state[1] == 3
    assert log.count("set aside after") == 1, log[-3000:]
    assert "Something went wrong processing the data" not in log
    assert "Error while parsing updates" not in log
