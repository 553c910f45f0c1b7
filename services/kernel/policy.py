"""How a station runs its casework (issue 15): time limits, the three rates, 回访, noise.

Defaults follow 接诉即办 (12345) practice; a station may override any of them
(`stations.settings`, see services.kernel.settings). Everything here is plain data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

# 诉求类型 → working days to answer: 咨询 3, 求助 7, 投诉/建议 15.
CASE_KINDS: tuple[str, ...] = ("consult", "help", "complaint", "suggestion")
DEFAULT_LIMITS = {"consult": 3, "help": 7, "complaint": 15, "suggestion": 15}

NOISE_EVERY = "every"  # every 签收/进展/办结/评价 posts a message to the staff group
NOISE_FOLD = "fold"  # events fold into the case's card, edited in place, plus a daily digest


@dataclass(frozen=True)
class CaseworkPolicy:
    # After a rating, the next text is taken as its comment only within this window.
    comment_window: timedelta = timedelta(minutes=30)
    # 响应率: 签收 within this many working days after 交办.
    response_days: int = 1
    # 解决率: outcomes that count as solved, out of the cases closed.
    solved_outcomes: tuple[str, ...] = ("A",)
    # Working days by kind of case, chosen at 交办.
    limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    default_kind: str = "suggestion"
    # 不满意 this many times: a 督办 item for staff instead of another reopening.
    supervise_after: int = 2
    # The staff group's noise: NOISE_FOLD (a busy station's choice) or NOISE_EVERY.
    noise: str = NOISE_FOLD

    def with_overrides(self, data: dict[str, Any] | None) -> CaseworkPolicy:
        """This policy with a station's stored overrides (unknown keys are ignored)."""
        if not data:
            return self
        out = self
        if isinstance(data.get("comment_window_minutes"), int):
            out = replace(out, comment_window=timedelta(minutes=data["comment_window_minutes"]))
        if isinstance(data.get("response_days"), int):
            out = replace(out, response_days=data["response_days"])
        solved = data.get("solved_outcomes")
        if isinstance(solved, list) and solved and all(o in "ABCD" for o in solved):
            out = replace(out, solved_outcomes=tuple(solved))
        limits = data.get("limits")
        if isinstance(limits, dict):
            merged = dict(out.limits)
            merged.update(
                {k: v for k, v in limits.items() if k in CASE_KINDS and isinstance(v, int)}
            )
            out = replace(out, limits=merged)
        if data.get("default_kind") in CASE_KINDS:
            out = replace(out, default_kind=data["default_kind"])
        if isinstance(data.get("supervise_after"), int):
            out = replace(out, supervise_after=data["supervise_after"])
        if data.get("noise") in (NOISE_EVERY, NOISE_FOLD):
            out = replace(out, noise=data["noise"])
        return out
