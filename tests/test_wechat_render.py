"""Rendering for WeChat text, numbered replies, template data, and the limits table."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from handlers.wechat.api import WeChatApi
from handlers.wechat.config import TemplateSpec, WeChatConfig
from handlers.wechat.limits import LIMITS, SOURCES, WeChatLimits
from handlers.wechat.render import (
    Choice,
    NeutralMessage,
    NumberedChoice,
    Span,
    parse_choice,
    render,
)
from handlers.wechat.templates import fit, keyword_kind, template_data
from handlers.wechat.tokens import MemoryTokenStore
from scheduler.delivery import Delivered
from tests.fakewechat import DEFAULT_APP_ID, DEFAULT_SECRET, DEFAULT_TOKEN, FakeWeChat
from tests.fakewechat.harness import Recorder, running_endpoint

TZ = ZoneInfo("Asia/Shanghai")
RATING = NeutralMessage(
    lines=(
        (Span("您反映的"), Span("LL-2026-00042", "bold"), Span("已办结。")),
        (Span("请您评价："),),
    ),
    choices=(
        (Choice("满意", "rate:42:3"), Choice("基本满意", "rate:42:2")),
        (Choice("不满意", "rate:42:1"),),
    ),
)


def test_rating_question_as_numbered_replies() -> None:
    out = render(RATING)
    assert out.parts == (
        "您反映的LL-2026-00042已办结。\n请您评价：\n\n请回复数字：\n回复 1\u3000满意\n回复 2\u3000基本满意\n回复 3\u3000不满意",
    )
    assert out.choices == (
        NumberedChoice(1, "满意", "rate:42:3"),
        NumberedChoice(2, "基本满意", "rate:42:2"),
        NumberedChoice(3, "不满意", "rate:42:1"),
    )


@pytest.mark.parametrize(
    ("reply", "payload"),
    [
        ("1", "rate:42:3"),
        ("１", "rate:42:3"),
        (" 2 ", "rate:42:2"),
        ("回复3", "rate:42:1"),
        ("回复 3", "rate:42:1"),
        ("3。", "rate:42:1"),
        ("第2个", "rate:42:2"),
        ("1 满意", "rate:42:3"),
        ("满意", "rate:42:3"),
        ("不满意", "rate:42:1"),
        ("基本满意！", "rate:42:2"),
        ("4", None),
        ("0", None),
        ("1 不满意", None),  # the number and the words disagree: ask again
        ("12", None),
        ("还行吧", None),
        ("", None),
    ],
)
def test_typed_answers(reply: str, payload: str | None) -> None:
    assert render(RATING).answer(reply) == payload


def test_no_choices_means_no_answer() -> None:
    assert parse_choice("1", ()) is None


def test_markup_becomes_plain_and_links_stay_links() -> None:
    message = NeutralMessage(
        (
            (Span("详见"), Span("办理说明", "link", 'https://example.org/a?b=1&c="x"')),
            (
                Span("代码", "code"),
                Span(" 斜体", "italic"),
                Span(" <a href='https://evil'>点我</a>"),
            ),
            (Span("不安全的链接", "link", "javascript:alert(1)"),),
        )
    )
    (text,) = render(message).parts
    first, second, third = text.split("\n")
    assert first == '详见<a href="https://example.org/a?b=1&c=%22x%22">办理说明</a>'
    assert second == "代码 斜体 ＜a href='https://evil'＞点我＜/a＞"
    assert third == "不安全的链接"


def test_long_messages_split_at_line_breaks_within_the_byte_limit() -> None:
    lines = tuple(f"第{n}行：" + "很长的说明" * 20 for n in range(30))  # ~300 bytes each
    message = NeutralMessage(
        tuple((Span(line),) for line in lines), choices=((Choice("是", "y"), Choice("否", "n")),)
    )
    out = render(message)
    assert len(out.parts) > 1
    assert all(len(p.encode()) <= LIMITS.text_bytes for p in out.parts)
    assert "\n".join(out.parts).split("\n")[: len(lines)] == list(lines)  # nothing lost, in order
    assert out.parts[-1].endswith("回复 2\u3000否")
    one_huge_line = render(NeutralMessage.text("长" * 2000), limit_bytes=2048)
    assert [len(p.encode()) for p in one_huge_line.parts] == [2046, 2046, 1908]
    assert "".join(one_huge_line.parts) == "长" * 2000


def test_template_keyword_types() -> None:
    assert keyword_kind("character_string12") == "character_string"
    assert keyword_kind("thing2") == "thing" and keyword_kind("first") == "first"
    assert (
        fit("thing", "关于小区东门路灯长期不亮影响老人夜间出行的问题", TZ)
        == "关于小区东门路灯长期不亮影响老人夜间出…"
    )
    assert len(fit("thing", "x" * 50, TZ)) == 20
    assert fit("thing", "两行\n文字", TZ) == "两行 文字"
    assert fit("character_string", "LL-2026-00042", TZ) == "LL-2026-00042"
    with pytest.raises(ValueError):
        fit("character_string", "编号42", TZ)
    assert fit("time", datetime(2026, 3, 1, 7, 1, tzinfo=UTC), TZ) == "2026年3月1日 15:01"
    assert fit("date", date(2026, 3, 1), TZ) == "2026年3月1日"
    assert fit("phrase", "已办结了", TZ) == "已办结了"
    assert fit("phrase", "处理中ing", TZ) == "处理中"
    with pytest.raises(ValueError):
        fit("phrase", "done", TZ)
    assert fit("number", 3, TZ) == "3"
    assert fit("name", "张代表", TZ) == "张代表"


async def test_built_data_is_accepted_by_the_platform() -> None:
    spec = TemplateSpec(
        "TPL_DONE",
        (
            ("character_string1", "ref"),
            ("thing2", "title"),
            ("phrase3", "status"),
            ("time4", "when"),
        ),
    )
    values: dict[str, str | datetime] = {
        "ref": "LL-2026-00042",
        "title": "关于小区东门路灯长期不亮影响老人夜间出行的问题",
        "status": "已办结",
        "when": datetime(2026, 3, 1, 7, 1, tzinfo=UTC),
    }
    data = template_data(spec, values, tz=TZ)
    with pytest.raises(ValueError, match="ref"):
        template_data(spec, {"title": "x"}, tz=TZ)
    async with FakeWeChat() as fake:
        config = WeChatConfig(
            app_id=DEFAULT_APP_ID,
            app_secret=DEFAULT_SECRET,
            token=DEFAULT_TOKEN,
            api_base_url=fake.api_base_url,
        )
        async with running_endpoint(config, Recorder()) as url:
            fake.bot_url = url
            fake.add_template("TPL_DONE", ("character_string1", "thing2", "phrase3", "time4"))
            openid = fake.add_user()
            async with WeChatApi(config, MemoryTokenStore()) as api:
                sent = await api.send_template(openid, spec.template_id, data)
            assert isinstance(sent, Delivered)
            (delivery,) = fake.deliveries(openid, "template")
            assert delivery.data == {k: v["value"] for k, v in data.items()}


def test_every_limit_has_a_source() -> None:
    assert set(SOURCES) == {f.name for f in fields(WeChatLimits)}
    assert all(SOURCES.values())
    assert LIMITS.window_after_message_sends == 5 and LIMITS.text_bytes == 2048
