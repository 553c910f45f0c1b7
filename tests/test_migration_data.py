"""0002_channels carries a Telegram-only database over without loss, on both engines: a database
is built at revision 0001 with a row of every kind, upgraded, and every row is checked."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import text

from domain.message import Message
from handlers.telegram.render import keyboard_dict, render_html
from storage.db import make_engine
from storage.migrate import upgrade

T0 = "2026-09-28 01:00:00"
CARD = "🆕 <b>新意见</b> <code>LL-2026-00001</code>\n群众：王 &lt;阿姨&gt; &amp; 邻居\n\n正文"
MARKUP = {"inline_keyboard": [[{"text": "✅ 确认分类", "callback_data": "t:ok:1"}]]}
REPLY = "已记录 <code>LL-2026-00001</code> 的进展，并告知群众。"

SEED = [
    "INSERT INTO stations (id, code, name, ref_prefix, staff_chat_id, created_at)"
    f" VALUES (1, 'default', '站', 'LL', -1001, '{T0}')",
    "INSERT INTO users (id, tg_id, first_name, last_name, username, phone, station_id,"
    " subscribed, blocked_bot, created_at, updated_at) VALUES"
    f" (1, 101, '王', '阿姨', 'wang', NULL, 1, true, false, '{T0}', '{T0}'),"
    f" (2, 500, '刘代表', NULL, NULL, NULL, 1, false, true, '{T0}', '{T0}')",
    f"INSERT INTO station_roles (id, station_id, user_id, role, created_at) VALUES (1, 1, 2, 'representative', '{T0}')",
    f"INSERT INTO units (id, station_id, kind, name, chat_id, active, created_at) VALUES (1, 1, 'group', '甲组', -2002, true, '{T0}')",
    "INSERT INTO opinions (id, station_id, ref_no, year, seq, resident_id, source, text, theme,"
    " theme_confidence, theme_terms, needs_review, theme_confirmed, anonymous, status,"
    " src_chat_id, src_message_id, receipt_message_id, reopen_count, created_at, updated_at)"
    " VALUES (1, 1, 'LL-2026-00001', 2026, 1, 1, 'resident', '正文', 'elderly_care', 0.9, '[]',"
    f" false, false, true, 'assigned', 101, 7, 55, 0, '{T0}', '{T0}')",
    "INSERT INTO attachments (id, opinion_id, user_id, kind, file_id, src_chat_id,"
    f" src_message_id, created_at) VALUES (1, 1, 1, 'photo', 'F1', 101, 8, '{T0}')",
    "INSERT INTO tasks (id, opinion_id, station_id, assignee_user_id, assigned_at, working_days,"
    f" due_date, deadline_uncertain, status) VALUES (1, 1, 1, 2, '{T0}', 15, '2026-10-20', false, 'open')",
    "INSERT INTO outbox (id, key, station_id, kind, chat_id, text, reply_markup, photo, due_at,"
    " status, attempts, sent_message_id, opinion_id, created_at) VALUES"
    f" (1, 'staff:new:1', 1, 'staff', -1001, :card, :markup, NULL, '{T0}', 'pending', 0, NULL, 1, '{T0}'),"
    f" (2, 'res:assigned:1:u1', 1, 'resident', 101, '📤 已交办', NULL, NULL, '{T0}', 'sent', 1, 999, 1, '{T0}'),"
    f" (3, 'briefing:1:x:chart', 1, 'briefing', -1001, '', NULL, :png, '{T0}', 'pending', 0, NULL, NULL, '{T0}')",
    "INSERT INTO inbound_messages (id, chat_id, message_id, kind, reply, at)"
    f" VALUES (1, 101, 9, 'progress', :reply, '{T0}')",
]
PNG = b"\x89PNG\r\n\x1a\nfake"


def _run(url: str, statements: list[str], params: dict[str, Any]) -> None:
    async def go() -> None:
        engine = make_engine(url)
        async with engine.begin() as conn:
            for sql in statements:
                used = {k: v for k, v in params.items() if f":{k}" in sql}
                await conn.execute(text(sql), used)
        await engine.dispose()

    asyncio.run(go())


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    async def go() -> list[tuple[Any, ...]]:
        engine = make_engine(url)
        async with engine.connect() as conn:
            rows = [tuple(r) for r in (await conn.execute(text(sql))).all()]
        await engine.dispose()
        return rows

    return asyncio.run(go())


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def test_upgrade_from_0001_keeps_every_row(db_url_0001: str) -> None:
    url = db_url_0001
    _run(url, SEED, {"card": CARD, "markup": json.dumps(MARKUP), "png": PNG, "reply": REPLY})
    upgrade(url)

    assert _rows(
        url,
        "SELECT user_id, channel, external_id, first_name, blocked FROM identities ORDER BY user_id",
    ) == [
        (1, "telegram", "101", "王", False),
        (2, "telegram", "500", "刘代表", True),
    ]
    assert _rows(
        url,
        "SELECT u.id FROM users u JOIN identities i ON i.id = u.reach_identity_id ORDER BY u.id",
    ) == [(1,), (2,)]
    assert _rows(
        url, "SELECT first_name, last_name, username, subscribed FROM users WHERE id = 1"
    ) == [("王", "阿姨", "wang", True)]
    assert _rows(url, "SELECT staff_channel, staff_chat_id FROM stations") == [
        ("telegram", "-1001")
    ]
    assert _rows(url, "SELECT chat_channel, chat_id, name FROM units") == [
        ("telegram", "-2002", "甲组")
    ]
    assert _rows(url, "SELECT role FROM station_roles") == [("representative",)]
    assert _rows(
        url,
        "SELECT src_channel, src_chat_id, src_message_id, receipt_message_id, text, status FROM opinions",
    ) == [("telegram", "101", "7", "55", "正文", "assigned")]
    assert _rows(
        url, "SELECT src_channel, src_chat_id, src_message_id, file_id FROM attachments"
    ) == [("telegram", "101", "8", "F1")]
    assert _rows(url, "SELECT status, assignee_user_id, working_days FROM tasks") == [
        ("open", 2, 15)
    ]

    outbox = _rows(
        url,
        "SELECT id, channel, chat_id, message, file_data, status, sent_message_id FROM outbox ORDER BY id",
    )
    card = Message.from_json(_json(outbox[0][3]))
    assert outbox[0][1:3] == ("telegram", "-1001")
    assert render_html(card.text) == CARD  # rendered byte for byte as it was queued
    assert keyboard_dict(card.actions) == MARKUP  # the pre-upgrade button data is kept as is
    assert outbox[1][1:3] == ("telegram", "101") and outbox[1][5:] == ("sent", "999")
    assert render_html(Message.from_json(_json(outbox[1][3])).text) == "📤 已交办"
    chart = Message.from_json(_json(outbox[2][3]), outbox[2][4])
    assert chart.file is not None and chart.file.kind == "image" and chart.data == PNG

    [(channel, chat_id, message_id, reply)] = _rows(
        url, "SELECT channel, chat_id, message_id, reply FROM inbound_messages"
    )
    assert (channel, chat_id, message_id) == ("telegram", "101", "9")
    assert render_html(Message.from_json(_json(reply)).text) == REPLY
    # Cards with buttons were queued: unsigned button data keeps working for a while.
    keys = sorted(k for (k,) in _rows(url, "SELECT key FROM bot_settings"))
    assert keys == ["legacy_actions_until", "report_days_tz"]
    # 0011 filled report_days from the rows kept (/stats sums them)
    [(received,)] = _rows(
        url, "SELECT sum(n) FROM report_days WHERE metric = 'recv' AND span = 'd'"
    )
    [(opinions,)] = _rows(url, "SELECT count(*) FROM opinions")
    assert received == opinions > 0
