"""The opinion lifecycle: one explicit state machine shared by every entry point.

Handlers never set a status directly; they ask for an action, and this table decides whether the
action is legal from the current status and where it leads. Racing or repeated actions are refused
here, and the storage layer guards the same transition with a compare-and-set on the old status.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    RECEIVED = "received"  # 已受理: waiting for triage
    ASSIGNED = "assigned"  # 已交办: handed to an assignee, not yet acknowledged
    IN_PROGRESS = "in_progress"  # 办理中: acknowledged (签收)
    CLOSED = "closed"  # 已办结: result given, waiting for the resident's rating
    RATED = "rated"  # 已评价
    REOPENED = "reopened"  # 重新办理: resident was not satisfied, back to staff
    REJECTED = "rejected"  # 不予受理
    DUPLICATE = "duplicate"  # 已合并 into another opinion
    WITHDRAWN = "withdrawn"  # 已撤回 by the resident
    SUPERVISED = "supervised"  # 督办: not satisfied again, staff (a leader) take it in hand


class Action(StrEnum):
    ASSIGN = "assign"
    ACKNOWLEDGE = "acknowledge"
    PROGRESS = "progress"
    EXTEND = "extend"
    BOUNCE = "bounce"
    CLOSE = "close"
    RATE = "rate"
    RATE_UNSATISFIED = "rate_unsatisfied"
    EXPIRE_RATING = "expire_rating"
    REJECT = "reject"
    MERGE = "merge"
    WITHDRAW = "withdraw"
    RETHEME = "retheme"
    SUPERVISE = "supervise"  # 不满意 again (CaseworkPolicy.supervise_after): a 督办 item


OPEN_FOR_TRIAGE = frozenset({Status.RECEIVED, Status.REOPENED, Status.SUPERVISED})
WITH_ASSIGNEE = frozenset({Status.ASSIGNED, Status.IN_PROGRESS})
TERMINAL = frozenset({Status.RATED, Status.REJECTED, Status.DUPLICATE, Status.WITHDRAWN})

# (action, from) -> to. Anything absent is illegal.
TRANSITIONS: dict[tuple[Action, Status], Status] = {
    (Action.ASSIGN, Status.RECEIVED): Status.ASSIGNED,
    (Action.ASSIGN, Status.REOPENED): Status.ASSIGNED,
    (Action.REJECT, Status.RECEIVED): Status.REJECTED,
    (Action.REJECT, Status.REOPENED): Status.REJECTED,
    (Action.MERGE, Status.RECEIVED): Status.DUPLICATE,
    (Action.WITHDRAW, Status.RECEIVED): Status.WITHDRAWN,
    (Action.RETHEME, Status.RECEIVED): Status.RECEIVED,
    (Action.RETHEME, Status.REOPENED): Status.REOPENED,
    (Action.ACKNOWLEDGE, Status.ASSIGNED): Status.IN_PROGRESS,
    (Action.PROGRESS, Status.IN_PROGRESS): Status.IN_PROGRESS,
    (Action.EXTEND, Status.ASSIGNED): Status.ASSIGNED,
    (Action.EXTEND, Status.IN_PROGRESS): Status.IN_PROGRESS,
    (Action.BOUNCE, Status.ASSIGNED): Status.RECEIVED,
    (Action.BOUNCE, Status.IN_PROGRESS): Status.RECEIVED,
    (Action.CLOSE, Status.IN_PROGRESS): Status.CLOSED,
    (Action.RATE, Status.CLOSED): Status.RATED,
    (Action.RATE_UNSATISFIED, Status.CLOSED): Status.REOPENED,
    (Action.EXPIRE_RATING, Status.CLOSED): Status.RATED,
    (Action.SUPERVISE, Status.CLOSED): Status.SUPERVISED,
    (Action.ASSIGN, Status.SUPERVISED): Status.ASSIGNED,
    (Action.REJECT, Status.SUPERVISED): Status.REJECTED,
    (Action.RETHEME, Status.SUPERVISED): Status.SUPERVISED,
}


@dataclass(frozen=True)
class IllegalTransition(Exception):
    """Raised when an action does not apply to the opinion's current status."""

    action: Action
    current: Status

    def __str__(self) -> str:
        return f"{self.action} not allowed from {self.current}"


def next_status(action: Action, current: Status) -> Status:
    """Return the status `action` leads to from `current`, or raise IllegalTransition."""
    try:
        return TRANSITIONS[(action, current)]
    except KeyError:
        raise IllegalTransition(action, current) from None


def allowed_actions(current: Status) -> frozenset[Action]:
    """Actions that are legal from `current` (used to draw only meaningful buttons)."""
    return frozenset(a for (a, s) in TRANSITIONS if s == current)
