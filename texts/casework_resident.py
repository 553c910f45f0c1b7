"""What residents read about their case (docs/casework.md): plain outcome words, expected
dates, merged cases, 督办, claiming a 代录 case, a comment or a new opinion."""

from __future__ import annotations

from datetime import date

from texts import Rich, t

# What residents read for an outcome: plain words, never the staff codes (A/B/C/D).
OUTCOME_PLAIN = {
    "A": "问题已解决",
    "B": "正在解决，或已列入工作计划",
    "C": "受条件限制，暂时还解决不了",
    "D": "已记录，作为今后工作的参考",
}


def extended(ref_no: str, due: date) -> Rich:
    return t(
        "⏳ <code>{ref}</code> 需要多一些时间办理，预计 <b>{due:%Y年%-m月%-d日}</b> 前给您答复。",
        ref=ref_no,
        due=due,
    )


def expected_line(due: date) -> Rich:
    return t("\n预计答复：{due:%Y年%-m月%-d日}前", due=due)


def cosigned_line() -> Rich:
    return t("\n（您反映的同一件事已合并到这一条办理）")


def comment_thanks_or_new() -> Rich:
    return t(
        "已把您的意见转告工作人员，谢谢！\n如果这其实是一条<b>新的</b>意见建议，请再发送一次，"
        "我们会单独登记。"
    )


def supervised_ask_comment(ref_no: str) -> Rich:
    return t(
        "很抱歉还是没有让您满意。<code>{ref}</code> 已交联络站负责同志督办，会有专人跟进。"
        "请告诉我们哪里不满意（直接发文字）。",
        ref=ref_no,
    )


def claim_invalid() -> Rich:
    return t(
        "受理编号或认领码不对，请核对回执上的两串数字，例如：/claim LL-2026-00012 123456。"
        "也可以联系联络站工作人员。"
    )


def claimed(ref_no: str) -> Rich:
    return t(
        "✅ 已认领 <code>{ref}</code>，以后的办理进展会在这里通知您。发送 /status {ref} 可以查看。",
        ref=ref_no,
    )


BTN_IS_COMMENT = "💬 是对评价的补充"


BTN_IS_NEW = "🆕 是新的意见"


def comment_or_new(ref_no: str) -> Rich:
    return t(
        "您刚才发的这段话，是对 <code>{ref}</code> 评价的补充，还是一条新的意见建议？请点下面的按钮。",
        ref=ref_no,
    )


def comment_kept() -> Rich:
    return t("已作为评价留言转告工作人员，谢谢！")


def nothing_to_decide() -> str:
    return "这条消息已经处理过了。"
