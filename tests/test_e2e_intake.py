"""End to end: the real `liaison-bot run` process against the fake Bot API server, over HTTP.

Residents and staff are played through the fake server's control API; every assertion is on what
the bot actually sent (and, for "nothing was lost or doubled", on the database file it wrote).
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.botproc import ROOT, TOKEN, BotProcess
from tests.fakebot import FakeBotApi

ADMIN, RESIDENT, NEIGHBOUR, BUSY = 900, 101, 102, 103
STAFF_GROUP = -1001
REF_RE = re.compile(r"LL-\d{4}-\d{5}")
OPINION = "我们小区没有老年食堂，老人吃饭很不方便，希望社区能办一个助餐点。"

JSON = dict[str, Any]


def start_bot(fake: FakeBotApi, workdir: Path, **env: str) -> BotProcess:
    return BotProcess(fake.base_url, workdir, admin_ids=str(ADMIN), extra_env=env).polling(fake)


def db_rows(workdir: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(workdir / "liaison.db") as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def station(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[FakeBotApi, BotProcess, Path]]:
    """One fake server and one bot process for the conversation tests in this module."""
    workdir = tmp_path_factory.mktemp("e2e")
    fake = FakeBotApi(TOKEN).start()
    for uid, name in (
        (ADMIN, "站长"),
        (RESIDENT, "王阿姨"),
        (NEIGHBOUR, "李大爷"),
        (BUSY, "赵先生"),
    ):
        fake.add_user(uid, name, username=f"u{uid}")
    fake.add_group(STAFF_GROUP, "联络站工作人员群")
    bot = start_bot(fake, workdir)
    fake.send_text(ADMIN, "/bind_staff", chat_id=STAFF_GROUP)
    bound = fake.wait_for_message(STAFF_GROUP, timeout=30)
    assert "工作人员群" in bound["text"], bound
    yield fake, bot, workdir
    bot.stop()
    fake.stop()


def reply_to(fake: FakeBotApi, chat: int, since: int, timeout: float = 20) -> JSON:
    return fake.wait_for_message(chat, since=since, timeout=timeout)


def say(fake: FakeBotApi, user: int, text: str) -> JSON:
    mark = fake.mark()
    fake.send_text(user, text)
    return reply_to(fake, user, mark)


def test_without_token_run_exits_2_with_one_line(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("liaison-bot")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "bot.cli"]
    for token in ("", "not-a-token"):
        out = subprocess.run(
            [*cmd, "run"],
            cwd=tmp_path,
            env={"BOT_TOKEN": token, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 2
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and "BOT_TOKEN" in lines[0], out.stderr
        assert "Traceback" not in out.stderr


def test_resident_submits_and_staff_see_it(station: tuple[FakeBotApi, BotProcess, Path]) -> None:
    fake, _, workdir = station
    hello = say(fake, RESIDENT, "/start")
    assert "直接打字" in hello["text"]
    staff_mark = fake.mark()
    receipt = say(fake, RESIDENT, OPINION)
    ref = REF_RE.search(receipt["text"])
    assert ref, receipt["text"]
    assert "居家社区养老" in receipt["text"]
    labels = [b["text"] for row in receipt["reply_markup"]["inline_keyboard"] for b in row]
    assert any("补充说明" in b for b in labels) and any("撤回" in b for b in labels)
    card = fake.wait_for_message(
        STAFF_GROUP, lambda m: ref.group(0) in m["text"], since=staff_mark, timeout=20
    )
    assert OPINION in card["text"] and "王阿姨" in card["text"]
    mine = say(fake, RESIDENT, "/my")
    assert ref.group(0) in mine["text"] and "已受理" in mine["text"]
    status = say(fake, RESIDENT, f"/status {ref.group(0)}")
    assert "已受理" in status["text"]
    other = say(fake, NEIGHBOUR, f"/status {ref.group(0)}")
    assert "没有找到" in other["text"]
    assert db_rows(workdir, "select count(*) from opinions where ref_no = ?", ref.group(0)) == [
        (1,)
    ]


def test_markup_and_sql_text_never_trip_the_api(
    station: tuple[FakeBotApi, BotProcess, Path],
) -> None:
    fake, _, workdir = station
    nasty = "<b>楼道</b> & 灯坏了 *急* _[修]_ `x` '; DROP TABLE opinions; -- 😡 <script>"
    staff_mark = fake.mark()
    receipt = say(fake, NEIGHBOUR, nasty)
    ref = REF_RE.search(receipt["text"])
    assert ref
    card = fake.wait_for_message(STAFF_GROUP, lambda m: ref.group(0) in m["text"], since=staff_mark)
    assert "<b>楼道</b> & 灯坏了" in card["text"]  # shown literally, not as formatting
    errors = [
        c
        for c in fake.calls()
        if c.get("status") not in (None, 200) and c["method"] != "getUpdates"
    ]
    assert errors == []
    assert db_rows(workdir, "select text from opinions where ref_no = ?", ref.group(0)) == [
        (nasty,)
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("好的", "至少 5 个字"),
        ("😀😀😀😀😀😀", "表情"),
        ("长" * 2001, "2001"),
        ("/frobnicate", "没有这个命令"),
    ],
)
def test_bad_text_gets_a_clear_answer(
    station: tuple[FakeBotApi, BotProcess, Path], text: str, expected: str
) -> None:
    fake, _, workdir = station
    before = db_rows(workdir, "select count(*) from opinions")
    reply = say(fake, BUSY, text)
    assert expected in reply["text"]
    assert db_rows(workdir, "select count(*) from opinions") == before


def test_sticker_gif_and_group_chatter(station: tuple[FakeBotApi, BotProcess, Path]) -> None:
    fake, _, _ = station
    mark = fake.mark()
    fake.send_sticker(BUSY)
    assert "表情" in reply_to(fake, BUSY, mark)["text"]
    mark = fake.mark()
    fake.send_animation(BUSY)
    assert "表情" in reply_to(fake, BUSY, mark)["text"]
    mark = fake.mark()
    fake.send_text(RESIDENT, "大家好，今天开会吗？", chat_id=STAFF_GROUP)
    fake.send_text(RESIDENT, "/my", chat_id=STAFF_GROUP)
    hint = fake.wait_for_message(STAFF_GROUP, since=mark)
    assert "私聊" in hint["text"]
    fake.wait_until_idle(timeout=20)
    assert [
        m for m in fake.messages(STAFF_GROUP) if m["seq"] > mark and m is not hint
    ] == [] or all("私聊" in m["text"] for m in fake.messages(STAFF_GROUP) if m["seq"] > mark)


def test_redelivered_update_and_edit(station: tuple[FakeBotApi, BotProcess, Path]) -> None:
    fake, _, workdir = station
    mark = fake.mark()
    msg = fake.send_text(NEIGHBOUR, "社区卫生站没有全科医生，老人量血压都要跑到镇上，希望派医生。")
    first = reply_to(fake, NEIGHBOUR, mark)
    ref = REF_RE.search(first["text"])
    assert ref and "医养结合" in first["text"]
    mark = fake.mark()
    fake.inject_raw({"message": msg})  # Telegram re-delivers the same message
    again = reply_to(fake, NEIGHBOUR, mark)
    # The same receipt again, worded so that nobody reads it as a second opinion or a mistake.
    assert ref.group(0) in again["text"] and "同一条意见，不用再发" in again["text"]
    assert "之前" not in again["text"]
    assert db_rows(
        workdir,
        f"select count(*) from opinions where src_message_id = {msg['message_id']} and src_chat_id = {NEIGHBOUR}",
    ) == [(1,)]
    staff_mark = fake.mark()
    mark = fake.mark()
    fake.edit_text(NEIGHBOUR, msg["message_id"], msg["text"] + "每周至少来两次。")
    assert "修改" in reply_to(fake, NEIGHBOUR, mark)["text"]
    told = fake.wait_for_message(STAFF_GROUP, lambda m: "修改" in m["text"], since=staff_mark)
    assert "每周至少来两次" in told["text"]
    assert db_rows(workdir, "select count(*) from revisions") == [(1,)]


def test_forwarded_message_is_registered_with_its_origin(
    station: tuple[FakeBotApi, BotProcess, Path],
) -> None:
    fake, _, workdir = station
    mark = fake.mark()
    fake.send_text(
        RESIDENT, "转发：村里幸福院冬天没有暖气，老人都不愿意去了。", forward_from=NEIGHBOUR
    )
    receipt = reply_to(fake, RESIDENT, mark)
    ref = REF_RE.search(receipt["text"])
    assert ref
    assert db_rows(
        workdir, f"select forwarded_from from opinions where ref_no = '{ref.group(0)}'"
    ) == [("李大爷",)]


def test_receipt_buttons_and_forged_callbacks(station: tuple[FakeBotApi, BotProcess, Path]) -> None:
    fake, _, workdir = station
    receipt = say(fake, RESIDENT, "小区门口的台阶太高，坐轮椅的老人出不去，希望修一个无障碍坡道。")
    ref = REF_RE.search(receipt["text"])
    assert ref
    (op_id,) = db_rows(workdir, f"select id from opinions where ref_no = '{ref.group(0)}'")[0]
    # A neighbour forges the withdraw button of someone else's opinion.
    fake.add_user(NEIGHBOUR, "李大爷", username=f"u{NEIGHBOUR}")
    forged = say(fake, NEIGHBOUR, "楼下的健身器材坏了很久，希望尽快修理，老人们都没法锻炼了。")
    answers_before = len(fake.callback_answers)
    fake.press(NEIGHBOUR, forged, f"o:w:{op_id}", check=False)
    fake.wait_for(lambda: len(fake.callback_answers) > answers_before, timeout=20)
    assert "权限" in (fake.callback_answers[-1].get("text") or "")
    fake.press(NEIGHBOUR, forged, "o:zz:1:2:3", check=False)
    fake.wait_for(lambda: len(fake.callback_answers) > answers_before + 1, timeout=20)
    assert "失效" in (fake.callback_answers[-1].get("text") or "")
    assert db_rows(workdir, f"select status from opinions where id = {op_id}") == [("received",)]
    # The owner switches to real name, adds detail, then withdraws.
    mark = fake.mark()
    fake.press(RESIDENT, receipt, label="改为实名")
    fake.wait_for_message(RESIDENT, lambda m: "已设为实名" in m["text"], since=mark)
    redrawn = fake.wait_for_message(
        RESIDENT, lambda m: m["message_id"] == receipt["message_id"], since=mark
    )
    assert "身份：实名" in redrawn["text"]
    assert any(
        "改为匿名" in b["text"] for row in redrawn["reply_markup"]["inline_keyboard"] for b in row
    )
    mark = fake.mark()
    fake.press(RESIDENT, receipt, label="补充说明")
    assert (
        "请发送"
        in fake.wait_for_message(RESIDENT, lambda m: "请发送" in m["text"], since=mark)["text"]
    )
    detail = say(fake, RESIDENT, "就在3号门，坡度大概有40厘米高。")
    assert "补充" in detail["text"] and ref.group(0) in detail["text"]
    mark = fake.mark()
    fake.press(RESIDENT, redrawn, label="撤回")
    fake.wait_for_message(RESIDENT, lambda m: "已撤回" in m["text"], since=mark)
    assert db_rows(workdir, f"select status, anonymous from opinions where id = {op_id}") == [
        ("withdrawn", 0)
    ]
    assert db_rows(workdir, f"select count(*) from attachments where opinion_id = {op_id}") == [
        (1,)
    ]


def test_photo_location_and_voice_attach(station: tuple[FakeBotApi, BotProcess, Path]) -> None:
    fake, _, workdir = station
    receipt = say(fake, BUSY, "路口红绿灯时间太短，老人过马路走不完，希望延长绿灯时间。")
    ref = REF_RE.search(receipt["text"])
    assert ref
    sends: tuple[Callable[[], object], ...] = (
        lambda: fake.send_photo(BUSY, caption="就是这个路口"),
        lambda: fake.send_location(BUSY, 31.23, 121.47),
        lambda: fake.send_voice(BUSY),
    )
    for send in sends:
        mark = fake.mark()
        send()
        assert ref.group(0) in reply_to(fake, BUSY, mark)["text"]
    rows = db_rows(
        workdir,
        f"select kind from attachments a join opinions o on o.id = a.opinion_id where o.ref_no = '{ref.group(0)}' order by a.id",
    )
    assert [r[0] for r in rows] == ["photo", "location", "voice"]


def test_flood_from_one_user_is_limited(tmp_path: Path) -> None:
    with FakeBotApi(TOKEN) as fake:
        fake.add_user(RESIDENT, "王阿姨")
        bot = start_bot(fake, tmp_path, OPINIONS_PER_HOUR="3")
        try:
            replies = [
                say(fake, RESIDENT, f"第{i}条：楼道灯坏了，晚上老人上下楼看不见。")
                for i in range(4)
            ]
            assert all(REF_RE.search(r["text"]) for r in replies[:3])
            assert "一小时内已提交 3 条" in replies[3]["text"]
        finally:
            bot.stop()


def test_restart_between_messages_loses_nothing(tmp_path: Path) -> None:
    with FakeBotApi(TOKEN) as fake:
        fake.add_user(RESIDENT, "王阿姨")
        bot = start_bot(fake, tmp_path)
        first = say(fake, RESIDENT, OPINION)
        mark = fake.mark()
        fake.press(RESIDENT, first, label="补充说明")
        reply_to(fake, RESIDENT, mark)
        assert bot.stop() == 0
        # Sent while the bot is down: Telegram keeps it until the next getUpdates.
        fake.send_text(RESIDENT, "补充：最好能有送餐上门。")
        bot = start_bot(fake, tmp_path)
        try:
            detail = fake.wait_for_message(RESIDENT, lambda m: "补充" in m["text"], timeout=60)
            assert "LL-" in detail["text"]
            mine = say(fake, RESIDENT, "/my")
            assert "共 1 条" in mine["text"]
            assert db_rows(tmp_path, "select count(*) from attachments") == [(1,)]
        finally:
            bot.stop()
