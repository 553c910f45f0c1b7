"""Hostile and odd input through the real bot and the fake Bot API (issue 13): forged and
malformed button data, hostile display names, every command with hostile arguments, message
types the bot does not take, edits, floods and people without the role.

Each input must get a clear Chinese answer (or a correct silence), never an unhandled exception
or a message Telegram refuses, and lose nothing. One bot process per engine serves every input;
after each input a /help in the same chat marks the point where it has been handled.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.hostile_world import (
    ADMIN,
    CJK,
    OUTSIDER,
    REP,
    RESIDENT,
    RESIDENTS_GROUP,
    STAFF,
    STAFF_GROUP,
    Seen,
    World,
    run_input,
    start_world,
)

Act = Callable[[World], Any]
Check = Callable[[World, Seen], None]


@dataclass(frozen=True)
class Case:
    id: str
    act: Act
    chat: int | None = None  # None: the acting user's private chat
    user: int = RESIDENT
    silent: bool = False
    check: Check | None = None
    name: str = "居民"  # the display name of a new user (user=0)
    may_be_silent: bool = False  # a press that changes nothing may get an empty answer


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    pg = None
    if request.param == "postgresql":
        pg = request.getfixturevalue("pg_database")
        if pg is None:
            pytest.skip("PostgreSQL not reachable")
    yield from start_world(tmp_path_factory.mktemp(f"hostile-{request.param}"), request.param, pg)


# ---- inputs ----------------------------------------------------------------------------------

HUGE = "长" * 4000
ARGS = {
    "empty": "",
    "markup": "<b>x</b>&<i>&amp;</i><",
    "nul": "a\x00b",
    "rtl": "\u202e12\u202c",
    "superscript": "²³",
    "int63": str(2**63),
    "emoji": "😀😀😀",
    "huge": HUGE,
}
COMMANDS = [
    "start", "help", "my", "status", "link", "bind_staff", "add_staff", "invite", "join",
    "group_add", "dept_add", "units", "bind", "tasks", "stats", "briefing", "export", "meeting",
    "meetings", "meeting_edit", "meeting_cancel", "notify", "subscribe", "unsubscribe",
    "no_such_command",
]  # fmt: skip
STAFF_COMMANDS = [
    "add_staff", "invite", "group_add", "dept_add", "units", "bind", "stats", "briefing",
    "export", "meeting", "meetings", "meeting_edit", "meeting_cancel", "notify", "bind_staff",
]  # fmt: skip
STAFF_ARGS = ("markup", "nul", "superscript", "int63", "huge")


def _text(text: str, chat: int | None = None) -> Act:
    def act(w: World) -> None:
        w.fake.send_text(w.ids["actor"], text, chat_id=chat)

    return act


def _press(data: Callable[[World], str], record: str = "receipt", chat: int | None = None) -> Act:
    def act(w: World) -> None:
        w.fake.press(w.ids["actor"], w.records[record], data(w), chat_id=chat, check=False)

    return act


def _raw(field: str, content: dict[str, Any]) -> Act:
    """A message of a kind the fake has no helper for, straight into the update queue."""

    def act(w: World) -> None:
        uid = w.ids["actor"]
        w.ids["raw"] = w.ids.get("raw", 900_000) + 1
        w.fake.inject_raw(
            {
                field: {
                    "message_id": w.ids["raw"],
                    "from": {"id": uid, "is_bot": False, "first_name": "居民"},
                    "chat": {"id": uid, "type": "private", "first_name": "居民"},
                    "date": int(time.time()),
                    **content,
                }
            }
        )

    return act


def _command_cases() -> list[Case]:
    cases = [
        Case(f"cmd-{name}-{arg}", _text(f"/{name} {value}".strip()), user=0)
        for name in COMMANDS
        for arg, value in ARGS.items()
    ]
    cases += [
        Case(f"staff-{name}-{arg}", _text(f"/{name} {ARGS[arg]}"), user=STAFF)
        for name in STAFF_COMMANDS
        for arg in STAFF_ARGS
    ]
    big = str(2**63)
    cases += [
        Case("staff-meeting_edit-int63-id", _text(f"/meeting_edit {big} 地点 会议室"),
             user=STAFF),
        Case("staff-meeting_cancel-int31-id", _text(f"/meeting_cancel {2**31}"), user=STAFF),
        Case("staff-meeting-markup-rule",
             _text("/meeting 全站 | 接待日 | 12-01 15:00 | <b>每周</b>&三 | 会议室", STAFF_GROUP),
             STAFF_GROUP, STAFF),
        Case("resident-meeting-markup-rule",
             _text("/meeting 全站 | 接待日 | 12-01 15:00 | <b>每周</b>&三 | 会议室"), user=0),
        Case("admin-add_staff-superscript", _text("/add_staff ²"), user=ADMIN),
        Case("admin-add_staff-int63", _text(f"/add_staff {big}"), user=ADMIN),
        Case("admin-bind_staff-markup-code", _text("/bind_staff <b>", RESIDENTS_GROUP),
             RESIDENTS_GROUP, OUTSIDER),
        Case("outsider-bind_staff-real-code", _text("/bind_staff default", RESIDENTS_GROUP),
             RESIDENTS_GROUP, OUTSIDER),
    ]  # fmt: skip
    return cases


FORGED = [
    "", "x", ":", "o", "o:d", "o:d:", "o:d:abc", "o:d:-1", "o:d:1.5", "o:d:3000000000",
    "o:d:2147483648", f"o:d:{2**63}", "o:d:00000000000000000001", "o:d:²", "o:d:١", "o:d:１",
    "o:d:1\x00", "\u202eo:d:1", "😀", "o:d:1.AAAAAAAAAAA", "a" * 64, "a" * 65,
    "o:d:1:2:3:4:5:6:7:8:9", "<b>o:d:1</b>", "r:v:1:3", "t:ok:1",
]  # fmt: skip


def _const(data: str) -> Callable[[World], str]:
    return lambda _: data


def _press_cases() -> list[Case]:
    cases = [Case(f"forged-{i:02d}", _press(_const(d))) for i, d in enumerate(FORGED)]
    signed: list[tuple[str, Callable[[World], str]]] = [
        ("rating-open-case-3", lambda w: w.sign("r", "v", w.ids["task"], 3)),
        ("rating-open-case-1", lambda w: w.sign("r", "v", w.ids["task"], 1)),
        ("rating-bad-value", lambda w: w.sign("r", "v", w.ids["task"], 9)),
        ("rating-no-task", lambda w: w.sign("r", "v", 2**31 - 1, 1)),
        ("triage-by-resident", lambda w: w.sign("t", "ok", w.ids["opinion"])),
        ("assign-by-resident", lambda w: w.sign("t", "dl", w.ids["opinion"], 1, w.ids["rep"], 3)),
        ("task-by-resident", lambda w: w.sign("k", "ack", w.ids["task"])),
        ("extension-unknown", lambda w: w.sign("x", "y", 2**31 - 1)),
        ("page-zero", lambda w: w.sign("my", "p", 0)),
        ("anonymity-bad-flag", lambda w: w.sign("o", "a", w.ids["opinion"], 7)),
        ("unknown-scope", lambda w: w.sign("zz", "top", 1)),
        ("withdraw-missing", lambda w: w.sign("o", "w", 2**31 - 1)),
    ]
    cases += [Case(f"signed-{name}", _press(data)) for name, data in signed]
    huge_page = _press(lambda w: w.sign("my", "p", 2**31 - 1))
    cases.append(Case("signed-page-huge", huge_page, may_be_silent=True))
    outsider: list[tuple[str, Callable[[World], str]]] = [
        ("ok", lambda w: w.sign("t", "ok", w.ids["opinion"])),
        ("reject", lambda w: w.sign("t", "rj", w.ids["opinion"])),
        ("unsigned-assign", lambda w: f"t:dl:{w.ids['opinion']}:1:1:3"),
        ("task-ack", lambda w: w.sign("k", "ack", w.ids["task"])),
    ]
    cases += [
        Case(f"outsider-card-{n}", _press(d, "card", STAFF_GROUP), STAFF_GROUP, OUTSIDER)
        for n, d in outsider
    ]
    cases += [
        Case("rep-presses-triage", _press(lambda w: w.sign("t", "ok", w.ids["opinion"]),
                                          "task_card"), user=REP),
    ]  # fmt: skip
    return cases


def _double_press(w: World) -> None:
    data = w.sign("o", "a", w.ids["opinion"], 1)
    for _ in range(2):
        w.fake.press(RESIDENT, w.records["receipt"], data, check=False)


def _double_page(w: World) -> None:
    mark = w.fake.mark()
    w.fake.send_text(w.ids["actor"], "/my")
    listing = w.fake.wait_for_message(w.ids["actor"], since=mark, timeout=30)
    for _ in range(2):
        w.fake.press(w.ids["actor"], listing, w.sign("my", "p", 1), check=False)


NAMES = [
    "<b>", "</b>", "&", "&amp;", "<script>alert(1)</script>", "A<B&C>D", "<a href='x'>y</a>",
    "\u202e反转名字", "😀" * 20, "名" * 64, "<code>", "@admin", "/start", "<i>王</i>&<",
]  # fmt: skip


def _name_case(i: int, name: str) -> Case:
    text = f"第{i}号楼的电梯坏了一个星期了，老人上下楼很困难，请尽快维修。"

    def check(w: World, seen: Seen) -> None:
        assert any("受理编号" in r for r in seen.replies), seen
        w.fake.wait_until_idle(timeout=30, quiet=0.2)
        cards = [r["text"] for r in w.fake.messages(STAFF_GROUP) if text in r["text"]]
        assert cards and name.strip() in cards[-1], cards

    return Case(f"name-{i:02d}", _text(text), user=0, check=check, name=name)


def _edit(texts: list[str], same_second: bool = True) -> Act:
    def act(w: World) -> None:
        uid = w.ids["actor"]
        mark = w.fake.mark()
        sent = w.fake.send_text(uid, "小区门口的路灯坏了三天了，晚上出门很不安全。")
        w.fake.wait_for_message(uid, since=mark, timeout=30)
        at = int(time.time())
        for n, text in enumerate(texts):
            msg = {**sent, "text": text, "edit_date": at if same_second else at + n}
            w.fake.inject_raw({"edited_message": msg})
        w.ids["edited"] = int(sent["message_id"])

    return act


def _revisions(expect: list[str]) -> Check:
    def check(w: World, seen: Seen) -> None:
        uid = w.ids["actor"]
        rows = w.rows(
            "select r.new_text from revisions r join opinions o on o.id = r.opinion_id"
            f" where o.src_chat_id = '{uid}' and o.src_message_id = '{w.ids['edited']}'"
            " order by r.id"
        )
        assert [r[0] for r in rows] == expect, (rows, seen)

    return check


def _stored(fragment: str) -> Check:
    def check(w: World, seen: Seen) -> None:
        uid = w.ids["actor"]
        rows = w.rows(f"select text from opinions where src_chat_id = '{uid}'")
        assert any(fragment in r[0] for r in rows), (rows, seen)
        assert "\x00" not in "".join(r[0] for r in rows)
        assert any("受理编号" in r for r in seen.replies), seen

    return check


def _flood(w: World) -> None:
    for n in range(12):
        w.fake.send_text(w.ids["actor"], f"第{n}条意见：小区垃圾分类点太远，老人倒垃圾不方便。")


def _flood_check(w: World, seen: Seen) -> None:
    uid = w.ids["actor"]
    stored = w.rows(f"select count(*) from opinions where src_chat_id = '{uid}'")[0][0]
    assert stored == 10 and len(seen.replies) == 12, (stored, seen.replies)


LINE = "小区门口的路灯坏了，晚上出门很不安全，"


def _other_cases() -> list[Case]:
    nul = f"{LINE}\x00请尽快修理。"
    return [
        Case("double-press-anonymity", _double_press, user=RESIDENT, may_be_silent=True),
        Case("double-press-page", _double_page, user=0, may_be_silent=True),
        Case("text-nul", _text(nul), user=0, check=_stored("请尽快修理")),
        Case("text-markup", _text(f"<b>{LINE}</b>&amp;<i>请修理</i>"), user=0,
             check=_stored("<b>")),
        Case("text-rtl", _text(f"\u202e{LINE}\u202c"), user=0, check=_stored(LINE)),
        Case("text-emoji-only", _text("😀😀😀😀😀😀"), user=0),
        Case("text-huge", _text("长" * 4096), user=0),
        Case("text-superscript", _text("²³"), user=0),
        Case("text-int63", _text(str(2**63)), user=0),
        Case("text-zero-width", _text("\u200b" * 8), user=0),
        Case("text-nul-only", _text("\x00" * 8), user=0),
        Case("group-chatter", _text("大家好", RESIDENTS_GROUP), RESIDENTS_GROUP, OUTSIDER,
             silent=True),
        Case("group-markup", _text("<b>&", RESIDENTS_GROUP), RESIDENTS_GROUP, OUTSIDER,
             silent=True),
        Case("sticker", lambda w: w.fake.send_sticker(w.ids["actor"]), user=0),
        Case("animation", lambda w: w.fake.send_animation(w.ids["actor"]), user=0),
        Case("contact", lambda w: w.fake.send_contact(w.ids["actor"], "13800138000"), user=0),
        Case("location", lambda w: w.fake.send_location(w.ids["actor"], 39.9, 116.4), user=0),
        Case("photo-markup-caption", lambda w: w.fake.send_photo(w.ids["actor"], "<b>&"),
             user=0),
        Case("voice", lambda w: w.fake.send_voice(w.ids["actor"]), user=0),
        Case("document", lambda w: w.fake.send_document(w.ids["actor"]), user=0),
        Case("dice", _raw("message", {"dice": {"emoji": "🎲", "value": 3}}), user=0),
        Case("audio", _raw("message", {"audio": {
            "file_id": "CQAC1", "file_unique_id": "u2", "duration": 3}}), user=0),
        Case("video-note", _raw("message", {"video_note": {
            "file_id": "DQAC1", "file_unique_id": "u1", "length": 240, "duration": 2}}), user=0),
        Case("venue", _raw("message", {"venue": {
            "location": {"latitude": 39.9, "longitude": 116.4}, "title": "<b>",
            "address": "&"}, "location": {"latitude": 39.9, "longitude": 116.4}}), user=0),
        Case("edit-once", _edit(["小区门口的路灯坏了四天了，晚上出门很不安全。"]), user=0,
             check=_revisions(["小区门口的路灯坏了四天了，晚上出门很不安全。"])),
        Case("edit-twice-one-second", _edit(["路灯坏了四天了，晚上出门很不安全。",
                                             "路灯坏了五天了，晚上出门很不安全。"]), user=0,
             check=_revisions(["路灯坏了四天了，晚上出门很不安全。",
                               "路灯坏了五天了，晚上出门很不安全。"])),
        Case("edit-markup", _edit(["<b>路灯</b>&坏了四天了，晚上出门很不安全。"]), user=0,
             check=_revisions(["<b>路灯</b>&坏了四天了，晚上出门很不安全。"])),
        Case("edit-nul", _edit(["路灯坏了四天了，\x00晚上出门很不安全。"]), user=0,
             check=_revisions(["路灯坏了四天了，晚上出门很不安全。"])),
        Case("edit-emoji-only", _edit(["😀😀😀😀😀😀"]), user=0, check=_revisions([])),
        Case("flood-12", _flood, user=0, check=_flood_check),
    ]  # fmt: skip


CASES = [
    *_press_cases(),
    *_command_cases(),
    *(_name_case(i, n) for i, n in enumerate(NAMES)),
    *_other_cases(),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(world: World, case: Case) -> None:
    # user=0: a person without any role, new for this input (so no state leaks between inputs)
    actor = world.user(case.name) if case.user == 0 else case.user
    world.ids["actor"] = actor
    seen = run_input(world, case.act, case.chat if case.chat is not None else actor, actor)
    assert not seen.errors, seen.errors
    assert not seen.failed, seen.failed
    assert not any("系统暂时出了点问题" in t for t in seen.said), seen
    if case.silent:
        assert not seen.said, seen
    elif not case.may_be_silent:
        assert any(CJK.search(t) for t in seen.said), seen
    if case.check is not None:
        case.check(world, seen)


def test_suite_size() -> None:
    assert len(CASES) >= 100
    assert len({c.id for c in CASES}) == len(CASES)


def test_the_bot_lived_through_every_input(world: World) -> None:
    assert world.bot.alive()


# ---- the error handler tells the truth -------------------------------------------------------


def test_a_failure_after_the_opinion_was_stored_says_it_is_kept(world: World) -> None:
    uid = world.user("居民")
    world.ids["actor"] = uid
    world.fake.fail_next("sendMessage", 500, chat_id=uid)  # the receipt does not go out
    seen = run_input(world, _text(f"{LINE}第一次反映。"), uid, uid)
    assert any("您的信息已保存" in t for t in seen.replies), seen
    assert world.rows(f"select count(*) from opinions where src_chat_id = '{uid}'") == [(1,)]


def test_a_failure_with_nothing_stored_does_not_claim_it_was(world: World) -> None:
    uid = world.user("居民")
    world.ids["actor"] = uid
    world.fake.fail_next("sendMessage", 500, chat_id=uid)
    seen = run_input(world, _text("/my"), uid, uid)
    assert not any("已保存" in t for t in seen.replies), seen
    assert any("还没有登记" in t and "自动再试" in t for t in seen.replies), seen


def test_a_failed_press_is_still_answered(world: World) -> None:
    world.ids["actor"] = RESIDENT
    world.fake.fail_next("answerCallbackQuery", 500)
    seen = run_input(world, _press(lambda w: w.sign("my", "p", 1)), RESIDENT, RESIDENT)
    assert any("没有完成" in a for a in seen.answers), seen
