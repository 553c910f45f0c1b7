"""Which kind of case (诉求类型) a text reads as: the choice preselected at 交办.

接诉即办 answers 咨询 within 3 working days, 求助 within 7, 投诉 and 建议 within 15. Staff
choose; this only puts the likely kind first so the common case is one tap. Pure: no I/O.
"""

from __future__ import annotations

CONSULT, HELP, COMPLAINT, SUGGESTION = "consult", "help", "complaint", "suggestion"
KINDS = (CONSULT, HELP, COMPLAINT, SUGGESTION)

# Words that mark a kind, strongest first within each list.
_CUES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (COMPLAINT, ("投诉", "举报", "不作为", "乱收费", "态度恶劣", "扰民", "违规", "违法")),
    (HELP, ("求助", "帮帮", "帮忙", "救助", "困难", "漏水", "停水", "停电", "没人管", "急")),
    (CONSULT, ("咨询", "请问", "怎么办理", "如何办理", "是否可以", "能不能", "哪里可以", "政策")),
)


def suggest_kind(text: str) -> str:
    """The kind the text most likely is; 建议 when nothing marks another."""
    for kind, cues in _CUES:
        if any(cue in text for cue in cues):
            return kind
    return SUGGESTION
