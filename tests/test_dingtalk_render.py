"""Rendering for DingTalk: user text never becomes markup; cards carry the payloads; config."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from handlers.dingtalk.config import (
    OFFICIAL_API_BASE_URL,
    DingTalkConfig,
    DingTalkConfigError,
    from_env,
    parse_webhooks,
)
from handlers.dingtalk.render import (
    Action,
    NeutralMessage,
    Span,
    escape_markdown,
    title_of,
    to_card_data,
    to_markdown,
    to_plain_text,
    to_robot_message,
)

ROOT = Path(__file__).resolve().parent.parent

HOSTILE = [
    "**粗体** _斜体_ `代码`",
    "[点我](https://evil.example/x) ![图](https://evil.example/i.png)",
    '<font color="#ff0000">红字</font> <a href="x">链接</a> &lt;b&gt;',
    "# 标题\n## 二级\n> 引用\n- 列表\n+ 加号\n* 星号\n1. 有序\n2) 也有序",
    "表格 | a | b |\n|---|---|\n---\n===\n    四个空格缩进\n\t制表符",
    "反斜杠 \\*不是粗体\\* ~~删除~~ ==高亮==",
]
# Anything that could open markup: emphasis/code/link/image/HTML/entity/table/strike marks
# anywhere, block markers at a line start.
INLINE_MARKUP = re.compile(r"[*_`\[\]<>&|~\\#!=]")
LINE_MARKUP = re.compile(r"^(?:[ \t]|[-+]\s|\d+[.)]\s|-{2,}$)", re.M)


@pytest.mark.parametrize("text", HOSTILE)
def test_user_text_never_becomes_markup(text: str) -> None:
    escaped = escape_markdown(text)
    assert not INLINE_MARKUP.search(escaped), escaped
    assert not LINE_MARKUP.search(escaped), escaped
    # It still reads the same: the full-width twins fold back to the original text.
    folded = unicodedata.normalize("NFKC", escaped).replace("  \n", "\n")
    assert folded == text.replace("\t", " ")


def test_styles_and_links() -> None:
    message = NeutralMessage(
        (
            (Span("编号 "), Span("LL-2026-00001", "bold"), Span(" 已交办")),
            (Span("*注*", "italic"), Span(" 详见 "), Span("文件[1]", "link", "https://a.b/c d")),
            (Span("坏链接", "link", "javascript:alert(1)"), Span("x_y", "code")),
        )
    )
    assert to_markdown(message).split("  \n") == [
        "编号 **LL－2026－00001** 已交办".replace("－", "-"),
        "*＊注＊* 详见 [文件［1］](https://a.b/c%20d)",
        "坏链接x＿y",
    ]
    assert to_plain_text(message).split("\n")[1] == "*注* 详见 文件[1]（https://a.b/c d）"


def test_robot_message_is_text_unless_styled() -> None:
    plain = to_robot_message(NeutralMessage.plain("明天 9:00 开会\n地点：二楼"))
    assert plain.msg_key == "sampleText"
    assert json.loads(plain.msg_param) == {"content": "明天 9:00 开会\n地点：二楼"}
    styled = to_robot_message(NeutralMessage(((Span("截止", "bold"), Span(" 3 天后")),)))
    assert styled.msg_key == "sampleMarkdown"
    assert dict(styled.params) == {"title": "截止 3 天后", "text": "**截止** 3 天后"}


def test_card_data_carries_each_buttons_payload() -> None:
    message = NeutralMessage.plain(
        "新意见 **LL-1**",
        actions=(
            (Action("确认分类", "theme:ok:1"), Action("改分类", "theme:pick:1")),
            (Action("交办", "assign:1"), Action("重复件", "dup:1"), Action("不予受理", "rej:1")),
        ),
    )
    data = to_card_data(message, status="待处理")
    assert all(isinstance(v, str) for v in data.values())  # cardParamMap is strings only
    assert data["markdown"] == "新意见 ＊＊LL-1＊＊"
    buttons = json.loads(data["buttons"])
    assert [(b["text"], b["payload"]) for b in buttons][2] == ("交办", "assign:1")
    assert [len(row) for row in json.loads(data["button_rows"])] == [2, 3]
    assert data["has_buttons"] == "true" and data["status"] == "待处理"
    assert to_plain_text(message).endswith("[确认分类] [改分类] [交办] [重复件] [不予受理]")


def test_title_is_short_and_never_empty() -> None:
    assert title_of(NeutralMessage.plain("\n" + "很长" * 40)) == "很长" * 15
    assert title_of(NeutralMessage.plain("")) == "通知"


def test_config_from_env_and_defaults() -> None:
    assert from_env({}) is None
    config = from_env({"DINGTALK_CLIENT_ID": "dingabc", "DINGTALK_CLIENT_SECRET": "s3"})
    assert config is not None
    assert config.robot_code == "dingabc"
    assert config.api_base_url == OFFICIAL_API_BASE_URL
    assert config.gateway_url == OFFICIAL_API_BASE_URL + "/v1.0/gateway/connections/open"
    assert "s3" not in repr(config)
    proxied = from_env(
        {
            "DINGTALK_CLIENT_ID": "dingabc",
            "DINGTALK_CLIENT_SECRET": "s3",
            "DINGTALK_ROBOT_CODE": "dingrobot",
            "DINGTALK_API_BASE_URL": "http://127.0.0.1:9/",
            "DINGTALK_WEBHOOKS": "执法检查组=https://oapi.dingtalk.com/robot/send?access_token=t|SECx;"
            "专题组=https://oapi.dingtalk.com/robot/send?access_token=u",
        }
    )
    assert proxied is not None and proxied.robot_code == "dingrobot"
    assert proxied.gateway_url == "http://127.0.0.1:9/v1.0/gateway/connections/open"
    robot = proxied.custom_robot("执法检查组")
    assert robot is not None and robot.secret == "SECx"
    assert proxied.custom_robot("专题组") is not None and proxied.custom_robot("无") is None


def test_config_errors_are_clear() -> None:
    with pytest.raises(DingTalkConfigError, match="DINGTALK_CLIENT_SECRET"):
        from_env({"DINGTALK_CLIENT_ID": "dingabc"})
    with pytest.raises(DingTalkConfigError, match="http"):
        DingTalkConfig("a", "b", api_base_url="api.dingtalk.com")
    with pytest.raises(DingTalkConfigError, match="DINGTALK_WEBHOOKS"):
        parse_webhooks("没有等号")


def test_fake_runs_as_a_module_and_prints_its_urls() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakedingtalk", "--port", "0", "--quiet"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().split()
        assert first[0] == "DINGTALK_API_BASE_URL" and first[1].startswith("http://127.0.0.1:")
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("name", HOSTILE)
def test_core_message_values_stay_text(name: str) -> None:
    """A value put into a core template (a hostile display name) is never markup on DingTalk,
    in markdown, in card data and in numbered choices."""
    from domain.message import Action as CoreAction
    from domain.message import Message, t
    from handlers.dingtalk.render import from_message

    label = name.replace("\n", " ")[:20] or "x"
    message = Message(
        t("<b>新意见</b> 来自 {name}：\n{name}", name=name),
        ((CoreAction("交办", "t:as:1.sig"), CoreAction(label, "t:x:1.sig")),),
    )
    neutral = from_message(message)
    markdown = to_markdown(neutral)
    user_part = markdown.replace("**新意见**", "", 1)
    assert not INLINE_MARKUP.search(user_part), markdown
    card = to_card_data(neutral)
    assert json.loads(card["buttons"])[0] == {"text": "交办", "payload": "t:as:1.sig"}
    numbered = to_plain_text(from_message(message, numbered=True))
    assert numbered.splitlines()[-2:] == ["回复 1 交办", f"回复 2 {label}"]
    assert from_message(message, numbered=True).actions == ()


def test_action_card_buttons_send_the_numbers() -> None:
    """Without a card template, a one-to-one question is an ActionCard: sampleActionCard for
    one choice, sampleActionCardN for N (2–5), each button sending its number when tapped."""
    from urllib.parse import unquote

    from domain.message import Action as CoreAction
    from domain.message import Message, t
    from handlers.dingtalk.render import SEND_MESSAGE_URL, from_message, to_action_card

    def card(n: int) -> tuple[str, dict[str, str]]:
        choices = tuple(CoreAction(f"选项{i}", f"p:{i}.sig") for i in range(1, n + 1))
        message = Message(t("请选择"), (choices,))
        sent = to_action_card(from_message(message, numbered=True), [a.label for a in choices])
        return sent.msg_key, dict(sent.params)

    key, params = card(1)
    assert key == "sampleActionCard" and params["singleTitle"] == "选项1"
    assert params["singleURL"] == SEND_MESSAGE_URL + "1"
    for n in (2, 5):
        key, params = card(n)
        assert key == f"sampleActionCard{n}"
        for i in range(1, n + 1):
            assert params[f"actionTitle{i}"] == f"选项{i}"
            assert unquote(params[f"actionURL{i}"].partition("content=")[2]) == str(i)
        assert f"回复 {n} 选项{n}" in params["text"]  # typing the number works too
    with pytest.raises(ValueError):
        card(6)
