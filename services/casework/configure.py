"""`/settings`: a station's casework policy, shown and changed by its staff (no restart).

/settings                 show the values in force
/settings 期限 咨询 5      working days for a kind of case (咨询/求助/投诉/建议)
/settings 响应 1           响应率: 签收 within this many working days after 交办
/settings 解决 AB          解决率: the outcomes that count as solved (A, or A and B)
/settings 群消息 合并       the staff group's noise: 合并 (folded) or 逐条 (every event)
/settings 评价留言 30       minutes after a rating in which a text is taken as its comment
/settings 督办 2           督办 at the N-th 不满意
"""

from __future__ import annotations

from typing import Any

import texts.casework as kt
import texts.staff as st
from domain.channels import Sender
from domain.message import Message
from services.kernel.access import Need, actor
from services.kernel.context import ServiceContext
from services.kernel.policy import NOISE_EVERY, NOISE_FOLD
from services.kernel.settings import override, policy_for

KIND_WORDS = {"咨询": "consult", "求助": "help", "投诉": "complaint", "建议": "suggestion"}
NOISE_WORDS = {"合并": NOISE_FOLD, "逐条": NOISE_EVERY}


def parse(args: list[str], limits: dict[str, int]) -> dict[str, Any] | None:
    """The override `args` ask for, or None when they make no sense."""
    if len(args) == 3 and args[0] == "期限" and args[1] in KIND_WORDS and _days(args[2]):
        return {"limits": {**limits, KIND_WORDS[args[1]]: int(args[2])}}
    if len(args) != 2:
        return None
    word, value = args
    if word == "响应" and _days(value):
        return {"response_days": int(value)}
    if word == "解决" and value.upper() in ("A", "AB"):
        return {"solved_outcomes": list(value.upper())}
    if word == "群消息" and value in NOISE_WORDS:
        return {"noise": NOISE_WORDS[value]}
    if word == "评价留言" and value.isdigit() and 1 <= int(value) <= 10080:
        return {"comment_window_minutes": int(value)}
    if word == "督办" and value.isdigit() and 1 <= int(value) <= 9:
        return {"supervise_after": int(value)}
    return None


def _days(raw: str) -> bool:
    return raw.isdigit() and 1 <= int(raw) <= 60


async def settings(ctx: ServiceContext, sender: Sender, args: list[str]) -> Message:
    async with ctx.sessions.begin() as s:
        who = await actor(s, ctx, sender)
        station = await who.station()
        if not await who.allows(Need.STAFF, station_id=station.id):
            return Message(st.only_staff())
        policy = await policy_for(s, ctx, station.id)
        if args:
            change = parse(args, dict(policy.limits))
            if change is None:
                return Message(kt.settings_usage())
            await override(s, station.id, **change)
            policy = await policy_for(s, ctx, station.id)
        return Message(
            kt.settings_shown(
                {w: policy.limits[k] for w, k in KIND_WORDS.items()},
                policy.response_days,
                "".join(policy.solved_outcomes),
                next(w for w, v in NOISE_WORDS.items() if v == policy.noise),
                int(policy.comment_window.total_seconds() // 60),
                policy.supervise_after,
                changed=bool(args),
            )
        )
